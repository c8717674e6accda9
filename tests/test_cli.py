"""``python -m compare`` as a user runs it: a subprocess on the embedded data with small limits.

Exit codes (0 agree, 1 disagree, 2 bad input, 3 diverged, 130 interrupted), the report, the
JSON record, a disagreement and a divergence planted in networks raced through the plug-in path
(tests/planted.py), bad inputs, a sweep, the book's rule, --save, --plot, the 2017
preset, a failed download and Ctrl-C. Every run that trains costs about 5 s before its first
step, so the tests share a few runs (module-scoped fixtures), each checked by several tests.
"""
from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import from_scratch
import torch_impl
from common.data import load_embedded, scale_inputs
from common.tolerances import assert_close, tolerance
from common.weights import load_weights
from tests.cli_helpers import (EMBEDDED, PROG, SMALL, Terminal, exited, offline_environment,
                               outcome, percent, read_json, run_compare, snapshot, start, table_rows)

BACKENDS = ("from_scratch", "torch_impl")


@pytest.fixture(scope="module")
def normal(tmp_path_factory):
    """An ordinary run, writing everything it can: --json, --save and --plot."""
    folder = tmp_path_factory.mktemp("normal")
    return outcome(folder, "--train-limit", 600, "--test-limit", 100, "--check-every", 100,
                   "--save", folder / "saved", "--plot", folder / "plot.png")


@pytest.fixture(scope="module")
def nudged(tmp_path_factory):
    """A network whose W_ih is scaled by 1.001 (one row) as step 200 begins, raced against torch_impl."""
    return outcome(tmp_path_factory.mktemp("nudged"), *SMALL, "--backends", "torch_impl", "tests.planted:NudgedAt200")


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    """A network with a nan in its W_ih as step 200 begins, raced against torch_impl; --quiet."""
    return outcome(tmp_path_factory.mktemp("diverged"), *SMALL, "--quiet", "--backends", "torch_impl",
                   "tests.planted:NanAt200")


@pytest.fixture(scope="module")
def book_sweep(tmp_path_factory):
    """The book's rule over a sweep of one hidden layer and two: one run shows both depths."""
    return outcome(tmp_path_factory.mktemp("book_sweep"), *SMALL, "--rule", "book", "--hidden", 20, "20,10")


@pytest.fixture(scope="module")
def preset_2017(tmp_path_factory):
    """The 2017 preset on the embedded files, with options that override the preset's."""
    return outcome(tmp_path_factory.mktemp("preset_2017"), "--preset", "2017", "--data-dir", EMBEDDED,
                   "--train-limit", 200, "--test-limit", 50, "--epochs", 1)


# --- a normal run ------------------------------------------------------------------------------

def test_normal_run_exits_0_and_reports_both_backends_agreeing(normal):
    report = exited(normal, 0).run.stdout
    assert "784-200-10, sigmoid, half squared error, no bias, lr 0.1, batch 1, float64, 1 epoch, seed 0, true gradient" \
        in report
    assert "embedded subset (6,000 train / 1,000 test), first 600 train / 100 test" in report
    for key in BACKENDS:
        (row,) = table_rows(report, key)  # backend, device, train s, µs/sample, test s, accuracy
        assert row[1] == "cpu" and row[-1].endswith("%"), row
    assert re.search(r"agreement with from_scratch \(float64: .*\): PASSED", report)
    assert "predictions   torch_impl: identical on 100 of 100 test images" in report


def test_report_shows_the_accuracies_and_timings_of_the_record(normal):
    report, record = exited(normal, 0).run.stdout, normal.record()
    for key in BACKENDS:
        (row,) = table_rows(report, key)  # backend, device, train s, µs/sample, test s, accuracy
        assert percent(row[-1]) == pytest.approx(record["backends"][key]["accuracy"], abs=5e-5)
        assert float(row[2]) == pytest.approx(record["backends"][key]["train_seconds"], abs=5e-3)


def test_no_progress_bar_when_stderr_is_not_a_terminal(normal):
    assert exited(normal, 0).run.stderr == ""


# --- the JSON record ---------------------------------------------------------------------------

def test_record_has_config_environment_backends_and_agreement(normal):
    record = exited(normal, 0).record()
    assert {"config", "environment", "backends", "agreement", "status"} <= record.keys()
    assert record["status"] == "completed"
    assert (record["config"]["train_limit"], record["config"]["check_every"]) == (600, 100)
    assert set(record["backends"]) == set(BACKENDS)
    for key, backend in record["backends"].items():
        assert 0 <= backend["accuracy"] <= 1 and backend["train_seconds"] > 0, key
        assert backend["us_per_sample"] == pytest.approx(backend["train_seconds"] / 600 * 1e6), key
        assert backend["samples"] == backend["steps"] == 600, key


def test_record_agreement_passed_with_its_worst_differences_within_tolerance(normal):
    agreement = exited(normal, 0).record()["agreement"]
    tol = tolerance("float64")
    assert agreement["passed"] is True and agreement["failures"] == []
    assert set(agreement["worst"]) == {"gradient", "step", "weights", "test outputs"}
    assert agreement["worst"]["gradient"]["relative"] <= tol.single
    assert agreement["worst"]["step"]["relative"] <= tol.single
    assert max(worst["relative"] for worst in agreement["worst"].values()) <= tol.trajectory
    # the stable default is as strict as ever: no drift beyond 2^14 eps, nothing excused as rounding
    assert (agreement["steps_agree"], agreement["trajectory_verdict"]) == (True, "within tolerance")
    assert agreement["sensitivity"] == [] and "sensitive to rounding" not in normal.run.stdout


def test_gradients_and_steps_are_checked_every_check_every_samples(normal):
    checks = exited(normal, 0).record()["agreement"]["checks"]
    for kind in ("gradient", "step"):
        assert sorted({c["step"] for c in checks if c["kind"] == kind}) == [0, 100, 200, 300, 400, 500]
    assert sorted({c["step"] for c in checks if c["kind"] == "weights"}) == [100, 200, 300, 400, 500, 600]


def test_accuracies_are_equal_between_backends_in_float64(normal):
    backends = exited(normal, 0).record()["backends"]
    assert backends["from_scratch"]["accuracy"] == backends["torch_impl"]["accuracy"]
    assert backends["from_scratch"]["confusion_matrix"] == backends["torch_impl"]["confusion_matrix"]


def test_record_names_the_blas_kernel_and_threads(normal):
    report, environment = exited(normal, 0).run.stdout, normal.record()["environment"]
    assert environment["blas"], "no BLAS library recorded"
    for blas in environment["blas"]:
        assert blas["internal_api"] and blas["architecture"] and blas["num_threads"] == 1, blas  # --threads 1
        assert f"{blas['internal_api']} {blas['version']} ({blas['architecture']}, 1 thread)" in report
    assert environment["torch_threads"] == 1


def test_quiet_line_of_a_completed_run_gives_the_verdict_and_each_accuracy(normal):
    from compare.race.report import summary_line  # what --quiet prints, from the record the run wrote

    record = exited(normal, 0).record()
    line = summary_line(record)
    assert "\n" not in line and line.startswith("completed: the backends agree; "), line
    for key in BACKENDS:
        assert f"{key} {record['backends'][key]['accuracy']:.2%} in " in line


# --- --save and --plot -------------------------------------------------------------------------

def test_save_writes_both_networks_and_the_record(normal):
    saved = exited(normal, 0).folder / "saved"
    assert sorted(p.name for p in saved.iterdir()) == ["from_scratch.npz", "record.json", "torch_impl.npz"]
    assert read_json(saved / "record.json")["backends"] == normal.record()["backends"]


def test_either_backend_loads_the_others_saved_weights(normal):
    record = exited(normal, 0).record()
    test_set = load_embedded().limit(600, 100)
    inputs = scale_inputs(test_set.test_images)
    networks = {"from_scratch": from_scratch.Network(784, 200, 10, 0.1),
                "torch_impl": torch_impl.Network(784, 200, 10, 0.1)}
    for saved in BACKENDS:
        weights = load_weights(normal.folder / "saved" / f"{saved}.npz")
        outputs = {}
        for key, network in networks.items():
            network.set_weights(weights)
            outputs[key] = network.query(inputs)
        assert_close(outputs["torch_impl"], outputs["from_scratch"], tolerance("float64").single,
                     f"{saved}.npz queried by both backends")
        accuracy = float(np.mean(outputs["from_scratch"].argmax(axis=1) == test_set.test_labels))
        assert accuracy == record["backends"][saved]["accuracy"], f"{saved}.npz is not the trained network"


def test_plot_writes_a_png(normal):
    image = (exited(normal, 0).folder / "plot.png").read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 10_000


# --- a disagreement and a divergence, planted in networks raced through the plug-in path ------------

def test_perturbed_backend_exits_1_with_a_table_of_where_and_by_how_much(nudged):
    report, agreement = exited(nudged, 1).run.stdout, nudged.record()["agreement"]
    assert "FAILED" in report and "where they part:" in report
    # The nudge comes as step 200 begins; the next check, at step 300, catches it; none before does.
    w_ih = next(f for f in agreement["failures"] if (f["kind"], f["layer"]) == ("weights", "W_ih"))
    assert w_ih["step"] == 300 and w_ih["relative"] > w_ih["tolerance"]
    assert all(c["passed"] for c in agreement["checks"] if c["step"] < 300)
    (row,) = [r for r in table_rows(report, "weights") if r[1] == "W_ih"]  # kind layer backend step epoch relative
    assert (row[2], row[3], float(row[5])) == ("NudgedAt200", "300", pytest.approx(w_ih["relative"], rel=1e-2))


def test_perturbed_backend_record_says_the_agreement_failed(nudged):
    run, record = exited(nudged, 1).run, nudged.record()
    assert record["status"] == "disagreed" and record["agreement"]["passed"] is False
    (line,) = run.stderr.splitlines()  # what failed first and where; the planted layer among the step's failures
    assert line.startswith(f"{PROG}: disagreed: The backends disagree: weights ")
    assert "of NudgedAt200 after 300 steps (epoch 1)" in line
    assert "weights W_ih of NudgedAt200 after 300 steps" in record["message"]


def test_nan_in_one_backend_exits_3_naming_the_backend_and_step(diverged):
    run, record = exited(diverged, 3).run, diverged.record()
    said = "Training diverged in NanAt200 at step 201 (epoch 1)"  # the 201st step's loss is nan
    assert said in run.stdout
    assert record["status"] == "diverged" and said in record["message"]
    # steps whose loss is nan were still taken: the segment from 200 to 300 counts as done
    assert [b["steps"] for b in record["backends"].values()] == [300, 300]


def test_quiet_prints_one_line_and_nothing_on_stderr(diverged):
    run = exited(diverged, 3).run
    (line,) = run.stdout.splitlines()
    assert line.startswith("diverged: ") and run.stderr == ""


# --- bad inputs --------------------------------------------------------------------------------

def truncated_copy(folder: Path) -> Path:
    """The embedded files with the training images' .gz cut in half."""
    folder.mkdir()
    for path in EMBEDDED.glob("*.gz"):
        content = path.read_bytes()
        (folder / path.name).write_bytes(content[: len(content) // 2] if "train-images" in path.name else content)
    return folder


def regular_file(path: Path) -> Path:
    path.write_text("not a folder\n")
    return path


BAD_INPUTS = {  # case: (options given a fresh tmp_path, what the one line says with {tmp} for tmp_path)
    "lr negative": (lambda tmp: ["--lr", "-1"], "argument --lr: must be a positive finite number, got '-1'"),
    "lr nan": (lambda tmp: ["--lr", "nan"], "argument --lr: must be a positive finite number, got 'nan'"),
    "lr not a number": (lambda tmp: ["--lr", "abc"], "argument --lr: must be a positive finite number, got 'abc'"),
    "epochs 0": (lambda tmp: ["--epochs", "0"], "argument --epochs: must be a whole number >= 1, got '0'"),
    "hidden 0": (lambda tmp: ["--hidden", "0"], "argument --hidden: must be a whole number >= 1, got '0'"),
    "a hidden layer of 0": (lambda tmp: ["--hidden", "200,0"], "argument --hidden: must be a whole number >= 1, got '0'"),
    "unknown loss": (lambda tmp: ["--loss", "mse"], "argument --loss: invalid choice: 'mse'"),
    "book rule with relu": (lambda tmp: ["--rule", "book", "--activation", "relu"],
                            "--rule book is the book's rule, defined for sigmoid hidden layers and the half squared "
                            "error only; got --activation relu and --loss half-sse."),
    "hidden 2.5": (lambda tmp: ["--hidden", "2.5"], "argument --hidden: must be a whole number >= 1, got '2.5'"),
    "batch -3": (lambda tmp: ["--batch-size", "-3"], "argument --batch-size: must be a whole number >= 1, got '-3'"),
    "float16": (lambda tmp: ["--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    "lr float32 cannot hold": (lambda tmp: ["--dtype", "float32", "--lr", "1e39"],
                               "error: --lr must be a number float32 can hold, from 1.4e-45 to 3.4e+38. "
                               "Got 1e+39 instead."),
    "lr 1e300 in float32": (lambda tmp: ["--lr", "1e300", "--dtype", "float32"],
                            "error: --lr must be a number float32 can hold"),
    "lr float32 rounds to 0": (lambda tmp: ["--dtype", "float32", "--lr", "1e-50"],
                               "error: --lr must be a number float32 can hold"),
    "a backend named twice": (lambda tmp: ["--backends", "torch_impl", "torch_impl"],
                              "error: --backends names 'torch_impl' twice; each network races once."),
    "momentum with adam": (lambda tmp: ["--optimizer", "adam", "--momentum", "0.9"],
                           "error: --momentum applies to optimizer 'sgd' or 'rmsprop'; this recipe's optimizer is "
                           "'adam'."),
    "one beta": (lambda tmp: ["--optimizer", "adam", "--betas", "0.9"],
                 "argument --betas: must be two numbers B1,B2, got '0.9'"),
    "a beta of 1": (lambda tmp: ["--optimizer", "adam", "--betas", "0.9,1"],
                    "error: --betas must be two floats (beta1, beta2), each in [0, 1). Got (0.9, 1.0) instead."),
    "milestones without their schedule": (lambda tmp: ["--milestones", "1"],
                                          "error: --milestones applies to schedule 'step'"),
    "a step schedule without milestones": (lambda tmp: ["--schedule", "step"],
                                           "error: --milestones is what the 'step' schedule needs"),
    "a negative weight decay": (lambda tmp: ["--weight-decay", "-1"],
                                "argument --weight-decay: must be a finite number >= 0, got '-1'"),
    "nesterov without momentum": (lambda tmp: ["--nesterov"], "error: Nesterov momentum needs momentum > 0"),
    "book rule with adam": (lambda tmp: ["--rule", "book", "--optimizer", "adam"],
                            "error: --rule book is the book's rule, plain SGD; got Adam."),
    "a milestone before the first step": (lambda tmp: ["--schedule", "step", "--milestones", "0.0001"],
                                          "error: --milestones 0.0001 falls before the first step in this run of "
                                          "300 steps an epoch."),
    "missing data folder": (lambda tmp: ["--data-dir", tmp / "nowhere"], "{tmp}/nowhere: no such folder."),
    "corrupt IDX file": (lambda tmp: ["--data-dir", truncated_copy(tmp / "cut")],
                         "{tmp}/cut/train-images-idx3-ubyte.gz: corrupt gzip data"),
    "json into a missing folder": (lambda tmp: ["--json", tmp / "nowhere" / "r.json"],
                                   "--json {tmp}/nowhere/r.json: the folder {tmp}/nowhere does not exist."),
    "json under a file": (lambda tmp: ["--json", regular_file(tmp / "file") / "r.json"],
                          "--json {tmp}/file/r.json: {tmp}/file is not a folder."),
    "save onto a file": (lambda tmp: ["--save", regular_file(tmp / "file")],
                         "--save {tmp}/file: exists and is not a folder."),
    "save under a file": (lambda tmp: ["--save", regular_file(tmp / "file") / "saved"],
                          "--save {tmp}/file/saved: {tmp}/file is not a folder."),
    "plot in an unknown format": (lambda tmp: ["--plot", tmp / "plot.xyz"],
                                  "--plot {tmp}/plot.xyz: matplotlib cannot write .xyz files"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path):
    options, message = BAD_INPUTS[case]
    given = options(tmp_path)
    (tmp_path / "earlier.json").write_text('{"an earlier record": true}\n')
    before = snapshot(tmp_path)
    # The outputs a good run would write come first, so that the case's own options win over them.
    run = run_compare(*SMALL, "--json", tmp_path / "earlier.json", "--save", tmp_path / "saved", *given)
    assert run.code == 2, run
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"{PROG}: error: ") and message.format(tmp=tmp_path) in line, run
    assert run.stdout == ""
    assert snapshot(tmp_path) == before  # the earlier record untouched, nothing new


def test_errors_on_the_command_line_name_the_option_not_the_parameter():
    from compare.race.cli import in_option_names

    assert in_option_names("The 'backends' parameter names 'x' twice.") == "--backends names 'x' twice."
    assert in_option_names("The 'batch_size' parameter must be an int >= 1.") == "--batch-size must be an int >= 1."
    assert in_option_names("The 'devices' parameter must list some of ('cpu',).").startswith("--device must ")
    assert in_option_names("the 'hidden_nodes' parameter") == "--hidden"


def test_a_run_that_overflows_after_a_learning_rate_float32_holds_is_a_divergence(capsys):
    from compare.race.cli import EXIT_DIVERGED, main

    for backends in (("from_scratch", "torch_impl"), ("torch_impl",)):
        code = main([*SMALL, "--dtype", "float32", "--lr", "3e38", "--activation", "relu", "--quiet",
                     "--backends", *backends])
        out = capsys.readouterr().out
        assert code == EXIT_DIVERGED and out.startswith("diverged: Training diverged in "), out


def test_a_network_too_large_for_memory_exits_2_with_one_sentence_naming_it(capsys, monkeypatch):
    from compare.race import memory
    from compare.race.cli import EXIT_USAGE, main

    monkeypatch.setattr(memory, "physical_memory", lambda: 16 * 2**30)
    code = main([*SMALL, "--hidden", "1000000000", "--quiet"])
    (line,) = capsys.readouterr().err.splitlines()
    assert code == EXIT_USAGE and line == (
        f"{PROG}: error: --hidden asks for 784-1000000000-10, whose 794,000,000,000 weights take 5.78 TiB in "
        "float64; with the 23 copies of them a run of 2 backends holds at its peak (each network and the twins that "
        "check its steps, the weights they start from and step to) it needs 133 TiB, more than this machine's 16 GiB "
        "of memory."), line


@pytest.mark.parametrize("backends, said", [
    (("from_scratch", "torch_impl"), "NumPy could not allocate 5.70 TiB for an array with shape (1000000000, 784)"),
    (("torch_impl",), "torch could not allocate "),
])
def test_an_allocation_that_fails_in_the_run_is_one_sentence_naming_what_did_not_fit(backends, said, capsys,
                                                                                     monkeypatch):
    """Where the machine's memory is not known beforehand, the allocation itself fails: no traceback, and
    none of the library's frames called the network's own."""
    from compare.race import memory
    from compare.race.cli import EXIT_USAGE, main

    monkeypatch.setattr(memory, "physical_memory", lambda: None)
    code = main([*SMALL, "--hidden", "1000000000", "--quiet", "--backends", *backends])
    (line,) = capsys.readouterr().err.splitlines()
    assert code == EXIT_USAGE and line.startswith(f"{PROG}: error: 784-1000000000-10, sigmoid, half squared error, "
                                                  "no bias, in float64, does not fit in this machine's memory: "), line
    assert said in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_exits_2_with_one_line():
    run = run_compare(*SMALL, "--device", "cuda")
    assert run.code == 2, run
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"{PROG}: error: ") and "is 'cuda' but CUDA is not available" in line


def test_full_mnist_with_no_network_and_an_empty_cache_exits_2_with_one_error_line(tmp_path):
    run = run_compare(*SMALL, "--dataset", "mnist", env=offline_environment(tmp_path / "cache"), timeout=60)
    assert run.code == 2, run
    *attempts, last = run.stderr.splitlines()
    assert last.startswith(f"{PROG}: error: Could not download train-images-idx3-ubyte.gz from any mirror")
    assert "--data-dir" in last
    assert attempts and all(a.startswith(("Downloading ", "  failed: ")) for a in attempts), run
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []  # no partial download


# --- a sweep and the book's rule ----------------------------------------------------------------

def sections(report: str) -> dict[str, str]:
    """A sweep's report, one part per network, keyed by its hidden layers as --hidden names them."""
    parts = re.split(r"^--- hidden (\S+) ---$", report, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_sweep_prints_the_hidden_by_backend_table_and_records_each_run(book_sweep):
    report, record = exited(book_sweep, 0).run.stdout, book_sweep.record()
    assert [run["hidden"] for run in record["runs"]] == [20, "20,10"]  # the one layer's size, else as --hidden takes it
    assert [row["hidden"] for row in record["sweep"]] == [20, "20,10"]
    title = "seconds of training, hidden nodes x backend (the 2017 tutorial's table), with each run's verdict:\n"
    header, *rows = report.split(title)[1].splitlines()
    assert header.split() == ["hidden", *BACKENDS, "verdict"]
    for row, seconds in zip(rows, record["sweep"], strict=True):
        assert row.split()[0] == str(seconds["hidden"])
        assert [float(cell) for cell in row.split()[1:3]] == pytest.approx(
            [seconds["from_scratch"], seconds["torch_impl"]], abs=5e-3)
        assert " ".join(row.split()[3:]) == seconds["verdict"] == "measured"  # the book's rule claims no agreement


def test_sweep_header_and_record_describe_each_architecture(book_sweep):
    report, record = exited(book_sweep, 0).run.stdout, book_sweep.record()
    assert report.startswith("784-{20 | 20-10}-10, sigmoid, half squared error, no bias, lr 0.1, batch 1, ")
    assert [a["hidden_nodes"] for a in record["config"]["architectures"]] == [[20], [20, 10]]
    assert [run["architecture"]["hidden_nodes"] for run in record["runs"]] == [[20], [20, 10]]


def test_book_rule_prints_its_departure_from_the_gradient_layer_by_layer_at_any_depth(book_sweep):
    report, runs = exited(book_sweep, 0).run.stdout, book_sweep.record()["runs"]
    layers = {"20": ["W_ih", "W_ho"], "20,10": ["W1", "W2", "W3"]}
    for run, (hidden, text) in zip(runs, sections(report).items(), strict=True):
        assert "the book's output-layer step equals autograd's gradient (within 9.1e-13): PASSED" in text
        checks = {(c["step"], c["layer"]): c for c in run["agreement"]["checks"] if c["kind"] == "book step"}
        *departing, output = layers[hidden]
        table = text.split(f"{output} ratio\n")[1].split("\n\n")[0].splitlines()
        rows = [line.split() for line in table]
        assert [row[0] for row in rows] == ["0", "100", "200"], hidden
        for step, *cells in rows:
            expected = []
            for layer in departing:  # cosine to 6 places, ratio to 3
                c = checks[int(step), layer]
                expected += [pytest.approx(c["cosine"], abs=5e-7), pytest.approx(c["norm_ratio"], abs=5e-4)]
            c = checks[int(step), output]  # the output layer: the gradient, to 9 and 6 places
            expected += [pytest.approx(c["cosine"], abs=5e-10), pytest.approx(c["norm_ratio"], abs=5e-7)]
            assert [float(cell) for cell in cells] == expected, (hidden, step)


def test_book_rule_output_layer_matches_and_hidden_layers_depart(book_sweep):
    record = exited(book_sweep, 0).record()
    assert record["agreement"]["passed"] is True
    outputs = {"20": "W_ho", "20,10": "W3"}
    for run, hidden in zip(record["runs"], outputs, strict=True):
        checks = run["agreement"]["checks"]
        assert checks and {c["kind"] for c in checks} == {"book step"}
        for c in checks:
            if c["layer"] == outputs[hidden]:
                assert c["passed"] and c["relative"] <= tolerance("float64").single, c
            else:  # measured, never a failure: the book's hidden-layer step is longer than the gradient
                assert c["tolerance"] is None and c["norm_ratio"] > 1 and c["cosine"] < 1 - 1e-6, c


def test_book_rule_reports_both_networks_accuracy(book_sweep):
    report, runs = exited(book_sweep, 0).run.stdout, book_sweep.record()["runs"]
    for run, text in zip(runs, sections(report).values(), strict=True):
        for key in BACKENDS:
            (row,) = table_rows(text, key)
            assert percent(row[-1]) == pytest.approx(run["backends"][key]["accuracy"], abs=5e-5)


# --- the 2017 preset, repeated devices ----------------------------------------------------------

def test_2017_preset_options_override_it_and_2017_seconds_stand_only_beside_the_same_run(preset_2017):
    """200 images for 1 epoch is not the 2017 run: its seconds are kept out of the table."""
    report, record = exited(preset_2017, 0).run.stdout, preset_2017.record()
    assert "784-200-10, sigmoid, half squared error, no bias, lr 0.1, batch 1, float32, 1 epoch" in report
    assert "2017 s" not in report and "this run differs, so they are left out" in report
    assert record["comparable_to_2017"] is False
    assert record["seconds_2017"] == {"from_scratch[cpu]": 440.0, "torch_impl[cpu]": 841.0, "torch_impl[cuda]": 366.0}
    assert "seed" not in " ".join(record) and "seed" not in report.split("\n")[0].replace("seed 0", "")
    config = record["config"]
    assert (config["preset"], config["dtype"], config["epochs"]) == ("2017", "float32", 1)  # the preset says 5
    assert (config["train_limit"], config["data_dir"]) == (200, str(EMBEDDED))
    assert record["backends"]["from_scratch"]["samples"] == 200


def test_a_device_named_twice_trains_torch_once():
    from compare.race.config import Config
    from compare.race.runner import run

    results, _ = run(Config(devices=("cpu", "auto"), check_every=100), load_embedded().limit(100, 20))
    keys = [backend.key for backend in results[0].backends]
    distinct = {torch_impl.resolve_device(device) for device in ("cpu", "auto")}  # "auto" is "cpu" without CUDA
    assert len(keys) == len(set(keys)) == 1 + len(distinct), keys


# --- Ctrl-C ------------------------------------------------------------------------------------

def test_ctrl_c_exits_130_with_a_partial_report_said_once_and_the_record(tmp_path):
    terminal = Terminal()  # stdout and stderr one terminal, so that the progress bars show how far training is
    process = start("--epochs", 3, "--json", tmp_path / "record.json", stdout=terminal.child_end,
                    stderr=terminal.child_end)
    terminal.detach()
    try:  # wait until torch_impl has trained its first 1,000 of 3 x 6,000 samples
        # [^\r\n\x1b]: stay on torch_impl's own bar; tqdm moves between bars with escape codes
        assert terminal.wait_for(r"torch_impl\s*:[^\r\n\x1b]*\| *[1-9]\d*/18000", timeout=60), terminal.text
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        process.kill()
        shown = terminal.close()
    assert code == 130, shown
    assert shown.count("Interrupted after from_scratch ") == 1, shown  # in the report, not again on stderr
    assert "interrupted: Interrupted after from_scratch " in shown
    assert table_rows(shown, "from_scratch") and table_rows(shown, "torch_impl")
    record = read_json(tmp_path / "record.json")
    assert record["status"] == "interrupted"
    assert 1000 <= record["runs"][0]["steps"] < 18000
    assert all(1000 <= b["samples"] < 18000 for b in record["backends"].values()), record["backends"]


def test_a_report_sent_elsewhere_leaves_the_reason_on_stderr(nudged):
    run = exited(nudged, 1).run  # stdout a pipe, so stderr says why the run ended
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"{PROG}: disagreed: ")


def test_the_disagreement_is_said_once_what_and_where_first_then_the_details(nudged):
    run, record = exited(nudged, 1).run, nudged.record()
    first, *details = record["message"].splitlines()
    # the first step's failures are named from the output layer down: W_ho (the nudge has reached it), then W_ih
    failure = next(f for f in record["agreement"]["failures"] if (f["kind"], f["layer"]) == ("weights", "W_ho"))
    assert "\n  also weights W_ih of NudgedAt200 after 300 steps: " in record["message"]
    assert first.startswith(f"The backends disagree: weights {failure['layer']} of NudgedAt200 after 300 steps "
                            f"(epoch 1) is {failure['relative']:.3g} from torch_impl's (relative), beyond the "
                            f"tolerance {failure['tolerance']:.3g} and what rounding explains (")
    assert len(first) < 200, first
    assert details and all(line.startswith("  ") for line in details), details
    assert run.stdout.count("The backends disagree") == 1 and f"disagreed: {record['message']}" in run.stdout
    assert run.stderr == f"{PROG}: disagreed: {first}\n"  # the first line only, where the report went elsewhere
    from compare.race.report import summary_line

    assert summary_line(record) == f"disagreed: {first}"  # --quiet: one line


def test_a_report_and_its_errors_sent_to_one_place_say_the_disagreement_once(tmp_path):
    with open(tmp_path / "out.txt", "w") as out:  # as `python -m compare ... > out.txt 2>&1`
        process = start(*SMALL, "--hidden", "30,20", "--backends", "torch_impl", "tests.planted:NudgedAt200",
                        stdout=out, stderr=subprocess.STDOUT)
        assert process.wait(timeout=120) == 1
    shown = (tmp_path / "out.txt").read_text()
    assert shown.count("The backends disagree") == 1, shown
