"""A convolution layer: ``nn.Conv2d``, stride 1, zero padding; ``weight`` ``(C_out, C_in, K, K)``."""
from __future__ import annotations

from torch import nn

from common.layers.conv import Conv


def build(spec: Conv, context, index=None) -> nn.Module:
    return nn.Conv2d(spec.inputs[0], spec.channels, spec.kernel, padding=spec.padding, bias=spec.bias)
