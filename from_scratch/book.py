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

from from_scratch.network import Network


class BookNetwork(Network):
    """The book's network: :class:`Network` whose backward pass carries dL/dh, not dL/dz, down.

    Same protocol and parameters as :class:`Network`, for sigmoid hidden layers and
    ``loss="half_sse"`` only: the rule is the book's, and the book defines it for nothing else
    (any other combination is a ParameterError).
    Its :meth:`gradients` returns the direction its :meth:`train` steps against
    (``W -= lr * direction``), which is **not** the gradient of L: the output layer's part
    equals dL/dW_ho, every hidden layer's part leaves out the derivatives of the layers above.

    The one difference from :class:`Network` is ``book_rule = True``: in ``_backward`` the
    output layer hands down the book's ``o − t`` (= −output_errors) instead of dL/dz_o, and
    each hidden layer hands down ``Wᵀ errors`` (its dL/dh as the book computes it) instead of
    dL/dz = dL/dh · f'(z).
    """

    book_rule = True
