"""The NumPy network on its own: finite differences, a network worked by hand, the book's rule.

This module imports no torch, and test_gradient_matches_finite_differences_without_torch
runs the finite-difference check in a process where torch cannot be imported at all.
"""
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.differentiate import jacobian
from scipy.special import expit, log_expit, log_softmax

from common.architecture import ACTIVATIONS, LOSSES, Architecture
from common.tolerances import assert_close, tolerance
from common.weights import initial_weights
from from_scratch import BookNetwork, Network
from from_scratch.layers.activation import ACTIVATIONS as ACTIVATION_TABLE
from tests.strategies import architectures


HIDDEN_ACTIVATIONS = {"sigmoid": expit, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}


def loss_of_flat_parameters(flat, architecture, inputs, targets):
    """L, batch mean, for every parameter stacked in the first axis of ``flat``.

    Vectorised as scipy.differentiate asks: ``flat`` has shape (n_parameters, ...) and the
    result the trailing shape (...). Written independently of from_scratch: einsum for each
    layer, SciPy's log_softmax for cross-entropy and log_expit for the binary cross-entropies.
    """
    columns = flat.reshape(flat.shape[0], -1)
    a = np.repeat(inputs[:, :, None], columns.shape[1], axis=2)  # (n, nodes, k)
    offset, sizes = 0, architecture.layer_sizes
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        W = columns[offset:offset + n_out * n_in].reshape(n_out, n_in, -1)
        offset += n_out * n_in
        z = np.einsum("oik,nik->nok", W, a)
        if architecture.bias:
            z = z + columns[offset:offset + n_out][None]
            offset += n_out
        if layer < architecture.n_layers:
            a = HIDDEN_ACTIVATIONS[architecture.activation](z)
    t = targets[:, :, None]
    if architecture.loss == "half_sse":
        per_sample = 0.5 * ((t - expit(z)) ** 2).sum(axis=1)
    elif architecture.loss.startswith("binary_cross_entropy"):  # log σ(z) and log(1 − σ(z)) = log σ(−z)
        per_sample = -(t * log_expit(z) + (1 - t) * log_expit(-z)).sum(axis=1)
        if architecture.loss == "binary_cross_entropy_mean":
            per_sample = per_sample / architecture.output_nodes
    else:
        per_sample = -(targets[:, :, None] * log_softmax(z, axis=1)).sum(axis=1)
    return per_sample.mean(axis=0).reshape(flat.shape[1:])


def pre_activations(network, inputs):
    """Each hidden layer's z = W a + b, to keep ReLU's finite differences off its kink."""
    a, found = inputs, []
    for W, b in zip(network.weights[:-1], network.biases[:-1]):
        z = a @ W.T + (0 if b is None else b)
        found.append(z)
        a = HIDDEN_ACTIVATIONS[network.activation](z)
    return found


def check_finite_differences(architecture, seed, batch):
    """Compare Network.gradients with SciPy's central finite differences (float64).

    Returns False, checking nothing, for a ReLU case with a pre-activation within 0.05 of the
    kink at 0, where a difference quotient straddles it and means nothing.
    """
    rng = np.random.default_rng(seed)
    a = architecture
    network = Network(a.input_nodes, list(a.hidden_nodes), a.output_nodes, 0.1, a.activation, a.loss, a.bias,
                      seed=seed)
    parameters = [p if p.ndim == 2 else rng.normal(0.0, 0.5, size=p.shape) for p in network.get_weights()]
    network.set_weights(parameters)
    inputs = rng.uniform(0.01, 1.0, size=(batch, a.input_nodes))
    targets = rng.uniform(0.01, 0.99, size=(batch, a.output_nodes))
    if a.loss == "cross_entropy":
        targets /= targets.sum(axis=1, keepdims=True)
    if a.activation == "relu" and any(np.min(np.abs(z)) < 0.05 for z in pre_activations(network, inputs)):
        return False
    flat = np.concatenate([p.ravel() for p in parameters])
    # Steps from 0.05 down (SciPy's default starts at 0.5): a first step moves a first-layer
    # pre-activation by at most 0.05 times an input (< 1), not across a kink 0.05 away.
    # Measured on 40 seeds of 4-3-2-5: good to 6e-11 for ReLU, 2e-12 for tanh.
    numeric = jacobian(lambda w: loss_of_flat_parameters(w, a, inputs, targets), flat, initial_step=0.05)
    analytic = np.concatenate([g.ravel() for g in network.gradients(inputs, targets)])
    # Richardson-extrapolated central differences are good to about 1e-10 here. Every ReLU
    # dead (all gradients 0) leaves nothing to scale by: then the differences must be ~0.
    if not analytic.any():
        assert np.max(np.abs(numeric.df)) < 1e-8, numeric.df
    else:
        assert_close(analytic, numeric.df, 1e-8, f"gradients against finite differences, {a.describe()}")
    return True


EVERY_COMBINATION = [(activation, loss, bias) for activation in ACTIVATIONS for loss in LOSSES
                     for bias in (False, True)]


@given(architectures(max_nodes=8), st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_gradient_matches_finite_differences(architecture, seed, batch):
    assume(check_finite_differences(architecture, seed, batch))


def test_gradient_matches_finite_differences_without_torch():
    """from_scratch needs no torch: block its import and check every activation × loss × bias
    on a network with two hidden layers."""
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('torch is blocked in this test')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from common.architecture import Architecture\n"
        "from tests.test_from_scratch import EVERY_COMBINATION, check_finite_differences\n"
        "for combination in EVERY_COMBINATION:  # the first seed whose ReLUs keep off the kink\n"
        "    assert any(check_finite_differences(Architecture(7, [5, 4], 3, *combination), seed, batch=2)\n"
        "               for seed in range(20)), combination\n"
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


def test_small_network_with_bias_and_softmax_cross_entropy_worked_by_hand():
    """2-2-2, ReLU, biases, softmax cross-entropy; lr = 1. Chosen so the softmax is 3/4, 1/4.

    x = (1, 2), W1 = [[1, 0], [0, −1]], b1 = (0, 1)
        ⇒ z_h = (1·1 + 0·2 + 0, 0·1 − 1·2 + 1) = (1, −1), h = relu(z_h) = (1, 0)
    W2 = [[ln 3, 7], [0, 2]], b2 = (0, 0)
        ⇒ z_o = (ln 3 · 1 + 7 · 0, 0 · 1 + 2 · 0) = (ln 3, 0)
        ⇒ o = softmax(z_o) = (3, 1) / (3 + 1) = (3/4, 1/4)
    t = (0, 1)  ⇒  L = −log o_2 = −log 1/4 = ln 4
    dL/dz_o = o − t = (3/4, −3/4)          (softmax and cross-entropy fused)
    dL/dW2 = dL/dz_o hᵀ = [[3/4, 0], [−3/4, 0]],  dL/db2 = dL/dz_o = (3/4, −3/4)
    dL/dh  = W2ᵀ dL/dz_o = (ln 3 · 3/4 + 0, 7 · 3/4 − 2 · 3/4) = (3 ln 3/4, 15/4)
    dL/dz_h = dL/dh · relu'(z_h) = (3 ln 3/4 · 1, 15/4 · 0) = (3 ln 3/4, 0)
    dL/dW1 = dL/dz_h xᵀ = [[3 ln 3/4, 3 ln 3/2], [0, 0]],  dL/db1 = (3 ln 3/4, 0)
    After one step at lr 1: b2 = (0, 0) − (3/4, −3/4) = (−3/4, 3/4).
    """
    ln3 = math.log(3.0)
    parameters = [np.array([[1.0, 0.0], [0.0, -1.0]]), np.array([0.0, 1.0]),
                  np.array([[ln3, 7.0], [0.0, 2.0]]), np.array([0.0, 0.0])]
    x, t = np.array([1.0, 2.0]), np.array([0.0, 1.0])
    exact = tolerance("float64").single

    network = Network(2, 2, 2, 1.0, activation="relu", loss="cross_entropy", bias=True)
    network.set_weights(parameters)
    assert_close(network.query(x), np.array([3 / 4, 1 / 4]), exact, "o")
    dW1, db1, dW2, db2 = network.gradients(x, t)
    assert_close(dW2, np.array([[3 / 4, 0.0], [-3 / 4, 0.0]]), exact, "dL/dW2")
    assert_close(db2, np.array([3 / 4, -3 / 4]), exact, "dL/db2")
    assert_close(dW1, np.array([[3 * ln3 / 4, 3 * ln3 / 2], [0.0, 0.0]]), exact, "dL/dW1")
    assert_close(db1, np.array([3 * ln3 / 4, 0.0]), exact, "dL/db1")
    inner = network.intermediate_gradients(x, t)
    assert_close(inner["dLdh"][0], np.array([3 * ln3 / 4, 15 / 4]), exact, "dL/dh")
    assert_close(inner["dLdz"][0], np.array([3 * ln3 / 4, 0.0]), exact, "dL/dz_h")
    assert network.train(x, t) == pytest.approx(math.log(4.0), rel=exact)
    assert_close(network.get_weights()[3], np.array([-3 / 4, 3 / 4]), exact, "b2 after")


def test_book_network_with_two_hidden_layers_matches_the_book_style_written_out():
    """784-200-200-10's rule as readers who extended the book wrote it (issue #84), column
    vectors and all: each layer's errors are the layer above's carried back through its W."""
    rng = np.random.default_rng(5)
    W1, W2, W3 = initial_weights(Architecture(12, [6, 5], 4), seed=5)
    inputs_list = rng.uniform(0.01, 1.0, size=(6, 12))
    targets_list = np.full((6, 4), 0.01)
    targets_list[np.arange(6), rng.integers(0, 4, size=6)] = 0.99
    lr = 0.3
    book = BookNetwork(12, [6, 5], 4, lr)
    book.set_weights([W1, W2, W3])
    W1, W2, W3 = W1.copy(), W2.copy(), W3.copy()
    for x, t in zip(inputs_list, targets_list):
        inputs, targets = x[:, None], t[:, None]
        hidden1_outputs = expit(W1 @ inputs)
        hidden2_outputs = expit(W2 @ hidden1_outputs)
        final_outputs = expit(W3 @ hidden2_outputs)
        output_errors = targets - final_outputs
        hidden2_errors = W3.T @ output_errors
        hidden1_errors = W2.T @ hidden2_errors
        W3 += lr * (output_errors * final_outputs * (1.0 - final_outputs)) @ hidden2_outputs.T
        W2 += lr * (hidden2_errors * hidden2_outputs * (1.0 - hidden2_outputs)) @ hidden1_outputs.T
        W1 += lr * (hidden1_errors * hidden1_outputs * (1.0 - hidden1_outputs)) @ inputs.T
        book.train(x, t)
    for name, by_hand, ours in zip(("W1", "W2", "W3"), (W1, W2, W3), book.get_weights()):
        assert_close(ours, by_hand, tolerance("float64").single, name)
    # and it is not the gradient: the true network takes other steps from the same start
    true = Network(12, [6, 5], 4, lr)
    true.set_weights(initial_weights(Architecture(12, [6, 5], 4), seed=5))
    for x, t in zip(inputs_list, targets_list):
        true.train(x, t)
    assert not np.allclose(true.get_weights()[0], W1, rtol=1e-6, atol=0)


@pytest.mark.parametrize("activation, loss", [("tanh", "half_sse"), ("sigmoid", "cross_entropy"), ("relu", "cross_entropy")])
def test_book_network_refuses_what_the_book_does_not_define(activation, loss):
    from common.errors import ParameterError
    with pytest.raises(ParameterError, match="BookNetwork is the book's rule, defined for activation='sigmoid'"):
        BookNetwork(4, [3, 3], 2, 0.1, activation=activation, loss=loss)


def test_relu_derivative_at_zero_is_zero_as_torch():
    from from_scratch.layers.activation import ACTIVATIONS as TABLE
    relu, relu_derivative = TABLE["relu"]
    y = relu(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(relu_derivative(y), [0.0, 0.0, 1.0])


def test_derivatives_written_through_the_output_match_finite_differences():
    z = np.linspace(-3, 3, 13) + 0.01  # keeps ReLU's kink off the grid
    for name, (forward, derivative) in ACTIVATION_TABLE.items():
        numeric = jacobian(lambda v: forward(v), z).df
        assert_close(derivative(forward(z)), np.diag(numeric), 1e-8, name)


def test_the_book_network_keeps_its_attributes_and_repr():
    book = Network(784, 200, 10, 0.1)
    assert book.hidden_nodes == 200 and isinstance(book.hidden_nodes, int)
    assert book.wih is book.weights[0] and book.who.shape == (10, 200)
    assert (book.activation, book.loss, book.bias) == ("sigmoid", "half_sse", False)
    assert repr(book) == "Network(784, 200, 10, 0.1, dtype='float64')"
    deep = Network(784, [200, 100], 10, 0.05, activation="tanh", loss="cross_entropy", bias=True)
    assert deep.hidden_nodes == [200, 100] and deep.architecture.hidden_nodes == (200, 100)
    assert repr(deep) == ("Network(784, [200, 100], 10, 0.05, activation='tanh', loss='cross_entropy', "
                          "bias=True, dtype='float64')")
    with pytest.raises(AttributeError, match="'wih' names a layer of a network with one hidden layer"):
        deep.wih


def test_biases_start_at_zero_and_update_in_place():
    network = Network(5, [4, 3], 2, 0.5, bias=True, loss="cross_entropy", seed=0)
    biases = list(network.biases)
    assert all(not b.any() for b in biases)
    rng = np.random.default_rng(0)
    network.train(rng.uniform(size=5), np.array([1.0, 0.0]))
    network.train(rng.uniform(size=(3, 5)), np.eye(2)[[0, 1, 1]])
    assert all(b is b_after and b.any() for b, b_after in zip(biases, network.biases))


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
    """The 2017 tutorial's first example without torch: y = x² + 5x + 2, dy/dx = 2x + 5 = 9 at x = 2."""
    derivative = jacobian(lambda x: x**2 + 5 * x + 2, np.array([2.0])).df
    assert derivative == pytest.approx(2 * 2.0 + 5) == pytest.approx(9.0)


@pytest.mark.parametrize("bad, message", [
    (dict(input_nodes=0), "'input_nodes' parameter must be an int >= 1. Got 0"),
    (dict(hidden_nodes=2.5), "'hidden_nodes' parameter must be an int or a sequence of ints >= 1. Got 2.5"),
    (dict(hidden_nodes=[4, 0]), "'hidden_nodes' parameter must be an int >= 1. Got 0"),
    (dict(activation="softplus"), "'activation' parameter must be one of"),
    (dict(loss="mse"), "'loss' parameter must be one of"),
    (dict(learning_rate=-1), "'lr' parameter must be a finite float > 0. Got -1"),
    (dict(learning_rate=float("nan")), "'lr' parameter must be a finite float > 0. Got nan"),
    (dict(learning_rate=1e39, dtype="float32"), r"'lr' parameter must be a number float32 can hold, .* Got 1e\+39"),
    (dict(learning_rate=1e-50, dtype="float32"), r"'lr' parameter must be a number float32 can hold, .* Got 1e-50"),
    (dict(dtype="float16"), "'dtype' parameter must be one of"),
])
def test_bad_parameters_are_refused_with_one_sentence(bad, message):
    from common.errors import ParameterError
    args = dict(input_nodes=3, hidden_nodes=2, output_nodes=1, learning_rate=0.1) | bad
    with pytest.raises(ParameterError, match=message):
        Network(**args)


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
