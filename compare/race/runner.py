"""The side-by-side run: both backends from identical weights, on identical samples, checked
as they go and timed.

Training alternates in segments of ``check_every`` samples (whole batches): backend A trains a
segment, then backend B trains the same segment, then the two are compared. Each backend
therefore runs uninterrupted for long stretches (its caches and thread pool are its own while
it is timed), and a disagreement is caught within one segment of where it began.

At each segment's start (:mod:`compare.race.checks` says why two kinds of check):

- the implementation: gradients and one step of each backend from the reference's current
  weights and optimizer state (:mod:`compare.state`), loaded into twins ("probes") of both,
  within the ``single`` tolerance (wider where the recipe amplifies rounding, as measured);
- the trajectory: the two free-running networks' weights, within the ``trajectory`` tolerance.
  A drift beyond it is measured against this run's own sensitivity to rounding
  (:mod:`compare.race.sensitivity`); a drift beyond that is retrained side by side to find the
  step where the runs parted, which is checked from identical weights (:mod:`compare.race.departure`).
  If rounding explains the drift, or every step where the runs parted is a branch that rounding
  decides, the run is "sensitive to rounding": from then on the other backends are re-synchronised
  to the reference's weights at every check, so each later check measures one segment's drift
  from identical weights and the steps keep being tested from weights the reference really reached.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from common.architecture import Architecture
from common.data import Dataset, one_hot_targets, scale_inputs
from common.errors import DivergenceError, ParameterError
from common.recipe import Recipe, fresh_state
from common.scorecard import Scorecard
from common.tolerances import (differences, floors, measure, measure_step, output_error_condition, relative_difference,
                               step_floors, step_tolerance, tolerance)
from common.weights import initial_buffers, initial_weights
from compare.race import retrace, sensitivity
from compare.race.backends import Backend, Progress, make_backends, make_probe, train_segment
from compare.race.checks import Agreement, compare_predictions
from compare.race.config import Config
from compare.conformance import Guarded, check_conformance, computing_dtype, dtype_words, network_dtype
from compare.check.network import check_network
from compare.plugins import is_user_network, own_recipe
from compare.race.environment import describe
from compare.race.memory import out_of_memory
from compare.race.saturation import saturation
from compare.state import TrainingState, keeps_state_to_itself, one_step, restore, snapshot, step_rounding

TEST_CHUNK = 1000
CONFORMANCE_SAMPLES = 8  # a user's network is tried on one of them and on all of them before the race


class Disagreement(Exception):
    """A check found the backends further apart than the tolerance; ``at``, where a retrained segment
    found them parting by more than a branch: (the backend, the reference's state before that step,
    the samples from it on, the step), for check_network's table there."""

    def __init__(self, agreement: Agreement, at: tuple | None = None) -> None:
        super().__init__(agreement)
        self.at = at


@dataclass
class RunResult:
    """What one run (one hidden size) measured, however it ended."""

    architecture: Architecture
    backends: list[Backend]
    agreement: Agreement | None
    status: str = "completed"  # completed | disagreed | diverged | interrupted
    message: str | None = None
    scorecards: dict[str, Scorecard] = field(default_factory=dict)
    saturation: dict | None = None  # compare.race.saturation's record, for the reference's final weights
    others_saturation: dict[str, dict] = field(default_factory=dict)  # under --rule book, the others' records
    diagnosis: dict | None = None  # check_network's record of the first backend to disagree, where it did
    recipe: Recipe = field(default_factory=Recipe)  # with the milestones in steps of this run

    @property
    def hidden(self) -> str:
        """The hidden layers as ``--hidden`` takes them: "200", "200,100", or "none"."""
        return ",".join(map(str, self.architecture.hidden_nodes)) or "none"

    @property
    def hidden_record(self) -> int | str:
        """The JSON's ``hidden``: the size of the one hidden layer as an int, else as :attr:`hidden`."""
        sizes = self.architecture.hidden_nodes
        return sizes[0] if len(sizes) == 1 else self.hidden

    @property
    def steps(self) -> int:
        """Steps every backend has completed (after Ctrl-C, one may be a little ahead)."""
        return min((b.steps for b in self.backends), default=0)


@dataclass
class Segment:
    """The last segment trained: what a sensitivity measurement needs to train it again."""

    start: int
    epoch: int
    state: TrainingState  # the reference's weights and optimizer state at its start
    inputs: np.ndarray
    targets: np.ndarray
    drift: dict[str, list[float]]  # per other backend, its drift from the reference at the start, per layer
    others: dict[str, TrainingState]  # per other backend, its weights and optimizer state at the start
    apart: dict[str, list[float]]  # per other backend, how far one step from identical weights left it, per layer
    rows: np.ndarray  # the segment's samples, as indices of the training set
    labels: np.ndarray


def run(config: Config, data: Dataset) -> tuple[list[RunResult], dict]:
    """Run every hidden size of ``config`` (one, or a sweep), stopping at the first that fails.

    Returns the results and the environment as it was while they ran (threads pinned).
    """
    results = []
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        # Overflow in a saturating network is not an error; non-finite results are checked below.
        with threadpool_limits(limits=config.threads), np.errstate(all="ignore"):
            environment = describe(config.devices)
            for architecture in config.architectures:
                try:
                    results.append(run_one(config, data, architecture))
                except (MemoryError, RuntimeError) as error:  # one sentence for an allocation that failed
                    if (what := out_of_memory(error)) is None:
                        raise
                    raise ParameterError(f"{architecture.describe()}, in {config.dtype}, does not fit in this "
                                         f"machine's memory: {what}.") from None
                if results[-1].status != "completed":
                    break
    finally:
        torch.set_num_threads(previous_threads)
    return results, environment


def check_steps(config: Config) -> int:
    """Steps between checks: ``check_every`` samples in whole batches, at least one."""
    return max(1, math.ceil(config.check_every / config.batch_size))


def run_one(config: Config, data: Dataset, architecture: Architecture) -> RunResult:
    recipe = config.recipe(math.ceil(len(data.train_labels) / config.batch_size))
    recipe = own_recipe(config.backends, architecture, config.lr, config.dtype, recipe)  # a user's own defaults
    backends = make_backends(config.backends, config.devices, architecture, config.lr, config.dtype, config.rule,
                             recipe)
    # identical weights, running statistics and layer seed (dropout's masks) in every backend
    start = TrainingState(initial_weights(architecture, seed=config.seed, dtype=config.dtype), None,
                          initial_buffers(architecture, config.dtype), config.seed)
    for backend in backends:
        restore(backend.network, start)
    reference, others = backends[0], backends[1:]
    refused = _check_users_networks(config, backends, data, architecture.target_values, recipe)
    agreement = Agreement(tolerance(config.dtype), reference.key) if others else None
    result = RunResult(architecture, backends, agreement, recipe=recipe)
    if refused:  # a user's network that fails check_network at its starting weights does not race
        _refuse(result, *refused)
        return result
    probes = {b.key: make_probe(b, config.lr, config.dtype) for b in backends}
    bars = [tqdm(total=config.epochs * len(data.train_labels), desc=f"{b.key:<18}", unit="sample",
                 disable=not config.progress, position=i, leave=True) for i, b in enumerate(backends)]
    try:
        last = _train(config, data, backends, probes, agreement, bars, architecture.target_values)
        if agreement and config.rule == "true":
            _check_trajectory(config, agreement, backends, probes, last, result.steps, resync=False)
        outputs = {b.key: _evaluate(b, data, config.dtype) for b in backends}
        result.scorecards = {k: Scorecard.from_outputs(o, data.test_labels) for k, o in outputs.items()}
        result.saturation = _saturation(reference, data, result.scorecards)
        if config.rule == "book":  # the others train the true gradient, runs of their own: each gets its note
            result.others_saturation = {b.key: _saturation(b, data, result.scorecards) for b in others}
        if agreement and config.rule == "true":
            _compare_outputs(agreement, reference, others, outputs, result.steps, config.epochs - 1,
                             lambda backend: _outputs_at(probes[reference.key], reference, backend, data, config.dtype))
            if not agreement.passed:
                raise Disagreement(agreement)
        said = "".join(_own_state(backends, b.key) for b in others if config.rule == "true")
        said += "".join(_own_dtype(b, data, config.dtype) for b in others if is_user_network(b.package))
        result.message = said.strip() or None  # what the race compared of a user's network, where it is not all
    except Disagreement as error:
        result.status = "disagreed"
        first = _first_failures(agreement, _layers(reference)) if agreement.failures else []
        result.message = "The backends answer differently on test images where no near-tie explains it."
        if first:
            result.diagnosis = _diagnose(config, backends, probes, first[0], error.at)
            result.message = _disagreement(first, reference.key, result.diagnosis["cause"],
                                           retrace.where_parted(agreement)) + _own_state(backends, first[0].backend)
    except DivergenceError as error:
        result.status, result.message = "diverged", str(error)
    except KeyboardInterrupt:
        result.status = "interrupted"
        done = ", ".join(f"{b.key} {b.steps:,}" for b in backends)
        result.message = f"Interrupted after {done} steps; the figures cover the steps done."
    finally:
        for bar in bars:
            bar.close()
    return result


def _train(config, data, backends, probes, agreement, bars, target_values) -> Segment | None:
    """Train every epoch in segments, checking at each segment's start; return the last segment."""
    batch, n_train = config.batch_size, len(data.train_labels)
    segment = check_steps(config) * batch
    step = 0  # steps done by every backend, counted from the start of the run
    shuffle = np.random.default_rng(config.seed)
    last = None
    for epoch in range(config.epochs):
        order = shuffle.permutation(n_train) if config.shuffle else None
        started = {b.key: b.train_seconds for b in backends}
        for start in range(0, n_train, segment):
            rows = slice(start, start + segment) if order is None else order[start:start + segment]
            indices = np.arange(start, min(start + segment, n_train)) if order is None else rows
            inputs = scale_inputs(data.train_images[rows], config.dtype)
            targets = one_hot_targets(data.train_labels[rows], config.dtype, values=target_values)
            if agreement:
                apart = _check_step(config, agreement, backends, probes, inputs[:batch], targets[:batch], step, epoch)
                if config.rule == "true":
                    _check_trajectory(config, agreement, backends, probes, last, step)
            if agreement and config.rule == "true":
                last = Segment(step, epoch, snapshot(backends[0].network), inputs, targets, _drifts(backends),
                               {b.key: snapshot(b.network) for b in backends[1:]}, apart, indices,
                               data.train_labels[indices])
            n_steps = math.ceil(len(inputs) / batch)
            for backend, bar in zip(backends, bars):
                _timed_segment(backend, inputs, targets, batch, n_steps, step, epoch)
                bar.update(len(inputs))
            step += n_steps
        for backend in backends:
            backend.epoch_seconds.append(backend.train_seconds - started[backend.key])
    return last


def _first_failures(agreement: Agreement, layers: list[str]) -> list:
    """The failed checks of the first step that had any, from the output layer down (the order in
    which a mistake spreads through backpropagation), gradients before steps before weights."""
    first = min(c.step for c in agreement.failures)
    kinds = ("gradient", "book step", "step", "weights", "test outputs")
    return sorted((c for c in agreement.failures if c.step == first),
                  key=lambda c: (kinds.index(c.kind), -layers.index(c.layer) if c.layer in layers else 0))


def _disagreement(first: list, reference: str, cause: dict | None, parted: str | None = None) -> str:
    """The message of a disagreement: what failed and where on its first line, then where the runs
    parted (found by retraining), the step's other failures and the likely cause (the report's
    table has every number)."""
    c = first[0]
    beyond = f"the tolerance {c.tolerance:.3g}" + (f" and what rounding explains ({c.rounding_bound:.3g})"
                                                   if c.rounding_bound else "")
    lines = [f"The backends disagree: {c.kind} {c.layer} of {c.backend} after {c.step:,} steps (epoch {c.epoch + 1}) "
             f"is {c.relative:.3g} from {reference}'s (relative), beyond {beyond}."]
    if parted:
        lines.append(f"  {parted}")
    lines += [f"  also {o.kind} {o.layer} of {o.backend} after {o.step:,} steps: {o.relative:.3g} (relative)"
              for o in first[1:4]]
    if len(first) > 4:
        lines.append(f"  and {len(first) - 4} more at that step (the table 'where they part')")
    if cause:
        lines.append(f"  likely cause: {cause['sentence']}")
    return "\n".join(lines)


def _own_state(backends: list[Backend], key: str) -> str:
    """For a network that keeps its optimizer state to itself, a line saying what the race compared of it."""
    network = next(b.network for b in backends if b.key == key)
    if not keeps_state_to_itself(network):
        return ""
    return (f"\n  {key} keeps its optimizer state to itself (no get_optimizer_state/set_optimizer_state): each of "
            "its steps was checked from the reference's weights and a fresh optimizer state on both sides, its "
            "twins carry its own state (deep copies), and its state is not compared.")


def _own_dtype(backend: Backend, data: Dataset, dtype: str) -> str:
    """For a user's network that computes in another dtype than the run's, a line saying so."""
    user = backend.network.network
    stated = network_dtype(user)
    computed = computing_dtype(user, stated, scale_inputs(data.train_images[:1], dtype)[0])
    if computed == stated:
        return ""
    return f"\n  {dtype_words(user, stated, computed)}; it raced in {computed.name} beside the others' {dtype}."


def _check_users_networks(config: Config, backends: list[Backend], data: Dataset,
                          target_values, recipe: Recipe) -> tuple[Backend, dict] | None:
    """Each network of the user's own, before anything is trained: its conformance, one sentence (a
    ConformanceError) for a missing method, a wrong return, or an exception in its code; then
    :func:`compare.check_network` at its starting weights, one sample and a batch whatever
    ``--batch-size`` is, so that a mistake only a batch shows (a sum for the mean) is found at one
    sample a step too. check_network trains copies of a twin, so that the racing network takes no
    step before the race. Returns the first network that check_network fails, with its report's record."""
    inputs = scale_inputs(data.train_images[:CONFORMANCE_SAMPLES], config.dtype)
    targets = one_hot_targets(data.train_labels[:CONFORMANCE_SAMPLES], config.dtype, values=target_values)
    for backend in backends:
        if is_user_network(backend.package):
            user = backend.network.network
            # in the dtype it computes in: float64, where NumPy promotes a network asked for float32
            check_conformance(user, inputs, targets, computing_dtype(user, network_dtype(user), inputs[0]))
            twin = make_probe(backend, config.lr, config.dtype)
            restore(twin.network, snapshot(user))  # check_network trains copies of it, from its starting state
            report = check_network(twin.network, batch_size=CONFORMANCE_SAMPLES)
            if not report.passed:
                return backend, report.to_json()
    return None


# check_network's rows, in its report's words
CHECK_KINDS = {"loss": "train() loss", "again": "gradients() again", "state": "optimizer state"}


def _refuse(result: RunResult, backend: Backend, report: dict) -> None:
    """A run that ends before the race: ``backend`` failed check_network at its starting weights. The
    failure becomes the agreement's one failed check, and the report's record its diagnosis."""
    first, cause = report["first_failure"], report["cause"]
    samples = "one sample" if first["mode"] == "single" else f"a batch of {report['batch_size']}"
    call = f", train() call {first['call']}" if first.get("call") is not None else ""
    worst = first.get("worst")
    mine, theirs = (worst[1], worst[2]) if worst else (math.nan, math.nan)
    cosine = first["cosine"] if first["cosine"] is not None else float(np.sign(mine) == np.sign(theirs))
    result.agreement.compare("check_network", first["layer"], backend.key, 0, 0, None, None, first["tolerance"],
                             numbers=dict(max_abs=abs(mine - theirs), relative=first["relative"], cosine=cosine,
                                          norm_ratio=first["ratio"]))
    result.status = "disagreed"
    result.diagnosis = {"backend": backend.key, "step": 0, "before_race": True, **report}
    theirs_name = report["reference"]
    if theirs_name.startswith("torch_impl"):  # a step and the state are torch.optim's, the rest autograd's
        theirs_name = "torch.optim" if first["kind"] in ("state", "step 1", "steps 2-5") else "autograd"
    result.message = (f"{backend.key} fails compare.check_network at its starting weights, before the race: "
                      f"{CHECK_KINDS.get(first['kind'], first['kind'])} {first['layer']} for {samples}{call} is "
                      f"{first['relative']:.3g} from {theirs_name}'s (relative), beyond the tolerance "
                      f"{first['tolerance']:.3g}.")
    if cause:
        label = "what was seen" if cause["name"] == "unexplained" else "likely cause"
        result.message += f"\n  {label}: {cause['sentence']}"


def _diagnose(config: Config, backends: list[Backend], probes: dict, failure, at: tuple | None = None) -> dict:
    """:func:`compare.check_network` on the backend that disagreed, at the reference's weights at
    that moment, against the reference: where, layer by layer, and most likely why. ``at``: where a
    retrained segment found the runs parting (:class:`Disagreement`), the check runs there, on the
    samples from that step on."""
    reference = backends[0]
    probe = probes[failure.backend]
    network = probe.network if isinstance(probe, Guarded) else probe
    state, samples, step = at[1:] if at and at[0] == failure.backend else (snapshot(reference.network), None,
                                                                           failure.step)
    restore(network, state)
    report = check_network(network, batch_size=max(config.batch_size, 2), reference=probes[reference.key],
                           samples=samples)
    return {"backend": failure.backend, "step": step, **report.to_json()}


def _saturation(backend: Backend, data: Dataset, scorecards: dict[str, Scorecard]) -> dict:
    """:func:`compare.race.saturation.saturation` of ``backend``'s final weights on the test images."""
    state = snapshot(backend.network)
    measured = saturation(state.weights, Architecture.of(backend.network), scale_inputs(data.test_images[:1000]),
                          scorecards[backend.key].accuracy, data.test_labels, state.buffers)
    return {**measured, "backend": backend.key}


def _timed_segment(backend: Backend, inputs, targets, batch, n_steps, first_step, epoch) -> None:
    """Train one segment, timed; count what was done even when Ctrl-C cuts it short."""
    x, t = backend.prepare(inputs), backend.prepare(targets)
    progress = Progress(np.empty(n_steps))
    begin = time.perf_counter()
    try:
        train_segment(backend.network, x, t, batch, progress)
    finally:
        backend.sync()
        backend.train_seconds += time.perf_counter() - begin
        backend.steps += progress.done
        backend.samples += min(progress.done * batch, len(inputs))
    losses = progress.losses
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size or not all(np.isfinite(w).all() for w in backend.network.get_weights()):
        where = first_step + (int(bad[0]) if bad.size else n_steps - 1)
        raise DivergenceError(
            f"Training diverged in {backend.key} at step {where + 1:,} (epoch {epoch + 1}): "
            f"{'the loss' if bad.size else 'a weight'} became non-finite. Try a smaller --lr.")
    backend.record_losses(first_step, losses)


def _layers(backend: Backend) -> list[str]:
    return Architecture.of(backend.network).parameter_names()


def _check_step(config, agreement, backends, probes, inputs, targets, step, epoch,
                state: TrainingState | None = None) -> dict[str, list[float]]:
    """The implementation: gradients, and one step, of each backend from the reference's weights
    and optimizer state (``state``, the reference's where the runs parted; by default its current one).
    A network that keeps its optimizer state to itself (:func:`compare.state.keeps_state_to_itself`)
    cannot be handed the reference's: a fresh twin of it and the reference both take the step from a
    fresh optimizer state (step 0) instead, the same step, at the same weights.

    Returns, per other backend and layer, how far apart the weights were after that one step
    (relative to the largest weight): the rounding the backends add in a step, measured.
    """
    apart = {}
    reference = backends[0]
    layers = _layers(reference)
    architecture = Architecture.of(reference.network)
    output_layer = architecture.per_layer(layers)[-1]  # its weight (and bias)
    partners = architecture.floor_partners()  # a gradient that is exactly 0 is measured at its weight's scale
    source = reference.network
    if state is None:
        state = snapshot(reference.network)
    else:
        source = probes[reference.key]
        restore(source, state)
    expected = source.gradients(inputs, targets)
    # Gradients are linear in o − t, which cancels where the batch is answered almost exactly.
    gradient_tolerance = agreement.tolerance.single * output_error_condition(source.query(inputs), targets)
    buffers = architecture.buffer_names()  # running statistics: each step moves them, compared as a step
    expected_steps = {}  # per start: the reference's step, its buffers after it, and its rounding

    def reference_step(start: TrainingState) -> tuple[list, list, list[float]]:
        if id(start) not in expected_steps:
            twin = probes[reference.key]
            expected_step = one_step(twin, start, inputs, targets, reference.prepare)
            expected_buffers = twin.get_buffers() if buffers else []
            # Adam and RMSprop amplify rounding in a step: the tolerance grows with what a nudge does.
            rounding = step_rounding(twin, start, inputs, targets, agreement.tolerance, expected_step,
                                     seed=config.seed + step, prepare=reference.prepare,
                                     gradients=expected if start is state else None)
            expected_steps[id(start)] = (expected_step, expected_buffers, rounding)
        return expected_steps[id(start)]

    fresh = None  # the reference's weights with a fresh optimizer state, for a network that keeps its own to itself
    for backend in backends[1:]:
        probe, start = probes[backend.key], state
        if keeps_state_to_itself(probe):  # its state cannot be loaded: both take the step from a fresh one
            fresh = fresh or replace(state, optimizer=fresh_state(Recipe.of(reference.network),
                                                                  architecture.parameter_shapes(), config.dtype))
            probe, start = make_probe(backend, config.lr, config.dtype), fresh
        restore(probe, start)
        got = probe.gradients(inputs, targets)
        for layer, mine, theirs, floor in zip(layers, got, expected, floors(expected, partners)):
            if config.rule == "book":
                # The reference is the book's rule, the probe the true gradient at the same weights:
                # the output layer must match; the hidden layers are the departure being measured.
                tol = gradient_tolerance if layer in output_layer else None
                agreement.compare("book step", layer, backend.key, step, epoch, theirs, mine, tol)
            else:
                agreement.compare("gradient", layer, backend.key, step, epoch, mine, theirs, gradient_tolerance,
                                  numbers=measure(mine, theirs, floor))
        if config.rule == "true":
            expected_step, expected_buffers, rounding = reference_step(start)
            stepped = one_step(probe, start, inputs, targets, backend.prepare)
            for layer, mine, theirs, before, measured, floor in zip(
                    layers, stepped, expected_step, start.weights, rounding,
                    step_floors(expected_step, start.weights, partners)):
                agreement.compare("step", layer, backend.key, step, epoch, mine, theirs,
                                  step_tolerance(agreement.tolerance.single, measured),
                                  numbers=measure_step(mine, theirs, before, agreement.tolerance, floor))
            # The buffers after the step, as values: a running mean moves by momentum · (batch mean − running),
            # which can be far smaller than the batch mean's own rounding (a sum over n·H·W numbers per channel).
            for name, mine, theirs in zip(buffers, probe.get_buffers() if buffers else [], expected_buffers):
                agreement.compare("step", name, backend.key, step, epoch, mine, theirs, agreement.tolerance.single)
            apart[backend.key] = differences(stepped, expected_step, partners)
    if agreement.failures:
        raise Disagreement(agreement)
    return apart


def _step_agrees(config, agreement, backends, probes, inputs, targets, step, epoch, state: TrainingState) -> bool:
    """:func:`_check_step` from ``state``, its checks recorded in ``agreement``: whether they all pass."""
    try:
        _check_step(config, agreement, backends, probes, inputs, targets, step, epoch, state=state)
    except Disagreement:
        return False
    return True


def _drifts(backends) -> dict[str, list[float]]:
    """Each other backend's distance from the reference, per layer."""
    reference = backends[0].network.get_weights()
    partners = Architecture.of(backends[0].network).floor_partners()
    return {b.key: differences(b.network.get_weights(), reference, partners) for b in backends[1:]}


def _check_trajectory(config, agreement, backends, probes, last: Segment | None, step: int,
                      resync: bool = True) -> None:
    """The free-running weights against the reference's; a drift beyond the tolerance is judged
    against the run's sensitivity to rounding over the last segment (``last``). Once the run is
    known to be sensitive, the others restart from the reference's weights (unless ``resync`` is
    False: after the last segment each keeps its own, to be tested)."""
    if last is None:  # nothing trained yet
        return
    reference = backends[0]
    layers = _layers(reference)
    reference_state = snapshot(reference.network)
    reference_weights = reference_state.weights
    partners = Architecture.of(reference.network).floor_partners()
    weight_floors = floors(reference_weights, partners)
    tol = agreement.tolerance.trajectory
    growth = None
    parted = None  # where a departure that is not a branch was found: for check_network's table there
    for backend in backends[1:]:
        mine = backend.network.get_weights()
        drift = differences(mine, reference_weights, partners)
        bounds, at_branch = [None] * len(layers), False
        if max(drift) > tol:  # every step so far agreed, or the run has stopped
            twin, train = probes[reference.key], _retrain(config, reference, last, step)
            if growth is None:
                growth = sensitivity.measure_growth(twin, train, last.state, reference_weights,
                                                    seed=config.seed + step)
            other = last.others[backend.key]
            if other.carried is not None:  # its own state cannot go into torch's twin: the reference's, at its weights
                other = replace(other, optimizer=last.state.optimizer, carried=None)
            grown = sensitivity.regrow(twin, train, other, reference_weights, last.drift[backend.key])
            measured = sensitivity.judge(backend.key, last.start, step - last.start, layers, *growth,
                                         last.apart[backend.key], last.drift[backend.key], grown, drift)
            if not measured.explained:  # beyond the estimate: find where the runs parted, and check that step
                found = retrace.search_segment(config, agreement, backends, probes, last, step, backend,
                                               measured.bound, _step_agrees)
                measured = replace(measured, search=found.to_json())
                if found.found is not None and parted is None:
                    parted = (backend.key, *retrace.samples_from(config, last, *found.found))
            agreement.sensitivity.append(measured)
            bounds, at_branch = measured.bound, measured.explained_by == "branch"
        for layer, m, r, bound, floor in zip(layers, mine, reference_weights, bounds, weight_floors):
            agreement.compare("weights", layer, backend.key, step, last.epoch, m, r, tol, rounding_bound=bound,
                              at_branch=at_branch, numbers=measure(m, r, floor))
    if agreement.failures:
        raise Disagreement(agreement, parted)
    if agreement.sensitive and resync:  # re-synchronise: the next segment starts the backends from identical states
        for backend in backends[1:]:
            restore(backend.network, reference_state)


def _retrain(config, reference: Backend, last: Segment, step: int):
    """A function that trains a network over the last segment as the reference did."""
    def train(network) -> None:
        n_steps = step - last.start
        rows = n_steps * config.batch_size
        train_segment(network, reference.prepare(last.inputs[:rows]), reference.prepare(last.targets[:rows]),
                      config.batch_size, Progress(np.empty(n_steps)))
    return train


def _compare_outputs(agreement, reference, others, outputs, step, epoch, at_their_weights=None) -> None:
    """Test outputs and answers against the reference's; counted, not judged, when the last segment's
    drift needed rounding's growth to explain it (the networks are then that far apart).

    Outputs magnify the weights' drift, which the weights check has judged already: where they part
    beyond the trajectory tolerance, ``at_their_weights(backend)`` (the reference's own outputs at that
    backend's weights) splits the difference into the weights' part, what the reference itself answers
    at the other's weights, and the backends' part, the other's outputs against those, which must lie
    within the single tolerance. The check then passes within the sum."""
    judged = not any(s.explained and s.start + s.steps == step for s in agreement.sensitivity)
    tol = agreement.tolerance.trajectory
    for backend in others:
        bound = None
        if judged and at_their_weights is not None and relative_difference(
                outputs[backend.key], outputs[reference.key]) > tol:
            theirs = at_their_weights(backend)
            if relative_difference(outputs[backend.key], theirs) <= agreement.tolerance.single:
                bound = relative_difference(theirs, outputs[reference.key]) + agreement.tolerance.single
        agreement.compare("test outputs", "all", backend.key, step, epoch, outputs[backend.key],
                          outputs[reference.key], tol if judged else None, rounding_bound=bound)
        agreement.predictions[backend.key] = compare_predictions(outputs[backend.key], outputs[reference.key],
                                                                 tol, judged)


def _outputs_at(twin, reference: Backend, backend: Backend, data: Dataset, dtype: str) -> np.ndarray:
    """The reference's outputs on every test image at ``backend``'s weights (and buffers): its twin's."""
    restore(twin, snapshot(backend.network))
    outputs = [twin.query(reference.prepare(scale_inputs(data.test_images[start:start + TEST_CHUNK], dtype)))
               for start in range(0, len(data.test_labels), TEST_CHUNK)]
    return np.concatenate(outputs) if outputs else np.empty((0, twin.output_nodes), dtype)


def _evaluate(backend: Backend, data: Dataset, dtype: str) -> np.ndarray:
    """Query every test image, in chunks; the time goes to ``backend.test_seconds``."""
    outputs = []
    for start in range(0, len(data.test_labels), TEST_CHUNK):
        inputs = backend.prepare(scale_inputs(data.test_images[start:start + TEST_CHUNK], dtype))
        begin = time.perf_counter()
        outputs.append(backend.network.query(inputs))
        backend.sync()
        backend.test_seconds += time.perf_counter() - begin
    return np.concatenate(outputs) if outputs else np.empty((0, backend.network.output_nodes), dtype)
