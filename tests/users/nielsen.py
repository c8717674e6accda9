"""Nielsen's network2.py (Neural Networks and Deep Learning, chapter 3) as its readers write it.

Each sample is a column vector, ``np.reshape(x, (784, 1))``; ``biases`` and ``weights`` are lists,
one entry a layer, the weights ``(y, x)`` drawn ``randn(y, x) / sqrt(x)``; sigmoid everywhere; the
cost a class with ``fn`` and ``delta``; ``update_mini_batch`` sums each sample's ``backprop`` and
steps with L2 written as a shrinking of the weights,

.. math:: w \\leftarrow (1 - \\eta \\lambda / n) \\, w - (\\eta / m) \\textstyle\\sum_x \\nabla_w C_x,
          \\qquad b \\leftarrow b - (\\eta / m) \\textstyle\\sum_x \\nabla_b C_x.

In the library's recipe that is plain SGD with ``weight_decay = lmbda / n`` on the weights only
(torch's ``g += λ w``, so ``w -= lr (g + λ w)``), ``loss="binary_cross_entropy"`` (the
CrossEntropyCost, summed over the outputs, averaged over the mini-batch), ``bias=True`` and
``activation="sigmoid"``. ``train()`` returns the cost without network2's regularization term,
since weight decay is the optimizer's and not part of the loss.

:class:`Network2` is correct; every other class has one mistake planted in one small place.
"""
from __future__ import annotations

import numpy as np

N = 60000  # the n of lmbda / n: the size of MNIST's training set, as network2 is run on it
LMBDA = 5.0  # the book's lmbda for the 784-30-10 network


def sigmoid(z):
    """The sigmoid function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


class QuadraticCost(object):
    """C = ½ ‖a − y‖², with the sigmoid's derivative in its delta."""

    @staticmethod
    def fn(a, y):
        """The cost of an output ``a`` for the desired output ``y``."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """The error of the output layer, dC/dz."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost(object):
    """C = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)], summed over the outputs."""

    @staticmethod
    def fn(a, y):
        """The cost of an output ``a`` for ``y``; nan_to_num makes (1 − y) ln(1 − a) 0 at a = y = 1."""
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """dC/dz: the sigmoid's derivative cancels against the cost's, so ``z`` is not needed."""
        return a - y


class Network2(object):
    """network2's Network, built with the library's signature.

    ``learning_rate`` is network2's ``eta``; ``weight_decay`` is its ``lmbda / n``, kept as
    ``lmbda`` with ``n = 60000``. ``loss`` picks the cost: "binary_cross_entropy" (the
    CrossEntropyCost, the default) or "half_sse" (the QuadraticCost).
    """

    LEARNING_RATE = 0.5  # the book's eta with the cross-entropy cost
    COSTS = {"binary_cross_entropy": CrossEntropyCost, "half_sse": QuadraticCost}

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64",
                 activation="sigmoid", loss="binary_cross_entropy", bias=True, weight_decay=LMBDA / N):
        if activation != "sigmoid":
            raise ValueError(f"network2 uses sigmoid neurons everywhere. Got activation {activation!r} instead.")
        if loss not in self.COSTS:
            raise ValueError(f"network2's costs are {sorted(self.COSTS)}. Got loss {loss!r} instead.")
        if bias is not True:
            raise ValueError(f"network2's neurons all have biases. Got bias {bias!r} instead.")
        hidden = [int(hidden_nodes)] if np.ndim(hidden_nodes) == 0 else list(hidden_nodes)
        self.input_nodes, self.hidden_nodes, self.output_nodes = input_nodes, hidden_nodes, output_nodes
        self.eta, self.dtype = float(learning_rate), np.dtype(dtype)
        self.activation, self.loss, self.bias = activation, loss, bias
        self.n = N
        self.lmbda = float(weight_decay) * self.n
        self.sizes = [input_nodes] + hidden + [output_nodes]
        self.num_layers = len(self.sizes)
        self.cost = self.COSTS[loss]
        self.steps = 0  # update_mini_batch calls: the optimizer's whole state
        self.default_weight_initializer()

    @property
    def lr(self):
        return self.eta

    @lr.setter
    def lr(self, value):
        self.eta = float(value)

    @property
    def weight_decay(self):
        """network2's λ/n: the weights shrink by (1 − η λ/n) each step."""
        return self.lmbda / self.n

    def default_weight_initializer(self):
        """Weights N(0, 1/x) for a neuron with x inputs, biases N(0, 1)."""
        self.biases = [np.random.randn(y, 1).astype(self.dtype) for y in self.sizes[1:]]
        self.weights = [(np.random.randn(y, x) / np.sqrt(x)).astype(self.dtype)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def feedforward(self, a):
        """The network's output for input ``a``: a column (784, 1), or one column per sample."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        """``(nabla_b, nabla_w)``: the gradient of the cost C_x, layer by layer, like the biases and weights."""
        nabla_b = [np.zeros(b.shape, dtype=self.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, dtype=self.dtype) for w in self.weights]
        activation, activations, zs = x, [x], []  # every layer's activation and weighted input
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost.delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):  # l = 2 is the last hidden layer, counting back
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def summed_nablas(self, mini_batch):
        """Σ_x ∇C_x over the mini-batch, as ``(nabla_b, nabla_w)``."""
        nabla_b = [np.zeros(b.shape, dtype=self.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, dtype=self.dtype) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        return nabla_b, nabla_w

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step of gradient descent on the mini-batch, L2 shrinking the weights (not the biases)."""
        nabla_b, nabla_w = self.summed_nablas(mini_batch)
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    # -- the library's protocol ------------------------------------------------------------------

    def mini_batch(self, inputs, targets):
        """The (x, y) pairs of network2's data: x of shape (784, 1), y of shape (10, 1)."""
        inputs = np.asarray(inputs, dtype=self.dtype).reshape(-1, self.sizes[0])
        targets = np.asarray(targets, dtype=self.dtype).reshape(-1, self.sizes[-1])
        return [(np.reshape(x, (self.sizes[0], 1)), np.reshape(y, (self.sizes[-1], 1)))
                for x, y in zip(inputs, targets)]

    def query(self, inputs):
        outputs = self.feedforward(np.asarray(inputs, dtype=self.dtype).reshape(-1, self.sizes[0]).T).T
        return outputs[0] if np.ndim(inputs) == 1 else outputs

    def get_weights(self):
        return [p.copy() for w, b in zip(self.weights, self.biases) for p in (w, b.ravel())]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=self.dtype) for w in weights[0::2]]
        self.biases = [np.array(b, dtype=self.dtype).reshape(-1, 1) for b in weights[1::2]]

    def gradients(self, inputs, targets):
        mini_batch = self.mini_batch(inputs, targets)
        nabla_b, nabla_w = self.summed_nablas(mini_batch)
        return [p / len(mini_batch) for nw, nb in zip(nabla_w, nabla_b) for p in (nw, nb.ravel())]

    def train(self, inputs, targets):
        mini_batch = self.mini_batch(inputs, targets)
        cost = sum(self.cost.fn(self.feedforward(x), y) for x, y in mini_batch) / len(mini_batch)
        self.update_mini_batch(mini_batch, self.eta, self.lmbda, self.n)
        self.steps += 1
        return float(cost)

    def get_optimizer_state(self):
        return {"step": self.steps}

    def set_optimizer_state(self, state):
        if set(state) != {"step"}:
            raise ValueError(f"network2's plain SGD keeps only a step count. Got keys {sorted(state)} instead.")
        self.steps = int(state["step"])


class DecayedBiases(Network2):
    """Shrinks the biases by (1 − η λ/n) too, where network2 decays the weights only."""

    CAUSE = "decay_reaches_biases"

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b, nabla_w = self.summed_nablas(mini_batch)
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [(1 - eta * (lmbda / n)) * b - (eta / len(mini_batch)) * nb
                       for b, nb in zip(self.biases, nabla_b)]


class ForgottenDecay(Network2):
    """States lmbda / n, but its update is chapter 1's, without the (1 − η λ/n) shrinking."""

    CAUSE = "decay_missing"

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b, nabla_w = self.summed_nablas(mini_batch)
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]


class MeanCrossEntropyCost(CrossEntropyCost):
    """The cross-entropy averaged over the outputs (np.mean), and its delta divided to match."""

    @staticmethod
    def fn(a, y):
        return np.mean(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return (a - y) / len(a)


class AveragedCrossEntropy(Network2):
    """Averages the cross-entropy over the 10 outputs (np.mean) while stating it summed."""

    CAUSE = "bce_mean_not_sum"
    COSTS = {**Network2.COSTS, "binary_cross_entropy": MeanCrossEntropyCost}


CORRECT = [Network2]
MISTAKES = [DecayedBiases, ForgottenDecay, AveragedCrossEntropy]
