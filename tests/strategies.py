"""Hypothesis strategies for small networks of every architecture and the data fed to them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from common.architecture import ACTIVATIONS, LOSSES, Architecture
from common.errors import ParameterError
from common.weights import initial_weights


@dataclass
class Case:
    """A small network, its starting parameters and a batch, drawn by hypothesis."""

    architecture: Architecture
    lr: float
    dtype: str
    weights: list[np.ndarray]  # every parameter, in architecture.parameter_names() order
    inputs: np.ndarray  # (batch, input) in (0, 1)
    targets: np.ndarray  # (batch, output): in (0, 1), or probabilities summing to 1 for cross-entropy

    @property
    def names(self) -> list[str]:
        return self.architecture.parameter_names()

    def keywords(self) -> dict:
        """The constructor's arguments for this case, after ``learning_rate``."""
        a = self.architecture
        conv = {"conv": a.conv} if a.conv else {}
        return dict(activation=a.activation, loss=a.loss, bias=a.bias, dtype=self.dtype, **conv)

    def networks(self):
        """The NumPy and the torch network, both loaded with this case's weights."""
        from from_scratch import Network
        from torch_impl import Network as TorchNetwork

        a = self.architecture
        mine = Network(a.input_nodes, list(a.hidden_nodes), a.output_nodes, self.lr, **self.keywords())
        theirs = TorchNetwork(a.input_nodes, list(a.hidden_nodes), a.output_nodes, self.lr, **self.keywords())
        mine.set_weights(self.weights)
        theirs.set_weights(self.weights)
        return mine, theirs


@st.composite
def architectures(draw, max_nodes: int = 30, max_hidden_layers: int = 3) -> Architecture:
    """0..3 hidden layers of 1..30 nodes, 1..30 inputs, 1..10 outputs, each activation, loss and bias."""
    hidden = draw(st.lists(st.integers(1, max_nodes), max_size=max_hidden_layers))
    return Architecture(draw(st.integers(1, max_nodes)), hidden, draw(st.integers(1, 10)),
                        draw(st.sampled_from(ACTIVATIONS)), draw(st.sampled_from(LOSSES)), draw(st.booleans()))


@st.composite
def conv_architectures(draw, max_nodes: int = 12) -> Architecture:
    """One or two convolution layers (1..4 channels, kernel 1..5, padding 0..2) on square images of
    6x6 to 12x12, then 0..2 hidden layers of 1..12 nodes, 1..6 outputs, each activation, loss and
    bias; drawn until the image stays large enough for each kernel and pool."""
    side = draw(st.integers(6, 12))
    conv = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(0, 2)), min_size=1, max_size=2))
    hidden = draw(st.lists(st.integers(1, max_nodes), max_size=2))
    try:
        return Architecture(side * side, hidden, draw(st.integers(1, 6)), draw(st.sampled_from(ACTIVATIONS)),
                            draw(st.sampled_from(LOSSES)), draw(st.booleans()), conv=conv)
    except ParameterError:
        assume(False)


DERIVATIVES = {"sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda y: y * (1 - y)),
               "tanh": (np.tanh, lambda y: 1 - y * y)}


def least_layer_derivative(architecture: Architecture, weights: list[np.ndarray], inputs: np.ndarray,
                           unit: bool = False) -> float:
    """The smallest, over the sigmoid and tanh layers, of the layer's largest f'(z), in float64
    (with ``unit``, of every unit's f'(z)).

    Both backends compute f'(z) from the output y (y (1 − y), 1 − y²), which keeps only
    eps / f'(z) of relative precision: a layer whose every unit is saturated scales every
    gradient beneath it by a number neither side knows to better than that. With a single
    unit in a layer, weights ×4 and tanh, hypothesis found dL/dW1 scaled by 1e-6 and
    agreeing to 5,400 eps in float32. Such a layer passes no signal and no gradient:
    nothing to compare, and no one trains there.

    One saturated unit is enough for Adam and RMSprop, which divide each gradient entry by its own
    running size: where one backend's sigmoid rounds to exactly 1 (f' = 0) and the other's to
    1 − eps, a gradient entry of pure rounding, 0 in one and ~eps in the other, becomes a step of 0
    in one and of the full lr in the other.
    """
    a, least = inputs.astype(np.float64), 1.0
    layers = list(zip(weights[0::2], weights[1::2])) if architecture.bias else [(w, 0) for w in weights]
    if architecture.conv:  # each convolution layer's f'(z), then the dense layers on the flattened maps
        from from_scratch.layers.conv import conv_forward
        from from_scratch.layers.maxpool import maxpool_forward

        images = a.reshape(len(a), *architecture.image_shape)
        for (W, b), shape in zip(layers, architecture.conv_shapes()):
            z, _ = conv_forward(images, W.astype(np.float64), None, shape.padding)
            z = z + (np.asarray(b, dtype=np.float64)[:, None, None] if architecture.bias else 0.0)
            if architecture.activation == "relu":
                images = maxpool_forward(np.maximum(z, 0.0))[0]
                continue
            forward, derivative = DERIVATIVES[architecture.activation]
            with np.errstate(over="ignore"):  # e^-z overflows to inf where sigmoid(z) is 0: fine
                y = forward(z)
            least = min(least, float(derivative(y).max()))
            images = maxpool_forward(y)[0]
        a, layers = images.reshape(len(a), -1), layers[len(architecture.conv):]
    for layer, (W, b) in enumerate(layers, start=1):
        z = a @ W.T + b
        name = architecture.activation if layer < len(layers) else (
            "sigmoid" if architecture.loss == "half_sse" else None)
        if name is None:  # softmax with cross-entropy: fused, no such factor
            break
        if name == "relu":  # its derivative is 0 or 1, exactly, on both sides
            a = np.maximum(z, 0.0)
            continue
        forward, derivative = DERIVATIVES[name]
        a = forward(z)
        least = min(least, float(derivative(a).min() if unit else derivative(a).max()))
    return least


@st.composite
def cases(draw, max_nodes: int = 30, max_batch: int = 8, conv: bool = False) -> Case:
    """An architecture from :func:`architectures` (:func:`conv_architectures` with ``conv``);
    weights from the book's initialisation scaled by 0.25..4 and biases normal(0, 0.5) (so that
    they matter from the first step); inputs in (0, 1); targets in (0, 1), or on the simplex for
    cross-entropy (torch's probability targets); learning rates 0.001..10; batches of 1..8; both
    dtypes."""
    architecture = draw(conv_architectures() if conv else architectures(max_nodes))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    lr = draw(st.floats(1e-3, 10.0))
    scale = draw(st.floats(0.25, 4.0))
    seed = draw(st.integers(0, 2**32 - 1))
    batch = draw(st.integers(1, max_batch))
    rng = np.random.default_rng(seed)
    weights = [w * scale if w.ndim >= 2 else rng.normal(0.0, 0.5, size=w.shape)
               for w in initial_weights(architecture, seed=seed)]
    inputs = rng.uniform(0.01, 1.0, size=(batch, architecture.input_nodes))
    targets = rng.uniform(0.01, 0.99, size=(batch, architecture.output_nodes))
    if architecture.loss == "cross_entropy":
        targets /= targets.sum(axis=1, keepdims=True)
    assume(least_layer_derivative(architecture, weights, inputs) >= 2.0**-8)
    cast = np.dtype(dtype)
    return Case(architecture, lr, dtype, [w.astype(cast) for w in weights], inputs.astype(cast), targets.astype(cast))


@st.composite
def recipes(draw) -> "Recipe":
    """Every optimizer with its options drawn, weight decay and L2 with or without the biases, and
    a schedule: what a reader's network trains with (common.recipe.Recipe)."""
    from common.recipe import Recipe

    optimizer = draw(st.sampled_from(["sgd", "adam", "adamw", "rmsprop"]))
    options: dict = {"optimizer": optimizer}
    if optimizer == "sgd" and draw(st.booleans()):
        options["momentum"] = draw(st.sampled_from([0.5, 0.9, 0.99]))
        if draw(st.booleans()):
            options["nesterov"] = True
        else:
            options["dampening"] = draw(st.sampled_from([0.0, 0.1, 0.5]))
    if optimizer in ("adam", "adamw"):
        options["betas"] = draw(st.sampled_from([(0.9, 0.999), (0.8, 0.99), (0.5, 0.9)]))
        options["eps"] = draw(st.sampled_from([1e-8, 1e-7, 1e-3]))
        options["amsgrad"] = draw(st.booleans())
    if optimizer == "rmsprop":
        options["alpha"] = draw(st.sampled_from([0.9, 0.99]))
        options["momentum"] = draw(st.sampled_from([0.0, 0.5]))
        options["centered"] = draw(st.booleans())
    options["weight_decay"] = draw(st.sampled_from([0.0, 1e-3, 0.05]))
    options["l2"] = draw(st.sampled_from([0.0, 1e-3, 0.05]))
    options["decay_biases"] = draw(st.booleans())
    schedule = draw(st.sampled_from(["constant", "step", "inverse_time"]))
    if schedule == "step":
        options.update(schedule="step", milestones=(1, draw(st.integers(2, 4))), gamma=draw(st.sampled_from([0.1, 0.5])))
    elif schedule == "inverse_time":
        options.update(schedule="inverse_time", lr_decay=draw(st.sampled_from([0.01, 0.5])))
    return Recipe(**options)
