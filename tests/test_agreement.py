"""Property tests: the NumPy network and its torch twin compute the same thing.

Tolerances come from common.tolerances (the dtype's machine epsilon), never per test.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.tolerances import assert_close, loss_difference, tolerance
from tests.strategies import cases


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
    for name, a, b in zip(("dL/dW_ih", "dL/dW_ho"), mine.gradients(case.inputs, case.targets),
                          theirs.gradients(case.inputs, case.targets)):
        assert a.shape == b.shape and a.dtype == b.dtype == np.dtype(case.dtype)
        assert_close(a, b, rtol, name)


@given(cases(), st.booleans())
def test_one_step_matches_torch(case, single_sample):
    mine, theirs = case.networks()
    inputs, targets = (case.inputs[0], case.targets[0]) if single_sample else (case.inputs, case.targets)
    rtol = tolerance(case.dtype).single
    loss_mine, loss_theirs = mine.train(inputs, targets), theirs.train(inputs, targets)
    assert loss_difference(loss_mine, loss_theirs, case.sizes[2]) <= rtol, (loss_mine, loss_theirs)
    for name, a, b in zip(("W_ih", "W_ho"), mine.get_weights(), theirs.get_weights()):
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
        assert loss_difference(loss_mine, loss_theirs, case.sizes[2]) <= rtol, (step, loss_mine, loss_theirs)
    for name, a, b in zip(("W_ih", "W_ho"), mine.get_weights(), theirs.get_weights()):
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
        for name, w0, g, w1 in zip(("W_ih", "W_ho"), before, grads, network.get_weights()):
            expected = w0.astype(np.float64) - case.lr * g.astype(np.float64)
            assert_close(w1, expected, rtol, f"{type(network).__module__} {name}")
