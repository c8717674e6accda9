"""A dense layer, z = W a + b: its forward pass beside its backward pass.

Samples are rows, so ``W a`` is written ``a @ W.T``, which serves one sample of shape
``(n_in,)`` and a batch ``(n, n_in)`` alike; W has shape ``(n_out, n_in)``, as ``nn.Linear.weight``.

.. math::

    z = W a + b, \\qquad
    \\frac{\\partial L}{\\partial a} = W^\\top \\frac{\\partial L}{\\partial z}, \\qquad
    \\frac{\\partial L}{\\partial W} = \\frac{\\partial L}{\\partial z} a^\\top, \\qquad
    \\frac{\\partial L}{\\partial b} = \\frac{\\partial L}{\\partial z}

summed over the samples of a batch (each sample's dL/dz already carries its 1/n of the mean).

:func:`dense_forward` and :func:`dense_backward` are the formulas as written. The network's
layer (:class:`Dense`) computes the same numbers with BLAS writing into arrays that exist: for
plain SGD, ``ger`` (one sample) or ``gemm`` with β = 1 (a batch) adds ``−lr dL/dW`` straight
into W, so that no gradient matrix is ever made: one pass over W, not three.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from common.layers.dense import Dense as Spec
from from_scratch.blas import routine
from from_scratch.layers.base import Context, Layer


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, tuple]:
    """z = W x + b for a sample ``(n_in,)`` or a batch ``(n, n_in)``; w ``(n_out, n_in)``, b ``(n_out,)``.

    ``np.dot`` rather than ``@``: the same BLAS call, with less overhead around it, which counts
    when a layer has ten nodes.
    """
    z = np.dot(x, w.T)
    if b is not None:
        z += b
    return z, (x, w, b)


def dense_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """dL/dx, dL/dW and dL/db of :func:`dense_forward`, given dL/dz (``dout``), as written above."""
    x, w, b = cache
    dx = np.dot(dout, w)  # dL/da = Wᵀ dL/dz, for each sample
    if x.ndim == 1:
        dw = np.outer(dout, x)  # one sample: dL/dz aᵀ, an outer product
        db = None if b is None else dout.copy()
    else:
        dw = dout.T @ x  # Σ over the batch of dL/dz aᵀ
        db = None if b is None else dout.sum(axis=0)
    return dx, dw, db


class Dense(Layer):
    """:func:`dense_forward` and :func:`dense_backward` in a network, with BLAS's in-place forms."""

    def __init__(self, spec: Spec, dtype: np.dtype, context: Context | None = None) -> None:
        super().__init__(spec, dtype, context)
        self.has_bias = spec.bias
        self._look_up_blas()

    def _look_up_blas(self) -> None:
        self._ger, self._gemm, self._axpy = (routine(name, self.dtype) for name in ("ger", "gemm", "axpy"))

    def __getstate__(self) -> dict:
        """Without the BLAS routines, which cannot be copied (copy.deepcopy) or pickled: looked up again."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_ger", "_gemm", "_axpy")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._look_up_blas()

    def forward(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, Any]:
        z = np.dot(x, self.params[0].T)  # z = W a
        if self.has_bias:
            z += self.params[1]  # z = W a + b
        return z, x

    def backward(self, dout: np.ndarray, x: np.ndarray, need_dx: bool = True):
        dx, dw, db = dense_backward(dout, (x, self.params[0], self.params[1] if self.has_bias else None))
        return (dx if need_dx else None), ([dw, db] if self.has_bias else [dw])

    def backward_into(self, dout: np.ndarray, x: np.ndarray, need_dx: bool, into):
        """dL/dW by ``gemm`` with β = 0, written over ``into[0]`` (the optimizer's array, reused)."""
        W = self.params[0]
        dx = np.dot(dout, W) if need_dx else None
        x2, dout2 = x.reshape(-1, x.shape[-1]), dout.reshape(-1, dout.shape[-1])  # one sample: a batch of one
        # W.T of a C-ordered W is Fortran-ordered, which BLAS writes in place: Wᵀ = a dL/dzᵀ is W = dL/dz aᵀ.
        self._gemm(1.0, x2, dout2, beta=0.0, c=into[0].T, trans_a=True, overwrite_c=True)
        if self.has_bias:
            np.sum(dout2, axis=0, out=into[1])
        return dx

    def step(self, dout: np.ndarray, x: np.ndarray, need_dx: bool, lr: float):
        """W −= lr dL/dz aᵀ added into W by ``ger`` (one sample) or ``gemm`` with β = 1 (a batch)."""
        W = self.params[0]
        dx = np.dot(dout, W) if need_dx else None  # before W moves
        if x.ndim == 1 or len(x) == 1:  # one sample (an image's maps, flattened, are a batch of one)
            x, dout = x.reshape(-1), dout.reshape(-1)
            self._ger(-lr, x, dout, a=W.T, overwrite_a=True)
            if self.has_bias:
                self._axpy(dout, self.params[1], a=-lr)
        else:
            self._gemm(-lr, x, dout, beta=1.0, c=W.T, trans_a=True, overwrite_c=True)
            if self.has_bias:
                self._axpy(dout.sum(axis=0), self.params[1], a=-lr)
        return dx


def build(spec: Spec, dtype: np.dtype) -> Dense:
    return Dense(spec, dtype)
