"""The initial weights, drawn once here and loaded into both backends; saving and loading them."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from common.architecture import Architecture
from common.errors import DataError, ParameterError
from common.files import atomic_write
from common.recipe import Recipe
from common.validation import check_dtype

ARCHITECTURE_KEY = "architecture"  # the .npz entry holding the architecture as JSON text
RECIPE_KEY = "recipe"  # the .npz entry holding the training recipe as JSON text, when one was given


def initial_weights(
    architecture: Architecture | int,
    hidden_nodes: int | list[int] | None = None,
    output_nodes: int | None = None,
    seed: int | None = None,
    dtype: str | np.dtype = "float64",
) -> list[np.ndarray]:
    """Draw every parameter as the book does: weights normal(0, ``n_in ** -0.5``), biases 0.

    A convolution's ``n_in`` is what each of its outputs reads, ``C_in · K · K`` (its fan-in); a
    normalization's γ starts at 1 and its β at 0. Each layer's spec says how its parameters start
    (:class:`common.layers.Parameter`).

    Two forms: ``initial_weights(architecture, seed=0)`` or, for the sizes alone (sigmoid,
    no bias), ``initial_weights(784, 200, 10, seed=0)``. The matrices are drawn one after
    the other, from the input side, from one ``numpy.random.default_rng(seed)``, in float64,
    and then cast: a float32 and a float64 network built with one seed start from the same
    numbers, rounded, and the book's 784-200-10 draw is the same at every version.

    Returns
    -------
    list of ndarray
        In ``architecture.parameter_names()`` order: each weight of shape ``(n_out, n_in)``
        (the layout of ``nn.Linear.weight``; a convolution's ``(C_out, C_in, K, K)``, as
        ``nn.Conv2d.weight``), then its bias ``(n_out,)`` if the architecture has biases, then
        any other parameter of the layer's block. The book's network: ``[W_ih, W_ho]``.
    """
    if isinstance(architecture, Architecture):
        if hidden_nodes is not None or output_nodes is not None:
            raise ParameterError("Give initial_weights an Architecture or the three layer sizes, not both; "
                                 "pass seed and dtype by keyword.")
    else:
        architecture = Architecture(architecture, hidden_nodes, output_nodes)
    dtype = check_dtype(dtype)
    rng = np.random.default_rng(seed)
    return [parameter.initial(rng, dtype) for parameter in architecture.parameters()]


def initial_buffers(architecture: Architecture, dtype: str | np.dtype = "float64") -> list[np.ndarray]:
    """Every buffer's starting value, in ``architecture.buffer_names()`` order (torch's: a running
    mean at 0, a running variance at 1); ``[]`` for a network without buffers."""
    dtype = check_dtype(dtype)
    return [buffer.initial(dtype) for buffer in architecture.buffers()]


def save_weights(path: str | os.PathLike, weights: list[np.ndarray], architecture: Architecture | None = None,
                 recipe: Recipe | None = None, buffers: list[np.ndarray] | None = None) -> Path:
    """Write the parameters (and their architecture and training recipe) to a NumPy ``.npz`` file, atomically.

    Each array is stored under its name in ``architecture.parameter_names()``, and the
    architecture itself as JSON text, so :func:`load_weights` can refuse the file for a
    network of another shape; the recipe the weights were trained with, when given, as JSON
    text too (:func:`load_recipe`); the buffers (running statistics), where the architecture has
    any, under their names in ``architecture.buffer_names()`` (:func:`load_buffers`). Without ``architecture`` only the book's ``[W_ih, W_ho]``
    can be saved (the format of earlier versions, without the record).

    The file is written under a temporary name in the same folder and renamed into place
    only once complete, so an interrupted save never leaves a half-written file behind.
    """
    path = Path(path)
    if architecture is None:
        if len(weights) != 2 or any(np.ndim(w) != 2 for w in weights):
            raise ParameterError(f"Saving {len(weights)} parameters needs their architecture: "
                                 "save_weights(path, network.get_weights(), network.architecture).")
        arrays = {"W_ih": weights[0], "W_ho": weights[1]}
    else:
        names = architecture.parameter_names()
        if len(weights) != len(names):
            raise ParameterError(f"Expected {len(names)} parameters [{', '.join(names)}] for "
                                 f"{architecture.describe()}. Got {len(weights)} instead.")
        arrays = dict(zip(names, weights))
        buffer_names = architecture.buffer_names()
        if buffer_names:
            if buffers is None or len(buffers) != len(buffer_names):
                raise ParameterError(f"Saving {architecture.describe()} needs its buffers [{', '.join(buffer_names)}] "
                                     "too: save_weights(path, weights, architecture, recipe, network.get_buffers()).")
            arrays.update(zip(buffer_names, buffers))
        arrays[ARCHITECTURE_KEY] = np.array(json.dumps(architecture.to_json()))
        if recipe is not None:
            arrays[RECIPE_KEY] = np.array(json.dumps(recipe.to_json()))
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return path


@contextlib.contextmanager
def _archive(path: Path) -> Iterator[Any]:
    """A weights file's arrays, open; a file that is missing or is no weights file of this library is
    one sentence (DataError), whatever inside it could not be read."""
    try:
        with np.load(path) as archive:
            yield archive
    except FileNotFoundError:
        raise DataError(f"{path}: no such weights file.") from None
    except (KeyError, ValueError, OSError, ParameterError) as error:
        raise DataError(f"{path}: not a weights file of this library ({error}).") from None


def load_weights(path: str | os.PathLike, architecture: Architecture | None = None) -> list[np.ndarray]:
    """Read the parameters written by :func:`save_weights` (from either backend).

    Parameters
    ----------
    path : path-like
    architecture : Architecture, optional
        The network the weights are for. A file saved for another architecture is refused
        with one sentence saying what differs. Files without an architecture record (the
        book's ``W_ih`` and ``W_ho`` alone) are checked by their shapes.

    Returns
    -------
    list of ndarray
        In the file's ``parameter_names()`` order, ready for ``network.set_weights``.
    """
    path = Path(path)
    with _archive(path) as archive:
        if ARCHITECTURE_KEY in archive.files:
            saved = Architecture.from_json(json.loads(str(archive[ARCHITECTURE_KEY])))
        else:  # an earlier version's file: the book's two matrices, sizes from their shapes
            (hidden, inputs), (outputs, _) = archive["W_ih"].shape, archive["W_ho"].shape
            saved = Architecture(inputs, hidden, outputs, *(
                (architecture.activation, architecture.loss) if architecture else ()))
        weights = [archive[name] for name in saved.parameter_names()]
    differences = architecture.differences(saved) if architecture is not None else []
    if differences:
        raise DataError(f"{path} holds weights for {saved.describe()}, not for {architecture.describe()}: "
                        f"{'; '.join(differences).replace(' there', ' in the file')}.")
    return weights


def load_buffers(path: str | os.PathLike) -> list[np.ndarray]:
    """The buffers (running statistics) a weights file records, in ``architecture.buffer_names()``
    order, ready for ``network.set_buffers``; ``[]`` for an architecture without any."""
    path = Path(path)
    with _archive(path) as archive:
        if ARCHITECTURE_KEY not in archive.files:
            return []
        saved = Architecture.from_json(json.loads(str(archive[ARCHITECTURE_KEY])))
        return [archive[name] for name in saved.buffer_names()]


def load_recipe(path: str | os.PathLike) -> Recipe | None:
    """The training recipe a weights file records, or None for a file saved without one."""
    path = Path(path)
    with _archive(path) as archive:
        if RECIPE_KEY not in archive.files:
            return None
        return Recipe.from_json(json.loads(str(archive[RECIPE_KEY])))
