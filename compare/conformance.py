"""Does a user's network keep the Network protocol? Checked before anything is measured.

Each failure is one :class:`~common.errors.ConformanceError` sentence naming the method, what
came back and what was expected. An exception raised inside the user's code is reported the
same way, followed by the traceback's frames from the user's own files only: the library's
frames around the call and inside it (a network built on ``from_scratch.Network``), and those of
NumPy, torch or Python, are trimmed away. A MemoryError is not the user's mistake but the run's
size, and passes through (:func:`compare.race.runner.run` names what did not fit).
"""
from __future__ import annotations

import numbers
import os
import sysconfig
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from common.architecture import Architecture
from common.errors import ConformanceError, ParameterError, with_article
from common.recipe import READERS, SCHEDULE_READERS, Recipe
from common.tolerances import relative_difference, tolerance

METHODS = ("set_weights", "get_weights", "query", "gradients", "train")  # and intermediate_gradients, if any
LIBRARY = tuple(str(Path(__file__).resolve().parents[1] / package) + os.sep
                for package in ("compare", "common", "from_scratch", "torch_impl"))
ELSEWHERE = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})


# -- calling the user's code -------------------------------------------------------------------

def call_user(what: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``; an exception it raises becomes a ConformanceError that
    names ``what`` and shows the user's own frames."""
    try:
        return function(*args, **kwargs)
    except (ConformanceError, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 (anything the user's code raises is reported)
        raise ConformanceError(describe_user_error(what, error)) from None


def describe_user_error(what: str, error: BaseException, whose: str = "the network's") -> str:
    """``"MyNetwork.gradients raised ValueError: ..."`` and the user's frames, most recent last.

    The frames kept are those of Python files outside the library's packages (around the call,
    or inside it where the network builds on ``from_scratch``) and outside Python's and the
    installed packages' folders (NumPy, torch); compiled code (a ``.pyx`` frame) is never the
    user's. Wherever the call was made from, only the user's own code is shown, and the frames
    are labelled ``whose`` own (the network's, or a layer's code) only when there are such frames.
    """
    files = [f for f in traceback.extract_tb(error.__traceback__)
             if os.path.isabs(f.filename) and not f.filename.startswith(LIBRARY)]
    own = [f for f in files if not f.filename.startswith(ELSEWHERE)]
    if not own:  # a network installed as a package lives among the installed packages
        own = files
    lines = traceback.format_exception_only(type(error), error)
    text = f"{what} raised {''.join(lines).strip()}"
    if own:
        text += f"\nTraceback ({whose} own frames, most recent call last):\n" + "".join(
            traceback.format_list(own)).rstrip()
    return text


class Guarded:
    """A user's network whose methods report an exception raised inside them with the user's own
    frames (:func:`call_user`); every attribute is the network's own."""

    GUARDED = (*METHODS, "intermediate_gradients")

    def __init__(self, network: object) -> None:
        self.__dict__["network"] = network

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.network, name)
        if name not in self.GUARDED or not callable(value):
            return value
        what = f"{type(self.network).__name__}.{name}"
        return lambda *args, **kwargs: call_user(what, value, *args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.network, name, value)


# -- what the network is -------------------------------------------------------------------------

def architecture_of(network: object) -> Architecture:
    """:meth:`Architecture.of`, with a missing attribute or a bad value as a ConformanceError."""
    for name in ("input_nodes", "hidden_nodes", "output_nodes", "lr", "dtype"):
        if not hasattr(network, name):
            raise ConformanceError(f"{type(network).__name__} has no attribute {name!r}; a network needs "
                                   "input_nodes, hidden_nodes, output_nodes, lr and dtype.")
    for name in METHODS:
        if not callable(getattr(network, name, None)):
            raise ConformanceError(f"{type(network).__name__} has no method {name!r}; a network needs "
                                   f"{', '.join(METHODS[:-1])} and {METHODS[-1]}.")
    lr = network.lr
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
        raise ConformanceError(f"{type(network).__name__}.lr is {lr!r}; expected the learning rate, a float > 0.")
    network_dtype(network)
    try:
        architecture = Architecture.of(network)
    except ParameterError as error:
        raise ConformanceError(f"{type(network).__name__} does not describe its layers: {error}") from None
    name = type(network).__name__
    if architecture.buffers() and not all(callable(getattr(network, m, None)) for m in ("get_buffers", "set_buffers")):
        raise ConformanceError(f"{name} keeps buffers ({', '.join(architecture.buffer_names())}), which evaluation "
                               "reads and training moves, so it needs get_buffers() and set_buffers(buffers) to be "
                               "compared and started from another network's (docs/check-your-network.md says how).")
    drawing = [layer.name for layer in architecture.layers if layer.draws]
    if drawing and not hasattr(network, "layer_seed"):
        raise ConformanceError(f"{name} has layers that draw random numbers ({', '.join(drawing)}), so it needs a "
                               "layer_seed attribute they draw from, with common.layers.layer_rng(layer_seed, step, "
                               "index), for its twin to draw the same (docs/check-your-network.md says how).")
    return architecture


def recipe_of(network: object) -> Recipe:
    """:meth:`Recipe.of`, with a bad value (``momentum = -1``, ``optimizer = torch.optim.Adam(...)``) as a
    ConformanceError; an attribute that only another optimizer or schedule reads (an ``alpha`` of the
    network's own beside ``optimizer = "adam"``) is named, to be renamed or removed."""
    try:
        return Recipe.of(network)
    except ParameterError as error:
        name = type(network).__name__
        extra = _unread_attribute(network)
        if extra is not None:
            attribute, readers, stated = extra
            raise ConformanceError(
                f"{name} has an attribute {attribute} = {getattr(network, attribute)!r}, which the training recipe "
                f"reads for {readers} only, beside {stated}: rename or remove the attribute {attribute!r} (the recipe "
                "is read from attributes of torch.optim's names), or state the recipe as recipe = "
                "common.recipe.Recipe(...).") from None
        raise ConformanceError(f"{name} does not state its training recipe: {error}") from None


def _unread_attribute(network: object) -> tuple[str, str, str] | None:
    """The first recipe attribute the network sets that its optimizer (or schedule) does not read: (its
    name, who reads it, what the network states instead); None if there is none."""
    optimizer, schedule = getattr(network, "optimizer", "sgd"), getattr(network, "schedule", "constant")
    defaults = {f.name: f.default for f in fields(Recipe)}
    for table, stated in ((READERS, optimizer), (SCHEDULE_READERS, schedule)):
        for attribute, readers in table.items():
            if hasattr(network, attribute) and getattr(network, attribute) != defaults[attribute] and \
                    stated not in readers:
                kind = "optimizer" if table is READERS else "schedule"
                return attribute, f"{kind} {' or '.join(repr(r) for r in readers)}", f"{kind} = {stated!r}"
    return None


def network_dtype(network: object) -> np.dtype:
    try:
        dtype = np.dtype(network.dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in ("float32", "float64"):
        raise ConformanceError(f"{type(network).__name__}.dtype is {network.dtype!r}; expected float32 or float64.")
    return dtype


def computing_dtype(network: Any, stated: np.dtype, sample: np.ndarray) -> np.dtype:
    """The dtype the network computes in: the one it states, or float64 where it states float32 and both
    ``get_weights`` and ``query`` (of one float32 sample) return float64 arrays, as NumPy promotes a
    network holding one float64 array (``np.random.randn`` weights kept as they come)."""
    if stated != np.float32:
        return stated
    name = type(network).__name__
    try:
        weights = call_user(f"{name}.get_weights", network.get_weights)
        outputs = call_user(f"{name}.query", network.query, np.asarray(sample, dtype=np.float32))
    except ConformanceError:  # check_conformance says what is wrong, in its own words
        return stated
    arrays = [*(weights if isinstance(weights, (list, tuple)) else [weights]), outputs]
    if all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays):
        return np.dtype(np.float64)
    return stated


def dtype_words(network: Any, stated: np.dtype, computed: np.dtype) -> str:
    """Why a network is checked in another dtype than it states, in words; ``""`` where it is not."""
    if stated == computed:
        return ""
    return (f"{type(network).__name__} states dtype {stated.name} and computes in {computed.name} (its get_weights "
            f"and query return {computed.name}: NumPy promotes every array that meets one of {computed.name}), so it "
            f"is checked in {computed.name}, the dtype it computes in")


# -- what its methods return ---------------------------------------------------------------------

CONV_HINT = ("the network describes dense layers only; a convolutional network states its layers as "
             "conv = ((channels, kernel, padding), ...), as it takes them")


def check_array(value: object, shape: tuple[int, ...], dtype: np.dtype, what: str, name: str = "") -> np.ndarray:
    """``value`` if it is an ndarray of ``shape`` and ``dtype``, else one sentence saying what it is."""
    expected = f"an ndarray of shape {shape} and dtype {dtype.name}"
    label = f"{name} " if name else "an array "  # what came back, named: "W1 of shape ...", "an array of shape ..."
    if not isinstance(value, np.ndarray):
        got = f"{name} as {with_article(type(value).__name__)}" if name else with_article(type(value).__name__)
        raise ConformanceError(f"{what} returned {got}; expected {expected}.")
    if value.shape != shape:
        hint = (" (the transpose: weights are laid out (n_out, n_in), as nn.Linear.weight)"
                if len(shape) == 2 and value.shape == shape[::-1] else
                " (the batch axis n kept for one sample: for inputs of shape (784,), every array comes without it)"
                if value.shape == (1, *shape) else
                f" (a convolution's weight where a dense one belongs: {CONV_HINT})" if value.ndim == 4 and len(shape) != 4
                else "")
        raise ConformanceError(f"{what} returned {label}of shape {value.shape}; expected {shape}{hint}.")
    if value.dtype != dtype:
        raise ConformanceError(f"{what} returned {label}of dtype {value.dtype}; expected {dtype.name}, "
                               "the network's dtype.")
    return value


def check_arrays(values: object, names: Sequence[str], shapes: Sequence[tuple[int, ...]], dtype: np.dtype,
                 what: str) -> list[np.ndarray]:
    """A list (or tuple) of arrays, one per name, each checked by :func:`check_array`."""
    listed = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
    if not isinstance(values, (list, tuple)):
        raise ConformanceError(f"{what} returned a {type(values).__name__}; expected a list of {len(names)} "
                               f"arrays: {listed}.")
    if len(values) != len(names):
        unstated = any(np.ndim(v) == 4 for v in values) and not any(len(shape) == 4 for shape in shapes)
        raise ConformanceError(f"{what} returned {len(values)} arrays; expected {len(names)}: {listed}"
                               + (f" (a convolution's weight among them: {CONV_HINT})." if unstated else "."))
    return [check_array(v, s, dtype, what, n) for v, n, s in zip(values, names, shapes)]


def short_repr(value: object, limit: int = 60) -> str:
    """What a message quotes of a value the user's code returned, in a few words: an array by its shape and
    dtype, a tuple or list by its first items, a dict by its keys, anything else by its repr, cut to ``limit``.

    >>> short_repr((0.53, {"W1": np.zeros((784, 200)), "b1": np.zeros(200)}))
    "a tuple of 2: (0.53, a dict with keys 'W1', 'b1')"
    """
    if isinstance(value, np.ndarray):
        return f"an ndarray of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:4]) + (", ..." if len(value) > 4 else "")
        return f"a dict with keys {keys}" if value else "an empty dict"
    if isinstance(value, (tuple, list)) and value:
        items = ", ".join(short_repr(v, 20) for v in value[:3]) + (", ..." if len(value) > 3 else "")
        return f"a {type(value).__name__} of {len(value)}: ({items})"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_loss(value: object, what: str) -> float:
    """The loss ``train`` returns: a real number (a Python or NumPy float)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        pair = isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], numbers.Real)
        hint = (" (cs231n's loss(X, y) returns (loss, grads); train() takes the step itself and returns the loss "
                "alone)" if pair else "")
        raise ConformanceError(f"{what} returned {short_repr(value)}; expected the loss before the step, a "
                               f"float{hint}.")
    return float(value)


def intermediate_shapes(architecture: Architecture, n: int | None) -> dict[str, list[tuple[int, ...]]]:
    """Shapes of ``intermediate_gradients``: dL/dz of every layer, dL/dh of every hidden layer
    (a convolution layer's as maps, :meth:`Architecture.intermediate_shapes`)."""
    rows = () if n is None else (n,)
    return {key: [rows + shape for shape in shapes] for key, shapes in architecture.intermediate_shapes().items()}


def check_intermediates(value: object, architecture: Architecture, n: int | None, dtype: np.dtype,
                        what: str) -> dict[str, list[np.ndarray]]:
    shapes = intermediate_shapes(architecture, n)
    if not isinstance(value, dict) or set(value) != set(shapes):
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise ConformanceError(f"{what} returned {got}; expected a dict with keys 'dLdz' (one array per layer, "
                               "input side first) and 'dLdh' (one per hidden layer).")
    return {key: check_arrays(value[key], [f"{key}[{i}]" for i in range(len(s))], s, dtype, what)
            for key, s in shapes.items()}


def _query(network: Any, x: np.ndarray, shape: tuple[int, ...]) -> Any:
    """``network.query(x)``; where it raises and would run with every weight transposed, one sentence
    saying that the network keeps the other layout, (n_in, n_out), and where to transpose."""
    name = type(network).__name__
    try:
        return call_user(f"{name}.query", network.query, x.copy())
    except ConformanceError as error:
        weights = network.get_weights()
        flipped = [w.T.copy() if w.ndim == 2 and w.shape[0] != w.shape[1] else w for w in weights]
        if all(f is w for f, w in zip(flipped, weights)):
            raise
        try:
            network.set_weights(flipped)
            runs = np.shape(network.query(x.copy())) == shape
        except Exception:  # noqa: BLE001 (it fails transposed too: the first error stands)
            runs = False
        finally:
            network.set_weights(weights)
        if not runs:
            raise
        first = next(w for w in weights if w.ndim == 2)
        raise ConformanceError(
            f"{name}.query fails with the weights it was handed, laid out (n_out, n_in) as nn.Linear.weight is "
            f"(the first {first.shape}), and runs with each transposed: {name} keeps its weights (n_in, n_out), as "
            "cs231n and nnfs do; transpose them in set_weights and get_weights (w.T), so that the library's layout "
            f"goes in and comes out. ({str(error).splitlines()[0]})") from None


def check_conformance(network: object, inputs: np.ndarray, targets: np.ndarray,
                      dtype: np.dtype | None = None) -> Architecture:
    """Check every method but ``train`` once, on one sample and on the batch, and restore the weights.

    ``train`` is not called here, so that the measurements start from the network's own state
    (a momentum, a step counter); its result is checked at its first call (:func:`check_loss`).

    Parameters
    ----------
    inputs : ndarray of shape (n, input_nodes)
    targets : ndarray of shape (n, output_nodes)

    dtype : numpy.dtype, optional
        The dtype its arrays must have: by default the one it states (:func:`computing_dtype`'s, where
        that is another).

    Returns
    -------
    Architecture
        What the network says it is.
    """
    architecture = architecture_of(network)
    dtype, n = network_dtype(network) if dtype is None else dtype, len(inputs)
    names, shapes = architecture.parameter_names(), architecture.parameter_shapes()
    name = type(network).__name__
    weights = check_arrays(call_user(f"{name}.get_weights", network.get_weights), names, shapes, dtype,
                           f"{name}.get_weights")
    again = call_user(f"{name}.get_weights", network.get_weights)
    for layer, first, second in zip(names, weights, again):
        if np.shares_memory(first, second):
            raise ConformanceError(f"{name}.get_weights returned {layer} as the network's own array twice; expected "
                                   "a copy, which a later step cannot change.")
    halved = [w * dtype.type(0.5) for w in weights]
    for loaded in (halved, weights):  # a second set proves set_weights does not ignore what it is given
        call_user(f"{name}.set_weights", network.set_weights, [w.copy() for w in loaded])
        back = check_arrays(call_user(f"{name}.get_weights", network.get_weights), names, shapes, dtype,
                            f"{name}.get_weights")
        for layer, got, given in zip(names, back, loaded):
            difference = relative_difference(got, given)
            if difference > tolerance(dtype).single:
                raise ConformanceError(f"{name}.get_weights returned {layer} {difference:.3g} (relative) away from "
                                       "what set_weights was given; expected the same weights back.")
    if architecture.buffers():
        check_arrays(call_user(f"{name}.get_buffers", network.get_buffers), architecture.buffer_names(),
                     architecture.buffer_shapes(), dtype, f"{name}.get_buffers")
    modes = ((inputs[0], targets[0], None, "one sample"), (inputs, targets, n, f"{n} samples"))
    for x, t, rows, label in modes[1:] if architecture.min_batch[0] > 1 else modes:
        out_shape = (architecture.output_nodes,) if rows is None else (rows, architecture.output_nodes)
        check_array(_query(network, x, out_shape), out_shape, dtype, f"{name}.query for {label}")
        check_arrays(call_user(f"{name}.gradients", network.gradients, x.copy(), t.copy()), names, shapes, dtype,
                     f"{name}.gradients for {label}")
        if callable(getattr(network, "intermediate_gradients", None)):
            check_intermediates(call_user(f"{name}.intermediate_gradients", network.intermediate_gradients,
                                          x.copy(), t.copy()), architecture, rows, dtype,
                                f"{name}.intermediate_gradients for {label}")
    call_user(f"{name}.set_weights", network.set_weights, [w.copy() for w in weights])
    return architecture
