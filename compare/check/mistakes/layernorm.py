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
(or ``nn.GroupNorm(1, C)`` for maps), sharing its γ and β. A layer normalization alone
(:class:`LayerNormCheck`, in ``CHECKS``) is checked for the same four.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

import numpy as np

from common.layers.layernorm import LayerNorm
from compare.check.mistakes import GRADIENTS, OUTPUTS, Planted
from compare.check.mistakes.batchnorm import MistakenBackward
from compare.check.one_layer import Case, Configuration, LayerCheck, Mistake, autograd, drawn, parameter, pre_activations


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
            sums = [0] if not maps else [0, 2, 3]  # γ and β: one a feature, or a channel
            return MistakenBackward.apply(x, self.weight, self.bias, mean, std, axes, sums, shape,
                                          self.backward_mistake)
        return gamma * (x - mean) / std + beta


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


# -- check_layer: a layer normalization alone ------------------------------------------------------

class LayerNormCheck(LayerCheck):
    """cs231n's ``layernorm_forward(x, gamma, beta, ln_param) -> (out, cache)`` and ``layernorm_backward(dout,
    cache) -> (dx, dgamma, dbeta)``, ``ln_param = {'eps': 1e-5}``, on rows of pre-activations, and on rows
    a thousand times smaller, whose variance is of the order of ε (where ε outside the root shows)."""

    kind, param, parameters = "layernorm", "ln_param", ("gamma", "beta")
    keys = ("out", "dx", "dgamma", "dbeta")
    pair_words = ("layernorm_forward(x, gamma, beta, ln_param) -> (out, cache); layernorm_backward(dout, cache) -> "
                  "(dx, dgamma, dbeta)")
    reference_words = "torch.nn.functional.layer_norm"

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        if given is not None:
            return [Configuration(f"ln_param {given}, 6 rows of 12", {"scale": 1.0, "param": given})]
        return [Configuration("6 rows of 12 pre-activations", {"scale": 1.0, "param": {"eps": 1e-5}}),
                Configuration("small values: 6×12 · 1e-3, σ² of order ε", {"scale": 1e-3, "param": {"eps": 1e-5}})]

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng, setting = np.random.default_rng(index), configuration.setting
        x = (pre_activations(6, 12, 16 * index, rng, np.float64) * setting["scale"]).astype(dtype)
        return Case(configuration, dtype, {"x": x, "gamma": (1 + drawn(rng, (12,), np.float64, 0.5)).astype(dtype),
                                           "beta": drawn(rng, (12,), dtype, 0.5), "dout": drawn(rng, x.shape, dtype)},
                    dict(setting["param"]))

    def numbers(self, plant: Any, case: Case) -> dict[str, Any]:
        ln = nn.LayerNorm(case.values["x"].shape[-1], eps=case.param.get("eps", 1e-5)).double()
        ln.weight, ln.bias = parameter(case.values["gamma"]), parameter(case.values["beta"])
        module = ln if plant is None else plant(ln)
        return autograd(module, case.values["x"], case.values["dout"], {"gamma": ln.weight, "beta": ln.bias}, self.keys)

    def reference(self, case: Case, reading: Any) -> dict[str, Any]:
        return self.numbers(None, case)

    def mistakes(self) -> list[Mistake]:
        return self.from_catalogue(mistakes(LayerNorm((12,))))


CHECKS = {"layernorm": LayerNormCheck()}
