"""2×2 max pooling, stride 2: ``nn.MaxPool2d(2)``."""
from __future__ import annotations

from torch import nn

from common.layers.maxpool import MaxPool


def build(spec: MaxPool, context, index=None) -> nn.Module:
    return nn.MaxPool2d(spec.size)
