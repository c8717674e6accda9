"""Layer normalization: each sample normalized over its own features, then scaled and shifted:
over a dense layer's features as ``nn.LayerNorm``, over a whole map (C, H, W) with a γ and β per
channel as ``nn.GroupNorm(1, C)``.

.. math::

    \\mu = \\frac{1}{D} \\sum_{\\text{features}} x, \\quad
    \\sigma^2 = \\frac{1}{D} \\sum_{\\text{features}} (x - \\mu)^2, \\quad
    y = \\gamma \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} + \\beta

Each sample's own statistics, the same in training and evaluation: no running statistics, and any
batch size, one sample too. ε = 1e-5, inside the square root; γ starts at 1 and β at 0.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.layers.base import BEFORE_ACTIVATION, Normalization, Option


@dataclass(frozen=True)
class LayerNorm(Normalization):
    kind = "layernorm"
    option = Option("norm", BEFORE_ACTIVATION, choice="layer",
                    help="layer normalization after each hidden affine map, before its activation (nn.LayerNorm; "
                         "nn.GroupNorm(1, C) after a convolution)")

    eps: float = 1e-5

    def backward_words(self, block: str) -> str:
        return f"dL/dx of {self.name}, the layer normalization at {block} (through x̂, each sample's mean and variance)"
