"""The race's report, rendered from a record: its tables read as their headers say."""
from __future__ import annotations

from compare.race.report import agreement_text

TOLERANCE = {"single": 9.1e-13, "trajectory": 3.6e-12, "dtype": "float64"}


def failure(kind, layer, backend, step, epoch, relative):
    return {"kind": kind, "layer": layer, "backend": backend, "step": step, "epoch": epoch, "relative": relative,
            "max_abs": 0.0933, "cosine": 0.0644228, "norm_ratio": 0.647013, "tolerance": 1e-12, "passed": False}


def test_where_they_part_has_its_columns_under_their_headers():
    failures = [failure("check_network", "W_conv1", "Col2imOverwrites", 0, 0, 1.34),
                failure("weights", "W_ih", "MyNetwork", 12_000, 1, 2.5e-4)]
    run = {"status": "disagreed", "agreement": {
        "passed": False, "tolerance": TOLERANCE, "reference": "torch_impl", "checks": [], "worst": {},
        "predictions": {}, "sensitivity": [], "failures": failures}}
    lines = agreement_text(run, "true").splitlines()
    header, *rows = lines[lines.index("where they part:") + 1:]
    assert header.split("  ")[0] == "" and "after steps" in header and "in epoch" in header
    words = ["kind", "layer", "backend", "after steps", "in epoch", "relative", "max abs", "cosine", "ratio",
             "tolerance"]
    starts = [header.index(word) for word in words]
    for row, c in zip(rows, failures):
        cells = [c["kind"], c["layer"], c["backend"]]
        assert [row.index(cell, start) for cell, start in zip(cells, starts)] == starts[:3], row  # names: left
        numbers = [f"{c['step']:,}", str(c["epoch"] + 1), f"{c['relative']:.3g}"]
        ends = [header.index(word) + len(word) for word in words[3:6]]
        assert [row.index(cell, end - len(cell)) + len(cell) for cell, end in zip(numbers, ends)] == ends, row
