"""The PyTorch twin's model and loss: modules a torch user recognises at once."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from common.architecture import Architecture
from torch_impl.layers import Context, build


class HalfSquaredError(nn.Module):
    """L = ½ Σ_k (t_k − o_k)², averaged over the samples of the batch.

    ``nn.MSELoss(reduction='sum')`` computes Σ (t − o)², which is 2L: used alone at the
    book's learning rate it takes steps twice the book's. The ½ makes the output-layer
    gradient o − t, the book's output error, and makes this L the one the NumPy network
    reports.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sum_of_squares = nn.MSELoss(reduction="sum")

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        samples = outputs.shape[0] if outputs.dim() == 2 else 1
        # One multiplication, not two: each operation is a node autograd walks back through.
        return self.sum_of_squares(outputs, targets) * (0.5 / samples)


class SummedBinaryCrossEntropy(nn.Module):
    """L = −Σ_k [t log o + (1 − t) log(1 − o)] on sigmoid outputs, summed over the outputs and
    averaged over the samples: Nielsen's CrossEntropyCost.

    Takes the logits, as ``nn.BCEWithLogitsLoss`` does (stable where o rounds to 0 or 1).
    ``nn.BCELoss()`` and ``nn.BCEWithLogitsLoss()`` average over every element, outputs
    included, which is this divided by the number of outputs: ``loss="binary_cross_entropy_mean"``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.summed = nn.BCEWithLogitsLoss(reduction="sum")

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        samples = logits.shape[0] if logits.dim() == 2 else 1
        return self.summed(logits, targets) * (1.0 / samples)


def make_model(architecture: Architecture, context: Context | None = None) -> nn.Sequential:
    """One module per layer of ``architecture.layers`` (:mod:`torch_impl.layers`), as one ``nn.Sequential``.

    A dense layer is an ``nn.Linear``, a convolution an ``nn.Conv2d``, its pool ``nn.MaxPool2d(2)``,
    each hidden activation ``nn.Sigmoid``, ``nn.Tanh`` or ``nn.ReLU``, and so on for every kind.
    With ``loss="half_sse"`` the model ends in ``nn.Sigmoid`` and returns the outputs o; with
    ``"cross_entropy"`` and the binary cross-entropies it returns the logits z_o, which
    ``nn.CrossEntropyLoss`` and ``nn.BCEWithLogitsLoss`` take (they apply log-softmax or
    log-sigmoid themselves). The modules are named as the layers are: for the book's network
    ``wih``, ``sigmoid``, ``who``, ``output_sigmoid``, so ``model.wih.weight`` is W_ih, of shape
    ``(hidden, input)``: the ``(n_out, n_in)`` layout the NumPy network uses, so weights move
    between the two without a transpose. At other depths the layers are ``w1``, ``w2``, ...
    with activations ``tanh1``, ``tanh2``, ... (``model.parameters()`` lists them in the order of
    ``architecture.parameter_names()``).

    A convolutional network starts with ``image`` (``nn.Unflatten``, each row of pixels as an image
    (1, H, W)), then has, per convolution layer, ``conv1`` (an ``nn.Conv2d``, stride 1, its
    ``weight`` of shape ``(C_out, C_in, K, K)``), ``relu_conv1`` (the activation) and ``pool1``
    (``nn.MaxPool2d(2)``), and ``flatten`` (``nn.Flatten``, in (C, H, W) order) before the dense
    layers. Both work on a batch (n, ...) and on one sample alike.

    ``context``: what the modules that draw random numbers read (:class:`torch_impl.layers.Context`).
    """
    context = context or Context()
    draws = architecture.draw_indices()
    modules = [(spec.name, build(spec, context, draws.get(i))) for i, spec in enumerate(architecture.layers)]
    if architecture.loss == "half_sse":
        modules.append(("output_sigmoid", nn.Sigmoid()))
    return nn.Sequential(OrderedDict(modules))


def make_loss_function(architecture: Architecture) -> nn.Module:
    """:class:`HalfSquaredError` for ``"half_sse"``; ``nn.CrossEntropyLoss`` (on the logits, with
    probability targets, averaged over the batch) for ``"cross_entropy"``;
    :class:`SummedBinaryCrossEntropy` for ``"binary_cross_entropy"`` and ``nn.BCEWithLogitsLoss()``
    (averaged over every output of every sample) for ``"binary_cross_entropy_mean"``."""
    return {"half_sse": HalfSquaredError, "cross_entropy": nn.CrossEntropyLoss,
            "binary_cross_entropy": SummedBinaryCrossEntropy,
            "binary_cross_entropy_mean": nn.BCEWithLogitsLoss}[architecture.loss]()
