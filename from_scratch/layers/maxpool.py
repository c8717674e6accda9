"""2×2 max pooling, stride 2: its forward pass beside its backward pass.

.. math::

    y_{n c i j} = \\max_{k, l \\in \\{0, 1\\}} x_{n c (2i+k)(2j+l)}, \\qquad
    \\frac{\\partial L}{\\partial x_{n c (2i+k)(2j+l)}} =
    \\begin{cases} \\partial L / \\partial y_{n c i j} & \\text{if } (k, l) \\text{ is the window's argmax} \\\\
                   0 & \\text{otherwise} \\end{cases}

The maximum depends on one entry of its window only, so the whole gradient goes to that entry
(spreading it over the window, as average pooling would, is the classic mistake). Where the
window holds its maximum more than once, torch sends the gradient to the first in row-major
order, (0, 0), (0, 1), (1, 0), (1, 1), and so does this module. Ties are common: blank
background gives equal numbers in many windows. (A NaN makes its window's maximum NaN here as
in torch, but torch sends that window's gradient to its last NaN, and this module does not.)

No window is ever copied out: the entries (k, l) of all windows are the strided view
``x[:, :, k::2, l::2]``, so each step below is one NumPy operation over every window at once.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from common.errors import ParameterError
from common.layers.maxpool import MaxPool as Spec
from from_scratch.layers.base import Layer

CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (k, l) in a window, in row-major order: argmax 2 k + l


class PoolCache(NamedTuple):
    """What :func:`maxpool_backward` needs from :func:`maxpool_forward`."""

    x: np.ndarray  # the input itself, not a copy: dx takes its shape and memory order
    argmax: np.ndarray  # uint8, out's shape: 2 k + l of each window's first maximum (k, l)


def maxpool_forward(x: np.ndarray) -> tuple[np.ndarray, PoolCache]:
    """y = max_pool2d(x, 2): the largest entry of each 2×2 window, stride 2.

    Each window is reduced along its rows first, then between its two rows, each time with a
    strict ``>``, so a tie keeps the earlier entry and the winner is the window's first
    maximum in row-major order (reducing down the columns first would break ties otherwise):

    .. math::

        m_{n c r j} = \\max(x_{n c r (2j)}, x_{n c r (2j+1)}), \\qquad
        y_{n c i j} = \\max(m_{n c (2i) j}, m_{n c (2i+1) j})

    Parameters
    ----------
    x : ndarray of shape (n, C, H, W)
        In any memory order. An odd last row or column is left out, as torch's floor does.

    Returns
    -------
    out : ndarray of shape (n, C, H // 2, W // 2)
        x's dtype and memory order.
    cache : PoolCache
    """
    if x.ndim != 4 or x.shape[2] < 2 or x.shape[3] < 2:
        raise ParameterError(f"x must have shape (n, C, H, W) with H and W at least 2. Got {x.shape} instead.")
    H, W = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
    left, right = x[:, :, :H, 0:W:2], x[:, :, :H, 1:W:2]
    right_wins = right > left  # in each row of each window: l = 1
    row_max = np.maximum(left, right)  # m, (n, C, H, W // 2)
    top, bottom = row_max[:, :, 0::2], row_max[:, :, 1::2]
    bottom_wins = bottom > top  # k = 1
    out = np.maximum(top, bottom)
    # l of the winning row: the bottom row's where the bottom row won, else the top row's.
    column = (bottom_wins & right_wins[:, :, 1::2]) | (~bottom_wins & right_wins[:, :, 0::2])
    argmax = np.left_shift(bottom_wins, 1, dtype=np.uint8)  # 2 k
    argmax += column  # 2 k + l
    return out, PoolCache(x, argmax)


def maxpool_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dL/dx of :func:`maxpool_forward`: each dL/dy sent to its window's argmax, 0 elsewhere.

    Parameters
    ----------
    dout : ndarray of shape (n, C, H // 2, W // 2)
        dL/dout, in any memory order.
    cache : PoolCache
        From :func:`maxpool_forward`.

    Returns
    -------
    dx : ndarray of x's shape (n, C, H, W), dout's dtype, x's memory order
        Each entry (k, l) of every window written once: dL/dy where it is the argmax, else 0.
    """
    x, argmax = cache
    H, W = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
    if _axis_order(dout) != _axis_order(argmax):
        # e.g. a dense layer's rows, (n, C·H·W): one small copy into argmax's memory order, so
        # that the four passes below run along memory rather than across it (ten times faster).
        dout = _copy_like(dout, argmax)
    dx = (np.empty_like if (H, W) == x.shape[2:] else np.zeros_like)(x, dtype=dout.dtype)
    for index, (k, l) in enumerate(CORNERS):
        np.multiply(dout, argmax == index, out=dx[:, :, k:H:2, l:W:2])
    return dx


def _axis_order(a: np.ndarray) -> list[int]:
    """a's axes from the one with the largest stride (outermost in memory) to the smallest."""
    return sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis]))


def _copy_like(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A copy of ``a`` laid out in memory as ``like`` is."""
    copy = np.empty_like(like, dtype=a.dtype)
    copy[...] = a
    return copy


class MaxPool(Layer):
    """:func:`maxpool_forward` and :func:`maxpool_backward` in a network; no parameters."""

    def forward(self, x: np.ndarray, training: bool):
        return maxpool_forward(x)

    def backward(self, dout: np.ndarray, cache: PoolCache, need_dx: bool = True):
        return maxpool_backward(dout, cache), []


def build(spec: Spec, dtype: np.dtype) -> MaxPool:
    return MaxPool(spec, dtype)
