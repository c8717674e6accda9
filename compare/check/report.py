"""What :func:`compare.check_network` found: a record, and the table printed from it.

The text is rendered from the record (:meth:`NetworkReport.to_json`) and from nothing else, so
the two cannot say different things.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from common.tolerances import STEP_ROUNDING_MARGIN
from compare.check.diagnosis import Cause, Cell, Row

STEPS_SHOWN = "steps 2-5"  # the rows that show, of train() calls 2 to 5, one step's numbers
KINDS = {"outputs": "outputs", "dL/dz": "dL/dz", "gradient": "gradient", "dL/dh": "dL/dh",
         "step 1": "step 1", "steps 2-5": "steps 2-5", "loss": "train() loss", "buffers": "buffers after steps",
         "state": "optimizer state",
         "again": "gradients() again"}


@dataclass(frozen=True)
class NetworkReport:
    """A network checked against autograd: every comparison, the first failure, a likely cause.

    Attributes
    ----------
    rows : list of Row
        Outputs, then backwards from the output layer: dL/dz, each parameter's gradient, dL/dh;
        then the training steps, the loss ``train`` returned, and a second ``gradients`` call.
    first_failure : (Row, str, Cell) or None
        The first row, in that order, with a cell beyond its tolerance, and the mode
        ("single" or "batch") of that cell.
    cause : Cause or None
        The likely cause (:mod:`compare.check.diagnosis`), or "unexplained" with what was seen.
    """

    network: str
    architecture: str
    recipe: str  # common.recipe.Recipe.describe()
    dtype: str
    reference: str
    batch_size: int
    tolerance: float
    rows: list[Row]
    first_failure: tuple[Row, str, Cell] | None
    cause: Cause | None
    where: str = ""  # on copies of the network, or in place and put back
    state: str = ""  # where the optimizer state started
    single: str | None = None  # why the one-sample rows are not checked, where they are not
    dtype_note: str = ""  # why the network is checked in another dtype than it states, where it is

    @property
    def passed(self) -> bool:
        return self.first_failure is None

    def to_json(self) -> dict:
        first = None
        if self.first_failure is not None:
            row, mode, cell = self.first_failure
            first = {"kind": row.kind, "layer": row.layer, "mode": mode, **asdict(cell)}
        return {"passed": self.passed, "network": self.network, "architecture": self.architecture,
                "recipe": self.recipe, "where": self.where, "state": self.state, "single": self.single,
                "dtype_note": self.dtype_note,
                "dtype": self.dtype, "reference": self.reference, "batch_size": self.batch_size,
                "tolerance": self.tolerance, "rows": [asdict(r) for r in self.rows], "first_failure": first,
                "cause": asdict(self.cause) if self.cause else None}

    def __str__(self) -> str:
        return render(self.to_json())


LEGEND = "relative: max|mine - theirs| / max|theirs|; ratio: |mine| / |theirs|."


def numbers_text(relative: float, cosine: float | None, ratio: float) -> str:
    """A comparison's numbers in the reports' columns: relative, cosine (blank where none), ratio."""
    cosine_text = "" if cosine is None else f"{cosine:.6f}"
    return f"{relative:9.2e}  {cosine_text:>9}  {ratio:7.4f}"


def _cell_text(cell: dict | None) -> str:
    if cell is None:
        return " " * 35
    verdict = "ok" if cell["passed"] else "FAIL"
    return f"{numbers_text(cell['relative'], cell['cosine'], cell['ratio'])}  {verdict:<4}"


def axes(kind: str, layer: str, mode: str, ndim: int) -> str:
    """What each number of an index into a row's arrays counts, ``"[n, C, H, W]"``; ``""`` where unknown.

    Intermediate gradients and outputs carry the batch axis n for a batch, none for one sample; a
    parameter's (a gradient, a step) is laid out as the parameter is; the network against itself and
    the optimizer state compare every parameter as one flat array.
    """
    if kind in ("outputs", "dL/dz", "dL/dh"):
        batch = ["n"] if mode == "batch" else []
        names = batch + (["output"] if kind == "outputs" else ["C", "H", "W"] if ndim - len(batch) == 3 else ["node"])
    elif kind == "gradient" or kind.startswith("step"):
        names = {4: ["C_out", "C_in", "k", "l"], 2: ["n_out", "n_in"],
                 1: ["C_out" if layer.startswith("b_conv") else "n_out"]}.get(ndim, [])
    else:
        names = ["every parameter, flattened"]
    return f"[{', '.join(names)}]" if len(names) == ndim else ""


def _label(row: dict) -> str:
    """The row's kind; for the rows that show one of several steps, which one each cell shows."""
    if row["kind"] != STEPS_SHOWN:
        return KINDS[row["kind"]]
    calls = [row[mode]["call"] for mode in ("single", "batch") if row[mode] is not None]
    return f"step {'|'.join(str(c) for c in dict.fromkeys(calls))} of 2-5"
# Where a cell's tolerance is wider than the dtype's single tolerance, and why.
WIDENED = (f"a step's is the larger of that and {STEP_ROUNDING_MARGIN:g}x what a one-rounding nudge of the weights "
           "(or of torch.optim's gradients) does to the reference's own step; a gradient's grows where the samples "
           "are answered almost exactly")


def _whose(first: dict, record: dict) -> str:
    """Where the failing cell's tolerance comes from: the dtype's, or that widened (and why)."""
    if first["tolerance"] == record["tolerance"]:
        return f"{record['dtype']}, common.tolerances"
    base = f"{record['dtype']}'s {record['tolerance']:.3g} from common.tolerances, widened"
    if first["kind"] in ("step 1", "steps 2-5"):
        return (f"{base} to {STEP_ROUNDING_MARGIN:g}x what a one-rounding nudge of the weights (or of torch.optim's "
                "gradients) does to the reference's own step")
    return (f"{base} where the samples are answered almost exactly: o − t cancels, "
            "common.tolerances.output_error_condition")


def render(record: dict) -> str:
    """The report as text: a header, one line per comparison (Mine against Theirs), the verdict."""
    n = record["batch_size"]
    lines = [
        f"{record['network']}: {record['architecture']}, {record['recipe']}, {record['dtype']}",
        f"Mine: {record['network']}; Theirs: {record['reference']} at the same weights, on MNIST training images.",
        f"Checked {record['where']}; training {record['state']}.",
        *([f"dtype: {record['dtype_note']}."] if record.get("dtype_note") else []),
        LEGEND,
        *([f"One sample: {record['single']}."] if record.get("single") else []),
        *(["step i|j of 2-5: which of train() calls 2 to 5 each cell shows, one sample | batch: the first that "
           "failed, else the one that differed most."] if any(row["kind"] == STEPS_SHOWN for row in record["rows"])
          else []),
        "",
        f"{'':<18} {'layer':<15} {'one sample':<35}  batch of {n}",
        f"{'':<18} {'':<15} " + "  ".join([f"{'relative':>9}  {'cosine':>9}  {'ratio':>7}      "] * 2).rstrip(),
    ]
    kind = None
    for row in record["rows"]:
        if row["kind"] in ("step 1", "buffers", "state", "again") and kind != row["kind"]:
            lines.append("")
        kind = row["kind"]
        lines.append(f"{_label(row):<18} {row['layer']:<15} {_cell_text(row['single'])}  "
                     f"{_cell_text(row['batch'])}".rstrip())
    lines.append("")
    first = record["first_failure"]
    if first is None:
        lines.append(f"PASSED: every comparison within its tolerance; tolerance {record['tolerance']:.3g} "
                     f"({record['dtype']}, common.tolerances; {WIDENED}).")
        return "\n".join(lines)
    samples = "one sample" if first["mode"] == "single" else f"a batch of {n}"
    call = f", train() call {first['call']}" if first["call"] is not None else ""
    lines.append(f"FAILED: first at {KINDS[first['kind']]} {first['layer']} for {samples}{call}: relative "
                 f"{first['relative']:.3g}, beyond its tolerance {first['tolerance']:.3g} ({_whose(first, record)}).")
    if first["worst"] is not None:
        index, mine, theirs = first["worst"]
        named = axes(first["kind"], first["layer"], first["mode"], len(index))
        lines.append(f"  largest difference at {named + ' = ' if named else ''}{list(index)}: Mine {mine:.6g}, "
                     f"Theirs {theirs:.6g}")
    lines.append(cause_line(record["cause"], record["cause"]["layer"]))
    return "\n".join(lines)


def cause_line(cause: dict, where: str | None = None) -> str:
    """``"likely cause (name, where): sentence"``, or ``"what was seen: ..."`` where no cause fits."""
    if cause["name"] == "unexplained":
        return f"what was seen: {cause['sentence']}"
    return f"likely cause ({cause['name']}{f', {where}' if where else ''}): {cause['sentence']}"
