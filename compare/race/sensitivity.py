"""How fast this run amplifies rounding: the yardstick for a trajectory that drifted.

Where training is unstable (large hidden layers, a large ``lr``), a difference of one
rounding error between two runs grows exponentially, in one backend against itself as much
as across backends. So when the two backends' weights drift beyond the ``trajectory``
tolerance while every step from identical weights agrees, the drift is measured against
the run's own sensitivity:

1. The reference backend's segment is trained a second time, by a twin, from its weights (and
   optimizer state) at the segment's start with every weight moved one rounding error (to the next float up or
   down, seeded): the nudge δ.
2. After the segment's N steps the twin is ``G`` away from the reference itself: the growth,
   a factor ``G/δ``.
3. The rounding the two backends add in one step, ``r``, is measured by the step check at the
   segment's start (their weights after one step from identical weights), and taken as at
   least the nudge: ``r' = max(r, δ)``. Each of the N steps adds about that much, and none of
   it grows by more than the whole segment grew the nudge (nor shrinks below itself), so the
   backends' rounding reaches at most about ``P = N · r' · max(1, G/δ)``.
4. A drift ``D0`` already there at the segment's start (the first time the trajectories part;
   afterwards they are re-synchronised at each check) grows along directions a random nudge
   does not favour, so it is measured, not extrapolated: the twin trains the segment once more
   from the other backend's weights at its start, and ends ``R`` from the reference.
5. The drift is explained when it is within ``ROUNDING_MARGIN · (P + R)``
   (:mod:`common.tolerances` derives the margin). Further than that, the estimate is not the
   verdict: the segment is retrained side by side to find the step where the runs parted and check
   it (:mod:`compare.race.departure`). Where every such step is a branch that rounding decides,
   the drift is explained by it (``search``); otherwise the backends disagree.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from common.architecture import Architecture
from common.protocol import Network
from common.tolerances import ROUNDING_MARGIN, differences, floors, nudge, relative_difference
from compare.state import TrainingState, restore


@dataclass(frozen=True)
class Sensitivity:
    """One measurement: the growth of a nudge over a segment, beside the backends' drift.

    Per-layer values are lists in the order of ``layers``.
    """

    backend: str  # the backend whose drift from the reference is judged
    start: int  # the step the segment began at
    steps: int  # N, the segment's length
    layers: list[str]
    nudge: list[float]  # δ: relative size of the nudge, one rounding error a weight
    growth: list[float]  # G: the nudged twin's distance from the reference after N steps
    step_apart: list[float]  # r: the backends apart after one step from identical weights, at the start
    drift_before: list[float]  # D0: the backends' drift at the segment's start (0 once re-synchronised)
    drift_grown: list[float]  # R: D0 grown over the segment by the reference's own training
    drift: list[float]  # D: the backends' drift at the segment's end
    bound: list[float]  # ROUNDING_MARGIN · (P + R), P = N max(r, δ) max(1, G/δ)
    search: dict | None = None  # compare.race.departure.Search.to_json(), where the drift went beyond the bound

    @property
    def explained_by(self) -> str | None:
        """"rounding" (the drift within the bound), "branch" (beyond it, every step where the runs
        parted a branch that rounding decides), or None: not explained."""
        if all(d <= b for d, b in zip(self.drift, self.bound)):
            return "rounding"
        return "branch" if self.search and self.search["explained"] else None

    @property
    def explained(self) -> bool:
        return self.explained_by is not None

    def to_json(self) -> dict:
        return {**asdict(self), "explained": self.explained, "explained_by": self.explained_by}

    def describe(self) -> str:
        return describe(self.to_json())


def describe(record: dict) -> str:
    """``"a 1.1e-16 nudge grows to 0.0037 in 100 steps"``, for the worst-growing layer of a
    measurement's record (:meth:`Sensitivity.to_json`)."""
    worst = int(np.argmax(record["growth"]))
    return (f"a {record['nudge'][worst]:.2g} nudge grows to {record['growth'][worst]:.2g} in {record['steps']:,} "
            f"steps ({record['layers'][worst]}, from step {record['start']:,})")


def rounding_bound(nudge_size: float, growth: float, steps: int, step_apart: float, drift_grown: float) -> float:
    """``ROUNDING_MARGIN · (N · max(r, δ) · max(1, G/δ) + R)``: the drift rounding explains here."""
    if nudge_size <= 0.0:
        return ROUNDING_MARGIN * drift_grown
    rounding = steps * max(step_apart, nudge_size) * max(1.0, growth / nudge_size)
    return ROUNDING_MARGIN * (rounding + drift_grown)


def measure_growth(twin: Network, train, start: TrainingState, end_weights: list[np.ndarray],
                   seed: int) -> tuple[list[float], list[float]]:
    """Nudge the weights of ``start`` (its optimizer state kept), retrain the segment in ``twin``
    (``train(twin)`` runs it), and return the nudge's size and its growth per layer, each relative
    to the largest entry."""
    nudged = nudge(start.weights, seed)
    # An array of zeros (biases before the first step) has no scale of its own to measure a nudge
    # against: it is counted as one rounding error, eps, the size a nudge of it has once training
    # gives it one. (Relative to zero the nudge would be infinite, and any drift explained.)
    partners = Architecture.of(twin).floor_partners()  # a bias a normalization cancels: at its weight's scale
    sizes = [relative_difference(n, w, f) if np.any(w) or f else float(np.finfo(w.dtype).eps)
             for n, w, f in zip(nudged, start.weights, floors(start.weights, partners))]
    restore(twin, start, nudged)
    train(twin)
    return sizes, differences(twin.get_weights(), end_weights, partners)


def regrow(twin: Network, train, start: TrainingState, end_weights: list[np.ndarray],
           drift_before: list[float]) -> list[float]:
    """R: the twin retrains the segment from ``start`` (the other backend's weights and state); its
    distance from the reference's ``end_weights``, per layer. No drift at the start, no retraining: zeros."""
    if not any(drift_before):
        return [0.0] * len(end_weights)
    restore(twin, start)
    train(twin)
    return differences(twin.get_weights(), end_weights, Architecture.of(twin).floor_partners())


def judge(backend: str, start: int, steps: int, layers: list[str], sizes: list[float], growth: list[float],
          step_apart: list[float], drift_before: list[float], drift_grown: list[float],
          drift: list[float]) -> Sensitivity:
    """The :class:`Sensitivity` for one backend's drift over one segment."""
    bound = [rounding_bound(d, g, steps, r, grown)
             for d, g, r, grown in zip(sizes, growth, step_apart, drift_grown)]
    return Sensitivity(backend, start, steps, list(layers), sizes, growth, list(step_apart), list(drift_before),
                       list(drift_grown), list(drift), bound)
