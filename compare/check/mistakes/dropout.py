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
