"""The classic mistakes of a layer normalization written by hand, each planted in torch's.

=====================  =========================================================================
mistake                what is planted, and the numbers that must be its
=====================  =========================================================================
ln_batch_axis          the statistics over the batch axis (batch norm's), not over each sample's
                       features: the outputs
ln_eps_outside_sqrt    √σ² + ε where √(σ² + ε) belongs: the outputs
ln_no_mean_term        the backward pass without the terms through each sample's mean: the gradients
ln_no_variance_term    the backward pass without the terms through each sample's variance: the
                       gradients
=====================  =========================================================================

Each is :class:`PlantedLayerNorm`, written with tensor operations beside torch's ``nn.LayerNorm``
(or ``nn.GroupNorm(1, C)`` for maps), sharing its γ and β.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from common.layers.layernorm import LayerNorm
from compare.check.mistakes import GRADIENTS, OUTPUTS, Planted


class PlantedLayerNorm(nn.Module):
    """``ln`` (its weight and bias shared) with one mistake: the statistics over the batch axis, ε outside
    the square root, or a backward pass without the terms through the mean or the variance."""

    def __init__(self, ln: nn.Module, batch_axis: bool = False, eps_outside: bool = False,
                 backward: str | None = None) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = ln.weight, ln.bias, ln.eps
        self.batch_axis, self.eps_outside, self.backward_mistake = batch_axis, eps_outside, backward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = x.dim() == 4
        axes = ([0] if not maps else [0, 2, 3]) if self.batch_axis else ([-1] if not maps else [1, 2, 3])
        shape = (-1, 1, 1) if maps else (-1,)
        mean, var = x.mean(axes, keepdim=True), x.var(axes, unbiased=False, keepdim=True)
        std = var.sqrt() + self.eps if self.eps_outside else (var + self.eps).sqrt()
        gamma, beta = self.weight.reshape(shape), self.bias.reshape(shape)
        if self.backward_mistake:
            return _MistakenBackward.apply(x, self.weight, self.bias, mean, std, axes, self.backward_mistake)
        return gamma * (x - mean) / std + beta


class _MistakenBackward(torch.autograd.Function):
    """y = γ (x − μ) / std + β over each sample's features, whose dL/dx leaves out the terms through μ
    ("mean") or σ² ("variance")."""

    @staticmethod
    def forward(ctx: Any, x, gamma, beta, mean, std, axes, mistake):
        shape = (-1, 1, 1) if x.dim() == 4 else (-1,)
        x_hat = (x - mean) / std
        ctx.save_for_backward(x_hat, gamma, std)
        ctx.axes, ctx.mistake, ctx.shape = axes, mistake, shape
        return gamma.reshape(shape) * x_hat + beta.reshape(shape)

    @staticmethod
    def backward(ctx: Any, dy):
        x_hat, gamma, std = ctx.saved_tensors
        others = [0] if dy.dim() == 2 else [0, 2, 3]
        dx_hat = dy * gamma.reshape(ctx.shape)
        dx = dx_hat.clone()
        if ctx.mistake != "mean":
            dx = dx - dx_hat.mean(ctx.axes, keepdim=True)
        if ctx.mistake != "variance":
            dx = dx - x_hat * (dx_hat * x_hat).mean(ctx.axes, keepdim=True)
        return dx / std, (dy * x_hat).sum(others), dy.sum(others), None, None, None, None


def mistakes(spec: LayerNorm) -> list[Planted]:
    over = "its (C, H, W) numbers" if len(spec.inputs) == 3 else "its features"
    return [
        Planted("ln_batch_axis", OUTPUTS, lambda m, s: PlantedLayerNorm(m, batch_axis=True), (
            f"The layer normalization's statistics are taken over the batch: the outputs equal autograd's where "
            f"{{where}} normalizes each feature over the samples (batch norm's axis 0). Layer normalization "
            f"normalizes each sample over {over}: x.mean(axis=1, keepdims=True) for rows of samples.")),
        Planted("ln_eps_outside_sqrt", OUTPUTS, lambda m, s: PlantedLayerNorm(m, eps_outside=True), (
            "ε is added outside the square root: the outputs equal autograd's where {where} divides by √σ² + ε; "
            "nn.LayerNorm's is √(σ² + ε).")),
        Planted("ln_no_mean_term", GRADIENTS, lambda m, s: PlantedLayerNorm(m, backward="mean"), (
            "The layer normalization's backward pass leaves out the terms through each sample's mean: the outputs "
            "agree and every gradient equals autograd's where {where} computes dL/dx = (dx̂ − x̂ · mean(dx̂ · x̂)) / "
            f"std. dL/dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) / std, the means over {over}.")),
        Planted("ln_no_variance_term", GRADIENTS, lambda m, s: PlantedLayerNorm(m, backward="variance"), (
            "The layer normalization's backward pass leaves out the terms through each sample's variance: the "
            "outputs agree and every gradient equals autograd's where {where} computes dL/dx = (dx̂ − mean(dx̂)) / "
            f"std. dL/dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) / std, the means over {over}.")),
    ]
