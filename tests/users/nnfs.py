"""A network in the style of "Neural Networks from Scratch in Python" (nnfs), as its readers write it.

Objects that keep what they saw: ``Layer_Dense`` (weights (n_inputs, n_neurons) = 0.01 · randn,
biases (1, n_neurons)), ``Activation_ReLU``, ``Activation_Softmax_Loss_CategoricalCrossentropy``
(whose combined backward is ``(ŷ − y) / samples``), each with ``forward`` and ``backward`` storing
``output``, ``dinputs``, ``dweights``, ``dbiases``; ``forward`` takes the later chapters' ``training``
too (ignored here), and the activations have the ``predictions`` the book's ``Model`` reads. L2 is
the layer's ``weight_regularizer_l2`` λ: the loss adds λ ΣW², the gradient 2λW, so the library's
``l2`` is 2λ. ``Optimizer_Adam`` steps with ``pre_update_params`` (lr / (1 + decay · iterations)),
``update_params`` per layer, and ``post_update_params`` (iterations + 1). tests/users/nnfs_layers.py
adds the book's other objects: its dropout, its other optimizers and its ``Model``.

:class:`NnfsNetwork` wraps them in the library's protocol; its recipe is Adam with eps 1e-7,
ReLU, softmax cross-entropy, biases, and optionally nnfs's ``decay`` as the schedule
"inverse_time" with ``lr_decay``. :class:`NnfsBinaryNetwork` ends in ``Activation_Sigmoid`` and
``Loss_BinaryCrossentropy``, which averages over the outputs: ``loss="binary_cross_entropy_mean"``.
The other classes plant one mistake each in the optimizer.
"""
from __future__ import annotations

import numpy as np


class Layer_Dense:
    def __init__(self, n_inputs, n_neurons, weight_regularizer_l2=0, bias_regularizer_l2=0, dtype="float64"):
        self.weights = (0.01 * np.random.randn(n_inputs, n_neurons)).astype(dtype)
        self.biases = np.zeros((1, n_neurons), dtype=dtype)
        self.weight_regularizer_l2 = weight_regularizer_l2
        self.bias_regularizer_l2 = bias_regularizer_l2

    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        if self.weight_regularizer_l2 > 0:  # d(λ ΣW²)/dW
            self.dweights += 2 * self.weight_regularizer_l2 * self.weights
        if self.bias_regularizer_l2 > 0:
            self.dbiases += 2 * self.bias_regularizer_l2 * self.biases
        self.dinputs = np.dot(dvalues, self.weights.T)


class Activation_ReLU:
    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0

    def predictions(self, outputs):
        return outputs


class Activation_Softmax:
    def forward(self, inputs, training=False):
        self.inputs = inputs
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)

    def backward(self, dvalues):
        """Each sample's dvalues through its Jacobian, diag(ŷ) − ŷ ŷᵀ."""
        self.dinputs = np.empty_like(dvalues)
        for index, (single_output, single_dvalues) in enumerate(zip(self.output, dvalues)):
            single_output = single_output.reshape(-1, 1)
            jacobian_matrix = np.diagflat(single_output) - np.dot(single_output, single_output.T)
            self.dinputs[index] = np.dot(jacobian_matrix, single_dvalues)

    def predictions(self, outputs):
        return np.argmax(outputs, axis=1)


class Activation_Sigmoid:
    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = 1 / (1 + np.exp(-inputs))

    def backward(self, dvalues):
        self.dinputs = dvalues * (1 - self.output) * self.output

    def predictions(self, outputs):
        return (outputs > 0.5) * 1


class Loss:
    def regularization_loss(self, layer):
        regularization_loss = 0
        if layer.weight_regularizer_l2 > 0:
            regularization_loss += layer.weight_regularizer_l2 * np.sum(layer.weights * layer.weights)
        if layer.bias_regularizer_l2 > 0:
            regularization_loss += layer.bias_regularizer_l2 * np.sum(layer.biases * layer.biases)
        return regularization_loss

    def calculate(self, output, y):
        return np.mean(self.forward(output, y))


class Loss_CategoricalCrossentropy(Loss):
    def forward(self, y_pred, y_true):
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)  # no log(0)
        if len(y_true.shape) == 1:
            correct_confidences = y_pred_clipped[range(len(y_pred)), y_true]
        else:
            correct_confidences = np.sum(y_pred_clipped * y_true, axis=1)
        return -np.log(correct_confidences)


class Activation_Softmax_Loss_CategoricalCrossentropy:
    """Softmax and categorical cross-entropy together, for the short backward ŷ − y."""

    def __init__(self):
        self.activation = Activation_Softmax()
        self.loss = Loss_CategoricalCrossentropy()

    def forward(self, inputs, y_true):
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:  # one-hot to discrete labels
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class Loss_BinaryCrossentropy(Loss):
    """−[y log ŷ + (1 − y) log(1 − ŷ)], averaged over the outputs of each sample."""

    def forward(self, y_pred, y_true):
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        sample_losses = -(y_true * np.log(y_pred_clipped) + (1 - y_true) * np.log(1 - y_pred_clipped))
        return np.mean(sample_losses, axis=-1)

    def backward(self, dvalues, y_true):
        samples, outputs = len(dvalues), len(dvalues[0])
        clipped_dvalues = np.clip(dvalues, 1e-7, 1 - 1e-7)
        self.dinputs = -(y_true / clipped_dvalues - (1 - y_true) / (1 - clipped_dvalues)) / outputs
        self.dinputs = self.dinputs / samples


class Optimizer_Adam:
    """Adam, torch.optim.Adam's update with t = iterations + 1:

        m ← β1 m + (1 − β1) g,  v ← β2 v + (1 − β2) g²
        w ← w − lr_t · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε),  lr_t = lr / (1 + decay · iterations)
    """

    def __init__(self, learning_rate=0.001, decay=0., epsilon=1e-7, beta_1=0.9, beta_2=0.999):
        self.learning_rate = learning_rate
        self.current_learning_rate = learning_rate
        self.decay = decay
        self.iterations = 0
        self.epsilon = epsilon
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def pre_update_params(self):
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1. / (1. + self.decay * self.iterations))

    def update_params(self, layer):
        if not hasattr(layer, "weight_cache"):
            layer.weight_momentums = np.zeros_like(layer.weights)
            layer.weight_cache = np.zeros_like(layer.weights)
            layer.bias_momentums = np.zeros_like(layer.biases)
            layer.bias_cache = np.zeros_like(layer.biases)
        layer.weight_momentums = self.beta_1 * layer.weight_momentums + (1 - self.beta_1) * layer.dweights
        layer.bias_momentums = self.beta_1 * layer.bias_momentums + (1 - self.beta_1) * layer.dbiases
        layer.weight_cache = self.beta_2 * layer.weight_cache + (1 - self.beta_2) * layer.dweights ** 2
        layer.bias_cache = self.beta_2 * layer.bias_cache + (1 - self.beta_2) * layer.dbiases ** 2
        layer.weights += self.step(layer.weight_momentums, layer.weight_cache)
        layer.biases += self.step(layer.bias_momentums, layer.bias_cache)

    def step(self, momentums, cache):
        """−lr_t · m̂ / (√v̂ + ε), both moments bias-corrected at t = iterations + 1."""
        momentums_corrected = momentums / (1 - self.beta_1 ** (self.iterations + 1))
        cache_corrected = cache / (1 - self.beta_2 ** (self.iterations + 1))
        return -self.current_learning_rate * momentums_corrected / (np.sqrt(cache_corrected) + self.epsilon)

    def post_update_params(self):
        self.iterations += 1


class Optimizer_AdamW(Optimizer_Adam):
    """AdamW (not in nnfs; written in its style): torch.optim.AdamW's decoupled decay, w ← w − lr_t λ w,
    then Adam's step; the biases decay only with ``decay_biases``."""

    def __init__(self, learning_rate=0.001, decay=0., epsilon=1e-7, beta_1=0.9, beta_2=0.999, weight_decay=0.01,
                 decay_biases=False):
        super().__init__(learning_rate, decay, epsilon, beta_1, beta_2)
        self.weight_decay = weight_decay
        self.decay_biases = decay_biases

    def update_params(self, layer):
        layer.weights -= self.current_learning_rate * self.weight_decay * layer.weights
        if self.decay_biases:
            layer.biases -= self.current_learning_rate * self.weight_decay * layer.biases
        super().update_params(layer)


class NnfsNetwork:
    """nnfs's objects, 784-64-10 style, behind the library's protocol (``learning_rate`` is the
    optimizer's; ``l2`` becomes ``weight_regularizer_l2 = l2 / 2``; ``lr_decay`` nnfs's ``decay``)."""

    LEARNING_RATE = 0.02
    OPTIMIZERS = {"adam": Optimizer_Adam, "adamw": Optimizer_AdamW}

    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate, dtype="float64",
                 activation="relu", loss="cross_entropy", bias=True, optimizer="adam", eps=1e-7,
                 betas=(0.9, 0.999), weight_decay=None, l2=0.0, decay_biases=False, schedule="constant",
                 lr_decay=0.0):
        if activation != "relu" or bias is not True:
            raise ValueError(f"This nnfs network has ReLU hidden layers and biases. Got activation {activation!r}"
                             f" and bias {bias!r} instead.")
        if loss not in ("cross_entropy", "binary_cross_entropy_mean"):
            raise ValueError(f"nnfs's losses here are 'cross_entropy' and 'binary_cross_entropy_mean'. Got {loss!r}.")
        if optimizer not in self.OPTIMIZERS:
            raise ValueError(f"This nnfs network trains with {sorted(self.OPTIMIZERS)}. Got {optimizer!r} instead.")
        if weight_decay and optimizer != "adamw":
            raise ValueError("nnfs's Adam has no weight_decay: use l2 (the layers' weight_regularizer_l2).")
        if schedule not in ("constant", "inverse_time") or (lr_decay and schedule != "inverse_time"):
            raise ValueError(f"nnfs decays lr as lr / (1 + decay t): schedule 'inverse_time' with lr_decay. "
                             f"Got schedule {schedule!r} and lr_decay {lr_decay!r} instead.")
        hidden = [int(hidden_nodes)] if np.ndim(hidden_nodes) == 0 else list(hidden_nodes)
        self.input_nodes, self.hidden_nodes, self.output_nodes = input_nodes, hidden_nodes, output_nodes
        self.lr, self.dtype = float(learning_rate), np.dtype(dtype)
        self.activation, self.loss, self.bias = activation, loss, bias
        self.optimizer, self.eps, self.betas = optimizer, float(eps), tuple(betas)
        self.weight_decay = (0.01 if weight_decay is None else float(weight_decay)) if optimizer == "adamw" else 0.0
        self.l2, self.decay_biases = float(l2), bool(decay_biases)
        self.schedule, self.lr_decay = schedule, float(lr_decay)
        sizes = [input_nodes] + hidden + [output_nodes]
        self.layers = [Layer_Dense(n_in, n_out, weight_regularizer_l2=self.l2 / 2,
                                   bias_regularizer_l2=self.l2 / 2 if self.decay_biases else 0, dtype=self.dtype)
                       for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.activations = [Activation_ReLU() for _ in hidden]
        if loss == "cross_entropy":
            self.loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
            self.output_activation, self.loss_function = self.loss_activation.activation, self.loss_activation.loss
        else:
            self.output_activation, self.loss_function = Activation_Sigmoid(), Loss_BinaryCrossentropy()
        keywords = {}
        if optimizer == "adamw":
            keywords = {"weight_decay": self.weight_decay, "decay_biases": self.decay_biases}
        # named so that ``optimizer`` can say "adam", as the library's protocol reads it
        self.nnfs_optimizer = self.OPTIMIZERS[optimizer](learning_rate=self.lr, decay=self.lr_decay, epsilon=self.eps,
                                                         beta_1=self.betas[0], beta_2=self.betas[1], **keywords)

    def forward(self, X):
        """Each layer's and activation's forward, in turn; returns the last layer's output."""
        inputs = X
        for layer, activation in zip(self.layers, self.activations):
            layer.forward(inputs)
            activation.forward(layer.output)
            inputs = activation.output
        self.layers[-1].forward(inputs)
        return self.layers[-1].output

    def calculate_loss(self, X, y):
        """The data loss plus the layers' regularization loss; each object keeps its output."""
        if self.loss == "cross_entropy":
            data_loss = self.loss_activation.forward(self.forward(X), y)
        else:
            self.output_activation.forward(self.forward(X))
            data_loss = self.loss_function.calculate(self.output_activation.output, y)
        return data_loss + sum(self.loss_function.regularization_loss(layer) for layer in self.layers)

    def backward(self, y):
        if self.loss == "cross_entropy":
            self.loss_activation.backward(self.loss_activation.output, y)
            dvalues = self.loss_activation.dinputs
        else:
            self.loss_function.backward(self.output_activation.output, y)
            self.output_activation.backward(self.loss_function.dinputs)
            dvalues = self.output_activation.dinputs
        self.layers[-1].backward(dvalues)
        for layer, activation, above in reversed(list(zip(self.layers, self.activations, self.layers[1:]))):
            activation.backward(above.dinputs)
            layer.backward(activation.dinputs)

    # -- the library's protocol ------------------------------------------------------------------

    def _batch(self, inputs, targets):
        return (np.asarray(inputs, dtype=self.dtype).reshape(-1, self.input_nodes),
                np.asarray(targets, dtype=self.dtype).reshape(-1, self.output_nodes))

    def query(self, inputs):
        self.output_activation.forward(self.forward(np.asarray(inputs, dtype=self.dtype).reshape(-1, self.input_nodes)))
        out = self.output_activation.output
        return out[0] if np.ndim(inputs) == 1 else out

    def get_weights(self):
        return [p for layer in self.layers for p in (layer.weights.T.copy(), layer.biases.ravel().copy())]

    def set_weights(self, weights):
        for layer, w, b in zip(self.layers, weights[0::2], weights[1::2]):
            layer.weights = np.array(np.asarray(w).T, dtype=self.dtype)
            layer.biases = np.array(b, dtype=self.dtype).reshape(1, -1)

    def gradients(self, inputs, targets):
        X, y = self._batch(inputs, targets)
        self.calculate_loss(X, y)
        self.backward(y)
        return [p for layer in self.layers for p in (layer.dweights.T.copy(), layer.dbiases.ravel().copy())]

    def train(self, inputs, targets):
        X, y = self._batch(inputs, targets)
        loss = self.calculate_loss(X, y)
        self.backward(y)
        self.nnfs_optimizer.pre_update_params()
        for layer in self.layers:
            self.nnfs_optimizer.update_params(layer)
        self.nnfs_optimizer.post_update_params()
        return float(loss)

    BUFFERS = {"exp_avg": ("weight_momentums", "bias_momentums"), "exp_avg_sq": ("weight_cache", "bias_cache")}

    def get_optimizer_state(self):
        state = {"step": self.nnfs_optimizer.iterations}
        for name, (weight_buffer, bias_buffer) in self.BUFFERS.items():
            state[name] = [p for layer in self.layers for p in (
                getattr(layer, weight_buffer, np.zeros_like(layer.weights)).T.copy(),
                getattr(layer, bias_buffer, np.zeros_like(layer.biases)).ravel().copy())]
        return state

    def set_optimizer_state(self, state):
        if set(state) != {"step", *self.BUFFERS}:
            raise ValueError(f"nnfs's Adam keeps {sorted(['step', *self.BUFFERS])}. Got {sorted(state)} instead.")
        self.nnfs_optimizer.iterations = int(state["step"])
        for name, (weight_buffer, bias_buffer) in self.BUFFERS.items():
            for layer, w, b in zip(self.layers, state[name][0::2], state[name][1::2]):
                setattr(layer, weight_buffer, np.array(np.asarray(w).T, dtype=self.dtype))
                setattr(layer, bias_buffer, np.array(b, dtype=self.dtype).reshape(1, -1))


class NnfsBinaryNetwork(NnfsNetwork):
    """nnfs's binary logistic regression output: sigmoid outputs and Loss_BinaryCrossentropy (mean)."""

    def __init__(self, *args, loss="binary_cross_entropy_mean", **keywords):
        super().__init__(*args, loss=loss, **keywords)


class NnfsAdamW(NnfsNetwork):
    """The nnfs network with the AdamW above (weight decay 0.01, decoupled, weights only)."""

    def __init__(self, *args, optimizer="adamw", **keywords):
        super().__init__(*args, optimizer=optimizer, **keywords)


# -- planted mistakes -------------------------------------------------------------------------------


class Optimizer_Adam_Uncorrected(Optimizer_Adam):
    def step(self, momentums, cache):
        return -self.current_learning_rate * momentums / (np.sqrt(cache) + self.epsilon)


class NoBiasCorrection(NnfsNetwork):
    """Adam without the bias correction: m / (√v + ε), both moments still near zero at first."""

    CAUSE = "adam_bias_correction"
    OPTIMIZERS = {**NnfsNetwork.OPTIMIZERS, "adam": Optimizer_Adam_Uncorrected}


class Optimizer_Adam_EpsInside(Optimizer_Adam):
    def step(self, momentums, cache):
        momentums_corrected = momentums / (1 - self.beta_1 ** (self.iterations + 1))
        cache_corrected = cache / (1 - self.beta_2 ** (self.iterations + 1))
        return -self.current_learning_rate * momentums_corrected / np.sqrt(cache_corrected + self.epsilon)


class EpsInsideSqrt(NnfsNetwork):
    """Adam with ε under the square root, √(v̂ + ε), where torch adds it to √v̂."""

    CAUSE = "adam_eps_inside_sqrt"
    OPTIMIZERS = {**NnfsNetwork.OPTIMIZERS, "adam": Optimizer_Adam_EpsInside}


class Optimizer_Adam_CountedEarly(Optimizer_Adam):
    def pre_update_params(self):
        super().pre_update_params()
        self.iterations += 1  # counted before update_params, which still corrects at iterations + 1

    def post_update_params(self):
        pass


class IterationsCountedEarly(NnfsNetwork):
    """Counts the iteration before the update, so the bias correction uses t + 1."""

    CAUSE = "step_count_off_by_one"
    OPTIMIZERS = {**NnfsNetwork.OPTIMIZERS, "adam": Optimizer_Adam_CountedEarly}


class Optimizer_AdamW_Coupled(Optimizer_AdamW):
    def update_params(self, layer):
        layer.dweights = layer.dweights + self.weight_decay * layer.weights  # the decay through the gradient
        Optimizer_Adam.update_params(self, layer)


class CoupledAdamW(NnfsAdamW):
    """An "AdamW" that adds λw to the gradient (Adam's weight_decay) where decoupled decay was asked."""

    CAUSE = "coupled_decay"
    OPTIMIZERS = {**NnfsNetwork.OPTIMIZERS, "adamw": Optimizer_AdamW_Coupled}


class Loss_BinaryCrossentropy_Summed(Loss_BinaryCrossentropy):
    """The sample's loss summed over its outputs (Nielsen's), with its backward to match."""

    def forward(self, y_pred, y_true):
        return super().forward(y_pred, y_true) * y_pred.shape[-1]

    def backward(self, dvalues, y_true):
        super().backward(dvalues, y_true)
        self.dinputs = self.dinputs * len(dvalues[0])


class SummedBinaryCrossentropy(NnfsBinaryNetwork):
    """States nnfs's binary cross-entropy, averaged over the outputs, and sums it over them instead."""

    CAUSE = "bce_sum_not_mean"

    def __init__(self, *args, **keywords):
        super().__init__(*args, **keywords)
        self.loss_function = Loss_BinaryCrossentropy_Summed()


class BiasesLeftUnregularized(NnfsNetwork):
    """States L2 on the biases too (decay_biases=True) and gives the layers no bias_regularizer_l2."""

    CAUSE = "decay_misses_biases"

    def __init__(self, *args, l2=1e-3, decay_biases=True, **keywords):
        super().__init__(*args, l2=l2, decay_biases=decay_biases, **keywords)
        for layer in self.layers:
            layer.bias_regularizer_l2 = 0


CORRECT = [NnfsNetwork, NnfsBinaryNetwork, NnfsAdamW]
MISTAKES = [NoBiasCorrection, EpsInsideSqrt, IterationsCountedEarly, CoupledAdamW, SummedBinaryCrossentropy,
            BiasesLeftUnregularized]
