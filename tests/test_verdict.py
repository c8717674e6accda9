"""The verdict: steps from identical weights, trajectories judged against the run's own
sensitivity to rounding, saturation said plainly, and each number of the report pinned.

The unstable configuration, 784-1000-10 at lr 0.15 on the embedded data, amplifies a one-
rounding-error difference past the trajectory tolerance within 400 steps (in one backend
against itself as across backends), in a few seconds of training.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from common import tolerances
from common.tolerances import ROUNDING_MARGIN, tolerance
from compare.race import checks, saturation, sensitivity
from tests.cli_helpers import SMALL, exited, outcome, table_rows

UNSTABLE = ("--hidden", 1000, "--lr", 0.15, "--train-limit", 700, "--test-limit", 100, "--check-every", 100)


@pytest.fixture(scope="module")
def sensitive(tmp_path_factory):
    """An unstable run whose steps agree: its trajectories part as rounding grows."""
    folder = tmp_path_factory.mktemp("sensitive")
    return outcome(folder, *UNSTABLE, "--plot", folder / "plot.png")


@pytest.fixture(scope="module")
def wrong_step(tmp_path_factory):
    """The unstable run with a network stepping 1e-9 too far from step 400 on, after the runs parted."""
    return outcome(tmp_path_factory.mktemp("wrong_step"), *UNSTABLE, "--backends", "torch_impl",
                   "tests.planted:StepTooFarFrom400")


@pytest.fixture(scope="module")
def parted(tmp_path_factory):
    """The unstable run with one row of a network's W_ih scaled by 1.001 as step 400 begins."""
    return outcome(tmp_path_factory.mktemp("parted"), *UNSTABLE, "--backends", "torch_impl",
                   "tests.planted:NudgedAt400")


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory):
    """--lr 1e308: the weights jump to the ends of the float range at the first step."""
    return outcome(tmp_path_factory.mktemp("overflowing"), *SMALL, "--lr", "1e308")


# --- an unstable run whose steps agree -----------------------------------------------------------

def test_unstable_run_whose_steps_agree_exits_0_with_the_measured_rounding_note(sensitive):
    report, agreement = exited(sensitive, 0).run.stdout, sensitive.record()["agreement"]
    assert agreement["passed"] is True and agreement["steps_agree"] is True
    assert agreement["trajectory_verdict"] == "sensitive to rounding"
    first = agreement["sensitivity"][0]
    assert first["explained"] and max(first["drift"]) > tolerance("float64").trajectory  # really beyond
    worst = int(np.argmax(first["growth"]))
    said = (f"note: training is sensitive to rounding here: a {first['nudge'][worst]:.2g} nudge grows to "
            f"{first['growth'][worst]:.2g} in {first['steps']:,} steps ({first['layers'][worst]}, "
            f"from step {first['start']:,}); the backends' steps agree.")
    assert said in report
    explained = [s for s in agreement["sensitivity"] if s["explained"]]
    share = max(d / b for s in explained for d, b in zip(s["drift"], s["bound"]))
    assert (f"the runs drifted beyond {tolerance('float64').trajectory:.2g} at step {first['start'] + first['steps']:,} "
            f"(to {max(first['drift']):.2g}). How far could rounding alone carry them apart? Add up each step's "
            "rounding, grown as fast as this run grew the nudge: the drift may reach 8 times that sum. "
            + (f"At each of the {len(explained)} checks" if len(explained) != 1 else "At that check")
            + f" it stayed within that limit, at most {share:.2g} of it;") in report
    assert "what rounding grows to" not in report and "bound" not in report.split("note: training")[1]
    assert "PASSED" in report and "where they part" not in report


def test_a_drift_that_rounding_explains_is_not_retrained(sensitive):
    """The search for where the runs parted (compare.race.departure) runs only beyond the estimate."""
    agreement = exited(sensitive, 0).record()["agreement"]
    assert agreement["sensitivity"] and all(s["explained_by"] == "rounding" for s in agreement["sensitivity"])
    assert all(s["search"] is None for s in agreement["sensitivity"]) and agreement["departures"] == []


def test_a_drift_passes_only_within_the_rounding_growth_measured_in_the_same_run(sensitive):
    agreement = exited(sensitive, 0).record()["agreement"]
    trajectory = tolerance("float64").trajectory
    beyond = [c for c in agreement["checks"] if c["kind"] == "weights" and c["relative"] > trajectory]
    assert beyond, "the unstable run never drifted: the test shows nothing"
    measured = {(s["start"] + s["steps"], layer): (s, i) for s in agreement["sensitivity"]
                for i, layer in enumerate(s["layers"])}
    for check in beyond:
        s, i = measured[check["step"], check["layer"]]
        # the bound, worked out here from the measured nudge δ, growth G, steps N, one step's
        # difference r and the regrown drift R
        delta, growth, n, apart = s["nudge"][i], s["growth"][i], s["steps"], s["step_apart"][i]
        rounding = n * max(apart, delta) * max(1.0, growth / delta)
        assert check["rounding_bound"] == pytest.approx(ROUNDING_MARGIN * (rounding + s["drift_grown"][i]), rel=1e-12)
        assert check["passed"] and check["relative"] <= check["rounding_bound"], check


def test_after_the_runs_part_each_check_restarts_them_from_identical_weights(sensitive):
    agreement = exited(sensitive, 0).record()["agreement"]
    weights = [c for c in agreement["checks"] if c["kind"] == "weights"]
    parted_at = agreement["sensitivity"][0]["start"] + agreement["sensitivity"][0]["steps"]
    later = [c for c in weights if c["step"] > parted_at]
    assert later and all(c["relative"] <= tolerance("float64").trajectory for c in later), later
    assert all(s["drift_before"] == [0.0, 0.0] for s in agreement["sensitivity"][1:])


def test_sensitive_run_judges_its_answers_when_its_last_segment_stayed_within_tolerance(sensitive):
    record = exited(sensitive, 0).record()
    agreement, final = record["agreement"], record["runs"][0]["steps"]
    explained_at_end = any(s["explained"] and s["start"] + s["steps"] == final for s in agreement["sensitivity"])
    assert agreement["predictions"]["torch_impl"]["judged"] is (not explained_at_end)


def test_answers_are_counted_not_judged_after_a_last_segment_that_rounding_explains():
    from types import SimpleNamespace

    from compare.race.checks import Agreement
    from compare.race.runner import _compare_outputs

    agreement = Agreement(tolerance("float64"), "from_scratch")
    agreement.sensitivity.append(sensitivity.judge("torch_impl", 100, 100, ["W_ih"], [1e-16], [1e-3], [1e-16],
                                                   [0.0], [0.0], [1e-3]))
    reference, other = SimpleNamespace(key="from_scratch"), SimpleNamespace(key="torch_impl")
    outputs = {"from_scratch": np.array([[0.9, 0.1], [0.2, 0.8]]), "torch_impl": np.array([[0.1, 0.9], [0.2, 0.8]])}
    _compare_outputs(agreement, reference, [other], outputs, 200, 0)
    assert agreement.predictions["torch_impl"]["judged"] is False and agreement.passed
    _compare_outputs(agreement, reference, [other], outputs, 300, 0)  # a later segment, within tolerance
    assert agreement.predictions["torch_impl"]["judged"] is True and not agreement.passed


def test_plot_of_a_sensitive_run_shows_what_rounding_explains(sensitive):
    image = (exited(sensitive, 0).folder / "plot.png").read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n")


# --- real differences in an unstable run -------------------------------------------------------

def test_a_wrong_step_of_1e_9_is_caught_at_the_first_check_after_it_begins(wrong_step):
    run, agreement = exited(wrong_step, 1).run, wrong_step.record()["agreement"]
    first = agreement["failures"][0]
    assert (first["kind"], first["step"], first["layer"]) == ("step", 500, "W_ih")
    assert first["relative"] > 100 * first["tolerance"]  # 1e-9 of the step, far beyond rounding
    assert all(c["passed"] for c in agreement["checks"] if c["step"] < 500)
    assert agreement["sensitivity"][0]["explained"]  # the runs had already parted, as rounding explains
    assert "step W_ih of StepTooFarFrom400 after 500 steps" in run.stdout
    (row,) = [r for r in table_rows(run.stdout, "step") if r[1] == "W_ih"]  # kind layer backend step
    assert row[2:4] == ["StepTooFarFrom400", "500"]


def test_a_drift_faster_than_rounding_explains_is_a_disagreement(parted):
    agreement = exited(parted, 1).record()["agreement"]
    (failure, *_) = agreement["failures"]
    assert (failure["kind"], failure["layer"], failure["step"]) == ("weights", "W_ih", 500)
    assert failure["rounding_bound"] is not None and failure["relative"] > 1e6 * failure["rounding_bound"]
    assert agreement["trajectory_verdict"] == "apart" and agreement["steps_agree"] is True


# --- saturation ---------------------------------------------------------------------------------

def test_a_saturated_network_is_said_to_be_one_beside_the_verdict(overflowing):
    report, record = exited(overflowing, 0).run.stdout, overflowing.record()
    state = record["runs"][0]["saturation"]
    assert state["saturated"] is True and state["outputs_pinned"] > saturation.MOST
    assert (f"note: from_scratch's network saturated: {state['hidden_pinned']:.0%} of hidden activations within 1e-6 of a bound, "
            f"{state['outputs_pinned']:.0%} of outputs within 1e-6 of 0 or 1 on {state['samples']} test images") in report
    assert f"test accuracy {state['accuracy']:.1%}" in report and "Try a smaller --lr" in report
    assert record["agreement"]["passed"] is True  # the verdict stands separately


def test_the_quiet_line_of_a_saturated_run_says_so(overflowing):
    from compare.race.report import summary_line

    line = summary_line(exited(overflowing, 0).record())
    assert "the network saturated (try a smaller --lr)" in line


def test_saturation_counts_pinned_units_dead_relus_and_chance():
    rng = np.random.default_rng(0)
    inputs, labels = rng.random((50, 4)), np.array([0, 1] * 25)
    flat = saturation.saturation([np.zeros((3, 4)), np.zeros((2, 3))], _arch(3), inputs, 0.9, labels)
    assert (flat["hidden_pinned"], flat["outputs_pinned"], flat["saturated"]) == (0.0, 0.0, False)
    huge = saturation.saturation([1e6 * np.ones((3, 4)), 1e6 * np.ones((2, 3))], _arch(3), inputs, 0.9, labels)
    assert (huge["hidden_pinned"], huge["outputs_pinned"], huge["saturated"]) == (1.0, 1.0, True)
    at_chance = saturation.saturation([np.zeros((3, 4)), np.zeros((2, 3))], _arch(3), inputs, 0.5, labels)
    assert at_chance["chance"] == 0.5 and at_chance["saturated"] is True
    dead = saturation.saturation([-np.ones((3, 4)), np.ones((2, 3))], _arch(3, "relu"), inputs, 0.9, labels)
    assert dead["hidden_pinned"] == 1.0 and dead["saturated"] is True


def _arch(hidden, activation="sigmoid"):
    from common.architecture import Architecture

    return Architecture(4, hidden, 2, activation)


# --- the measures every number of the report rests on ------------------------------------------

def test_measure_gives_the_cosine_and_length_ratio_of_two_arrays():
    numbers = tolerances.measure(np.array([1.0, 1.0]), np.array([1.0, 0.0]))
    assert numbers["cosine"] == pytest.approx(1 / math.sqrt(2), rel=1e-15)
    assert numbers["norm_ratio"] == pytest.approx(math.sqrt(2), rel=1e-15)
    assert (numbers["max_abs"], numbers["relative"]) == (1.0, 1.0)
    assert tolerances.measure(np.array([2.0, 0.0]), np.array([-1.0, 0.0]))["cosine"] == -1.0
    # Weights near the largest float (--lr 1e308) still have a length ratio, not nan.
    huge = tolerances.measure(np.full(4, 1e308), np.full(4, 0.5e308))
    assert huge["norm_ratio"] == pytest.approx(2.0, rel=1e-15) and huge["cosine"] == pytest.approx(1.0)


def test_differing_answers_fail_unless_a_near_tie_explains_them():
    reference = np.array([[0.9, 0.1, 0.0], [0.5, 0.5 - 1e-13, 0.0], [0.2, 0.7, 0.1]])
    mine = np.array([[0.9, 0.1, 0.0], [0.5 - 1e-13, 0.5, 0.0], [0.7, 0.2, 0.1]])
    found = checks.compare_predictions(mine, reference, tolerance=1e-12)
    assert (found["identical"], found["differing"], found["beyond_ties"]) == (1, 2, 1)
    assert found["first_differing"] == [1, 2]


def test_a_step_check_fails_a_step_1e_9_too_long_and_passes_a_rounding_in_the_weights():
    tol = tolerance("float64")
    before = np.array([0.3, -0.2, 0.1])
    step = np.array([1e-3, -2e-3, 5e-4])
    reference = before - step
    too_far = before - (1 + 1e-9) * step
    rounded = np.nextafter(reference, np.inf)  # each weight one rounding error up
    assert tolerances.measure_step(too_far, reference, before, tol)["relative"] > tol.single
    assert tolerances.measure_step(rounded, reference, before, tol)["relative"] <= tol.single
    assert tolerances.measure_step(reference, reference, before, tol)["relative"] == 0.0


def test_a_nudge_moves_every_weight_by_exactly_one_rounding_error():
    weights = [np.random.default_rng(1).normal(size=(5, 7)), np.linspace(-1, 1, 6, dtype=np.float32)]
    for moved, w in zip(tolerances.nudge(weights, seed=3), weights):
        assert moved.dtype == w.dtype
        gap = np.abs(moved.astype(np.float64) - w) / np.spacing(np.abs(w))
        assert np.all((gap > 0.49) & (gap < 1.01))  # one ulp (half of one where the nudge crosses a power of 2)


def test_rounding_bound_is_each_steps_rounding_grown_as_the_nudge_grew_plus_the_regrown_drift():
    delta, bound = 1e-16, sensitivity.rounding_bound
    # no growth: N steps each add one rounding error (or one step's measured difference, if larger)
    assert bound(delta, delta, 100, 0.0, 0.0) == pytest.approx(ROUNDING_MARGIN * 100 * delta)
    assert bound(delta, delta / 10, 100, 3 * delta, 0.0) == pytest.approx(ROUNDING_MARGIN * 300 * delta)
    # a nudge grown 1000-fold over 3 steps: each step's rounding grown as much, at most
    assert bound(delta, 1000 * delta, 3, 0.0, 0.0) == pytest.approx(ROUNDING_MARGIN * 3000 * delta)
    assert bound(delta, 1000 * delta, 3, 0.0, 1e-9) == pytest.approx(ROUNDING_MARGIN * (3000 * delta + 1e-9))


def test_report_says_which_gradient_checks_passed_only_through_the_output_errors_cancellation():
    from common.tolerances import tolerance
    from compare.race.checks import Agreement
    from compare.race.report import agreement_text

    tol = tolerance("float64")
    agreement = Agreement(tol, "from_scratch")
    theirs = np.full(4, 1e-6)
    agreement.compare("gradient", "W1", "torch_impl", 0, 0, theirs, theirs, tol.single)  # exact: no note
    text = agreement_text({"agreement": agreement.to_json(), "status": "completed"}, "true")
    assert "went past" not in text
    agreement.compare("gradient", "W1", "torch_impl", 1000, 0, theirs * (1 + 1e-10), theirs, tol.single * 1e4)
    text = agreement_text({"agreement": agreement.to_json(), "status": "completed"}, "true")
    assert "1 gradient checks went past 9.1e-13 (at worst 1e-10, W1 after 1,000 steps)" in text
    assert "tolerance grows with it (to 9.1e-09" in text and "PASSED" in text


def test_biases_that_start_at_zero_drift_as_rounding_explains_and_a_planted_one_is_still_caught():
    """A parameter of zeros at a segment's start has no scale to nudge it by: its nudge is counted as
    one rounding error, eps, not as infinite (every drift explained) nor as nothing (none explained).
    784-128-64-10 ReLU with biases at lr 0.2 amplifies rounding until its runs part, every step
    agreeing; the same network at lr 0.05 with its output bias moved by 1e-3 at step 200 does not
    pass for rounding."""
    from compare import run_comparison

    options = dict(hidden=((128, 64),), activation="relu", loss="cross_entropy", bias=True, train_limit=2000,
                   test_limit=200, quiet=True)
    chaotic = run_comparison(lr=0.2, **options)
    assert chaotic["status"] == "completed" and chaotic["agreement"]["trajectory_verdict"] == "sensitive to rounding"
    planted = run_comparison(backends=("torch_impl", "tests.planted:BiasNudgedAt200"), lr=0.05, **options)
    assert planted["status"] == "disagreed"
    first = planted["agreement"]["failures"][0]
    assert (first["kind"], first["layer"], first["step"]) == ("weights", "b3", 1000)


def test_test_outputs_that_part_as_far_as_the_weights_drift_pass_and_a_query_that_departs_does_not(capsys):
    """ReLU at lr 0.5: the outputs magnify the two runs' weight drift (3.5e-13) to 4.8e-12, past the
    trajectory tolerance; at the other's weights the reference answers as the other does, so they agree. A
    network whose query() alone moves by 1e-9 of itself still fails the outputs check."""
    from compare.race.cli import main

    common = ["--hidden", "100,100", "--activation", "relu", "--loss", "cross-entropy", "--bias", "--batch-size", "32"]
    assert main([*common, "--lr", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "as far as the weights' own drift carries" in out
    assert main(["--backends", "torch_impl", "tests.planted:QueryOffAfter400", "--train-limit", "1000",
                 "--test-limit", "200", "--quiet"]) == 1
    assert "test outputs" in capsys.readouterr().out
