"""2×2 max pooling, stride 2: the largest entry of each window; an odd last row or column is left
out, as torch's floor does. No parameters."""
from __future__ import annotations

from dataclasses import dataclass

from common.layers.base import Layer


@dataclass(frozen=True)
class MaxPool(Layer):
    kind = "maxpool"

    size: int = 2  # the window's side, and its stride

    @property
    def outputs(self) -> tuple[int, ...]:
        channels, height, width = self.inputs
        return (channels, height // self.size, width // self.size)

    def backward_words(self, block: str) -> str:
        return f"the backward pass of {self.name}, the max pool after {block}"
