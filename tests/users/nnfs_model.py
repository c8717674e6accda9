"""The ``Model`` of "Neural Networks from Scratch in Python" (nnfs, chapter 22), simplified to what training needs.

::

    model = Model()
    model.add(Layer_Dense(2, 64)); model.add(Activation_ReLU()); model.add(Layer_Dropout(0.1))
    model.add(Layer_Dense(64, 3)); model.add(Activation_Softmax())
    model.set(loss=Loss_CategoricalCrossentropy(), optimizer=Optimizer_Adam(learning_rate=0.05),
              accuracy=Accuracy_Categorical())
    model.finalize()
    model.train(X, y, epochs=10, batch_size=None, print_every=100)

``finalize`` links each layer to its ``prev`` and ``next`` (the first to a ``Layer_Input``, the last
to the loss), keeps the ``trainable_layers`` (those with ``weights``), and where the model ends in
``Activation_Softmax`` and ``Loss_CategoricalCrossentropy`` uses their combined backward.
``forward(X, training)`` returns the last layer's output; ``backward(output, y)`` leaves each
layer's ``dinputs`` (and ``dweights``, ``dbiases``). ``train`` steps the optimizer once per batch
(``batch_size=None``: the whole set) and returns the last step's loss, data loss plus the layers'
L2 penalty; it prints every ``print_every`` steps (0 or None: never). The book's validation data,
``evaluate``, ``predict`` and saving are left out.
"""
from __future__ import annotations

import numpy as np

from .nnfs_layers import Activation_Softmax, Activation_Softmax_Loss_CategoricalCrossentropy, \
    Loss_CategoricalCrossentropy


class Layer_Input:
    def forward(self, inputs, training):
        self.output = inputs


class Accuracy_Categorical:
    def __init__(self, *, binary=False):
        self.binary = binary

    def init(self, y):
        pass

    def compare(self, predictions, y):
        if not self.binary and len(y.shape) == 2:
            y = np.argmax(y, axis=1)
        return predictions == y

    def calculate(self, predictions, y):
        return np.mean(self.compare(predictions, y))


class Model:
    def __init__(self):
        self.layers = []
        self.softmax_classifier_output = None

    def add(self, layer):
        self.layers.append(layer)

    def set(self, *, loss, optimizer, accuracy=None):
        self.loss = loss
        self.optimizer = optimizer
        self.accuracy = accuracy

    def finalize(self):
        self.input_layer = Layer_Input()
        self.trainable_layers = []
        for i, layer in enumerate(self.layers):
            layer.prev = self.input_layer if i == 0 else self.layers[i - 1]
            layer.next = self.layers[i + 1] if i < len(self.layers) - 1 else self.loss
            if hasattr(layer, "weights"):
                self.trainable_layers.append(layer)
        self.output_layer_activation = self.layers[-1]
        if isinstance(self.layers[-1], Activation_Softmax) and isinstance(self.loss, Loss_CategoricalCrossentropy):
            self.softmax_classifier_output = Activation_Softmax_Loss_CategoricalCrossentropy()

    def train(self, X, y, *, epochs=1, batch_size=None, print_every=1):
        if self.accuracy is not None:
            self.accuracy.init(y)
        train_steps = 1 if batch_size is None else -(-len(X) // batch_size)
        for epoch in range(1, epochs + 1):
            for step in range(train_steps):
                if batch_size is None:
                    batch_X, batch_y = X, y
                else:
                    batch_X = X[step * batch_size:(step + 1) * batch_size]
                    batch_y = y[step * batch_size:(step + 1) * batch_size]
                output = self.forward(batch_X, training=True)
                data_loss = self.loss.calculate(output, batch_y)
                regularization_loss = sum(self.loss.regularization_loss(layer) for layer in self.trainable_layers)
                loss = data_loss + regularization_loss
                self.backward(output, batch_y)
                self.optimizer.pre_update_params()
                for layer in self.trainable_layers:
                    self.optimizer.update_params(layer)
                self.optimizer.post_update_params()
                if print_every and (not step % print_every or step == train_steps - 1):
                    accuracy = self.accuracy.calculate(self.output_layer_activation.predictions(output), batch_y) \
                        if self.accuracy is not None else float("nan")
                    print(f"epoch: {epoch}, step: {step}, acc: {accuracy:.3f}, loss: {loss:.3f} "
                          f"(data_loss: {data_loss:.3f}, reg_loss: {regularization_loss:.3f}), "
                          f"lr: {self.optimizer.current_learning_rate}")
        return loss

    def forward(self, X, training):
        self.input_layer.forward(X, training)
        for layer in self.layers:
            layer.forward(layer.prev.output, training)
        return layer.output

    def backward(self, output, y):
        if self.softmax_classifier_output is not None:
            self.softmax_classifier_output.backward(output, y)
            self.layers[-1].dinputs = self.softmax_classifier_output.dinputs
            for layer in reversed(self.layers[:-1]):
                layer.backward(layer.next.dinputs)
            return
        self.loss.backward(output, y)
        for layer in reversed(self.layers):
            layer.backward(layer.next.dinputs)
