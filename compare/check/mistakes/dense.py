"""The classic mistake of a dense layer written by hand: its weight used transposed.

==================  ==========================================================================
mistake             what is planted, and the numbers that must be its
==================  ==========================================================================
transposed_weight   ``x @ W`` where ``W x`` (``x @ W.T`` for rows) belongs, or, where W is not
                    square, W reshaped to ``(n_in, n_out)`` and transposed: the outputs
==================  ==========================================================================
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.layers.dense import Dense
from compare.check.mistakes import OUTPUTS, Planted


class TransposedLinear(nn.Module):
    """``linear`` (its weight and bias shared) computing with ``W.reshape(n_in, n_out).T``: its
    transpose where W is square, where a layer written for the (n_in, n_out) layout reads W."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_out, n_in = self.weight.shape
        return F.linear(x, self.weight.reshape(n_in, n_out).T, self.bias)


def mistakes(spec: Dense) -> list[Planted]:
    n_out, n_in = spec.units, spec.inputs[0]
    if n_out == n_in:
        how = ("{where} is used transposed: the outputs equal autograd's with W.T. Weights are laid out "
               "(n_out, n_in), as nn.Linear.weight: a layer computes W @ x, or inputs @ W.T for rows of samples.")
    else:
        how = (f"{{where}} is reshaped to ({n_in}, {n_out}) where a transpose belongs: the outputs equal "
               f"autograd's with W.reshape({n_in}, {n_out}).T. reshape keeps the numbers in their order; .T swaps "
               "the axes.")
    return [Planted("transposed_weight", OUTPUTS, lambda module, spec: TransposedLinear(module), how)]
