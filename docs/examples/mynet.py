"""A reader's network: the book's, extended to batches of samples and to any number of hidden layers.

Copy this file, change it, and check it against autograd (docs/check-your-network.md)::

    from compare import check_network
    from compare.plugins import load_class

    MyNetwork = load_class("docs/examples/mynet.py:MyNetwork")
    print(check_network(MyNetwork(784, [200, 100], 10, 0.1)))

Samples are rows, as in ``from_scratch``: ``inputs`` has shape ``(n, 784)``, or ``(784,)`` for one
sample. Each weight is laid out ``(n_out, n_in)``, as the book's ``wih`` and ``who`` are.
"""
import numpy as np
from scipy.special import expit  # the sigmoid, as the book imports it


class MyNetwork:
    """Sigmoid layers without biases, L = ½ Σ (t − o)² averaged over the batch, plain SGD."""

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64"):
        self.input_nodes, self.hidden_nodes, self.output_nodes = input_nodes, hidden_nodes, output_nodes
        self.lr = learning_rate
        self.dtype = np.dtype(dtype)
        hidden = [hidden_nodes] if isinstance(hidden_nodes, int) else list(hidden_nodes)
        sizes = [input_nodes, *hidden, output_nodes]
        rng = np.random.default_rng(0)
        self.weights = [rng.normal(0.0, pow(n_in, -0.5), (n_out, n_in)).astype(self.dtype)
                        for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=self.dtype) for w in weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def layer_outputs(self, inputs):
        """The inputs, then every layer's outputs: y = σ(W y_below)."""
        outputs = [np.asarray(inputs, dtype=self.dtype)]
        for w in self.weights:
            outputs.append(expit(outputs[-1] @ w.T))
        return outputs

    def query(self, inputs):
        return self.layer_outputs(inputs)[-1]

    def error_below(self, errors, delta, w):
        """dL/dy of the layer below: the error at z above, ``delta``, carried back through W."""
        return delta @ w

    def backward(self, inputs, targets):
        """dL/dW of every layer, and on the way dL/dz of every layer and dL/dh of every hidden one."""
        outputs = self.layer_outputs(inputs)
        n = len(inputs) if np.ndim(inputs) == 2 else 1
        errors = (outputs[-1] - targets) / n  # dL/dy at the output: L = ½ Σ (t − o)², the batch mean
        layers = len(self.weights)
        grads, dLdz, dLdh = [None] * layers, [None] * layers, [None] * (layers - 1)
        for k in reversed(range(layers)):
            y = outputs[k + 1]
            dLdz[k] = delta = errors * y * (1.0 - y)  # dL/dz = dL/dy · σ'(z), with σ'(z) = y (1 − y)
            grads[k] = np.atleast_2d(delta).T @ np.atleast_2d(outputs[k])  # z = W x  ⇒  dL/dW = dL/dz x^T
            errors = self.error_below(errors, delta, self.weights[k])
            if k:
                dLdh[k - 1] = errors
        return grads, dLdz, dLdh

    def gradients(self, inputs, targets):
        """[dL/dW for each layer, input side first], averaged over the batch."""
        return self.backward(inputs, targets)[0]

    def intermediate_gradients(self, inputs, targets):
        """dL/dz of every layer and dL/dh of every hidden layer, for check_network to compare."""
        _, dLdz, dLdh = self.backward(inputs, targets)
        return {"dLdz": dLdz, "dLdh": dLdh}

    def train(self, inputs, targets):
        """One SGD step, W −= lr · dL/dW; returns L before the step."""
        n = len(inputs) if np.ndim(inputs) == 2 else 1
        loss = 0.5 * float(np.sum((targets - self.query(inputs)) ** 2)) / n
        for w, g in zip(self.weights, self.gradients(inputs, targets)):
            w -= self.lr * g
        return loss


class MyFirstTry(MyNetwork):
    """The first version: it carries the error back the book's way, ``who.T @ output_errors``."""

    def error_below(self, errors, delta, w):
        return errors @ w  # dL/dy above, not dL/dz: the derivative σ'(z) of the layer above is lost
