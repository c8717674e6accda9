"""The objects of "Neural Networks from Scratch in Python" (nnfs), as its readers write them, in one place.

Every object keeps what it saw: ``forward(inputs, training)`` stores ``output`` (and ``inputs``),
``backward(dvalues)`` stores ``dinputs`` (and a layer's ``dweights``, ``dbiases``). The book's
layout: ``Layer_Dense(n_inputs, n_neurons)`` holds ``weights`` (n_inputs, n_neurons) = 0.01 · randn
and ``biases`` (1, n_neurons) = 0, the transpose of ``nn.Linear.weight``.

From :mod:`tests.users.nnfs` (written there first, imported here): ``Layer_Dense``,
``Activation_ReLU``, ``Activation_Sigmoid``, ``Activation_Softmax`` (its backward through each
sample's Jacobian), ``Loss_CategoricalCrossentropy``, ``Loss_BinaryCrossentropy``,
``Activation_Softmax_Loss_CategoricalCrossentropy`` (``forward(inputs, y_true)`` returns the mean
loss; ``backward(dvalues, y_true)`` takes the softmax *outputs* and gives (ŷ − y) / samples) and
``Optimizer_Adam`` (ε 1e-7). Written here:

- ``Layer_Dropout(rate)``: constructed with the *drop* rate, it keeps ``rate = 1 − rate``; in
  training the mask is ``np.random.binomial(1, keep, size) / keep`` (inverted dropout; float64, as
  NumPy's draw), at inference (``training=False``) the output is a copy of the input.
- ``Optimizer_SGD(learning_rate=1., decay=0., momentum=0.)``: momentum as a velocity,
  ``m = μ m − lr g; w += m`` (torch's ``SGD(lr, momentum)`` at a constant rate, m = −lr · b).
- ``Optimizer_Adagrad(learning_rate=1., decay=0., epsilon=1e-7)``: ``cache += g²; w −= lr g /
  (√cache + ε)``, torch's ``Adagrad(lr, lr_decay=decay, eps=epsilon)`` exactly, decay included.
- ``Optimizer_RMSprop(learning_rate=0.001, decay=0., epsilon=1e-7, rho=0.9)``: ``cache = ρ cache +
  (1 − ρ) g²; w −= lr g / (√cache + ε)``, torch's ``RMSprop(lr, alpha=rho, eps=epsilon)``.
- each optimizer's ``pre_update_params()`` sets ``current_learning_rate = learning_rate / (1 + decay
  · iterations)``, ``update_params(layer)`` steps one layer, ``post_update_params()`` counts the
  iteration.

The book's ``Model`` is in :mod:`tests.users.nnfs_model`; planted mistakes in
:mod:`tests.users.nnfs_planted`.
"""
from __future__ import annotations

import numpy as np

from .nnfs import (  # noqa: F401  (the book's objects, exported from here too)
    Activation_ReLU, Activation_Sigmoid, Activation_Softmax, Activation_Softmax_Loss_CategoricalCrossentropy,
    Layer_Dense, Loss, Loss_BinaryCrossentropy, Loss_CategoricalCrossentropy, Optimizer_Adam,
)


class Layer_Dropout:
    def __init__(self, rate):
        self.rate = 1 - rate  # the book stores the keep rate

    def forward(self, inputs, training):
        self.inputs = inputs
        if not training:
            self.output = inputs.copy()
            return
        self.binary_mask = np.random.binomial(1, self.rate, size=inputs.shape) / self.rate
        self.output = inputs * self.binary_mask

    def backward(self, dvalues):
        self.dinputs = dvalues * self.binary_mask


class Optimizer:
    """What the book's optimizers share: the decayed rate before the updates, the count after."""

    def __init__(self, learning_rate, decay):
        self.learning_rate = learning_rate
        self.current_learning_rate = learning_rate
        self.decay = decay
        self.iterations = 0

    def pre_update_params(self):
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1. / (1. + self.decay * self.iterations))

    def post_update_params(self):
        self.iterations += 1


class Optimizer_SGD(Optimizer):
    def __init__(self, learning_rate=1., decay=0., momentum=0.):
        super().__init__(learning_rate, decay)
        self.momentum = momentum

    def update_params(self, layer):
        if self.momentum:
            if not hasattr(layer, "weight_momentums"):
                layer.weight_momentums = np.zeros_like(layer.weights)
                layer.bias_momentums = np.zeros_like(layer.biases)
            weight_updates = self.momentum * layer.weight_momentums - self.current_learning_rate * layer.dweights
            layer.weight_momentums = weight_updates
            bias_updates = self.momentum * layer.bias_momentums - self.current_learning_rate * layer.dbiases
            layer.bias_momentums = bias_updates
        else:
            weight_updates = -self.current_learning_rate * layer.dweights
            bias_updates = -self.current_learning_rate * layer.dbiases
        layer.weights += weight_updates
        layer.biases += bias_updates


class Optimizer_Adagrad(Optimizer):
    def __init__(self, learning_rate=1., decay=0., epsilon=1e-7):
        super().__init__(learning_rate, decay)
        self.epsilon = epsilon

    def update_params(self, layer):
        if not hasattr(layer, "weight_cache"):
            layer.weight_cache = np.zeros_like(layer.weights)
            layer.bias_cache = np.zeros_like(layer.biases)
        layer.weight_cache += layer.dweights ** 2
        layer.bias_cache += layer.dbiases ** 2
        layer.weights += -self.current_learning_rate * layer.dweights / (np.sqrt(layer.weight_cache) + self.epsilon)
        layer.biases += -self.current_learning_rate * layer.dbiases / (np.sqrt(layer.bias_cache) + self.epsilon)


class Optimizer_RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, decay=0., epsilon=1e-7, rho=0.9):
        super().__init__(learning_rate, decay)
        self.epsilon = epsilon
        self.rho = rho

    def update_params(self, layer):
        if not hasattr(layer, "weight_cache"):
            layer.weight_cache = np.zeros_like(layer.weights)
            layer.bias_cache = np.zeros_like(layer.biases)
        layer.weight_cache = self.rho * layer.weight_cache + (1 - self.rho) * layer.dweights ** 2
        layer.bias_cache = self.rho * layer.bias_cache + (1 - self.rho) * layer.dbiases ** 2
        layer.weights += self.step(layer.dweights, layer.weight_cache)
        layer.biases += self.step(layer.dbiases, layer.bias_cache)

    def step(self, dparams, cache):
        """−lr · g / (√cache + ε) (the book writes it out for the weights and the biases)."""
        return -self.current_learning_rate * dparams / (np.sqrt(cache) + self.epsilon)
