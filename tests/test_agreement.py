"""Property tests: the NumPy network and its torch twin compute the same thing.

Every architecture: 0 to 3 hidden layers, sigmoid, tanh and ReLU, half squared error and
softmax cross-entropy, with and without biases, float32 and float64, one sample and batches.
Tolerances come from common.tolerances (the dtype's machine epsilon), never per test.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.tolerances import assert_close, loss_difference, tolerance
from tests.strategies import cases


def loss_of(case):
    """``(output_nodes, loss)``: what loss_difference needs to know of the case."""
    return case.architecture.output_nodes, case.architecture.loss


@given(cases())
def test_query_matches_torch(case):
    mine, theirs = case.networks()
    rtol = tolerance(case.dtype).single
    assert_close(mine.query(case.inputs), theirs.query(case.inputs), rtol, "batch outputs")
    assert_close(mine.query(case.inputs[0]), theirs.query(case.inputs[0]), rtol, "one sample's outputs")
    assert mine.query(case.inputs).dtype == theirs.query(case.inputs).dtype == np.dtype(case.dtype)


@given(cases())
def test_gradients_match_torch(case):
    mine, theirs = case.networks()
    rtol = tolerance(case.dtype).single
    mine_gradients, their_gradients = mine.gradients(case.inputs, case.targets), theirs.gradients(case.inputs, case.targets)
    assert len(mine_gradients) == len(their_gradients) == len(case.names)
    for name, shape, a, b in zip(case.names, case.architecture.parameter_shapes(), mine_gradients, their_gradients):
        assert a.shape == b.shape == shape and a.dtype == b.dtype == np.dtype(case.dtype)
        assert_close(a, b, rtol, f"dL/d{name}")


@given(cases(), st.booleans())
def test_intermediate_gradients_match_torch(case, single_sample):
    """dL/dz of every layer and dL/dh of every hidden layer, against autograd's."""
    mine, theirs = case.networks()
    inputs, targets = (case.inputs[0], case.targets[0]) if single_sample else (case.inputs, case.targets)
    rtol = tolerance(case.dtype).single
    ours, autograd = mine.intermediate_gradients(inputs, targets), theirs.intermediate_gradients(inputs, targets)
    layers = len(case.architecture.hidden_nodes)
    assert [len(ours["dLdz"]), len(ours["dLdh"])] == [len(autograd["dLdz"]), len(autograd["dLdh"])] == [layers + 1, layers]
    for key in ("dLdz", "dLdh"):
        for layer, (a, b) in enumerate(zip(ours[key], autograd[key]), start=1):
            assert a.shape == b.shape == inputs.shape[:-1] + (case.architecture.layer_sizes[layer],)
            assert_close(a, b, rtol, f"{key} of layer {layer}")


@given(cases(), st.booleans())
def test_one_step_matches_torch(case, single_sample):
    mine, theirs = case.networks()
    inputs, targets = (case.inputs[0], case.targets[0]) if single_sample else (case.inputs, case.targets)
    rtol = tolerance(case.dtype).single
    loss_mine, loss_theirs = mine.train(inputs, targets), theirs.train(inputs, targets)
    assert loss_difference(loss_mine, loss_theirs, *loss_of(case)) <= rtol, (loss_mine, loss_theirs)
    for name, a, b in zip(case.names, mine.get_weights(), theirs.get_weights()):
        assert_close(a, b, rtol, name)


@given(cases(), st.integers(2, 6))
def test_k_steps_match_torch(case, k):
    """k one-sample steps in turn over the batch leave the same weights."""
    mine, theirs = case.networks()
    rtol = tolerance(case.dtype).single
    for step in range(k):
        i = step % len(case.inputs)
        loss_mine = mine.train(case.inputs[i], case.targets[i])
        loss_theirs = theirs.train(case.inputs[i], case.targets[i])
        assert loss_difference(loss_mine, loss_theirs, *loss_of(case)) <= rtol, (step, loss_mine, loss_theirs)
    for name, a, b in zip(case.names, mine.get_weights(), theirs.get_weights()):
        assert_close(a, b, rtol, f"{name} after {k} steps")


@given(cases())
def test_gradients_do_not_move_weights_and_repeat_exactly(case):
    for network in case.networks():
        before = network.get_weights()
        first = network.gradients(case.inputs, case.targets)
        second = network.gradients(case.inputs, case.targets)
        for w0, w1 in zip(before, network.get_weights()):
            np.testing.assert_array_equal(w0, w1)
        for g1, g2 in zip(first, second):
            np.testing.assert_array_equal(g1, g2)


@given(cases())
def test_train_steps_against_the_gradient(case):
    """W_after = W_before − lr · dL/dW in both backends, with dL/dW from gradients()."""
    rtol = tolerance(case.dtype).single
    for network in case.networks():
        before = network.get_weights()
        grads = network.gradients(case.inputs, case.targets)
        network.train(case.inputs, case.targets)
        for name, w0, g, w1 in zip(case.names, before, grads, network.get_weights()):
            expected = w0.astype(np.float64) - case.lr * g.astype(np.float64)
            assert_close(w1, expected, rtol, f"{type(network).__module__} {name}")
