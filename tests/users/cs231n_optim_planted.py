"""cs231n's update rules with one mistake planted each, as the course's students make them.

Each rule is its correct twin in :mod:`tests.users.cs231n_optim` with the one line a learner gets
wrong, marked ``# the mistake``. The registry::

    PLANTED[optimizer][cause] = rule      # optimizer: "sgd", "sgd_momentum", "rmsprop", "adam"

Every entry departs from the correct rule (and from torch.optim) within 5 steps from zero state
with gradients of order 1, at the handout's defaults, except where ``EXPOSED_BY[cause]`` says
what it takes: ``"grad_scale"`` (gradients of that size, so that ε is not negligible beside √v)
or ``"learning_rates"`` (the rate of each step, set in ``config['learning_rate']`` before it, as
the Solver's ``lr_decay`` does).
"""
from __future__ import annotations

import numpy as np

from . import cs231n_optim as correct
from .cs231n import adam_efficient


def sgd_ascent(w, dw, config=None):
    """w += learning_rate · dw: the sign slipped, a step up the gradient (seen in first attempts at
    assignment 1's SGD loop, before the loss is watched)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w += config["learning_rate"] * dw  # the mistake
    return w, config


def sgd_momentum_velocity_not_stored(w, dw, config=None):
    """The velocity computed and never written back into config: every step is plain SGD."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    return next_w, config  # the mistake: config["velocity"] = v left out


def sgd_momentum_ema(w, dw, config=None):
    """deeplearning.ai's momentum, v = β v + (1 − β) dw and w −= lr v: torch's dampening = β, from zeros."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v + (1 - config["momentum"]) * dw  # the mistake
    next_w = w - config["learning_rate"] * v  # (and its step)
    config["velocity"] = v
    return next_w, config


def rmsprop_no_sqrt(w, dw, config=None):
    """Divides by cache + ε, the mean square, where RMSProp divides by its root."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    decay_rate = config["decay_rate"]
    config["cache"] = decay_rate * config["cache"] + (1 - decay_rate) * dw ** 2
    next_w = w - config["learning_rate"] * dw / (config["cache"] + config["epsilon"])  # the mistake
    return next_w, config


def rmsprop_eps_inside_sqrt(w, dw, config=None):
    """√(cache + ε), TensorFlow 1's tf.train.RMSPropOptimizer's placement, where torch has √cache + ε."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    decay_rate = config["decay_rate"]
    config["cache"] = decay_rate * config["cache"] + (1 - decay_rate) * dw ** 2
    next_w = w - config["learning_rate"] * dw / np.sqrt(config["cache"] + config["epsilon"])  # the mistake
    return next_w, config


def adam_uncorrected(w, dw, config=None):
    """No bias correction: m / (√v + ε) with m and v still near their zeros at first."""
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
    v = beta2 * v + (1 - beta2) * (dw ** 2)
    next_w = w - learning_rate * m / (np.sqrt(v) + eps)  # the mistake
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config


def adam_t_from_one(w, dw, config=None):
    """The 2017 template's t = 1 start, counted before use as the recent handout asks: corrections at t + 1."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 1)  # the mistake
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


def adam_t_not_stored(w, dw, config=None):
    """t counted in a local and never written back: every step corrects at t = 1."""
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
    config["m"], config["v"] = m, v  # the mistake: config["t"] = t left out
    return next_w, config


def adam_eps_inside_sqrt(w, dw, config=None):
    """√(vt + ε) where torch has √vt + ε."""
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
    next_w = w - learning_rate * mt / np.sqrt(vt + eps)  # the mistake
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config


PLANTED = {
    "sgd": {
        "sgd_ascent": sgd_ascent,
    },
    "sgd_momentum": {
        "momentum_no_velocity_store": sgd_momentum_velocity_not_stored,
        "momentum_ema_form": sgd_momentum_ema,
        # The handout's rule itself: right at a constant rate; where config['learning_rate'] changes
        # between steps, v keeps the old rates in it (correct.sgd_momentum_torch is right there).
        "lr_inside_velocity": correct.sgd_momentum,
    },
    "rmsprop": {
        "rmsprop_no_sqrt": rmsprop_no_sqrt,
        "rmsprop_eps_inside_sqrt": rmsprop_eps_inside_sqrt,
    },
    "adam": {
        "adam_bias_correction": adam_uncorrected,
        "step_count_off_by_one": adam_t_from_one,
        "adam_step_stuck": adam_t_not_stored,
        "adam_eps_inside_sqrt": adam_eps_inside_sqrt,
        # Kingma and Ba's "efficient" order, ε added to √v before the correction (tests/users/cs231n.py).
        "adam_eps_before_correction": adam_efficient,
    },
}

EXPOSED_BY = {
    "lr_inside_velocity": {"learning_rates": (1e-2, 1e-2, 1e-3, 1e-3, 1e-4)},
    "rmsprop_eps_inside_sqrt": {"grad_scale": 1e-4},
    "adam_eps_inside_sqrt": {"grad_scale": 1e-4},
    "adam_eps_before_correction": {"grad_scale": 1e-4},
}
