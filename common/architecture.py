"""One description of a network's architecture, checked in one place and shared by everything.

Both backends build from it, ``compare`` prints and records it, the weights files store it.

=============  ==========================================================================
field          meaning
=============  ==========================================================================
layer sizes    ``input_nodes``, then each hidden layer's size (none, one or several), then
               ``output_nodes``: 784-200-10 is the book's network
activation     of the hidden layers: "sigmoid" (the book), "tanh" or "relu"
loss           "half_sse": sigmoid outputs and L = ½ Σ (t − o)² (the book);
               "cross_entropy": softmax outputs and L = −Σ t log softmax(z);
               "binary_cross_entropy": sigmoid outputs and L = −Σ [t log o + (1 − t) log(1 − o)],
               summed over the outputs (Nielsen's CrossEntropyCost);
               "binary_cross_entropy_mean": the same averaged over the outputs (torch's
               ``BCELoss()``, nnfs's ``Loss_BinaryCrossentropy``). Every loss is averaged over
               the samples of a batch
bias           False (the book) or True: a bias vector per layer, starting at 0
conv           convolution layers in front of the dense ones, as (channels, kernel, padding)
               triples; ``()`` (the default, the book's) is none. Each is C filters of K×K,
               padding P on every side, stride 1, then the hidden activation, then a 2×2
               max pool (stride 2, an odd last row or column left out, as torch's floor);
               after the last a flatten in (C, H, W) order, as ``nn.Flatten``, feeds the
               dense layers. The inputs stay rows of ``input_nodes`` pixels; a
               convolutional network sees each as a square image (1, H, W), 784 as 28×28
=============  ==========================================================================

Parameters are listed in the order of the torch twin's ``model.parameters()``: each layer's
weight ``(n_out, n_in)``, then its bias ``(n_out,)`` when there is one. With one hidden layer
they keep the book's names ``W_ih`` and ``W_ho`` (biases ``b_h`` and ``b_o``); at any other
depth layers are numbered from the input, ``W1, b1, W2, b2, ...``. Convolution layers come
first, named ``conv1``, ``conv2``, ...: their weights ``W_conv1`` of shape ``(C_out, C_in, K, K)``,
as ``nn.Conv2d.weight``, and biases ``b_conv1`` ``(C_out,)``; the dense layers after them keep the
names above, counted among the dense layers alone (LeNet-5's are ``W1, W2, W3``).

Each layer's intermediate values, which ``intermediate_gradients`` differentiates: z, the
pre-activation (a dense layer's ``W a + b``, a convolution's output before its activation,
shape ``(C, H', W')``), and h, the layer's output that the next layer reads (a dense hidden
layer's f(z); a convolution layer's pooled map, ``(C, H'/2, W'/2)``, before any flatten).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any, Sequence

from common.errors import ParameterError
from common.recipe import make_recipe
from common.validation import check_dtype, check_learning_rate, check_positive_int

ACTIVATIONS = ("sigmoid", "tanh", "relu")
LOSSES = ("half_sse", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_mean")
# The targets each loss is trained towards: (off, on). The book keeps sigmoid outputs away
# from 0 and 1, which they reach only at infinite weights; the cross-entropies want 0/1.
TARGET_VALUES = {"half_sse": (0.01, 0.99), "cross_entropy": (0.0, 1.0), "binary_cross_entropy": (0.0, 1.0),
                 "binary_cross_entropy_mean": (0.0, 1.0)}
# The output layer's function each loss reads, and the loss in words.
OUTPUTS = {"half_sse": "sigmoid", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid",
           "binary_cross_entropy_mean": "sigmoid"}
LOSS_WORDS = {"half_sse": "half squared error", "cross_entropy": "softmax cross-entropy",
              "binary_cross_entropy": "binary cross-entropy",
              "binary_cross_entropy_mean": "binary cross-entropy averaged over the outputs"}


def _conv_layers(value: object) -> tuple[tuple[int, int, int], ...]:
    """A sequence of (channels, kernel, padding) triples, as a tuple of tuples of ints."""
    layers = None
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        layers = []
        for layer in value:
            if (not isinstance(layer, Sequence) or isinstance(layer, (str, bytes)) or len(layer) != 3
                    or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in layer)
                    or layer[0] < 1 or layer[1] < 1 or layer[2] < 0):
                layers = None
                break
            layers.append(tuple(int(v) for v in layer))
    if layers is None:
        raise ParameterError("The 'conv' parameter must be a sequence of (channels, kernel, padding) triples of ints, "
                             f"channels and kernel >= 1 and padding >= 0, e.g. ((6, 5, 2), (16, 5, 0)). Got {value!r} "
                             "instead.")
    return tuple(layers)


def conv_words(layer: tuple[int, int, int]) -> str:
    """``"6x5p2"`` for (6, 5, 2), ``"16x5"`` for (16, 5, 0): a layer as ``--conv`` writes it."""
    channels, kernel, padding = layer
    return f"{channels}x{kernel}" + (f"p{padding}" if padding else "")


@dataclass(frozen=True)
class ConvShape:
    """One convolution layer's shapes, per sample: what it reads, its z and its pooled output h."""

    inputs: tuple[int, int, int]  # (C_in, H, W)
    z: tuple[int, int, int]  # (C_out, H + 2P − K + 1, W + 2P − K + 1): the convolution's output
    h: tuple[int, int, int]  # (C_out, H' // 2, W' // 2): after the 2×2 max pool
    kernel: int
    padding: int


def _hidden_sizes(value: object) -> tuple[int, ...]:
    """An int (one hidden layer) or a sequence of ints (zero or more), as a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (check_positive_int("hidden_nodes", value),)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ParameterError(
            f"The 'hidden_nodes' parameter must be an int or a sequence of ints >= 1. Got {value!r} instead.")
    return tuple(check_positive_int("hidden_nodes", v) for v in value)


@dataclass(frozen=True)
class Architecture:
    """Layer sizes, hidden activation, loss and bias: what both backends need to build a network.

    Parameters
    ----------
    input_nodes : int
    hidden_nodes : int or sequence of int
        One hidden layer's size, or each hidden layer's size in order (may be empty).
        Stored as a tuple.
    output_nodes : int
    activation : {"sigmoid", "tanh", "relu"}, default "sigmoid"
    loss : {"half_sse", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_mean"}, default "half_sse"
    bias : bool, default False
    conv : sequence of (int, int, int), default ()
        Convolution layers in front of the dense ones, input side first: (channels, kernel,
        padding) each. Stored as a tuple of tuples.

    Examples
    --------
    >>> Architecture(784, 200, 10)
    Architecture(784, (200,), 10, activation='sigmoid', loss='half_sse', bias=False)
    >>> Architecture(784, [200, 100], 10, "tanh", "cross_entropy", True).describe()
    '784-200-100-10, tanh, softmax cross-entropy, bias'
    >>> lenet = Architecture(784, [120, 84], 10, "relu", "cross_entropy", True, conv=((6, 5, 2), (16, 5, 0)))
    >>> lenet.describe()
    '784-conv6x5p2-conv16x5-120-84-10, relu, softmax cross-entropy, bias'
    >>> lenet.parameter_shapes()[:4], lenet.dense_sizes
    ([(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,)], (400, 120, 84, 10))
    """

    input_nodes: int
    hidden_nodes: tuple[int, ...]
    output_nodes: int
    activation: str = "sigmoid"
    loss: str = "half_sse"
    bias: bool = False
    conv: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_nodes", check_positive_int("input_nodes", self.input_nodes))
        object.__setattr__(self, "hidden_nodes", _hidden_sizes(self.hidden_nodes))
        object.__setattr__(self, "output_nodes", check_positive_int("output_nodes", self.output_nodes))
        for name, value, allowed in (("activation", self.activation, ACTIVATIONS), ("loss", self.loss, LOSSES)):
            if value not in allowed:
                raise ParameterError(f"The '{name}' parameter must be one of {allowed}. Got {value!r} instead.")
        if not isinstance(self.bias, bool):
            raise ParameterError(f"The 'bias' parameter must be True or False. Got {self.bias!r} instead.")
        object.__setattr__(self, "conv", _conv_layers(self.conv))
        self.conv_shapes()  # an image too small for a kernel or a pool: one sentence, now

    # -- the convolution layers -------------------------------------------------------------------

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(1, H, W)``: how a convolutional network sees a row of ``input_nodes`` pixels (784 as 1×28×28)."""
        side = math.isqrt(self.input_nodes)
        if side * side != self.input_nodes:
            raise ParameterError(f"The 'conv' parameter needs square images: input_nodes must be a square number, "
                                 f"as 784 = 28 x 28. Got {self.input_nodes} instead.")
        return (1, side, side)

    def conv_shapes(self) -> list[ConvShape]:
        """Each convolution layer's shapes per sample, input side first; ``[]`` without any."""
        if not self.conv:
            return []
        shapes, (channels, height, width) = [], self.image_shape
        for i, (filters, kernel, padding) in enumerate(self.conv, start=1):
            name = f"conv{i} ({conv_words((filters, kernel, padding))})"
            if kernel > min(height, width) + 2 * padding:
                raise ParameterError(f"The 'conv' parameter shrinks the image below a kernel: {name} gets a "
                                     f"{height}x{width} image ({height + 2 * padding}x{width + 2 * padding} with its padding "
                                     f"{padding}), smaller than its {kernel}x{kernel} kernel.")
            z = (filters, height + 2 * padding - kernel + 1, width + 2 * padding - kernel + 1)
            if min(z[1:]) < 2:
                raise ParameterError(f"The 'conv' parameter shrinks the image below the pool: {name} leaves a "
                                     f"{z[1]}x{z[2]} image, smaller than the 2x2 max pool that follows it.")
            h = (filters, z[1] // 2, z[2] // 2)
            shapes.append(ConvShape((channels, height, width), z, h, kernel, padding))
            channels, height, width = h
        return shapes

    @property
    def flat_nodes(self) -> int:
        """What the first dense layer reads: the last pooled map flattened (C·H·W), else ``input_nodes``."""
        shapes = self.conv_shapes()
        return math.prod(shapes[-1].h) if shapes else self.input_nodes

    @property
    def dense_sizes(self) -> tuple[int, ...]:
        """``(flat_nodes, *hidden_nodes, output_nodes)``: the dense layers' sizes (``layer_sizes`` without convolutions)."""
        return (self.flat_nodes, *self.hidden_nodes, self.output_nodes)

    @property
    def conv_floats_per_sample(self) -> int:
        """Numbers one image needs on its way through the convolution layers, at the least: each
        layer's im2col columns (C_in·K·K per output position) and its output z; 0 without any."""
        return sum(math.prod(s.z[1:]) * (s.inputs[0] * s.kernel ** 2 + s.z[0]) for s in self.conv_shapes())

    def query_chunk(self, limit: int = 256, floats: int = 2 ** 25) -> int:
        """Rows a convolutional network answers at a time, so that a chunk's convolutions take at
        most about ``floats`` numbers (256 MB in float64), and never more than ``limit`` rows."""
        return max(1, min(limit, floats // max(self.conv_floats_per_sample, 1)))

    def conv_names(self) -> list[str]:
        """``["conv1", "conv2", ...]``: the convolution layers, as every check and report names them."""
        return [f"conv{i}" for i in range(1, len(self.conv) + 1)]

    # -- the layers and their parameters ------------------------------------------------------

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(input_nodes, *hidden_nodes, output_nodes)``."""
        return (self.input_nodes, *self.hidden_nodes, self.output_nodes)

    @property
    def n_layers(self) -> int:
        """Dense layers of weights: one more than the hidden layers (the convolutions not counted)."""
        return len(self.hidden_nodes) + 1

    @property
    def is_book(self) -> bool:
        """The book's shape: one hidden layer, sigmoid, half squared error, no bias."""
        return len(self.hidden_nodes) == 1 and not self.changed_keywords()

    def layer_names(self) -> list[str]:
        """The weight of each layer: ``["W_ih", "W_ho"]`` with one hidden layer, else ``["W1", ...]``;
        after ``["W_conv1", "W_conv2", ...]`` for the convolution layers, which come first."""
        convs = [f"W_{name}" for name in self.conv_names()]
        if len(self.hidden_nodes) == 1:
            return convs + ["W_ih", "W_ho"]
        return convs + [f"W{i}" for i in range(1, self.n_layers + 1)]

    def parameter_names(self) -> list[str]:
        """Every parameter in ``model.parameters()`` order: each weight, then its bias if any."""
        biases = [f"b_{name}" for name in self.conv_names()] + (
            ["b_h", "b_o"] if len(self.hidden_nodes) == 1 else [f"b{i}" for i in range(1, self.n_layers + 1)])
        names = []
        for weight, bias in zip(self.layer_names(), biases):
            names += [weight, bias] if self.bias else [weight]
        return names

    def parameter_shapes(self) -> list[tuple[int, ...]]:
        """Shapes matching :meth:`parameter_names`: ``(n_out, n_in)`` for a dense weight,
        ``(C_out, C_in, K, K)`` for a convolution's, ``(n_out,)`` (or ``(C_out,)``) for a bias."""
        shapes: list[tuple[int, ...]] = []
        for layer in self.conv_shapes():
            weight = (layer.z[0], layer.inputs[0], layer.kernel, layer.kernel)
            shapes += [weight, weight[:1]] if self.bias else [weight]
        sizes = self.dense_sizes
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            shapes += [(n_out, n_in), (n_out,)] if self.bias else [(n_out, n_in)]
        return shapes

    def intermediate_names(self) -> dict[str, list[str]]:
        """Names of each layer's z and of each hidden layer's h, input side first:
        ``{"dLdz": ["z_h", "z_o"], "dLdh": ["h"]}`` for the book's network, ``z1, z2, ...`` and
        ``h1, ...`` at other depths, after ``z_conv1, ...`` and ``h_conv1, ...`` for convolutions."""
        convs = self.conv_names()
        if len(self.hidden_nodes) == 1:
            z, h = ["z_h", "z_o"], ["h"]
        else:
            z, h = [f"z{i}" for i in range(1, self.n_layers + 1)], [f"h{i}" for i in range(1, self.n_layers)]
        return {"dLdz": [f"z_{c}" for c in convs] + z, "dLdh": [f"h_{c}" for c in convs] + h}

    def intermediate_shapes(self) -> dict[str, list[tuple[int, ...]]]:
        """Per-sample shapes matching :meth:`intermediate_names`: ``(nodes,)`` for a dense layer,
        ``(C, H', W')`` for a convolution's z and ``(C, H'/2, W'/2)`` for its pooled h."""
        shapes = self.conv_shapes()
        return {"dLdz": [s.z for s in shapes] + [(n,) for n in self.dense_sizes[1:]],
                "dLdh": [s.h for s in shapes] + [(n,) for n in self.hidden_nodes]}

    def per_layer(self, parameters: Sequence[Any]) -> list[list[Any]]:
        """Anything listed in :meth:`parameter_names` order (names, arrays, gradients), grouped by
        layer, input side first: ``[[W1], [W2]]``, or ``[[W1, b1], [W2, b2]]`` with biases."""
        size = 2 if self.bias else 1
        return [list(parameters[i:i + size]) for i in range(0, len(parameters), size)]

    @property
    def output_function(self) -> str:
        """The output layer's function: "sigmoid", or "softmax" for cross-entropy."""
        return OUTPUTS[self.loss]

    @property
    def target_values(self) -> tuple[float, float]:
        """``(off, on)``: the target away from the label and at it (0.01/0.99, or 0/1 for cross-entropy)."""
        return TARGET_VALUES[self.loss]

    # -- words and records ------------------------------------------------------------------------

    def describe(self) -> str:
        """``"784-200-10, sigmoid, half squared error, no bias"``: for headers and messages.

        Without hidden layers the activation, which then applies nowhere, is left out.
        Convolution layers stand between the inputs and the dense layers as ``--conv`` writes them,
        each followed by the activation and a 2×2 max pool: ``"784-conv6x5p2-conv16x5-120-84-10, relu, ..."``.
        """
        loss = LOSS_WORDS[self.loss]
        sizes = "-".join([str(self.input_nodes), *(f"conv{conv_words(c)}" for c in self.conv),
                          *(str(n) for n in self.layer_sizes[1:])])
        # no hidden layer, no activation
        activation = f"{self.activation}, " if self.hidden_nodes or self.conv else ""
        return f"{sizes}, {activation}{loss}, {'bias' if self.bias else 'no bias'}"

    def to_json(self) -> dict[str, Any]:
        """The record a weights file and ``--json`` keep; ``conv`` only where there are convolutions,
        so that a fully connected network's record reads as before."""
        record = {"input_nodes": self.input_nodes, "hidden_nodes": list(self.hidden_nodes),
                  "output_nodes": self.output_nodes, "activation": self.activation, "loss": self.loss,
                  "bias": self.bias}
        if self.conv:
            record["conv"] = [list(layer) for layer in self.conv]
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Architecture":
        """The inverse of :meth:`to_json`; a record that is not one fails with one sentence."""
        try:
            return cls(**{k: record[k] for k in ("input_nodes", "hidden_nodes", "output_nodes")},
                       **{k: record[k] for k in ("activation", "loss", "bias", "conv") if k in record})
        except (KeyError, TypeError) as error:
            raise ParameterError(f"Not an architecture record ({error}): {record!r}.") from None

    @classmethod
    def of(cls, network: object) -> "Architecture":
        """The architecture of any network with the protocol's attributes.

        Reads ``input_nodes``, ``hidden_nodes`` and ``output_nodes``, and ``activation``, ``loss``,
        ``bias`` and ``conv`` where the network has them (the book's values where it has not).
        """
        found = getattr(network, "architecture", None)
        if isinstance(found, cls):
            return found
        try:
            sizes = {k: getattr(network, k) for k in ("input_nodes", "hidden_nodes", "output_nodes")}
        except AttributeError as error:
            raise ParameterError(f"{type(network).__name__} has no attribute {error.name!r}, which a "
                                 "network needs: input_nodes, hidden_nodes and output_nodes.") from None
        extra = {k: getattr(network, k) for k in ("activation", "loss", "bias", "conv") if hasattr(network, k)}
        return cls(**sizes, **extra)

    def differences(self, other: "Architecture") -> list[str]:
        """What differs from ``other``, in words: ``["hidden layers 200 here, 200-100 there"]``."""
        said = []
        for name, mine, theirs in (
                ("inputs", self.input_nodes, other.input_nodes),
                ("hidden layers", "-".join(map(str, self.hidden_nodes)) or "none",
                 "-".join(map(str, other.hidden_nodes)) or "none"),
                ("outputs", self.output_nodes, other.output_nodes), ("activation", self.activation, other.activation),
                ("loss", self.loss, other.loss), ("bias", self.bias, other.bias),
                ("convolutions", ",".join(map(conv_words, self.conv)) or "none",
                 ",".join(map(conv_words, other.conv)) or "none")):
            if mine != theirs:
                said.append(f"{name} {mine} here, {theirs} there")
        return said

    def changed_keywords(self) -> dict[str, Any]:
        """The keywords ``activation``, ``loss``, ``bias`` and ``conv`` whose values are not the book's."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in ("activation", "loss", "bias", "conv") and getattr(self, f.name) != f.default}

    def __repr__(self) -> str:
        conv = f", conv={self.conv}" if self.conv else ""
        return (f"Architecture({self.input_nodes}, {self.hidden_nodes}, {self.output_nodes}, "
                f"activation={self.activation!r}, loss={self.loss!r}, bias={self.bias}{conv})")


def set_network_attributes(
    network: Any, input_nodes: object, hidden_nodes: object, output_nodes: object, learning_rate: object,
    activation: object, loss: object, bias: object, dtype: object, recipe: dict[str, Any] | None = None,
    conv: object = (),
) -> None:
    """Check the constructor arguments every backend takes and set the protocol's attributes.

    Sets ``architecture`` (an :class:`Architecture`), ``recipe`` (a :class:`common.recipe.Recipe`
    built from the ``recipe`` keywords), ``input_nodes``, ``hidden_nodes`` (as given: an int stays
    an int, a sequence becomes a list), ``output_nodes``, ``activation``, ``loss``, ``bias``,
    ``conv`` (a tuple of triples), ``lr`` and ``dtype`` (a NumPy dtype). Raises ParameterError, in one sentence, before setting anything.
    """
    architecture = Architecture(input_nodes, hidden_nodes, output_nodes, activation, loss, bias, conv)
    built = make_recipe(type(network).__name__, recipe or {})
    dtype = check_dtype(dtype)
    lr = check_learning_rate(learning_rate, dtype)
    network.lr, network.dtype, network.architecture, network.recipe = lr, dtype, architecture, built
    network.input_nodes, network.output_nodes = architecture.input_nodes, architecture.output_nodes
    network.hidden_nodes = (int(hidden_nodes) if isinstance(hidden_nodes, numbers.Integral)
                            else list(architecture.hidden_nodes))
    network.activation, network.loss, network.bias = architecture.activation, architecture.loss, architecture.bias
    network.conv = architecture.conv


def network_repr(network: Any) -> str:
    """``Network(784, [200, 100], 10, 0.05, activation='tanh', optimizer='adam', dtype='float64'``:
    the architecture's and the recipe's keywords only where they differ from their defaults."""
    changed = {**network.architecture.changed_keywords(), **network.recipe.changed_keywords()}
    keywords = "".join(f", {k}={v!r}" for k, v in changed.items())
    return (f"{type(network).__name__}({network.input_nodes}, {network.hidden_nodes!r}, {network.output_nodes}, "
            f"{network.lr}{keywords}, dtype={network.dtype.name!r}")
