"""One invocation from a Config and its data: run, report, write what was asked for."""
from __future__ import annotations

import sys

from common.data import Dataset
from common.weights import save_weights
from compare.cli import EXIT_FOR_STATUS
from compare.config import Config
from compare.report import build_record, text_report, write_json
from compare.runner import RunResult, run
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
    if record["status"] != "completed" and not config.quiet:
        print(f"python -m compare: {record['status']}: {record['message']}", file=sys.stderr)
    return EXIT_FOR_STATUS[record["status"]]


def write_outputs(config: Config, record: dict, results: list[RunResult]) -> None:
    """What ``--json``, ``--save`` and ``--plot`` ask for; each file written atomically."""
    if config.json_path:
        write_json(config.json_path, record)
    if config.save_dir:
        config.save_dir.mkdir(parents=True, exist_ok=True)
        for result in results:
            suffix = f"_h{result.hidden}" if len(config.hidden) > 1 else ""
            for backend in result.backends:
                name = backend.key.replace("[", "_").replace("]", "")
                save_weights(config.save_dir / f"{name}{suffix}.npz", backend.network.get_weights())
        write_json(config.save_dir / "record.json", record)
    if config.plot_path and results:
        from compare.plot import plot
        plot(config.plot_path, results, config.is_sweep)


def summary_line(record: dict) -> str:
    """One line for --quiet: the verdict, then each backend's accuracy and training time."""
    if record["status"] != "completed":
        return f"{record['status']}: {record['message']}"
    verdict = record["agreement"]["passed"]
    agree = "the backends agree" if verdict else "the backends disagree" if verdict is False else "not compared"
    parts = [f"{key} {b['accuracy']:.2%} in {b['train_seconds']:.2f} s" for key, b in record["backends"].items()]
    return f"completed: {agree}; " + ", ".join(parts)
