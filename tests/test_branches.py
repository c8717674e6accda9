"""Branches that rounding decides (compare.race.branches), each built into a small torch_impl network
at its turning point: a ReLU unit whose pre-activation is its bias, ±1e-20; a max-pool window whose
two largest values are decided by the sign of one convolution weight. Found as the nearest their
branch, and sent the other way, each takes the step from the other side."""
from __future__ import annotations

import numpy as np
import pytest

from common.architecture import Architecture
from common.recipe import Recipe
from common.tolerances import measure_step, tolerance
from compare.race import branches
from compare.state import TrainingState, one_step

SINGLE = tolerance("float64").single


def _torch(architecture: Architecture):
    from compare.race.backends import make_torch_backend

    return make_torch_backend("cpu", False, architecture, 0.1, "float64", Recipe()).network


def _state(network, weights) -> TrainingState:
    return TrainingState([w.copy() for w in weights], network.get_optimizer_state())


def _steps_apart(mine, mine_before, theirs, theirs_before) -> float:
    """Two steps taken from nearby weights, laid on the same start: how far apart, relative to the step."""
    tol = tolerance("float64")
    return max(measure_step(m, b + (t - tb), b, tol)["relative"]
               for m, b, t, tb in zip(mine, mine_before, theirs, theirs_before))


def test_a_relu_unit_sent_the_other_way_takes_the_step_from_the_other_side_of_zero():
    """784-3-10, ReLU: hidden unit 1 has no input weights, so its pre-activation is its bias, ±1e-20."""
    architecture = Architecture(784, 3, 10, "relu", "cross_entropy", True)
    network = _torch(architecture)
    weights = [w.copy() for w in network.get_weights()]
    weights[0][1] = 0.0
    above, below = [w.copy() for w in weights], [w.copy() for w in weights]
    above[1][1], below[1][1] = 1e-20, -1e-20
    x = np.random.default_rng(0).random((1, 784))
    t = np.eye(10)[[3]]
    on, off = _state(network, above), _state(network, below)
    (nearest, *_) = branches.nearest(network, (on, off), x, tolerance("float64").eps)
    assert (nearest.module, nearest.kind, nearest.unit, nearest.sample) == ("relu", "ReLU", [1], 0)
    assert nearest.within and nearest.flipped and nearest.margin == 1e-20
    from_below = one_step(network, off, x, t)
    assert _steps_apart(one_step(network, on, x, t), above, from_below, below) > 1e6 * SINGLE  # the branch matters
    assert _steps_apart(branches.flipped_step(network, on, x, t, nearest), above, from_below, below) <= SINGLE


def test_a_max_pool_window_sent_the_other_way_takes_the_step_of_its_runner_up():
    """One 3x3 filter, padded: 1 at its centre and ±1e-13 to its right, on a background of 0.1 with
    0.5, 0.5, 0.45 in a row: the window of rows 10-11, columns 10-11 holds 0.5 ± 0.5e-13 and 0.5 ± 0.45e-13,
    its largest decided by the sign of that weight. The dense layer reads that window's pooled value
    alone, so that no other window or unit the weight moves carries a gradient."""
    architecture = Architecture(784, [], 10, "relu", "cross_entropy", True, conv=((1, 3, 1),))
    network = _torch(architecture)
    weights = [w.copy() for w in network.get_weights()]
    weights[0][:] = 0.0
    weights[0][0, 0, 1, 1] = 1.0
    read = 5 * 14 + 5  # the pooled map's (5, 5), flattened
    weights[2][:, np.arange(196) != read] = 0.0
    left, right = [w.copy() for w in weights], [w.copy() for w in weights]
    left[0][0, 0, 1, 2], right[0][0, 0, 1, 2] = 1e-13, -1e-13
    image = np.full((28, 28), 0.1)
    image[10, 10:13] = 0.5, 0.5, 0.45
    x, t = image.reshape(1, 784), np.eye(10)[[4]]
    first, second = _state(network, left), _state(network, right)
    (nearest, *_) = branches.nearest(network, (first, second), x, tolerance("float64").eps)
    assert (nearest.module, nearest.kind, nearest.unit) == ("pool1", "max pool", [0, 5, 5])
    assert nearest.flipped and nearest.within and nearest.margin == pytest.approx(0.05e-13, rel=0.01)
    runner_up = one_step(network, second, x, t)
    assert _steps_apart(one_step(network, first, x, t), left, runner_up, right) > 1e6 * SINGLE
    assert _steps_apart(branches.flipped_step(network, first, x, t, nearest), left, runner_up, right) <= SINGLE


def test_a_kind_takes_a_branch_by_the_module_named_as_its_implementation():
    """ReLU units and max-pool windows have branches; sigmoid, tanh, dense layers, convolutions, norms and
    dropout (its mask is a function of the seed and the step) have none, and nothing lists the kinds."""
    architecture = Architecture(784, [12], 10, activation="relu", conv=((2, 5, 0),), norm="batch", dropout=0.2)
    found = {spec.name: branches.kind_of(spec) for spec in architecture.layers}
    assert {name: kind.words for name, kind in found.items() if kind} == {
        "relu_conv1": "ReLU", "pool1": "max pool", "relu": "ReLU"}
    smooth = Architecture(784, [12], 10, activation="tanh", conv=((2, 5, 0),))
    assert [spec.name for spec in smooth.layers if branches.kind_of(spec)] == ["pool1"]
    network = _torch(architecture)
    assert [name for name, _, _ in branches.branching(network)] == ["relu_conv1", "pool1", "relu"]
