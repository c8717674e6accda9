"""What a run prints, and the JSON record ``--json`` and ``--save`` write."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from common.architecture import Architecture
from common.files import atomic_write
from common.tolerances import ROUNDING_MARGIN
from compare.config import SECONDS_2017, Config
from compare.environment import one_line
from compare.network_report import render as render_check
from compare.runner import RunResult
from compare.saturation import describe as describe_saturation
from compare.saturation import label as saturation_label


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
        "status": result.status,
        "message": result.message,
        "steps": result.steps,
        "backends": {b.key: backend_record(b, result.scorecards.get(b.key)) for b in result.backends},
        "agreement": agreement,
        "saturation": result.saturation,
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
    """The run's notes in short: the rounding growth measured, saturation."""
    said = []
    if result.agreement and result.agreement.sensitive:
        said.append(next(s for s in result.agreement.sensitivity if s.explained).describe())
    if result.saturation and result.saturation["saturated"]:
        said.append(saturation_label(result.saturation))
    return said


# -- text -----------------------------------------------------------------------------------


def describe_architectures(config: Config) -> str:
    """``Architecture.describe()`` of the one network, or of a sweep's: "784-{200 | 200-100}-10, sigmoid, ..."."""
    described = [a.describe() for a in config.architectures]
    if len(described) == 1:
        return described[0]
    sizes = [d.split(",")[0].split("-")[1:-1] for d in described]
    rest = max((d.split(", ", 1)[1] for d in described), key=len)  # with the activation, where one has hidden layers
    return f"784-{{{' | '.join('-'.join(s) or 'none' for s in sizes)}}}-10, {rest}"


def describe_config(config: Config, source: str) -> str:
    rule = "the book's rule (from_scratch) against autograd (torch)" if config.rule == "book" else "true gradient"
    return (f"{describe_architectures(config)}, lr {config.lr:g}, batch {config.batch_size}, {config.dtype}, "
            f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}, seed {config.seed}"
            f"{', shuffled' if config.shuffle else ''}, {rule}\n"
            f"data: {source}\nthreads: {config.threads} for BLAS and for torch")


def backend_table(result: RunResult, column_2017: bool = False) -> str:
    header = f"{'backend':<18} {'device':<6} {'train s':>9} {'µs/sample':>10} {'test s':>7} {'accuracy':>9}"
    if column_2017:
        header += f" {'2017 s':>8}"
    lines = [header]
    for b in result.backends:
        card = result.scorecards.get(b.key)
        us = f"{b.us_per_sample:10.1f}" if b.samples else f"{'-':>10}"
        accuracy = f"{card.accuracy:9.2%}" if card else f"{'-':>9}"
        line = f"{b.key:<18} {b.device:<6} {b.train_seconds:9.2f} {us} {b.test_seconds:7.2f} {accuracy}"
        if column_2017:
            seconds = SECONDS_2017.get((b.package, b.device))
            line += f" {seconds:8.0f}" if seconds else f" {'-':>8}"
        lines.append(line)
    timed = [b for b in result.backends if b.samples]
    if len(timed) > 1:
        fast, slow = sorted(timed, key=lambda b: b.us_per_sample)[:: len(timed) - 1]
        ratio = slow.us_per_sample / fast.us_per_sample
        lines.append(f"faster: {fast.key}, {ratio:.1f}x per sample")
    if any(len(b.epoch_seconds) > 1 for b in result.backends):
        for b in result.backends:
            lines.append(f"  {b.key} seconds per epoch: " + ", ".join(f"{s:.2f}" for s in b.epoch_seconds))
            if len(b.epoch_seconds) > 1 and max(b.epoch_seconds) > 1.5 * min(b.epoch_seconds):
                lines.append(f"  note: {b.key}'s epochs differ by more than 1.5x. The work per epoch is the same, "
                             "so the machine was busy: other processes, or threads waiting for a core.")
    return "\n".join(lines)


def agreement_text(result: RunResult, config: Config) -> str:
    agreement = result.agreement
    if agreement is None:
        return "agreement: only one backend ran, nothing to compare"
    tol = agreement.tolerance
    verdict = "PASSED" if agreement.passed else "FAILED"
    if agreement.passed and result.status != "completed":
        verdict = f"PASSED so far (the run {result.status} before its last checks)"
    if config.rule == "book":
        lines = [f"the book's output-layer step equals autograd's gradient (within {tol.single:.2g}): {verdict}"]
        lines += departure_lines(agreement)
    else:
        lines = [f"agreement with {agreement.reference} ({tol.dtype}: gradients and one step from identical weights "
                 f"within {tol.single:.2g}, weights and outputs of the two runs within {tol.trajectory:.2g}, "
                 f"relative to the largest entry): {verdict}"]
    for kind, check in agreement.worst().items():
        if kind == "book step":
            continue
        count = sum(1 for c in agreement.checks if c.kind == kind)
        lines.append(f"  {kind:<13} {count:4d} checks, worst relative {check.relative:.2g} "
                     f"({check.layer} after {check.step:,} steps), cosine {check.cosine:.12f}, "
                     f"length ratio {check.norm_ratio:.12f}")
    for key, p in agreement.predictions.items():
        lines.append(f"  predictions   {key}: identical on {p['identical']:,} of {p['total']:,} test images"
                     + (f" ({p['differing'] - p['beyond_ties']} near-ties)" if p["differing"] and p["judged"] else "")
                     + ("" if p["judged"] else " (counted, not judged: the runs drift as rounding explains)"))
    lines += sensitivity_lines(agreement)
    if agreement.failures:
        lines.append("where they part:")
        lines.append(f"  {'kind':<13} {'layer':<5} {'backend':<12} {'after':>8} {'epoch':>5} {'relative':>10} "
                     f"{'max abs':>10} {'cosine':>12} {'ratio':>12} {'tolerance':>9}")
        for c in agreement.failures[:10]:
            lines.append(f"  {c.kind:<13} {c.layer:<5} {c.backend:<12} {c.step:8,} {c.epoch + 1:5d} {c.relative:10.3g} "
                         f"{c.max_abs:10.3g} {c.cosine:12.9f} {c.norm_ratio:12.9f} {c.tolerance:9.2g}")
    return "\n".join(lines)


def sensitivity_lines(agreement) -> list[str]:
    """The rounding note: how fast this run amplifies rounding, beside the backends' drift."""
    explained = [s for s in agreement.sensitivity if s.explained]
    if not explained:
        return []
    first = explained[0]
    share = max(d / b for s in explained for d, b in zip(s.drift, s.bound))
    steps_agree = all(c.passed for c in agreement.checks if c.kind in ("gradient", "step"))
    lines = [f"note: training is sensitive to rounding here: {first.describe()}; "
             + ("the backends' steps agree." if steps_agree else "but the backends' steps do not agree."),
             f"  the runs drifted beyond {agreement.tolerance.trajectory:.2g} at step {first.start + first.steps:,} "
             f"({max(first.drift):.2g}); at each of {len(explained)} check{'s' if len(explained) != 1 else ''} "
             f"the drift was within {ROUNDING_MARGIN:g}x what rounding grows to in this run "
             f"(at most {share:.2g} of that bound);",
             "  from there the backends were re-synchronised to the reference's weights at each check, so each "
             "later check measures one segment's drift from identical weights."]
    if any(max(s.bound) >= 1.0 for s in explained):
        lines.append(f"  over {first.steps:,} steps rounding alone can carry the runs wholly apart, so their weights "
                     "say little here: the steps from identical weights are the test (a smaller --check-every "
                     "keeps the runs comparable).")
    return lines


def departure_lines(agreement) -> list[str]:
    """How far the book's step is from autograd's gradient at the book network's own weights, per layer:
    cosine and length ratio ``|book| / |gradient|`` (1 and 1 would be the gradient)."""
    rows = [c for c in agreement.checks if c.kind == "book step"]
    layers = list(dict.fromkeys(c.layer for c in rows))
    departing = [layer for layer in layers if all(c.tolerance is None for c in rows if c.layer == layer)]
    medians = []
    for layer in departing:
        ratios = sorted(c.norm_ratio for c in rows if c.layer == layer)
        medians.append(f"{layer} {ratios[len(ratios) // 2]:.1f} (from {ratios[0]:.1f} to {ratios[-1]:.1f})")
    lines = ["its hidden-layer step is not the gradient: against autograd's gradient at the same weights "
             "(cosine 1 and ratio 1 would be the gradient),",
             "it is this many times as long at the median sample, as if the layer learned at that many times lr: "
             + ", ".join(medians) + ":" if medians else "",
             "  " + f"{'after':>8}" + "".join(f" {layer + ' cosine':>12} {layer + ' ratio':>11}" for layer in layers)]
    by_step: dict[int, dict] = {}
    for c in rows:
        by_step.setdefault(c.step, {})[c.layer] = c
    steps = sorted(by_step)
    shown = steps if len(steps) <= 12 else [steps[round(i * (len(steps) - 1) / 11)] for i in range(12)]
    for step in shown:
        cells = []
        for layer in layers:
            c = by_step[step][layer]
            cells.append(f" {c.cosine:12.6f} {c.norm_ratio:11.3f}" if layer in departing
                         else f" {c.cosine:12.9f} {c.norm_ratio:11.6f}")
        lines.append(f"  {step:8,}" + "".join(cells))
    return lines


def sweep_text(results: list[RunResult]) -> str:
    """:func:`sweep_table` as text."""
    keys = list(dict.fromkeys(b.key for r in results for b in r.backends))
    lines = ["seconds of training, hidden nodes x backend (the 2017 tutorial's table), with each run's verdict:",
             f"{'hidden':>11} " + " ".join(f"{k:>18}" for k in keys) + "  verdict"]
    for row in sweep_table(results):
        lines.append(f"{str(row['hidden']):>11} " + " ".join(f"{row[k]:18.2f}" if k in row else f"{'-':>18}"
                                                       for k in keys)
                     + f"  {row['verdict']}" + "".join(f"; {note}" for note in row["notes"]))
    return "\n".join(lines)


def text_report(config: Config, environment: dict, data, results: list[RunResult]) -> str:
    parts = [describe_config(config, data.source), one_line(environment)]
    column_2017 = comparable_to_2017(config, data)
    if config.preset == "2017" and not column_2017:
        parts.append("(the 2017 timings are for 5 epochs of the full set at hidden 200, one sample a step; "
                     "this run differs, so they are left out)")
    for result in results:
        if config.is_sweep:
            parts.append(f"--- hidden {result.hidden} ---")
        parts.append(backend_table(result, column_2017))
        parts.append(agreement_text(result, config))
        if result.diagnosis:
            d = result.diagnosis
            parts.append(f"{d['backend']} at step {d['step']:,}, checked against {d['reference']} at the reference's "
                         f"weights there (compare.check_network):\n" + render_check(d))
        if result.saturation and result.saturation["saturated"]:
            parts.append(describe_saturation(result.saturation))
        if result.message:
            parts.append(f"{result.status}: {result.message}")
    if config.is_sweep:
        parts.append(sweep_text(results))
    return "\n\n".join(parts)
