"""The learners' models are what they claim: cs231n's TwoLayerNet and FullyConnectedNet (plain, batch norm,
layer norm, dropout) give the gradients of their loss (central differences, float64), and each of
PLANTED_MODELS departs from the correct model in its loss, its gradients or its test-mode scores."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from tests.test_users_code import close
from tests.users import cs231n_layers
from tests.users.cs231n_models import PLANTED_MODELS, FullyConnectedNet, TwoLayerNet, layer_functions


def data(n=6, dims=5, classes=3, seed=7):
    generator = np.random.default_rng(seed)
    return generator.standard_normal((n, dims)), generator.integers(0, classes, n)


def finite_difference_gradients(model, X, y, h=1e-6):
    """Central differences of model.loss(X, y)[0] in each entry of each parameter."""
    found = {}
    for name, p in model.params.items():
        found[name] = np.zeros_like(p)
        for index in np.ndindex(p.shape):
            kept = p[index]
            p[index] = kept + h
            up = model.loss(X, y)[0]
            p[index] = kept - h
            down = model.loss(X, y)[0]
            p[index] = kept
            found[name][index] = (up - down) / (2 * h)
    return found


MODELS = {
    "two_layer": lambda: TwoLayerNet(input_dim=5, hidden_dim=4, num_classes=3, weight_scale=0.5, reg=0.1),
    "fc": lambda: FullyConnectedNet([4, 3], input_dim=5, num_classes=3, reg=0.1, weight_scale=0.5, dtype=np.float64),
    "fc_batchnorm": lambda: FullyConnectedNet([4, 3], input_dim=5, num_classes=3, normalization="batchnorm",
                                              reg=0.1, weight_scale=0.5, dtype=np.float64),
    "fc_layernorm": lambda: FullyConnectedNet([4, 3], input_dim=5, num_classes=3, normalization="layernorm",
                                              reg=0.1, weight_scale=0.5, dtype=np.float64),
    "fc_dropout": lambda: FullyConnectedNet([4, 3], input_dim=5, num_classes=3, dropout_keep_ratio=0.7, seed=1,
                                            reg=0.1, weight_scale=0.5, dtype=np.float64),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_model_gradients_match_finite_differences(name):
    np.random.seed(8)
    model, (X, y) = MODELS[name](), data()
    for key in model.params:  # biases off zero: a dropped row would put a ReLU exactly on its kink
        if key.startswith(("b", "beta")):
            model.params[key] = 0.1 * np.random.randn(*model.params[key].shape)
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for key, expected in finite_difference_gradients(model, X, y).items():
        assert np.allclose(grads[key], expected, rtol=1e-5, atol=1e-8), f"{name} {key}: Mine {grads[key]}\n" \
                                                                         f"Theirs {expected}"


def test_model_without_labels_returns_test_mode_scores():
    np.random.seed(8)
    model, (X, y) = MODELS["fc_batchnorm"](), data()
    model.loss(X, y)
    scores = model.loss(X)
    assert scores.shape == (6, 3) and all(bn_param["mode"] == "test" for bn_param in model.bn_params)


def model_outputs(model, batches, X_test):
    """The loss and gradients on each training batch, then the test-mode scores: every number a model gives."""
    found = []
    try:
        for X, y in batches:
            loss, grads = model.loss(X, y)
            found += [loss, *(grads[key] for key in sorted(grads))]
        found.append(model.loss(X_test))
    except Exception as error:
        found.append(type(error).__name__)
    return found


@pytest.mark.parametrize("cause", list(PLANTED_MODELS))
def test_planted_model_departs_from_the_correct_model(cause):
    factory = PLANTED_MODELS[cause]
    keywords = {key: value for key, value in factory.keywords.items() if key != "layers"}
    batches, X_test = [data(seed=s) for s in (9, 10)], data(seed=11)[0]
    outputs = []
    for make in (factory, partial(FullyConnectedNet, **keywords)):
        np.random.seed(12)
        outputs.append(model_outputs(make([4, 3], input_dim=5, num_classes=3, dtype=np.float64), batches, X_test))
    mine, theirs = outputs
    assert len(mine) != len(theirs) or not all(
        isinstance(a, np.ndarray | float) and close(a, b, rtol=1e-7, atol=1e-9) for a, b in zip(mine, theirs)), \
        f"{cause} gives the correct model's numbers"


def test_layers_keyword_swaps_the_named_functions_and_keeps_the_rest():
    swapped = layer_functions({"relu_forward": np.tanh})
    assert swapped.relu_forward is np.tanh and swapped.affine_forward is cs231n_layers.affine_forward
    with pytest.raises(ValueError, match="relu_forwrd"):
        layer_functions({"relu_forwrd": np.tanh})
