"""compare from Python: the Config's checks, run_comparison, and parts of the report."""
import json
import os
import stat
from statistics import median
from types import SimpleNamespace

import numpy as np
import pytest

from common.errors import ParameterError
from common.files import atomic_write
from compare import Config, run_comparison
from compare.race.config import usable_cores
from compare.race.record import comparable_to_2017, run_record
from compare.race.report import backend_table


@pytest.mark.parametrize("options, message", [
    (dict(epochs=0), "'epochs' parameter must be an int >= 1. Got 0"),
    (dict(hidden=()), "'hidden' parameter needs at least one network"),
    (dict(hidden=((200, 0),)), "'hidden_nodes' parameter must be an int >= 1. Got 0"),
    (dict(activation="swish"), "'activation' parameter must be one of"),
    (dict(loss="mse"), "'loss' parameter must be one of"),
    (dict(bias="yes"), "'bias' parameter must be True or False"),
    (dict(rule="book", loss="cross_entropy"), "--rule book is the book's rule, defined for sigmoid hidden layers"),
    (dict(lr=float("inf")), "'lr' parameter must be a finite float > 0"),
    (dict(lr=1e39, dtype="float32"), r"'lr' parameter must be a number float32 can hold, from 1.4e-45 to 3.4e\+38"),
    (dict(dtype="int8"), "'dtype' parameter must be one of"),
    (dict(backends=("torch_impl",), rule="book"), "--rule book trains from_scratch's BookNetwork"),
    (dict(threads=usable_cores() + 1), "more than the .* processors this process may use"),
    (dict(devices=("gpu",)), "'devices' parameter must list some of"),
])
def test_config_refuses_bad_values_with_one_sentence(options, message):
    with pytest.raises(ParameterError, match=message):
        Config(**options)


def test_run_comparison_returns_the_record_and_writes_what_it_is_asked(tmp_path):
    record = run_comparison(train_limit=200, test_limit=50, check_every=100, json_path=tmp_path / "r.json",
                            save_dir=tmp_path / "saved")
    assert record["status"] == "completed" and record["agreement"]["passed"] is True
    assert record["agreement"]["complete"] is True
    assert json.loads((tmp_path / "r.json").read_text())["backends"].keys() == {"from_scratch", "torch_impl"}
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["from_scratch.npz", "record.json",
                                                                      "torch_impl.npz"]


def test_2017_seconds_stand_only_beside_the_2017_run():
    full = SimpleNamespace(train_labels=np.zeros(60000))
    run_2017 = Config(dataset="mnist", epochs=5, dtype="float32")
    assert comparable_to_2017(run_2017, full)
    assert not comparable_to_2017(Config(epochs=1), full)
    assert not comparable_to_2017(run_2017, SimpleNamespace(train_labels=np.zeros(6000)))
    assert not comparable_to_2017(Config(dataset="mnist", epochs=5, hidden=(100,)), full)


def test_backend_table_prints_the_2017_column_when_asked():
    from common.data import load_embedded
    from compare.race.runner import run

    (result,), _ = run(Config(train_limit=100, test_limit=20, epochs=2), load_embedded().limit(100, 20))
    table = backend_table(run_record(result), column_2017=True)
    header, numpy_row, torch_row = table.splitlines()[:3]
    assert header.endswith("2017 s") and numpy_row.endswith(" 440") and torch_row.endswith(" 841")
    assert "seconds per epoch" in table  # two epochs: each is listed, so uneven epochs show


def test_atomic_write_gives_the_permissions_open_would(tmp_path):
    with atomic_write(tmp_path / "out.txt", "w") as f:
        f.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o666 & ~umask


def test_checks_spread_over_the_run_at_any_batch_size():
    from common.data import load_embedded
    from compare.race.runner import run

    (result,), _ = run(Config(batch_size=64, train_limit=2000, test_limit=20), load_embedded().limit(2000, 20))
    steps = sorted({c.step for c in result.agreement.checks if c.kind == "gradient"})
    assert steps == [0, 16]  # --check-every 1000 samples: every 16 steps of 64, not once at step 0
    (backend, *_) = result.backends
    assert len(backend.loss_curve) >= 10 and backend.loss_curve[-1][0] == 32  # a curve, not one point


def test_book_rule_quiet_line_says_what_was_measured_not_that_the_backends_agree():
    from compare.race.report import summary_line

    record = run_comparison(rule="book", train_limit=300, test_limit=50, check_every=100)
    line = summary_line(record)
    assert "agree" not in line, line
    hidden = [c for c in record["agreement"]["checks"] if c["kind"] == "book step" and c["layer"] == "W_ih"]
    cosine = median(c["cosine"] for c in hidden)
    ratio = median(c["norm_ratio"] for c in hidden)
    assert cosine < 1 - 1e-6 and ratio > 1  # the book's hidden-layer step is not the gradient
    assert (f"the book's output-layer step equals the gradient; its hidden-layer steps, at the median of "
            f"{len(hidden)} checks: W_ih {ratio:.1f}x as long (cosine {cosine:.4f})") in line


@pytest.fixture(scope="module")
def book_deep():
    """The book's rule at 784-200-100-10 on 100 images, checked twice: autograd's network stays at chance."""
    return run_comparison(rule="book", hidden=((200, 100),), train_limit=100, test_limit=100, check_every=50)


def test_book_rule_medians_are_per_layer_and_the_same_in_the_report_and_the_quiet_line(book_deep):
    from compare.race.report import summary_line, text_report

    report, line = text_report(book_deep), summary_line(book_deep)
    checks = [c for c in book_deep["agreement"]["checks"] if c["kind"] == "book step"]
    assert "at the median of the 2 checks (the first batch of each segment)" in report
    for layer in ("W1", "W2"):
        ratios = [c["norm_ratio"] for c in checks if c["layer"] == layer]
        cosine = median(c["cosine"] for c in checks if c["layer"] == layer)
        assert len(ratios) == 2 and min(ratios) < median(ratios) < max(ratios)  # of two checks, their mean
        assert (f"  {layer:<5} {median(ratios):.1f} (from {min(ratios):.1f} to {max(ratios):.1f}), "
                f"cosine {cosine:.6f}") in report.splitlines()
        assert f"{layer} {median(ratios):.1f}x as long (cosine {cosine:.4f})" in line
    assert "W3 " not in line  # the output layer is the gradient, not a departure


def test_book_rule_notes_the_autograd_network_that_did_not_learn(book_deep):
    from compare.race.report import summary_line, text_report

    measured = book_deep["runs"][0]["others_saturation"]["torch_impl"]
    assert measured["saturated"] and measured["accuracy"] <= measured["chance"]
    assert "note: torch_impl's network did not learn: test accuracy " in text_report(book_deep)
    assert "; torch_impl's network did not learn (try a smaller --lr); " in summary_line(book_deep)


def test_book_rule_without_a_hidden_layer_speaks_of_none():
    from compare.race.report import agreement_text

    record = run_comparison(rule="book", hidden=((),), train_limit=20, test_limit=10, check_every=10)
    text = agreement_text(record["runs"][0], "book")
    assert "without a hidden layer the book's rule is the gradient" in text
    assert "hidden-layer step" not in text and "\n\n" not in text and "" not in text.splitlines()


def test_help_names_the_2017_preset_and_says_what_seed_seeds():
    from compare.race.cli import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "--preset {2017}" in text and "2017: the experiment of the 2017 tutorial" in text
    assert "--seed N the random seed of the initial weights" in text


def _figure(checks, tol_dtype="float64", loss_curve=((1, 0.44751675), (2, 0.44751675 + 1e-10)), measured=()):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.architecture import Architecture
    from common.tolerances import tolerance
    from compare.race.checks import Agreement
    from compare.race.plot import _run_figure
    from compare.race.runner import RunResult

    agreement = Agreement(tolerance(tol_dtype), "from_scratch")
    for kind, layer, step, mine, theirs, tol in checks:
        agreement.compare(kind, layer, "torch_impl", step, 0, np.array(mine), np.array(theirs), tol)
    agreement.sensitivity.extend(measured)
    backend = SimpleNamespace(key="from_scratch", loss_curve=list(loss_curve), us_per_sample=1.0)
    figure = _run_figure(plt, RunResult(Architecture(784, 200, 10), [backend], agreement))
    figure.canvas.draw()
    return figure


def test_plot_draws_an_exact_zero_at_zero_and_loss_numbers_without_an_offset():
    tol = 1e-12
    figure = _figure([("weights", "W_ih", 100, [1.0, 2.0], [1.0, 2.0], tol),
                      ("weights", "W_ih", 200, [1.0, 2.0 + 4e-16], [1.0, 2.0], tol)])
    loss_axes, difference_axes, _ = figure.axes
    (loss,) = loss_axes.lines
    assert loss.get_marker() == "o"  # two points are a curve only with markers
    assert loss_axes.yaxis.get_major_formatter().get_offset() == ""  # no "1e-10+4.4751675e-1"
    (w_ih, tolerance_line) = difference_axes.lines
    assert list(w_ih.get_ydata()) == [0.0, 2.0**-52] and difference_axes.get_ylim()[0] == 0.0
    assert difference_axes.get_yscale() == "symlog"
    assert "tolerance" in [t.get_text() for t in difference_axes.get_legend().get_texts()]


def test_plot_of_the_book_rule_draws_no_weights_tolerance_on_its_cosine_axis():
    figure = _figure([("book step", "W_ih", 0, [1.0, 1.0], [1.0, 0.0], None),
                      ("book step", "W_ho", 0, [1.0, 0.0], [1.0, 0.0], 1e-12)])
    difference_axes = figure.axes[1]
    labels = [t.get_text() for t in difference_axes.get_legend().get_texts()]
    assert labels == ["W_ih", "W_ho"] and "cosine" in difference_axes.get_title()


def test_plot_of_a_run_sensitive_to_rounding_shows_the_measured_growth():
    from compare.race.sensitivity import judge

    measured = judge("torch_impl", 100, 100, ["W_ih"], [1e-16], [1e-12], [1e-16], [0.0], [0.0], [1e-11])  # δ G r D0 R D
    figure = _figure([("weights", "W_ih", 200, [1.0, 1.0 + 1e-11], [1.0, 1.0], 1e-12)], measured=[measured])
    difference_axes = figure.axes[1]
    (note,) = difference_axes.texts
    assert "sensitive to rounding: a 1e-16 nudge grows to 1e-12 in 100 steps" in note.get_text().replace("\n", " ")
    labels = [t.get_text() for t in difference_axes.get_legend().get_texts()]
    assert "what rounding explains" in labels and "a 1-rounding-error nudge, grown" in labels


def test_the_blas_line_names_whose_each_blas_is_in_one_order(monkeypatch):
    """threadpoolctl lists the libraries in the order they happened to load; the record and the line
    keep one order, NumPy's first, and name whose each is."""
    import scipy.linalg  # noqa: F401  (SciPy's BLAS loaded)
    from compare.race import environment

    listed = environment.threadpool_info()
    libraries = environment.blas_libraries()
    monkeypatch.setattr(environment, "threadpool_info", lambda: listed[::-1])
    assert environment.blas_libraries() == libraries
    paths = [b["filepath"] for b in libraries]
    if any("numpy.libs" in p for p in paths) and any("scipy.libs" in p for p in paths):  # PyPI's wheels, each its own
        assert [b["owner"] for b in libraries][:2] == ["numpy", "scipy"], libraries

    blas = dict(internal_api="openblas", architecture="Haswell", num_threads=1)
    record = {"blas": [dict(blas, version="0.3.31", filepath="/x/numpy.libs/b.so", owner="numpy"),
                       dict(blas, version="0.3.30", filepath="/x/scipy.libs/b.so", owner="scipy"),
                       dict(blas, version="0.3.29", filepath="/usr/lib/libopenblas.so", owner=None)],
              "torch": "2.13.0", "torch_threads": 1, "torch_blas": "mkl", "cpu": "a processor"}
    assert environment.one_line(record).startswith(
        "BLAS NumPy's openblas 0.3.31 (Haswell, 1 thread), SciPy's openblas 0.3.30 (Haswell, 1 thread), "
        "openblas 0.3.29 (Haswell, 1 thread) | torch ")


def test_book_rule_alone_has_a_quiet_line_too():
    from compare.race.report import summary_line

    record = run_comparison(rule="book", backends=("from_scratch",), train_limit=20, test_limit=10)
    assert summary_line(record).startswith("completed: only the book's network ran, nothing to compare; from_scratch ")


def test_a_run_stopped_before_its_first_step_says_why_instead_of_a_table_of_blanks(monkeypatch):
    from compare.race import runner
    from compare.race.report import text_report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_timed_segment", interrupted)  # Ctrl-C as the first segment begins
    record = run_comparison(train_limit=20, test_limit=10)
    assert record["status"] == "interrupted" and all(b["samples"] == 0 for b in record["backends"].values())
    report = text_report(record)
    assert ("no training step was taken (from_scratch, torch_impl): the run was interrupted before the first "
            "step.") in report.split("\n\n")
    assert not [line for line in report.splitlines() if line.startswith(("from_scratch ", "torch_impl "))]
