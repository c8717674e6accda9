"""Layer normalization: its forward pass beside its backward pass (:mod:`common.layers.layernorm` has
the math). The same as batch normalization's, over each sample's own features instead of the batch:

.. math::

    \\frac{\\partial L}{\\partial x} = \\frac{1}{\\text{std}} \\Big( d\\hat x
        - \\tfrac{1}{D} \\textstyle\\sum d\\hat x - \\hat x \\, \\tfrac{1}{D} \\textstyle\\sum d\\hat x \\, \\hat x \\Big),
    \\qquad d\\hat x = \\gamma \\frac{\\partial L}{\\partial y}

with the sums over a sample's D features (a map's C·H·W numbers); dL/dγ and dL/dβ sum over the
batch (and a map's positions), γ and β being per feature (per channel). The same in training and
evaluation. A batch is ``(n, D)``, one sample ``(D,)``, or maps ``(n, C, H, W)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from common.layers.layernorm import LayerNorm as Spec
from from_scratch.layers.base import Context, Layer, batch_axes, per_feature


def _features(x: np.ndarray) -> tuple[int, ...]:
    """The axes of one sample's features: the last; a map's channels and positions."""
    return (-1,) if x.ndim <= 2 else (1, 2, 3)


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict) -> tuple[np.ndarray, Any]:
    """y = γ x̂ + β with x̂ each sample normalized over its own features; ``ln_param``: ``eps`` (1e-5)."""
    axes = _features(x)
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    std = np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True) + x.dtype.type(ln_param.get("eps", 1e-5)))
    x_hat = centred / std
    return per_feature(gamma, x) * x_hat + per_feature(beta, x), (x_hat, std, gamma)


def layernorm_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dL/dx, dL/dγ and dL/dβ of :func:`layernorm_forward`, given dL/dy."""
    x_hat, std, gamma = cache
    others, axes = batch_axes(dout), _features(dout)
    dgamma, dbeta = np.sum(dout * x_hat, axis=others), np.sum(dout, axis=others)
    dx_hat = dout * per_feature(gamma, dout)
    dx = dx_hat - dx_hat.mean(axis=axes, keepdims=True)  # through the mean
    dx -= x_hat * np.mean(dx_hat * x_hat, axis=axes, keepdims=True)  # through the variance
    dx /= std
    return dx, dgamma, dbeta


class LayerNorm(Layer):
    """:func:`layernorm_forward` and :func:`layernorm_backward` in a network; γ and β its parameters."""

    def __init__(self, spec: Spec, dtype: np.dtype, context: Context | None = None) -> None:
        super().__init__(spec, dtype, context)
        self.param = {"eps": spec.eps}

    def forward(self, x: np.ndarray, training: bool):
        return layernorm_forward(x, *self.params, self.param)

    def backward(self, dout: np.ndarray, cache: Any, need_dx: bool = True):
        dx, dgamma, dbeta = layernorm_backward(dout, cache)
        return (dx if need_dx else None), [dgamma, dbeta]


def build(spec: Spec, dtype: np.dtype) -> LayerNorm:
    return LayerNorm(spec, dtype)
