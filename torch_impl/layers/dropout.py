"""Dropout: ``nn.Dropout(p)``'s meaning (each unit dropped with probability p in training, the others
scaled by 1 / (1 − p); the identity in evaluation), its mask drawn where the NumPy network draws its
own, :func:`common.layers.layer_rng`, instead of from torch's generator, which NumPy cannot reproduce."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from common.layers import layer_rng
from common.layers.dropout import Dropout


class SharedMaskDropout(nn.Dropout):
    """``nn.Dropout`` whose mask at each training pass is ``layer_rng(seed, step, index).random(shape) >= p``,
    with the network's ``context`` (its layer seed and step) and this layer's ``index``."""

    def __init__(self, p: float, context, index: int) -> None:
        super().__init__(p)
        self.context, self.index = context, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = layer_rng(self.context.seed, self.context.step, self.index).random(tuple(x.shape)) >= self.p
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        scaled = keep.astype(dtype) * dtype(1.0 / (1.0 - self.p))  # m / (1 − p), as the NumPy network's
        return x * torch.from_numpy(scaled).to(x.device)

    def extra_repr(self) -> str:
        return f"p={self.p}, mask=common.layers.layer_rng(layer_seed, step, {self.index})"


def build(spec: Dropout, context, index=None) -> nn.Module:
    return SharedMaskDropout(spec.p, context, index)
