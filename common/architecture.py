"""One description of a network's architecture, checked in one place and shared by everything.

Both backends build from it, ``compare`` prints and records it, the weights files store it. It
is built from keywords and kept as a sequence of layers, :attr:`Architecture.layers`, each a spec
of :mod:`common.layers` that answers for its own shapes, parameters, buffers and words.

=============  ==========================================================================
keyword        meaning
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
options        the keywords of :data:`common.layers.OPTIONS`, each adding one kind of layer to
               every hidden block (a hidden dense layer, or a convolution layer with its pool):
               where the kind's :class:`~common.layers.Option` says, before the activation or
               after the block's output. None (or 0) adds nothing
=============  ==========================================================================

The layers, input side first: for each convolution ``conv1, ...``: the convolution, the options
placed before the activation, the activation, the pool, the options placed after the block; a
flatten; for each hidden dense layer the same without the pool; the output layer. Parameters are
listed in the order of the torch twin's ``model.parameters()``, layer by layer: a weight
``(n_out, n_in)`` (a convolution's ``(C_out, C_in, K, K)``), then its bias ``(n_out,)`` when there
is one, then any other layer's (a normalization's γ, then β). With one hidden layer they keep the
book's names ``W_ih`` and ``W_ho`` (biases ``b_h`` and ``b_o``); at any other depth layers are
numbered from the input, ``W1, b1, W2, b2, ...``. Convolution layers come first, named ``conv1``,
``conv2``, ...: ``W_conv1``, ``b_conv1``; the dense layers after them keep the names above,
counted among the dense layers alone (LeNet-5's are ``W1, W2, W3``).

Each block's intermediate values, which ``intermediate_gradients`` differentiates: z, the affine
map's output (a dense layer's ``W a + b``, a convolution's output, shape ``(C, H', W')``), and h,
the block's output that the next affine layer reads (a dense hidden layer's f(z), after any
layer the options add; a convolution layer's pooled map, ``(C, H'/2, W'/2)``, before any flatten).
"""
from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from common.errors import ParameterError
from common.layers import AFTER_BLOCK, BEFORE_ACTIVATION, OPTIONS, Buffer, Layer, Parameter, check_option
from common.layers import option_default, option_kind
from common.layers.activation import FUNCTIONS, Activation
from common.layers.conv import Conv, conv_words
from common.layers.dense import Dense
from common.layers.flatten import Flatten, Unflatten
from common.layers.maxpool import MaxPool
from common.recipe import make_recipe
from common.validation import check_dtype, check_learning_rate, check_positive_int

ACTIVATIONS = FUNCTIONS
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
# The keywords every architecture has beside its sizes, with the book's values; the options follow.
BOOK = {"activation": "sigmoid", "loss": "half_sse", "bias": False, "conv": ()}

__all__ = ["ACTIVATIONS", "Architecture", "ConvShape", "LOSSES", "conv_words", "keywords", "network_repr",
           "set_network_attributes"]


def keywords() -> dict[str, Any]:
    """Every keyword of an architecture beside its sizes, with its default (the book's value):
    ``activation``, ``loss``, ``bias``, ``conv``, then each option of :data:`common.layers.OPTIONS`."""
    return {**BOOK, **{keyword: option_default(keyword) for keyword in OPTIONS}}


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


def _hidden_sizes(value: object) -> tuple[int, ...]:
    """An int (one hidden layer) or a sequence of ints (zero or more), as a tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (check_positive_int("hidden_nodes", value),)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ParameterError(
            f"The 'hidden_nodes' parameter must be an int or a sequence of ints >= 1. Got {value!r} instead.")
    return tuple(check_positive_int("hidden_nodes", v) for v in value)


@dataclass(frozen=True)
class ConvShape:
    """One convolution layer's shapes, per sample: what it reads, its z and its pooled output h."""

    inputs: tuple[int, int, int]  # (C_in, H, W)
    z: tuple[int, int, int]  # (C_out, H + 2P − K + 1, W + 2P − K + 1): the convolution's output
    h: tuple[int, int, int]  # (C_out, H' // 2, W' // 2): after the 2×2 max pool
    kernel: int
    padding: int


@dataclass(frozen=True, init=False, repr=False)
class Architecture:
    """Layer sizes, hidden activation, loss, bias, convolutions and options: what both backends build.

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
    **options
        The keywords of :data:`common.layers.OPTIONS` (``norm="batch"`` or ``"layer"``,
        ``dropout=0.3``); each readable as an attribute, its default when not given.

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
    >>> [layer.name for layer in lenet.layers][:6]
    ['image', 'conv1', 'relu_conv1', 'pool1', 'conv2', 'relu_conv2']
    """

    input_nodes: int
    hidden_nodes: tuple[int, ...]
    output_nodes: int
    activation: str
    loss: str
    bias: bool
    conv: tuple[tuple[int, int, int], ...]
    options: tuple[tuple[str, Any], ...]  # (keyword, value) of every option, in OPTIONS' order
    layers: tuple[Layer, ...]

    def __init__(self, input_nodes: int, hidden_nodes: int | Sequence[int], output_nodes: int,
                 activation: str = "sigmoid", loss: str = "half_sse", bias: bool = False,
                 conv: Sequence[tuple[int, int, int]] = (), **options: Any) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        set_("input_nodes", check_positive_int("input_nodes", input_nodes))
        set_("hidden_nodes", _hidden_sizes(hidden_nodes))
        set_("output_nodes", check_positive_int("output_nodes", output_nodes))
        for name, value, allowed in (("activation", activation, ACTIVATIONS), ("loss", loss, LOSSES)):
            if value not in allowed:
                raise ParameterError(f"The '{name}' parameter must be one of {allowed}. Got {value!r} instead.")
        if not isinstance(bias, bool):
            raise ParameterError(f"The 'bias' parameter must be True or False. Got {bias!r} instead.")
        set_("activation", activation)
        set_("loss", loss)
        set_("bias", bias)
        set_("conv", _conv_layers(conv))
        unknown = next((k for k in options if k not in OPTIONS), None)
        if unknown is not None:
            raise ParameterError(f"Architecture() got an unexpected keyword {unknown!r}; its options are "
                                 f"{', '.join(OPTIONS)}.")
        set_("options", tuple((k, check_option(k, options.get(k, option_default(k)))) for k in OPTIONS))
        set_("layers", self._build())

    def __getattr__(self, name: str) -> Any:
        """An option's value by its keyword: ``architecture.norm``, ``architecture.dropout``."""
        if name in OPTIONS:
            return dict(object.__getattribute__(self, "options"))[name]
        raise AttributeError(f"'Architecture' object has no attribute {name!r}")

    # -- the layers ---------------------------------------------------------------------------------

    def _build(self) -> tuple[Layer, ...]:
        """The layers, input side first (the module docstring's order), each checked as it is placed."""
        added = [(option_kind(k, v), v) for k, v in self.options]
        added = [(cls, value) for cls, value in added if cls is not None]
        book = len(self.hidden_nodes) == 1
        layers: list[Layer] = []

        def block(affine: Layer, suffix: str, pool: bool) -> None:
            """The affine layer, what the options put before the activation, the activation, the pool,
            and what the options put after the block."""
            layers.append(affine)
            shape = affine.outputs
            for place in (BEFORE_ACTIVATION, AFTER_BLOCK):
                if place == AFTER_BLOCK:
                    layers.append(Activation(shape, affine.label, f"{self.activation}{suffix}", self.activation))
                    if pool:
                        if min(shape[1:]) < 2:
                            raise ParameterError(
                                f"The 'conv' parameter shrinks the image below the pool: {affine.name} "
                                f"({conv_words((affine.channels, affine.kernel, affine.padding))}) leaves a "
                                f"{shape[1]}x{shape[2]} image, smaller than the 2x2 max pool that follows it.")
                        layers.append(MaxPool(shape, affine.label, f"pool{affine.name[4:]}"))
                        shape = layers[-1].outputs
                for cls, value in added:
                    if cls.option.place == place:
                        layers.append(cls.for_block(value, shape, affine.label, f"{cls.option.keyword}{suffix}"))

        if self.conv:
            channels, height, width = self.image_shape
            layers.append(Unflatten((self.input_nodes,), "", "image", (channels, height, width)))
            for i, (filters, kernel, padding) in enumerate(self.conv, start=1):
                shape = layers[-1].outputs
                if kernel > min(shape[1:]) + 2 * padding:
                    raise ParameterError(
                        f"The 'conv' parameter shrinks the image below a kernel: conv{i} "
                        f"({conv_words((filters, kernel, padding))}) gets a {shape[1]}x{shape[2]} image "
                        f"({shape[1] + 2 * padding}x{shape[2] + 2 * padding} with its padding {padding}), smaller "
                        f"than its {kernel}x{kernel} kernel.")
                block(Conv(shape, f"conv{i}", f"conv{i}", filters, kernel, padding, self.bias), f"_conv{i}", True)
            layers.append(Flatten(layers[-1].outputs, "", "flatten"))
        sizes = (self.hidden_nodes + (self.output_nodes,))
        for j, units in enumerate(sizes, start=1):
            label = ("h" if j == 1 else "o") if book else str(j)
            weight = ("W_ih" if j == 1 else "W_ho") if book else f"W{j}"
            dense = Dense(layers[-1].outputs if layers else (self.input_nodes,), label,
                          weight.replace("_", "").lower(), units, self.bias, weight)
            if j < len(sizes):
                block(dense, "" if book else str(j), False)
            else:
                layers.append(dense)
        return tuple(layers)

    def blocks(self) -> list[list[Layer]]:
        """The layers grouped by block (an affine layer and what follows it up to the next), input
        side first; the reshapes (image, flatten) belong to none."""
        grouped: list[list[Layer]] = []
        for layer in self.layers:
            if layer.affine:
                grouped.append([layer])
            elif layer.label and grouped:
                grouped[-1].append(layer)
        return grouped

    def parameters(self) -> list[Parameter]:
        """Every parameter, in ``model.parameters()`` order: each layer's, input side first."""
        return [p for layer in self.layers for p in layer.parameters()]

    def buffers(self) -> list[Buffer]:
        """Every buffer (running statistics), in ``model.buffers()`` order; ``[]`` for most networks."""
        return [b for layer in self.layers for b in layer.buffers()]

    @functools.cached_property
    def min_batch(self) -> tuple[int, str]:
        """The fewest samples a training step can take, and why: ``(1, "")`` for most networks; a
        layer that normalizes over the batch (batch norm after a dense layer) needs two. Asked at
        every step (``check_batch``), so worked out once."""
        least = max(self.layers, key=lambda layer: layer.min_batch()[0])
        return least.min_batch()

    def draw_indices(self) -> dict[int, int]:
        """For each layer that draws random numbers (dropout), by its index in :attr:`layers`, its
        index among those layers, input side first: what :func:`common.layers.layer_rng` reads."""
        drawing = [i for i, layer in enumerate(self.layers) if layer.draws]
        return {position: index for index, position in enumerate(drawing)}

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
        return [ConvShape(block[0].inputs, block[0].outputs, block[-1].outputs, block[0].kernel, block[0].padding)
                for block in self.blocks() if isinstance(block[0], Conv)]

    @property
    def flat_nodes(self) -> int:
        """What the first dense layer reads: the last pooled map flattened (C·H·W), else ``input_nodes``."""
        return next(layer for layer in self.layers if isinstance(layer, Dense)).inputs[0]

    @property
    def dense_sizes(self) -> tuple[int, ...]:
        """``(flat_nodes, *hidden_nodes, output_nodes)``: the dense layers' sizes (``layer_sizes`` without convolutions)."""
        return (self.flat_nodes, *self.hidden_nodes, self.output_nodes)

    @property
    def conv_floats_per_sample(self) -> int:
        """Numbers one image needs on its way through the layers, beyond their inputs and outputs, at
        the least: each convolution's im2col columns and its output z; 0 without any."""
        return sum(layer.work_floats() for layer in self.layers)

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
        """The book's shape: one hidden layer, sigmoid, half squared error, no bias, no option."""
        return len(self.hidden_nodes) == 1 and not self.changed_keywords()

    def layer_names(self) -> list[str]:
        """The weight of each affine layer: ``["W_ih", "W_ho"]`` with one hidden layer, else
        ``["W1", ...]``; after ``["W_conv1", "W_conv2", ...]`` for the convolution layers, which come first."""
        return [block[0].parameters()[0].name for block in self.blocks()]

    def parameter_names(self) -> list[str]:
        """Every parameter in ``model.parameters()`` order: each weight, then its bias if any, then
        any other parameter of its block (a normalization's γ and β)."""
        return [p.name for p in self.parameters()]

    def parameter_shapes(self) -> list[tuple[int, ...]]:
        """Shapes matching :meth:`parameter_names`: ``(n_out, n_in)`` for a dense weight,
        ``(C_out, C_in, K, K)`` for a convolution's, ``(n_out,)`` (or ``(C_out,)``) for a bias."""
        return [p.shape for p in self.parameters()]

    def weights_decayed(self) -> list[bool]:
        """For each parameter, whether it is a weight, which weight decay and L2 reach by default
        (a bias, or a normalization's γ and β, only with the recipe's ``decay_biases``)."""
        return [p.weight for p in self.parameters()]

    def floor_partners(self) -> list[int | None]:
        """For each parameter, the index of the one whose size is its floor in a comparison
        (:func:`common.tolerances.floors`), or None: a bias whose block has a layer that cancels it
        (``absorbs_bias``, a batch normalization) has a gradient of exactly 0 in exact arithmetic, so
        both backends return rounding noise there, measured at the scale of its layer's weight."""
        index = {p.name: i for i, p in enumerate(self.parameters())}
        partners: list[int | None] = [None] * len(index)
        for block in self.blocks():
            names = [p.name for p in block[0].parameters()]
            if len(names) == 2 and any(layer.absorbs_bias for layer in block[1:]):
                partners[index[names[1]]] = index[names[0]]
        return partners

    def buffer_names(self) -> list[str]:
        return [b.name for b in self.buffers()]

    def buffer_shapes(self) -> list[tuple[int, ...]]:
        return [b.shape for b in self.buffers()]

    def intermediates(self) -> Iterator[tuple[str, int, str, tuple[int, ...]]]:
        """``(key, layer index, name, shape)`` of each intermediate value, input side first: each
        affine layer's output z (key "dLdz", named ``z_h``, ``z1``, ``z_conv1``) and each hidden
        block's output h (key "dLdh", named ``h``, ``h1``, ``h_conv1``), by the index in :attr:`layers`
        of the layer that returns it."""
        index = {id(layer): i for i, layer in enumerate(self.layers)}
        blocks = self.blocks()
        for b, block in enumerate(blocks):
            yield "dLdz", index[id(block[0])], block[0].tag("z"), block[0].outputs
            if b < len(blocks) - 1:
                label = block[0].label
                yield "dLdh", index[id(block[-1])], "h" if label == "h" else block[0].tag("h"), block[-1].outputs

    def intermediate_names(self) -> dict[str, list[str]]:
        """Names of each layer's z and of each hidden layer's h, input side first:
        ``{"dLdz": ["z_h", "z_o"], "dLdh": ["h"]}`` for the book's network, ``z1, z2, ...`` and
        ``h1, ...`` at other depths, after ``z_conv1, ...`` and ``h_conv1, ...`` for convolutions."""
        names: dict[str, list[str]] = {"dLdz": [], "dLdh": []}
        for key, _, name, _ in self.intermediates():
            names[key].append(name)
        return names

    def intermediate_shapes(self) -> dict[str, list[tuple[int, ...]]]:
        """Per-sample shapes matching :meth:`intermediate_names`: ``(nodes,)`` for a dense layer,
        ``(C, H', W')`` for a convolution's z and ``(C, H'/2, W'/2)`` for its pooled h."""
        shapes: dict[str, list[tuple[int, ...]]] = {"dLdz": [], "dLdh": []}
        for key, _, _, shape in self.intermediates():
            shapes[key].append(shape)
        return shapes

    def per_layer(self, parameters: Sequence[Any]) -> list[list[Any]]:
        """Anything listed in :meth:`parameter_names` order (names, arrays, gradients), grouped by
        block, input side first: ``[[W1], [W2]]``, or ``[[W1, b1], [W2, b2]]`` with biases."""
        grouped, k = [], 0
        for block in self.blocks():
            count = sum(len(layer.parameters()) for layer in block)
            grouped.append(list(parameters[k:k + count]))
            k += count
        return grouped

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
        Each option set follows, in its kind's words: ``", batch norm"``, ``", dropout 0.3"``.
        """
        sizes = "-".join([str(self.input_nodes), *(block[0].words() for block in self.blocks())])
        # no hidden layer, no activation
        activation = f"{self.activation}, " if self.hidden_nodes or self.conv else ""
        options = "".join(f", {cls.option_words(value)}" for cls, value in
                          ((option_kind(k, v), v) for k, v in self.options) if cls is not None)
        return f"{sizes}, {activation}{LOSS_WORDS[self.loss]}, {'bias' if self.bias else 'no bias'}{options}"

    def keyword_values(self) -> dict[str, Any]:
        """Every keyword beside the sizes, with its value here (:func:`keywords` lists them)."""
        return {"activation": self.activation, "loss": self.loss, "bias": self.bias, "conv": self.conv,
                **dict(self.options)}

    def to_json(self) -> dict[str, Any]:
        """The record a weights file and ``--json`` keep; ``conv`` and each option only where set,
        so that a fully connected network's record reads as before."""
        record = {"input_nodes": self.input_nodes, "hidden_nodes": list(self.hidden_nodes),
                  "output_nodes": self.output_nodes, "activation": self.activation, "loss": self.loss,
                  "bias": self.bias}
        if self.conv:
            record["conv"] = [list(layer) for layer in self.conv]
        record.update({k: v for k, v in self.options if v != option_default(k)})
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Architecture":
        """The inverse of :meth:`to_json`; a record that is not one fails with one sentence."""
        try:
            return cls(**{k: record[k] for k in ("input_nodes", "hidden_nodes", "output_nodes")},
                       **{k: record[k] for k in keywords() if k in record})
        except (KeyError, TypeError) as error:
            raise ParameterError(f"Not an architecture record ({error}): {record!r}.") from None

    @classmethod
    def of(cls, network: object) -> "Architecture":
        """The architecture of any network with the protocol's attributes.

        Reads ``input_nodes``, ``hidden_nodes`` and ``output_nodes``, and ``activation``, ``loss``,
        ``bias``, ``conv`` and each option (``norm``, ``dropout``) where the network has them (the
        book's values where it has not).
        """
        found = getattr(network, "architecture", None)
        if isinstance(found, cls):
            return found
        try:
            sizes = {k: getattr(network, k) for k in ("input_nodes", "hidden_nodes", "output_nodes")}
        except AttributeError as error:
            raise ParameterError(f"{type(network).__name__} has no attribute {error.name!r}, which a "
                                 "network needs: input_nodes, hidden_nodes and output_nodes.") from None
        extra = {k: getattr(network, k) for k in keywords() if hasattr(network, k)}
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
                 ",".join(map(conv_words, other.conv)) or "none"),
                *((k, v, dict(other.options)[k]) for k, v in self.options)):
            if mine != theirs:
                said.append(f"{name} {mine} here, {theirs} there")
        return said

    def changed_keywords(self) -> dict[str, Any]:
        """The keywords beside the sizes (``activation``, ``loss``, ``bias``, ``conv``, the options)
        whose values are not the book's."""
        defaults = keywords()
        return {k: v for k, v in self.keyword_values().items() if v != defaults[k]}

    def __repr__(self) -> str:
        conv = f", conv={self.conv}" if self.conv else ""
        options = "".join(f", {k}={v!r}" for k, v in self.options if v != option_default(k))
        return (f"Architecture({self.input_nodes}, {self.hidden_nodes}, {self.output_nodes}, "
                f"activation={self.activation!r}, loss={self.loss!r}, bias={self.bias}{conv}{options})")


def set_network_attributes(
    network: Any, input_nodes: object, hidden_nodes: object, output_nodes: object, learning_rate: object,
    activation: object, loss: object, bias: object, dtype: object, recipe: dict[str, Any] | None = None,
    conv: object = (),
) -> None:
    """Check the constructor arguments every backend takes and set the protocol's attributes.

    ``recipe``: the constructor's other keywords, each an option of the architecture
    (:data:`common.layers.OPTIONS`) or a field of the training recipe.

    Sets ``architecture`` (an :class:`Architecture`), ``recipe`` (a :class:`common.recipe.Recipe`
    built from the recipe's keywords), ``input_nodes``, ``hidden_nodes`` (as given: an int stays
    an int, a sequence becomes a list), ``output_nodes``, ``activation``, ``loss``, ``bias``,
    ``conv`` (a tuple of triples), each option (``norm``, ``dropout``), ``lr`` and ``dtype`` (a
    NumPy dtype). Raises ParameterError, in one sentence, before setting anything.
    """
    recipe = dict(recipe or {})
    options = {k: recipe.pop(k) for k in list(recipe) if k in OPTIONS}
    architecture = Architecture(input_nodes, hidden_nodes, output_nodes, activation, loss, bias, conv, **options)
    built = make_recipe(type(network).__name__, recipe)
    dtype = check_dtype(dtype)
    lr = check_learning_rate(learning_rate, dtype)
    network.lr, network.dtype, network.architecture, network.recipe = lr, dtype, architecture, built
    network.input_nodes, network.output_nodes = architecture.input_nodes, architecture.output_nodes
    network.hidden_nodes = (int(hidden_nodes) if isinstance(hidden_nodes, numbers.Integral)
                            else list(architecture.hidden_nodes))
    network.activation, network.loss, network.bias = architecture.activation, architecture.loss, architecture.bias
    network.conv = architecture.conv
    for keyword, value in architecture.options:
        setattr(network, keyword, value)


def network_repr(network: Any) -> str:
    """``Network(784, [200, 100], 10, 0.05, activation='tanh', optimizer='adam', dtype='float64'``:
    the architecture's and the recipe's keywords only where they differ from their defaults."""
    changed = {**network.architecture.changed_keywords(), **network.recipe.changed_keywords()}
    keywords = "".join(f", {k}={v!r}" for k, v in changed.items())
    return (f"{type(network).__name__}({network.input_nodes}, {network.hidden_nodes!r}, {network.output_nodes}, "
            f"{network.lr}{keywords}, dtype={network.dtype.name!r}")
