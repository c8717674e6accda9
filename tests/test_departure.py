"""Where two runs part: found by retraining the segment side by side, and proved at that step.

Two plants, each raced as a reader's network or as the README's LeNet-5:

- a branch: LeNet-5 in float32 at lr 0.01 parts from torch after 170 steps, where a ReLU unit's
  pre-activation lies within float32 rounding of 0 (2.4e-8, against a layer whose largest value is
  1.65) and the two backends send it different ways from the same weights; the run passes, naming it;
- a wrong step on one sample of a thousand (tests/planted.py), 1.0005 times too long, fails at that
  step, naming the sample, with check_network's table there.

tests/test_branches.py builds a branch into a small network; tests/test_check_network.py checks the
samples and the wording the report leans on.
"""
from __future__ import annotations

import numpy as np
import pytest

from common.data import load_embedded
from common.tolerances import tolerance
from compare.race.departure import describe

LENET = dict(conv=((6, 5, 2), (16, 5, 0)), hidden=((120, 84),), activation="relu", loss="cross_entropy", bias=True,
             lr=0.01, test_limit=100, quiet=True)


@pytest.fixture(scope="module")
def parted_at_a_branch():
    """LeNet-5, float32, 200 steps in one segment: the runs part at step 170."""
    from compare import run_comparison

    return run_comparison(dtype="float32", train_limit=200, check_every=200, **LENET)


@pytest.fixture(scope="module")
def one_wrong_step():
    """784-200-10 (the book's), 1,000 steps, one of them 1.0005 times too long: on training sample 537."""
    from compare import run_comparison

    return run_comparison(backends=("torch_impl", "tests.planted:LongStepOnSample537"), train_limit=1000,
                          test_limit=100, quiet=True)


def test_runs_that_part_at_a_branch_rounding_decides_pass_naming_the_unit(parted_at_a_branch):
    from compare.race.report import summary_line, text_report

    record = parted_at_a_branch
    agreement = record["agreement"]
    assert record["status"] == "completed" and agreement["passed"], record["message"]
    (measured,) = [s for s in agreement["sensitivity"] if s["search"]]
    assert max(d / b for d, b in zip(measured["drift"], measured["bound"])) > 1  # beyond the estimate: searched
    assert measured["explained_by"] == "branch" and agreement["trajectory_verdict"] == "sensitive to rounding"
    (parted,) = agreement["departures"]
    branch = parted["branch"]
    assert parted["verdict"] == "branch" and branch["kind"] == "ReLU" and branch["within"]
    assert branch["margin"] <= tolerance("float32").eps * 10  # a pre-activation within rounding of 0
    assert parted["label"] == load_embedded().train_labels[parted["sample"]]
    assert f"{describe(parted)}." in text_report(record)
    assert "parted at a branch that rounding decides" in summary_line(record)


def test_a_branch_is_proven_by_sending_it_the_other_way(parted_at_a_branch):
    """Where the runs part, the branch is proven, whichever way the step from identical weights went: if it
    differs beyond its tolerance, torch's step with that one unit sent the other way is the other backend's
    (the check is held back, not failed); if it agrees, the unit sent the other way rejoins the runs. Which
    of the two LeNet shows here depends on the last bits of each backend's rounding (it differs with this
    code, and agreed while the dense layers after the flatten took one image as a row by gemm rather than
    ger); tests/test_branches.py sends a unit each way by construction."""
    (parted,) = parted_at_a_branch["agreement"]["departures"]
    assert parted["proven"] and parted["verdict"] == "branch"
    if not parted["agrees"]:
        assert parted["check"]["relative"] > parted["check"]["tolerance"]
    else:
        assert parted["branch"]["flipped"]
    assert all(c["passed"] for c in parted_at_a_branch["agreement"]["checks"])  # its checks held back, not failed


def test_runs_their_weights_part_at_a_branch_rejoin_when_it_is_sent_the_other_way():
    """LeNet-5, float32, batches of 4: after 364 steps the step from identical weights agrees, but the two
    runs' weights, 3.9e-7 apart, put a ReLU unit of the second convolution on different sides. Sent the
    other way in torch from the reference's weights, it takes the other run's step."""
    from compare import run_comparison

    record = run_comparison(dtype="float32", batch_size=4, train_limit=2000, **LENET)
    assert record["status"] == "completed" and record["agreement"]["passed"], record["message"]
    (parted,) = record["agreement"]["departures"]
    assert parted["agrees"] and parted["proven"] and parted["verdict"] == "branch"
    assert len(parted["samples"]) == 4 and parted["sample"] in parted["samples"]
    assert parted["branch"]["flipped"] and parted["branch"]["separation"] > 0  # the weights, not the backends


def test_a_wrong_step_on_one_sample_in_a_thousand_fails_at_that_step(one_wrong_step):
    record = one_wrong_step
    assert record["status"] == "disagreed"
    first = record["agreement"]["failures"][0]
    assert (first["kind"], first["step"], first["backend"]) == ("step", 537, "LongStepOnSample537")
    (parted,) = record["agreement"]["departures"]
    assert (parted["step"], parted["sample"], parted["label"], parted["verdict"]) == (537, 537, 5, "disagree")
    assert record["message"].startswith("The backends disagree: step W_ho of LongStepOnSample537 after 537 steps "
                                        "(epoch 1)")  # the output layer first, as a mistake spreads downwards
    assert "on training sample 537 (a 5)" in record["message"]


def test_the_departure_is_diagnosed_by_check_network_on_its_own_sample(one_wrong_step):
    """check_network runs at the reference's weights before the wrong step, on that sample first: its one
    sample's first step fails, as 1.0005 times as far."""
    diagnosis = one_wrong_step["runs"][0]["diagnosis"]
    assert diagnosis["step"] == 537 and diagnosis["state"].endswith("(step 537)")
    first = diagnosis["first_failure"]
    assert (first["kind"], first["mode"], first["call"]) == ("step 1", "single", 1)
    assert diagnosis["cause"]["name"] == "update_not_gradient" and "1.0005x as far" in diagnosis["cause"]["sentence"]


def test_a_failure_shows_one_tolerance_in_the_table_and_in_the_sentence(one_wrong_step):
    from compare.race.report import text_report

    first = one_wrong_step["agreement"]["failures"][0]
    said = f"{first['tolerance']:.3g}"
    assert f"beyond the tolerance {said}." in one_wrong_step["message"]
    row = next(line for line in text_report(one_wrong_step).splitlines()
               if line.split()[:4] == ["step", first["layer"], first["backend"], "537"])
    assert row.split()[-1] == said


def test_a_wrong_step_on_one_digit_fails_at_the_first_step_on_that_digit():
    from compare import run_comparison

    record = run_comparison(backends=("torch_impl", "tests.planted:LongStepOnSevens"), train_limit=200,
                            check_every=200, test_limit=100, quiet=True)
    assert record["status"] == "disagreed"
    (parted,) = record["agreement"]["departures"]
    first_seven = int(np.flatnonzero(load_embedded().train_labels == 7)[0])
    assert (parted["step"], parted["sample"], parted["label"]) == (first_seven, first_seven, 7)
    assert f"on training sample {first_seven} (a 7)" in record["message"]
