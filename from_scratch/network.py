"""784-200-10 sigmoid network trained by true backpropagation, in NumPy and SciPy only.

Each forward step sits beside the derivative the backward pass needs from it:

.. math::

    h = \\sigma(W_{ih} x), \\quad o = \\sigma(W_{ho} h), \\quad
    L = \\tfrac12 \\sum_k (t_k - o_k)^2

    \\frac{\\partial L}{\\partial o} = o - t, \\quad
    \\frac{\\partial L}{\\partial z_o} = (o - t)\\, o (1 - o), \\quad
    \\frac{\\partial L}{\\partial W_{ho}} = \\frac{\\partial L}{\\partial z_o} h^\\top

    \\frac{\\partial L}{\\partial h} = W_{ho}^\\top \\frac{\\partial L}{\\partial z_o}, \\quad
    \\frac{\\partial L}{\\partial z_h} = \\frac{\\partial L}{\\partial h}\\, h (1 - h), \\quad
    \\frac{\\partial L}{\\partial W_{ih}} = \\frac{\\partial L}{\\partial z_h} x^\\top

Samples are rows: a batch ``inputs`` has shape ``(n, input_nodes)``, so ``W x`` is written
``inputs @ W.T``, which also serves a single sample of shape ``(input_nodes,)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.linalg import blas

from common.errors import ParameterError
from common.validation import check_network_parameters, check_weights, weight_shapes
from common.weights import initial_weights
from from_scratch.activations import sigmoid, sigmoid_backward


class Network:
    """A sigmoid network without biases, trained by gradient descent on L = ½ Σ (t − o)².

    The ½ is there so that dL/do = o − t: with it, the book's output-layer update is
    exactly a gradient step, and L matches what the book's code minimises. Torch's
    ``MSELoss(reduction='sum')`` is twice L.

    Parameters
    ----------
    input_nodes, hidden_nodes, output_nodes : int
        Layer sizes, each >= 1.
    learning_rate : float
        The SGD step size ``lr`` (finite, > 0).
    dtype : {"float32", "float64"}, default "float64"
        Dtype of the weights and of every computation.
    seed : int or None, default None
        Seed for :func:`common.weights.initial_weights`, which draws the starting weights;
        the same seed gives the same weights in every backend.

    Attributes
    ----------
    wih : ndarray of shape (hidden_nodes, input_nodes)
        W_ih, laid out ``(n_out, n_in)`` like ``torch.nn.Linear.weight``.
    who : ndarray of shape (output_nodes, hidden_nodes)
        W_ho.
    """

    def __init__(
        self,
        input_nodes: int,
        hidden_nodes: int,
        output_nodes: int,
        learning_rate: float,
        dtype: str | np.dtype = "float64",
        seed: int | None = None,
    ) -> None:
        self.input_nodes, self.hidden_nodes, self.output_nodes, self.lr, self.dtype = check_network_parameters(
            input_nodes, hidden_nodes, output_nodes, learning_rate, dtype)
        # BLAS routines that update a matrix in place: ger (rank 1) and gemm (rank n).
        self._ger, self._gemm = blas.get_blas_funcs(("ger", "gemm"), dtype=self.dtype)
        self.set_weights(initial_weights(input_nodes, hidden_nodes, output_nodes, seed, self.dtype))

    # -- weights ---------------------------------------------------------------------------

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load copies of ``[W_ih, W_ho]``, shapes ``(hidden, input)`` and ``(output, hidden)``."""
        shapes = weight_shapes(self.input_nodes, self.hidden_nodes, self.output_nodes)
        self.wih, self.who = check_weights(weights, shapes, self.dtype)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of ``[W_ih, W_ho]`` in the network's dtype."""
        return [self.wih.copy(), self.who.copy()]

    # -- forward and backward --------------------------------------------------------------

    def query(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs o of shape ``(n, output_nodes)``, or ``(output_nodes,)`` for one sample.

        Parameters
        ----------
        inputs : ndarray of shape (n, input_nodes) or (input_nodes,)
            Scaled inputs, e.g. from :func:`common.data.scale_inputs`.
        """
        inputs = self._check_inputs(inputs)
        hidden_outputs = sigmoid(np.dot(inputs, self.wih.T))
        return sigmoid(np.dot(hidden_outputs, self.who.T))

    def _hidden_errors(self, dLdo: np.ndarray, dLdz_o: np.ndarray) -> np.ndarray:
        """dL/dh: the output layer's error carried back through W_ho (and through σ')."""
        return np.dot(dLdz_o, self.who)

    def _backward(self, inputs: np.ndarray, targets: np.ndarray):
        """Forward pass and backpropagation; returns L, h, dL/dz_o and dL/dz_h per sample.

        ``np.dot`` rather than ``@``: the same BLAS call, with less overhead around it, which
        counts when a layer has ten nodes. The sigmoids work in place on fresh arrays.
        """
        z_h = np.dot(inputs, self.wih.T)  # z_h = W_ih x
        hidden_outputs = sigmoid(z_h, out=z_h)  # h = σ(z_h)
        z_o = np.dot(hidden_outputs, self.who.T)  # z_o = W_ho h
        final_outputs = sigmoid(z_o, out=z_o)  # o = σ(z_o)
        dLdo = final_outputs - targets  # L = ½ Σ (t − o)²  ⇒  dL/do = o − t
        loss = 0.5 * float(dLdo.ravel().dot(dLdo.ravel()))
        dLdz_o = sigmoid_backward(dLdo, final_outputs)  # dL/dz_o = dL/do · o (1 − o)
        dLdh = self._hidden_errors(dLdo, dLdz_o)  # z_o = W_ho h  ⇒  dL/dh = W_ho^T dL/dz_o
        dLdz_h = sigmoid_backward(dLdh, hidden_outputs)  # dL/dz_h = dL/dh · h (1 − h)
        return loss, hidden_outputs, dLdz_o, dLdz_h

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """``[dL/dW_ih, dL/dW_ho]`` at the current weights, averaged over the batch; no update.

        Parameters
        ----------
        inputs : ndarray of shape (n, input_nodes) or (input_nodes,)
        targets : ndarray of shape (n, output_nodes) or (output_nodes,)

        Returns
        -------
        list of ndarray
            Shapes ``(hidden, input)`` and ``(output, hidden)``, like the weights.
        """
        inputs, targets = self._check_inputs(inputs), self._check_targets(targets, inputs)
        _, hidden_outputs, dLdz_o, dLdz_h = self._backward(inputs, targets)
        if inputs.ndim == 1:  # z = W a  ⇒  dL/dW = dL/dz a^T, an outer product
            return [np.outer(dLdz_h, inputs), np.outer(dLdz_o, hidden_outputs)]
        n = inputs.shape[0]  # L is the mean over the batch: sum the outer products, / n
        return [dLdz_h.T @ inputs / n, dLdz_o.T @ hidden_outputs / n]

    def train(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """One SGD step, ``W -= lr * dL/dW``, on one sample or a batch; returns L before it.

        The update is the same outer product :meth:`gradients` returns, but handed to BLAS
        to add into the weights in place (``ger`` for one sample, ``gemm`` with ``beta=1``
        for a batch), so no gradient matrix is ever allocated: one pass over W, not three.
        """
        inputs, targets = self._check_inputs(inputs), self._check_targets(targets, inputs)
        loss, hidden_outputs, dLdz_o, dLdz_h = self._backward(inputs, targets)
        # W.T of a C-ordered W is Fortran-ordered, which BLAS updates in place:
        # W.T += alpha * a b^T  is  W += alpha * b a^T.
        if inputs.ndim == 1:
            self._ger(-self.lr, hidden_outputs, dLdz_o, a=self.who.T, overwrite_a=True)
            self._ger(-self.lr, inputs, dLdz_h, a=self.wih.T, overwrite_a=True)
            return loss
        n = inputs.shape[0]
        step = -self.lr / n
        self._gemm(step, hidden_outputs, dLdz_o, beta=1.0, c=self.who.T, trans_a=True, overwrite_c=True)
        self._gemm(step, inputs, dLdz_h, beta=1.0, c=self.wih.T, trans_a=True, overwrite_c=True)
        return loss / n

    # -- input checks ----------------------------------------------------------------------

    def _check_inputs(self, inputs: np.ndarray) -> np.ndarray:
        if type(inputs) is not np.ndarray or inputs.dtype != self.dtype:
            inputs = np.asarray(inputs, dtype=self.dtype)
        if inputs.ndim not in (1, 2) or inputs.shape[-1] != self.input_nodes:
            raise ParameterError(
                f"inputs must have shape (n, {self.input_nodes}) or ({self.input_nodes},). "
                f"Got {inputs.shape} instead."
            )
        return inputs

    def _check_targets(self, targets: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        if type(targets) is not np.ndarray or targets.dtype != self.dtype:
            targets = np.asarray(targets, dtype=self.dtype)
        expected = inputs.shape[:-1] + (self.output_nodes,)
        if targets.shape != expected:
            raise ParameterError(f"targets must have shape {expected}. Got {targets.shape} instead.")
        return targets

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.input_nodes}, {self.hidden_nodes}, {self.output_nodes}, "
            f"{self.lr}, dtype={self.dtype.name!r})"
        )
