"""A network with momentum or Adam that does not hand out its optimizer state (no get_optimizer_state and
set_optimizer_state) is still checked and still races: check_network checks fresh instances of it at its
weights, both it and torch.optim from a fresh state; the race checks each step from the reference's weights
and a fresh state on both sides, and its twins carry the network's own state (deep copies). Correct ones pass,
planted ones fail with their cause named, and what is not compared (the state) is said."""
from __future__ import annotations

import numpy as np
import pytest

from common.data import load_embedded, one_hot_targets, scale_inputs
from common.tolerances import relative_difference, tolerance
from compare import check_network, run_comparison
from compare.state import keeps_state_to_itself, restore, snapshot
from tests.planted import NudgedAt200
from tests.test_recipe_check import _race_options
from tests.users.cs231n import ClassicVelocity, TwoLayerNet
from tests.users.nnfs import NnfsNetwork, NoBiasCorrection

HIDDEN = 16


class KeepsToItself:
    """Strips a network's get_optimizer_state and set_optimizer_state: its state stays its own."""

    get_optimizer_state = set_optimizer_state = None


class NnfsAdam(KeepsToItself, NnfsNetwork):
    pass


class Cs231nMomentum(KeepsToItself, TwoLayerNet):
    pass


class NnfsUncorrected(KeepsToItself, NoBiasCorrection):
    pass


class Cs231nClassicVelocity(KeepsToItself, ClassicVelocity):
    pass


class MomentumNudgedAt200(KeepsToItself, NudgedAt200):
    """from_scratch's network with momentum, one row of W1 scaled by 1.001 as step 201 begins."""


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(0)  # the readers' networks draw their weights from NumPy's global generator


def _samples(count):
    data = load_embedded()
    return scale_inputs(data.train_images[:count]), one_hot_targets(data.train_labels[:count], "float64",
                                                                    values=(0.0, 1.0))


@pytest.mark.parametrize("cls", [NnfsAdam, Cs231nMomentum], ids=lambda c: c.__name__)
def test_a_correct_network_without_state_methods_is_checked_from_a_fresh_state_and_passes(cls):
    network = cls(784, HIDDEN, 10, cls.LEARNING_RATE)
    assert keeps_state_to_itself(network)
    report = check_network(network)
    assert report.passed, str(report)
    assert not [row for row in report.rows if row.kind == "state"]
    record = report.to_json()
    assert record["where"].startswith(f"on fresh instances of {cls.__name__} built as the race builds it")
    assert record["state"].endswith("so its steps are compared and its optimizer state is not")


def test_a_network_without_state_methods_checked_in_mid_training_is_checked_from_a_fresh_state():
    """Copies would carry the Adam moments of its two steps, and torch.optim would start from none."""
    network = NnfsAdam(784, HIDDEN, 10, NnfsAdam.LEARNING_RATE)
    x, t = _samples(2)
    for i in range(2):
        network.train(x[i], t[i])
    weights = network.get_weights()
    assert check_network(network).passed
    assert network.nnfs_optimizer.iterations == 2  # and the network is left as it was
    for mine, before in zip(network.get_weights(), weights):
        np.testing.assert_array_equal(mine, before)


@pytest.mark.parametrize("cls", [NnfsAdam, Cs231nMomentum], ids=lambda c: c.__name__)
def test_a_correct_network_without_state_methods_races_and_agrees(cls):
    record = run_comparison(backends=("torch_impl", f"tests.test_state_optional:{cls.__name__}"), train_limit=200,
                            test_limit=50, check_every=50, quiet=True, **_race_options(cls))
    assert record["status"] == "completed" and record["agreement"]["passed"], record["message"]
    steps = [c for c in record["agreement"]["checks"] if c["kind"] == "step" and c["backend"] == cls.__name__]
    assert len(steps) >= 4 * 4 and all(c["passed"] for c in steps)
    assert record["message"].startswith(f"{cls.__name__} keeps its optimizer state to itself (no "
                                        "get_optimizer_state/set_optimizer_state): each of its steps was checked "
                                        "from the reference's weights and a fresh optimizer state on both sides")


@pytest.mark.parametrize("cls", [NnfsUncorrected, Cs231nClassicVelocity], ids=lambda c: c.__name__)
def test_a_planted_network_without_state_methods_fails_the_race_with_its_cause_named(cls):
    record = run_comparison(backends=("torch_impl", f"tests.test_state_optional:{cls.__name__}"), train_limit=40,
                            test_limit=20, check_every=20, quiet=True, **_race_options(cls))
    assert record["status"] == "disagreed"
    assert record["runs"][0]["diagnosis"]["cause"]["name"] == cls.CAUSE


def test_a_departure_in_the_race_of_a_network_without_state_methods_is_found_at_its_step():
    record = run_comparison(backends=("torch_impl", "tests.test_state_optional:MomentumNudgedAt200"),
                            hidden=((HIDDEN,),), momentum=0.9, lr=0.05, train_limit=400, test_limit=20,
                            check_every=100, quiet=True)
    assert record["status"] == "disagreed"
    failure = record["agreement"]["failures"][0]
    assert failure["backend"] == "MomentumNudgedAt200" and failure["step"] in (200, 300), failure


def test_a_snapshot_of_a_network_without_state_methods_carries_its_state_into_a_twin():
    network, twin = NnfsAdam(784, HIDDEN, 10, 0.02), NnfsAdam(784, HIDDEN, 10, 0.02)
    x, t = _samples(4)
    for i in range(3):
        network.train(x[i], t[i])
    restore(twin, snapshot(network))
    network.train(x[3], t[3])
    twin.train(x[3], t[3])
    for mine, theirs in zip(twin.get_weights(), network.get_weights()):  # its weights arrive transposed in memory
        assert relative_difference(mine, theirs) <= tolerance("float64").single
    assert twin.nnfs_optimizer.iterations == 4
