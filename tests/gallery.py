"""A gallery of networks as readers write them: two correct ones, and one per typical mistake.

:class:`RowNetwork` is correct, written as from_scratch is (samples as rows), for any number of
hidden layers. :class:`ColumnNetwork` is correct too, written as the book writes it (each sample
a column vector, ``numpy.array(inputs, ndmin=2).T``). Every other class is :class:`RowNetwork`
with one mistake planted in one small method, the way it happens in real code; ``CAUSE`` names
what ``check_network`` must diagnose and ``LAYER`` where: "all", "outputs", or an index into the
architecture's ``layer_names()`` (-1 the output layer, -2 the one below it, 0 the first).
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit


class RowNetwork:
    """A sigmoid network without biases, L = ½ Σ (t − o)² averaged over the batch, plain SGD."""

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64"):
        self.input_nodes, self.hidden_nodes, self.output_nodes = input_nodes, hidden_nodes, output_nodes
        self.lr, self.dtype = learning_rate, np.dtype(dtype)
        hidden = [hidden_nodes] if isinstance(hidden_nodes, int) else list(hidden_nodes)
        sizes = [input_nodes, *hidden, output_nodes]
        rng = np.random.default_rng(1)
        self.set_weights([rng.normal(0.0, n_in**-0.5, (n_out, n_in)) for n_in, n_out in zip(sizes, sizes[1:])])

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=self.dtype) for w in weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def layer(self, a, k):
        """z = W a for every sample (a row of ``a``)."""
        return a @ self.weights[k].T

    def forward(self, inputs):
        """The activations of every layer, the inputs first."""
        activations = [np.asarray(inputs, dtype=self.dtype)]
        for k in range(len(self.weights)):
            activations.append(expit(self.layer(activations[-1], k)))
        return activations

    def query(self, inputs):
        return self.forward(inputs)[-1]

    def output_error(self, outputs, targets):
        """dL/do for L = ½ Σ (t − o)²."""
        return outputs - targets

    def error_below(self, dLdz, k):
        """dL/dh of the layer below layer k: z_k = W_k h  ⇒  dL/dh = W_k^T dL/dz_k."""
        return dLdz @ self.weights[k]

    def through_activation(self, dLdh, h, k):
        """dL/dz from dL/dh through h = σ(z) of layer k (counted from 1): σ'(z) = h (1 − h)."""
        return dLdh * h * (1 - h)

    def weight_gradient(self, dLdz, a):
        """dL/dW = dL/dz a^T, averaged over the batch."""
        if a.ndim == 1:
            return np.outer(dLdz, a)
        return dLdz.T @ a / len(a)

    def backward(self, inputs, targets):
        """L, the gradients, and dL/dz and dL/dh of every sample (not yet divided by the batch size)."""
        activations = self.forward(inputs)
        outputs = activations[-1]
        loss = 0.5 * float(np.sum((outputs - targets) ** 2)) / (len(outputs) if outputs.ndim == 2 else 1)
        dLdz = self.through_activation(self.output_error(outputs, targets), outputs, len(self.weights))
        grads, dLdzs, dLdhs = [None] * len(self.weights), [dLdz], []
        for k in reversed(range(len(self.weights))):
            grads[k] = self.weight_gradient(dLdz, activations[k])
            if k:
                dLdhs.insert(0, self.error_below(dLdz, k))
                dLdz = self.through_activation(dLdhs[0], activations[k], k)
                dLdzs.insert(0, dLdz)
        return loss, grads, dLdzs, dLdhs

    def gradients(self, inputs, targets):
        return self.backward(inputs, targets)[1]

    def intermediate_gradients(self, inputs, targets):
        """dL/dz of every layer and dL/dh of every hidden layer; L is the batch mean, so each / n."""
        _, _, dLdzs, dLdhs = self.backward(inputs, targets)
        n = len(inputs) if np.ndim(inputs) == 2 else 1
        return {"dLdz": [d / n for d in dLdzs], "dLdh": [d / n for d in dLdhs]}

    def update(self, grads):
        for w, g in zip(self.weights, grads):
            w -= self.lr * g

    def train(self, inputs, targets):
        loss, grads = self.backward(inputs, targets)[:2]
        self.update(grads)
        return loss


class ColumnNetwork:
    """Correct, and written as the book writes it: one hidden layer, each sample a column."""

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64"):
        self.input_nodes, self.hidden_nodes, self.output_nodes = input_nodes, hidden_nodes, output_nodes
        self.lr, self.dtype = learning_rate, np.dtype(dtype)
        self.wih = np.random.normal(0.0, pow(input_nodes, -0.5), (hidden_nodes, input_nodes)).astype(dtype)
        self.who = np.random.normal(0.0, pow(hidden_nodes, -0.5), (output_nodes, hidden_nodes)).astype(dtype)

    def set_weights(self, weights):
        self.wih, self.who = (np.array(w, dtype=self.dtype) for w in weights)

    def get_weights(self):
        return [self.wih.copy(), self.who.copy()]

    def _columns(self, inputs_list, targets_list=None):
        inputs = np.array(inputs_list, ndmin=2, dtype=self.dtype).T  # (784, n)
        hidden_outputs = expit(np.dot(self.wih, inputs))
        final_outputs = expit(np.dot(self.who, hidden_outputs))
        if targets_list is None:
            return final_outputs
        targets = np.array(targets_list, ndmin=2, dtype=self.dtype).T
        output_errors = targets - final_outputs
        hidden_errors = np.dot(self.who.T, output_errors * final_outputs * (1.0 - final_outputs))
        n = inputs.shape[1]
        dwho = -np.dot(output_errors * final_outputs * (1.0 - final_outputs), hidden_outputs.T) / n
        dwih = -np.dot(hidden_errors * hidden_outputs * (1.0 - hidden_outputs), inputs.T) / n
        return 0.5 * float(np.sum(output_errors**2)) / n, [dwih, dwho]

    def query(self, inputs_list):
        outputs = self._columns(inputs_list).T
        return outputs[0] if np.ndim(inputs_list) == 1 else outputs

    def gradients(self, inputs_list, targets_list):
        return self._columns(inputs_list, targets_list)[1]

    def train(self, inputs_list, targets_list):
        loss, (dwih, dwho) = self._columns(inputs_list, targets_list)
        self.who -= self.lr * dwho
        self.wih -= self.lr * dwih
        return loss


class HalfMissing(RowNetwork):
    """L = Σ (t − o)², torch's MSELoss(reduction='sum'), where ½ Σ (t − o)² is meant."""

    CAUSE, LAYER = "half_missing_or_doubled", "all"

    def output_error(self, outputs, targets):
        return 2 * (outputs - targets)


class SummedBatch(RowNetwork):
    """Sums the outer products of a batch and forgets to divide by its size."""

    CAUSE, LAYER = "sum_not_mean", -1

    def weight_gradient(self, dLdz, a):
        return np.outer(dLdz, a) if a.ndim == 1 else dLdz.T @ a


class MissingHiddenDerivative(RowNetwork):
    """Carries the error back through W but leaves out the hidden sigmoid's h (1 − h)."""

    CAUSE, LAYER = "missing_derivative", -2

    def through_activation(self, dLdh, h, k):
        return dLdh if k < len(self.weights) else super().through_activation(dLdh, h, k)


class WrongSign(RowNetwork):
    """Takes the book's output_errors, t − o, for dL/do."""

    CAUSE, LAYER = "wrong_sign", -1

    def output_error(self, outputs, targets):
        return targets - outputs


class ReshapedWeight(RowNetwork):
    """Stores W_ih reshaped to (n_in, n_out), as if that were its transpose, and computes a @ W."""

    CAUSE, LAYER = "transposed_weight", 0

    def set_weights(self, weights):
        super().set_weights(weights)
        self.weights[0] = self.weights[0].reshape(self.weights[0].shape[::-1])

    def get_weights(self):
        weights = super().get_weights()
        weights[0] = weights[0].reshape(weights[0].shape[::-1])
        return weights

    def layer(self, a, k):
        return a @ self.weights[k] if k == 0 else super().layer(a, k)

    def update(self, grads):
        self.weights[0] -= self.lr * grads[0].reshape(self.weights[0].shape)
        for w, g in zip(self.weights[1:], grads[1:]):
            w -= self.lr * g


class AccumulatedGradients(RowNetwork):
    """Adds each call's gradients into ``self.grads``, as torch's .grad does, and never zeroes them."""

    CAUSE, LAYER = "stale_gradients", "all"

    def gradients(self, inputs, targets):
        new = super().gradients(inputs, targets)
        self.grads = [g + n for g, n in zip(getattr(self, "grads", [0 * n for n in new]), new)]
        return [g.copy() for g in self.grads]


class StaleGradients(RowNetwork):
    """Computes the gradients once and hands the same ones back ever after."""

    CAUSE, LAYER = "stale_gradients", "all"

    def gradients(self, inputs, targets):
        if not hasattr(self, "cached"):
            self.cached = super().gradients(inputs, targets)
        return [g.copy() for g in self.cached]


class ForgetsLearningRate(RowNetwork):
    """Steps W −= dL/dW: the learning rate left out of the update."""

    CAUSE, LAYER = "update_not_gradient", -1

    def update(self, grads):
        for w, g in zip(self.weights, grads):
            w -= g


class GradientsByStepping(RowNetwork):
    """Finds the gradients by taking a training step and reading it back, and never undoes it."""

    CAUSE, LAYER = "gradients_move_weights", "all"

    def gradients(self, inputs, targets):
        before = self.get_weights()
        self.train(inputs, targets)
        return [(b - w) / self.lr for b, w in zip(before, self.weights)]


class QueryWithoutOutputSigmoid(RowNetwork):
    """query() returns the output layer's z, not σ(z); gradients() is right."""

    CAUSE, LAYER = "query_not_forward", "outputs"

    def query(self, inputs):
        activations = self.forward(inputs)
        return self.layer(activations[-2], len(self.weights) - 1)


class AveragedBeforeOuterProduct(RowNetwork):
    """Subtle, batches only: averages dL/dz and the activations over the batch, then takes one outer
    product, where the mean of the samples' outer products belongs. One sample is right."""

    CAUSE, LAYER = "batch_only", -1

    def weight_gradient(self, dLdz, a):
        if a.ndim == 1:
            return np.outer(dLdz, a)
        return np.outer(dLdz.mean(axis=0), a.mean(axis=0))


class Momentum(RowNetwork):
    """Subtle, after the first step: a momentum of 0.9 added to plain SGD, so from the second step
    on each step also carries the last one."""

    CAUSE, LAYER = "update_not_gradient", -1

    def update(self, grads):
        velocity = getattr(self, "velocity", [0 * g for g in grads])
        self.velocity = [0.9 * v + g for v, g in zip(velocity, grads)]
        for w, v in zip(self.weights, self.velocity):
            w -= self.lr * v


BUGGY = (HalfMissing, SummedBatch, MissingHiddenDerivative, WrongSign, ReshapedWeight, AccumulatedGradients,
         StaleGradients, ForgetsLearningRate, GradientsByStepping, QueryWithoutOutputSigmoid,
         AveragedBeforeOuterProduct, Momentum)
CORRECT = (RowNetwork, ColumnNetwork)
