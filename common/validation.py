"""Checks shared by both backends, each failing with one sentence in scikit-learn's style.

Example: "The 'lr' parameter must be a finite float > 0. Got -1 instead."
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Sequence

import numpy as np

from common.errors import ParameterError

if TYPE_CHECKING:  # common.architecture imports this module
    from common.architecture import Architecture

DTYPES = ("float32", "float64")


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise ParameterError unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParameterError(f"The '{name}' parameter must be an int >= 1. Got {value!r} instead.")
    return int(value)


def check_learning_rate(value: object, dtype: object = None) -> float:
    """Return ``value`` as a float, or raise ParameterError unless it is a finite number > 0
    that ``dtype`` (when given) holds as a finite number > 0: float32 rounds 1e39 to inf and
    1e-50 to 0, and torch refuses to step with a learning rate its dtype cannot hold."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        math.isfinite(value) and value > 0
    ):
        raise ParameterError(f"The 'lr' parameter must be a finite float > 0. Got {value!r} instead.")
    if dtype is not None:
        dtype = check_dtype(dtype)
        with np.errstate(over="ignore", under="ignore"):
            held = dtype.type(value)
        if not (np.isfinite(held) and held > 0):
            info = np.finfo(dtype)
            raise ParameterError(f"The 'lr' parameter must be a number {dtype.name} can hold, from "
                                 f"{info.smallest_subnormal:.2g} to {info.max:.2g}. Got {value!r} instead.")
    return float(value)


def check_dtype(value: object) -> np.dtype:
    """Return the NumPy dtype for "float32" or "float64" (a name, NumPy dtype or type)."""
    try:
        dtype = np.dtype(value)  # accepts "float64", np.float64, np.dtype("float64")
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise ParameterError(f"The 'dtype' parameter must be one of {DTYPES}. Got {value!r} instead.")
    return dtype


def check_weights(weights: Sequence[np.ndarray], architecture: "Architecture", dtype: np.dtype) -> list[np.ndarray]:
    """Return the parameters as C-contiguous copies in ``dtype``, checked against ``architecture``.

    Parameters
    ----------
    weights : sequence of array_like
        Every parameter in ``architecture.parameter_names()`` order (the torch twin's
        ``model.parameters()`` order): each weight ``(n_out, n_in)``, like
        ``torch.nn.Linear.weight`` (a convolution's ``(C_out, C_in, K, K)``, like
        ``torch.nn.Conv2d.weight``), then its bias ``(n_out,)`` when the architecture has biases.
        The book's network: ``[W_ih, W_ho]``.
    architecture : common.architecture.Architecture
    dtype : numpy.dtype
        The network's dtype.
    """
    return _check_arrays("parameters", weights, architecture.parameter_names(), architecture.parameter_shapes(),
                         dtype)


def check_batch(inputs_shape: tuple[int, ...], architecture: "Architecture") -> None:
    """One sentence unless a training pass on inputs of this shape can normalize over its batch:
    a batch normalization after a dense layer needs ``architecture.min_batch`` samples (one sample has
    no variance), refused before anything moves."""
    least, why = architecture.min_batch
    n = 1 if len(inputs_shape) == 1 else inputs_shape[0]
    if n < least:
        raise ParameterError(f"A training pass of {architecture.describe()} needs batches of at least {least} samples: "
                             f"{why}. Got {n} instead.")


def check_buffers(buffers: Sequence[np.ndarray], architecture: "Architecture", dtype: np.dtype) -> list[np.ndarray]:
    """Return the buffers (running statistics) as C-contiguous copies in ``dtype``, checked against
    ``architecture``: every buffer in ``architecture.buffer_names()`` order, as torch's
    ``model.buffers()`` without ``num_batches_tracked``; ``[]`` for a network without any."""
    return _check_arrays("buffers", buffers, architecture.buffer_names(), architecture.buffer_shapes(), dtype)


def _check_arrays(what: str, arrays: Sequence[np.ndarray], names: list[str], shapes: list[tuple[int, ...]],
                  dtype: np.dtype) -> list[np.ndarray]:
    if isinstance(arrays, np.ndarray) or len(arrays) != len(shapes):
        got = "an array" if isinstance(arrays, np.ndarray) else len(arrays)
        raise ParameterError(f"Expected {len(shapes)} {what} [{', '.join(names)}]. Got {got} instead.")
    checked = []
    for name, array, shape in zip(names, arrays, shapes):
        array = np.asarray(array)
        if array.shape != shape:
            layout = {2: " (n_out, n_in)", 4: " (C_out, C_in, K, K)"}.get(len(shape), " (n_out,)")
            raise ParameterError(f"{name} must have shape {shape}{layout}. Got {array.shape} instead.")
        if not np.all(np.isfinite(array)):
            raise ParameterError(f"{name} holds non-finite values (nan or inf).")
        checked.append(np.array(array, dtype=dtype, order="C", copy=True))
    return checked
