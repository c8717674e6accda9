"""The recipe as a torch user writes it: a torch.optim optimizer with parameter groups, a
torch.optim.lr_scheduler, and the L2 penalty added to the loss.

Nothing here computes an update by hand: the steps are torch.optim's. The state moves in and
out in :mod:`common.recipe`'s format, under torch.optim's own names.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from common.recipe import Recipe


def split_by_decay(recipe: Recipe, model: nn.Module,
                   weights: Sequence[bool]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The parameters weight decay and L2 reach (the weights, and the others with ``decay_biases``),
    and the others, each in ``model.parameters()`` order; ``weights`` says which parameter is a
    weight (``architecture.weights_decayed()``)."""
    parameters = list(model.parameters())
    decays = recipe.decays(weights)
    return [p for p, d in zip(parameters, decays) if d], [p for p, d in zip(parameters, decays) if not d]


def parameter_groups(recipe: Recipe, model: nn.Module, weights: Sequence[bool]) -> list[dict[str, Any]]:
    """Weight decay on the weights only, unless the recipe decays the biases too.

    ``torch.optim.SGD(model.parameters(), weight_decay=λ)`` decays every parameter, biases
    included; Nielsen, cs231n and d2l decay the weights only, which takes two groups.
    """
    decayed, others = split_by_decay(recipe, model, weights)
    return [{"params": decayed}] + ([{"params": others, "weight_decay": 0.0}] if others else [])


def make_optimizer(recipe: Recipe, model: nn.Module, lr: float, weights: Sequence[bool]) -> torch.optim.Optimizer:
    """The torch.optim optimizer the recipe names, with its options (``weights``: :func:`split_by_decay`'s)."""
    groups, decay = parameter_groups(recipe, model, weights), recipe.weight_decay
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, dampening=recipe.dampening,
                               nesterov=recipe.nesterov, weight_decay=decay)
    if recipe.optimizer in ("adam", "adamw"):
        kind = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
        return kind(groups, lr=lr, betas=recipe.betas, eps=recipe.eps, weight_decay=decay, amsgrad=recipe.amsgrad)
    return torch.optim.RMSprop(groups, lr=lr, alpha=recipe.alpha, eps=recipe.eps, weight_decay=decay,
                               momentum=recipe.momentum, centered=recipe.centered)


def make_scheduler(recipe: Recipe, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    """MultiStepLR for "step", LambdaLR with 1 / (1 + lr_decay · t) for "inverse_time"; stepped
    once per ``train()`` call, so that milestones count steps."""
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(recipe.milestones), gamma=recipe.gamma)
    if recipe.schedule == "inverse_time":
        decay = recipe.lr_decay
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + decay * t))
    return None


def l2_penalty(l2: float, penalised: list[torch.Tensor]) -> torch.Tensor:
    """``½ · l2 · Σ ‖W‖²`` over the parameters the penalty reaches (:func:`split_by_decay`), for the loss."""
    return 0.5 * l2 * sum((p ** 2).sum() for p in penalised)


def get_state(recipe: Recipe, optimizer: torch.optim.Optimizer, model: nn.Module, steps: int) -> dict[str, Any]:
    """``{"step": steps, buffer: [NumPy copy per parameter]}`` from ``optimizer.state``; a buffer
    torch has not made yet (before the first step) is zeros."""
    state: dict[str, Any] = {"step": steps}
    for name in recipe.state_names():
        state[name] = [_numpy(optimizer.state.get(p, {}).get(name), p) for p in model.parameters()]
    return state


def set_state(recipe: Recipe, optimizer: torch.optim.Optimizer, scheduler, model: nn.Module, lr: float,
              state: dict[str, Any]) -> None:
    """Load a checked state into ``optimizer.state`` and the scheduler, as if ``state["step"]``
    steps had been taken: torch's per-parameter ``step``, each buffer, and the learning rate."""
    optimizer.state.clear()  # at step 0 torch makes every buffer itself, at the first step
    step = state["step"]
    if step:
        for i, p in enumerate(model.parameters()):
            entry: dict[str, Any] = {name: torch.tensor(state[name][i], dtype=p.dtype, device=p.device)
                                     for name in recipe.state_names()}
            if recipe.optimizer != "sgd":  # Adam and RMSprop count their steps per parameter
                entry["step"] = torch.tensor(float(step), dtype=_scalar_dtype())
            optimizer.state[p] = entry
    if scheduler is not None:
        scheduler.last_epoch = step
        for group in optimizer.param_groups:
            group["lr"] = recipe.learning_rate(lr, step)
        scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


def _numpy(tensor: torch.Tensor | None, parameter: torch.Tensor) -> np.ndarray:
    if tensor is None:
        return np.zeros(tuple(parameter.shape), dtype=getattr(np, str(parameter.dtype).removeprefix("torch.")))
    return tensor.detach().cpu().numpy().copy()


def _scalar_dtype() -> torch.dtype:
    """The dtype torch.optim keeps its step counts in (float64 where that is the default dtype)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
