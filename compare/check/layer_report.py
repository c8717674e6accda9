"""What :func:`compare.check_layer` found: a record, and the table printed from it.

As :mod:`compare.check.report` does for a network, the text is rendered from the record
(:meth:`LayerReport.to_json`) and from nothing else, so the two cannot say different things.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from compare.check.diagnosis import Cause
from compare.check.report import LEGEND, cause_line, numbers_text

OWN = "; a count exactly, a rate drawn at random within 5 standard errors"  # a statistic's tolerance


@dataclass(frozen=True)
class LayerRow:
    """One comparison at one configuration: what was compared (``out``, ``dx``, ``running_mean``,
    ``keep rate``, or the stage that raised), Mine against Theirs."""

    configuration: str
    compared: str
    relative: float | None  # max|mine − theirs| / max|theirs|; None where nothing could be compared
    cosine: float | None
    ratio: float | None  # |mine| / |theirs|
    tolerance: float
    passed: bool
    worst: tuple | None = None  # (index, mine, theirs) at the largest difference, when it failed
    note: str = ""  # what came back instead (an exception, another shape, a nan)


@dataclass(frozen=True)
class LayerReport:
    """A layer checked against autograd at several configurations, and its likely mistake.

    Attributes
    ----------
    rows : list of LayerRow
        Each configuration's comparisons, in order.
    conventions : list of str
        What the check read of the code, or was told, and compared torch under.
    notes : list of str
        What the code did besides (changed what it was given in place, promoted float32 to float64).
    cause : Cause or None
        The mistake of the kind's catalogue whose numbers are the code's at every configuration, or
        "unexplained" with what was seen; None where it passed.
    """

    kind: str
    code: str
    form: str
    dtype: str
    reference: str
    conventions: list[str]
    notes: list[str]
    tolerance: float
    rows: list[LayerRow]
    cause: Cause | None

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def first_failure(self) -> LayerRow | None:
        return next((row for row in self.rows if not row.passed), None)

    @property
    def failed_configurations(self) -> list[str]:
        return list(dict.fromkeys(row.configuration for row in self.rows if not row.passed))

    def to_json(self) -> dict:
        first = self.first_failure
        return {"passed": self.passed, "kind": self.kind, "code": self.code, "form": self.form, "dtype": self.dtype,
                "reference": self.reference, "conventions": list(self.conventions), "notes": list(self.notes),
                "tolerance": self.tolerance, "rows": [asdict(row) for row in self.rows],
                "first_failure": None if first is None else asdict(first),
                "failed_configurations": self.failed_configurations,
                "cause": asdict(self.cause) if self.cause else None}

    def __str__(self) -> str:
        return render(self.to_json())


def _cells(row: dict) -> str:
    verdict = "ok" if row["passed"] else "FAIL"
    if row["relative"] is None:
        return f"{'':>9}  {'':>9}  {'':>7}  {verdict}  {row['note']}"
    text = f"{numbers_text(row['relative'], row['cosine'], row['ratio'])}  {verdict}"
    return f"{text}  {row['note']}" if row["note"] else text


def render(record: dict) -> str:
    """The report as text: a header, one line per comparison (Mine against Theirs), the verdict."""
    width = max([len("configuration")] + [len(row["configuration"]) for row in record["rows"]])
    lines = [
        f"check_layer({record['kind']!r}): {record['code']}, {record['form']}, {record['dtype']}",
        f"Mine: {record['code']}; Theirs: {record['reference']} (autograd), in float64 from the same numbers.",
        *(f"Read: {words}." for words in record["conventions"]),
        *(f"Note: {words}." for words in record["notes"]),
        LEGEND,
        "",
        f"{'configuration':<{width}}  {'compared':<15} {'relative':>9}  {'cosine':>9}  {'ratio':>7}",
    ]
    shown = None
    for row in record["rows"]:
        label = row["configuration"] if row["configuration"] != shown else ""
        shown = row["configuration"]
        lines.append(f"{label:<{width}}  {row['compared']:<15} {_cells(row)}".rstrip())
    lines.append("")
    first = record["first_failure"]
    if first is None:
        own = any(row["tolerance"] != record["tolerance"] for row in record["rows"])
        lines.append(f"PASSED: every comparison within its tolerance; tolerance {record['tolerance']:.3g} "
                     f"({record['dtype']}, common.tolerances{OWN if own else ''}).")
        return "\n".join(lines)
    how = f": {first['note']}" if first["note"] else ""
    if first["relative"] is not None:
        whose = (f"{record['dtype']}, common.tolerances" if first["tolerance"] == record["tolerance"] else
                 f"its own{OWN}")
        how = f": relative {first['relative']:.3g}, beyond its tolerance {first['tolerance']:.3g} ({whose})"
    lines.append(f"FAILED: first at {first['compared']} for {first['configuration']}{how}.")
    if len(record["failed_configurations"]) > 1:
        lines.append(f"  failed at: {'; '.join(record['failed_configurations'])}")
    if first["worst"] is not None:
        index, mine, theirs = first["worst"]
        at = f" at {list(index)}" if index else ""
        lines.append(f"  largest difference{at}: Mine {mine:.6g}, Theirs {theirs:.6g}")
    lines.append(cause_line(record["cause"], record["cause"]["layer"]))
    return "\n".join(lines)
