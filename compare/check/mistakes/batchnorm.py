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

Each is :class:`PlantedBatchNorm` (or :class:`ReshapedBatchNorm`), written with tensor operations
beside torch's ``nn.BatchNorm1d``/``2d``, sharing its γ, β and running statistics; with no mistake
planted it computes what torch's does.

:class:`HandoutBatchNorm` is torch's batch normalization under cs231n's conventions, which are not
mistakes: the running statistics start where the model's are (0 before its first training pass),
move towards the batch's *biased* variance, with cs231n's momentum 0.9 on the old value (torch's
0.1 on the new). A model written as cs231n's is compared with it (:func:`compare.check.check_model`),
and its catalogue is this one, each mistake planted under the same conventions.

A batch normalization alone (:class:`BatchNormCheck`, in ``CHECKS``) is checked for these, under the
conventions it reads (:class:`Running`: cs231n's running statistics from 0 with the biased
variance are a convention there, not ``bn_biased_running_var``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from common.layers.batchnorm import BatchNorm
from compare.check.layer_forms import UserRaised
from compare.check.mistakes import BUFFERS, GRADIENTS, OUTPUTS, Planted
from compare.check.one_layer import (FORWARD, Case, Configuration, LayerCheck, Mistake, Raised, autograd, drawn,
                                     mnist_maps, parameter, parse_convention, pre_activations)


class PlantedBatchNorm(nn.Module):
    """``bn`` (its weight, bias and running statistics shared) with one of the flags' mistakes."""

    def __init__(self, bn: nn.Module, backward: str | None = None, eps_outside: bool = False,
                 batch_in_eval: bool = False, running_in_train: str | None = None, biased_running: bool = False,
                 momentum: float | None = None, unbiased_forward: bool = False) -> None:
        super().__init__()
        self.unbiased_forward = unbiased_forward  # normalizes with σ² · M / (M − 1), and moves the running one to it
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
            count = x.numel() // x.shape[1]
            if self.unbiased_forward:
                var = var * (count / (count - 1))
            if self.training:
                with torch.no_grad():
                    unbiased = var * (1.0 if self.biased_running or self.unbiased_forward else count / (count - 1))
                    self.bn.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                    self.bn.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased)
            if self.training and self.running_in_train:
                mean, var = self.bn.running_mean.clone(), self.bn.running_var.clone()
        else:
            mean, var = self.bn.running_mean, self.bn.running_var
        std = var.sqrt() + self.eps if self.eps_outside else (var + self.eps).sqrt()
        if self.training and (self.backward_mistake or self.running_in_train or self.unbiased_forward):
            # the running statistics (or the unbiased variance) normalize, but dL/dx is the batch's formula, as
            # that code's backward keeps it (cs231n's node-by-node batchnorm_backward, or its closed form
            # batchnorm_backward_alt)
            return MistakenBackward.apply(x, self.weight, self.bias, mean.reshape(shape), std.reshape(shape),
                                          axes, axes, shape, self.backward_mistake or self.running_in_train or "node")
        return self.weight.reshape(shape) * (x - mean.reshape(shape)) / std.reshape(shape) + self.bias.reshape(shape)


class MistakenBackward(torch.autograd.Function):
    """y = γ (x − μ) / std + β, whose dL/dx leaves out the terms through μ ("mean") or σ² ("variance"), or is
    the batch's formula where μ and std are not the batch's: node by node ("node"), as cs231n's
    batchnorm_backward differentiates, or in its closed form ("closed"), which assumes mean(x̂) = 0.
    ``axes``: those μ and σ² are taken over; ``sums``: those γ's and β's gradients are summed over;
    ``shape``: γ's and β's shape against x. Layer normalization's mistakes take it too."""

    @staticmethod
    def forward(ctx: Any, x, gamma, beta, mean, std, axes, sums, shape, mistake):
        x_hat = (x - mean) / std
        ctx.save_for_backward(x_hat, gamma, std)
        ctx.axes, ctx.sums, ctx.shape, ctx.mistake = axes, sums, shape, mistake
        return gamma.reshape(shape) * x_hat + beta.reshape(shape)

    @staticmethod
    def backward(ctx: Any, dy):
        x_hat, gamma, std = ctx.saved_tensors
        axes = ctx.axes
        dx_hat = dy * gamma.reshape(ctx.shape)
        dx = dx_hat.clone()
        if ctx.mistake != "mean":
            dx = dx - dx_hat.mean(axes, keepdim=True)
        if ctx.mistake != "variance":
            centred = x_hat - x_hat.mean(axes, keepdim=True) if ctx.mistake == "node" else x_hat
            dx = dx - centred * (dx_hat * x_hat).mean(axes, keepdim=True)
        return dx / std, (dy * x_hat).sum(ctx.sums), dy.sum(ctx.sums), None, None, None, None, None, None


class ReshapedBatchNorm(nn.Module):
    """A spatial batch norm that reshapes ``(n, C, H, W)`` to ``(n·H·W, C)`` without moving the channels
    last: each column normalized is a mix of channels and positions; γ and β applied to those columns."""

    def __init__(self, bn: nn.Module, **flags: Any) -> None:
        super().__init__()
        self.planted = PlantedBatchNorm(bn, **flags)
        self.running_mean, self.running_var = bn.running_mean, bn.running_var

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.planted.train(self.training)
        return self.planted(x.reshape(-1, x.shape[1])).reshape(x.shape)


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
    found.append(Planted("bn_unbiased_var_in_forward", GRADIENTS, lambda m, s: PlantedBatchNorm(m, unbiased_forward=True), (
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


# -- check_layer: a batch normalization alone -------------------------------------------------------

CONVENTION_FIELDS = {"start": ("zeros", "torch"), "running_var": ("biased", "unbiased"), "momentum": ("old", "batch")}
CODEBASES = {"cs231n": {"start": "zeros", "running_var": "biased", "momentum": "old"},
             "cs231n-2017": {"start": "zeros", "running_var": "biased", "momentum": "old"},
             "torch": {"start": "torch", "running_var": "unbiased", "momentum": "batch"}}


@dataclass
class Running:
    """How the running statistics are kept: ``start`` "zeros" (cs231n's, both from 0) or "torch" (the
    variance from 1); ``running_var`` "biased" (cs231n's, σ²) or "unbiased" (torch's, σ² · M / (M − 1));
    ``momentum`` what a momentum given in bn_param weighs: "old" (cs231n's ``momentum · running + (1 −
    momentum) · batch``) or "batch" (torch's). The default momentum of either weighs the batch by 0.1."""

    start: str = "zeros"
    running_var: str = "biased"
    momentum: str = "old"
    given: tuple[str, ...] = ()  # the fields the 'convention' keyword gave
    how: str = ""  # how the others were read, or why they were not
    done: bool = False
    momentum_given: float | None = None  # bn_param's momentum, where one was given
    start_given: bool = False  # bn_param came with running statistics
    seen: dict[str, str] = field(default_factory=dict)  # the code's own where the keyword gave another


class BatchNormCheck(LayerCheck):
    """cs231n's ``batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)`` and ``batchnorm_backward(dout,
    cache) -> (dx, dgamma, dbeta)`` (or their spatial pair), ``bn_param = {'mode', 'eps', 'momentum',
    'running_mean', 'running_var'}``, the running statistics written back into bn_param.

    At each configuration: three training calls on fresh batches into one bn_param (out, dx, dγ, dβ at
    the first; the running statistics after each), then one call in test mode (its outputs, from the
    running statistics). The conventions are read from the first call's running values, solved across
    the features: ``running = w · batch + (1 − w) · start``, the weight w on the batch, the start, and the
    batch's variance biased or unbiased; torch is compared under them. The weight w is no convention:
    both codebases' defaults weigh the batch by 0.1.
    """

    param, parameters = "bn_param", ("gamma", "beta")
    keys = ("out", "dx", "dgamma", "dbeta", "running_mean", "running_var", "test-mode out")
    reference_words = "torch.nn.functional.batch_norm"

    def __init__(self, spatial: bool) -> None:
        self.spatial, self.kind = spatial, "spatial_batchnorm" if spatial else "batchnorm"
        self.pair_words = (f"{self.kind}_forward(x, gamma, beta, bn_param) -> (out, cache); {self.kind}_backward(dout, "
                           "cache) -> (dx, dgamma, dbeta)")

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        x = (4, 4, 5, 6) if self.spatial else (8, 12)
        shape = f"{'maps' if self.spatial else 'batches of'} {'×'.join(map(str, x))}"
        if given is not None:
            return [Configuration(f"bn_param {given}, {shape}", {"x": x, "scale": 1.0, "param": given})]
        return [Configuration(f"{shape}, 3 training calls, then test mode", {"x": x, "scale": 1.0,
                                                                             "param": {"eps": 1e-5}}),
                Configuration(f"{shape} · 1e-3 (σ² of order ε), 3 training calls, then test mode",
                              {"x": x, "scale": 1e-3, "param": {"eps": 1e-5}})]

    def reading(self, convention: Any, form: str) -> Running:
        fields = parse_convention(convention, CONVENTION_FIELDS, CODEBASES, self.kind)
        return Running(**fields, given=tuple(fields))

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng, setting = np.random.default_rng(index), configuration.setting
        shape, features = setting["x"], setting["x"][1]
        axis = (1, -1, 1, 1) if self.spatial else (1, -1)
        offsets = rng.standard_normal(features).reshape(axis)
        scales = np.exp(rng.uniform(-0.7, 0.7, features)).reshape(axis)
        batches = []
        for b in range(4):  # three training batches, then one for test mode
            start = 40 * index + 10 * b
            z = (mnist_maps(shape, start, np.float64) - 0.2) * 3 if self.spatial else \
                pre_activations(shape[0], features, start, rng, np.float64)
            batches.append(((z * scales + offsets) * setting["scale"]).astype(dtype))
        param = {key: value for key, value in setting["param"].items() if key != "mode"}
        return Case(configuration, dtype, {"batches": batches, "gamma": (1 + drawn(rng, (features,), np.float64, 0.5))
                                           .astype(dtype), "beta": drawn(rng, (features,), dtype, 0.5),
                                           "dout": drawn(rng, shape, dtype)}, param)

    def run_pair(self, pair: Any, case: Case, reading: Running, calls: Any, mine: dict[str, Any]) -> None:
        batches = case.values["batches"]
        bn_param = {key: np.array(value, copy=True) if isinstance(value, np.ndarray) else value
                    for key, value in case.param.items()}  # running statistics given: the code may move them in place
        arrays = [("gamma", case.values["gamma"]), ("beta", case.values["beta"]), ("bn_param", bn_param)]
        running: dict[str, list] = {"running_mean": [], "running_var": []}
        for i, x in enumerate(batches[:-1]):
            bn_param["mode"] = "train"
            out, cache = calls.forward(pair, [("x", x), *arrays])
            if i == 0:
                mine["out"] = out
                try:
                    mine.update(calls.backward(pair, case.values["dout"], cache, self.keys[1:4]))
                except UserRaised as error:
                    mine.update(dict.fromkeys(self.keys[1:4], error.raised))
            for key, found in running.items():
                found.append(bn_param.get(key))
        for key, found in running.items():
            if all(isinstance(value, np.ndarray) for value in found):
                mine[key] = np.stack([calls.array(value, pair.name(FORWARD), key) for value in found])
            else:
                mine[key] = Raised(key, f"{pair.name(FORWARD)} wrote no {key} array into bn_param (found "
                                        f"{type(found[0]).__name__}); the running statistics are written back there")
        bn_param["mode"] = "test"
        mine["test-mode out"], _ = calls.forward(pair, [("x", batches[-1]), *arrays])

    def read(self, reading: Running, case: Case, mine: dict[str, Any]) -> None:
        if reading.done or case.setting["scale"] != 1.0 or \
                not isinstance(mine["running_mean"], np.ndarray) or not isinstance(mine["running_var"], np.ndarray):
            return
        reading.done, reading.momentum_given = True, case.param.get("momentum")
        reading.start_given = "running_var" in case.param
        axes = (0, 2, 3) if self.spatial else (0,)
        x = np.asarray(case.values["batches"][0], np.float64)
        count = x.size // x.shape[1]
        started = {key: np.asarray(case.param.get(key, 0.0), np.float64) for key in ("running_mean", "running_var")}
        weight, kept_mean, residual = _solve(x.mean(axes), np.asarray(mine["running_mean"][0], np.float64),
                                           started["running_mean"])
        slope, kept_var, residual_var = _solve(x.var(axes), np.asarray(mine["running_var"][0], np.float64),
                                             started["running_var"])
        # the running values keep (1 − w) of their start, w the weight on the batch (the mean's slope: the
        # variance's also carries the unbiased factor M / (M − 1))
        start_mean, start_var = (kept / (1 - weight) if weight != 1 else float("nan") for kept in (kept_mean, kept_var))
        factor = slope / weight if weight else np.nan
        read = {"running_var": _nearest(factor, {1.0: "biased", count / (count - 1): "unbiased"})}
        if "running_var" not in case.param:  # the start is the code's own
            read["start"] = _nearest(start_var, {0.0: "zeros", 1.0: "torch"})
        if "momentum" in case.param:
            m = case.param["momentum"]
            read["momentum"] = _nearest(weight, {1 - m: "old", m: "batch"})
        everything_given = len(reading.given) == len(CONVENTION_FIELDS)
        if max(residual, residual_var) > 1e-3 or abs(start_mean) > 1e-3 or None in read.values():
            if not everything_given:
                reading.how = ("not read: the running values after the first call are not a running average of "
                               "the batch's mean and variance from a start of 0 or 1; compared under cs231n's")
            return
        reading.seen = {name: value for name, value in read.items()
                        if name in reading.given and getattr(reading, name) != value}
        if not everything_given:
            for name, value in read.items():
                if name not in reading.given:
                    setattr(reading, name, value)
            reading.how = f"read from bn_param after the first training call, which weighs the batch by {weight:.3g}"

    def conventions(self, reading: Running) -> list[str]:
        start = ("from those bn_param came with" if reading.start_given else
                 "from 0 (mean and variance)" if reading.start == "zeros" else "from 0 (mean) and 1 (variance)")
        var = "the biased σ²" if reading.running_var == "biased" else "the unbiased σ² · M / (M − 1)"
        how = reading.how or "given"
        if reading.given:
            how = f"{', '.join(reading.given)} given by the convention keyword; {how}"
        m = reading.momentum_given
        weight = ("the batch weighed by 0.1, both codebases' default (cs231n's momentum 0.9 on the old value, "
                  "torch's 0.1 on the batch)" if m is None else
                  f"the batch weighed by {1 - m if reading.momentum == 'old' else m:g} (bn_param's momentum {m:g} on "
                  f"the {'old value' if reading.momentum == 'old' else 'batch'})")
        found = [f"running statistics {start}, moved towards the batch's mean and {var} ({how}); compared with {weight}"]
        if reading.seen:
            words = {"zeros": "from 0 (mean and variance)", "torch": "the variance from 1", "biased": "the biased σ²",
                     "unbiased": "the unbiased σ² · M / (M − 1)", "old": "momentum on the old value",
                     "batch": "momentum on the batch"}
            found.append("the code's own, read from bn_param after the first training call: "
                         + ", ".join(words[value] for value in reading.seen.values()))
        return found

    def weight(self, case: Case, reading: Running) -> float:
        """The weight on the batch the running statistics should take."""
        m = case.param.get("momentum")
        return 0.1 if m is None else (1 - m if reading.momentum == "old" else m)

    def numbers(self, flags: dict[str, Any], case: Case, reading: Running) -> dict[str, Any]:
        """torch's numbers for ``case`` under ``reading``, with the mistake of ``flags`` planted (none: {})."""
        flags = dict(flags)
        features, batches = case.values["gamma"].shape[0], case.values["batches"]
        bn = (nn.BatchNorm2d if self.spatial else nn.BatchNorm1d)(features, eps=case.param.get("eps", 1e-5)).double()
        bn.weight, bn.bias = parameter(case.values["gamma"]), parameter(case.values["beta"])
        with torch.no_grad():
            bn.running_mean.copy_(torch.as_tensor(np.asarray(case.param.get("running_mean", 0.0), np.float64)))
            bn.running_var.copy_(torch.as_tensor(np.asarray(
                case.param.get("running_var", 0.0 if reading.start == "zeros" else 1.0), np.float64)))
        flags.setdefault("momentum", self.weight(case, reading))
        flags.setdefault("biased_running", reading.running_var == "biased")
        module = ReshapedBatchNorm(bn, **flags) if flags.pop("reshape", False) else PlantedBatchNorm(bn, **flags)
        module.train()
        found = autograd(module, batches[0], case.values["dout"], {"gamma": bn.weight, "beta": bn.bias}, self.keys[:4])
        running = [(bn.running_mean.clone(), bn.running_var.clone())]
        with torch.no_grad():
            for x in batches[1:-1]:
                module(torch.as_tensor(np.asarray(x, np.float64)))
                running.append((bn.running_mean.clone(), bn.running_var.clone()))
            module.eval()
            test = module(torch.as_tensor(np.asarray(batches[-1], np.float64)))
        return {**found, "running_mean": torch.stack([m for m, _ in running]).numpy(),
                "running_var": torch.stack([v for _, v in running]).numpy(), "test-mode out": test.numpy()}

    def reference(self, case: Case, reading: Running) -> dict[str, Any]:
        return self.numbers({}, case, reading)

    def mistakes(self) -> list[Mistake]:
        def planted(**flags: Any) -> Any:
            return lambda case, reading: self.numbers(flags, case, reading)

        def momentum_form(case: Case, reading: Running) -> dict[str, Any]:
            return self.numbers({"momentum": 1 - self.weight(case, reading)}, case, reading)

        def biased(case: Case, reading: Running) -> dict[str, Any] | None:
            return self.numbers({"biased_running": True}, case, reading) if reading.running_var == "unbiased" else None

        def other_convention(case: Case, reading: Running) -> dict[str, Any] | None:
            return self.numbers({}, case, replace(reading, **reading.seen)) if reading.seen else None

        def zero_start(case: Case, reading: Running) -> dict[str, Any] | None:
            if reading.start != "torch" or "running_var" in case.param:
                return None  # a start of 0 is cs231n's convention, or the start was bn_param's
            return self.numbers({}, case, replace(reading, start="zeros"))

        why = ("torch's (and cs231n's) batch normalization normalizes each feature with the batch's mean and biased "
               "variance in training, and with the running statistics in test mode")
        found = [
            Mistake("bn_no_mean_term", (
                "The backward pass leaves out the terms through the batch's mean: the outputs agree and dx equals "
                "(dx̂ − x̂ · mean(dx̂ · x̂)) / std, where {where} must also subtract mean(dx̂): each x moves the mean "
                "every x̂ subtracts. dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) / std, dx̂ = γ dout, the means over "
                "the batch."), planted(backward="mean")),
            Mistake("bn_no_variance_term", (
                "The backward pass leaves out the terms through the batch's variance: the outputs agree and dx "
                "equals (dx̂ − mean(dx̂)) / std, where {where} treats std as a constant. Each x moves the variance "
                "every x̂ divides by: dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) / std."),
                planted(backward="variance")),
            Mistake("bn_eps_outside_sqrt", (
                "ε is added outside the square root: the outputs equal torch's where {where} divides by √σ² + ε. "
                "torch's (and cs231n's) is √(σ² + ε): they part where σ² is of the order of ε, as it is for small "
                "inputs."), planted(eps_outside=True), forward_only=True),
            Mistake("bn_batch_stats_in_eval", (
                f"Test mode normalizes with the batch's statistics: the test-mode outputs equal torch's where "
                f"{{where}} uses the mean and variance of the batch it is given, not the running ones. {why}: a "
                "prediction must not depend on the other samples of its batch."), planted(batch_in_eval=True),
                forward_only=True),
            *(Mistake("bn_running_stats_in_train", (
                f"Training normalizes with the running statistics: the outputs equal torch's where {{where}} "
                f"normalizes with the running mean and variance it has just moved, not the batch's. {why}."),
                planted(running_in_train=form)) for form in ("node", "closed")),
            Mistake("bn_momentum_form", (
                "The running statistics take the new batch's at weight 1 − momentum with torch's momentum: they equal "
                "torch's where {where} computes running = momentum · running + (1 − momentum) · batch, cs231n's "
                "form, with torch's momentum 0.1, so the batch weighs 0.9. cs231n's form wants momentum 0.9; "
                "torch's form, (1 − momentum) · running + momentum · batch, wants 0.1: the same update."),
                momentum_form, forward_only=True),
            Mistake("bn_biased_running_var", (
                "The running variance follows the biased variance: the running statistics equal torch's where "
                "{where} moves running_var towards σ² itself, where torch's (the convention compared) takes the "
                "unbiased σ² · M / (M − 1), M the numbers each feature is averaged over."), biased, forward_only=True),
            Mistake("bn_running_var_from_zero", (
                "The running variance starts at 0: the running statistics equal torch's where {where} starts "
                "running_var at zeros, cs231n's start, where torch's (the convention compared) starts it at 1 "
                "(nn.BatchNorm1d's reset_running_stats), so that test mode early in training divides by about "
                "√1 rather than √ε."), zero_start, forward_only=True),
            Mistake("bn_unbiased_var_in_forward", (
                "Training normalizes with the unbiased variance: the outputs equal torch's where {where} divides by "
                "√(σ² · M / (M − 1) + ε), as x.var(ddof=1) (or torch.var's default) gives. torch normalizes with "
                "the biased σ², x.var(axis=0), and keeps the unbiased one for the running variance only."),
                planted(unbiased_forward=True), forward_only=True),
            Mistake("bn_other_convention", (
                "The running statistics follow other conventions than those the 'convention' keyword names: they "
                "equal torch's under the conventions {where} shows (the code's own, in the 'Read' line), not under "
                "the ones given. Leave the keyword out to compare under what the code does, or change the code "
                "where it departs from the convention it means to keep."), other_convention, forward_only=True),
        ]
        if self.spatial:
            found.append(Mistake("spatial_reshape", (
                "The spatial batch normalization reshapes the maps without moving the channels last: the numbers "
                "equal torch's where {where} normalizes x.reshape(-1, C) of an (N, C, H, W) map, whose columns mix "
                "channels and positions. Move the channels last first: x.transpose(0, 2, 3, 1).reshape(-1, C), "
                "normalize each column, and undo both."), planted(reshape=True), forward_only=True))
        return found


def _solve(statistic: np.ndarray, running: np.ndarray, given: np.ndarray) -> tuple[float, float, float]:
    """``running = slope · statistic + kept`` fitted across the features, where nothing was ``given`` (the
    start is the code's own, ``kept`` what remains of it); else ``running = given + slope · (statistic −
    given)``, the start known (``kept`` 0). (slope, kept, the fit's residual relative to the running values)."""
    if np.any(given):
        design = np.stack([statistic - given], axis=1)
        (slope,), *_ = np.linalg.lstsq(design, running - given, rcond=None)
        fitted, kept = given + slope * (statistic - given), 0.0
    else:
        design = np.stack([statistic, np.ones_like(statistic)], axis=1)
        (slope, kept), *_ = np.linalg.lstsq(design, running, rcond=None)
        fitted = design @ [slope, kept]
    residual = float(np.max(np.abs(fitted - running)) / max(np.max(np.abs(running)), 1e-300))
    return float(slope), float(kept), residual


def _nearest(value: float, known: dict[float, str]) -> str | None:
    """The name of the known value ``value`` is within 0.01 of, else None."""
    return next((name for target, name in known.items() if abs(value - target) <= 0.01), None)


CHECKS = {"batchnorm": BatchNormCheck(spatial=False), "spatial_batchnorm": BatchNormCheck(spatial=True)}
