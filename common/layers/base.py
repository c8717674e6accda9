"""What every layer kind says of itself: its shapes, parameters, buffers, words and options.

A network is a sequence of layers (:class:`common.architecture.Architecture` builds it from its
keywords); each layer is one frozen spec, an instance of a subclass of :class:`Layer` in its own
module of :mod:`common.layers`. Everything that differs between kinds is asked of the spec:

=======================  ===================================================================
asked                    answered by
=======================  ===================================================================
shapes                   ``inputs`` (per sample, given) and :attr:`Layer.outputs`
parameters               :meth:`Layer.parameters`: name, shape, starting value, whether
                         weight decay reaches it by default
buffers                  :meth:`Layer.buffers`: state that is not trained (running statistics)
words                    :meth:`Layer.words`, for ``describe()`` and reports
an architecture keyword  :class:`Option` (``norm="batch"``, ``dropout=0.3``): which kinds a
                         keyword puts into every hidden block, and where
=======================  ===================================================================

The same kind is implemented once in each backend and checked once, found by the spec's
:attr:`Layer.module`: ``from_scratch.layers.<module>`` (a forward/backward pair),
``torch_impl.layers.<module>`` (a builder of its ``nn.Module``) and
``compare.check.mistakes.<module>`` (its catalogue of classic mistakes). No other place lists
the kinds: :mod:`common.layers` finds them by importing its own modules.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

# Where a kind that an architecture keyword adds goes in each hidden block: between the affine map
# (a dense layer's W a + b, a convolution) and the activation, or after the block's activation
# (and its pool), on the output h the next layer reads.
BEFORE_ACTIVATION = "before_activation"
AFTER_BLOCK = "after_block"

KINDS: dict[str, type["Layer"]] = {}  # each kind, as check_layer spells it: its spec class
OPTIONS: dict[str, list[type["Layer"]]] = {}  # each architecture keyword: the kinds it adds


@dataclass(frozen=True)
class Parameter:
    """A trained array of a layer.

    ``start``: "fan_in" (normal, mean 0, standard deviation ``fan_in ** -0.5``, the book's, with
    ``fan_in`` the product of every axis but the first), "zeros" or "ones". ``weight``: weight
    decay and L2 reach it by default (a dense or convolution weight); a bias or a normalization's
    γ and β only with the recipe's ``decay_biases``.
    """

    name: str
    shape: tuple[int, ...]
    start: str
    weight: bool = False

    def initial(self, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
        """Its starting value; only "fan_in" draws from ``rng`` (in float64, then cast)."""
        if self.start == "fan_in":
            return rng.normal(0.0, math.prod(self.shape[1:]) ** -0.5, size=self.shape).astype(dtype)
        return np.full(self.shape, 1.0 if self.start == "ones" else 0.0, dtype=dtype)


@dataclass(frozen=True)
class Buffer:
    """An array a layer keeps and updates in training, but that no gradient reaches: torch's
    ``register_buffer`` (a batch normalization's ``running_mean`` and ``running_var``).

    ``name`` is the network's (``running_mean1``); ``key`` the layer's own, torch's attribute
    (``running_mean``).
    """

    name: str
    key: str
    shape: tuple[int, ...]
    start: float

    def initial(self, dtype: np.dtype) -> np.ndarray:
        return np.full(self.shape, self.start, dtype=dtype)


@dataclass(frozen=True)
class Option:
    """An architecture keyword that puts a layer of one kind into every hidden block.

    Several kinds may share a keyword, each named by its own value (``norm="batch"``,
    ``norm="layer"``); a kind whose value is a number it reads (``dropout=0.3``) has no ``choice``.

    Parameters
    ----------
    keyword : str
        The keyword of both networks, of ``Architecture`` and (as ``--keyword``) of the command line.
    place : str
        :data:`BEFORE_ACTIVATION` or :data:`AFTER_BLOCK`.
    choice : str or None
        The keyword's value that names this kind; None where the value is a number (see ``check``).
    check : callable or None
        For a numeric option: the value, checked (one sentence, ParameterError), or None where it
        adds no layer (``dropout=0``).
    help : str
        What the keyword does, for ``--help`` and messages.
    """

    keyword: str
    place: str
    help: str
    choice: str | None = None
    check: Callable[[Any], Any] | None = None
    metavar: str = ""


@dataclass(frozen=True)
class Layer:
    """One layer of a network, per sample: the base every kind's spec derives from.

    Parameters
    ----------
    inputs : tuple of int
        The shape of one sample's input: ``(features,)`` after a dense layer, ``(C, H, W)`` for a map.
    label : str
        The block the layer belongs to, which names its parameters and buffers: "h" and "o" in the
        book's network (``b_h``), "1", "2", ... at other depths (``b1``), "conv1", ... for a
        convolution layer (``b_conv1``); "" for a layer outside every block (the flatten).
    name : str
        The layer's own name, as the torch twin's module is named (``wih``, ``relu1``, ``pool1``).
    """

    kind: ClassVar[str]  # as check_layer and the reports spell it
    module: ClassVar[str] = ""  # the modules implementing it are named after this ("" means: the kind)
    affine: ClassVar[bool] = False  # its output is a block's z (a dense or convolution layer)
    modal: ClassVar[bool] = False  # computes otherwise in training than in evaluation (dropout, batch norm)
    draws: ClassVar[bool] = False  # draws random numbers in training (dropout's mask): see layer_rng
    absorbs_bias: ClassVar[bool] = False  # cancels a bias before it (subtracts its mean): that gradient is exactly 0
    option: ClassVar[Option | None] = None  # the architecture keyword that adds it, if any

    inputs: tuple[int, ...]
    label: str = ""
    name: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each class that names its kind (or kinds) is registered in :data:`KINDS` and, with an
        option, :data:`OPTIONS`: defining the class is all it takes."""
        super().__init_subclass__(**kwargs)
        kinds = vars(cls).get("kinds", (vars(cls)["kind"],) if "kind" in vars(cls) else ())
        for kind in kinds:
            KINDS[kind] = cls
        if kinds and cls.option is not None:
            OPTIONS.setdefault(cls.option.keyword, []).append(cls)

    @property
    def outputs(self) -> tuple[int, ...]:
        """The shape of one sample's output (the input's, unless a kind says otherwise)."""
        return self.inputs

    def parameters(self) -> tuple[Parameter, ...]:
        return ()

    def buffers(self) -> tuple[Buffer, ...]:
        return ()

    def words(self) -> str:
        return self.kind

    @property
    def called(self) -> str:
        """How reports and causes name the layer: its name (``conv1``, ``pool1``); a dense layer by its weight."""
        return self.name

    @property
    def block_words(self) -> str:
        """The block an affine layer starts, in words: ``conv1``, ``W_ih's layer``."""
        return self.called

    def gradient_words(self, parameter: str) -> str:
        """How the backward pass makes ``parameter``'s gradient, in words (for a departure's whereabouts)."""
        return f"dL/d{parameter} of {self.called}"

    def backward_words(self, block: str) -> str:
        """How the backward pass makes dL/dx from dL/d(output), in words; ``block``: the block's words."""
        return f"the backward pass of {self.name}"

    def min_batch(self) -> tuple[int, str]:
        """The fewest samples a training pass through this layer can take, and why (1 for most)."""
        return 1, ""

    def work_floats(self) -> int:
        """Numbers one sample needs in the layer beyond its input and output (im2col's columns)."""
        return 0

    def tag(self, prefix: str) -> str:
        """``prefix`` named for this layer's block: ``b1``, ``b_h``, ``b_conv1``, ``running_mean1``."""
        return prefix + self.label if self.label.isdigit() else f"{prefix}_{self.label}"

    @classmethod
    def implementation(cls) -> str:
        """The stem of the modules implementing this kind in each package."""
        return cls.module or cls.kind

    @classmethod
    def for_block(cls, value: Any, inputs: tuple[int, ...], label: str, name: str) -> "Layer":
        """The layer its :attr:`option` puts into a hidden block, reading ``inputs``; kinds with an
        option override this."""
        raise NotImplementedError(f"{cls.__name__} is not added by an architecture keyword.")

    @classmethod
    def option_words(cls, value: Any) -> str:
        """The option in words, for ``describe()``: "batch norm", "dropout 0.3"."""
        return cls.kind



class Normalization(Layer):
    """What batch and layer normalization share: a γ (starting at 1) and a β (at 0) for each feature, or
    each channel of a map, which weight decay reaches only where the recipe decays every parameter."""

    @property
    def features(self) -> int:
        return self.inputs[0]  # the features, or the channels of a map

    def parameters(self) -> tuple[Parameter, ...]:
        return (Parameter(self.tag("gamma"), (self.features,), "ones"),
                Parameter(self.tag("beta"), (self.features,), "zeros"))

    def gradient_words(self, parameter: str) -> str:
        what = "x̂" if parameter.startswith("gamma") else "1"
        return f"dL/d{parameter.split('_')[0].rstrip('0123456789')} of {self.name}, dL/dy times {what} summed over the batch"

    def words(self) -> str:
        return f"{self.option.choice} norm"  # "batch norm", "layer norm"

    @classmethod
    def for_block(cls, value: Any, inputs: tuple[int, ...], label: str, name: str) -> "Normalization":
        return cls(inputs, label, name)

    @classmethod
    def option_words(cls, value: Any) -> str:
        return f"{cls.option.choice} norm"


def layer_rng(seed: int, step: int, index: int) -> np.random.Generator:
    """The random numbers a layer that draws (dropout) uses at one training pass.

    A function of the network's ``layer_seed``, the step (``train()`` calls taken before this
    pass: 0 at the first) and the layer's index among the network's drawing layers (0 for the
    first, input side first), and of nothing else: both backends, and a network written by hand,
    draw the same numbers for the same pass, and a step retrained from a snapshot draws them again.
    """
    return np.random.default_rng([int(seed), int(step), int(index)])
