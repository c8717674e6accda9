"""Agreement between backends: what was compared, when, and by how much.

Gradients are compared at identical weights (the reference backend's current weights,
loaded into a twin of the other network), against the ``single`` tolerance. Weights and
test outputs of the two training runs are compared against the ``trajectory`` tolerance,
since each step's rounding feeds the next. Both come from :mod:`common.tolerances`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from common.tolerances import Tolerance, relative_difference


@dataclass(frozen=True)
class Check:
    """One comparison of one layer (or of the test outputs) between two backends."""

    kind: str  # "gradient", "weights", "test outputs", "book step"
    layer: str  # "W_ih", "W_ho", or "all" for test outputs
    backend: str  # the backend compared with the reference
    step: int
    epoch: int
    max_abs: float
    relative: float
    cosine: float
    norm_ratio: float  # |mine| / |reference|
    tolerance: float | None  # None: informational, never fails the run
    passed: bool

    def describe(self) -> str:
        where = f"{self.kind} {self.layer} of {self.backend} after {self.step:,} steps (epoch {self.epoch + 1})"
        return (f"{where}: relative {self.relative:.3g}, max abs {self.max_abs:.3g}, cosine {self.cosine:.9f}"
                + (f" > tolerance {self.tolerance:.3g}" if not self.passed else ""))


def measure(mine: np.ndarray, reference: np.ndarray) -> dict:
    """Max absolute and relative difference, cosine and norm ratio of two arrays, in float64."""
    a, b = np.asarray(mine, dtype=np.float64).ravel(), np.asarray(reference, dtype=np.float64).ravel()
    # Norms of the arrays divided by their largest entry, so that huge weights cannot overflow.
    scale_a = float(np.max(np.abs(a))) if a.size else 0.0
    scale_b = float(np.max(np.abs(b))) if b.size else 0.0
    unit_a, unit_b = (a / scale_a if scale_a else a), (b / scale_b if scale_b else b)
    norm_a, norm_b = float(np.linalg.norm(unit_a)), float(np.linalg.norm(unit_b))
    cosine = float(unit_a @ unit_b / (norm_a * norm_b)) if norm_a and norm_b else float(norm_a == norm_b)
    ratio = (scale_a * norm_a) / (scale_b * norm_b) if scale_b else float("inf") if scale_a else 1.0
    return dict(max_abs=float(np.max(np.abs(a - b))) if a.size else 0.0,
                relative=relative_difference(a, b), cosine=cosine, norm_ratio=ratio)


@dataclass
class Agreement:
    """Every check of one run, and the verdict."""

    tolerance: Tolerance
    reference: str
    checks: list[Check] = field(default_factory=list)
    predictions: dict = field(default_factory=dict)  # backend -> {"differing": n, "beyond_ties": n, ...}

    def compare(self, kind: str, layer: str, backend: str, step: int, epoch: int,
                mine: np.ndarray, reference: np.ndarray, tolerance: float | None) -> Check:
        """Measure ``mine`` against ``reference``, record the check, and return it."""
        numbers = measure(mine, reference)
        passed = tolerance is None or numbers["relative"] <= tolerance
        check = Check(kind, layer, backend, step, epoch, tolerance=tolerance, passed=passed, **numbers)
        self.checks.append(check)
        return check

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def passed(self) -> bool:
        return not self.failures and all(p["beyond_ties"] == 0 for p in self.predictions.values())

    def worst(self) -> dict[str, Check]:
        """The largest relative difference found, per kind of check."""
        worst: dict[str, Check] = {}
        for check in self.checks:
            if check.kind not in worst or check.relative > worst[check.kind].relative:
                worst[check.kind] = check
        return worst

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "reference": self.reference,
            "tolerance": asdict(self.tolerance),
            "worst": {kind: asdict(check) for kind, check in self.worst().items()},
            "predictions": self.predictions,
            "failures": [asdict(c) for c in self.failures],
            "checks": [asdict(c) for c in self.checks],
        }


def compare_predictions(mine: np.ndarray, reference: np.ndarray, tolerance: float) -> dict:
    """How many test answers differ, and how many of those are not explained by a near-tie.

    Two outputs within ``tolerance`` (relative to the largest output) of each other can swap
    places between backends through rounding alone; any other differing answer is a failure.
    """
    mine_answers, reference_answers = mine.argmax(axis=1), reference.argmax(axis=1)
    differing = np.flatnonzero(mine_answers != reference_answers)
    rows = reference[differing]
    gaps = np.abs(rows[np.arange(len(differing)), reference_answers[differing]]
                  - rows[np.arange(len(differing)), mine_answers[differing]])
    scale = float(np.max(np.abs(reference))) if reference.size else 1.0
    beyond = int(np.sum(gaps > tolerance * scale))
    return {"identical": int(len(reference) - len(differing)), "total": int(len(reference)),
            "differing": int(len(differing)), "beyond_ties": beyond,
            "first_differing": [int(i) for i in differing[:10]]}
