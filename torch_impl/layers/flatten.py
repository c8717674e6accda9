"""The reshapes around the convolutions: ``nn.Unflatten`` (a row of pixels as an image) and
``nn.Flatten`` over the last three axes (a map as a row, in (C, H, W) order); both take a batch
and one sample alike."""
from __future__ import annotations

from torch import nn

from common.layers.flatten import Flatten, Unflatten


def build(spec: Flatten | Unflatten, context, index=None) -> nn.Module:
    if isinstance(spec, Unflatten):
        return nn.Unflatten(-1, spec.image)
    return nn.Flatten(-3)
