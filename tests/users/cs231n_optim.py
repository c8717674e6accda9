"""cs231n's ``optim.py`` (assignment 2) as the course's students write it: the correct update rules.

Each rule is ``rule(w, dw, config=None) -> (next_w, config)``: one parameter's step, its
hyperparameters and state in ``config``, the defaults set at the top with ``config.setdefault``,
as the handout has them. Against ``torch.optim`` (each torch line in the rule's docstring):

- :func:`sgd` (learning_rate 1e-2) is ``SGD(lr)``; it steps in place, as the handout's does.
- :func:`sgd_momentum` (learning_rate 1e-2, momentum 0.9) keeps a velocity ``v`` from zeros:
  ``v = μ v − lr g; w += v``. torch keeps ``b = μ b + g`` (``b = g`` at the first step) and steps
  ``w −= lr b``: the same steps at a constant rate, with ``v = −lr · b``. Where the rate changes
  between steps, v keeps the old rates in it and b does not (``lr_inside_velocity``);
  :func:`sgd_momentum_torch` keeps torch's b and is right at any rate.
- :func:`sgd_nesterov` is the lecture notes' form, ``v_prev = v; v = μ v − lr g; w += −μ v_prev +
  (1 + μ) v``, which is ``SGD(lr, momentum, nesterov=True)``'s ``w −= lr (g + μ b)``.
- :func:`rmsprop` (learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8, cache from zeros) is
  ``RMSprop(lr, alpha=decay_rate, eps=epsilon)``: ε added to √cache.
- :func:`adam` (learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, m, v from zeros, t from
  0 and counted *before* it is used, as the recent handout asks) is ``Adam(lr, betas, eps)``: both
  moments bias-corrected at t, ε added to √v̂.

Planted mistakes are in :mod:`tests.users.cs231n_optim_planted`.
"""
from __future__ import annotations

import numpy as np

from .cs231n import sgd  # the handout's, already written for TwoLayerNet: w −= learning_rate · dw


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: v = momentum · v − learning_rate · dw; next_w = w + v.

    torch.optim.SGD(lr, momentum): b = momentum · b + dw (b = dw at the first step); w −= lr · b.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def sgd_momentum_torch(w, dw, config=None):
    """SGD with momentum as torch keeps it, right under a changing learning rate too:
    b = momentum · b + dw (b = dw at the first step); next_w = w − learning_rate · b."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    b = config.get("momentum_buffer")
    b = dw.copy() if b is None else config["momentum"] * b + dw
    next_w = w - config["learning_rate"] * b
    config["momentum_buffer"] = b
    return next_w, config


def sgd_nesterov(w, dw, config=None):
    """Nesterov momentum, the lecture notes' form: v_prev = v; v = μ v − lr dw; w += −μ v_prev + (1 + μ) v.

    torch.optim.SGD(lr, momentum, nesterov=True): b = μ b + dw; w −= lr · (dw + μ b).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu = config["momentum"]
    v_prev = config.get("velocity", np.zeros_like(w))
    v = mu * v_prev - config["learning_rate"] * dw
    next_w = w - mu * v_prev + (1 + mu) * v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: cache = decay_rate · cache + (1 − decay_rate) · dw²; next_w = w − lr · dw / (√cache + ε).

    torch.optim.RMSprop(lr, alpha=decay_rate, eps=epsilon): the same, ε outside the root.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    decay_rate = config["decay_rate"]
    config["cache"] = decay_rate * config["cache"] + (1 - decay_rate) * dw ** 2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    """Adam, t counted before it is used:

        t ← t + 1
        m ← β1 m + (1 − β1) dw,  mt ← m / (1 − β1^t)
        v ← β2 v + (1 − β2) dw², vt ← v / (1 − β2^t)
        next_w ← w − lr · mt / (√vt + ε)

    torch.optim.Adam(lr, betas=(beta1, beta2), eps=epsilon): the same, ε outside the root.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    learning_rate, eps = config["learning_rate"], config["epsilon"]
    beta1, beta2 = config["beta1"], config["beta2"]
    m, v, t = config["m"], config["v"], config["t"]
    t += 1
    m = beta1 * m + (1 - beta1) * dw
    mt = m / (1 - beta1 ** t)
    v = beta2 * v + (1 - beta2) * (dw ** 2)
    vt = v / (1 - beta2 ** t)
    next_w = w - learning_rate * mt / (np.sqrt(vt) + eps)
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config
