"""Where two runs part: the segment retrained side by side, the step where they jump apart, and that
step checked from identical weights.

The sensitivity estimate (:mod:`compare.race.sensitivity`) says how far rounding alone can carry the
two runs over a segment; it cannot see a branch (:mod:`compare.race.branches`), where a ReLU unit or a
max-pool window whose values lie within rounding of each other goes one way in one backend and the
other way in the other. So when the drift goes beyond that estimate, it is not the verdict. Both
backends train the segment again from their snapshots at its start (:mod:`compare.state`), one step at
a time, side by side, and their distance is measured after every step, per layer. Rounding moves it a
little at each step; a step that multiplies it by :data:`JUMP` or more is where the runs parted. That
step is checked from identical weights and optimizer state, the reference's before it, as a segment's
first step is:

- it differs, and torch's own step with one unit within rounding of its branch sent the other way
  is the other backend's step, within the step's tolerance (:func:`compare.race.branches.flipped_step`):
  the two parted at that branch, from identical weights, and by nothing else;
- it differs otherwise: the backends disagree there, at that sample;
- it agrees, and a unit of that step's batch, within what separates the two runs' values (plus one
  rounding) of its branch, lay on different sides in the two: sent the other way, torch's step from
  the reference's weights rejoins the other run (their distance grows by less than :data:`JUMP`).
  The runs parted there because their weights, a rounding apart, put it on different sides;
- it agrees and no branch rejoins them: what parted them is not found, and the drift stays a
  disagreement.

After a branch both twins start again from the reference's weights after that step and go on, so that
a later departure in the same segment is found too. The segment is explained when every departure in
it is a branch and, after the last, the replayed runs end within what rounding explains. Where no
step jumps, the step of the largest growth is examined. A replay that does not part as the runs did
(a network whose training depends on more than its weights, optimizer state and samples) explains
nothing.

All of this runs only where the drift is beyond the estimate: a run that agrees pays nothing.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from common.tolerances import Tolerance, differences, measure_step, step_floors
from compare.state import TrainingState, restore, snapshot

# How many times one step must multiply the runs' distance (in some layer, from at least one step's
# rounding) to be where they part. Measured: rounding grew it at most 2.4 times in a step in LeNet-5's
# float32 run before it parted; the branch there multiplied it by 6,200, and a step 1.0005 times too
# long on one sample multiplies it by 1e7 or more (float64).
JUMP = 64.0
MOST_BRANCHES = 32  # in one segment; beyond that the replay stops, the rest not explained


@dataclass(frozen=True)
class Checked:
    """A step checked from identical weights, its checks held back until the verdict is known."""

    agrees: bool
    worst: dict  # the check furthest past (or nearest) its tolerance: kind, layer, relative, tolerance
    tolerances: list[float]  # per layer, the step's tolerance
    commit: Callable[[], None]  # record the checks in the run's agreement (a step that differs, not by a branch)


@dataclass(frozen=True)
class Departure:
    """One step of the replay where the runs parted, and what the check there found."""

    backend: str
    step: int  # steps done before it, as every check counts ("after 170 steps")
    epoch: int
    samples: list[int]  # the step's batch, as indices of the training set
    labels: list[int]
    layer: str  # the parameter whose distance grew most
    apart_before: float  # that parameter's distance before the step, relative to its largest entry
    apart_after: float  # and after it
    jumped: bool  # False: no step jumped, and this is the step of the largest growth
    agrees: bool  # the step from identical weights and optimizer state agrees
    check: dict  # that step check's worst: kind, layer, relative, tolerance
    branch: dict | None  # compare.race.branches.Branch.to_json(): the one proven, else the nearest its branch
    proven: bool  # sent the other way in torch, the branch gives the other backend's step (or rejoins its run)

    @property
    def verdict(self) -> str:
        """"branch", "disagree" (the step differs, not by a branch) or "unexplained" (it agrees, no
        branch within reach)."""
        if self.proven:
            return "branch"
        return "unexplained" if self.agrees else "disagree"

    def to_json(self) -> dict:
        sample = self.samples[self.branch["sample"]] if self.branch else self.samples[0]
        return {**asdict(self), "sample": sample, "label": self.labels[self.samples.index(sample)],
                "verdict": self.verdict}


@dataclass
class Search:
    """The replay of one segment: its departures and how it ended."""

    backend: str
    start: int
    steps: int
    departures: list[Departure] = field(default_factory=list)
    replayed: int = 0  # the furthest step each backend trained again
    apart_end: list[float] = field(default_factory=list)  # per layer, at the replay's end (after its last start)
    ended_within: bool = False  # the replay reached the segment's end within what rounding explains
    reproduced: bool = True  # the replay parted as the runs did
    seconds: float = 0.0
    found: Any = None  # for a departure that is not a branch: (reference's state before it, its step index)

    @property
    def explained(self) -> bool:
        """Every departure a branch, and after the last the replay ended within what rounding explains."""
        return (self.reproduced and self.ended_within and bool(self.departures)
                and all(d.verdict == "branch" for d in self.departures))

    def to_json(self) -> dict:
        return {"backend": self.backend, "start": self.start, "steps": self.steps, "replayed": self.replayed,
                "departures": [d.to_json() for d in self.departures], "apart_end": self.apart_end,
                "ended_within": self.ended_within, "reproduced": self.reproduced, "explained": self.explained,
                "seconds": self.seconds}


@dataclass(frozen=True)
class Replay:
    """What the search needs from the runner: the two twins, where each started, how to train one
    step, the yardsticks, and how to check a step, find the units nearest their branch and take
    torch's step with one sent the other way."""

    backend: str
    start: int  # the segment's first step
    epoch: int
    steps: int  # the segment's length
    layers: list[str]
    twins: tuple[Any, Any]  # the reference's and the other backend's, trained side by side
    states: tuple[TrainingState, TrainingState]  # each one's snapshot at the segment's start
    train: Callable[[Any, int], None]  # train(network, j): the segment's step j
    batch: Callable[[int], tuple[list[int], list[int]]]  # the training-set indices and labels of step j
    floor: list[float]  # per layer: one step's rounding, the least a distance is measured against
    limit: list[float]  # per layer: where the runs may end, the trajectory tolerance or what rounding explains
    tolerance: Tolerance
    check: Callable[[int, TrainingState], Checked]  # step j checked from identical weights
    nearest: Callable[[int, TrainingState, TrainingState], list]  # branches.nearest for step j's batch
    torch_step: Callable[[int, TrainingState, Any], list[np.ndarray]]  # a torch_impl twin's weights after step j,
    # with a branches.Branch sent the other way (branches.flipped_step), or as it is (None)
    partners: list[int | None]  # Architecture.floor_partners(): a bias a normalization cancels


def _apart(states: tuple[TrainingState, TrainingState], partners: list[int | None] | None = None) -> list[float]:
    return differences(states[1].weights, states[0].weights, partners)


def search(replay: Replay) -> Search:
    """Retrain the segment side by side and examine each step where the runs part (the module's docstring)."""
    begin = time.perf_counter()
    found = Search(replay.backend, replay.start, replay.steps)
    states, first = replay.states, 0  # where the replay (re)starts both twins, and at which step
    while len(found.departures) < MOST_BRANCHES:
        j, before, after, layer, largest = _scan(replay, states, first, found)
        if j is None:  # the end of the segment, no step jumping
            found.ended_within = all(a <= limit for a, limit in zip(found.apart_end, replay.limit))
            if found.ended_within or largest is None:
                found.reproduced = bool(found.departures) or not found.ended_within
                break
            j, before, after, layer = largest  # parted gradually: the step of the largest growth
        departure = _examine(replay, j, before, after, layer, jumped=largest is None)
        found.departures.append(departure)
        if departure.verdict != "branch":
            found.found = (before[0], j)
            break
        states, first = (after[0], after[0]), j + 1  # both go on from the reference's weights after the step
    found.seconds = time.perf_counter() - begin
    return found


def _scan(replay: Replay, states: tuple[TrainingState, TrainingState], first: int, found: Search) -> tuple:
    """Both twins from ``states`` at step ``first``, side by side, up to the first step that multiplies
    their distance by :data:`JUMP`: (that step, the states before and after it, the layer that jumped,
    None); or, at the segment's end, (None, None, None, None, the same four of the step of the largest
    growth since ``first``, or None where nothing grew)."""
    for network, state in zip(replay.twins, states):
        restore(network, state)
    now, apart, largest, most = states, _apart(states, replay.partners), None, 0.0
    for j in range(first, replay.steps):
        for network in replay.twins:
            replay.train(network, j)
        after = (snapshot(replay.twins[0]), snapshot(replay.twins[1]))
        grown = _apart(after, replay.partners)
        growth = [g / max(a, f) for g, a, f in zip(grown, apart, replay.floor)]
        layer = int(np.argmax(growth))
        found.replayed = max(found.replayed, j + 1)
        if growth[layer] >= JUMP:
            return j, now, after, layer, None
        if growth[layer] > most:
            largest, most = (j, now, after, layer), growth[layer]
        now, apart = after, grown
    found.apart_end = apart
    return None, None, None, None, largest


def _examine(replay: Replay, j: int, before: tuple[TrainingState, TrainingState],
             after: tuple[TrainingState, TrainingState], layer: int, jumped: bool) -> Departure:
    """Step ``j``, where the runs parted, checked from the reference's state before it; then the branch
    that explains it, if one does (the module's docstring). The twins are left at ``after``."""
    checked = replay.check(j, before[0])
    if checked.agrees:  # the runs parted where their weights, a rounding apart, did
        found = replay.nearest(j, before[0], before[1])
        proven = next((b for b in found if b.within and b.flipped and _rejoins(replay, j, before, after[1], b)), None)
    else:  # parted from identical weights: a branch within the backends' own rounding, or a disagreement
        found = replay.nearest(j, before[0], before[0])
        proven = next((b for b in found if b.within and _proves(replay, j, before[0], b, checked)), None)
        if proven is None:
            checked.commit()
    for network, state in zip(replay.twins, after):
        restore(network, state)
    branch = proven or (found[0] if found else None)
    samples, labels = replay.batch(j)
    return Departure(replay.backend, replay.start + j, replay.epoch, samples, labels, replay.layers[layer],
                     _apart(before, replay.partners)[layer], _apart(after, replay.partners)[layer], jumped,
                     checked.agrees, checked.worst,
                     branch.to_json() if branch else None, proven is not None)


def _proves(replay: Replay, j: int, state: TrainingState, branch: Any, checked: Checked) -> bool:
    """From identical weights: torch's step as it is is one backend's, and with ``branch`` sent the other
    way the other's, each within the step's tolerance."""
    steps = []
    for network in replay.twins:
        restore(network, state)
        replay.train(network, j)
        steps.append(network.get_weights())
    plain, flipped = replay.torch_step(j, state, None), replay.torch_step(j, state, branch)

    def same(mine: list[np.ndarray], theirs: list[np.ndarray]) -> bool:
        floor = step_floors(theirs, state.weights, replay.partners)
        return all(measure_step(m, r, w, replay.tolerance, f)["relative"] <= limit
                   for m, r, w, limit, f in zip(mine, theirs, state.weights, checked.tolerances, floor))
    return any(same(plain, a) and same(flipped, b) for a, b in (steps, steps[::-1]))


def _rejoins(replay: Replay, j: int, before: tuple[TrainingState, TrainingState], other: TrainingState,
             branch: Any) -> bool:
    """From the reference's weights, torch's step with ``branch`` sent the other way ends near the other
    run's: their distance grows by less than :data:`JUMP` from the runs' distance before the step."""
    flipped = replay.torch_step(j, before[0], branch)
    grown = differences(other.weights, flipped, replay.partners)
    return all(g < JUMP * max(a, f) for g, a, f in zip(grown, _apart(before, replay.partners), replay.floor))


def where(record: dict) -> str:
    """``"after 170 steps (epoch 1), on training sample 170 (a 9)"``, or for a batch, which one and the
    sample at the branch: ``"on the batch of 4 from training sample 1,456, at its sample 1,457 (a 6)"``."""
    at = f"after {record['step']:,} steps (epoch {record['epoch'] + 1}), "
    if len(record["samples"]) == 1:
        return at + f"on training sample {record['sample']:,} (a {record['label']})"
    said = at + f"on the batch of {len(record['samples'])} from training sample {record['samples'][0]:,}"
    return said + (f", at its sample {record['sample']:,} (a {record['label']})" if record["branch"] else "")


def describe(record: dict) -> str:
    """One departure (:meth:`Departure.to_json`) in a sentence: where, how far, what the check found."""
    jumped = (f"{record['layer']} jumped from {record['apart_before']:.2g} to {record['apart_after']:.2g} apart"
              if record["jumped"] else f"{record['layer']} grew most, from {record['apart_before']:.2g} to "
              f"{record['apart_after']:.2g} apart (no step jumped)")
    check, branch = record["check"], record["branch"]
    said = f"{where(record)}, {jumped}; that step from identical weights and optimizer state "
    if record["verdict"] == "branch" and not record["agrees"]:
        return said + (f"differs ({check['kind']} {check['layer']} by {check['relative']:.3g}, beyond "
                       f"{check['tolerance']:.3g}) by one branch and nothing else, sent the other way in torch it "
                       f"gives the other backend's step: {describe_branch(branch)}")
    if record["verdict"] == "branch":
        return said + (f"agrees, and one branch parted them, sent the other way in torch it rejoins the other run: "
                       f"{describe_branch(branch)}")
    if record["verdict"] == "disagree":
        nearest = f"; the nearest branch, which does not explain it: {describe_branch(branch)}" if branch else ""
        return said + f"differs (the first failure){nearest}"
    nearest = f" (the nearest: {describe_branch(branch)})" if branch else ""
    return said + f"agrees, and no ReLU unit or max-pool window sent the other way rejoins the runs{nearest}"


def summary(record: dict) -> str:
    """``"ReLU relu1's unit 93's pre-activation, after 170 steps"``: a departure at a branch, in short."""
    branch = record["branch"]
    return f"{branch['kind']} {branch['module']}, {branch['where']}, after {record['step']:,} steps"


def describe_branch(record: dict) -> str:
    """``"ReLU relu1, unit 93's pre-activation: -2.42e-08 in torch, 2.4e-08 from its branch, within one
    rounding of that layer's largest value (2e-07)"``, from :meth:`compare.race.branches.Branch.to_json`."""
    reach = (f"one rounding of that layer's largest value ({record['rounding']:.2g})" if record["separation"] == 0.0
             else f"the {record['separation']:.2g} that separates the two runs' values there, plus one rounding of "
                  f"that layer's largest ({record['rounding']:.2g})")
    return (f"{record['kind']} {record['module']}, {record['where']}: {record['values']} in torch, "
            f"{record['margin']:.2g} from its branch, {'within' if record['within'] else 'beyond'} {reach}")


def describe_search(search: dict) -> str:
    """Where a search found the runs parting, for a disagreement's message: its last departure, or why
    there is none."""
    retrained = f"retrained side by side from step {search['start']:,}"
    if not search["reproduced"]:
        return (f"where the runs parted is not found: {retrained}, the two did not part as they had, so this "
                "network's training depends on more than its weights, optimizer state and samples.")
    if not search["departures"]:
        return f"where the runs parted is not found: {retrained}, no step stood out."
    last = search["departures"][-1]
    if last["verdict"] == "branch":  # every departure a branch, and still beyond rounding at the end
        return (f"{retrained}, the runs parted {len(search['departures'])} times at a branch that rounding decides "
                f"and were re-synchronised after each, but still ended further apart than rounding explains "
                f"({max(search['apart_end']):.2g}).")
    return f"where the runs parted ({retrained}): {describe(last)}."
