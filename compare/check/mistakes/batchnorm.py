"""The classic mistakes of a batch normalization written by hand, each planted in torch's.

==========================  ====================================================================
mistake                     what is planted, and the numbers that must be its
==========================  ====================================================================
bn_no_mean_term             the backward pass without the terms through the batch's mean: the
                            gradients
bn_no_variance_term         the backward pass without the terms through the batch's variance: the
                            gradients
bn_eps_outside_sqrt         √σ² + ε where √(σ² + ε) belongs: the outputs
bn_batch_stats_in_eval      evaluation normalizing with the batch's statistics, not the running
                            ones: the outputs (query)
bn_running_stats_in_train   training normalizing with the running statistics (just moved), not the
                            batch's: the gradients
bn_biased_running_var       the running variance moved towards the biased σ², where torch's takes
                            σ² · M / (M − 1): the buffers one step moves
bn_momentum_form            cs231n's ``momentum · running + (1 − momentum) · batch`` given torch's
                            momentum 0.1, where that formula wants 0.9: the buffers
spatial_reshape             a map reshaped to (n·H·W, C) without moving the channels last first, so
                            each column mixes channels and positions: the outputs
bn_unbiased_var_in_forward  training normalizing with the unbiased variance σ² · M / (M − 1)
                            (torch.var's default), the running variance moved towards it: the
                            gradients
==========================  ====================================================================

Each is :class:`PlantedBatchNorm` (or :class:`ReshapedBatchNorm`, :class:`UnbiasedBatchNorm`),
written with tensor operations beside torch's ``nn.BatchNorm1d``/``2d``, sharing its γ, β and
running statistics; with no mistake planted it computes what torch's does.

:class:`HandoutBatchNorm` is torch's batch normalization under cs231n's conventions, which are not
mistakes: the running statistics start where the model's are (0 before its first training pass),
move towards the batch's *biased* variance, with cs231n's momentum 0.9 on the old value (torch's
0.1 on the new). A model written as cs231n's is compared with it (:func:`compare.check.check_model`),
and its catalogue is this one, each mistake planted under the same conventions.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from common.layers.batchnorm import BatchNorm
from compare.check.mistakes import BUFFERS, GRADIENTS, OUTPUTS, Planted


class PlantedBatchNorm(nn.Module):
    """``bn`` (its weight, bias and running statistics shared) with one of the flags' mistakes."""

    def __init__(self, bn: nn.Module, backward: str | None = None, eps_outside: bool = False,
                 batch_in_eval: bool = False, running_in_train: str | None = None, biased_running: bool = False,
                 momentum: float | None = None) -> None:
        super().__init__()
        self.weight, self.bias = bn.weight, bn.bias
        self.running_mean, self.running_var = bn.running_mean, bn.running_var  # the same tensors: the buffers
        self.bn, self.eps = bn, bn.eps
        self.momentum = bn.momentum if momentum is None else momentum
        self.backward_mistake, self.eps_outside = backward, eps_outside
        self.batch_in_eval, self.running_in_train, self.biased_running = batch_in_eval, running_in_train, biased_running

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axes = [0] if x.dim() == 2 else [0, 2, 3]
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        if self.training or self.batch_in_eval:
            mean, var = x.mean(axes), x.var(axes, unbiased=False)
            if self.training:
                count = x.numel() // x.shape[1]
                with torch.no_grad():
                    unbiased = var * (1.0 if self.biased_running else count / (count - 1))
                    self.bn.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                    self.bn.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased)
            if self.training and self.running_in_train:
                mean, var = self.bn.running_mean.clone(), self.bn.running_var.clone()
        else:
            mean, var = self.bn.running_mean, self.bn.running_var
        std = var.sqrt() + self.eps if self.eps_outside else (var + self.eps).sqrt()
        if self.training and (self.backward_mistake or self.running_in_train):
            # the running statistics normalize, but dL/dx is the batch's formula, as that code's backward keeps it
            # (cs231n's node-by-node batchnorm_backward, or its closed form batchnorm_backward_alt)
            return _MistakenBackward.apply(x, self.weight, self.bias, mean.reshape(shape), std.reshape(shape),
                                           axes, self.backward_mistake or self.running_in_train)
        return self.weight.reshape(shape) * (x - mean.reshape(shape)) / std.reshape(shape) + self.bias.reshape(shape)


class _MistakenBackward(torch.autograd.Function):
    """y = γ (x − μ) / std + β, whose dL/dx leaves out the terms through μ ("mean") or σ² ("variance"), or is
    the batch's formula where μ and std are not the batch's: node by node ("node"), as cs231n's
    batchnorm_backward differentiates, or in its closed form ("closed"), which assumes mean(x̂) = 0."""

    @staticmethod
    def forward(ctx: Any, x, gamma, beta, mean, std, axes, mistake):
        shape = mean.shape
        x_hat = (x - mean) / std
        ctx.save_for_backward(x_hat, gamma, std)
        ctx.axes, ctx.mistake, ctx.shape = axes, mistake, shape
        return gamma.reshape(shape) * x_hat + beta.reshape(shape)

    @staticmethod
    def backward(ctx: Any, dy):
        x_hat, gamma, std = ctx.saved_tensors
        axes, shape = ctx.axes, ctx.shape
        dx_hat = dy * gamma.reshape(shape)
        dx = dx_hat.clone()
        if ctx.mistake != "mean":
            dx = dx - dx_hat.mean(axes, keepdim=True)
        if ctx.mistake != "variance":
            centred = x_hat - x_hat.mean(axes, keepdim=True) if ctx.mistake == "node" else x_hat
            dx = dx - centred * (dx_hat * x_hat).mean(axes, keepdim=True)
        return dx / std, (dy * x_hat).sum(axes), dy.sum(axes), None, None, None, None


class ReshapedBatchNorm(nn.Module):
    """A spatial batch norm that reshapes ``(n, C, H, W)`` to ``(n·H·W, C)`` without moving the channels
    last: each column normalized is a mix of channels and positions; γ and β applied to those columns."""

    def __init__(self, bn: nn.Module) -> None:
        super().__init__()
        self.planted = PlantedBatchNorm(bn)
        self.running_mean, self.running_var = bn.running_mean, bn.running_var

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.planted.train(self.training)
        return self.planted(x.reshape(-1, x.shape[1])).reshape(x.shape)


class UnbiasedBatchNorm(nn.Module):
    """``bn`` (its γ, β and running statistics shared) normalizing, in training, with the unbiased variance
    σ² · M / (M − 1), M the numbers each feature is averaged over, and moving the running variance towards
    that same variance (the one variable a hand-written forward keeps); its backward pass is still the biased
    variance's closed form, as where only the forward's ``var`` was changed; evaluation is torch's."""

    def __init__(self, bn: nn.Module) -> None:
        super().__init__()
        self.weight, self.bias = bn.weight, bn.bias
        self.running_mean, self.running_var = bn.running_mean, bn.running_var
        self.eps, self.momentum = bn.eps, bn.momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axes = [0] if x.dim() == 2 else [0, 2, 3]
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        if not self.training:
            return (self.weight.reshape(shape) * (x - self.running_mean.reshape(shape))
                    / (self.running_var.reshape(shape) + self.eps).sqrt() + self.bias.reshape(shape))
        mean, var = x.mean(axes), x.var(axes, unbiased=True)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)
        return _MistakenBackward.apply(x, self.weight, self.bias, mean.reshape(shape),
                                       (var + self.eps).sqrt().reshape(shape), axes, "closed")


class HandoutBatchNorm(PlantedBatchNorm):
    """torch's batch normalization ``bn`` (its γ, β and running statistics shared) under cs231n's
    conventions: the running variance moved towards the batch's biased variance, ``momentum`` the weight on
    the batch (1 − cs231n's ``bn_param['momentum']``, 0.9 by default: 0.1), ``eps`` the model's.

    Its :meth:`mistakes` are the kind's, each planted under the same conventions, but
    ``bn_biased_running_var``, which is the convention itself.
    """

    def __init__(self, bn: nn.Module, momentum: float, eps: float) -> None:
        bn.eps = eps
        super().__init__(bn, biased_running=True, momentum=momentum)

    def mistakes(self, spec: BatchNorm) -> list[Planted]:
        return [replace(planted, plant=lambda m, s, plant=planted.plant: _biased(plant(m, s)))
                for planted in mistakes(spec) if planted.name != "bn_biased_running_var"]


def _biased(module: nn.Module) -> nn.Module:
    """``module``, a batch norm with a mistake planted, keeping cs231n's biased running variance."""
    for planted in (module, getattr(module, "planted", None)):
        if isinstance(planted, PlantedBatchNorm):
            planted.biased_running = True
    return module


WHY = ("nn.BatchNorm normalizes each feature with the batch's mean μ and biased variance σ² in training, "
       "and with its running statistics in evaluation")


def mistakes(spec: BatchNorm) -> list[Planted]:
    found = [
        Planted("bn_no_mean_term", GRADIENTS, lambda m, s: PlantedBatchNorm(m, backward="mean"), (
            "The batch normalization's backward pass leaves out the terms through the batch's mean: the outputs "
            "agree and every gradient equals autograd's where {where} computes dL/dx = (dx̂ − x̂ · mean(dx̂ · x̂)) "
            "/ std. Each x moves the mean every x̂ subtracts: dL/dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) / std, "
            "dx̂ = γ dL/dy, the means over the batch.")),
        Planted("bn_no_variance_term", GRADIENTS, lambda m, s: PlantedBatchNorm(m, backward="variance"), (
            "The batch normalization's backward pass leaves out the terms through the batch's variance: the outputs "
            "agree and every gradient equals autograd's where {where} computes dL/dx = (dx̂ − mean(dx̂)) / std, as "
            "if std were a constant. Each x moves the variance every x̂ divides by: dL/dx = (dx̂ − mean(dx̂) − x̂ · "
            "mean(dx̂ · x̂)) / std.")),
        Planted("bn_eps_outside_sqrt", (OUTPUTS, GRADIENTS), lambda m, s: PlantedBatchNorm(m, eps_outside=True), (
            "ε is added outside the square root: the numbers equal autograd's where {where} divides by √σ² + ε. "
            "torch's (and cs231n's) is √(σ² + ε): they part where σ² is of the order of ε.")),
        Planted("bn_batch_stats_in_eval", OUTPUTS, lambda m, s: PlantedBatchNorm(m, batch_in_eval=True), (
            f"Evaluation normalizes with the batch's statistics: query()'s outputs equal autograd's where {{where}} "
            f"uses the mean and variance of the samples it is given, not the running ones. {WHY}: a prediction "
            "must not depend on the other samples of its batch.")),
        *(Planted("bn_running_stats_in_train", GRADIENTS,
                  lambda m, s, form=form: PlantedBatchNorm(m, running_in_train=form), (
                      f"Training normalizes with the running statistics: the gradients equal autograd's where {{where}} "
                      f"normalizes with the running mean and variance it has just moved, not the batch's, and "
                      f"differentiates that {words}. {WHY}."))
          for form, words in (("node", "as if they were the batch's, node by node"),
                              ("closed", "with the batch's closed form"))),
        Planted("bn_biased_running_var", BUFFERS, lambda m, s: PlantedBatchNorm(m, biased_running=True), (
            "The running variance follows the biased variance: the buffers a step moves equal torch's where "
            "{where} moves running_var towards σ² itself. torch normalizes with the biased σ² and moves the "
            "running variance towards the unbiased σ² · M / (M − 1), M the numbers each feature is averaged over "
            "(cs231n's handout keeps the biased one: check_layer takes that as its convention).")),
        Planted("bn_momentum_form", BUFFERS, lambda m, s: PlantedBatchNorm(m, momentum=1 - m.momentum), (
            "The running statistics take the new batch's at weight 1 − momentum: the buffers a step moves equal "
            "torch's where {where} computes running = momentum · running + (1 − momentum) · batch, cs231n's form, "
            "with torch's momentum 0.1. torch's momentum is the weight on the batch, running = (1 − momentum) · "
            "running + momentum · batch; cs231n's 0.9 in its own form is the same update.")),
    ]
    found.append(Planted("bn_unbiased_var_in_forward", GRADIENTS, lambda m, s: UnbiasedBatchNorm(m), (
        "Training normalizes with the unbiased variance: the outputs agree and the gradients equal autograd's "
        "where {where} divides by √(σ² · M / (M − 1) + ε), M the numbers each feature is averaged over "
        "(torch.var's default, ddof=1 in NumPy), and differentiates it as the biased one. nn.BatchNorm normalizes "
        "with the biased σ², the mean of (x − μ)²; only its running variance takes the unbiased one.")))
    if len(spec.inputs) == 3:
        found.append(Planted("spatial_reshape", (OUTPUTS, GRADIENTS), lambda m, s: ReshapedBatchNorm(m), (
            "The spatial batch normalization reshapes the maps without moving the channels last: the numbers "
            "equal autograd's where {where} normalizes x.reshape(-1, C) of an (n, C, H, W) map, whose columns mix "
            "channels and positions. Move the channels last first: x.transpose(0, 2, 3, 1).reshape(-1, C), "
            "normalize each column, and undo both.")))
    return found
