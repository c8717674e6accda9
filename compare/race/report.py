"""What a run prints, rendered from its record (:mod:`compare.race.record`) and from nothing else:
the report and the ``--quiet`` line say only what ``--json`` holds, so they cannot part."""
from __future__ import annotations

from statistics import median

from common.architecture import Architecture
from common.recipe import Recipe
from common.tolerances import ROUNDING_MARGIN, STEP_ROUNDING_MARGIN
from compare.race.config import SECONDS_2017
from compare.race.environment import one_line
from compare.check.report import render as render_check
from compare.race.saturation import describe as describe_saturation, label
from compare.race.departure import describe as describe_departure, summary as departure_summary
from compare.race.sensitivity import describe as describe_sensitivity


def text_report(record: dict) -> str:
    """The whole report: the run's settings, each network's table and agreement, the notes."""
    config = record["config"]
    sweep = "sweep" in record
    parts = [describe_config(record), one_line(record["environment"])]
    column_2017 = bool(record.get("comparable_to_2017"))
    if config["preset"] == "2017" and not column_2017:
        parts.append("(the 2017 timings are for 5 epochs of the full set at hidden 200, one sample a step; "
                     "this run differs, so they are left out)")
    for run in record["runs"]:
        if sweep:
            parts.append(f"--- hidden {run['hidden']} ---")
        parts.append(backend_table(run, column_2017))
        parts.append(agreement_text(run, config["rule"]))
        if run.get("diagnosis"):
            d = run["diagnosis"]
            where = ("at its starting weights, before the race" if d.get("before_race")
                     else f"at step {d['step']:,}, at the reference's weights there")
            parts.append(f"{d['backend']} {where}, checked against {d['reference']} (compare.check_network):\n"
                         + render_check(d))
        for measured in saturated(run):
            parts.append(describe_saturation(measured))
        if run["message"]:
            parts.append(f"{run['status']}: {run['message']}")
    if sweep:
        parts.append(sweep_text(record["sweep"]))
    return "\n\n".join(parts)


def saturated(run: dict) -> list[dict]:
    """The saturation records of the run's networks that saturated or did not learn: the reference's,
    and under the book's rule each other backend's, which trained on its own."""
    measured = [run["saturation"], *run.get("others_saturation", {}).values()]
    return [m for m in measured if m and m["saturated"]]


def describe_architectures(records: list[dict]) -> str:
    """``Architecture.describe()`` of the one network, or of a sweep's: "784-{200 | 200-100}-10, sigmoid, ..."."""
    described = [Architecture.from_json(a).describe() for a in records]
    if len(described) == 1:
        return described[0]
    sizes = [d.split(",")[0].split("-")[1:-1] for d in described]
    rest = max((d.split(", ", 1)[1] for d in described), key=len)  # with the activation, where one has hidden layers
    return f"784-{{{' | '.join('-'.join(s) or 'none' for s in sizes)}}}-10, {rest}"


def describe_config(record: dict) -> str:
    c = record["config"]
    rule = "the book's rule (from_scratch) against autograd (torch)" if c["rule"] == "book" else "true gradient"
    recipe = Recipe.from_json(record["recipe"]) if record.get("recipe") else Recipe()
    trained = "" if recipe.is_plain else f", {recipe.describe()}"
    return (f"{describe_architectures(c['architectures'])}{trained}, lr {c['lr']:g}, batch {c['batch_size']}, {c['dtype']}, "
            f"{c['epochs']} epoch{'s' if c['epochs'] != 1 else ''}, seed {c['seed']}"
            f"{', shuffled' if c['shuffle'] else ''}, {rule}\n"
            f"data: {record['data']['source']}\nthreads: {c['threads']} for BLAS and for torch")


def backend_table(run: dict, column_2017: bool = False) -> str:
    """One line per backend: device, seconds, µs per sample, accuracy; the faster one; epochs. A run
    that stopped before its first step has no such numbers: one line says why instead."""
    backends = run["backends"]
    if backends and not any(b["samples"] for b in backends.values()):
        return f"no training step was taken ({', '.join(backends)}): {why_not_trained(run)}."
    width = max([18, *(len(key) + 1 for key in backends)])
    header = f"{'backend':<{width}} {'device':<6} {'train s':>9} {'µs/sample':>10} {'test s':>7} {'accuracy':>9}"
    if column_2017:
        header += f" {'2017 s':>8}"
    lines = [header]
    for key, b in backends.items():
        us = f"{b['us_per_sample']:10.1f}" if b["samples"] else f"{'-':>10}"
        accuracy = f"{b['accuracy']:9.2%}" if b["accuracy"] is not None else f"{'-':>9}"
        line = f"{key:<{width}} {b['device']:<6} {b['train_seconds']:9.2f} {us} {b['test_seconds']:7.2f} {accuracy}"
        if column_2017:
            seconds = SECONDS_2017.get((b["package"], b["device"]))
            line += f" {seconds:8.0f}" if seconds else f" {'-':>8}"
        lines.append(line)
    timed = [(key, b) for key, b in backends.items() if b["samples"]]
    if len(timed) > 1:
        (fast, f), (slow, s) = sorted(timed, key=lambda kb: kb[1]["us_per_sample"])[:: len(timed) - 1]
        lines.append(f"faster: {fast}, {s['us_per_sample'] / f['us_per_sample']:.1f}x per sample")
    if any(len(b["epoch_seconds"]) > 1 for b in backends.values()):
        for key, b in backends.items():
            seconds = b["epoch_seconds"]
            lines.append(f"  {key} seconds per epoch: " + ", ".join(f"{s:.2f}" for s in seconds))
            if len(seconds) > 1 and max(seconds) > 1.5 * min(seconds):
                lines.append(f"  note: {key}'s epochs differ by more than 1.5x. The work per epoch is the same, "
                             "so the machine was busy: other processes, or threads waiting for a core.")
    return "\n".join(lines)


def why_not_trained(run: dict) -> str:
    """Why a run stopped before its first step, in a few words."""
    diagnosis = run.get("diagnosis") or {}
    if diagnosis.get("before_race"):
        return (f"{diagnosis['backend']} failed compare.check_network at its starting weights, so the race did not "
                "begin (its table is below)")
    if run["status"] == "disagreed":
        return "the backends disagreed at the first check, from the starting weights, before any step"
    if run["status"] == "interrupted":
        return "the run was interrupted before the first step"
    return f"the run {run['status']} before its first step"


def agreement_text(run: dict, rule: str) -> str:
    agreement = run["agreement"]
    if agreement["passed"] is None:
        return "agreement: only one backend ran, nothing to compare"
    tol = agreement["tolerance"]
    verdict = "PASSED" if agreement["passed"] else "FAILED"
    if agreement["passed"] and run["status"] != "completed":
        verdict = f"PASSED so far (the run {run['status']} before its last checks)"
    if rule == "book":
        lines = [f"the book's output-layer step equals autograd's gradient (within {tol['single']:.2g}): {verdict}"]
        lines += departure_lines(agreement)
    else:
        lines = [f"agreement with {agreement['reference']} ({tol['dtype']}: gradients and one step from identical "
                 f"weights within {tol['single']:.2g}, weights and outputs of the two runs within "
                 f"{tol['trajectory']:.2g}, relative to the largest entry): {verdict}"]
    checks = agreement["checks"]
    widened = [c for c in checks if c["kind"] in ("gradient", "book step") and c["tolerance"] is not None
               and c["passed"] and c["relative"] > tol["single"]]
    if widened:  # passed only because o − t cancelled (common.tolerances.output_error_condition)
        worst = max(widened, key=lambda c: c["relative"])
        lines.insert(1, f"  {len(widened)} gradient checks went past {tol['single']:.2g} (at worst {worst['relative']:.2g}, "
                        f"{worst['layer']} after {worst['step']:,} steps) where the batch was answered almost exactly: "
                        f"o − t cancels there, and the tolerance grows with it (to {worst['tolerance']:.2g}; "
                        "common.tolerances.output_error_condition)")
    steps = [c for c in checks if c["kind"] == "step" and c["tolerance"] is not None and c["passed"]
             and c["relative"] > tol["single"]]
    if steps:  # passed only because this recipe's step amplifies rounding (compare.state.step_rounding)
        worst = max(steps, key=lambda c: c["relative"])
        lines.insert(1, f"  {len(steps)} step checks went past {tol['single']:.2g} (at worst {worst['relative']:.2g}, "
                        f"{worst['layer']} after {worst['step']:,} steps): this recipe amplifies rounding in a step (Adam "
                        f"and RMSprop divide each gradient entry by its own size), and the tolerance grows to "
                        f"{STEP_ROUNDING_MARGIN:g} times how far a one-rounding nudge of the weights moved the "
                        f"reference's own step (to {worst['tolerance']:.2g} there; compare.state.step_rounding)")
    for kind, check in agreement["worst"].items():
        if kind in ("book step", "check_network"):
            continue
        count = sum(1 for c in checks if c["kind"] == kind)
        lines.append(f"  {kind:<13} {count:4d} checks, worst relative {check['relative']:.2g} "
                     f"({check['layer']} after {check['step']:,} steps), cosine {check['cosine']:.12f}, "
                     f"length ratio {check['norm_ratio']:.12f}")
    for c in checks:  # outputs that magnify the weights' drift (compare.race.runner._compare_outputs)
        if c["kind"] == "test outputs" and c["passed"] and c["rounding_bound"] and c["relative"] > c["tolerance"]:
            lines.append(f"  test outputs of {c['backend']}: {c['relative']:.2g} apart, beyond {c['tolerance']:.2g}, as "
                         f"far as the weights' own drift carries: at {c['backend']}'s weights the reference's outputs are "
                         f"{c['rounding_bound'] - tol['single']:.2g} from its own, and {c['backend']}'s within "
                         f"{tol['single']:.2g} of them")
    for key, p in agreement["predictions"].items():
        lines.append(f"  predictions   {key}: identical on {p['identical']:,} of {p['total']:,} test images"
                     + (f" ({p['differing'] - p['beyond_ties']} near-ties)" if p["differing"] and p["judged"] else "")
                     + ("" if p["judged"] else " (counted, not judged: the runs drift as rounding explains)"))
    lines += sensitivity_lines(agreement)
    if agreement["failures"]:
        lines.append("where they part:")
        lines += part_table(agreement["failures"][:10])
    return "\n".join(lines)


PART_HEADER = ("kind", "layer", "backend", "after steps", "in epoch", "relative", "max abs", "cosine", "ratio",
               "tolerance")


def part_table(failures: list[dict]) -> list[str]:
    """The failed checks, one a line, each column as wide as its widest cell: names to the left, numbers to the right."""
    rows = [(c["kind"], c["layer"], c["backend"], f"{c['step']:,}", f"{c['epoch'] + 1}", f"{c['relative']:.3g}",
             f"{c['max_abs']:.3g}", f"{c['cosine']:.9f}", f"{c['norm_ratio']:.9f}", f"{c['tolerance']:.3g}")
            for c in failures]
    widths = [max(map(len, column)) for column in zip(PART_HEADER, *rows)]
    return ["  " + " ".join(cell.ljust(width) if i < 3 else cell.rjust(width)
                            for i, (cell, width) in enumerate(zip(line, widths))).rstrip()
            for line in (PART_HEADER, *rows)]


def sensitivity_lines(agreement: dict) -> list[str]:
    """The rounding note: how fast this run amplifies rounding, beside the backends' drift; and where the
    runs parted at a branch that rounding decides, found by retraining (compare.race.departure)."""
    explained = [s for s in agreement["sensitivity"] if s["explained_by"] == "rounding"]
    branched = [s for s in agreement["sensitivity"] if s["explained_by"] == "branch"]
    if not explained and not branched:
        return []
    lines = []
    if explained:
        first = explained[0]
        share = max(d / b for s in explained for d, b in zip(s["drift"], s["bound"]))
        steps_agree = all(c["passed"] for c in agreement["checks"] if c["kind"] in ("gradient", "step"))
        lines += [f"note: training is sensitive to rounding here: {describe_sensitivity(first)}; "
                  + ("the backends' steps agree." if steps_agree else "but the backends' steps do not agree."),
                  f"  the runs drifted beyond {agreement['tolerance']['trajectory']:.2g} at step "
                  f"{first['start'] + first['steps']:,} (to {max(first['drift']):.2g}). How far could rounding alone "
                  "carry them apart? Add up each step's rounding, grown as fast as this run grew the nudge: the drift "
                  f"may reach {ROUNDING_MARGIN:g} times that sum. "
                  + (f"At each of the {len(explained)} checks" if len(explained) != 1 else "At that check")
                  + f" it stayed within that limit, at most {share:.2g} of it;"]
    for measured in branched:
        lines += branch_lines(measured, agreement["tolerance"]["trajectory"])
    lines.append("  from there the backends were re-synchronised to the reference's weights at each check, so each "
                 "later check measures one segment's drift from identical weights.")
    if any(max(s["bound"]) >= 1.0 for s in explained):
        lines.append(f"  over {explained[0]['steps']:,} steps rounding alone can carry the runs wholly apart, so their "
                     "weights say little here: the steps from identical weights are the test (a smaller "
                     "--check-every keeps the runs comparable).")
    return lines


def branch_lines(measured: dict, trajectory: float) -> list[str]:
    """One segment whose runs parted at branches that rounding decides: where, and what proved it."""
    search = measured["search"]
    end = measured["start"] + measured["steps"]
    departures = search["departures"]
    times = "once" if len(departures) == 1 else f"{len(departures)} times"
    lines = [f"note: the runs parted at a branch that rounding decides, not where the backends differ: at step {end:,} "
             f"their weights were {max(measured['drift']):.2g} apart, beyond {trajectory:.2g} and {ROUNDING_MARGIN:g} "
             f"times what rounding alone adds up to ({max(measured['bound']):.2g}). Retrained side by side from step "
             f"{search['start']:,} ({search['seconds']:.2g} s), they parted {times}:"]
    lines += [f"  {describe_departure(d)}." for d in departures[:4]]
    if len(departures) > 4:
        lines.append(f"  and {len(departures) - 4} more (the record's departures)")
    lines.append(f"  after {'it' if len(departures) == 1 else 'each'} the retrained runs went on from the reference's "
                 f"weights and ended {max(search['apart_end']):.2g} apart, within what rounding explains; the runs "
                 "themselves, parted there, follow different, equally right paths;")
    return lines


def book_departures(agreement: dict) -> list[dict]:
    """How far the book's step is from autograd's gradient, per hidden layer, over the run's checks
    (each the first batch of a segment, at the book network's own weights): the number of checks,
    the median cosine and length ratio ``|book| / |gradient|``, and the ratio's range. The one
    computation behind the report and the ``--quiet`` line. The output layer, whose step must be
    the gradient, is left out; a network without hidden layers has none."""
    rows = [c for c in agreement.get("checks", []) if c["kind"] == "book step"]
    departures = []
    for layer in dict.fromkeys(c["layer"] for c in rows):
        checks = [c for c in rows if c["layer"] == layer]
        if any(c["tolerance"] is not None for c in checks):  # the output layer: checked, not measured
            continue
        ratios = [c["norm_ratio"] for c in checks]
        departures.append({"layer": layer, "checks": len(checks), "cosine": median(c["cosine"] for c in checks),
                           "ratio": median(ratios), "lowest": min(ratios), "highest": max(ratios)})
    return departures


def departure_lines(agreement: dict) -> list[str]:
    """How far the book's step is from autograd's gradient at the book network's own weights, per layer:
    cosine and length ratio ``|book| / |gradient|`` (1 and 1 would be the gradient)."""
    rows = [c for c in agreement["checks"] if c["kind"] == "book step"]
    layers = list(dict.fromkeys(c["layer"] for c in rows))
    departures = book_departures(agreement)
    departing = [d["layer"] for d in departures]
    if departures:
        n = departures[0]["checks"]
        lines = ["its hidden-layer steps are not the gradient: against autograd's gradient at the same weights "
                 "(cosine 1 and ratio 1 would be the gradient), at the median of the "
                 f"{n} check{'s' if n != 1 else ''} (the first batch of each segment) each layer's step is this many "
                 "times as long, as if the layer learned at that many times lr:"]
        lines += [f"  {d['layer']:<5} {d['ratio']:.1f} (from {d['lowest']:.1f} to {d['highest']:.1f}), "
                  f"cosine {d['cosine']:.6f}" for d in departures]
    else:
        lines = ["without a hidden layer the book's rule is the gradient: it steps the output layer alone, "
                 "checked above."]
    lines.append("  " + f"{'after':>8}" + "".join(f" {layer + ' cosine':>12} {layer + ' ratio':>11}" for layer in layers))
    by_step: dict[int, dict] = {}
    for c in rows:
        by_step.setdefault(c["step"], {})[c["layer"]] = c
    steps = sorted(by_step)
    shown = steps if len(steps) <= 12 else [steps[round(i * (len(steps) - 1) / 11)] for i in range(12)]
    for step in shown:
        cells = []
        for layer in layers:
            c = by_step[step][layer]
            cells.append(f" {c['cosine']:12.6f} {c['norm_ratio']:11.3f}" if layer in departing
                         else f" {c['cosine']:12.9f} {c['norm_ratio']:11.6f}")
        lines.append(f"  {step:8,}" + "".join(cells))
    return lines


def sweep_text(sweep: list[dict]) -> str:
    """The record's ``sweep`` table as text."""
    keys = list(dict.fromkeys(k for row in sweep for k in row if k not in ("hidden", "architecture", "verdict",
                                                                          "notes")))
    lines = ["seconds of training, hidden nodes x backend (the 2017 tutorial's table), with each run's verdict:",
             f"{'hidden':>11} " + " ".join(f"{k:>18}" for k in keys) + "  verdict"]
    for row in sweep:
        lines.append(f"{str(row['hidden']):>11} " + " ".join(f"{row[k]:18.2f}" if k in row else f"{'-':>18}"
                                                       for k in keys)
                     + f"  {row['verdict']}" + "".join(f"; {note}" for note in row["notes"]))
    return "\n".join(lines)


# -- the --quiet line ---------------------------------------------------------------------------

def summary_line(record: dict) -> str:
    """One line for --quiet: what was measured (the verdict, or the book's departure), then each
    backend's accuracy and training time; for a sweep, each hidden size's verdict."""
    if record["status"] != "completed":  # the message's first line: what failed and where
        return f"{record['status']}: {record['message'].splitlines()[0]}"
    if "sweep" in record:
        said = "; ".join(f"hidden {row['hidden']}: {row['verdict']}" + "".join(
            ", saturated" for note in row["notes"] if note == "saturated") for row in record["sweep"])
        return f"completed: {said}"
    run = record["runs"][0]
    parts = [f"{key} {b['accuracy']:.2%} in {b['train_seconds']:.2f} s" for key, b in record["backends"].items()]
    said = book_summary(record["agreement"]) if record["config"]["rule"] == "book" else agreement_summary(
        record["agreement"])
    for measured in saturated(run):
        whose = f"{measured['backend']}'s network" if run.get("others_saturation") else "the network"
        said += f"; {whose} {label(measured)} (try a smaller --lr)"
    return f"completed: {said}; " + ", ".join(parts)


def agreement_summary(agreement: dict) -> str:
    if agreement["passed"] is None:
        return "not compared"
    if not agreement["passed"]:
        return "the backends disagree"
    branched = [d for d in agreement.get("departures", []) if d["verdict"] == "branch"]
    if branched:
        return (f"the backends agree; their runs parted at a branch that rounding decides ({departure_summary(branched[0])}"
                f"{f', and {len(branched) - 1} more' if len(branched) > 1 else ''})")
    if agreement["trajectory_verdict"] == "sensitive to rounding":
        return "the backends' steps agree; their runs drift only as rounding grows in this training"
    return "the backends agree"


def book_summary(agreement: dict) -> str:
    """The book's rule: its output-layer step against the gradient, and how each hidden layer's departs
    (:func:`book_departures`, as the report prints it)."""
    if agreement["passed"] is None:
        return "only the book's network ran, nothing to compare"
    said = f"the book's output-layer step {'equals' if agreement['passed'] else 'differs from'} the gradient"
    departures = book_departures(agreement)
    if departures:
        n = departures[0]["checks"]
        said += (f"; its hidden-layer steps, at the median of {n} check{'s' if n != 1 else ''}: " + ", ".join(
            f"{d['layer']} {d['ratio']:.1f}x as long (cosine {d['cosine']:.4f})" for d in departures))
    return said
