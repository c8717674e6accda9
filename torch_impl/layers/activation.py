"""The hidden activations: ``nn.Sigmoid``, ``nn.Tanh``, ``nn.ReLU``."""
from __future__ import annotations

from torch import nn

from common.layers.activation import Activation

MODULES = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def build(spec: Activation, context, index=None) -> nn.Module:
    return MODULES[spec.function]()
