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
=============  ==========================================================================

Parameters are listed in the order of the torch twin's ``model.parameters()``: each layer's
weight ``(n_out, n_in)``, then its bias ``(n_out,)`` when there is one. With one hidden layer
they keep the book's names ``W_ih`` and ``W_ho`` (biases ``b_h`` and ``b_o``); at any other
depth layers are numbered from the input, ``W1, b1, W2, b2, ...``.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np

from common.errors import ParameterError
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

    Examples
    --------
    >>> Architecture(784, 200, 10)
    Architecture(784, (200,), 10, activation='sigmoid', loss='half_sse', bias=False)
    >>> Architecture(784, [200, 100], 10, "tanh", "cross_entropy", True).describe()
    '784-200-100-10, tanh, softmax cross-entropy, bias'
    """

    input_nodes: int
    hidden_nodes: tuple[int, ...]
    output_nodes: int
    activation: str = "sigmoid"
    loss: str = "half_sse"
    bias: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_nodes", check_positive_int("input_nodes", self.input_nodes))
        object.__setattr__(self, "hidden_nodes", _hidden_sizes(self.hidden_nodes))
        object.__setattr__(self, "output_nodes", check_positive_int("output_nodes", self.output_nodes))
        for name, value, allowed in (("activation", self.activation, ACTIVATIONS), ("loss", self.loss, LOSSES)):
            if value not in allowed:
                raise ParameterError(f"The '{name}' parameter must be one of {allowed}. Got {value!r} instead.")
        if not isinstance(self.bias, bool):
            raise ParameterError(f"The 'bias' parameter must be True or False. Got {self.bias!r} instead.")

    # -- the layers and their parameters ------------------------------------------------------

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(input_nodes, *hidden_nodes, output_nodes)``."""
        return (self.input_nodes, *self.hidden_nodes, self.output_nodes)

    @property
    def n_layers(self) -> int:
        """Layers of weights: one more than the hidden layers."""
        return len(self.hidden_nodes) + 1

    @property
    def is_book(self) -> bool:
        """The book's shape: one hidden layer, sigmoid, half squared error, no bias."""
        return len(self.hidden_nodes) == 1 and not self.changed_keywords()

    def layer_names(self) -> list[str]:
        """The weight of each layer: ``["W_ih", "W_ho"]`` with one hidden layer, else ``["W1", ...]``."""
        if len(self.hidden_nodes) == 1:
            return ["W_ih", "W_ho"]
        return [f"W{i}" for i in range(1, self.n_layers + 1)]

    def parameter_names(self) -> list[str]:
        """Every parameter in ``model.parameters()`` order: each weight, then its bias if any."""
        biases = ["b_h", "b_o"] if len(self.hidden_nodes) == 1 else [f"b{i}" for i in range(1, self.n_layers + 1)]
        names = []
        for weight, bias in zip(self.layer_names(), biases):
            names += [weight, bias] if self.bias else [weight]
        return names

    def parameter_shapes(self) -> list[tuple[int, ...]]:
        """Shapes matching :meth:`parameter_names`: ``(n_out, n_in)`` for a weight, ``(n_out,)`` for a bias."""
        sizes = self.layer_sizes
        shapes: list[tuple[int, ...]] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            shapes += [(n_out, n_in), (n_out,)] if self.bias else [(n_out, n_in)]
        return shapes

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
        """
        loss = LOSS_WORDS[self.loss]
        sizes = "-".join(str(n) for n in self.layer_sizes)
        activation = f"{self.activation}, " if self.hidden_nodes else ""  # no hidden layer, no activation
        return f"{sizes}, {activation}{loss}, {'bias' if self.bias else 'no bias'}"

    def to_json(self) -> dict[str, Any]:
        return {"input_nodes": self.input_nodes, "hidden_nodes": list(self.hidden_nodes),
                "output_nodes": self.output_nodes, "activation": self.activation, "loss": self.loss,
                "bias": self.bias}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Architecture":
        """The inverse of :meth:`to_json`; a record that is not one fails with one sentence."""
        try:
            return cls(**{k: record[k] for k in ("input_nodes", "hidden_nodes", "output_nodes")},
                       **{k: record[k] for k in ("activation", "loss", "bias") if k in record})
        except (KeyError, TypeError) as error:
            raise ParameterError(f"Not an architecture record ({error}): {record!r}.") from None

    @classmethod
    def of(cls, network: object) -> "Architecture":
        """The architecture of any network with the protocol's attributes.

        Reads ``input_nodes``, ``hidden_nodes`` and ``output_nodes``, and ``activation``, ``loss``
        and ``bias`` where the network has them (the book's values where it has not).
        """
        found = getattr(network, "architecture", None)
        if isinstance(found, cls):
            return found
        try:
            sizes = {k: getattr(network, k) for k in ("input_nodes", "hidden_nodes", "output_nodes")}
        except AttributeError as error:
            raise ParameterError(f"{type(network).__name__} has no attribute {error.name!r}, which a "
                                 "network needs: input_nodes, hidden_nodes and output_nodes.") from None
        extra = {k: getattr(network, k) for k in ("activation", "loss", "bias") if hasattr(network, k)}
        return cls(**sizes, **extra)

    def differences(self, other: "Architecture") -> list[str]:
        """What differs from ``other``, in words: ``["hidden layers 200 here, 200-100 there"]``."""
        said = []
        for name, mine, theirs in (
                ("inputs", self.input_nodes, other.input_nodes),
                ("hidden layers", "-".join(map(str, self.hidden_nodes)) or "none",
                 "-".join(map(str, other.hidden_nodes)) or "none"),
                ("outputs", self.output_nodes, other.output_nodes), ("activation", self.activation, other.activation),
                ("loss", self.loss, other.loss), ("bias", self.bias, other.bias)):
            if mine != theirs:
                said.append(f"{name} {mine} here, {theirs} there")
        return said

    def changed_keywords(self) -> dict[str, Any]:
        """The keywords ``activation``, ``loss`` and ``bias`` whose values are not the book's."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in ("activation", "loss", "bias") and getattr(self, f.name) != f.default}

    def __repr__(self) -> str:
        return (f"Architecture({self.input_nodes}, {self.hidden_nodes}, {self.output_nodes}, "
                f"activation={self.activation!r}, loss={self.loss!r}, bias={self.bias})")


def set_network_attributes(
    network: Any, input_nodes: object, hidden_nodes: object, output_nodes: object, learning_rate: object,
    activation: object, loss: object, bias: object, dtype: object, recipe: dict[str, Any] | None = None,
) -> None:
    """Check the constructor arguments every backend takes and set the protocol's attributes.

    Sets ``architecture`` (an :class:`Architecture`), ``recipe`` (a :class:`common.recipe.Recipe`
    built from the ``recipe`` keywords), ``input_nodes``, ``hidden_nodes`` (as given: an int stays
    an int, a sequence becomes a list), ``output_nodes``, ``activation``, ``loss``, ``bias``, ``lr``
    and ``dtype`` (a NumPy dtype). Raises ParameterError, in one sentence, before setting anything.
    """
    from common.recipe import make_recipe  # common.recipe imports nothing of this module's

    architecture = Architecture(input_nodes, hidden_nodes, output_nodes, activation, loss, bias)
    built = make_recipe(type(network).__name__, recipe or {})
    dtype = check_dtype(dtype)
    lr = check_learning_rate(learning_rate, dtype)
    network.lr, network.dtype, network.architecture, network.recipe = lr, dtype, architecture, built
    network.input_nodes, network.output_nodes = architecture.input_nodes, architecture.output_nodes
    network.hidden_nodes = (int(hidden_nodes) if isinstance(hidden_nodes, numbers.Integral)
                            else list(architecture.hidden_nodes))
    network.activation, network.loss, network.bias = architecture.activation, architecture.loss, architecture.bias


def network_repr(network: Any) -> str:
    """``Network(784, [200, 100], 10, 0.05, activation='tanh', optimizer='adam', dtype='float64'``:
    the architecture's and the recipe's keywords only where they differ from their defaults."""
    changed = {**network.architecture.changed_keywords(), **network.recipe.changed_keywords()}
    keywords = "".join(f", {k}={v!r}" for k, v in changed.items())
    return (f"{type(network).__name__}({network.input_nodes}, {network.hidden_nodes!r}, {network.output_nodes}, "
            f"{network.lr}{keywords}, dtype={network.dtype.name!r}")
