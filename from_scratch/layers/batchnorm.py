"""Batch normalization: its forward pass beside its backward pass, as cs231n's layers.py writes them,
in torch's convention (:mod:`common.layers.batchnorm` has the math and the conventions).

The backward pass, written out. With ``xc = x − μ``, ``std = √(σ² + ε)`` and ``x̂ = xc / std``, each
over the M numbers a feature is averaged over, and ``dx̂ = γ dL/dy``:

.. math::

    \\frac{\\partial L}{\\partial \\beta} = \\sum \\frac{\\partial L}{\\partial y}, \\qquad
    \\frac{\\partial L}{\\partial \\gamma} = \\sum \\frac{\\partial L}{\\partial y} \\hat x, \\qquad
    \\frac{\\partial L}{\\partial x} = \\frac{1}{\\text{std}} \\Big( d\\hat x
        - \\underbrace{\\tfrac{1}{M} \\textstyle\\sum d\\hat x}_{\\text{through } \\mu}
        - \\hat x \\, \\underbrace{\\tfrac{1}{M} \\textstyle\\sum d\\hat x \\, \\hat x}_{\\text{through } \\sigma^2} \\Big)

Each x reaches the loss three ways: through its own x̂, through the mean every x̂ subtracts, and
through the variance every x̂ divides by; leaving out the last two terms is the classic mistake. In
evaluation the running statistics are constants: dL/dx = γ dL/dy / √(running_var + ε).

A batch is ``(n, D)`` (after a dense layer: each of the D features over the n samples) or
``(n, C, H, W)`` (after a convolution: each channel over the samples and positions, "spatial").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from common.errors import ParameterError
from common.layers.batchnorm import BatchNorm as Spec
from from_scratch.layers.base import Context, Layer, batch_axes, per_feature


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict) -> tuple[np.ndarray, Any]:
    """y = γ x̂ + β, in ``bn_param["mode"]`` "train" (the batch's statistics; the running ones moved in
    place) or "test" (the running ones). ``bn_param``: ``running_mean``, ``running_var`` (arrays, updated
    in place in training), ``momentum`` (0.1), ``eps`` (1e-5), and ``update`` (default True; False leaves
    the running statistics alone, as a gradient at the current state must)."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
    running_mean, running_var = bn_param["running_mean"], bn_param["running_var"]
    g, b = per_feature(gamma, x), per_feature(beta, x)
    if bn_param["mode"] == "test":
        std = np.sqrt(per_feature(running_var, x) + x.dtype.type(eps))
        x_hat = (x - per_feature(running_mean, x)) / std
        return g * x_hat + b, ("test", x_hat, std, gamma)
    axes = batch_axes(x)
    count = x.size // x.shape[1] if x.ndim > 1 else 1  # M: the numbers each feature is averaged over
    if count < 2:
        raise ParameterError(f"batchnorm_forward in training needs at least 2 numbers a feature to average over "
                             f"(a batch of 2 or more samples, or maps); got x of shape {x.shape}.")
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)  # biased: the normalization's
    std = np.sqrt(var + x.dtype.type(eps))
    x_hat = centred / std
    if bn_param.get("update", True):
        keep = 1.0 - momentum
        running_mean *= x.dtype.type(keep)
        running_mean += x.dtype.type(momentum) * mean.reshape(-1)
        running_var *= x.dtype.type(keep)
        running_var += x.dtype.type(momentum * count / (count - 1)) * var.reshape(-1)  # unbiased: torch's
    return g * x_hat + b, ("train", x_hat, std, gamma)


def batchnorm_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dL/dx, dL/dγ and dL/dβ of :func:`batchnorm_forward`, given dL/dy (the module docstring's formula)."""
    mode, x_hat, std, gamma = cache
    axes = batch_axes(dout)
    dgamma = np.sum(dout * x_hat, axis=axes)
    dbeta = np.sum(dout, axis=axes)
    dx_hat = dout * per_feature(gamma, dout)
    if mode == "test":
        return dx_hat / std, dgamma, dbeta
    dx = dx_hat - dx_hat.mean(axis=axes, keepdims=True)  # through μ
    dx -= x_hat * np.mean(dx_hat * x_hat, axis=axes, keepdims=True)  # through σ²
    dx /= std
    return dx, dgamma, dbeta


class BatchNorm(Layer):
    """:func:`batchnorm_forward` and :func:`batchnorm_backward` in a network: γ and β its parameters,
    the running statistics its buffers, moved by a training pass unless the network says not to."""

    def __init__(self, spec: Spec, dtype: np.dtype, context: Context | None = None) -> None:
        super().__init__(spec, dtype, context)
        self.eps, self.momentum = spec.eps, spec.momentum

    def forward(self, x: np.ndarray, training: bool):
        gamma, beta = self.params
        running_mean, running_var = self.buffers
        return batchnorm_forward(x, gamma, beta, {
            "mode": "train" if training else "test", "eps": self.eps, "momentum": self.momentum,
            "running_mean": running_mean, "running_var": running_var, "update": self.context.update_buffers})

    def backward(self, dout: np.ndarray, cache: Any, need_dx: bool = True):
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        return (dx if need_dx else None), [dgamma, dbeta]


def build(spec: Spec, dtype: np.dtype) -> BatchNorm:
    return BatchNorm(spec, dtype)
