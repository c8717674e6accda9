"""The learners' update rules are what they claim: cs231n's optim.py rules and nnfs's optimizer objects
step as torch.optim does over five steps (float64), and each planted one departs within five steps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.test_users_code import assert_close, close
from tests.users import cs231n_optim as optim
from tests.users import nnfs_layers as nnfs
from tests.users.cs231n_optim_planted import EXPOSED_BY
from tests.users.cs231n_optim_planted import PLANTED as OPTIM_PLANTED
from tests.users.nnfs_planted import PLANTED_OPTIMIZERS

STEPS = 5
W0, B0 = np.random.default_rng(5).standard_normal((3, 4)), np.random.default_rng(6).standard_normal((1, 4))


def gradients(scale=1.0, seed=6):
    """STEPS gradients for (W0, B0), standard normal times ``scale``."""
    generator = np.random.default_rng(seed)
    return [(scale * generator.standard_normal(W0.shape), scale * generator.standard_normal(B0.shape))
            for _ in range(STEPS)]


def torch_steps(optimizer, grads, learning_rates=None, **hyper):
    """(W, b) after each of torch.optim's steps from (W0, B0), fed ``grads``; ``learning_rates`` one a step."""
    params = [torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)]
    opt, found = optimizer(params, **hyper), []
    for k, step_grads in enumerate(grads):
        if learning_rates:
            opt.param_groups[0]["lr"] = learning_rates[k]
        for p, g in zip(params, step_grads):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
        found.append([p.detach().numpy().copy() for p in params])
    return found


def rule_steps(rule, grads, learning_rates=None):
    """(W, b) after each of a cs231n rule's steps, one config per parameter as the Solver keeps them."""
    params, configs, found = [W0.copy(), B0.copy()], [None, None], []
    for k, step_grads in enumerate(grads):
        for n, g in enumerate(step_grads):
            if learning_rates:
                configs[n] = {**(configs[n] or {}), "learning_rate": learning_rates[k]}
            params[n], configs[n] = rule(params[n], g, configs[n])
        found.append([p.copy() for p in params])
    return found


def assert_steps_agree(mine, theirs):
    for step, (found, expected) in enumerate(zip(mine, theirs), start=1):
        for name, a, b in zip(("W", "b"), found, expected):
            assert_close(f"{name} after step {step}", a, b)


def departs(mine, theirs):
    return not all(close(a, b) for found, expected in zip(mine, theirs) for a, b in zip(found, expected))


# -- cs231n's rules -----------------------------------------------------------------------------------

TORCH_OF = {  # each rule's optimizer, at the rule's defaults
    "sgd": (torch.optim.SGD, {"lr": 1e-2}),
    "sgd_momentum": (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9}),
    "sgd_momentum_torch": (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9}),
    "sgd_nesterov": (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8}),
    "adam": (torch.optim.Adam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8}),
}


@pytest.mark.parametrize("scale", [1.0, 1e-4])
@pytest.mark.parametrize("name", list(TORCH_OF))
def test_cs231n_rule_matches_torch_optim_over_five_steps(name, scale):
    optimizer, hyper = TORCH_OF[name]
    assert_steps_agree(rule_steps(getattr(optim, name), gradients(scale)),
                       torch_steps(optimizer, gradients(scale), **hyper))


def test_cs231n_torch_buffer_momentum_matches_torch_under_a_changing_learning_rate():
    rates = EXPOSED_BY["lr_inside_velocity"]["learning_rates"]
    assert_steps_agree(rule_steps(optim.sgd_momentum_torch, gradients(), rates),
                       torch_steps(torch.optim.SGD, gradients(), rates, lr=1e-2, momentum=0.9))


def test_cs231n_momentum_velocity_is_minus_lr_times_torch_momentum_buffer():
    p = torch.tensor(W0, requires_grad=True)
    opt, w, config = torch.optim.SGD([p], lr=1e-2, momentum=0.9), W0.copy(), None
    for g, _ in gradients():
        p.grad = torch.from_numpy(g.copy())
        opt.step()
        w, config = optim.sgd_momentum(w, g, config)
    assert_close("velocity", config["velocity"], -1e-2 * opt.state[p]["momentum_buffer"].numpy())


RULES = [(name, cause, rule) for name, causes in OPTIM_PLANTED.items() for cause, rule in causes.items()]


@pytest.mark.parametrize("name, cause, rule", RULES, ids=[f"{name}-{cause}" for name, cause, _ in RULES])
def test_cs231n_planted_rule_departs_from_torch_within_five_steps(name, cause, rule):
    exposed = EXPOSED_BY.get(cause, {})
    grads, rates = gradients(exposed.get("grad_scale", 1.0)), exposed.get("learning_rates")
    optimizer, hyper = TORCH_OF[name]
    assert departs(rule_steps(rule, grads, rates), torch_steps(optimizer, grads, rates, **hyper)), \
        f"{name}:{cause} steps as torch does"


# -- nnfs's optimizers --------------------------------------------------------------------------------

class Params:
    """What ``update_params`` reads and writes of a layer: weights, biases and their gradients."""

    def __init__(self):
        self.weights, self.biases = W0.copy(), B0.copy()


def nnfs_steps(optimizer, grads):
    """(W, b) after each pre_update_params / update_params / post_update_params round."""
    layer, found = Params(), []
    for dweights, dbiases in grads:
        layer.dweights, layer.dbiases = dweights, dbiases
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
        found.append([layer.weights.copy(), layer.biases.copy()])
    return found


def decayed(learning_rate, decay):
    """nnfs's rate at each step, lr / (1 + decay · iterations): torch's LambdaLR of that factor."""
    return [learning_rate / (1 + decay * k) for k in range(STEPS)]


def torch_of_nnfs(name, hyper):
    """The torch optimizer, its keywords and its rate per step for an nnfs optimizer built with ``hyper``."""
    lr, decay = hyper.get("learning_rate", 1.0 if name in ("sgd", "adagrad") else 1e-3), hyper.get("decay", 0.0)
    rates = decayed(lr, decay) if decay and name != "adagrad" else None
    if name == "sgd":
        return torch.optim.SGD, {"lr": lr, "momentum": hyper.get("momentum", 0.0)}, rates
    if name == "adagrad":
        return torch.optim.Adagrad, {"lr": lr, "lr_decay": decay, "eps": 1e-7}, None
    if name == "rmsprop":
        return torch.optim.RMSprop, {"lr": lr, "alpha": hyper.get("rho", 0.9), "eps": 1e-7}, rates
    return torch.optim.Adam, {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-7}, rates


NNFS_OPTIMIZERS = [
    ("sgd", nnfs.Optimizer_SGD, {"learning_rate": 0.1}),
    ("sgd", nnfs.Optimizer_SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    ("adagrad", nnfs.Optimizer_Adagrad, {"learning_rate": 0.1, "decay": 0.1}),
    ("rmsprop", nnfs.Optimizer_RMSprop, {}),
    ("rmsprop", nnfs.Optimizer_RMSprop, {"decay": 0.1}),
    ("adam", nnfs.Optimizer_Adam, {}),
    ("adam", nnfs.Optimizer_Adam, {"learning_rate": 0.01, "decay": 0.1}),
]


@pytest.mark.parametrize("name, cls, hyper", NNFS_OPTIMIZERS, ids=[f"{n}-{h}" for n, _, h in NNFS_OPTIMIZERS])
def test_nnfs_optimizer_matches_torch_optim_over_five_steps(name, cls, hyper):
    optimizer, keywords, rates = torch_of_nnfs(name, hyper)
    assert_steps_agree(nnfs_steps(cls(**hyper), gradients()), torch_steps(optimizer, gradients(), rates, **keywords))


NNFS_PLANTED = [(name, cause, entry) for name, causes in PLANTED_OPTIMIZERS.items() for cause, entry in causes.items()]


@pytest.mark.parametrize("name, cause, entry", NNFS_PLANTED, ids=[f"{n}-{c}" for n, c, _ in NNFS_PLANTED])
def test_nnfs_planted_optimizer_departs_from_torch_within_five_steps(name, cause, entry):
    optimizer, keywords, rates = torch_of_nnfs(name, entry["hyper"])
    grads = gradients(entry.get("grad_scale", 1.0))
    assert departs(nnfs_steps(entry["optimizer"](**entry["hyper"]), grads),
                   torch_steps(optimizer, grads, rates, **keywords)), f"{name}:{cause} steps as torch does"
