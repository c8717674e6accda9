"""A layer as the learner wrote it, run on copies: cs231n's pair of functions and nnfs's objects.

- cs231n's pair (assignments 1 and 2, ``layers.py``): ``forward(x, *params[, param_dict]) -> (out,
  cache)`` and ``backward(dout, cache) -> dx`` or ``(dx, *dparams)``; the softmax loss is one
  function, ``softmax_loss(x, y) -> (loss, dx)``.
- nnfs's object (*Neural Networks from Scratch*): ``forward(inputs)`` or the later chapters'
  ``forward(inputs, training)`` storing ``output``, ``backward(dvalues)`` storing ``dinputs`` (and a
  dense layer's ``dweights``, ``dbiases``). It is built by its class for each configuration, as the
  book builds it (``Layer_Dense(n_inputs, n_neurons)``, ``Layer_Dropout(rate)``, the others without
  arguments), so that the check chooses the shapes.

Every array is handed over as a copy: whatever the code does to what it is given (writes into
``dout``, changes ``w`` or ``x`` in place) happens to the copy, and is told (:attr:`Calls.notes`).
An exception raised inside the code ends that stage of that configuration (:class:`UserRaised`,
carrying :class:`~compare.check.one_layer.Raised`); a result of the wrong form (not a pair, not an
array) is one sentence, a :class:`~common.errors.ConformanceError`.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from common.errors import ConformanceError, with_article
from compare.check.one_layer import BACKWARD, FORWARD, Raised, error_words
from compare.conformance import describe_user_error


class UserRaised(Exception):
    """The learner's code raised (or gave nothing to read) in one stage of one configuration."""

    def __init__(self, raised: Raised) -> None:
        super().__init__(raised.words)
        self.raised = raised


@dataclass(frozen=True)
class Pair:
    """cs231n's form: two functions (``backward`` None for the softmax loss, which is one)."""

    forward: Callable
    backward: Callable | None

    @property
    def words(self) -> str:
        return " / ".join(_name(f) for f in (self.forward, self.backward) if f is not None)

    def name(self, stage: str) -> str:
        return _name(self.forward if stage == FORWARD or self.backward is None else self.backward)


@dataclass(frozen=True)
class Object:
    """nnfs's form: the class of the object (given, or an instance's)."""

    cls: type

    @property
    def words(self) -> str:
        return self.cls.__name__

    def name(self, stage: str) -> str:
        return self.cls.__name__


def _name(function: Callable) -> str:
    return getattr(function, "__name__", type(function).__name__)


def _what(value: Any) -> str:
    """A value in a few words: an array by its shape and dtype, anything else by its type."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return "None" if value is None else with_article(type(value).__name__)


def form_of(kind: str, check: Any, forward: Any, backward: Any) -> Pair | Object:
    """The form of what ``check_layer(kind, forward, backward)`` was given; anything else one sentence."""
    call = f"check_layer({kind!r}, ...)"
    if backward is not None:
        for role, function in (("forward", forward), ("backward", backward)):
            if not callable(function) or inspect.isclass(function):
                raise ConformanceError(f"{call} takes cs231n's pair of functions, {check.pair_words}; its {role} is "
                                       f"{_what(function)}.")
        return Pair(forward, backward)
    is_object = inspect.isclass(forward) or (callable(getattr(forward, "forward", None)) and
                                             callable(getattr(forward, "backward", None)))
    if is_object:
        cls = forward if inspect.isclass(forward) else type(forward)
        if not check.objects:
            raise ConformanceError(f"{call} takes cs231n's pair for this kind, {check.pair_words}; nnfs has no "
                                   f"{kind} object, and {cls.__name__} was given.")
        for method in ("forward", "backward"):
            if not callable(getattr(cls, method, None)):
                raise ConformanceError(f"{cls.__name__} has no method {method!r}; an nnfs layer has forward(inputs) "
                                       "and backward(dvalues).")
        return Object(cls)
    if callable(forward) and check.single_function:
        return Pair(forward, None)
    if callable(forward):
        raise ConformanceError(f"{call} was given {_name(forward)} alone; it takes cs231n's pair, {check.pair_words} "
                               "(check_layer(kind, forward, backward)), or one nnfs object.")
    raise ConformanceError(f"{call} takes cs231n's pair of functions or an nnfs object; it was given "
                           f"{_what(forward)}.")


class Calls:
    """Runs the learner's code: on copies, with NumPy's floating-point warnings off (a nan is a number it
    gives), an exception as :class:`UserRaised`, a result of the wrong form as a ConformanceError."""

    def __init__(self, dtype: np.dtype, pair_words: str) -> None:
        self.dtype, self.pair_words = dtype, pair_words
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def call(self, stage: str, what: str, function: Callable, args: list[tuple[str, Any]]) -> Any:
        """``function(*values)`` on copies of the arrays among ``args`` (name, value); a change the call
        makes to one of them is noted."""
        copies = [np.array(value, copy=True) if isinstance(value, np.ndarray) else value for _, value in args]
        try:
            with np.errstate(all="ignore"):
                result = function(*copies)
        except (ConformanceError, MemoryError):
            raise
        except Exception as error:  # noqa: BLE001 (anything the learner's code raises is reported)
            raise UserRaised(Raised(stage, f"{what} raised {error_words(error)}",
                                    describe_user_error(what, error, whose="the code's"))) from None
        for (name, value), copy in zip(args, copies):
            if isinstance(value, np.ndarray) and not np.array_equal(value, copy, equal_nan=True):
                self.note(f"{what} changes the {name} it is given in place (every call is given a copy, so it is "
                          "checked all the same)")
        return result

    def array(self, value: Any, what: str, name: str, scalar: bool = False) -> Any:
        """``value`` if it is an ndarray (or a real number, where ``scalar``); a float64 array from
        float32 inputs is noted and compared as it is."""
        if scalar and np.ndim(value) == 0 and isinstance(value, (float, int, np.floating, np.integer, np.ndarray)):
            return float(value)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            expected = "a real number" if scalar else "an ndarray"
            raise ConformanceError(f"{what} returned {name} as {_what(value)}; expected {expected}.")
        if value.dtype != self.dtype and value.dtype.kind == "f":
            self.note(f"{what} returns {name} as {value.dtype} for {self.dtype.name} inputs (NumPy promotes where "
                      f"an array of {value.dtype} meets them); compared as it is")
        return value

    # -- cs231n's pair ----------------------------------------------------------------------------

    def forward(self, pair: Pair, args: list[tuple[str, Any]], returns: tuple[str, str] = ("out", "cache")
                ) -> tuple[Any, Any]:
        """``(out, cache)`` of ``pair.forward(*args)``; the softmax loss's ``returns`` are ("loss", "dx")."""
        what = pair.name(FORWARD)
        result = self.call(FORWARD, what, pair.forward, args)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ConformanceError(f"{what} returned {_what(result)}; expected ({', '.join(returns)}), cs231n's "
                                   f"form: {self.pair_words}.")
        if returns[0] == "loss":
            return self.array(result[0], what, "the loss", scalar=True), self.array(result[1], what, returns[1])
        return self.array(result[0], what, returns[0]), result[1]

    def backward(self, pair: Pair, dout: np.ndarray, cache: Any, names: tuple[str, ...]) -> dict[str, Any]:
        """``pair.backward(dout, cache)``: dx alone, or ``(dx, *dparams)`` named ``names``."""
        what = pair.name(BACKWARD)
        result = self.call(BACKWARD, what, pair.backward, [("dout", dout), ("cache", cache)])
        if len(names) == 1 and isinstance(result, np.ndarray):
            result = (result,)
        if not isinstance(result, (tuple, list)) or len(result) != len(names):
            expected = names[0] if len(names) == 1 else f"a tuple of {len(names)}: ({', '.join(names)})"
            raise ConformanceError(f"{what} returned {_what(result)}; expected {expected}, cs231n's form: "
                                   f"{self.pair_words}.")
        return {name: self.array(value, what, name) for name, value in zip(names, result)}

    # -- nnfs's object ----------------------------------------------------------------------------

    def build(self, obj: Object, *args: Any) -> Any:
        """The object, built as the book builds it: ``cls(*args)``."""
        shown = ", ".join(repr(a) for a in args)
        try:
            return obj.cls(*args)
        except Exception as error:  # noqa: BLE001
            raise ConformanceError(describe_user_error(f"{obj.words}({shown})", error, whose="the code's") +
                                   "\n(check_layer builds an nnfs layer as the book does: Layer_Dense(n_inputs, "
                                   "n_neurons), Layer_Dropout(rate), the others without arguments.)") from None

    def object_forward(self, layer: Any, args: list[tuple[str, Any]], training: bool | None = None) -> Any:
        """What ``layer.forward(*args[, training])`` returns; ``training`` is passed where forward takes it."""
        if training is not None and _takes(layer.forward, len(args) + 1):
            args = [*args, ("training", training)]
        return self.call(FORWARD, f"{type(layer).__name__}.forward", layer.forward, args)

    def object_backward(self, layer: Any, args: list[tuple[str, Any]]) -> None:
        self.call(BACKWARD, f"{type(layer).__name__}.backward", layer.backward, args)

    def stored(self, layer: Any, attribute: str, stage: str) -> np.ndarray:
        """The array ``layer`` stored as ``attribute`` (``output``, ``dinputs``, ``dweights``), copied."""
        method = f"{type(layer).__name__}.{stage}"
        if not isinstance(getattr(layer, attribute, None), np.ndarray):
            raise ConformanceError(f"{method} stored {attribute} as {_what(getattr(layer, attribute, None))}; an "
                                   f"nnfs layer's {stage} stores it as an ndarray (self.{attribute} = ...).")
        return self.array(np.array(getattr(layer, attribute), copy=True), method, attribute)


def _takes(method: Callable, count: int) -> bool:
    """Whether ``method`` takes ``count`` positional arguments."""
    try:
        inspect.signature(method).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): try the book's later form
        return True
    return True
