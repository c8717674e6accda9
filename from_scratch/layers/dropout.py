"""Dropout: its forward pass beside its backward pass (:mod:`common.layers.dropout` has the math and
where the mask comes from).

.. math::

    y = x \\cdot \\frac{m}{1 - p}, \\qquad \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial y} \\cdot \\frac{m}{1 - p}

The backward pass multiplies by the same scaled mask as the forward pass: a dropped unit passes no
gradient, a kept one 1 / (1 − p) of it. In evaluation dropout is the identity and its backward too.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from common.layers import layer_rng
from common.layers.dropout import Dropout as Spec
from from_scratch.layers.base import Layer


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """m / (1 − p), in ``dtype``: 1 / (1 − p) where a uniform draw is at least p (kept), 0 elsewhere."""
    keep = rng.random(shape) >= p
    return keep.astype(dtype) * np.dtype(dtype).type(1.0 / (1.0 - p))


def dropout_forward(x: np.ndarray, dropout_param: dict) -> tuple[np.ndarray, Any]:
    """y = x · m / (1 − p) in ``dropout_param["mode"]`` "train", x in "test"; ``p`` is the probability of
    dropping (torch's), and the mask is drawn from ``rng`` (a NumPy Generator) or given as ``mask``."""
    if dropout_param["mode"] == "test":
        return x, None
    scaled = dropout_param.get("mask")
    if scaled is None:
        scaled = dropout_mask(x.shape, dropout_param["p"], dropout_param["rng"], x.dtype)
    return x * scaled, scaled


def dropout_backward(dout: np.ndarray, scaled: np.ndarray | None) -> np.ndarray:
    """dL/dx of :func:`dropout_forward`: the same scaled mask; ``None`` (test mode) passes dL/dy on."""
    return dout if scaled is None else dout * scaled


class Dropout(Layer):
    """:func:`dropout_forward` and :func:`dropout_backward` in a network, the mask drawn by
    :func:`common.layers.layer_rng` from the network's layer seed, its step and this layer's index."""

    def forward(self, x: np.ndarray, training: bool):
        if not training:
            return x, None
        rng = layer_rng(self.context.seed, self.context.step, self.index)
        return dropout_forward(x, {"mode": "train", "p": self.spec.p, "rng": rng})

    def backward(self, dout: np.ndarray, scaled: np.ndarray | None, need_dx: bool = True):
        return dropout_backward(dout, scaled), []


def build(spec: Spec, dtype: np.dtype) -> Dropout:
    return Dropout(spec, dtype)
