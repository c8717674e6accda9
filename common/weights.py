"""The initial weights, drawn once here and loaded into both backends; saving and loading them."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.errors import DataError
from common.files import atomic_write
from common.validation import check_dtype, check_positive_int


def initial_weights(
    input_nodes: int,
    hidden_nodes: int,
    output_nodes: int,
    seed: int | None = None,
    dtype: str | np.dtype = "float64",
) -> list[np.ndarray]:
    """Draw ``[W_ih, W_ho]`` as the book does: normal with mean 0 and std ``n_in ** -0.5``.

    The draw is made in float64 from ``numpy.random.default_rng(seed)`` and then cast, so a
    float32 and a float64 network built with one seed start from the same numbers, rounded.

    Returns
    -------
    list of ndarray
        ``W_ih`` of shape ``(hidden_nodes, input_nodes)`` and ``W_ho`` of shape
        ``(output_nodes, hidden_nodes)``: the ``(n_out, n_in)`` layout of ``nn.Linear.weight``.
    """
    input_nodes = check_positive_int("input_nodes", input_nodes)
    hidden_nodes = check_positive_int("hidden_nodes", hidden_nodes)
    output_nodes = check_positive_int("output_nodes", output_nodes)
    dtype = check_dtype(dtype)
    rng = np.random.default_rng(seed)
    wih = rng.normal(0.0, input_nodes**-0.5, size=(hidden_nodes, input_nodes))
    who = rng.normal(0.0, hidden_nodes**-0.5, size=(output_nodes, hidden_nodes))
    return [wih.astype(dtype), who.astype(dtype)]


def save_weights(path: str | os.PathLike, weights: list[np.ndarray]) -> Path:
    """Write ``[W_ih, W_ho]`` to a NumPy ``.npz`` file, atomically.

    The file is written under a temporary name in the same folder and renamed into place
    only once complete, so an interrupted save never leaves a half-written file behind.
    """
    path = Path(path)
    with atomic_write(path) as f:
        np.savez(f, W_ih=weights[0], W_ho=weights[1])
    return path


def load_weights(path: str | os.PathLike) -> list[np.ndarray]:
    """Read ``[W_ih, W_ho]`` written by :func:`save_weights` (from either backend)."""
    path = Path(path)
    try:
        with np.load(path) as archive:
            return [archive["W_ih"], archive["W_ho"]]
    except FileNotFoundError:
        raise DataError(f"{path}: no such weights file.") from None
    except (KeyError, ValueError, OSError) as error:
        raise DataError(f"{path}: not a weights file with arrays W_ih and W_ho ({error}).") from None
