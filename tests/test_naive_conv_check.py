"""check_network and the race for a convolutional network written in cs231n's naive loops: the correct
one passes; each mistake learners really write in those loops (the pool's argmax with row and column
swapped, the pool's gradient sent to every tied maximum, dW rotated 180°) is named, and only where the
replayed numbers are the network's; a mistake outside the catalogue is placed between the rows that
agree and the first that does not.

The loops cost milliseconds an image, so the networks are tiny (2 and 3 filters, 10 hidden nodes)
and check_network compares a batch of 4.
"""
from __future__ import annotations

import json

import pytest

from common.architecture import Architecture
from common.data import load_embedded, one_hot_targets, scale_inputs
from common.recipe import Recipe
from common.weights import initial_weights
from compare import check_network
from compare.state import TrainingState
from compare.check.mistakes import GRADIENTS, fitting
from compare.race.cli import EXIT_OK, main
from tests.test_conv_check import assert_named_before_the_race
from tests.users import cs231n_naive_conv
from tests.users.cs231n_naive_conv import NaiveConvNet, RotatedKernelInScatter

CONV, HIDDEN, BATCH = ((2, 5, 0), (3, 3, 0)), [10], 4
FILE = "tests/users/cs231n_naive_conv.py"


def build(cls, dtype="float64"):
    """``cls`` at the race's starting weights for its architecture (biases 0)."""
    network = cls(784, HIDDEN, 10, NaiveConvNet.LEARNING_RATE, dtype=dtype, conv=CONV)
    network.set_weights(initial_weights(Architecture.of(network), seed=0, dtype=dtype))
    return network


def test_a_correct_naive_loop_network_passes_check_network():
    report = check_network(build(NaiveConvNet), batch_size=BATCH)
    assert report.passed and report.cause is None, str(report)


@pytest.mark.parametrize("cls", cs231n_naive_conv.MISTAKES, ids=lambda c: c.__name__)
def test_each_mistake_written_in_naive_loops_is_named_by_check_network(cls):
    report = check_network(build(cls), batch_size=BATCH)
    assert (report.cause.name, report.cause.layer) == (cls.CAUSE, cls.LAYER), str(report)
    assert f"likely cause ({cls.CAUSE}, {cls.LAYER})" in str(report)


def test_the_tied_maxima_are_named_in_float32_too():
    """The network ties where its float32 windows are equal; the replay, in float64 at its weights, ties there too."""
    report = check_network(build(cs231n_naive_conv.PoolGradientToTies, "float32"), batch_size=BATCH)
    assert report.cause.name == "pool_ties", str(report)


def test_each_new_hypothesis_fits_only_the_numbers_of_its_own_mistake():
    data = load_embedded()
    inputs = scale_inputs(data.train_images[:BATCH])
    targets = one_hot_targets(data.train_labels[:BATCH], values=(0.0, 1.0))
    correct = build(NaiveConvNet)
    architecture, weights = Architecture.of(correct), correct.get_weights()
    for cls in (*cs231n_naive_conv.MISTAKES, RotatedKernelInScatter):
        cases = [(inputs, targets, build(cls).gradients(inputs, targets), 1e-9)]
        found = [(h.name, h.layer) for h in fitting(architecture, Recipe(), TrainingState(weights, None), GRADIENTS, cases)]
        assert found == ([(cls.CAUSE, cls.LAYER)] if hasattr(cls, "CAUSE") else []), cls.__name__


def test_a_mistake_outside_the_catalogue_is_placed_between_the_last_row_that_agrees_and_the_first_that_does_not():
    report = check_network(build(RotatedKernelInScatter), batch_size=BATCH)
    row, _, _ = report.first_failure
    assert report.cause.name == "unexplained" and (row.kind, row.layer) == ("gradient", "W_conv1"), str(report)
    sentence = report.cause.sentence
    assert "Between gradient b_conv2, which agrees, and gradient W_conv1 lie: dL/dx of conv2" in sentence
    assert "the backward pass of pool1, the max pool after conv1; the ReLU's derivative at conv1" in sentence
    assert "The mistake is in one of them." in str(report)


def race(tmp_path, name):
    """``python -m compare --backends torch_impl tests/users/cs231n_naive_conv.py:NAME ...`` in this process."""
    path = tmp_path / f"{name}.json"
    code = main(["--backends", "torch_impl", f"{FILE}:{name}", "--conv", "2x5,3x3", "--hidden", "10",
                 "--activation", "relu", "--loss", "cross-entropy", "--bias", "--lr", "0.01", "--train-limit", "20",
                 "--test-limit", "10", "--check-every", "10", "--json", str(path)])
    return code, json.loads(path.read_text())


def test_a_correct_naive_loop_network_races_autograd_and_agrees(tmp_path, capsys):
    code, record = race(tmp_path, "NaiveConvNet")
    assert code == EXIT_OK, capsys.readouterr().out
    assert record["agreement"]["passed"]


@pytest.mark.parametrize("cls", cs231n_naive_conv.MISTAKES, ids=lambda c: c.__name__)
def test_each_mistake_written_in_naive_loops_is_named_by_the_race_before_it_begins(tmp_path, capsys, cls):
    code, record = race(tmp_path, cls.__name__)
    assert_named_before_the_race(code, record, capsys.readouterr().out, cls)

