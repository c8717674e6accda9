"""Layer normalization: ``nn.LayerNorm`` over a dense layer's features; over a whole map,
``nn.GroupNorm(1, C)`` (one group: each image normalized over (C, H, W)), whose γ and β are per channel."""
from __future__ import annotations

from torch import nn

from common.layers.layernorm import LayerNorm


def build(spec: LayerNorm, context, index=None) -> nn.Module:
    if len(spec.inputs) == 3:
        return nn.GroupNorm(1, spec.inputs[0], eps=spec.eps)
    return nn.LayerNorm(spec.inputs[0], eps=spec.eps)
