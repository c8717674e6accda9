"""The side-by-side run: both backends from identical weights, on identical samples, checked
as they go and timed.

Training alternates in segments of ``check_every`` steps: backend A trains a segment, then
backend B trains the same segment, then the two are compared. Each backend therefore runs
uninterrupted for long stretches (its caches and thread pool are its own while it is timed),
and a disagreement is caught within one segment of where it began.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from common.data import Dataset, one_hot_targets, scale_inputs
from common.errors import DivergenceError
from common.scorecard import Scorecard
from common.tolerances import tolerance
from common.weights import initial_weights
from compare.backends import Backend, make_backends, make_probe, train_segment
from compare.checks import Agreement, compare_predictions
from compare.config import Config
from compare.environment import describe

LAYERS = ("W_ih", "W_ho")
TEST_CHUNK = 1000
# Test-only hook, not a user option: "torch_impl@3000" nudges that backend's W_ih at the
# first segment that starts at or after step 3000, so the tests can see a disagreement caught;
# "torch_impl@3000:nan" plants a nan there instead, to see a divergence caught.
PERTURB_ENV = "COMPARE_TEST_PERTURB"


class Disagreement(Exception):
    """A check found the backends further apart than the tolerance."""


@dataclass
class RunResult:
    """What one run (one hidden size) measured, however it ended."""

    hidden: int
    backends: list[Backend]
    agreement: Agreement | None
    status: str = "completed"  # completed | disagreed | diverged | interrupted
    message: str | None = None
    scorecards: dict[str, Scorecard] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Steps every backend has completed (after Ctrl-C, one may be a little ahead)."""
        return min((b.steps for b in self.backends), default=0)


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
            for hidden in config.hidden:
                results.append(run_one(config, data, hidden))
                if results[-1].status != "completed":
                    break
    finally:
        torch.set_num_threads(previous_threads)
    return results, environment


def run_one(config: Config, data: Dataset, hidden: int) -> RunResult:
    backends = make_backends(config.backends, config.devices, hidden, config.lr, config.dtype, config.rule)
    weights = initial_weights(config.input_nodes, hidden, config.output_nodes, config.seed, config.dtype)
    for backend in backends:
        backend.network.set_weights(weights)
    reference, others = backends[0], backends[1:]
    agreement = Agreement(tolerance(config.dtype), reference.key) if others else None
    probes = {b.key: make_probe(b, config.lr, config.dtype) for b in others}
    result = RunResult(hidden, backends, agreement)
    bars = [tqdm(total=config.epochs * len(data.train_labels), desc=f"{b.key:<18}", unit="sample",
                 disable=not config.progress, position=i, leave=True) for i, b in enumerate(backends)]
    perturb = _perturbation()
    try:
        _train(config, data, backends, probes, agreement, bars, perturb)
        if agreement and config.rule == "true":
            _compare_weights(agreement, backends, result.steps, config.epochs - 1)
        outputs = {b.key: _evaluate(b, data, config.dtype) for b in backends}
        result.scorecards = {k: Scorecard.from_outputs(o, data.test_labels) for k, o in outputs.items()}
        if agreement and config.rule == "true":
            _compare_outputs(agreement, reference, others, outputs, result.steps, config.epochs - 1)
            if not agreement.passed:
                raise Disagreement(agreement)
    except Disagreement:
        result.status = "disagreed"
        result.message = "The backends disagree beyond the tolerance: " + "; ".join(
            c.describe() for c in agreement.failures[:3]) if agreement.failures else \
            "The backends answer differently on test images where no near-tie explains it."
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


def _train(config, data, backends, probes, agreement, bars, perturb) -> None:
    batch, n_train = config.batch_size, len(data.train_labels)
    segment = config.check_every * batch
    step = 0  # steps done by every backend, counted from the start of the run
    shuffle = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        order = shuffle.permutation(n_train) if config.shuffle else None
        started = {b.key: b.train_seconds for b in backends}
        for start in range(0, n_train, segment):
            rows = slice(start, start + segment) if order is None else order[start:start + segment]
            inputs = scale_inputs(data.train_images[rows], config.dtype)
            targets = one_hot_targets(data.train_labels[rows], config.dtype)
            if agreement:
                _check_step(config, agreement, backends, probes, inputs[:batch], targets[:batch], step, epoch)
            if perturb and step >= perturb[1]:
                _nudge(next(b for b in backends if b.key == perturb[0]), perturb[2])
                perturb = None
            n_steps = math.ceil(len(inputs) / batch)
            for backend, bar in zip(backends, bars):
                _timed_segment(backend, inputs, targets, batch, np.empty(n_steps), step, epoch)
                bar.update(len(inputs))
            step += n_steps
        for backend in backends:
            backend.epoch_seconds.append(backend.train_seconds - started[backend.key])


def _timed_segment(backend: Backend, inputs, targets, batch, losses, first_step, epoch) -> None:
    """Train one segment, timed; count what was done even when Ctrl-C cuts it short."""
    x, t = backend.prepare(inputs), backend.prepare(targets)
    losses[:] = np.nan  # a step's slot fills when its train() returns
    begin = time.perf_counter()
    try:
        train_segment(backend.network, x, t, batch, losses)
    finally:
        backend.sync()
        backend.train_seconds += time.perf_counter() - begin
        done = int(np.argmax(np.isnan(losses))) if np.isnan(losses).any() else len(losses)
        backend.steps += done
        backend.samples += min(done * batch, len(inputs))
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size or not all(np.isfinite(w).all() for w in backend.network.get_weights()):
        where = first_step + (int(bad[0]) if bad.size else len(losses) - 1)
        raise DivergenceError(
            f"Training diverged in {backend.key} at step {where + 1:,} (epoch {epoch + 1}): "
            f"{'the loss' if bad.size else 'a weight'} became non-finite. Try a smaller --lr.")
    backend.loss_curve.append((first_step + len(losses), float(losses.mean())))


def _check_step(config, agreement, backends, probes, inputs, targets, step, epoch) -> None:
    """Gradients at identical weights (the reference's), and the weights of the two runs."""
    reference = backends[0]
    weights = reference.network.get_weights()
    expected = reference.network.gradients(inputs, targets)
    for backend in backends[1:]:
        probe = probes[backend.key]
        probe.set_weights(weights)
        got = probe.gradients(inputs, targets)
        for layer, mine, theirs in zip(LAYERS, got, expected):
            if config.rule == "book":
                # The reference is the book's rule, the probe the true gradient at the same weights:
                # the output layer must match; the hidden layer is the departure being measured.
                tol = tolerance(config.dtype).single if layer == "W_ho" else None
                agreement.compare("book step", layer, backend.key, step, epoch, theirs, mine, tol)
            else:
                agreement.compare("gradient", layer, backend.key, step, epoch, mine, theirs,
                                  agreement.tolerance.single)
    if config.rule == "true":
        _compare_weights(agreement, backends, step, epoch, weights)
    if agreement.failures:
        raise Disagreement(agreement)


def _compare_weights(agreement, backends, step, epoch, reference_weights=None) -> None:
    reference_weights = reference_weights or backends[0].network.get_weights()
    for backend in backends[1:]:
        for layer, mine, theirs in zip(LAYERS, backend.network.get_weights(), reference_weights):
            agreement.compare("weights", layer, backend.key, step, epoch, mine, theirs,
                              agreement.tolerance.trajectory)
    if agreement.failures:
        raise Disagreement(agreement)


def _compare_outputs(agreement, reference, others, outputs, step, epoch) -> None:
    for backend in others:
        agreement.compare("test outputs", "all", backend.key, step, epoch, outputs[backend.key],
                          outputs[reference.key], agreement.tolerance.trajectory)
        agreement.predictions[backend.key] = compare_predictions(
            outputs[backend.key], outputs[reference.key], agreement.tolerance.trajectory)


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


def _perturbation() -> tuple[str, int] | None:
    value = os.environ.get(PERTURB_ENV)
    if not value:
        return None
    key, _, rest = value.partition("@")
    step, _, how = rest.partition(":")
    return key, int(step or 0), how or "nudge"


def _nudge(backend: Backend, how: str) -> None:
    """"nudge": scale one row of W_ih by 1.001; "nan": make the loss non-finite from here on."""
    weights = backend.network.get_weights()
    weights[0][0] *= 1.001
    backend.network.set_weights(weights)
    if how == "nan":  # set_weights refuses nan, as it should: go around it, as a bug would
        layer = getattr(backend.network, "wih", None)
        if layer is None:
            backend.network.model.wih.weight.data[0, 0] = float("nan")
        else:
            layer[0, 0] = np.nan
