"""torch's network under a learner's model's conventions, which are not mistakes: the reference of
:func:`compare.check.check_model`.

cs231n's batch norm moves its running statistics towards the biased variance, with its momentum on
the old value; cs231n's and nnfs's dropout draw their masks from NumPy's generator, each its own way.
:class:`TwinUnderConventions` is ``torch_impl.Network`` with those layers' modules swapped for the
convention modules that live beside their kinds' catalogues (each carrying its catalogue under the
convention, so that a mistake is planted into the model's conventions, not into torch's own).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from torch import nn

from common.architecture import Architecture
from common.recipe import Recipe
from compare.check.mistakes.batchnorm import HandoutBatchNorm
from compare.check.mistakes.dropout import DrawnDropout, NumpyStream
from compare.check.model_forms import Conventions
from torch_impl import Network as TorchNetwork


class TwinUnderConventions(TorchNetwork):
    """``torch_impl.Network`` whose modules for some layers keep the model's conventions (:class:`Conventions`):
    a batch norm as :class:`HandoutBatchNorm`, a layer norm at the model's ε, a dropout as :class:`DrawnDropout`
    (the network's dropout layers sharing one :class:`NumpyStream`). Deep copies and the float64 twin the
    catalogues plant their mistakes in (:meth:`planting_twin`) keep them."""

    def __init__(self, architecture: Architecture, lr: float, dtype: str | np.dtype, recipe: Recipe,
                 conventions: Conventions) -> None:
        super().__init__(architecture.input_nodes, list(architecture.hidden_nodes), architecture.output_nodes, lr,
                         architecture.activation, architecture.loss, architecture.bias, dtype, "cpu",
                         conv=architecture.conv, **dict(architecture.options), **recipe.changed_keywords())
        self.conventions, stream = conventions, NumpyStream()

        def kept(name: str, module: nn.Module) -> nn.Module:
            if name in conventions.batchnorm:
                return HandoutBatchNorm(module, *conventions.batchnorm[name])
            if name in conventions.layernorm:
                module.eps = conventions.layernorm[name]
            if isinstance(module, nn.Dropout) and conventions.draw:
                return DrawnDropout(module.p, module.context, module.index, conventions.draw, stream)
            return module

        self.model = nn.Sequential(OrderedDict((name, kept(name, module)) for name, module in
                                               self.model.named_children()))

    def planting_twin(self) -> "TwinUnderConventions":
        """The same network in float64, for :func:`compare.check.mistakes.fitting` to plant mistakes in."""
        return TwinUnderConventions(self.architecture, 1.0, "float64", self.recipe, self.conventions)

    def __deepcopy__(self, memo: dict) -> "TwinUnderConventions":
        twin = TwinUnderConventions(self.architecture, self.lr, self.dtype, self.recipe, self.conventions)
        twin.set_weights(self.get_weights())
        twin.set_buffers(self.get_buffers())
        twin.set_optimizer_state(self.get_optimizer_state())
        twin.layer_seed = self.layer_seed
        return twin
