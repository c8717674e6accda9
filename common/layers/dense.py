"""A dense (fully connected) layer: z = W a + b.

W has shape ``(n_out, n_in)``, as ``nn.Linear.weight``, so weights move between the backends
without a transpose; b ``(n_out,)``. W starts normal with standard deviation ``n_in ** -0.5``
(the book's), b at zeros. The book's network names its two weights ``W_ih`` and ``W_ho``.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.layers.base import Layer, Parameter


@dataclass(frozen=True)
class Dense(Layer):
    kind = "dense"
    affine = True

    units: int = 1
    bias: bool = False
    weight_name: str = ""  # "" names it by its block: W1, W2, ...

    @property
    def outputs(self) -> tuple[int, ...]:
        return (self.units,)

    def parameters(self) -> tuple[Parameter, ...]:
        weight = Parameter(self.weight_name or self.tag("W"), (self.units, self.inputs[0]), "fan_in", weight=True)
        return (weight, Parameter(self.tag("b"), (self.units,), "zeros")) if self.bias else (weight,)

    def words(self) -> str:
        return str(self.units)

    @property
    def called(self) -> str:
        return self.parameters()[0].name  # W_ih, W1: as the report's rows name the layer

    @property
    def block_words(self) -> str:
        return f"{self.called}'s layer"

    def gradient_words(self, parameter: str) -> str:
        if parameter == self.called:
            return f"dL/dW of {parameter}, dL/dz {self.tag('z')} times the layer's input"
        return f"dL/db of {self.called}, dL/dz {self.tag('z')} summed over the samples"

    def backward_words(self, block: str) -> str:
        return f"dL/dx of {self.called} ({self.called}ᵀ dL/dz)"
