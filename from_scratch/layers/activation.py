"""The hidden layers' activations, each beside its derivative written through its output.

=========  =============================  ===================================
name       y = f(z)                       f'(z), written through y
=========  =============================  ===================================
sigmoid    1 / (1 + e^(−z))               y (1 − y)
tanh       tanh z                         1 − y²
relu       max(z, 0)                      1 where y > 0, else 0 (0 at z = 0, as torch)
=========  =============================  ===================================

Writing each derivative in terms of y (as scikit-learn's ``ACTIVATIONS`` and ``DERIVATIVES``
do) means the backward pass reuses the outputs the forward pass already computed, and never
evaluates an exponential twice. Torch's backward rules for ``nn.Sigmoid``, ``nn.Tanh`` and
``nn.ReLU`` use the output the same way.

.. math::

    \\sigma(z) = \\frac{1}{1 + e^{-z}}, \\qquad
    \\sigma'(z) = \\sigma(z)\\,(1 - \\sigma(z)) = y\\,(1 - y) \\quad\\text{with } y = \\sigma(z)
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import expit

from common.layers.activation import Activation as Spec
from from_scratch.layers.base import Context, Layer

# 1 in each dtype: ``one - y`` with a scalar of y's own dtype skips NumPy's promotion of a
# Python float, a third of the cost of the operation on a 200-element array.
_ONE = {np.dtype(t): np.dtype(t).type(1) for t in (np.float16, np.float32, np.float64, np.longdouble)}


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The logistic function, elementwise; ``out`` may be ``z`` itself to work in place."""
    return expit(z, out=out)


def sigmoid_derivative(y: np.ndarray) -> np.ndarray:
    """dσ/dz expressed through the output ``y = sigmoid(z)``: ``y * (1 - y)``, one new array."""
    derivative = _ONE.get(y.dtype, 1.0) - y
    derivative *= y
    return derivative


def tanh(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The hyperbolic tangent, elementwise; ``out`` may be ``z`` itself."""
    return np.tanh(z, out=out)


def tanh_derivative(y: np.ndarray) -> np.ndarray:
    """d tanh/dz through the output ``y = tanh(z)``: ``1 - y²``."""
    derivative = y * y
    return np.subtract(_ONE.get(y.dtype, 1.0), derivative, out=derivative)


def relu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``max(z, 0)``, elementwise; ``out`` may be ``z`` itself."""
    return np.maximum(z, 0, out=out)


def relu_derivative(y: np.ndarray) -> np.ndarray:
    """d relu/dz through the output ``y = relu(z)``: 1 where ``y > 0``, else 0 (also at z = 0)."""
    return (y > 0).astype(y.dtype)


# name: (forward f, derivative f' written through f's output)
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
}


def sigmoid_backward(dLdy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The chain rule through ``y = sigmoid(z)``: dL/dz = dL/dy · y (1 − y).

    Computed in place in one new array (three passes over a few hundred numbers, where
    allocating each intermediate would cost more than the arithmetic).
    """
    dLdz = sigmoid_derivative(y)
    dLdz *= dLdy
    return dLdz


# -- the pairs, in cs231n's form: forward(x) -> (y, cache), backward(dout, cache) -> dx; the cache is y --

def activation_forward(x: np.ndarray, function: str, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """y = f(x) for ``function`` "sigmoid", "tanh" or "relu"; ``out`` may be ``x`` itself. The cache is y."""
    f, _ = ACTIVATIONS[function]
    y = f(x, out=out)
    return y, y


def activation_backward(dout: np.ndarray, y: np.ndarray, function: str) -> np.ndarray:
    """dL/dx = dL/dy · f'(x), with f' written through the output y (the table above)."""
    _, derivative = ACTIVATIONS[function]
    dx = derivative(y)  # f'(z), through y = f(z)
    dx *= dout
    return dx


class Activation(Layer):
    """f applied elementwise, in place on its input (a fresh array: an affine map's or a
    normalization's output), its output kept for the derivative."""

    def __init__(self, spec: Spec, dtype: np.dtype, context: Context | None = None) -> None:
        super().__init__(spec, dtype, context)
        self.function, self.derivative = ACTIVATIONS[spec.function]  # attributes: a planted mistake replaces one

    def forward(self, x: np.ndarray, training: bool):
        y = self.function(x, out=x)
        return y, y

    def backward(self, dout: np.ndarray, y: np.ndarray, need_dx: bool = True):
        dx = self.derivative(y)  # f'(z), through y = f(z)
        dx *= dout
        return dx, []


def build(spec: Spec, dtype: np.dtype) -> Activation:
    return Activation(spec, dtype)
