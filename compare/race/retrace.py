"""The runner's side of the search for where two runs parted (:mod:`compare.race.departure`).

The last segment is retrained by the backends' probes, fed as each backend is fed; a step where they
part is checked from the reference's state there by the runner's own step check, into an agreement of
its own, whose checks join the run's only where the step differs by more than a branch; branches are
read in a torch_impl twin on the CPU (:mod:`compare.race.branches`), whichever backends race.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from common.architecture import Architecture
from common.recipe import Recipe
from compare.check.network import STEPS as CHECK_STEPS
from compare.race import branches, departure
from compare.race.backends import Backend, Progress, make_torch_backend, train_segment
from compare.race.checks import Agreement
from compare.race.config import Config
from compare.state import TrainingState, one_step

if TYPE_CHECKING:
    from compare.race.runner import Segment


def search_segment(config: Config, agreement: Agreement, backends: list[Backend], probes: dict, last: Segment,
                   step: int, backend: Backend, bound: list[float], step_agrees: Callable) -> departure.Search:
    """:func:`compare.race.departure.search` over the last segment, for ``backend`` against the reference:
    their probes retrain it side by side; a step where they part is checked as at a segment's start
    (``step_agrees``, the runner's step check from a given state, its checks held back in an agreement
    of their own until the verdict is known), and branches are read in a torch_impl twin on the CPU."""
    reference, batch, tol = backends[0], config.batch_size, agreement.tolerance
    twins = (probes[reference.key], probes[backend.key])
    prepares = {id(twins[0]): reference.prepare, id(twins[1]): backend.prepare}
    built = []

    def rows(j: int) -> slice:
        return slice(j * batch, (j + 1) * batch)

    def batch_of(j: int) -> tuple[np.ndarray, np.ndarray]:
        return last.inputs[rows(j)], last.targets[rows(j)]

    def train(network, j: int) -> None:
        prepare = prepares[id(network)]
        train_segment(network, *map(prepare, batch_of(j)), batch, Progress(np.empty(1)))

    def check(j: int, state: TrainingState) -> departure.Checked:
        held = Agreement(agreement.tolerance, agreement.reference)  # recorded in the run's only if it stands
        step_agrees(config, held, [reference, backend], probes, *batch_of(j), last.start + j, last.epoch, state)
        worst = max(held.checks, key=lambda c: c.relative / c.tolerance)
        return departure.Checked(held.passed, dict(kind=worst.kind, layer=worst.layer, relative=worst.relative,
                                                   tolerance=worst.tolerance),
                                 [c.tolerance for c in held.checks if c.kind == "step"],
                                 lambda: agreement.checks.extend(held.checks))

    def inspector():  # the torch_impl twin whose modules compare.race.branches reads, built when first needed
        if not built:
            built.append(make_torch_backend("cpu", False, Architecture.of(reference.network), config.lr,
                                            config.dtype, Recipe.of(reference.network)).network)
        return built[0]

    def nearest(j: int, mine: TrainingState, theirs: TrainingState) -> list:
        return branches.nearest(inspector(), (mine, theirs), batch_of(j)[0], tol.eps)

    def torch_step(j: int, state: TrainingState, branch) -> list[np.ndarray]:
        x, t = batch_of(j)
        return one_step(inspector(), state, x, t) if branch is None else branches.flipped_step(
            inspector(), state, x, t, branch)

    def samples(j: int) -> tuple[list[int], list[int]]:
        return [int(i) for i in last.rows[rows(j)]], [int(label) for label in last.labels[rows(j)]]

    return departure.search(departure.Replay(
        backend=backend.key, start=last.start, epoch=last.epoch, steps=step - last.start,
        layers=Architecture.of(reference.network).parameter_names(), twins=twins,
        states=(last.state, last.others[backend.key]), train=train, batch=samples,
        floor=[max(tol.eps, r) for r in last.apart[backend.key]], limit=[max(tol.trajectory, b) for b in bound],
        tolerance=tol, check=check, nearest=nearest, torch_step=torch_step,
        partners=Architecture.of(reference.network).floor_partners()))


def samples_from(config: Config, last: Segment, state: TrainingState, j: int) -> tuple:
    """The reference's state before the segment's step ``j``, the samples from that step on, as many as
    :func:`compare.check_network` trains on (the segment's first ones after its last, where it runs
    short), and that step as the run counts it."""
    count = CHECK_STEPS * max(config.batch_size, 2)
    take = (j * config.batch_size + np.arange(count)) % len(last.inputs)
    return state, (last.inputs[take], last.targets[take]), last.start + j


def where_parted(agreement: Agreement) -> str | None:
    """Where the runs parted, for a disagreement's message: the first search that did not explain its drift."""
    searches = [s.search for s in agreement.sensitivity if s.search and not s.explained]
    return departure.describe_search(searches[0]) if searches else None
