"""The sigmoid and its derivative, written in terms of the sigmoid's output.

.. math::

    \\sigma(z) = \\frac{1}{1 + e^{-z}}, \\qquad
    \\sigma'(z) = \\sigma(z)\\,(1 - \\sigma(z)) = y\\,(1 - y) \\quad\\text{with } y = \\sigma(z)

Writing the derivative in terms of y (as scikit-learn does) means the backward pass reuses
the outputs the forward pass already computed, and never evaluates an exponential twice.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

# 1 in each dtype: ``one - y`` with a scalar of y's own dtype skips NumPy's promotion of a
# Python float, a third of the cost of the operation on a 200-element array.
_ONE = {np.dtype(t): np.dtype(t).type(1) for t in (np.float16, np.float32, np.float64, np.longdouble)}


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The logistic function, elementwise; ``out`` may be ``z`` itself to work in place."""
    return expit(z, out=out)


def sigmoid_derivative(y: np.ndarray) -> np.ndarray:
    """dσ/dz expressed through the output ``y = sigmoid(z)``: ``y * (1 - y)``."""
    return y * (1.0 - y)


def sigmoid_backward(dLdy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The chain rule through ``y = sigmoid(z)``: dL/dz = dL/dy · y (1 − y).

    Computed in place in one new array (three passes over a few hundred numbers, where
    allocating each intermediate would cost more than the arithmetic).
    """
    dLdz = _ONE.get(y.dtype, 1.0) - y
    dLdz *= y
    dLdz *= dLdy
    return dLdz
