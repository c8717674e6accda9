"""The classic mistake of the flatten between the convolutions and the dense layers.

==================  ==========================================================================
mistake             what is planted, and the numbers that must be its
==================  ==========================================================================
flatten_order       the maps flattened in another order than (C, H, W), e.g. channels last
                    (H, W, C), TensorFlow's layout: the outputs
==================  ==========================================================================
"""
from __future__ import annotations

import itertools

import torch
from torch import nn

from common.layers.flatten import Flatten, Unflatten
from compare.check.mistakes import OUTPUTS, Planted

AXES = "CHW"


class PermutedFlatten(nn.Module):
    """Maps ``(..., C, H, W)`` flattened with their axes in ``order`` (a permutation of 0, 1, 2)."""

    def __init__(self, order: tuple[int, int, int]) -> None:
        super().__init__()
        self.order = order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.dim() - 3
        return x.permute(*range(lead), *(lead + a for a in self.order)).flatten(-3)


def mistakes(spec: Flatten | Unflatten) -> list[Planted]:
    if isinstance(spec, Unflatten):
        return []
    return [Planted("flatten_order", OUTPUTS, lambda module, spec, order=order: PermutedFlatten(order),
                    f"The flatten order differs from torch's: the outputs equal autograd's where the maps are "
                    f"flattened in ({', '.join(AXES[a] for a in order)}) order. nn.Flatten keeps (C, H, W) order, as "
                    "x.reshape(n, -1) of an (n, C, H, W) array does; a transpose to channels last first "
                    "(TensorFlow's layout) permutes the features. Flatten the (n, C, H, W) maps as they are, and "
                    "unflatten dL/dx the same way.")
            for order in itertools.permutations(range(3)) if order != (0, 1, 2)]
