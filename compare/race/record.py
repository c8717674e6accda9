"""The record of a run: what ``--json`` and ``--save`` write, ``run_comparison`` returns, and
:mod:`compare.race.report` prints from. Everything a reader is told is in it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from common.architecture import Architecture
from common.files import atomic_write
from compare.race.config import SECONDS_2017, Config
from compare.race.departure import summary as departure_summary
from compare.race.runner import RunResult
from compare.race.saturation import label as saturation_label


def backend_record(backend, scorecard) -> dict:
    record = {
        "package": backend.package,
        "device": backend.device,
        "train_seconds": backend.train_seconds,
        "us_per_sample": backend.us_per_sample,
        "test_seconds": backend.test_seconds,
        "epoch_seconds": backend.epoch_seconds,
        "steps": backend.steps,
        "samples": backend.samples,
        "loss_curve": backend.loss_curve,
        "accuracy": None,
    }
    if scorecard is not None:
        record.update(accuracy=scorecard.accuracy,
                      per_digit_accuracy=[None if np.isnan(a) else float(a) for a in scorecard.per_digit_accuracy],
                      confusion_matrix=scorecard.confusion_matrix.tolist())
    return record


def run_record(result: RunResult) -> dict:
    agreement = result.agreement.to_json() if result.agreement else {
        "passed": None, "reason": "only one backend ran: nothing to compare"}
    # "passed" covers the checks made; "complete" says whether the run made all of them.
    agreement["complete"] = result.status == "completed"
    return {
        "hidden": result.hidden_record,
        "architecture": result.architecture.to_json(),
        "recipe": result.recipe.to_json(),
        "status": result.status,
        "message": result.message,
        "steps": result.steps,
        "backends": {b.key: backend_record(b, result.scorecards.get(b.key)) for b in result.backends},
        "agreement": agreement,
        "saturation": result.saturation,
        "others_saturation": result.others_saturation,  # under --rule book: each other backend's own run
        "diagnosis": result.diagnosis,
    }


def comparable_to_2017(config: Config, data) -> bool:
    """Whether this run repeats the 2017 experiment, so its seconds may stand beside 2017's."""
    return (len(data.train_labels) == 60000 and config.epochs == 5 and config.batch_size == 1
            and config.architectures == (Architecture(784, 200, 10),) and config.rule == "true")


def build_record(config: Config, environment: dict, results: list[RunResult], data) -> dict:
    """The whole record. ``backends`` and ``agreement`` are the first run's; ``runs`` has all."""
    runs = [run_record(r) for r in results]
    first = runs[0] if runs else {"backends": {}, "agreement": {"passed": None}, "status": "not started"}
    record = {
        "config": config.to_json(),
        "environment": environment,
        "data": {"source": data.source, "train": len(data.train_labels), "test": len(data.test_labels)},
        "recipe": runs[0]["recipe"] if runs else None,
        "status": next((r["status"] for r in runs if r["status"] != "completed"), "completed"),
        "message": next((r["message"] for r in runs if r["message"]), None),
        "backends": first["backends"],
        "agreement": first["agreement"],
        "runs": runs,
    }
    if config.is_sweep:
        record["sweep"] = sweep_table(results)
    if config.preset == "2017" or comparable_to_2017(config, data):
        record["seconds_2017"] = {f"{p}[{d}]": s for (p, d), s in SECONDS_2017.items()}
        record["comparable_to_2017"] = comparable_to_2017(config, data)
    return record


def write_json(path: Path, record: dict) -> None:
    """Write the record atomically: an interrupted write leaves any earlier file as it was."""
    with atomic_write(path, "w") as f:
        json.dump(record, f, indent=2, default=_json_default)
        f.write("\n")


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def sweep_table(results: list[RunResult]) -> list[dict]:
    """The 2017 tutorial's table: one row per hidden size, seconds of training per backend and
    device, with the verdict and the notes of that run."""
    return [{"hidden": r.hidden_record, "architecture": r.architecture.describe(), **{b.key: b.train_seconds for b in r.backends}, "verdict": verdict(r),
             "notes": notes(r)} for r in results]


def verdict(result: RunResult) -> str:
    """In a few words: "agree", "agree, sensitive to rounding", "disagree", or the run's status."""
    if result.status not in ("completed", "disagreed"):
        return result.status
    agreement = result.agreement
    if agreement is None:
        return "not compared"
    if not agreement.passed:
        return "disagree"
    if not any(c.kind in ("gradient", "step") for c in agreement.checks):
        return "measured"  # the book's rule: a departure measured, no agreement claimed
    return "agree, sensitive to rounding" if agreement.sensitive else "agree"


def notes(result: RunResult) -> list[str]:
    """The run's notes in short: the rounding growth measured, or where the runs parted at a branch; saturation."""
    said = []
    if result.agreement and result.agreement.sensitive:
        first = next(s for s in result.agreement.sensitivity if s.explained)
        said.append(first.describe() if first.explained_by == "rounding" else
                    f"parted at a branch, {departure_summary(first.search['departures'][0])}")
    if result.saturation and result.saturation["saturated"]:
        said.append(saturation_label(result.saturation))
    said += [f"{key} {saturation_label(s)}" for key, s in result.others_saturation.items() if s["saturated"]]
    return said
