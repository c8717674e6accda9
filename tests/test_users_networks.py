"""The networks of tests/users against plain torch: the correct ones agree, each planted mistake departs.

The reference is built here, independently of torch_impl, as a torch user writes it: an
``nn.Sequential`` of ``nn.Linear`` and activations, the loss by its definition, torch.optim with
two parameter groups (weight decay on the weights only unless ``decay_biases``), L2 added to the
loss as ½ · l2 · Σ‖W‖², and torch.optim.lr_scheduler stepped after each ``optimizer.step()``.
Each network states its recipe by attributes; one it lacks means the default.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.data import load_embedded, one_hot_targets, scale_inputs
from common.tolerances import relative_difference, tolerance
from compare.check.mistakes import recipe as mistakes
from tests.users import CORRECT, MISTAKES, REGISTRY
from tests.users.cs231n import TwoLayerNet, TwoLayerNetAdam
from tests.users.cs231n_optim_planted import PLANTED as OPTIM_PLANTED
from tests.users.nielsen import Network2
from tests.users.nnfs import NnfsAdamW, NnfsBinaryNetwork, NnfsNetwork
from tests.users.nnfs_planted import PLANTED_OPTIMIZERS as NNFS_PLANTED

STEPS, HIDDEN, BATCH = 6, 16, 8
TOLERANCE = tolerance("float64").single
DEPARTS = 1e4 * TOLERANCE  # how far a planted mistake must depart, at the least, within STEPS steps
DEFAULTS = {"activation": "sigmoid", "loss": "half_sse", "bias": False, "optimizer": "sgd", "momentum": 0.0,
            "dampening": 0.0, "nesterov": False, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": None,
            "l2": 0.0, "decay_biases": False, "schedule": "constant", "milestones": (), "gamma": 0.1,
            "lr_decay": 0.0}
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}

# Correct networks with recipes beyond their defaults: each keyword the library would pass.
VARIANTS = [
    (Network2, {"loss": "half_sse"}),
    (Network2, {"hidden_nodes": [16, 12]}),
    (Network2, {"weight_decay": 1e-3}),
    (TwoLayerNet, {"momentum": 0.0}),
    (TwoLayerNet, {"schedule": "inverse_time", "lr_decay": 0.5}),
    (TwoLayerNet, {"dampening": 0.5, "schedule": "step", "milestones": (2, 4), "gamma": 0.5}),
    (TwoLayerNetAdam, {"l2": 0.0, "eps": 1e-6, "betas": (0.8, 0.99), "schedule": "step", "milestones": (3,)}),
    (NnfsNetwork, {"schedule": "inverse_time", "lr_decay": 0.1}),
    (NnfsNetwork, {"l2": 1e-3, "decay_biases": True}),
    (NnfsNetwork, {"hidden_nodes": [16, 12], "l2": 1e-3}),
    (NnfsBinaryNetwork, {"l2": 1e-2}),
    (NnfsAdamW, {"weight_decay": 0.1, "decay_biases": True, "schedule": "inverse_time", "lr_decay": 0.2}),
]
CASES = [(cls, {}) for cls in CORRECT] + VARIANTS
IDS = [cls.__name__ + "".join(f"-{k}={v}" for k, v in kw.items()) for cls, kw in CASES]


def stated(network, name):
    if name == "weight_decay" and getattr(network, name, None) is None:
        return 0.01 if stated(network, "optimizer") == "adamw" else 0.0
    return getattr(network, name, DEFAULTS[name])


class TorchTwin:
    """The network's architecture and recipe in torch, from the given weights and a fresh optimizer."""

    def __init__(self, network, weights):
        hidden = [network.hidden_nodes] if np.ndim(network.hidden_nodes) == 0 else list(network.hidden_nodes)
        sizes = [network.input_nodes, *hidden, network.output_nodes]
        self.loss_name, bias = stated(network, "loss"), stated(network, "bias")
        layers, activation = [], ACTIVATIONS[stated(network, "activation")]
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(n_in, n_out, bias=bias, dtype=torch.float64), activation()]
        self.model = nn.Sequential(*layers[:-1])
        self.params = list(self.model.parameters())
        with torch.no_grad():
            for p, w in zip(self.params, weights):
                p.copy_(torch.from_numpy(w))
        self.decayed = [p for p in self.params if p.ndim > 1 or stated(network, "decay_biases")]
        kept = [p for p in self.params if all(p is not q for q in self.decayed)]
        self.l2, name = stated(network, "l2"), stated(network, "optimizer")
        groups = [{"params": self.decayed, "weight_decay": stated(network, "weight_decay")}]
        groups += [{"params": kept, "weight_decay": 0.0}] if kept else []
        if name == "sgd":
            self.buffers = ("momentum_buffer",) if stated(network, "momentum") else ()
            self.optimizer = torch.optim.SGD(groups, lr=network.lr, momentum=stated(network, "momentum"),
                                             dampening=stated(network, "dampening"),
                                             nesterov=stated(network, "nesterov"))
        else:
            self.buffers = ("exp_avg", "exp_avg_sq")
            optimizer = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
            self.optimizer = optimizer(groups, lr=network.lr, betas=stated(network, "betas"),
                                       eps=stated(network, "eps"))
        schedule = stated(network, "schedule")
        if schedule == "step":
            self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(stated(network, "milestones")),
                                                                  gamma=stated(network, "gamma"))
        elif schedule == "inverse_time":
            decay = stated(network, "lr_decay")
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda t: 1.0 / (1.0 + decay * t))
        else:
            self.scheduler = None
        self.steps = 0

    def loss(self, x, t):
        x, t = torch.from_numpy(np.atleast_2d(x)), torch.from_numpy(np.atleast_2d(t))
        z = self.model(x)
        if self.loss_name == "cross_entropy":
            loss = -(t * F.log_softmax(z, dim=1)).sum(dim=1).mean()
        elif self.loss_name == "binary_cross_entropy":
            loss = F.binary_cross_entropy_with_logits(z, t, reduction="sum") / len(z)
        elif self.loss_name == "binary_cross_entropy_mean":
            loss = nn.BCELoss()(torch.sigmoid(z), t)
        else:
            loss = 0.5 * ((torch.sigmoid(z) - t) ** 2).sum() / len(z)
        if self.l2:
            loss = loss + 0.5 * self.l2 * sum((p * p).sum() for p in self.decayed)
        return loss

    def gradients(self, x, t):
        return [g.numpy() for g in torch.autograd.grad(self.loss(x, t), self.params)]

    def train(self, x, t):
        self.optimizer.zero_grad()
        loss = self.loss(x, t)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.steps += 1
        return loss.item()

    def weights(self):
        return [p.detach().numpy().copy() for p in self.params]

    def state(self):
        state = {"step": self.steps}
        for name in self.buffers:
            state[name] = [self.optimizer.state[p][name].numpy().copy() if self.steps else
                           np.zeros(tuple(p.shape)) for p in self.params]
        return state


@pytest.fixture(scope="module")
def mnist():
    data = load_embedded()
    n = STEPS * BATCH
    return scale_inputs(data.train_images[:n]), one_hot_targets(data.train_labels[:n], values=(0.0, 1.0))


def initial_weights(network):
    """Weights N(0, 1/n_in) and biases N(0, 0.1²), the same for every network of the same shapes."""
    rng = np.random.default_rng(0)
    return [rng.normal(0, w.shape[1] ** -0.5, w.shape) if w.ndim == 2 else rng.normal(0, 0.1, w.shape)
            for w in network.get_weights()]


def batches(mnist, size):
    inputs, targets = mnist
    if size == 1:
        return [(inputs[k], targets[k]) for k in range(STEPS)]
    return [(inputs[k:k + size], targets[k:k + size]) for k in range(0, STEPS * size, size)]


def construct(cls, keywords, **extra):
    """``cls`` with the library's signature, at its codebase's learning rate; keywords may set hidden_nodes."""
    keywords = dict(keywords)
    return cls(784, keywords.pop("hidden_nodes", HIDDEN), 10, cls.LEARNING_RATE, **keywords, **extra)


def build(cls, keywords):
    network = construct(cls, keywords)
    weights = initial_weights(network)
    network.set_weights(weights)
    return network, TorchTwin(network, weights)


def departures(network, twin, steps):
    """Per step: the largest relative difference of the weights after it, and of the loss before it."""
    found = []
    for x, t in steps:
        mine, theirs = network.train(x, t), twin.train(x, t)
        weights = max(relative_difference(m, w) for m, w in zip(network.get_weights(), twin.weights()))
        found.append((weights, relative_difference(mine, theirs)))
    return found


def state_difference(mine, theirs):
    assert set(mine) == set(theirs), f"state keys: Mine {sorted(mine)}, Theirs {sorted(theirs)}"
    assert mine["step"] == theirs["step"]
    return max([relative_difference(m, t) for name in theirs if name != "step"
                for m, t in zip(mine[name], theirs[name])], default=0.0)


@pytest.mark.parametrize("cls, keywords", CASES, ids=IDS)
def test_gradients_match_autograd(mnist, cls, keywords):
    network, twin = build(cls, keywords)
    for x, t in batches(mnist, 1)[:1] + batches(mnist, BATCH)[:1]:
        for mine, theirs in zip(network.gradients(x, t), twin.gradients(x, t)):
            assert mine.shape == theirs.shape
            assert relative_difference(mine, theirs) <= TOLERANCE
    assert network.get_optimizer_state()["step"] == 0, "gradients() must not step"


@pytest.mark.parametrize("size", [1, BATCH])
@pytest.mark.parametrize("cls, keywords", CASES, ids=IDS)
def test_steps_and_state_match_torch(mnist, cls, keywords, size):
    network, twin = build(cls, keywords)
    assert state_difference(network.get_optimizer_state(), twin.state()) == 0.0
    for step, (weights, loss) in enumerate(departures(network, twin, batches(mnist, size)), 1):
        assert weights <= TOLERANCE and loss <= TOLERANCE, f"step {step}: weights {weights:.3g}, loss {loss:.3g}"
    assert state_difference(network.get_optimizer_state(), twin.state()) <= TOLERANCE


@pytest.mark.parametrize("cls, keywords", CASES, ids=IDS)
def test_loaded_state_continues_as_torch(mnist, cls, keywords):
    network, twin = build(cls, keywords)
    steps = batches(mnist, BATCH)
    for x, t in steps[:STEPS // 2]:
        twin.train(x, t)
    loaded = construct(cls, keywords)
    loaded.set_weights(twin.weights())
    loaded.set_optimizer_state(twin.state())
    assert state_difference(loaded.get_optimizer_state(), twin.state()) <= TOLERANCE
    for step, (weights, loss) in enumerate(departures(loaded, twin, steps[STEPS // 2:]), STEPS // 2 + 1):
        assert weights <= TOLERANCE and loss <= TOLERANCE, f"step {step}: weights {weights:.3g}, loss {loss:.3g}"


@pytest.mark.parametrize("size", [1, BATCH])
@pytest.mark.parametrize("cls", MISTAKES, ids=[cls.__name__ for cls in MISTAKES])
def test_planted_mistake_departs_from_torch(mnist, cls, size):
    network, twin = build(cls, {})
    found = departures(network, twin, batches(mnist, size))
    assert max(max(pair) for pair in found) > DEPARTS, found


@pytest.mark.parametrize("cls", CORRECT + MISTAKES, ids=[cls.__name__ for cls in CORRECT + MISTAKES])
def test_float32_stays_float32(mnist, cls):
    network = construct(cls, {}, dtype="float32")
    x, t = (a[:3].astype(np.float32) for a in mnist)
    network.train(x, t)
    network.train(x[0], t[0])
    assert network.query(x).dtype == np.float32 and network.query(x[0]).shape == (10,)
    assert all(g.dtype == np.float32 for g in network.gradients(x, t))
    assert all(w.dtype == np.float32 for w in network.get_weights())
    state = network.get_optimizer_state()
    assert state["step"] == 2 and all(a.dtype == np.float32 for name in state if name != "step" for a in state[name])


def test_registry_names_every_network_and_cause():
    assert len(REGISTRY) == len(CORRECT) + len(MISTAKES)
    assert all(not hasattr(cls, "CAUSE") for cls in CORRECT)
    # one planted network or update rule, at least, for every mistake compare.check.mistakes.recipe can name
    rules = {cause for causes in [*OPTIM_PLANTED.values(), *NNFS_PLANTED.values()] for cause in causes}
    assert {cls.CAUSE for cls in MISTAKES} | rules == set(mistakes.NAMES)
