"""``check_network``: a user's network against autograd, layer by layer, with a likely cause.

At the network's current weights, on a few real MNIST training images, once for one sample and
once for a batch, the network and ``torch_impl.Network`` (autograd) built with the same
architecture and weights are compared on

- the outputs of ``query``;
- the intermediate gradients dL/dz and dL/dh, where the network offers ``intermediate_gradients``;
- the gradients, per parameter;
- three ``train`` steps (each compared from the same weights) and the loss ``train`` returns;
- and the network against itself: a second ``gradients`` call on the same batch, and the
  weights after the ``gradients`` calls.

Each comparison gives the relative difference ``max|mine − theirs| / max|theirs|``, the cosine
and the length ratio ``|mine| / |theirs|`` (:func:`compare.checks.measure`), against the single
tolerance of :mod:`common.tolerances`. :mod:`compare.diagnosis` reads the numbers for a likely
cause. The network's weights are put back as they were.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from common.architecture import Architecture
from common.data import load_embedded, scale_inputs
from common.errors import ParameterError
from common.tolerances import loss_difference, output_error_condition, relative_difference, tolerance
from common.validation import check_positive_int
from compare.checks import measure
from compare.conformance import (architecture_of, call_user, check_array, check_arrays, check_conformance,
                                 check_intermediates, check_loss, network_dtype)
from compare.diagnosis import Cell, Evidence, Row, diagnose, first_failure
from compare.network_report import NetworkReport

STEPS = 3  # train() calls per mode: a mistake that shows only after the first step is still seen
MNIST_SHAPE = (784, 10)


@lru_cache(maxsize=1)
def _mnist(count: int) -> tuple[np.ndarray, np.ndarray]:
    data = load_embedded()
    return data.train_images[:count].copy(), data.train_labels[:count].copy()


def _targets(labels: np.ndarray, architecture: Architecture, dtype: np.dtype) -> np.ndarray:
    off, on = architecture.target_values
    targets = np.full((len(labels), architecture.output_nodes), off, dtype=dtype)
    targets[np.arange(len(labels)), labels] = on
    return targets


class _Checked:
    """A network whose every call goes through :func:`call_user` and has its result checked."""

    def __init__(self, network: Any, architecture: Architecture, dtype: np.dtype) -> None:
        self.network, self.architecture, self.dtype = network, architecture, dtype
        self.name = type(network).__name__
        self.names, self.shapes = architecture.parameter_names(), architecture.parameter_shapes()
        self.has_intermediates = callable(getattr(network, "intermediate_gradients", None))
        self.calls = 0  # train() calls so far

    def _call(self, method: str, *args: Any) -> Any:
        return call_user(f"{self.name}.{method}", getattr(self.network, method), *(np.copy(a) for a in args))

    def get_weights(self) -> list[np.ndarray]:
        return check_arrays(self._call("get_weights"), self.names, self.shapes, self.dtype, f"{self.name}.get_weights")

    def set_weights(self, weights: list[np.ndarray]) -> None:
        call_user(f"{self.name}.set_weights", self.network.set_weights, [w.copy() for w in weights])

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


def _cell(mine: np.ndarray, theirs: np.ndarray, limit: float, call: int | None = None) -> Cell:
    numbers = measure(mine, theirs)
    passed = numbers["relative"] <= limit
    worst = None
    if not passed:
        mine, theirs = np.asarray(mine), np.asarray(theirs)
        index = np.unravel_index(int(np.argmax(np.abs(mine.astype(np.float64) - theirs))), mine.shape)
        worst = (tuple(int(i) for i in index), float(mine[index]), float(theirs[index]))
    return Cell(numbers["relative"], numbers["cosine"], numbers["norm_ratio"], limit, passed, worst, call)


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])


def check_network(network: Any, batch_size: int = 8, reference: Any = None) -> NetworkReport:
    """Check ``network`` against autograd at its current weights, on real MNIST images.

    Parameters
    ----------
    network : object
        Anything with the Network protocol's attributes (``input_nodes``, ``hidden_nodes``,
        ``output_nodes``, ``lr``, ``dtype``; ``activation``, ``loss``, ``bias`` where it is not
        the book's network) and methods (``set_weights``, ``get_weights``, ``query``,
        ``gradients``, ``train``; ``intermediate_gradients`` if it has them). 784 inputs, 10 outputs.
    batch_size : int, default 8
        The batch compared beside single samples.
    reference : object, optional
        The network to compare against; by default ``torch_impl.Network`` built with the same
        architecture, learning rate and dtype, on the CPU.

    Returns
    -------
    NetworkReport
        ``.passed``, ``.rows``, ``.first_failure``, ``.cause``; ``print(report)`` shows the table,
        ``report.to_json()`` the record.

    Raises
    ------
    ConformanceError
        A missing method or attribute, a method returning the wrong shape, dtype or type, or an
        exception inside the network's code (shown with its own frames).
    """
    batch_size = check_positive_int("batch_size", batch_size)
    architecture = architecture_of(network)
    if (architecture.input_nodes, architecture.output_nodes) != MNIST_SHAPE:
        raise ParameterError(f"check_network feeds MNIST images: a network with 784 inputs and 10 outputs. Got "
                             f"{architecture.input_nodes} inputs and {architecture.output_nodes} outputs instead.")
    dtype = network_dtype(network)
    images, labels = _mnist(STEPS * max(batch_size, 1))
    inputs, targets = scale_inputs(images, dtype), _targets(labels, architecture, dtype)
    check_conformance(network, inputs[:batch_size], targets[:batch_size])
    mine = _Checked(network, architecture, dtype)
    original = mine.get_weights()
    package = "torch_impl" if reference is None else type(reference).__module__.split(".")[0]
    label = f"{package} (autograd)" if package == "torch_impl" else package
    if reference is None:
        from compare.plugins import build_network, load_class
        reference = build_network(load_class("torch_impl"), architecture, float(network.lr), dtype.name,
                                  device="cpu")
    reference.set_weights(original)
    try:
        evidence = _measure(mine, reference, original, inputs, targets, batch_size)
    finally:
        mine.set_weights(original)
    return NetworkReport(
        network=mine.name, architecture=architecture.describe(), dtype=dtype.name,
        reference=label,
        batch_size=batch_size, tolerance=tolerance(dtype).single, rows=evidence.rows,
        first_failure=first_failure(evidence), cause=diagnose(evidence))


def _measure(mine: _Checked, theirs: Any, original: list[np.ndarray], inputs: np.ndarray, targets: np.ndarray,
             n: int) -> Evidence:
    architecture, names = mine.architecture, mine.names
    limit = tolerance(mine.dtype).single
    single, batch = (inputs[0], targets[0]), (inputs[:n], targets[:n])
    layers = architecture.per_layer(names)
    if len(architecture.hidden_nodes) == 1:  # the book's names
        z_labels, h_labels = ["z_h", "z_o"], ["h"]
    else:
        z_labels = [f"z{i + 1}" for i in range(len(layers))]
        h_labels = [f"h{i + 1}" for i in range(len(layers) - 1)]

    outputs = {m: _cell(mine.query(x), theirs.query(x), limit) for m, (x, _) in (("single", single), ("batch", batch))}
    gradients, theirs_gradients = {}, {}
    for mode, (x, t) in (("single", single), ("batch", batch)):
        gradients[mode], theirs_gradients[mode] = mine.gradients(x, t), theirs.gradients(x, t)
    again = mine.gradients(*batch)
    moved = max(relative_difference(w, w0) for w, w0 in zip(mine.get_weights(), original))
    intermediates = {}
    if mine.has_intermediates and callable(getattr(theirs, "intermediate_gradients", None)):
        mine.set_weights(original)
        intermediates = {mode: (mine.intermediates(x, t), theirs.intermediate_gradients(x, t))
                         for mode, (x, t) in (("single", single), ("batch", batch))}

    # Gradients are linear in o − t, which cancels where samples are answered almost exactly.
    widened = {mode: limit * output_error_condition(theirs.query(x), t)
               for mode, (x, t) in (("single", single), ("batch", batch))}

    def row(kind: str, layer: str, pick) -> Row:
        return Row(kind, layer, *(_cell(*pick(mode), widened[mode]) for mode in ("single", "batch")))

    rows = [Row("outputs", "o", outputs["single"], outputs["batch"])]
    for index in reversed(range(len(layers))):  # backwards from the output, as backpropagation goes
        if intermediates:
            rows.append(row("dL/dz", z_labels[index], lambda m: (intermediates[m][0]["dLdz"][index],
                                                                    intermediates[m][1]["dLdz"][index])))
        for name in layers[index]:
            k = names.index(name)
            rows.append(row("gradient", name, lambda m: (gradients[m][k], theirs_gradients[m][k])))
        if intermediates and index > 0:
            rows.append(row("dL/dh", h_labels[index - 1], lambda m: (intermediates[m][0]["dLdh"][index - 1],
                                                                            intermediates[m][1]["dLdh"][index - 1])))
    rows += _training_rows(mine, theirs, original, inputs, targets, n, layers, limit)
    rows.append(Row("again", "all", None, _cell(_flat(again), _flat(gradients["batch"]), limit)))
    return Evidence(rows=rows, batch_size=n, tolerance=limit, lr=float(mine.network.lr),
                    output_layer=tuple(layers[-1]), weights_moved=moved,
                    previous=relative_difference(_flat(gradients["batch"]), _flat(gradients["single"])),
                    hypotheses=_hypotheses(mine, theirs, original, batch[0], outputs["batch"], limit))


def _training_rows(mine: _Checked, theirs: Any, original, inputs, targets, n, layers, limit) -> list[Row]:
    """``STEPS`` train() calls per mode, each compared with autograd's step from the same weights.

    A step is the difference of two weight arrays, which carries their rounding, about eps
    times the largest weight: its tolerance is the single tolerance at the scale of the weights.
    """
    order = [name for layer in reversed(layers) for name in layer]
    names = mine.names
    cells: dict[tuple[str, str, str], Cell] = {}
    losses: dict[str, Cell] = {}
    for mode in ("single", "batch"):
        mine.set_weights(original)
        for step in range(STEPS):
            rows = slice(step, step + 1) if mode == "single" else slice(step * n, (step + 1) * n)
            x, t = (inputs[rows][0], targets[rows][0]) if mode == "single" else (inputs[rows], targets[rows])
            before = mine.get_weights()
            theirs.set_weights(before)
            loss = mine.train(x, t)
            theirs_loss = theirs.train(x, t)
            after, theirs_after = mine.get_weights(), theirs.get_weights()
            difference = loss_difference(loss, theirs_loss, mine.architecture.output_nodes, mine.architecture.loss)
            cell = Cell(difference, None, loss / theirs_loss if theirs_loss else float("inf"), limit,
                        difference <= limit, None if difference <= limit else ((), loss, theirs_loss), mine.calls)
            losses[mode] = _keep(losses.get(mode), cell)
            for name, w0, w1, r1 in zip(names, before, after, theirs_after):
                step_theirs = r1.astype(np.float64) - w0
                scale = max(1.0, float(np.max(np.abs(w0))) / (float(np.max(np.abs(step_theirs))) or 1.0))
                kind = "step 1" if step == 0 else "steps 2-3"
                cells[kind, name, mode] = _keep(cells.get((kind, name, mode)),
                                                _cell(w1.astype(np.float64) - w0, step_theirs, limit * scale,
                                                      mine.calls))
    rows = [Row(kind, name, cells[kind, name, "single"], cells[kind, name, "batch"])
            for kind in ("step 1", "steps 2-3") for name in order]
    return rows + [Row("loss", "L", losses["single"], losses["batch"])]


def _keep(kept: Cell | None, new: Cell) -> Cell:
    """Of two steps' cells, the first that failed, else the larger difference."""
    if kept is None or (kept.passed and (not new.passed or new.relative > kept.relative)):
        return new
    return kept


def _hypotheses(mine: _Checked, theirs: Any, original, inputs, outputs: Cell, limit) -> list[tuple[str, str, str]]:
    """When the outputs differ: the layers whose weight, transposed or reshaped, explains them."""
    if outputs.passed:
        return []
    mine.set_weights(original)
    got = mine.query(inputs)
    found = []
    for k, (name, weight) in enumerate(zip(mine.names, original)):
        if weight.ndim != 2:
            continue
        n_out, n_in = weight.shape
        how = "transposed" if n_out == n_in else "reshaped"
        candidate = [w for w in original]
        candidate[k] = weight.reshape(n_in, n_out).T
        theirs.set_weights(candidate)
        if relative_difference(got, theirs.query(inputs)) <= limit:
            found.append((name, how, f"({n_in}, {n_out})"))
    theirs.set_weights(original)
    return found
