"""The two BLAS routines the network calls directly, and ``y += a x`` in place.

NumPy's operators allocate their results; BLAS's ``ger`` (``A += α x yᵀ``), ``gemm``
(``C = α A B + β C``) and ``axpy`` (``y += α x``) write into an array that exists, which is how a
step of plain SGD adds its update into the weights without ever making a gradient array.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.linalg import blas


@lru_cache(maxsize=None)
def routine(name: str, dtype: np.dtype):
    """The BLAS routine ``name`` ("axpy", "ger", "gemm") for ``dtype``, looked up once."""
    return blas.get_blas_funcs(name, dtype=dtype)


def add_scaled(y: np.ndarray, a: float, x: np.ndarray) -> None:
    """``y += a · x`` in place, without a temporary array where both are C-contiguous (BLAS ``axpy``)."""
    if y.flags.c_contiguous and x.flags.c_contiguous and x.dtype == y.dtype:
        routine("axpy", y.dtype)(x.ravel(), y.ravel(), a=a)
    else:  # axpy would write into a copy of y
        y += a * x
