"""Agreement between backends: what was compared, when, and by how much.

Two questions, two kinds of check:

- **the implementation**: from identical weights (the reference backend's current weights,
  loaded into a twin of each network), do both compute the same gradients and take the same
  step? Against the ``single`` tolerance; a failure means the code differs.
- **the trajectory**: do the two free-running training runs stay together? Their weights and
  test outputs, against the ``trajectory`` tolerance, since each step's rounding feeds the
  next. Where training amplifies rounding (:mod:`compare.race.sensitivity`), a drift beyond it is
  measured against that amplification before it is called a disagreement.

Every tolerance comes from :mod:`common.tolerances`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from common.tolerances import Tolerance, measure


@dataclass(frozen=True)
class Check:
    """One comparison of one layer (or of the test outputs) between two backends."""

    kind: str  # "gradient", "step", "weights", "test outputs", "book step"
    layer: str  # a parameter's name ("W_ih", "W_ho", "W1", "b1", ...), or "all" for test outputs
    backend: str  # the backend compared with the reference
    step: int
    epoch: int
    max_abs: float
    relative: float
    cosine: float
    norm_ratio: float  # |mine| / |reference|
    tolerance: float | None  # None: informational, never fails the run
    passed: bool
    # For weights beyond the tolerance: the drift that rounding, amplified by this run's own
    # sensitivity, accounts for (compare.race.sensitivity); within it the check passes.
    rounding_bound: float | None = None
    # For weights beyond that too: the runs parted at a branch that rounding decides, the step there
    # agreeing from identical weights (compare.race.departure); the check passes.
    at_branch: bool = False

    def describe(self) -> str:
        where = f"{self.kind} {self.layer} of {self.backend} after {self.step:,} steps (epoch {self.epoch + 1})"
        bound = f" and > {self.rounding_bound:.3g}, what rounding explains here" if self.rounding_bound else ""
        return (f"{where}: relative {self.relative:.3g}, max abs {self.max_abs:.3g}, cosine {self.cosine:.9f}, "
                f"length ratio {self.norm_ratio:.9f}"
                + (f" > tolerance {self.tolerance:.3g}{bound}" if not self.passed else ""))


@dataclass
class Agreement:
    """Every check of one run, and the verdict."""

    tolerance: Tolerance
    reference: str
    checks: list[Check] = field(default_factory=list)
    predictions: dict = field(default_factory=dict)  # backend -> {"differing": n, "beyond_ties": n, ...}
    sensitivity: list = field(default_factory=list)  # compare.race.sensitivity.Sensitivity, one per measurement

    def compare(self, kind: str, layer: str, backend: str, step: int, epoch: int,
                mine: np.ndarray, reference: np.ndarray, tolerance: float | None,
                numbers: dict | None = None, rounding_bound: float | None = None, at_branch: bool = False) -> Check:
        """Measure ``mine`` against ``reference`` (or take ``numbers`` already measured), record
        the check, and return it. It passes within ``tolerance``, or within ``rounding_bound``, or
        ``at_branch``: where the runs parted at a branch that rounding decides."""
        numbers = numbers or measure(mine, reference)
        passed = tolerance is None or numbers["relative"] <= tolerance or (
            rounding_bound is not None and numbers["relative"] <= rounding_bound) or at_branch
        check = Check(kind, layer, backend, step, epoch, tolerance=tolerance, passed=passed,
                      rounding_bound=rounding_bound, at_branch=at_branch, **numbers)
        self.checks.append(check)
        return check

    @property
    def sensitive(self) -> bool:
        """Whether the trajectories drifted beyond the tolerance, as far as rounding explains."""
        return any(s.explained for s in self.sensitivity)

    @property
    def trajectory_verdict(self) -> str:
        """"within tolerance", "sensitive to rounding" (drifted as rounding explains; the steps
        agree), or "apart" (further than rounding explains)."""
        if any(c.kind in ("weights", "test outputs") and not c.passed for c in self.checks):
            return "apart"
        return "sensitive to rounding" if self.sensitive else "within tolerance"

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def passed(self) -> bool:
        return not self.failures and all(p["beyond_ties"] == 0 or not p["judged"] for p in self.predictions.values())

    def worst(self) -> dict[str, Check]:
        """The largest relative difference found, per kind of check."""
        worst: dict[str, Check] = {}
        for check in self.checks:
            if check.kind not in worst or check.relative > worst[check.kind].relative:
                worst[check.kind] = check
        return worst

    def to_json(self) -> dict:
        steps = [c for c in self.checks if c.kind in ("gradient", "step")]
        return {
            "passed": self.passed,
            "reference": self.reference,
            "steps_agree": all(c.passed for c in steps) if steps else None,
            "trajectory_verdict": self.trajectory_verdict if steps else None,
            "sensitivity": [s.to_json() for s in self.sensitivity],
            # where the runs parted beyond what rounding explains, found by retraining (compare.race.departure)
            "departures": [d for s in self.sensitivity if s.search for d in s.search["departures"]],
            "tolerance": asdict(self.tolerance),
            "worst": {kind: asdict(check) for kind, check in self.worst().items()},
            "predictions": self.predictions,
            "failures": [asdict(c) for c in self.failures],
            "checks": [asdict(c) for c in self.checks],
        }


def compare_predictions(mine: np.ndarray, reference: np.ndarray, tolerance: float, judged: bool = True) -> dict:
    """How many test answers differ, and how many of those are not explained by a near-tie.

    Two outputs within ``tolerance`` (relative to the largest output) of each other can swap
    places between backends through rounding alone; any other differing answer is a failure,
    unless ``judged`` is False (the trajectories drifted as rounding explains: answers are
    counted, not judged).
    """
    mine_answers, reference_answers = mine.argmax(axis=1), reference.argmax(axis=1)
    differing = np.flatnonzero(mine_answers != reference_answers)
    rows = reference[differing]
    gaps = np.abs(rows[np.arange(len(differing)), reference_answers[differing]]
                  - rows[np.arange(len(differing)), mine_answers[differing]])
    scale = float(np.max(np.abs(reference))) if reference.size else 1.0
    beyond = int(np.sum(gaps > tolerance * scale))
    return {"identical": int(len(reference) - len(differing)), "total": int(len(reference)),
            "differing": int(len(differing)), "beyond_ties": beyond, "judged": judged,
            "first_differing": [int(i) for i in differing[:10]]}
