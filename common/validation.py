"""Checks shared by both backends, each failing with one sentence in scikit-learn's style.

Example: "The 'lr' parameter must be a finite float > 0. Got -1 instead."
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from common.errors import ParameterError

DTYPES = ("float32", "float64")


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise ParameterError unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParameterError(f"The '{name}' parameter must be an int >= 1. Got {value!r} instead.")
    return int(value)


def check_learning_rate(value: object) -> float:
    """Return ``value`` as a float, or raise ParameterError unless it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        math.isfinite(value) and value > 0
    ):
        raise ParameterError(f"The 'lr' parameter must be a finite float > 0. Got {value!r} instead.")
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


def check_network_parameters(
    input_nodes: object, hidden_nodes: object, output_nodes: object, learning_rate: object, dtype: object
) -> tuple[int, int, int, float, np.dtype]:
    """The constructor arguments every backend takes, checked: the sizes, ``lr`` and the dtype."""
    return (
        check_positive_int("input_nodes", input_nodes),
        check_positive_int("hidden_nodes", hidden_nodes),
        check_positive_int("output_nodes", output_nodes),
        check_learning_rate(learning_rate),
        check_dtype(dtype),
    )


def weight_shapes(input_nodes: int, hidden_nodes: int, output_nodes: int) -> list[tuple[int, int]]:
    """``[W_ih.shape, W_ho.shape]`` in the ``(n_out, n_in)`` layout: ``[(hidden, input), (output, hidden)]``."""
    return [(hidden_nodes, input_nodes), (output_nodes, hidden_nodes)]


def check_weights(
    weights: Sequence[np.ndarray], shapes: Sequence[tuple[int, int]], dtype: np.dtype
) -> list[np.ndarray]:
    """Return the weight matrices as C-contiguous copies in ``dtype``, checked against ``shapes``.

    Parameters
    ----------
    weights : sequence of array_like
        ``[W_ih, W_ho]``, laid out ``(n_out, n_in)`` like ``torch.nn.Linear.weight``.
    shapes : sequence of tuple
        The expected shapes, ``[(hidden, input), (output, hidden)]``.
    dtype : numpy.dtype
        The network's dtype.
    """
    names = ("W_ih", "W_ho")
    if len(weights) != len(shapes):
        raise ParameterError(
            f"Expected {len(shapes)} weight matrices [W_ih, W_ho]. Got {len(weights)} instead."
        )
    checked = []
    for name, matrix, shape in zip(names, weights, shapes):
        matrix = np.asarray(matrix)
        if matrix.shape != tuple(shape):
            raise ParameterError(
                f"{name} must have shape {tuple(shape)} (n_out, n_in). Got {matrix.shape} instead."
            )
        if not np.all(np.isfinite(matrix)):
            raise ParameterError(f"{name} holds non-finite values (nan or inf).")
        checked.append(np.array(matrix, dtype=dtype, order="C", copy=True))
    return checked
