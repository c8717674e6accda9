"""The nnfs readers' objects are what they claim: each layer, activation and loss agrees with torch
(float64), dropout draws the book's seeded binomial mask, the book's Model gives its loss's gradients
(central differences) and trains a step per batch, and each planted layer departs from its twin."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.test_users_code import assert_close, close, t
from tests.users import nnfs_layers as nnfs
from tests.users.nnfs_model import Accuracy_Categorical, Model
from tests.users.nnfs_planted import PLANTED_LAYERS

rng = np.random.default_rng(0)


def assert_object_matches_torch(layer, inputs, torch_forward, params=()):
    """layer.forward(inputs, training=True) and layer.backward(dvalues) against torch_forward and autograd;
    ``params`` the layer's attribute names (weights, biases) whose gradients are d<name>."""
    layer.forward(inputs, training=True)
    dvalues = rng.standard_normal(layer.output.shape)
    layer.backward(dvalues)
    tensors = [t(inputs)] + [t(getattr(layer, name)) for name in params]
    theirs = torch_forward(*tensors)
    assert_close("output", layer.output, theirs.detach().numpy())
    theirs.backward(torch.from_numpy(dvalues))
    assert_close("dinputs", layer.dinputs, tensors[0].grad.numpy())
    for name, tensor in zip(params, tensors[1:]):
        assert_close(f"d{name}", getattr(layer, f"d{name}"), tensor.grad.numpy())


def test_dense_layer_matches_torch():
    layer = nnfs.Layer_Dense(4, 3)
    layer.biases = rng.standard_normal(layer.biases.shape)
    assert_object_matches_torch(layer, rng.standard_normal((5, 4)), lambda x, w, b: x @ w + b, ("weights", "biases"))


@pytest.mark.parametrize("cls, reference", [(nnfs.Activation_ReLU, torch.relu),
                                            (nnfs.Activation_Sigmoid, torch.sigmoid),
                                            (nnfs.Activation_Softmax, lambda x: torch.softmax(x, dim=1))])
def test_activation_matches_torch(cls, reference):
    assert_object_matches_torch(cls(), rng.standard_normal((5, 4)), reference)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_cross_entropy_matches_torch_and_its_backward_takes_the_softmax_outputs(one_hot):
    logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    y = np.eye(4)[labels] if one_hot else labels
    combined = nnfs.Activation_Softmax_Loss_CategoricalCrossentropy()
    loss = combined.forward(logits, y)
    combined.backward(combined.output, y)
    scores = t(logits)
    theirs = F.cross_entropy(scores, torch.from_numpy(labels))
    theirs.backward()
    assert_close("loss", loss, theirs.item())
    assert_close("dinputs", combined.dinputs, scores.grad.numpy())


def test_dropout_keeps_one_minus_rate_with_the_seeded_binomial_mask_and_copies_at_inference():
    inputs, rate = rng.standard_normal((8, 10)), 0.3
    np.random.seed(4)
    keep = np.random.binomial(1, 1 - rate, size=inputs.shape)
    np.random.seed(4)
    assert_object_matches_torch(nnfs.Layer_Dropout(rate), inputs, lambda x: x * torch.from_numpy(keep / (1 - rate)))
    layer = nnfs.Layer_Dropout(rate)
    layer.forward(inputs, training=False)
    assert_close("inference output", layer.output, inputs)


# -- the Model ----------------------------------------------------------------------------------------

def model(last="softmax", dropout=0.0, l2=0.0):
    """Dense(4, 5) - ReLU [- Dropout] - Dense(5, 3) - Softmax with categorical cross-entropy, or a
    Sigmoid with binary cross-entropy; biases off zero; Adam."""
    np.random.seed(3)
    built = Model()
    built.add(nnfs.Layer_Dense(4, 5, weight_regularizer_l2=l2))
    built.add(nnfs.Activation_ReLU())
    if dropout:
        built.add(nnfs.Layer_Dropout(dropout))
    built.add(nnfs.Layer_Dense(5, 3, weight_regularizer_l2=l2))
    built.add(nnfs.Activation_Softmax() if last == "softmax" else nnfs.Activation_Sigmoid())
    loss = nnfs.Loss_CategoricalCrossentropy() if last == "softmax" else nnfs.Loss_BinaryCrossentropy()
    built.set(loss=loss, optimizer=nnfs.Optimizer_Adam(learning_rate=0.01), accuracy=Accuracy_Categorical())
    built.finalize()
    for layer in built.trainable_layers:
        layer.weights = rng.standard_normal(layer.weights.shape)
        layer.biases = 0.1 * rng.standard_normal(layer.biases.shape)
    return built


def total_loss(built, X, y):
    """The training loss with the dropout mask drawn from seed 5, as the gradient is."""
    np.random.seed(5)
    output = built.forward(X, training=True)
    penalty = sum(built.loss.regularization_loss(layer) for layer in built.trainable_layers)
    return built.loss.calculate(output, y) + penalty


@pytest.mark.parametrize("keywords", [{}, {"l2": 1e-2}, {"dropout": 0.3}, {"last": "sigmoid"}], ids=str)
def test_model_backward_gives_the_gradients_of_its_loss(keywords, h=1e-6):
    built, X = model(**keywords), rng.standard_normal((6, 4))
    y = rng.integers(0, 3, 6) if keywords.get("last", "softmax") == "softmax" else rng.integers(0, 2, (6, 3))
    np.random.seed(5)
    built.backward(built.forward(X, training=True), y)
    for layer in built.trainable_layers:
        for name in ("weights", "biases"):
            p, expected = getattr(layer, name), np.zeros_like(getattr(layer, name))
            for index in np.ndindex(p.shape):
                kept = p[index]
                p[index] = kept + h
                up = total_loss(built, X, y)
                p[index] = kept - h
                expected[index] = (up - total_loss(built, X, y)) / (2 * h)
                p[index] = kept
            assert np.allclose(getattr(layer, f"d{name}"), expected, rtol=1e-5, atol=1e-8), \
                f"d{name}: Mine {getattr(layer, f'd{name}')}\nTheirs {expected}"


def test_model_trains_one_optimizer_step_per_batch():
    built, X, y = model(), rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    loss = built.train(X, y, epochs=3, batch_size=4, print_every=0)
    assert built.optimizer.iterations == 9 and np.isfinite(loss)


# -- the planted layers -------------------------------------------------------------------------------

def build(kind, cls):
    np.random.seed(2)
    return cls(4, 3) if kind == "dense" else cls(0.3) if kind == "dropout" else cls()


def outputs(kind, layer, inputs, labels):
    """Everything the object gives after forward and backward: output, dinputs, dweights, dbiases."""
    np.random.seed(6)
    if kind == "softmax_loss":
        loss = layer.forward(inputs, labels)
        layer.backward(layer.output, labels)
        return [loss, layer.output, layer.dinputs]
    layer.forward(inputs, training=True)
    layer.backward(np.random.default_rng(1).standard_normal(layer.output.shape))
    return [layer.output, layer.dinputs] + ([layer.dweights, layer.dbiases] if kind == "dense" else [])


TWINS = {"dense": nnfs.Layer_Dense, "relu": nnfs.Activation_ReLU, "sigmoid": nnfs.Activation_Sigmoid,
         "dropout": nnfs.Layer_Dropout, "softmax_loss": nnfs.Activation_Softmax_Loss_CategoricalCrossentropy}
LAYERS = [(kind, cause, entry) for kind, causes in PLANTED_LAYERS.items() for cause, entry in causes.items()]


@pytest.mark.parametrize("kind, cause, entry", LAYERS, ids=[f"{kind}-{cause}" for kind, cause, _ in LAYERS])
def test_planted_layer_departs_from_its_correct_twin(kind, cause, entry):
    inputs, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    mine = outputs(kind, build(kind, entry["layer"]), inputs, labels)
    theirs = outputs(kind, build(kind, TWINS[kind]), inputs, labels)
    assert not all(close(a, b) for a, b in zip(mine, theirs)), f"{kind}:{cause} gives its twin's numbers"
