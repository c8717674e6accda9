"""The book's update rule, exactly as "Make Your Own Neural Network" writes it, at any depth.

The book's ``train()``::

    output_errors = targets - final_outputs
    hidden_errors = numpy.dot(self.who.T, output_errors)
    self.who += self.lr * numpy.dot((output_errors * final_outputs * (1.0 - final_outputs)),
                                    numpy.transpose(hidden_outputs))
    self.wih += self.lr * numpy.dot((hidden_errors * hidden_outputs * (1.0 - hidden_outputs)),
                                    numpy.transpose(inputs))

Its output-layer step is the true gradient step on L = ½ Σ (t − o)². Its hidden layer is
not: ``hidden_errors`` carries ``output_errors`` back through W_ho without the output
sigmoid's derivative o (1 − o), so the hidden-layer step is not the gradient of any loss
the network reports. It still learns MNIST well (about 97.4% after 5 epochs, against
about 97.2% for the true gradient at lr 0.1).

Readers who add hidden layers carry the errors back the same way through each of them,
``errors = W.T @ errors``, never multiplying by the derivative of the layer above: each
layer further down leaves out one more factor f'(z), and its step departs further from the
gradient.
"""
from __future__ import annotations

import numpy as np

from from_scratch.layers.activation import sigmoid_backward
from from_scratch.network import Network


class BookNetwork(Network):
    """The book's network: :class:`Network` whose backward pass carries dL/dh, not dL/dz, down.

    Same protocol and parameters as :class:`Network`, for sigmoid hidden layers,
    ``loss="half_sse"``, plain SGD and dense layers only: the rule is the book's, and the book
    defines it for nothing else (any other combination is a ParameterError).
    Its :meth:`gradients` returns the direction its :meth:`train` steps against
    (``W -= lr * direction``), which is **not** the gradient of L: the output layer's part
    equals dL/dW_ho, every hidden layer's part leaves out the derivatives of the layers above.

    It differs from :class:`Network` in :meth:`_backward` alone: the output layer hands down the
    book's ``o − t`` (= −output_errors) instead of dL/dz_o, and each hidden layer hands down
    ``Wᵀ errors`` (its dL/dh as the book computes it) instead of dL/dz = dL/dh · f'(z).
    """

    book_rule = True

    def _backward(self, inputs: np.ndarray, targets: np.ndarray, into: list[np.ndarray] | None = None,
                  lr: float | None = None, at: dict[int, np.ndarray] | None = None) -> tuple[float, list]:
        """The book's train(), at any depth: the layers are dense, sigmoid, dense, ..., dense."""
        caches: list = []
        z_o = self._forward(inputs, True, caches)
        final_outputs, loss, dLdz = self._output_and_loss(z_o, targets)  # dL/dz_o = (o − t) o (1 − o)
        errors = final_outputs - targets  # o − t: the book's −output_errors
        if z_o.ndim == 2 and len(z_o) > 1:  # each sample's share of the mean
            dLdz /= len(z_o)
            errors /= len(z_o)
        grads: list = []
        k = len(self._parameters)
        for i in range(len(self.layers) - 1, -1, -2):  # each dense layer, from the output layer down
            dense = self.layers[i]
            if i < len(self.layers) - 1:  # a hidden layer: the step uses errors · h (1 − h), h its sigmoid's output
                dLdz = sigmoid_backward(errors, caches[i + 1])
                if at is not None:
                    at[i + 1] = errors  # the book's "dL/dh": Wᵀ errors from above, no f' of any layer above
            if at is not None:
                at[i] = dLdz
            below = np.dot(errors, dense.params[0]) if i > 0 else None  # hidden_errors = Wᵀ errors, before W moves
            if lr is not None:
                dense.step(dLdz, caches[i], False, lr)
            elif into is not None:
                count = len(dense.params)
                dense.backward_into(dLdz, caches[i], False, into[k - count:k])
                k -= count
            else:
                grads[:0] = dense.backward(dLdz, caches[i], False)[1]
            errors = below
        return loss, (into if into is not None else grads)
