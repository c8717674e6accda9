"""cs231n's two-layer net and its update rules (assignments 1 and 2) as the course's students write them.

``TwoLayerNet`` keeps its parameters in a dict, ``W1`` of shape (D, H), ``b1``, ``W2`` (H, C), ``b2``;
the assignment's ``loss(X, y)`` (here ``loss_and_grads``) returns the scores, or the loss and a dict
of gradients: a ReLU hidden layer, the softmax loss, and the penalty ``reg · (ΣW1² + ΣW2²)`` with
gradients ``+= 2 · reg · W``. The update rules are small functions ``rule(w, dw, config) -> (next_w,
config)`` as in ``optim.py``, one config per parameter, and ``train()`` is the Solver's ``_step``.

In the library's recipe: ``activation="relu"``, ``loss="cross_entropy"``, ``bias=True``, SGD with
``momentum=0.9`` and ``l2 = 2 · reg`` (½ · l2 · ΣW² = reg · ΣW²); or ``optimizer="adam"``. A
velocity v is torch's buffer b scaled: ``v = −lr · b``, so where the learning rate changes (the
Solver's ``lr_decay``; the recipe's ``schedule``) the velocity is rescaled to the new rate.

:class:`TwoLayerNet` and its recipe variants are correct; each other class has one mistake
planted in one small function or method.
"""
from __future__ import annotations

import math

import numpy as np


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w −= learning_rate · dw."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum, in velocity form.

    config: learning_rate; momentum μ (0.9); dampening τ (0, torch's); velocity v, like w.
    torch.optim.SGD keeps b with b ← g at the first step, then b ← μ b + (1 − τ) g, and
    steps w ← w − lr b. With v = −lr b:

        v ← −lr g at the first step, then v ← μ v − (1 − τ) lr g
        w ← w + v
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    config.setdefault("dampening", 0.0)
    if "velocity" not in config:
        v = -config["learning_rate"] * dw
    else:
        v = config["momentum"] * config["velocity"] - (1 - config["dampening"]) * config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def adam_moments(dw, config):
    """Adam's first half: count the step, then update m and v (the config's defaults set here)."""
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(dw))
    config.setdefault("v", np.zeros_like(dw))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * (dw * dw)
    return config


def adam(w, dw, config=None):
    """Adam, in torch.optim.Adam's order:

        t ← t + 1
        m ← β1 m + (1 − β1) g,  v ← β2 v + (1 − β2) g²
        m̂ ← m / (1 − β1^t),     v̂ ← v / (1 − β2^t)
        w ← w − lr m̂ / (√v̂ + ε)
    """
    config = adam_moments(dw, {} if config is None else config)
    t = config["t"]
    mt = config["m"] / (1 - config["beta1"] ** t)
    vt = config["v"] / (1 - config["beta2"] ** t)
    return w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"]), config


class TwoLayerNet(object):
    """A two-layer fully-connected network: affine - ReLU - affine - softmax, trained by the Solver.

    Built with the library's signature. Recipe keywords map to the Solver's: ``optimizer`` "sgd"
    (``update_rule`` "sgd_momentum", or "sgd" at momentum 0) or "adam"; ``momentum``,
    ``dampening``, ``betas``, ``eps`` into ``optim_config``; ``l2`` to ``reg = l2 / 2``; and the
    schedule, "step" (``milestones``, ``gamma``) or "inverse_time" (``lr_decay``), sets each
    config's learning rate before each step.
    """

    LEARNING_RATE = 5e-2
    L2_PER_REG = 2.0  # the loss adds reg · ΣW², which is ½ · l2 · ΣW² at l2 = 2 · reg
    REGULARIZED = ("W1", "W2")
    UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "adam": adam}

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64",
                 activation="relu", loss="cross_entropy", bias=True, optimizer="sgd", momentum=None,
                 dampening=0.0, betas=(0.9, 0.999), eps=1e-8, l2=1e-3, schedule="constant", milestones=(),
                 gamma=0.1, lr_decay=0.0, std=1e-4):
        if np.ndim(hidden_nodes) != 0:
            raise ValueError(f"TwoLayerNet has one hidden layer: hidden_nodes must be an int. Got {hidden_nodes!r}.")
        for name, value, wanted in (("activation", activation, "relu"), ("loss", loss, "cross_entropy"),
                                    ("bias", bias, True)):
            if value != wanted:
                raise ValueError(f"TwoLayerNet's {name} is {wanted!r}. Got {value!r} instead.")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"TwoLayerNet trains with 'sgd' or 'adam'. Got optimizer {optimizer!r} instead.")
        if optimizer == "adam" and (momentum or dampening):
            raise ValueError("TwoLayerNet's adam has no momentum or dampening; its betas play that part.")
        if optimizer == "sgd" and (tuple(betas) != (0.9, 0.999) or eps != 1e-8):
            raise ValueError("TwoLayerNet's sgd has no betas or eps; they are adam's.")
        if schedule not in ("constant", "step", "inverse_time"):
            raise ValueError(f"The schedule must be 'constant', 'step' or 'inverse_time'. Got {schedule!r} instead.")
        self.input_nodes, self.hidden_nodes, self.output_nodes = input_nodes, hidden_nodes, output_nodes
        self.lr, self.dtype = float(learning_rate), np.dtype(dtype)
        self.activation, self.loss, self.bias = activation, loss, bias
        self.optimizer = optimizer
        self.momentum = (0.9 if momentum is None else float(momentum)) if optimizer == "sgd" else 0.0
        self.dampening, self.betas, self.eps = float(dampening), tuple(betas), float(eps)
        self.l2, self.reg = float(l2), float(l2) / self.L2_PER_REG
        self.schedule, self.milestones, self.gamma = schedule, tuple(milestones), float(gamma)
        self.lr_decay = float(lr_decay)
        self.params = {
            "W1": (std * np.random.randn(input_nodes, hidden_nodes)).astype(self.dtype),
            "b1": np.zeros(hidden_nodes, dtype=self.dtype),
            "W2": (std * np.random.randn(hidden_nodes, output_nodes)).astype(self.dtype),
            "b2": np.zeros(output_nodes, dtype=self.dtype),
        }
        self.update_rule = "adam" if optimizer == "adam" else "sgd_momentum" if self.momentum else "sgd"
        if optimizer == "adam":
            self.optim_config = {"learning_rate": self.lr, "beta1": self.betas[0], "beta2": self.betas[1],
                                 "epsilon": self.eps}
        else:
            self.optim_config = {"learning_rate": self.lr, "momentum": self.momentum, "dampening": self.dampening}
        self._reset()

    def _reset(self):
        """The Solver's _reset: a fresh config per parameter, no step taken."""
        self.t = 0
        self.optim_configs = {p: dict(self.optim_config) for p in self.params}

    def regularization(self, W):
        """reg · ΣW² for the loss, and its gradient 2 · reg · W."""
        return self.reg * np.sum(W * W), 2 * self.reg * W

    def loss_and_grads(self, X, y=None):
        """The class scores (N, C) if ``y`` is None; else the loss and a dict of gradients like ``params``.

        This is the assignment's ``loss(X, y)``, renamed: the library's protocol reads ``loss`` as the
        name of the loss function.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N = X.shape[0]
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        if y is None:
            return scores
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= np.sum(probs, axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads = {"W2": hidden.T.dot(dscores), "b2": np.sum(dscores, axis=0)}
        dhidden = dscores.dot(W2.T)
        dhidden[hidden <= 0] = 0
        grads["W1"], grads["b1"] = X.T.dot(dhidden), np.sum(dhidden, axis=0)
        for p in self.REGULARIZED:
            penalty, dpenalty = self.regularization(self.params[p])
            loss += penalty
            grads[p] += dpenalty
        return loss, grads

    def learning_rate_at(self, t):
        """The learning rate of the step taken after t steps: MultiStepLR's or LambdaLR's 1 / (1 + decay t)."""
        lr = self.lr
        if self.schedule == "step":
            for milestone in self.milestones:
                if t >= milestone:
                    lr = lr * self.gamma
        elif self.schedule == "inverse_time":
            lr = lr * (1.0 / (1.0 + self.lr_decay * t))
        return lr

    def _decay_learning_rate(self):
        """Set each config's learning rate to this step's, rescaling the velocity to it (v = −lr · b)."""
        lr = self.learning_rate_at(self.t)
        for config in self.optim_configs.values():
            if "velocity" in config and config["learning_rate"] != lr:
                config["velocity"] = config["velocity"] * (lr / config["learning_rate"])
            config["learning_rate"] = lr

    def _step(self, X, y):
        """The Solver's _step: the loss and gradients, then each parameter's update rule."""
        self._decay_learning_rate()
        loss, grads = self.loss_and_grads(X, y)
        for p, w in self.params.items():
            next_w, next_config = self.UPDATE_RULES[self.update_rule](w, grads[p], self.optim_configs[p])
            self.params[p], self.optim_configs[p] = next_w, next_config
        self.t += 1
        return loss

    # -- the library's protocol ------------------------------------------------------------------

    NAMES = ("W1", "b1", "W2", "b2")  # the library's order; each W transposed to (n_out, n_in)

    def _batch(self, inputs, targets=None):
        X = np.asarray(inputs, dtype=self.dtype).reshape(-1, self.input_nodes)
        if targets is None:
            return X
        return X, np.asarray(targets).reshape(-1, self.output_nodes).argmax(axis=1)  # one-hot to labels

    def _out(self, p, array):
        return np.array(array.T if p.startswith("W") else array, dtype=self.dtype)

    def query(self, inputs):
        scores = self.loss_and_grads(self._batch(inputs))
        probs = np.exp(scores - np.max(scores, axis=1, keepdims=True))
        probs /= np.sum(probs, axis=1, keepdims=True)
        return probs[0] if np.ndim(inputs) == 1 else probs

    def get_weights(self):
        return [self._out(p, self.params[p]) for p in self.NAMES]

    def set_weights(self, weights):
        self.params = {p: self._out(p, np.asarray(w)) for p, w in zip(self.NAMES, weights)}

    def gradients(self, inputs, targets):
        grads = self.loss_and_grads(*self._batch(inputs, targets))[1]
        return [self._out(p, grads[p]) for p in self.NAMES]

    def train(self, inputs, targets):
        return float(self._step(*self._batch(inputs, targets)))

    def _buffers(self):
        """torch.optim's buffer names and, for a config, each as torch holds it."""
        if self.update_rule == "adam":
            return {"exp_avg": lambda c: c["m"], "exp_avg_sq": lambda c: c["v"]}
        if self.update_rule == "sgd_momentum":
            return {"momentum_buffer": lambda c: -c["velocity"] / c["learning_rate"]}
        return {}

    def get_optimizer_state(self):
        state = {"step": self.t}
        for name, read in self._buffers().items():
            state[name] = [self._out(p, read(self.optim_configs[p])) if self.t else
                           np.zeros_like(self._out(p, self.params[p])) for p in self.NAMES]
        return state

    def set_optimizer_state(self, state):
        if set(state) != {"step", *self._buffers()}:
            raise ValueError(f"TwoLayerNet's {self.update_rule} state has keys {sorted(['step', *self._buffers()])}."
                             f" Got {sorted(state)} instead.")
        self._reset()
        self.t = int(state["step"])
        for i, p in enumerate(self.NAMES):
            config = self.optim_configs[p]
            if self.t and self.update_rule == "sgd_momentum":
                config["learning_rate"] = self.learning_rate_at(self.t - 1)  # the rate v was taken at
                config["velocity"] = -config["learning_rate"] * self._out(p, np.asarray(state["momentum_buffer"][i]))
            elif self.update_rule == "adam":
                config["m"] = self._out(p, np.asarray(state["exp_avg"][i]))
                config["v"] = self._out(p, np.asarray(state["exp_avg_sq"][i]))
                config["t"] = self.t


class TwoLayerNetAdam(TwoLayerNet):
    """cs231n's net trained with its adam rule (optimizer "adam", l2 1e-3)."""

    LEARNING_RATE = 1e-3

    def __init__(self, *args, optimizer="adam", **keywords):
        super().__init__(*args, optimizer=optimizer, **keywords)


class TwoLayerNetDampened(TwoLayerNet):
    """Momentum 0.9 with torch's dampening 0.5, the buffer started at g."""

    def __init__(self, *args, dampening=0.5, **keywords):
        super().__init__(*args, dampening=dampening, **keywords)


class TwoLayerNetStepDecay(TwoLayerNet):
    """Momentum 0.9 with the learning rate ×0.1 after 3 steps, the velocity rescaled to it."""

    def __init__(self, *args, schedule="step", milestones=(3,), **keywords):
        super().__init__(*args, schedule=schedule, milestones=milestones, **keywords)


# -- planted mistakes -------------------------------------------------------------------------------


class HalfRegGradient(TwoLayerNet):
    """Adds reg · W to the gradients (the 2016 assignment's) to a loss of reg · ΣW²: half the L2."""

    CAUSE = "l2_strength"

    def regularization(self, W):
        return self.reg * np.sum(W * W), self.reg * W


class DoubleRegGradient(TwoLayerNet):
    """Adds 2 · reg · W to the gradients of a loss of ½ · reg · ΣW² (so l2 = reg): twice the L2."""

    CAUSE = "l2_strength"
    L2_PER_REG = 1.0

    def regularization(self, W):
        return 0.5 * self.reg * np.sum(W * W), 2 * self.reg * W


class RegularizedBiases(TwoLayerNet):
    """Puts b1 and b2 into the reg penalty too, where the recipe says weights only."""

    CAUSE = "decay_reaches_biases"
    REGULARIZED = ("W1", "b1", "W2", "b2")


class ForgottenRegGradient(TwoLayerNet):
    """Adds reg · ΣW² to the loss and forgets its gradient."""

    CAUSE = "decay_missing"

    def regularization(self, W):
        return self.reg * np.sum(W * W), np.zeros_like(W)


def sgd_momentum_from_zeros(w, dw, config=None):
    """The assignment's sgd_momentum with dampening: v starts at zeros, so the first step is (1 − τ) lr g."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    config.setdefault("dampening", 0.0)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - (1 - config["dampening"]) * config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


class DampenedFromZero(TwoLayerNetDampened):
    """Momentum 0.9, dampening 0.5, the velocity started at zeros: torch starts its buffer at g."""

    CAUSE = "momentum_buffer_dampened"
    UPDATE_RULES = {**TwoLayerNet.UPDATE_RULES, "sgd_momentum": sgd_momentum_from_zeros}


class ClassicVelocity(TwoLayerNetStepDecay):
    """The Solver's lr decay: the new rate enters v = μv − lr · g while v keeps the old one in it."""

    CAUSE = "lr_inside_velocity"

    def _decay_learning_rate(self):
        for config in self.optim_configs.values():
            config["learning_rate"] = self.learning_rate_at(self.t)


class ClassicVelocityInverseTime(ClassicVelocity):
    """The same, under lr / (1 + 0.5 t)."""

    def __init__(self, *args, schedule="inverse_time", milestones=(), lr_decay=0.5, **keywords):
        super().__init__(*args, schedule=schedule, milestones=milestones, lr_decay=lr_decay, **keywords)


def adam_efficient(w, dw, config=None):
    """Kingma and Ba's "more efficient" order: both corrections in the step size, ε added to √v uncorrected.

        lr_t ← lr √(1 − β2^t) / (1 − β1^t),  w ← w − lr_t m / (√v + ε)
    """
    config = adam_moments(dw, {} if config is None else config)
    t = config["t"]
    lr_t = config["learning_rate"] * math.sqrt(1 - config["beta2"] ** t) / (1 - config["beta1"] ** t)
    return w - lr_t * config["m"] / (np.sqrt(config["v"]) + config["epsilon"]), config


class EfficientAdam(TwoLayerNetAdam):
    """Adam with ε added before the bias correction (Kingma and Ba's efficient form)."""

    CAUSE = "adam_eps_before_correction"
    UPDATE_RULES = {**TwoLayerNet.UPDATE_RULES, "adam": adam_efficient}


CORRECT = [TwoLayerNet, TwoLayerNetAdam, TwoLayerNetDampened, TwoLayerNetStepDecay]
MISTAKES = [HalfRegGradient, DoubleRegGradient, RegularizedBiases, ForgottenRegGradient, DampenedFromZero,
            ClassicVelocity, ClassicVelocityInverseTime, EfficientAdam]
