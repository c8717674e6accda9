"""Batch normalization: each feature (each channel of a map) normalized over the batch, then scaled
and shifted, as ``nn.BatchNorm1d`` (after a dense layer) and ``nn.BatchNorm2d`` (after a convolution,
"spatial": over the batch and every position) compute it.

.. math::

    \\mu = \\frac{1}{M} \\sum x, \\quad \\sigma^2 = \\frac{1}{M} \\sum (x - \\mu)^2, \\quad
    \\hat x = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}, \\quad y = \\gamma \\hat x + \\beta

with M the samples (times the positions of a map) each feature is averaged over. In training the
batch's μ and σ² normalize, and the running statistics move towards them, torch's way:
``running = (1 − momentum) · running + momentum · batch`` with momentum 0.1, the running variance
taking the unbiased σ² · M / (M − 1) while the normalization uses the biased one; in evaluation the
running statistics normalize. ε = 1e-5, inside the square root. γ starts at 1 and β at 0, and weight
decay reaches neither unless the recipe decays every parameter (``decay_biases``); the running mean
starts at 0 and the running variance at 1. cs231n's handout starts both at 0, updates them with the
biased variance and writes ``momentum · running + (1 − momentum) · batch`` with momentum 0.9: the
same update, another convention (``check_layer`` reads which one a function keeps).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.layers.base import BEFORE_ACTIVATION, Buffer, Normalization, Option


@dataclass(frozen=True)
class BatchNorm(Normalization):
    kinds = ("batchnorm", "spatial_batchnorm")
    module = "batchnorm"
    modal = True
    absorbs_bias = True  # subtracts each feature's mean: a bias before it changes nothing, its gradient is 0
    option = Option("norm", BEFORE_ACTIVATION, choice="batch",
                    help="batch normalization after each hidden affine map, before its activation "
                         "(nn.BatchNorm1d, or nn.BatchNorm2d after a convolution); needs --batch-size 2 or more "
                         "where a dense layer is normalized")

    momentum: float = 0.1
    eps: float = 1e-5

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "spatial_batchnorm" if len(self.inputs) == 3 else "batchnorm"

    def buffers(self) -> tuple[Buffer, ...]:
        return (Buffer(self.tag("running_mean"), "running_mean", (self.features,), 0.0),
                Buffer(self.tag("running_var"), "running_var", (self.features,), 1.0))

    def min_batch(self) -> tuple[int, str]:
        if len(self.inputs) == 1:
            return 2, ("batch normalization after a dense layer normalizes each feature over the batch, and one "
                       "sample's variance is 0 (torch refuses it)")
        return 1, ""

    def backward_words(self, block: str) -> str:
        return (f"dL/dx of {self.name}, the batch normalization at {block} (through x̂, the batch's mean and its "
                "variance)")
