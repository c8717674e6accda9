"""Rows of pixels seen as images, and maps seen as rows: the reshapes around the convolutions.

``unflatten``: a row of ``H·W`` pixels seen as an image ``(1, H, W)``, as ``nn.Unflatten`` (the
inputs stay rows; a convolutional network's first layer). ``flatten``: a map ``(C, H, W)`` seen as
one row of ``C·H·W`` numbers, in (C, H, W) order, as ``nn.Flatten`` (before the dense layers).
No parameters; neither moves a number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from common.layers.base import Layer


@dataclass(frozen=True)
class Flatten(Layer):
    kind = "flatten"
    module = "flatten"

    @property
    def outputs(self) -> tuple[int, ...]:
        return (math.prod(self.inputs),)

    def backward_words(self, block: str) -> str:
        return f"the flatten undone: dL/dx seen as the maps {self.inputs}, in (C, H, W) order"


@dataclass(frozen=True)
class Unflatten(Layer):
    kind = "unflatten"
    module = "flatten"

    image: tuple[int, int, int] = (1, 1, 1)

    @property
    def outputs(self) -> tuple[int, ...]:
        return self.image
