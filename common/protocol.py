"""The Network protocol that ``from_scratch`` and ``torch_impl`` both implement.

Notation for the book's network (the README's glossary has the full table; deeper networks
number their layers W1, W2, ... as ``common.architecture`` says):

=================  ==========  ===========================================================
code               symbol      meaning
=================  ==========  ===========================================================
``wih``            W_ih        input -> hidden weights, shape ``(hidden_nodes, input_nodes)``
``who``            W_ho        hidden -> output weights, shape ``(output_nodes, hidden_nodes)``
``final_outputs``  o           the network's outputs, sigmoid(W_ho sigmoid(W_ih x))
``b_h``, ``b_o``   b           biases, when ``bias=True``
``targets``        t           0.99 at the label, 0.01 elsewhere
``lr``             lr          the learning rate (of plain SGD, unless the recipe says otherwise)
``loss``           L           ½ Σ_k (t_k − o_k)² (or −Σ_k t_k log o_k with softmax outputs),
                               averaged over the samples of a batch
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
    """A fully connected network trained by SGD; by default the book's 784-200-10 sigmoid network.

    Attributes
    ----------
    input_nodes, output_nodes : int
        Layer sizes (784 and 10 for MNIST as the book sets it up).
    hidden_nodes : int or sequence of int
        One hidden layer's size (the book's 200), or each hidden layer's size in order, input
        side first (may be empty).
    lr : float
        Learning rate.
    dtype : numpy.dtype
        float32 or float64; weights, outputs and gradients come back in it.
    activation, loss : str, optional
        ``"sigmoid"``, ``"tanh"`` or ``"relu"``; ``"half_sse"`` or ``"cross_entropy"``. A network
        without them is taken to be the book's (``common.architecture.Architecture.of``).
    bias : bool, optional
        Whether each layer has a bias; False (the book) when absent.
    conv : tuple of (int, int, int), optional
        Convolution layers in front of the dense ones, (channels, kernel, padding) each; ``()``
        (none, the book) when absent. The inputs stay rows of ``input_nodes`` pixels either way.
    optimizer, momentum, weight_decay, l2, ... : optional
        The training recipe, by the fields of :class:`common.recipe.Recipe` (torch.optim's
        names); each one absent means its default, and all absent the book's plain SGD.

    Parameters, everywhere (``set_weights``, ``get_weights``, ``gradients``): a list in the order
    of the torch twin's ``model.parameters()``, which is ``architecture.parameter_names()``:
    each layer's weight ``(n_out, n_in)`` (a convolution's ``(C_out, C_in, K, K)``, first), then
    its bias ``(n_out,)`` when there is one. For the book's network ``[W_ih, W_ho]``.
    """

    input_nodes: int
    hidden_nodes: int | Sequence[int]
    output_nodes: int
    lr: float
    dtype: np.dtype

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load every parameter, in ``architecture.parameter_names()`` order."""

    def get_weights(self) -> list[np.ndarray]:
        """Return copies of every parameter as NumPy arrays in the network's dtype, in that order."""

    def query(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs o for inputs of shape ``(n, input)`` or ``(input,)``: ``(n, output)`` or ``(output,)``.

        Sigmoid outputs for half squared error, softmax probabilities for cross-entropy.
        """

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """dL/d(every parameter) at the current weights, averaged over the batch; no update."""

    def train(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """One step of the recipe on the batch (plain SGD: ``W -= lr * dL/dW``); return L before the
        step (with the recipe's L2 penalty, if any)."""


class HasOptimizerState(Protocol):
    """Optional, and needed by a network whose steps depend on more than its weights (momentum,
    Adam, RMSprop, a schedule): both backends' networks have it. ``compare`` compares the state and
    loads it into the twin it checks each step with, so that "the same step" means the same step.

    The state is ``{"step": t, buffer: [one array per parameter]}`` with torch.optim's buffer names
    (``momentum_buffer``; ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``; ``square_avg``,
    ``grad_avg``), as :func:`common.recipe.check_optimizer_state` checks it; ``t`` counts the
    ``train()`` calls taken, and while it is 0 every buffer is zeros.
    """

    def get_optimizer_state(self) -> dict:
        """Copies of the state, in torch's form (cs231n's velocity v is ``momentum_buffer`` −v / lr)."""

    def set_optimizer_state(self, state: dict) -> None:
        """Load a state, so that the next ``train()`` takes the step torch.optim would take from it."""


class HasIntermediateGradients(Protocol):
    """Optional: both backends' networks have it; ``compare`` and the lessons may use it."""

    def intermediate_gradients(self, inputs: np.ndarray, targets: np.ndarray) -> dict[str, list[np.ndarray]]:
        """The backward pass's intermediate derivatives of L (the batch mean), no update.

        Returns ``{"dLdz": [...], "dLdh": [...]}``: dL/dz for each layer's pre-activation
        z = W a + b, input side first and the output logits last, and dL/dh for each hidden
        layer's output h; each of shape ``(n, nodes)``, or ``(nodes,)`` for one sample. From
        the backward pass in ``from_scratch`` (for ``BookNetwork``, the quantities its rule
        uses in their place), from ``torch.autograd.grad`` in ``torch_impl``.

        A convolution layer counts as a layer and, below the output, as a hidden one: its z is
        the convolution's output before the activation, ``(n, C, H', W')``, and its h the map
        after the activation and the 2×2 max pool, ``(n, C, H'/2, W'/2)``, which the next layer
        reads (before any flatten); one sample's have no n. The activation's output before the
        pool has no entry: dL/dz already shows whether the pool's gradient went where it should.
        ``Architecture.intermediate_names()`` and ``intermediate_shapes()`` list them.
        """
