"""The reshapes around the convolutions: rows of pixels as images, and maps as rows.

Neither moves a number, so each backward pass is the reshape undone:

.. math::

    \\text{unflatten}: x_{n, (h W + w)} \\to x_{n, 0, h, w}, \\qquad
    \\text{flatten}: m_{n, c, h, w} \\to m_{n, (c H + h) W + w}, \\qquad
    \\frac{\\partial L}{\\partial m} = \\text{the flat gradient seen as maps}

One sample ``(H·W,)`` is seen as a batch of one image, ``(1, 1, H, W)``: the convolutions work
on batches; the network answers one sample's outputs without that batch axis.
"""
from __future__ import annotations

import numpy as np

from common.layers.flatten import Flatten as FlattenSpec
from common.layers.flatten import Unflatten as UnflattenSpec
from from_scratch.layers.base import Layer


def flatten_forward(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Maps ``(n, C, H, W)`` as rows ``(n, C·H·W)``, in (C, H, W) order (a copy when x is not
    C-ordered, as a convolution's transposed output is not). The cache is x's shape."""
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return dout.reshape(shape)


def unflatten_forward(x: np.ndarray, image: tuple[int, int, int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Rows ``(n, H·W)`` (or one row ``(H·W,)``) as images ``(n, *image)``. The cache is x's shape."""
    return x.reshape(-1, *image), x.shape


class Flatten(Layer):
    def forward(self, x: np.ndarray, training: bool):
        return flatten_forward(x)

    def backward(self, dout: np.ndarray, shape: tuple[int, ...], need_dx: bool = True):
        return flatten_backward(dout, shape), []


class Unflatten(Layer):
    def forward(self, x: np.ndarray, training: bool):
        return unflatten_forward(x, self.spec.image)

    def backward(self, dout: np.ndarray, shape: tuple[int, ...], need_dx: bool = True):
        return (dout.reshape(shape) if need_dx else None), []


def build(spec: FlattenSpec | UnflattenSpec, dtype: np.dtype) -> Layer:
    return (Flatten if isinstance(spec, FlattenSpec) else Unflatten)(spec, dtype)
