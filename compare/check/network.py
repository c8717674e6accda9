"""``check_network``: a user's network against autograd and torch.optim, layer by layer, with a likely cause.

At the network's current weights and optimizer state, on a few real MNIST training images, once
for one sample and once for a batch, the network and ``torch_impl.Network`` (autograd and
torch.optim) built with the same architecture, recipe and weights are compared on

- the outputs of ``query``;
- the intermediate gradients dL/dz and dL/dh, where the network offers ``intermediate_gradients``;
- the gradients, per parameter;
- ``STEPS`` ``train`` steps, each from the same weights, the reference's optimizer state carried
  from step to step by torch.optim as the network's own is (so momentum, bias correction and a
  schedule show), and the loss ``train`` returns;
- the optimizer state after those steps, where the network offers ``get_optimizer_state``;
- and the network against itself: a second ``gradients`` call on the same batch, and the
  weights after the ``gradients`` calls.

Each comparison gives the relative difference ``max|mine − theirs| / max|theirs|``, the cosine
and the length ratio ``|mine| / |theirs|`` (:func:`common.tolerances.measure`), against the
single tolerance of :mod:`common.tolerances` (a step's widened where the recipe amplifies
rounding, as measured). :mod:`compare.check.diagnosis` reads the numbers for a likely cause, and
:mod:`compare.check.mistakes.recipe` replays the recorded steps as each classic recipe mistake would take them.

The network itself is left as it was: the checks run on deep copies of it. A network that cannot
be copied is checked in place and its weights (and optimizer state, where it offers the methods)
are put back; the report says which.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from common.architecture import Architecture
from common.data import load_embedded, scale_inputs
from common.errors import ConformanceError, ParameterError
from common.recipe import Recipe, check_optimizer_state, fresh_state
from common.tolerances import (floors, loss_difference, measure, measure_step, output_error_condition,
                               relative_difference, step_floors, step_tolerance, tolerance)
from common.validation import check_positive_int
from compare.conformance import (architecture_of, call_user, check_array, check_arrays, check_conformance,
                                 check_intermediates, check_loss, computing_dtype, dtype_words, network_dtype,
                                 recipe_of)
from compare.check.diagnosis import Cell, Evidence, Row, diagnose, first_failure, recipe_sentence
from compare.check.mistakes import BUFFERS, GRADIENTS, OUTPUTS, Hypothesis, fitting
from compare.check.mistakes.recipe import FIT_MARGIN, StepRecord, candidates, gradient_of, misfit, steps_of
from compare.check.report import NetworkReport
from compare.check.where import backward_path
from compare.state import (TrainingState, has_buffer_methods, has_state_methods, keeps_state_to_itself, restore,
                           snapshot, step_rounding)

STEPS = 5  # train() calls per mode: enough for bias correction, momentum and a schedule to show
MNIST_SHAPE = (784, 10)


@lru_cache(maxsize=1)
def _mnist(count: int) -> tuple[np.ndarray, np.ndarray]:
    data = load_embedded()
    return data.train_images[:count].copy(), data.train_labels[:count].copy()


def _given(samples: tuple[np.ndarray, np.ndarray], count: int, dtype: np.dtype,
           shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The ``samples`` check_network was given, checked: at least ``count`` rows of the network's
    ``shape`` (its inputs and outputs: MNIST's 784 and 10, or a model's own, compare.check.model)."""
    inputs, targets = (np.asarray(a, dtype=dtype) for a in samples)
    if inputs.ndim != 2 or targets.ndim != 2 or (inputs.shape[1], targets.shape[1]) != shape \
            or len(inputs) != len(targets) or len(inputs) < count:
        raise ParameterError(f"The 'samples' parameter must be inputs of shape (m, {shape[0]}) and targets of shape "
                             f"(m, {shape[1]}), m >= {count} (5 steps of the batch). Got {inputs.shape} and "
                             f"{targets.shape} instead.")
    return inputs, targets


def _targets(labels: np.ndarray, architecture: Architecture, dtype: np.dtype) -> np.ndarray:
    off, on = architecture.target_values
    targets = np.full((len(labels), architecture.output_nodes), off, dtype=dtype)
    targets[np.arange(len(labels)), labels] = on
    return targets


class _Checked:
    """A network whose every call goes through :func:`call_user` and has its result checked."""

    def __init__(self, network: Any, architecture: Architecture, recipe: Recipe, dtype: np.dtype) -> None:
        self.network, self.architecture, self.recipe, self.dtype = network, architecture, recipe, dtype
        self.name = type(network).__name__
        self.names, self.shapes = architecture.parameter_names(), architecture.parameter_shapes()
        self.has_intermediates = callable(getattr(network, "intermediate_gradients", None))
        self.has_state = has_state_methods(network)
        self.has_buffers = bool(architecture.buffers()) and has_buffer_methods(network)
        # one sample and a batch; a batch alone where a layer normalizes over the batch (min_batch)
        self.modes = ("batch",) if architecture.min_batch[0] > 1 else ("single", "batch")
        self.calls = 0  # train() calls so far

    def _call(self, method: str, *args: Any) -> Any:
        return call_user(f"{self.name}.{method}", getattr(self.network, method), *(np.copy(a) for a in args))

    def get_weights(self) -> list[np.ndarray]:
        return check_arrays(self._call("get_weights"), self.names, self.shapes, self.dtype, f"{self.name}.get_weights")

    def set_weights(self, weights: list[np.ndarray]) -> None:
        call_user(f"{self.name}.set_weights", self.network.set_weights, [w.copy() for w in weights])

    def get_buffers(self) -> list[np.ndarray] | None:
        if not self.has_buffers:
            return None
        return check_arrays(self._call("get_buffers"), self.architecture.buffer_names(),
                            self.architecture.buffer_shapes(), self.dtype, f"{self.name}.get_buffers")

    def set_buffers(self, buffers: list[np.ndarray]) -> None:
        call_user(f"{self.name}.set_buffers", self.network.set_buffers, [b.copy() for b in buffers])

    def state(self, optimizer: dict[str, Any] | None) -> TrainingState:
        """The network's place now, with ``optimizer`` as the optimizer's state."""
        seed = getattr(self.network, "layer_seed", None)
        return TrainingState(self.get_weights(), optimizer, self.get_buffers(), None if seed is None else int(seed))

    def get_optimizer_state(self) -> dict[str, Any]:
        state = call_user(f"{self.name}.get_optimizer_state", self.network.get_optimizer_state)
        try:
            return check_optimizer_state(state, self.recipe, self.names, self.shapes, self.dtype,
                                         f"optimizer state {self.name}.get_optimizer_state returned")
        except ParameterError as error:
            raise ConformanceError(str(error)) from None

    def set_optimizer_state(self, state: dict[str, Any]) -> None:
        call_user(f"{self.name}.set_optimizer_state", self.network.set_optimizer_state, copy.deepcopy(state))

    def query(self, x: np.ndarray) -> np.ndarray:
        return check_array(self._call("query", x), x.shape[:-1] + (self.architecture.output_nodes,), self.dtype,
                           f"{self.name}.query")

    def gradients(self, x: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        return check_arrays(self._call("gradients", x, t), self.names, self.shapes, self.dtype,
                            f"{self.name}.gradients")

    def intermediates(self, x: np.ndarray, t: np.ndarray) -> dict[str, list[np.ndarray]]:
        return check_intermediates(self._call("intermediate_gradients", x, t), self.architecture,
                                   x.shape[0] if x.ndim == 2 else None, self.dtype,
                                   f"{self.name}.intermediate_gradients")

    def train(self, x: np.ndarray, t: np.ndarray) -> float:
        self.calls += 1
        return check_loss(self._call("train", x, t), f"{self.name}.train")


class _Copies:
    """Where the checks run: deep copies of the network, or the network itself, put back afterwards; or,
    for a network that keeps its optimizer state to itself (:func:`compare.state.keeps_state_to_itself`),
    fresh instances of its class at its weights, so that its state and torch.optim's start alike, at step 0."""

    def __init__(self, network: Any, recipe: Recipe, architecture: Architecture, dtype: np.dtype) -> None:
        self.original, self.recipe, self.in_place = network, recipe, False
        self.build, self.unbuilt = None, ""
        if keeps_state_to_itself(network):
            self.build, self.unbuilt = self._builder(architecture, dtype)
            if self.build is not None:
                return
        try:
            self.base = copy.deepcopy(network)
        except Exception as error:  # noqa: BLE001 (whatever stops a copy, the check can go on in place)
            name = type(network).__name__
            if self.unbuilt:
                raise ConformanceError(
                    f"{name} cannot be copied (copy.deepcopy raised {type(error).__name__}: {error}), cannot be built "
                    f"afresh ({self.unbuilt}) and has no get_optimizer_state/set_optimizer_state, so check_network "
                    f"could not give back the state of its {recipe.describe()} after training it: make it copyable "
                    "or give it those methods.") from None
            self.in_place, self.why = True, f"{type(error).__name__}: {error}"
            self.saved = snapshot(network)

    def _builder(self, architecture: Architecture, dtype: np.dtype) -> tuple[Callable[[], Any] | None, str]:
        """A function that builds the network's class afresh at its weights (buffers, layer seed), as the race
        builds it; or None, and why not."""
        from compare.plugins import build_network

        network = self.original
        seed = getattr(network, "layer_seed", None)
        place = TrainingState(call_user(f"{type(network).__name__}.get_weights", network.get_weights), None,
                              network.get_buffers() if has_buffer_methods(network) else None,
                              None if seed is None else int(seed))

        def build() -> Any:
            twin = build_network(type(network), architecture, float(network.lr), dtype.name, self.recipe)
            restore(twin, place)
            return twin

        try:
            build()
        except ParameterError as error:  # its constructor does not take the library's arguments
            return None, str(error).splitlines()[0]
        return build, ""

    def fresh(self) -> Any:
        """The network as it was given (a fresh instance at its weights, where it keeps its state to itself)."""
        if self.build is not None:
            return self.build()
        if self.in_place:
            restore(self.original, self.saved)
            return self.original
        return copy.deepcopy(self.base)

    def put_back(self) -> None:
        if self.in_place:
            restore(self.original, self.saved)

    def words(self) -> str:
        name = type(self.original).__name__
        if self.build is not None:
            return (f"on fresh instances of {name} built as the race builds it (compare.plugins.build_network), "
                    "given the network's weights: it keeps its optimizer state to itself (no get_optimizer_state), "
                    "so it and torch.optim both start from a fresh one; the network itself was not touched")
        if self.unbuilt:
            return (f"on copies of the network (copy.deepcopy), whose optimizer state, kept to itself, is taken to "
                    f"be fresh, as torch.optim's (a fresh {name} could not be built: {self.unbuilt}); if the network "
                    "has trained, its steps are compared from another state than torch.optim's")
        if not self.in_place:
            return "on copies of the network (copy.deepcopy); the network itself was not touched"
        what = "weights and optimizer state" if has_state_methods(self.original) else "weights"
        return f"in place, as the network cannot be copied ({self.why}); its {what} were put back"


def _cell(mine: np.ndarray, theirs: np.ndarray, limit: float, call: int | None = None,
          numbers: dict | None = None, floor: float = 0.0) -> Cell:
    numbers = numbers or measure(mine, theirs, floor)
    mine = np.asarray(mine)
    bad = np.flatnonzero(~np.isfinite(mine.ravel()))
    nonfinite = None
    if bad.size:
        index = np.unravel_index(int(bad[0]), mine.shape)
        nonfinite = (tuple(int(i) for i in index), float(mine[index]))
    passed = numbers["relative"] <= limit and nonfinite is None
    worst = None
    if not passed and nonfinite is None:
        theirs = np.asarray(theirs)
        index = np.unravel_index(int(np.argmax(np.abs(mine.astype(np.float64) - theirs))), mine.shape)
        worst = (tuple(int(i) for i in index), float(mine[index]), float(theirs[index]))
    return Cell(numbers["relative"], numbers["cosine"], numbers["norm_ratio"], limit, passed, worst, call, nonfinite)


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])


def check_network(network: Any, batch_size: int = 8, reference: Any = None,
                  samples: tuple[np.ndarray, np.ndarray] | None = None) -> NetworkReport:
    """Check ``network`` against autograd and torch.optim at its current weights, on real MNIST images.

    Parameters
    ----------
    network : object
        Anything with the Network protocol's attributes (``input_nodes``, ``hidden_nodes``,
        ``output_nodes``, ``lr``, ``dtype``; ``activation``, ``loss``, ``bias`` where it is not
        the book's network; the recipe's ``optimizer``, ``momentum``, ... where it does not train
        by plain SGD) and methods (``set_weights``, ``get_weights``, ``query``, ``gradients``,
        ``train``; ``intermediate_gradients`` and ``get_optimizer_state``/``set_optimizer_state``
        if it has them). 784 inputs, 10 outputs (or another shape, with ``samples`` of it).
    batch_size : int, default 8
        The batch compared beside single samples.
    reference : object, optional
        The network to compare against (deep-copied, never trained itself); by default
        ``torch_impl.Network`` built with the same architecture, recipe, learning rate and
        dtype, on the CPU. One with a ``planting_twin()`` method (torch's network under another
        codebase's conventions, :mod:`compare.check.model`) builds, in float64, the network the
        catalogues' mistakes are planted in.
    samples : (ndarray of shape (m, input_nodes), ndarray of shape (m, output_nodes)), optional
        The inputs (scaled pixels) and targets to check on, in the network's dtype, ``m`` at least
        ``5 * batch_size``: the first is the one sample, the first ``batch_size`` the batch, and the
        training steps take the next ones in turn. By default the first MNIST training images; the
        race passes the samples where two runs parted.

    Returns
    -------
    NetworkReport
        ``.passed``, ``.rows``, ``.first_failure``, ``.cause``; ``print(report)`` shows the table,
        ``report.to_json()`` the record.

    Raises
    ------
    ConformanceError
        A missing method or attribute, a method returning the wrong shape, dtype or type, a
        recipe that cannot be read, or an exception inside the network's code (shown with its
        own frames).
    """
    batch_size = check_positive_int("batch_size", batch_size)
    architecture, recipe = architecture_of(network), recipe_of(network)
    least, why = architecture.min_batch
    if batch_size < least:
        raise ParameterError(f"The 'batch_size' parameter must be at least {least} for {architecture.describe()}: "
                             f"{why}. Got {batch_size} instead.")
    shape = (architecture.input_nodes, architecture.output_nodes)
    if samples is None and shape != MNIST_SHAPE:
        raise ParameterError(f"check_network feeds MNIST images, unless given samples: a network with 784 inputs and "
                             f"10 outputs. Got {shape[0]} inputs and {shape[1]} outputs instead, and no samples.")
    stated = network_dtype(network)
    if samples is None:
        images, labels = _mnist(STEPS * max(batch_size, 1))
        dtype = computing_dtype(network, stated, scale_inputs(images[0]))
        inputs, targets = scale_inputs(images, dtype), _targets(labels, architecture, dtype)
    else:
        dtype = computing_dtype(network, stated, np.asarray(samples[0])[0])
        inputs, targets = _given(samples, STEPS * batch_size, dtype, shape)
    copies = _Copies(network, recipe, architecture, stated)
    try:
        first = copies.fresh()
        check_conformance(first, inputs[:batch_size], targets[:batch_size], dtype)
        package = "torch_impl" if reference is None else type(reference).__module__.split(".")[0]
        label = f"{package} (autograd, torch.optim)" if package == "torch_impl" else package
        if reference is None:
            from compare.plugins import build_network, load_class
            reference = build_network(load_class("torch_impl"), architecture, float(network.lr), dtype.name, recipe,
                                      device="cpu")
        template = reference

        def make_reference() -> Any:
            return copy.deepcopy(template)

        evidence = _measure(copies, _Checked(first, architecture, recipe, dtype), make_reference, inputs, targets,
                            batch_size, getattr(template, "planting_twin", None))
    finally:
        copies.put_back()
    return NetworkReport(
        network=type(network).__name__, architecture=architecture.describe(), recipe=recipe.describe(),
        dtype=dtype.name, reference=label, batch_size=batch_size, tolerance=tolerance(dtype).single,
        rows=evidence.rows, first_failure=first_failure(evidence), cause=diagnose(evidence), where=copies.words(),
        state=evidence.state_words, dtype_note=dtype_words(network, stated, dtype),
        single=None if least == 1 else f"not checked: {why}; the batch's rows carry the check")


def _measure(copies: _Copies, mine: _Checked, make_reference: Callable[[], Any], inputs: np.ndarray,
             targets: np.ndarray, n: int, twin: Callable[[], Any] | None = None) -> Evidence:
    architecture, recipe, names = mine.architecture, mine.recipe, mine.names
    limit = tolerance(mine.dtype).single
    single, batch = (inputs[0], targets[0]), (inputs[:n], targets[:n])
    layers = architecture.per_layer(names)
    labels = architecture.intermediate_names()  # z_h, z_o, h (the book's) or z1, ..., h1, ...; z_conv1, h_conv1, ...
    z_labels, h_labels = labels["dLdz"], labels["dLdh"]
    start = mine.state(mine.get_optimizer_state() if mine.has_state else None)
    original = start.weights
    theirs = make_reference()
    restore(theirs, _reference_start(start, mine))
    state_words = (f"started from the network's own optimizer state (step {start.step})" if start.optimizer
                   else "started from a fresh optimizer state (step 0): the network has no get_optimizer_state"
                   + (", so its steps are compared and its optimizer state is not" if recipe.has_state else ""))

    modes = {mode: {"single": single, "batch": batch}[mode] for mode in mine.modes}
    theirs_outputs = {mode: theirs.query(x) for mode, (x, _) in modes.items()}
    outputs = {mode: _cell(mine.query(x), theirs_outputs[mode], limit) for mode, (x, _) in modes.items()}
    gradients, theirs_gradients = {}, {}
    for mode, (x, t) in modes.items():
        gradients[mode], theirs_gradients[mode] = mine.gradients(x, t), theirs.gradients(x, t)
    again = mine.gradients(*batch)
    moved = max(relative_difference(w, w0) for w, w0 in zip(mine.get_weights(), original))
    intermediates = {}
    if mine.has_intermediates and callable(getattr(theirs, "intermediate_gradients", None)):
        mine.set_weights(original)
        intermediates = {mode: (mine.intermediates(x, t), theirs.intermediate_gradients(x, t))
                         for mode, (x, t) in modes.items()}

    # Gradients are linear in o − t, which cancels where samples are answered almost exactly.
    widened = {mode: limit * output_error_condition(theirs_outputs[mode], t) for mode, (_, t) in modes.items()}

    def row(kind: str, layer: str, pick, floor=lambda mode: 0.0) -> Row:
        return Row(kind, layer, *(_cell(*pick(mode), widened[mode], floor=floor(mode)) if mode in modes else None
                                  for mode in ("single", "batch")))

    partners = architecture.floor_partners()  # a gradient that is exactly 0 (a bias a normalization cancels)
    gradient_floors = {mode: floors(theirs_gradients[mode], partners) for mode in modes}

    rows = [Row("outputs", "o", outputs.get("single"), outputs["batch"])]
    for index in reversed(range(len(layers))):  # backwards from the output, as backpropagation goes
        if intermediates:
            rows.append(row("dL/dz", z_labels[index], lambda m: (intermediates[m][0]["dLdz"][index],
                                                                    intermediates[m][1]["dLdz"][index])))
        for name in layers[index]:
            k = names.index(name)
            rows.append(row("gradient", name, lambda m: (gradients[m][k], theirs_gradients[m][k]),
                            lambda m: gradient_floors[m][k]))
        if intermediates and index > 0:
            rows.append(row("dL/dh", h_labels[index - 1], lambda m: (intermediates[m][0]["dLdh"][index - 1],
                                                                            intermediates[m][1]["dLdh"][index - 1])))
    training = _training(copies, mine, make_reference, start, inputs, targets, n, layers, widened)
    rows += training.rows
    rows.append(Row("again", "all", None, _cell(_flat(again), _flat(gradients["batch"]), limit)))
    previous = (relative_difference(_flat(gradients["batch"]), _flat(gradients["single"])) if "single" in modes
                else float("inf"))
    evidence = Evidence(rows=rows, batch_size=n, tolerance=limit, lr=float(mine.network.lr),
                        output_layer=tuple(layers[-1]), weights_moved=moved, previous=previous,
                        recipe=recipe, activation=architecture.activation if architecture.hidden_nodes else None,
                        loss=architecture.loss, state_words=state_words, path=backward_path(architecture))
    failing = evidence.failing(("gradient", "step 1", f"steps 2-{STEPS}"))
    if failing:
        evidence.hypotheses += [
            Hypothesis(mistake.name, failing[0][0].layer, recipe_sentence(mistake, recipe, n), "recipe")
            for mistake in _fitting_mistakes(recipe, architecture, start, training, gradients, theirs_gradients,
                                             original, widened)]
    evidence.hypotheses += _layer_hypotheses(mine, start, evidence, modes, gradients, widened, limit,
                                             training.first_buffers if evidence.failing(("buffers",)) else None, twin)
    return evidence


def _reference_start(start: TrainingState, mine: _Checked) -> TrainingState:
    """Where the reference starts: at the network's place; with a fresh optimizer state (step 0) where the
    network keeps its own to itself, as the fresh instances of it checked here do."""
    if start.optimizer is not None or not mine.recipe.has_state:
        return start
    return replace(start, optimizer=fresh_state(mine.recipe, mine.shapes, mine.dtype))


class _Training:
    """What the training steps measured: the rows, and each mode's record for the mistakes' replay."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.records: dict[str, list[StepRecord]] = {}
        self.afters: dict[str, list[list[np.ndarray]]] = {}
        self.tolerances: dict[str, list[list[float]]] = {}
        self.first_buffers: tuple | None = None  # (inputs, targets, the network's buffers after its first batch step)


def _training(copies: _Copies, checked: _Checked, make_reference, start: TrainingState, inputs, targets, n, layers,
              widened) -> _Training:
    """``STEPS`` train() calls per mode, from the network as it was given, each step compared with
    torch.optim's from the same weights; the reference's optimizer state evolves as the network's should.

    A step is compared as the race compares steps (:func:`common.tolerances.measure_step`), within
    ``single`` or the measured rounding of the reference's own step, whichever is larger.
    """
    architecture, recipe, names = checked.architecture, checked.recipe, checked.names
    partners = architecture.floor_partners()
    tol = tolerance(checked.dtype)
    order = [name for layer in reversed(layers) for name in layer]
    later = f"steps 2-{STEPS}"
    cells: dict[tuple[str, str, str], Cell] = {}
    losses: dict[str, Cell] = {}
    states: dict[str, list[Row]] = {}
    found = _Training()
    for mode in checked.modes:
        mine = _Checked(copies.fresh(), architecture, recipe, checked.dtype)  # its train() calls count from 1
        theirs, twin = make_reference(), make_reference()
        restore(theirs, _reference_start(start, checked))
        first_step = start.step or 0
        found.records[mode], found.afters[mode], found.tolerances[mode] = [], [], []
        for step in range(STEPS):
            rows = slice(step, step + 1) if mode == "single" else slice(step * n, (step + 1) * n)
            x, t = (inputs[rows][0], targets[rows][0]) if mode == "single" else (inputs[rows], targets[rows])
            here = mine.state(theirs.get_optimizer_state())  # the weights and buffers the step starts from
            before = here.weights
            restore(theirs, here)
            found.records[mode].append(StepRecord(before, theirs.gradients(x, t),
                                                  recipe.learning_rate(float(checked.network.lr), first_step + step)))
            loss = mine.train(x, t)
            theirs_loss = theirs.train(x, t)
            after, theirs_after = mine.get_weights(), theirs.get_weights()
            rounding = step_rounding(twin, here, x[None] if x.ndim == 1 else x, t[None] if t.ndim == 1 else t, tol,
                                     theirs_after, seed=step, gradients=found.records[mode][-1].gradient)
            limits = [step_tolerance(tol.single, r) for r in rounding]
            found.afters[mode].append(after)
            found.tolerances[mode].append(limits)
            difference = loss_difference(loss, theirs_loss, architecture.output_nodes, architecture.loss)
            finite = bool(np.isfinite(loss))
            cell = Cell(difference, None, loss / theirs_loss if theirs_loss else float("inf"), tol.single,
                        finite and difference <= tol.single, None if difference <= tol.single or not finite
                        else ((), loss, theirs_loss), mine.calls, None if finite else ((), loss))
            losses[mode] = _keep(losses.get(mode), cell)
            for name, w0, w1, r1, limit, floor in zip(names, before, after, theirs_after, limits,
                                                      step_floors(theirs_after, before, partners)):
                kind = "step 1" if step == 0 else later
                cells[kind, name, mode] = _keep(cells.get((kind, name, mode)), _cell(
                    w1.astype(np.float64) - w0, r1.astype(np.float64) - w0, limit, mine.calls,
                    numbers=measure_step(w1, r1, w0, tol, floor)))
            if mine.has_buffers:  # the running statistics each step moved, from the same ones
                moved = mine.get_buffers()
                if step == 0 and mode == "batch":
                    found.first_buffers = (x, t, moved)
                for name, b1, r1 in zip(architecture.buffer_names(), moved, theirs.get_buffers()):
                    cells["buffers", name, mode] = _keep(cells.get(("buffers", name, mode)),
                                                         _cell(b1, r1, tol.single, mine.calls))
        if mine.has_state:
            states[mode] = _state_rows(mine.get_optimizer_state(), theirs.get_optimizer_state(), widened[mode])
    found.rows = [Row(kind, name, cells.get((kind, name, "single")), cells[kind, name, "batch"])
                  for kind in ("step 1", later) for name in order]
    found.rows.append(Row("loss", "L", losses.get("single"), losses["batch"]))
    if checked.has_buffers:
        found.rows += [Row("buffers", name, cells.get(("buffers", name, "single")), cells["buffers", name, "batch"])
                       for name in architecture.buffer_names()]
    if states:
        found.rows += [Row(a.kind, a.layer, a.single if "single" in states else None, b.single)
                       for a, b in zip(states.get("single", states["batch"]), states["batch"])]
    return found


def _state_rows(mine: dict[str, Any], theirs: dict[str, Any], limit: float) -> list[Row]:
    """The optimizer state after the steps: the step count, then each buffer over every parameter."""
    count = Cell(abs(mine["step"] - theirs["step"]) / max(theirs["step"], 1), None,
                 mine["step"] / theirs["step"] if theirs["step"] else float("inf"), 0.0,
                 mine["step"] == theirs["step"], None if mine["step"] == theirs["step"]
                 else ((), mine["step"], theirs["step"]))
    rows = [Row("state", "step", count, None)]
    for name in (k for k in theirs if k != "step"):
        rows.append(Row("state", name, _cell(_flat(mine[name]), _flat(theirs[name]), limit), None))
    return rows


def _fitting_mistakes(recipe, architecture, start: TrainingState, training: _Training, gradients, theirs_gradients,
                      original, widened) -> list:
    """The recipe mistakes whose steps are the network's, every one within ``FIT_MARGIN`` times its
    tolerance, in both modes, and whose gradient is the network's where it differs from autograd's;
    the closest first."""
    state = start.optimizer or fresh_state(recipe, [w.shape for w in original], np.float64)
    tol = tolerance(original[0].dtype)
    decayed, partners = architecture.weights_decayed(), architecture.floor_partners()
    misfits = []
    with np.errstate(all="ignore"):
        for mistake in candidates(recipe, architecture):
            worst = 0.0
            for mode in training.records:
                predicted = steps_of(mistake, recipe, state, training.records[mode], decayed)
                worst = max(worst, misfit(predicted, training.afters[mode],
                                          [record.before for record in training.records[mode]],
                                          training.tolerances[mode], tol, partners))
                guess = gradient_of(mistake, recipe, original, theirs_gradients[mode], decayed)
                worst = max(worst, relative_difference(_flat(gradients[mode]), _flat(guess)) / widened[mode])
            if worst <= FIT_MARGIN:
                misfits.append((worst, len(misfits), mistake))
    return [mistake for _, _, mistake in sorted(misfits, key=lambda m: m[:2])]


def _keep(kept: Cell | None, new: Cell) -> Cell:
    """Of two steps' cells, the first that failed, else the larger difference."""
    if kept is None or (kept.passed and (not new.passed or new.relative > kept.relative)):
        return new
    return kept


def _layer_hypotheses(mine: _Checked, start: TrainingState, evidence: Evidence, modes: dict, gradients, widened,
                      limit, first_buffers: tuple | None, twin: Callable[[], Any] | None = None) -> list[Hypothesis]:
    """The layer kinds' mistakes (:mod:`compare.check.mistakes`) whose numbers are the network's: its
    outputs, where they differ from autograd's (and its gradients with them); else its gradients, where
    they differ; else the buffers its first step moved, where they differ (``first_buffers``). ``twin``:
    the reference's ``planting_twin``, where it has one (a reference under another codebase's conventions)."""
    gradient_cases = [(x, t, gradients[mode], widened[mode]) for mode, (x, t) in modes.items()]
    if evidence.failing(("outputs",)):
        mine.set_weights(start.weights)
        x, t = modes["batch"]
        return fitting(mine.architecture, mine.recipe, start, OUTPUTS, [(x, t, mine.query(x), limit)],
                       also=gradient_cases, twin=twin)
    if evidence.failing(("gradient",)):
        return fitting(mine.architecture, mine.recipe, start, GRADIENTS, gradient_cases, twin=twin)
    if first_buffers is not None:
        x, t, moved = first_buffers
        return fitting(mine.architecture, mine.recipe, start, BUFFERS, [(x, t, moved, tolerance(mine.dtype).single)],
                       twin=twin)
    return []
