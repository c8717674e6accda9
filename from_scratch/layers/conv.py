"""A 2-D convolution layer, stride 1, by im2col: its forward pass beside its backward pass.

The layer computes what ``torch.nn.functional.conv2d`` computes, a cross-correlation (the
kernel is not flipped), with the weights laid out as ``nn.Conv2d.weight``:

.. math::

    y_{n f i j} = b_f + \\sum_{c=0}^{C-1} \\sum_{k=0}^{K-1} \\sum_{l=0}^{K-1}
                  w_{f c k l} \\, x^{\\text{pad}}_{n c (i+k)(j+l)}

im2col turns this into one matrix product. Each output position (i, j) of each image n reads
a K×K window of every channel: lay out the C·K·K numbers of each window as one column of
X_col, the weights as a matrix with one row per filter, and the sums above are the product

.. math::

    Y = W_{\\text{mat}} X_{\\text{col}} + b, \\qquad
    W_{\\text{mat}} : (F, C K K), \\quad X_{\\text{col}} : (C K K, H' W' n), \\quad Y : (F, H' W' n)

The backward pass differentiates that product, then undoes im2col (col2im):

.. math::

    \\frac{\\partial L}{\\partial W_{\\text{mat}}} = \\frac{\\partial L}{\\partial Y} X_{\\text{col}}^\\top,
    \\qquad
    \\frac{\\partial L}{\\partial b_f} = \\sum_{n, i, j} \\frac{\\partial L}{\\partial y_{n f i j}},
    \\qquad
    \\frac{\\partial L}{\\partial X_{\\text{col}}} = W_{\\text{mat}}^\\top \\frac{\\partial L}{\\partial Y}

An input pixel lies in up to K·K windows, so it is copied into up to K·K columns of X_col, and
its gradient is the **sum** of the gradients of all its copies. col2im adds them up: row
(c, k, l) of X_col holds channel c shifted by (k, l), so its gradient is added back into
channel c shifted by (k, l), one slab per kernel offset. Overwriting instead of adding is the
classic col2im mistake.

Memory order. Arrays are indexed as torch's, x ``(n, C, H, W)`` and w ``(F, C, K, K)``, but
X_col's columns run over (i, j, n), the batch fastest: so each slab that im2col copies and
col2im adds back is one run of W'·n consecutive numbers, not n·H' runs of W'. ``out`` is the
GEMM's result as it lies, ``(F, H', W', n)`` in memory, seen as ``(n, F, H', W')`` through a
transpose (a view, nothing copied); :func:`from_scratch.layers.maxpool.maxpool_forward` and
:func:`conv_backward` keep that order, and a layer given another order works all the same.
Everything is computed in x's dtype (float32 or float64).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from common.errors import ParameterError
from common.layers.conv import Conv as Spec
from from_scratch.layers.base import Context, Layer


class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs from :func:`conv_forward`."""

    x_col: np.ndarray  # (C K K, H' W' n): row (c, k, l) is x_pad[:, c, k:k+H', l:l+W'], batch last
    w: np.ndarray  # (F, C, K, K), the weights as they were in the forward pass
    x_shape: tuple[int, int, int, int]  # (n, C, H, W)
    padding: int


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, padding: int = 0,
                 reuse: ConvCache | None = None) -> tuple[np.ndarray, ConvCache]:
    """y = conv2d(x, w, b, padding), stride 1, by im2col and one matrix product.

    Parameters
    ----------
    x : ndarray of shape (n, C, H, W)
        The inputs, float32 or float64, in any memory order.
    w : ndarray of shape (F, C, K, K)
        F filters of K×K over C channels, as ``nn.Conv2d.weight``; x's dtype.
    b : ndarray of shape (F,) or None
    padding : int, default 0
        Zeros added on every side of each image, as ``nn.Conv2d(padding=...)``.
    reuse : ConvCache, optional
        A cache this layer returned before and whose backward pass is done: its ``x_col`` is
        written over when its shape and dtype fit, instead of a new one being allocated.
        Training reuses it step after step. Measured on LeNet at batch 64 (glibc, float32),
        fresh buffers of a few MB every step made the allocator hand memory back to the system
        and fault it in again, about 2,700 page faults a step, which took longer than all the
        step's GEMMs; reusing the two X_cols removed them all and cut the step by half or more.

    Returns
    -------
    out : ndarray of shape (n, F, H', W'), H' = H + 2 padding − K + 1 (W' alike)
        A transposed view of the GEMM's result, whose memory is ``(F, H', W', n)``.
    cache : ConvCache
    """
    n, C, H, W = _check(x, w, b, padding)
    F, _, K, _ = w.shape
    x_t = x.transpose(1, 2, 3, 0)  # (C, H, W, n): a view
    if padding:
        x_pad = np.zeros((C, H + 2 * padding, W + 2 * padding, n), dtype=x.dtype)
        x_pad[:, padding:padding + H, padding:padding + W] = x_t
        x_t = x_pad
    # windows[c, i, j, n, k, l] = x_pad[n, c, i + k, j + l]: a view, nothing copied yet.
    windows = sliding_window_view(x_t, (K, K), axis=(1, 2))
    H_out, W_out = windows.shape[1:3]
    # im2col, the one copy: rows (c, k, l), columns (i, j, n).
    shape = (C * K * K, H_out * W_out * n)
    x_col = reuse.x_col if reuse is not None and reuse.x_col.shape == shape and reuse.x_col.dtype == x.dtype \
        else np.empty(shape, dtype=x.dtype)
    np.copyto(x_col.reshape(C, K, K, H_out, W_out, n), windows.transpose(0, 4, 5, 1, 2, 3))
    out = np.dot(w.reshape(F, C * K * K), x_col)  # Y = W_mat X_col, (F, H' W' n)
    if b is not None:
        out += b[:, None]
    out = out.reshape(F, H_out, W_out, n).transpose(3, 0, 1, 2)
    return out, ConvCache(x_col, w, (n, C, H, W), padding)


def conv_backward(dout: np.ndarray, cache: ConvCache,
                  need_dx: bool = True) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dL/dx, dL/dw and dL/db of :func:`conv_forward`, given dL/dout.

    Parameters
    ----------
    dout : ndarray of shape (n, F, H', W')
        dL/dout, in any memory order; in out's (batch last) it is read without a copy.
    cache : ConvCache
        From :func:`conv_forward`.
    need_dx : bool, default True
        False skips dL/dx, half the backward pass: a network's first layer needs no gradient
        of its inputs. dx is then None.

    Returns
    -------
    dx : ndarray of shape (n, C, H, W), or None
        ``dL/dX_col = W_matᵀ dL/dY`` summed back into the image by col2im; memory order
        ``(C, H, W, n)``, a view into the padded gradient.
    dw : ndarray of shape (F, C, K, K)
        ``dL/dY X_colᵀ``, reshaped.
    db : ndarray of shape (F,)
        ``Σ_{n,i,j} dL/dY``.
    """
    x_col, w, (n, C, H, W), padding = cache
    F, _, K, _ = w.shape
    H_out, W_out = H + 2 * padding - K + 1, W + 2 * padding - K + 1
    dY = dout.transpose(1, 2, 3, 0).reshape(F, H_out * W_out * n)  # a view when dout is batch last
    # dL/dW_mat = dL/dY X_colᵀ, computed as its transpose X_col dL/dYᵀ, (C K K, F): the same
    # numbers, but OpenBLAS ran this long, thin product twice as fast in that orientation (float32).
    dw = np.dot(x_col, dY.T).T.reshape(w.shape)
    db = dY.sum(axis=1)
    if not need_dx:
        return None, dw, db
    dx_col = np.dot(w.reshape(F, C * K * K).T, dY)  # dL/dX_col = W_matᵀ dL/dY, (C K K, H' W' n)
    dx_col = dx_col.reshape(C, K, K, H_out, W_out, n)
    # col2im: row (c, k, l) came from x_pad[c, k:k+H', l:l+W'] (batch last); add each back there.
    dx_pad = np.zeros((C, H + 2 * padding, W + 2 * padding, n), dtype=dout.dtype)
    for k in range(K):
        for l in range(K):
            dx_pad[:, k:k + H_out, l:l + W_out] += dx_col[:, k, l]
    dx = dx_pad[:, padding:padding + H, padding:padding + W].transpose(3, 0, 1, 2)
    return dx, dw, db


def _check(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, padding: int) -> tuple[int, int, int, int]:
    """x's shape (n, C, H, W), once x, w, b and padding fit together; ParameterError if not."""
    if x.ndim != 4 or w.ndim != 4 or w.shape[1] != x.shape[1] or w.shape[2] != w.shape[3]:
        raise ParameterError(f"x must have shape (n, C, H, W) and w (F, C, K, K), with the same C. "
                             f"Got x {x.shape} and w {w.shape} instead.")
    if x.dtype != w.dtype or (b is not None and (b.dtype != x.dtype or b.shape != w.shape[:1])):
        raise ParameterError(f"w and b must have x's dtype, and b shape ({w.shape[0]},). Got x {x.dtype}, "
                             f"w {w.dtype}, b {None if b is None else (b.dtype, b.shape)} instead.")
    if not (isinstance(padding, (int, np.integer)) and padding >= 0
            and w.shape[2] <= min(x.shape[2:]) + 2 * padding):
        raise ParameterError(f"The 'padding' parameter must be an int >= 0 that leaves the padded image "
                             f"{x.shape[2:]} at least as large as the kernel ({w.shape[2]}). Got {padding!r} "
                             "instead.")
    return x.shape


class Conv(Layer):
    """:func:`conv_forward` and :func:`conv_backward` in a network, reusing its im2col buffer.

    In training (``train()``, ``gradients()``) each forward pass writes its columns over the last
    one's (``reuse``), whose backward pass is done; :meth:`query` allocates afresh, as its batches
    may be larger and are answered once.
    """

    def __init__(self, spec: Spec, dtype: np.dtype, context: Context | None = None) -> None:
        super().__init__(spec, dtype, context)
        self.padding, self.has_bias, self._reuse = spec.padding, spec.bias, None

    def forward(self, x: np.ndarray, training: bool):
        out, cache = conv_forward(x, self.params[0], self.params[1] if self.has_bias else None, self.padding,
                                  reuse=self._reuse if training else None)
        if training:
            self._reuse = cache
        return out, cache

    def backward(self, dout: np.ndarray, cache: ConvCache, need_dx: bool = True):
        dx, dw, db = conv_backward(dout, cache, need_dx)
        return dx, ([dw, db] if self.has_bias else [dw])


def build(spec: Spec, dtype: np.dtype) -> Conv:
    return Conv(spec, dtype)
