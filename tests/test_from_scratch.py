"""The NumPy network on its own: finite differences, a network worked by hand, the book's rule.

This module imports no torch, and test_gradient_matches_finite_differences_without_torch
runs the finite-difference check in a process where torch cannot be imported at all.
"""
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.differentiate import jacobian
from scipy.special import expit

from common.tolerances import assert_close, tolerance
from common.weights import initial_weights
from from_scratch import BookNetwork, Network


def loss_of_flat_weights(flat, sizes, inputs, targets):
    """L = ½ Σ (t − o)², batch mean, for weights stacked in the first axis of ``flat``.

    Vectorised as scipy.differentiate asks: ``flat`` has shape (n_weights, ...) and the
    result the trailing shape (...). Written independently of from_scratch.
    """
    i, h, o = sizes
    columns = flat.reshape(flat.shape[0], -1)
    wih = columns[: h * i].reshape(h, i, -1)
    who = columns[h * i :].reshape(o, h, -1)
    hidden = expit(np.einsum("hik,ni->nhk", wih, inputs))
    outputs = expit(np.einsum("ohk,nhk->nok", who, hidden))
    loss = 0.5 * ((targets[:, :, None] - outputs) ** 2).sum(axis=1).mean(axis=0)
    return loss.reshape(flat.shape[1:])


def check_finite_differences(sizes, seed, batch):
    """Compare Network.gradients with SciPy's central finite differences (float64)."""
    rng = np.random.default_rng(seed)
    network = Network(*sizes, 0.1, seed=seed)
    inputs = rng.uniform(0.01, 1.0, size=(batch, sizes[0]))
    targets = rng.uniform(0.01, 0.99, size=(batch, sizes[2]))
    flat = np.concatenate([w.ravel() for w in network.get_weights()])
    numeric = jacobian(lambda w: loss_of_flat_weights(w, sizes, inputs, targets), flat)
    analytic = np.concatenate([g.ravel() for g in network.gradients(inputs, targets)])
    # Richardson-extrapolated central differences are good to about 1e-10 here.
    assert_close(analytic, numeric.df, 1e-8, f"gradients against finite differences {sizes}")


@given(st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(1, 6)), st.integers(0, 2**32 - 1),
       st.integers(1, 4))
def test_gradient_matches_finite_differences(sizes, seed, batch):
    check_finite_differences(sizes, seed, batch)


def test_gradient_matches_finite_differences_without_torch():
    """from_scratch needs no torch: block its import and run the same check."""
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('torch is blocked in this test')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from tests.test_from_scratch import check_finite_differences\n"
        "check_finite_differences((7, 5, 3), seed=1, batch=3)\n"
        "print('ok' if 'torch' not in sys.modules else 'torch was imported')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_tiny_network_worked_by_hand():
    """2-2-1, weights chosen so every sigmoid is a simple fraction; lr = 1.

    x = (1, 0.5), W_ih = [[ln 3, 0], [0, −2 ln 3]]  ⇒  z_h = (ln 3, −ln 3), h = (3/4, 1/4)
    W_ho = [[1, −3]]                                ⇒  z_o = 3/4 − 3/4 = 0, o = 1/2
    t = 1                                           ⇒  L = ½ (1 − 1/2)² = 1/8
    dL/do   = o − t = −1/2
    dL/dz_o = −1/2 · o(1 − o) = −1/2 · 1/4 = −1/8
    dL/dW_ho = dL/dz_o · h^T = −1/8 · (3/4, 1/4) = (−3/32, −1/32)
    dL/dh   = W_ho^T dL/dz_o = (1, −3) · (−1/8) = (−1/8, 3/8)
    dL/dz_h = dL/dh · h(1 − h) = (−1/8, 3/8) · 3/16 = (−3/128, 9/128)
    dL/dW_ih = dL/dz_h · x^T = [[−3/128, −3/256], [9/128, 9/256]]
    The book's hidden error skips o(1 − o) = 1/4: (1, −3) · (−1/2) · 3/16 = (−3/32, 9/32),
    four times dL/dz_h here.
    """
    ln3 = math.log(3.0)
    weights = [np.array([[ln3, 0.0], [0.0, -2 * ln3]]), np.array([[1.0, -3.0]])]
    x, t = np.array([1.0, 0.5]), np.array([1.0])
    exact = tolerance("float64").single

    network = Network(2, 2, 1, 1.0)
    network.set_weights(weights)
    assert_close(network.query(x), np.array([0.5]), exact, "o")
    dW_ih, dW_ho = network.gradients(x, t)
    assert_close(dW_ho, np.array([[-3 / 32, -1 / 32]]), exact, "dL/dW_ho")
    assert_close(dW_ih, np.array([[-3 / 128, -3 / 256], [9 / 128, 9 / 256]]), exact, "dL/dW_ih")
    assert network.train(x, t) == pytest.approx(1 / 8, rel=exact)
    assert_close(network.get_weights()[1], np.array([[1 + 3 / 32, -3 + 1 / 32]]), exact, "W_ho after")

    book = BookNetwork(2, 2, 1, 1.0)
    book.set_weights(weights)
    book_ih, book_ho = book.gradients(x, t)
    assert_close(book_ho, dW_ho, exact, "book dW_ho")
    assert_close(book_ih, np.array([[-3 / 32, -3 / 64], [9 / 32, 9 / 64]]), exact, "book dW_ih")


@pytest.mark.parametrize("who_scale, max_cosine, min_ratio", [(1, 0.999, 3.5), (4, 0.9, 6)])
def test_book_rule_departs_from_the_gradient_on_the_hidden_layer_only(who_scale, max_cosine, min_ratio):
    """784-200-10 at the book's initialisation: output layer identical, hidden layer not.

    With W_ho at its initial scale the outputs sit near 1/2, where o(1 − o) ≈ 1/4 for every
    output, so the book's hidden step is about 4 times the gradient and nearly parallel to
    it. Scaled up, as training makes it, the outputs spread towards 0 and 1, o(1 − o) differs
    from output to output, and the direction turns away from the gradient.
    """
    rng = np.random.default_rng(0)
    sizes = (784, 200, 10)
    weights = initial_weights(*sizes, seed=0)
    weights[1] *= who_scale
    true, book = Network(*sizes, 0.1), BookNetwork(*sizes, 0.1)
    true.set_weights(weights)
    book.set_weights(weights)
    inputs = rng.uniform(0.01, 1.0, size=(1, 784))
    targets = np.full((1, 10), 0.01)
    targets[0, 3] = 0.99
    (true_ih, true_ho), (book_ih, book_ho) = true.gradients(inputs, targets), book.gradients(inputs, targets)
    assert_close(book_ho, true_ho, tolerance("float64").single, "output layer")
    cosine = np.vdot(book_ih, true_ih) / (np.linalg.norm(book_ih) * np.linalg.norm(true_ih))
    ratio = np.linalg.norm(book_ih) / np.linalg.norm(true_ih)
    assert cosine < max_cosine and ratio > min_ratio, (cosine, ratio)
    # and the book's direction is exactly W_ho^T (o − t) ⊙ h(1 − h) x^T, written out here:
    h = expit(inputs @ weights[0].T)
    o = expit(h @ weights[1].T)
    expected = ((o - targets) @ weights[1] * h * (1 - h)).T @ inputs
    assert_close(book_ih, expected, tolerance("float64").single, "the book's hidden step")


def test_seed_autograd_example_by_hand():
    """The seed's example without torch: y = x² + 5x + 2, dy/dx = 2x + 5 = 9 at x = 2."""
    derivative = jacobian(lambda x: x**2 + 5 * x + 2, np.array([2.0])).df
    assert derivative == pytest.approx(2 * 2.0 + 5) == pytest.approx(9.0)


@pytest.mark.parametrize("bad, message", [
    (dict(input_nodes=0), "'input_nodes' parameter must be an int >= 1. Got 0"),
    (dict(hidden_nodes=2.5), "'hidden_nodes' parameter must be an int >= 1. Got 2.5"),
    (dict(learning_rate=-1), "'lr' parameter must be a finite float > 0. Got -1"),
    (dict(learning_rate=float("nan")), "'lr' parameter must be a finite float > 0. Got nan"),
    (dict(dtype="float16"), "'dtype' parameter must be one of"),
])
def test_bad_parameters_are_refused_with_one_sentence(bad, message):
    from common.errors import ParameterError
    args = dict(input_nodes=3, hidden_nodes=2, output_nodes=1, learning_rate=0.1) | bad
    dtype = args.pop("dtype", "float64")
    with pytest.raises(ParameterError, match=message):
        Network(*args.values(), dtype=dtype)


def test_bad_shapes_are_refused_and_weights_kept():
    from common.errors import ParameterError
    network = Network(3, 2, 1, 0.1, seed=0)
    before = network.get_weights()
    with pytest.raises(ParameterError, match=r"W_ih must have shape \(2, 3\)"):
        network.set_weights([np.zeros((3, 2)), np.zeros((1, 2))])
    with pytest.raises(ParameterError, match=r"inputs must have shape \(n, 3\)"):
        network.train(np.zeros(4), np.zeros(1))
    with pytest.raises(ParameterError, match=r"targets must have shape \(1,\)"):
        network.train(np.zeros(3), np.zeros(2))
    with pytest.raises(ParameterError, match="non-finite"):
        network.set_weights([np.full((2, 3), np.nan), np.zeros((1, 2))])
    for w0, w1 in zip(before, network.get_weights()):
        np.testing.assert_array_equal(w0, w1)
