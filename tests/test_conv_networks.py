"""Convolutional networks in both backends: from_scratch.Network(conv=...) and torch_impl.Network(conv=...)
compute the same outputs, gradients, intermediate gradients and steps, under every recipe.

Hypothesis draws one or two convolution layers (1-4 channels, kernel 1-5, padding 0-2) on images of
6x6 to 12x12, then 0-2 dense hidden layers, each activation, loss and bias, both dtypes, one sample
and batches. A central finite-difference check needs no torch.
"""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.architecture import Architecture
from common.data import load_embedded, one_hot_targets, scale_inputs
from common.errors import DataError, ParameterError
from common.tolerances import assert_close, relative_difference, tolerance
from common.weights import initial_weights, load_weights, save_weights
from from_scratch import BookNetwork, Network
from tests.strategies import cases
from tests.test_agreement import (assert_close_to_torch, assert_one_step_matches_torch, float64_twin,
                                  gradient_tolerance)
from torch_impl import Network as TorchNetwork

LENET = dict(activation="relu", loss="cross_entropy", bias=True, conv=((6, 5, 2), (16, 5, 0)))
SMALL = dict(activation="relu", loss="cross_entropy", bias=True, conv=((3, 5, 2), (4, 3, 0)))


def mnist(n: int, dtype: str = "float64"):
    data = load_embedded()
    return scale_inputs(data.train_images[:n], dtype), one_hot_targets(data.train_labels[:n], dtype, values=(0.0, 1.0))


def both(hidden, seed=0, **keywords):
    """The NumPy and the torch network, from the same weights."""
    return (Network(784, hidden, 10, 0.05, seed=seed, **keywords),
            TorchNetwork(784, hidden, 10, 0.05, seed=seed, **keywords))


@given(cases(conv=True))
def test_conv_network_query_matches_torch(case):
    mine, theirs = case.networks()
    rtol = tolerance(case.dtype).single
    assert_close(mine.query(case.inputs), theirs.query(case.inputs), rtol, "batch outputs")
    assert_close(mine.query(case.inputs[0]), theirs.query(case.inputs[0]), rtol, "one sample's outputs")
    assert mine.query(case.inputs).dtype == np.dtype(case.dtype)


@given(cases(conv=True), st.booleans())
def test_conv_network_gradients_and_intermediate_gradients_match_torch(case, single_sample):
    mine, theirs = case.networks()
    inputs, targets = (case.inputs[0], case.targets[0]) if single_sample else (case.inputs, case.targets)
    rtol = gradient_tolerance(case, theirs, inputs, targets)
    shapes = case.architecture.parameter_shapes()
    gradients, theirs_gradients = mine.gradients(inputs, targets), theirs.gradients(inputs, targets)
    for shape, a, b in zip(shapes, gradients, theirs_gradients):
        assert a.shape == b.shape == shape and a.dtype == b.dtype == np.dtype(case.dtype)
    # a float32 sum of saturated units' terms beyond the tolerance: as near the float64 truth as autograd's
    assert_close_to_torch(case, inputs, targets, rtol, gradients, theirs_gradients,
                          [f"dL/d{name}" for name in case.names], lambda x, t: float64_twin(case).gradients(x, t))
    ours, autograd = mine.intermediate_gradients(inputs, targets), theirs.intermediate_gradients(inputs, targets)
    rows = inputs.shape[:-1]
    for key, names in case.architecture.intermediate_names().items():
        expected = [rows + s for s in case.architecture.intermediate_shapes()[key]]
        assert [a.shape for a in ours[key]] == [b.shape for b in autograd[key]] == expected, key
        assert_close_to_torch(case, inputs, targets, rtol, ours[key], autograd[key], [f"dL/d{n}" for n in names],
                              lambda x, t, key=key: float64_twin(case).intermediate_gradients(x, t)[key])


@given(cases(conv=True), st.booleans())
def test_conv_network_one_step_matches_torch(case, single_sample):
    assert_one_step_matches_torch(case, single_sample)


def test_conv_network_gradient_matches_central_finite_differences():
    """No torch: dL/dp from backpropagation against (L(p + h) − L(p − h)) / 2h, for a few entries of
    every parameter of a small tanh network with two convolutions (one padded) and biases."""
    network = Network(64, [5], 3, 0.1, "tanh", "cross_entropy", True, conv=((2, 3, 1), (3, 2, 0)), seed=3)
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(0.01, 1.0, (4, 64)), np.eye(3)[[0, 2, 1, 2]]
    weights = [w + rng.normal(0, 0.3, w.shape) for w in network.get_weights()]  # biases that matter
    network.set_weights(weights)
    gradients = network.gradients(inputs, targets)
    probe = copy.deepcopy(network)

    def loss(moved):
        probe.set_weights(moved)
        return probe._loss_and_gradients(inputs, targets)[0]

    h = 1e-6
    for k, (w, g) in enumerate(zip(weights, gradients)):
        for index in [tuple(rng.integers(0, n) for n in w.shape) for _ in range(4)]:
            up, down = [v.copy() for v in weights], [v.copy() for v in weights]
            up[k][index] += h
            down[k][index] -= h
            numeric = (loss(up) - loss(down)) / (2 * h)
            assert abs(numeric - g[index]) <= 1e-7 * max(1.0, abs(numeric)), (network.architecture.parameter_names()[k],
                                                                               index, g[index], numeric)


@pytest.mark.parametrize("recipe", [{}, dict(optimizer="adam", l2=1e-3), dict(momentum=0.9, weight_decay=1e-2),
                                    dict(optimizer="adamw", decay_biases=True, schedule="step", milestones=(2,))],
                         ids=["plain SGD", "adam-l2", "momentum-decay", "adamw-schedule"])
def test_recipes_train_a_conv_network_as_torch_optim_does(recipe):
    """Weight decay and L2 reach the convolution weights (4 axes) and not their biases, by shape;
    the state is one array per parameter, in torch's format."""
    mine, theirs = both([12], **SMALL, **recipe)
    inputs, targets = mine_data = mnist(24)
    for step in range(3):
        batch = slice(step * 8, step * 8 + 8)
        loss_mine, loss_theirs = mine.train(inputs[batch], targets[batch]), theirs.train(inputs[batch], targets[batch])
        assert abs(loss_mine - loss_theirs) <= tolerance("float64").single * abs(loss_theirs)
    for name, a, b in zip(mine.architecture.parameter_names(), mine.get_weights(), theirs.get_weights()):
        assert_close(a, b, tolerance("float64").single, name)
    ours, torch_state = mine.get_optimizer_state(), theirs.get_optimizer_state()
    assert ours.keys() == torch_state.keys() and ours["step"] == torch_state["step"] == 3
    for key in (k for k in ours if k != "step"):
        assert [a.shape for a in ours[key]] == mine.architecture.parameter_shapes()
        for a, b in zip(ours[key], torch_state[key]):
            assert_close(a, b, tolerance("float64").single, key)
    assert mine_data is not None


def test_lenet_parameters_are_torch_modules_own_and_move_without_a_transpose():
    mine, theirs = both([120, 84], **LENET)
    assert [tuple(p.shape) for p in theirs.model.parameters()] == mine.architecture.parameter_shapes()
    assert tuple(theirs.model.conv1.weight.shape) == (6, 1, 5, 5) and theirs.model.conv1.padding == (2, 2)
    inputs, _ = mnist(5)
    theirs.set_weights(mine.get_weights())
    assert_close(mine.query(inputs), theirs.query(inputs), tolerance("float64").single, "LeNet outputs")
    assert repr(mine) == ("Network(784, [120, 84], 10, 0.05, activation='relu', loss='cross_entropy', bias=True, "
                          "conv=((6, 5, 2), (16, 5, 0)), dtype='float64')")
    assert mine.conv == theirs.conv == ((6, 5, 2), (16, 5, 0))
    twin = copy.deepcopy(theirs)
    assert twin.conv == theirs.conv and relative_difference(twin.query(inputs), theirs.query(inputs)) == 0.0


def test_a_large_query_is_answered_in_chunks_as_in_one_go():
    network = Network(784, [20], 10, 0.05, **SMALL)
    inputs, _ = mnist(600)
    whole = network.query(inputs)
    one_by_one = np.concatenate([network.query(inputs[i:i + 100]) for i in range(0, 600, 100)])
    assert whole.shape == (600, 10)
    assert_close(whole, one_by_one, tolerance("float64").single, "600 images at once against 100 at a time")


def test_one_sample_is_a_batch_of_one():
    network = Network(784, [20], 10, 0.05, **SMALL)
    inputs, targets = mnist(1)
    rtol = tolerance("float64").single
    assert_close(network.query(inputs[0]), network.query(inputs)[0], rtol, "outputs")
    for a, b in zip(network.gradients(inputs[0], targets[0]), network.gradients(inputs, targets)):
        assert_close(a, b, rtol, "gradients")


def test_conv_weights_save_and_load_with_their_architecture(tmp_path):
    network = Network(784, [20], 10, 0.05, **SMALL)
    path = save_weights(tmp_path / "conv.npz", network.get_weights(), network.architecture)
    for saved, loaded in zip(network.get_weights(), load_weights(path, network.architecture)):
        np.testing.assert_array_equal(saved, loaded)
    with pytest.raises(DataError, match=r"holds weights for 784-conv3x5p2-conv4x3-20-10, relu, softmax cross-entropy, "
                                        r"bias, not for 784-20-10, .*: convolutions none here, 3x5p2,4x3 in the file"):
        load_weights(path, Architecture(784, 20, 10, "relu", "cross_entropy", True))


def test_initial_weights_scale_each_convolution_by_its_fan_in():
    conv1, _, conv2, *_ = initial_weights(Architecture(784, [20], 10, bias=True, conv=((64, 5, 2), (64, 3, 0))),
                                          seed=0)
    assert conv1.std() == pytest.approx(25 ** -0.5, rel=0.05) and conv2.std() == pytest.approx(576 ** -0.5, rel=0.05)


def test_the_book_rule_refuses_convolutions_in_one_sentence():
    with pytest.raises(ParameterError, match=r"^BookNetwork is the book's rule, defined for fully connected layers "
                                             r"only\. Got conv=\(\(6, 5, 2\),\); use Network for the gradient\.$"):
        BookNetwork(784, 200, 10, 0.1, conv=((6, 5, 2),))


def test_book_names_of_layers_are_refused_for_a_conv_network():
    network = Network(784, 20, 10, 0.05, **SMALL)
    with pytest.raises(AttributeError, match="'wih' names a layer of a fully connected network; this one has 2 "
                                             "convolution layer"):
        network.wih
