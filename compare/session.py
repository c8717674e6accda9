"""One invocation from a Config and its data: run, report, write what was asked for."""
from __future__ import annotations

import os
import sys

from common.data import Dataset
from common.weights import save_weights
from compare.cli import EXIT_FOR_STATUS
from compare.config import Config
from compare.report import build_record, text_report, write_json
from compare.runner import RunResult, run
from compare.saturation import pinned
from torch_impl import resolve_device


def execute(config: Config, data: Dataset) -> int:
    """Run ``config`` on ``data``, print the report, write the outputs, return the exit code.

    Bad input raises ParameterError or DataError before any training.
    """
    if "torch_impl" in config.backends:
        for device in config.devices:
            resolve_device(device)  # --device cuda without CUDA fails here, before any work
    results, environment = run(config, data)
    record = build_record(config, environment, results, data)
    if config.quiet:
        print(summary_line(record))
    else:
        print(text_report(config, environment, data, results), flush=True)
    write_outputs(config, record, results)
    if record["status"] != "completed" and not config.quiet and not _same_terminal():
        # Where the report went elsewhere (a file, a pipe), the terminal still hears why it ended.
        print(f"python -m compare: {record['status']}: {record['message']}", file=sys.stderr)
    return EXIT_FOR_STATUS[record["status"]]


def _same_terminal() -> bool:
    """Whether stdout and stderr are one terminal, where the report has just said it all."""
    try:
        return sys.stdout.isatty() and sys.stderr.isatty() and os.ttyname(1) == os.ttyname(2)
    except OSError:
        return False


def write_outputs(config: Config, record: dict, results: list[RunResult]) -> None:
    """What ``--json``, ``--save`` and ``--plot`` ask for; each file written atomically."""
    if config.json_path:
        write_json(config.json_path, record)
    if config.save_dir:
        config.save_dir.mkdir(parents=True, exist_ok=True)
        for result in results:
            suffix = f"_h{result.hidden.replace(',', '-')}" if len(config.hidden) > 1 else ""
            for backend in result.backends:
                name = backend.key.replace("[", "_").replace("]", "")
                save_weights(config.save_dir / f"{name}{suffix}.npz", backend.network.get_weights(), result.architecture)
        write_json(config.save_dir / "record.json", record)
    if config.plot_path and results:
        from compare.plot import plot
        plot(config.plot_path, results, config.is_sweep)


def summary_line(record: dict) -> str:
    """One line for --quiet: what was measured (the verdict, or the book's departure), then each
    backend's accuracy and training time; for a sweep, each hidden size's verdict."""
    if record["status"] != "completed":
        return f"{record['status']}: {record['message']}"
    if "sweep" in record:
        said = "; ".join(f"hidden {row['hidden']}: {row['verdict']}" + "".join(
            f", {note}" for note in row["notes"] if note in ("saturated", "did not learn")) for row in record["sweep"])
        return f"completed: {said}"
    run = record["runs"][0]
    parts = [f"{key} {b['accuracy']:.2%} in {b['train_seconds']:.2f} s" for key, b in record["backends"].items()]
    said = book_summary(record["agreement"]) if record["config"]["rule"] == "book" else agreement_summary(
        record["agreement"])
    if run["saturation"] and run["saturation"]["saturated"]:
        said += f"; the network {'saturated' if pinned(run['saturation']) else 'did not learn'} (try a smaller --lr)"
    return f"completed: {said}; " + ", ".join(parts)


def agreement_summary(agreement: dict) -> str:
    if agreement["passed"] is None:
        return "not compared"
    if not agreement["passed"]:
        return "the backends disagree"
    if agreement["trajectory_verdict"] == "sensitive to rounding":
        return "the backends' steps agree; their runs drift only as rounding grows in this training"
    return "the backends agree"


def book_summary(agreement: dict) -> str:
    """The book's rule: its output-layer step against the gradient, and how its hidden layers depart."""
    checks = [c for c in agreement["checks"] if c["kind"] == "book step"]
    output = {c["layer"] for c in checks if c["tolerance"] is not None}
    hidden = [c for c in checks if c["layer"] not in output]
    said = f"the book's output-layer step {'equals' if agreement['passed'] else 'differs from'} the gradient"
    if hidden:
        cosines = sorted(c["cosine"] for c in hidden)
        ratios = sorted(c["norm_ratio"] for c in hidden)
        said += (f"; its hidden-layer step has median cosine {cosines[len(cosines) // 2]:.4f} with the gradient "
                 f"and is {ratios[len(ratios) // 2]:.1f}x as long")
    return said
