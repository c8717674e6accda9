"""The Network protocol that ``from_scratch`` and ``torch_impl`` both implement.

Notation (the README's glossary has the full table):

=================  ==========  ===========================================================
code               symbol      meaning
=================  ==========  ===========================================================
``wih``            W_ih        input -> hidden weights, shape ``(hidden_nodes, input_nodes)``
``who``            W_ho        hidden -> output weights, shape ``(output_nodes, hidden_nodes)``
``final_outputs``  o           the network's outputs, sigmoid(W_ho sigmoid(W_ih x))
``targets``        t           0.99 at the label, 0.01 elsewhere
``lr``             lr          the learning rate of plain SGD
``loss``           L           ½ Σ_k (t_k − o_k)², averaged over the samples of a batch
=================  ==========  ===========================================================

Why the ½: with it, dL/do = -(t - o), so the book's output-layer update,
``who += lr * ((t - o) * o * (1 - o)) @ h.T``, is exactly a gradient step on L. Torch's
``MSELoss(reduction='sum')`` leaves the ½ out and is 2L, so at the same ``lr`` it takes
steps twice as long.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Network(Protocol):
    """A 3-layer sigmoid network without biases, trained by SGD on L = ½ Σ (t − o)².

    Attributes
    ----------
    input_nodes, hidden_nodes, output_nodes : int
        Layer sizes (784, 200, 10 for MNIST as the book sets it up).
    lr : float
        Learning rate.
    dtype : numpy.dtype
        float32 or float64; weights, outputs and gradients come back in it.
    """

    input_nodes: int
    hidden_nodes: int
    output_nodes: int
    lr: float
    dtype: np.dtype

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load ``[W_ih, W_ho]``, shapes ``(hidden, input)`` and ``(output, hidden)``."""

    def get_weights(self) -> list[np.ndarray]:
        """Return copies of ``[W_ih, W_ho]`` as NumPy arrays in the network's dtype."""

    def query(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs o for inputs of shape ``(n, input)`` or ``(input,)``: ``(n, output)`` or ``(output,)``."""

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """``[dL/dW_ih, dL/dW_ho]`` at the current weights, averaged over the batch; no update."""

    def train(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """One SGD step on the batch, ``W -= lr * dL/dW``; return L before the step."""
