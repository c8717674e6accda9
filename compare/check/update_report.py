"""What :func:`compare.check_update` found: a record, and the table printed from it.

The text is rendered from the record (:meth:`UpdateReport.to_json`) and from nothing else, so the
two cannot say different things.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from compare.check.diagnosis import Cause, Cell
from compare.check.report import cause_line, numbers_text


@dataclass(frozen=True)
class UpdateRow:
    """One comparison: a parameter's step (``kind`` "step", at ``step``), or a piece of the state after
    the last step (``kind`` "state", ``name`` as "m → exp_avg"). ``mine`` and ``theirs``: for a step,
    the two steps' entries where they differ most; for the state, the two values there."""

    kind: str
    step: int | None
    name: str
    cell: Cell
    mine: float
    theirs: float


@dataclass(frozen=True)
class UpdateReport:
    """An update rule checked against torch.optim: every step, the state, the first failure, a likely cause.

    Attributes
    ----------
    rows : list of UpdateRow
        Each step's comparison per parameter, in order; then the state after the last step, in the
        rule's own names (compared and shown, not judged: the steps carry the verdict).
    first_failure : UpdateRow or None
        The first step row beyond its tolerance.
    cause : Cause or None
        The likely cause (a mistake of :mod:`compare.check.mistakes.recipe` whose steps are the
        rule's), or "unexplained" with what was seen; None when every step agrees.
    """

    rule: str
    optimizer: str
    form: str  # the rule's form and signature, in words
    reference: str  # torch.optim's call, with every keyword it was given
    dtype: str
    tolerance: float
    read: str  # what the rule's hyperparameters were read as, and from where
    state_names: str  # how its state's names were read
    setting: str  # the steps: how many, on what, at what learning rates
    notes: list[str]
    rows: list[UpdateRow]
    cause: Cause | None

    @property
    def first_failure(self) -> UpdateRow | None:
        return next((row for row in self.rows if row.kind == "step" and not row.cell.passed), None)

    @property
    def passed(self) -> bool:
        return self.first_failure is None

    def to_json(self) -> dict:
        first = self.first_failure
        return {"passed": self.passed, "rule": self.rule, "optimizer": self.optimizer, "form": self.form,
                "reference": self.reference, "dtype": self.dtype, "tolerance": self.tolerance, "read": self.read,
                "state_names": self.state_names, "setting": self.setting, "notes": list(self.notes),
                "rows": [asdict(row) for row in self.rows],
                "first_failure": None if first is None else {"step": first.step, "parameter": first.name,
                                                              **asdict(first.cell)},
                "cause": asdict(self.cause) if self.cause else None}

    def __str__(self) -> str:
        return render(self.to_json())


def _line(row: dict) -> str:
    cell = row["cell"]
    verdict = ("ok" if cell["passed"] else "FAIL") if row["kind"] == "step" else (
        "same" if cell["passed"] else "differs")
    step = "" if row["step"] is None else str(row["step"])
    return (f"{step:<5} {row['name']:<26} {numbers_text(cell['relative'], cell['cosine'], cell['ratio'])}  {verdict:<7}  "
            f"{row['mine']:12.5g}  {row['theirs']:12.5g}")


def render(record: dict) -> str:
    """The report as text: what was read, one line per step and parameter (Mine against Theirs), the verdict."""
    lines = [f"{record['rule']}, checked as {record['optimizer']!r}: {record['form']}",
             f"Mine: {record['rule']}; Theirs: {record['reference']}, {record['dtype']}.",
             f"Read: {record['read']}.", f"State: {record['state_names']}.", f"Steps: {record['setting']}.",
             *(f"Note: {note}." for note in record["notes"]),
             "relative: max|mine - theirs| / max|theirs' step| (with room for one rounding of the weights); "
             "ratio: |mine's step| / |theirs'|; Mine, Theirs: the two steps where they differ most.",
             "",
             f"{'step':<5} {'parameter':<26} {'relative':>9}  {'cosine':>9}  {'ratio':>7}  {'':<7}  {'Mine':>12}  "
             f"{'Theirs':>12}"]
    rows = record["rows"]
    lines += [_line(row) for row in rows if row["kind"] == "step"]
    state = [row for row in rows if row["kind"] == "state"]
    if state:
        lines += ["", "the state after the last step, in the rule's own names (compared, not judged: the steps "
                      "decide, and a count from 1 or a velocity of the other sign is a convention)"]
        lines += [_line(row) for row in state]
    lines.append("")
    first = record["first_failure"]
    if first is None:
        lines.append(f"PASSED: every step within its tolerance {record['tolerance']:.3g} ({record['dtype']}, "
                     "common.tolerances).")
        return "\n".join(lines)
    lines.append(f"FAILED: first at step {first['call']} {first['parameter']}: relative {first['relative']:.3g}, "
                 f"beyond its tolerance {first['tolerance']:.3g} ({record['dtype']}, common.tolerances).")
    if first["worst"] is not None:
        index, mine, theirs = first["worst"]
        lines.append(f"  largest difference at {first['parameter']}{list(index)}: the step there, Mine {mine:.6g}, "
                     f"Theirs {theirs:.6g}")
    lines.append(cause_line(record["cause"]))
    return "\n".join(lines)
