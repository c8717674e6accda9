"""A dense layer: ``nn.Linear``, whose ``weight`` has the ``(n_out, n_in)`` layout both backends use."""
from __future__ import annotations

from torch import nn

from common.layers.dense import Dense


def build(spec: Dense, context, index=None) -> nn.Module:
    return nn.Linear(spec.inputs[0], spec.units, bias=spec.bias)
