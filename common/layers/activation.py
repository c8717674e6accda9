"""The hidden layers' activations, elementwise; no parameters.

=========  =============================  ===================================
kind       y = f(z)                       f'(z), written through y
=========  =============================  ===================================
sigmoid    1 / (1 + e^(−z))               y (1 − y)
tanh       tanh z                         1 − y²
relu       max(z, 0)                      1 where y > 0, else 0 (0 at z = 0, as torch)
=========  =============================  ===================================
"""
from __future__ import annotations

from dataclasses import dataclass

from common.layers.base import Layer

FUNCTIONS = ("sigmoid", "tanh", "relu")
WORDS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}


@dataclass(frozen=True)
class Activation(Layer):
    kinds = FUNCTIONS
    module = "activation"

    function: str = "sigmoid"

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.function

    def backward_words(self, block: str) -> str:
        return f"the {WORDS[self.function]}'s derivative at {block}"
