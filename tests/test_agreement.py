"""Property tests: the NumPy network and its torch twin compute the same thing.

Every architecture: 0 to 3 hidden layers, sigmoid, tanh and ReLU, half squared error and
softmax cross-entropy, with and without biases, float32 and float64, one sample and batches.
Tolerances come from common.tolerances (the dtype's machine epsilon), never per test.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.tolerances import assert_close, loss_difference, output_error_condition, relative_difference, tolerance
from tests.strategies import cases


def loss_of(case):
    """``(output_nodes, loss)``: what loss_difference needs to know of the case."""
    return case.architecture.output_nodes, case.architecture.loss


def gradient_tolerance(case, network, inputs, targets) -> float:
    """The single tolerance times the output error's cancellation, as compare's gradient checks use it."""
    return tolerance(case.dtype).single * output_error_condition(network.query(inputs), targets)


def assert_weights_close(mine, theirs, before, rtol: float, what: str) -> None:
    """Weights after training agree to ``rtol`` of the larger of the weights before and after.

    Adding a step rounds relative to the numbers added: where the step nearly cancels a
    parameter (a one-entry bias b + Δ ≈ 0), the result is far smaller than either, and the
    same rounding is a large share of it. Everywhere else this is ``assert_close``.
    """
    mine, theirs = np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    scale = max(float(np.max(np.abs(theirs))), float(np.max(np.abs(before))))
    difference = float(np.max(np.abs(mine - theirs)))
    if difference > rtol * scale:
        worst = np.unravel_index(np.argmax(np.abs(mine - theirs)), mine.shape)
        raise AssertionError(f"{what}: difference {difference:.3g} > {rtol:.3g} x {scale:.3g}; worst at {worst}: "
                             f"Mine {mine[worst]!r}, Theirs {theirs[worst]!r}")


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
    rtol = gradient_tolerance(case, theirs, case.inputs, case.targets)
    mine_gradients, their_gradients = mine.gradients(case.inputs, case.targets), theirs.gradients(case.inputs, case.targets)
    assert len(mine_gradients) == len(their_gradients) == len(case.names)
    for name, shape, a, b in zip(case.names, case.architecture.parameter_shapes(), mine_gradients, their_gradients):
        assert a.shape == b.shape == shape and a.dtype == b.dtype == np.dtype(case.dtype)
        assert_close(a, b, rtol, f"dL/d{name}")


@given(cases(), st.booleans())
def test_intermediate_gradients_match_torch(case, single_sample):
    """dL/dz of every layer and dL/dh of every hidden layer, against autograd's; where the two part beyond
    the tolerance, each against the float64 truth (:func:`assert_as_near_the_truth`)."""
    mine, theirs = case.networks()
    inputs, targets = (case.inputs[0], case.targets[0]) if single_sample else (case.inputs, case.targets)
    rtol = gradient_tolerance(case, theirs, inputs, targets)
    ours, autograd = mine.intermediate_gradients(inputs, targets), theirs.intermediate_gradients(inputs, targets)
    truth = None
    layers = len(case.architecture.hidden_nodes)
    assert [len(ours["dLdz"]), len(ours["dLdh"])] == [len(autograd["dLdz"]), len(autograd["dLdh"])] == [layers + 1, layers]
    for key in ("dLdz", "dLdh"):
        for layer, (a, b) in enumerate(zip(ours[key], autograd[key]), start=1):
            assert a.shape == b.shape == inputs.shape[:-1] + (case.architecture.layer_sizes[layer],)
            if relative_difference(a, b) > rtol and case.dtype == "float32":
                truth = truth or float64_twin(case).intermediate_gradients(inputs.astype(np.float64),
                                                                           targets.astype(np.float64))
                assert_as_near_the_truth(a, b, truth[key][layer - 1], rtol, f"{key} of layer {layer}")
            else:
                assert_close(a, b, rtol, f"{key} of layer {layer}")


def assert_close_to_torch(case, inputs, targets, rtol: float, mine: list, theirs: list, names: list[str],
                          truth) -> None:
    """Each of ``mine`` within ``rtol`` of ``theirs``; a float32 pair beyond it, as near the float64
    truth (``truth(inputs, targets)``, the same list from a float64 twin) as autograd's own."""
    found = None
    for k, (name, a, b) in enumerate(zip(names, mine, theirs)):
        if relative_difference(a, b) > rtol and case.dtype == "float32":
            found = found or truth(inputs.astype(np.float64), targets.astype(np.float64))
            assert_as_near_the_truth(a, b, found[k], rtol, name)
        else:
            assert_close(a, b, rtol, name)


def float64_twin(case):
    """torch_impl at the case's weights, in float64: the truth a float32 network rounds."""
    from torch_impl import Network as TorchNetwork

    a = case.architecture
    twin = TorchNetwork(a.input_nodes, list(a.hidden_nodes), a.output_nodes, case.lr,
                        **{**case.keywords(), "dtype": "float64"})
    twin.set_weights([np.asarray(w, np.float64) for w in case.weights])
    return twin


ROUNDING_MARGIN = 4.0  # how much further from the truth than autograd's own float32 result ours may be


def assert_as_near_the_truth(mine, theirs, truth, rtol: float, what: str) -> None:
    """Where a sum cancels (a layer of one unit hands down W^T dL/dz, a few terms of either sign), both
    float32 results carry rounding far beyond the tolerance relative to what is left: autograd's too.
    Then ours must be as near the float64 truth as autograd's float32 (``ROUNDING_MARGIN`` times), or
    within the tolerance of it."""
    ours, autograd = relative_difference(mine, truth), relative_difference(theirs, truth)
    assert ours <= max(rtol, ROUNDING_MARGIN * autograd), (
        f"{what}: ours is {ours:.3g} from the float64 truth, autograd's float32 {autograd:.3g} (tolerance {rtol:.3g})")


@given(cases(), st.booleans())
def test_one_step_matches_torch(case, single_sample):
    assert_one_step_matches_torch(case, single_sample)


def assert_one_step_matches_torch(case, single_sample: bool) -> None:
    """One train() step of both backends from the case's weights: the same loss, the same weights after."""
    mine, theirs = case.networks()
    inputs, targets = (case.inputs[0], case.targets[0]) if single_sample else (case.inputs, case.targets)
    rtol = tolerance(case.dtype).single
    loss_mine, loss_theirs = mine.train(inputs, targets), theirs.train(inputs, targets)
    assert loss_difference(loss_mine, loss_theirs, *loss_of(case)) <= rtol, (loss_mine, loss_theirs)
    for name, a, b, before in zip(case.names, mine.get_weights(), theirs.get_weights(), case.weights):
        assert_weights_close(a, b, before, rtol, name)


def rounding_growth(case, k: int) -> float:
    """How many times over k steps this case itself amplifies a one-ulp nudge of every weight (at least 1).

    Large weights, a large lr and ReLU kinks make some drawn cases unstable: there a rounding
    difference grows step by step in one backend against itself as much as across backends
    (compare.race.sensitivity measures the same thing in a run). from_scratch trains twice, from the
    case's weights and from the next float above each nonzero one.
    """
    plain, nudged = case.networks()[0], case.networks()[0]
    nudged.set_weights([np.where(w != 0, np.nextafter(w, np.inf), w) for w in case.weights])
    for step in range(k):
        i = step % len(case.inputs)
        plain.train(case.inputs[i], case.targets[i])
        nudged.train(case.inputs[i], case.targets[i])
    eps = tolerance(case.dtype).eps
    return max(1.0, *(relative_difference(a, b) / eps for a, b in zip(nudged.get_weights(), plain.get_weights())))


@given(cases(), st.integers(2, 6))
def test_k_steps_match_torch(case, k):
    """k one-sample steps in turn over the batch leave the same weights, within the single tolerance
    times the case's own growth of a rounding error over those steps (1 where training is stable)."""
    mine, theirs = case.networks()
    single = tolerance(case.dtype).single
    rtol = single * rounding_growth(case, k)
    for step in range(k):
        i = step % len(case.inputs)
        loss_mine = mine.train(case.inputs[i], case.targets[i])
        loss_theirs = theirs.train(case.inputs[i], case.targets[i])
        limit = single if step == 0 else rtol  # the first step starts from identical weights
        assert loss_difference(loss_mine, loss_theirs, *loss_of(case)) <= limit, (step, loss_mine, loss_theirs)
    for name, a, b, before in zip(case.names, mine.get_weights(), theirs.get_weights(), case.weights):
        assert_weights_close(a, b, before, rtol, f"{name} after {k} steps")


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


def test_output_error_condition_grows_as_the_answer_becomes_exact():
    targets = np.array([1.0, 0.0, 0.0])
    assert output_error_condition(np.array([0.5, 0.25, 0.25]), targets) == 2.0  # max(|o|,|t|) / max|o − t|
    assert output_error_condition(np.array([1 - 1e-6, 5e-7, 5e-7]), targets) == pytest.approx(1e6)
    assert output_error_condition(np.array([0.0, 1.0, 0.0]), targets) == 1.0  # never below 1
    assert output_error_condition(targets, targets) == float("inf")  # no gradient left to compare


def test_gradients_of_an_almost_exact_answer_agree_within_the_condition_widened_tolerance():
    """Softmax regression on 784 inputs with the label's logit 8 to 14 above the rest: p − t cancels.

    The backends round p differently by an ulp of 1, which is far more than ``single`` of a
    gradient of size |p − t| ~ 1e-5; multiplied by the output error's condition, it is inside.
    """
    from from_scratch import Network
    from torch_impl import Network as TorchNetwork

    single = tolerance("float64").single
    mine = Network(784, [], 10, 0.1, loss="cross_entropy", bias=True)
    theirs = TorchNetwork(784, [], 10, 0.1, loss="cross_entropy", bias=True)
    beyond_single = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        label = seed % 10
        biases = np.zeros(10)
        biases[label] = rng.uniform(8, 14)
        weights = [rng.normal(0, 784**-0.5, (10, 784)), biases]
        inputs, targets = rng.uniform(0.01, 1.0, 784), np.eye(10)[label]
        mine.set_weights(weights)
        theirs.set_weights(weights)
        difference = max(relative_difference(a, b) for a, b in zip(mine.gradients(inputs, targets),
                                                                     theirs.gradients(inputs, targets)))
        beyond_single += difference > single
        assert difference <= single * output_error_condition(theirs.query(inputs), targets), seed
    assert beyond_single >= 10  # the plain tolerance would call these rounding differences a disagreement
