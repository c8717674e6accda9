"""nnfs's objects with one mistake planted each, as the book's readers make them: the fixtures an object
check must name.

Each class is its correct twin in :mod:`tests.users.nnfs_layers` with one method overridden, the
line a reader gets wrong marked ``# the mistake`` (the Adam ones are :mod:`tests.users.nnfs`'s,
which its planted networks use). The registries::

    PLANTED_LAYERS[kind][cause] = {"layer": cls}              # kind: dense, relu, sigmoid, dropout,
                                                              #       softmax_loss
    PLANTED_OPTIMIZERS[optimizer][cause] = {"optimizer": cls, "hyper": {...}}
                                                              # optimizer: sgd, rmsprop, adam

and ``PLANTED``, both in one dict. A layer class is built as its twin is (``Layer_Dense(n_inputs,
n_neurons)``, ``Layer_Dropout(rate)``, the others without arguments); the softmax_loss one is the
combined ``Activation_Softmax_Loss_CategoricalCrossentropy``. An optimizer class is built with
``hyper`` (where a plain one would not show the mistake: momentum for SGD, decay for the schedule)
and departs from torch.optim within 5 steps on gradients of order ``grad_scale`` (1 where absent).
"""
from __future__ import annotations

import numpy as np

from .nnfs import Optimizer_Adam_CountedEarly, Optimizer_Adam_EpsInside, Optimizer_Adam_Uncorrected
from .nnfs_layers import Activation_ReLU, Activation_Sigmoid, Activation_Softmax_Loss_CategoricalCrossentropy, \
    Layer_Dense, Layer_Dropout, Optimizer_RMSprop, Optimizer_SGD


# -- layers -------------------------------------------------------------------------------------------

class Layer_Dense_GradsAveraged(Layer_Dense):
    """Divides dweights and dbiases by the batch size, which the loss's backward has divided by already
    (seen in readers who learnt the 1/m from Andrew Ng's course)."""

    def backward(self, dvalues):
        super().backward(dvalues)
        self.dweights, self.dbiases = self.dweights / len(dvalues), self.dbiases / len(dvalues)  # the mistake


class Activation_ReLU_MaskFromDvalues(Activation_ReLU):
    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[dvalues <= 0] = 0  # the mistake


class Activation_Sigmoid_Twice(Activation_Sigmoid):
    def backward(self, dvalues):
        sigmoid = 1 / (1 + np.exp(-self.output))  # the mistake: self.output is σ(x) already
        self.dinputs = dvalues * (1 - sigmoid) * sigmoid


class Layer_Dropout_NotInverted(Layer_Dropout):
    def forward(self, inputs, training):
        self.inputs = inputs
        if not training:
            self.output = inputs.copy()
            return
        self.binary_mask = np.random.binomial(1, self.rate, size=inputs.shape)  # the mistake: no / self.rate
        self.output = inputs * self.binary_mask


class Layer_Dropout_RateKept(Layer_Dropout):
    """Keeps the drop rate as the keep rate: each unit is kept with probability ``rate`` (and scaled by 1/rate)."""

    def __init__(self, rate):
        self.rate = rate  # the mistake


class Activation_Softmax_Loss_CategoricalCrossentropy_Summed(Activation_Softmax_Loss_CategoricalCrossentropy):
    """The combined backward without ``/ samples``: a gradient summed over the batch for a loss averaged
    over it (the book adds the normalization in a separate line, which readers typing it in skip)."""

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1  # the mistake: self.dinputs / samples left out


# -- optimizers ---------------------------------------------------------------------------------------

class Optimizer_SGD_MomentumNotStored(Optimizer_SGD):
    """Computes the momentum update and never stores it back: every step is plain SGD."""

    def update_params(self, layer):
        if not hasattr(layer, "weight_momentums"):
            layer.weight_momentums = np.zeros_like(layer.weights)
            layer.bias_momentums = np.zeros_like(layer.biases)
        weight_updates = self.momentum * layer.weight_momentums - self.current_learning_rate * layer.dweights
        bias_updates = self.momentum * layer.bias_momentums - self.current_learning_rate * layer.dbiases
        # the mistake: layer.weight_momentums = weight_updates (and the biases') left out
        layer.weights += weight_updates
        layer.biases += bias_updates


class Optimizer_RMSprop_NoSqrt(Optimizer_RMSprop):
    def step(self, dparams, cache):
        return -self.current_learning_rate * dparams / (cache + self.epsilon)  # the mistake


class Optimizer_RMSprop_DecayCompounds(Optimizer_RMSprop):
    """Decays the current rate, not the initial one: lr_t = lr_{t−1} / (1 + decay · t), compounding
    (seen in public nnfs code)."""

    def pre_update_params(self):
        if self.decay:
            # the mistake: self.current_learning_rate where self.learning_rate belongs
            self.current_learning_rate = self.current_learning_rate * (1. / (1. + self.decay * self.iterations))


PLANTED_LAYERS = {
    "dense": {"dense_grads_averaged": {"layer": Layer_Dense_GradsAveraged}},
    "relu": {"relu_mask_from_dout": {"layer": Activation_ReLU_MaskFromDvalues}},
    "sigmoid": {"sigmoid_derivative_of_output_twice": {"layer": Activation_Sigmoid_Twice}},
    "dropout": {
        "dropout_not_inverted": {"layer": Layer_Dropout_NotInverted},
        "dropout_keep_for_drop": {"layer": Layer_Dropout_RateKept},
    },
    "softmax_loss": {"softmax_dx_not_averaged": {"layer": Activation_Softmax_Loss_CategoricalCrossentropy_Summed}},
}

PLANTED_OPTIMIZERS = {
    "sgd": {"momentum_no_velocity_store": {"optimizer": Optimizer_SGD_MomentumNotStored,
                                           "hyper": {"learning_rate": 0.1, "momentum": 0.9}}},
    "rmsprop": {
        "rmsprop_no_sqrt": {"optimizer": Optimizer_RMSprop_NoSqrt, "hyper": {}},
        "lr_decay_compounds": {"optimizer": Optimizer_RMSprop_DecayCompounds, "hyper": {"decay": 0.1}},
    },
    "adam": {
        "adam_bias_correction": {"optimizer": Optimizer_Adam_Uncorrected, "hyper": {}},
        "step_count_off_by_one": {"optimizer": Optimizer_Adam_CountedEarly, "hyper": {}},
        "adam_eps_inside_sqrt": {"optimizer": Optimizer_Adam_EpsInside, "hyper": {}, "grad_scale": 1e-4},
    },
}

PLANTED = {**PLANTED_LAYERS, **PLANTED_OPTIMIZERS}
