"""The classic mistakes of dropout written by hand, each planted in torch's (the same mask drawn).

=========================  ======================================================================
mistake                    what is planted, and the numbers that must be its
=========================  ======================================================================
dropout_not_inverted       no 1 / (1 − p) in training, the outputs scaled by (1 − p) in evaluation
                           instead (the lecture notes' "vanilla" dropout): the outputs (query)
dropout_keep_for_drop      p taken for the probability of keeping a unit: kept where u < p, scaled
                           by 1 / p: the gradients
dropout_mask_shared        one mask for every sample of a batch, drawn for one sample's shape and
                           broadcast: the gradients
=========================  ======================================================================

Each is :class:`PlantedDropout`, drawing its uniform numbers where the network's dropout does
(:func:`common.layers.layer_rng`, from the same seed, step and index).

:class:`DrawnDropout` is torch's dropout drawing its mask as another codebase does (:data:`DRAWS`):
cs231n's ``dropout_forward``, ``np.random.seed(seed)`` before each draw, so that every layer and
every step drops the same units of the same shape; nnfs's ``Layer_Dropout``, ``np.random.binomial``
from NumPy's generator, seeded once a training pass. A model written as those codebases write one
is compared with it (:func:`compare.check.check_model`): the mask is the convention, not a
mistake. Its catalogue, :meth:`DrawnDropout.mistakes`, plants each mistake in the same draw, and
adds what a hand-written model shows beside the three above:

==========================  ====================================================================
dropout_backward_no_scale   the forward scaled, the backward multiplying by the 0/1 mask, without
                            the 1 / (1 − p): the gradients
dropout_applied_at_test     the mask drawn (from the same seed) and applied in evaluation too: the
                            outputs (cs231n's draws, which the seed makes the same at test)
==========================  ====================================================================

``dropout_not_inverted`` is tried in two forms there (the lecture notes', scaled at test; and nnfs's
readers', nothing done at test, which only the gradients show), and ``dropout_keep_for_drop`` with
either scale a learner pairs with the confused probability.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from common.layers import layer_rng
from common.layers.dropout import Dropout
from compare.check.mistakes import GRADIENTS, OUTPUTS, Planted


class PlantedDropout(nn.Module):
    """``dropout`` (torch_impl's, whose context and index it reads) with one mistake."""

    def __init__(self, dropout: nn.Module, mistake: str) -> None:
        super().__init__()
        self.p, self.context, self.index, self.mistake = dropout.p, dropout.context, dropout.index, mistake

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p
        if not self.training:
            return x * (1 - p) if self.mistake == "not_inverted" else x
        rng = layer_rng(self.context.seed, self.context.step, self.index)
        u = rng.random(tuple(x.shape[1:]) if self.mistake == "shared" else tuple(x.shape))
        keep, scale = (u < p, 1.0 / p) if self.mistake == "keep_for_drop" else (u >= p, 1.0 / (1.0 - p))
        if self.mistake == "not_inverted":
            scale = 1.0
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        return x * torch.from_numpy(keep.astype(dtype) * dtype(scale)).to(x.device)


def mistakes(spec: Dropout) -> list[Planted]:
    return [
        Planted("dropout_not_inverted", OUTPUTS, lambda m, s: PlantedDropout(m, "not_inverted"), (
            f"Dropout is not inverted: query()'s outputs equal autograd's where {{where}} scales its inputs by "
            f"1 − p = {1 - spec.p:g} in evaluation, as the lecture notes' vanilla dropout does, instead of scaling "
            f"the units it keeps by 1 / (1 − p) in training. nn.Dropout is inverted: training keeps each unit's "
            "expected value, and evaluation is the identity.")),
        Planted("dropout_keep_for_drop", GRADIENTS, lambda m, s: PlantedDropout(m, "keep_for_drop"), (
            f"p is taken for the probability of keeping a unit: the gradients equal autograd's where {{where}} "
            f"keeps the units whose draw u is below p = {spec.p:g} and scales them by 1 / p. nn.Dropout's p is the "
            "probability of dropping: a unit is kept where u >= p, and scaled by 1 / (1 − p) (cs231n's recent "
            "handouts call the keep probability p).")),
        Planted("dropout_mask_shared", GRADIENTS, lambda m, s: PlantedDropout(m, "shared"), (
            "Every sample of a batch drops the same units: the gradients equal autograd's where {where} draws one "
            "mask of one sample's shape and broadcasts it over the batch. Draw a mask of the whole batch's shape, "
            "x.shape, not x.shape[1:]: each sample's units are dropped independently.")),
    ]


# How each codebase draws the units it keeps, p torch's (the probability of dropping), k = 1 − p.
DRAWS = {
    "cs231n": "np.random.seed(seed), then np.random.rand(*x.shape) < p, p the keep probability (recent handouts)",
    "cs231n_2017": "np.random.seed(seed), then np.random.rand(*x.shape) >= p, p the drop probability (the 2017 "
                   "handout)",
    "nnfs": "np.random.binomial(1, rate, x.shape), rate the keep probability, from NumPy's generator seeded once a "
            "training pass",
}


class NumpyStream:
    """The generator the dropout layers of one nnfs training pass draw from in turn: NumPy's, seeded as the
    pass starts (by the first layer's draw, index 0), as ``np.random.seed`` before ``model.forward`` seeds it."""

    def __init__(self) -> None:
        self.generator: np.random.RandomState | None = None


class DrawnDropout(nn.Module):
    """torch's inverted dropout, p the probability of dropping, its mask drawn as ``draw`` says (:data:`DRAWS`)
    from the network's ``context.seed``; with ``mistake`` one of its catalogue's.

    ``stream``: for nnfs's draw, the :class:`NumpyStream` the network's dropout layers share.
    ``scale``: for ``keep_for_drop``, what the kept units are scaled by (1 / k or 1 / (1 − k)).
    """

    def __init__(self, p: float, context, index: int, draw: str, stream: NumpyStream | None = None,
                 mistake: str | None = None, scale: float | None = None) -> None:
        super().__init__()
        self.p, self.context, self.index, self.draw = p, context, index, draw
        self.stream = stream if stream is not None else NumpyStream()
        self.mistake, self.scale = mistake, scale

    def _keep(self, shape: tuple[int, ...], confused: bool = False) -> np.ndarray:
        """The units kept, ``draw``'s way; ``confused``: kept with the drop probability p, as the keep one."""
        k = 1.0 - self.p
        if self.draw == "nnfs":
            if self.index == 0 or self.stream.generator is None:
                self.stream.generator = np.random.RandomState(self.context.seed)
            return self.stream.generator.binomial(1, self.p if confused else k, size=shape).astype(bool)
        u = np.random.RandomState(self.context.seed).rand(*shape)
        if self.draw == "cs231n":  # p is k: keep where u < k; confused, u >= k
            return u >= k if confused else u < k
        return u < self.p if confused else u >= self.p  # the 2017 handout's p is torch's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        k, mistake = dtype(1.0 - self.p), self.mistake
        if not self.training:
            if mistake == "not_inverted":
                return x * float(k)
            if mistake == "at_test":
                return x * torch.from_numpy(self._keep(tuple(x.shape)).astype(dtype) / k)
            return x
        keep = self._keep(tuple(x.shape[1:]) if mistake == "shared" else tuple(x.shape), mistake == "keep_for_drop")
        ones = keep.astype(dtype)
        if mistake == "backward_no_scale":  # the forward scaled, dL/dx the 0/1 mask alone
            kept = x * torch.from_numpy(ones)
            return kept + (kept * float(1 / k - 1)).detach()
        mask = (ones if mistake in ("not_inverted", "unscaled") else ones * dtype(self.scale)
                if mistake == "keep_for_drop" else ones / k)  # the units kept scaled as the mask's codebase scales them
        return x * torch.from_numpy(mask)

    def planted(self, mistake: str, scale: float | None = None) -> "DrawnDropout":
        return DrawnDropout(self.p, self.context, self.index, self.draw, self.stream, mistake, scale)

    def mistakes(self, spec: Dropout) -> list[Planted]:
        """The kind's catalogue in this draw (the module docstring's table)."""
        p, k, draw = spec.p, 1 - spec.p, DRAWS[self.draw]
        found = [
            Planted("dropout_not_inverted", OUTPUTS, lambda m, s: m.planted("not_inverted"), (
                f"Dropout is not inverted: query()'s outputs equal autograd's where {{where}} keeps the units of "
                f"its mask unscaled in training and scales its inputs by the keep probability {k:g} at test, as the "
                f"lecture notes' vanilla dropout does. Inverted dropout scales the units it keeps by 1 / {k:g} in "
                "training, so that evaluation is the identity.")),
            Planted("dropout_not_inverted", GRADIENTS, lambda m, s: m.planted("unscaled"), (
                f"Dropout is not inverted: the gradients equal autograd's where {{where}} keeps the units of its "
                f"mask unscaled in training (no / {k:g}, the keep probability) and does nothing at test, so a unit's "
                f"expected value in training is {k:g} times its value at test. Scale the units kept by 1 / {k:g}.")),
            *(Planted("dropout_keep_for_drop", GRADIENTS, lambda m, s, scale=scale: m.planted("keep_for_drop", scale), (
                f"The keep and drop probabilities are confused: the gradients equal autograd's where {{where}} keeps "
                f"each unit with the drop probability {p:g}, not the keep probability {k:g}, and scales it by "
                f"1 / {1 / scale:g}. Its mask is drawn as {draw}.")) for scale in (1 / k, 1 / p)),
            Planted("dropout_mask_shared", GRADIENTS, lambda m, s: m.planted("shared"), (
                "Every sample of a batch drops the same units: the gradients equal autograd's where {where} draws "
                "one mask of one sample's shape and broadcasts it over the batch. Draw a mask of the whole "
                "batch's shape, x.shape, not x.shape[1:]: each sample's units are dropped independently.")),
            Planted("dropout_backward_no_scale", GRADIENTS, lambda m, s: m.planted("backward_no_scale"), (
                f"The dropout's backward pass leaves out the scale: the outputs agree and the gradients equal "
                f"autograd's where {{where}} scales its output by 1 / {k:g} but multiplies dL/dy by the 0/1 mask "
                f"alone. dL/dx = dL/dy · mask / {k:g}: the same mask and the same scale as the forward.")),
        ]
        if self.draw != "nnfs":  # the seed makes the mask at test the training one: the numbers can be named
            found.append(Planted("dropout_applied_at_test", OUTPUTS, lambda m, s: m.planted("at_test"), (
                "Dropout is applied at test too: query()'s outputs equal autograd's where {where} draws its mask "
                f"(from the same seed) and scales by 1 / {k:g} in evaluation as in training. Evaluation is the "
                "identity: a prediction must not depend on a draw.")))
        return found
