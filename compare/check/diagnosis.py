"""Likely causes of a disagreement with autograd, each claimed only when the numbers fit it.

Each rule is a small pure function of the measured numbers (:class:`Evidence`) that returns a
:class:`Cause` when its pattern is there and None otherwise; :data:`RULES` lists them in the
order they are tried. A mistake that corrupts everything after it (weights moved by
``gradients()``, gradients that accumulate) is tried before the patterns it would blur.

=======================  ==========================================================================
rule                     the numbers that must be there
=======================  ==========================================================================
non_finite               the network returned a nan or an infinity: named where, before anything else
gradients_move_weights   the weights differ after ``gradients()`` calls
stale_gradients          a second call on the same batch differs, or a batch gets the previous
                         call's gradients back
recipe_mistake           every step (and gradient) is what one of :mod:`compare.check.mistakes.recipe`'s classic
                         recipe mistakes would give: Adam's bias correction or ε misplaced, the
                         step count off by one, momentum's buffer or lr misplaced, decay or L2 at
                         the wrong strength or on the wrong parameters, a BCE reduction
query_not_forward        outputs differ, every gradient agrees
layer_mistake            a layer kind's classic mistake (its catalogue in :mod:`compare.check.mistakes`):
                         the outputs are those of torch's network with it planted, where the outputs
                         differ (a weight used transposed, a kernel flipped, a flatten order, a
                         padding); else every gradient is (a pool's gradient spread, sent to a
                         swapped argmax or to every tied maximum; col2im overwriting; dW rotated)
wrong_sign               the first gradient that differs has cosine −1
half_missing_or_doubled  every gradient is exactly 2x (or ½x) autograd's, cosine 1
sum_not_mean             single samples agree; at a batch of n, length ratio n and cosine 1
missing_derivative       outputs and the output layer agree; below it cosine < 1, ratio > 1
update_not_gradient      every gradient agrees, a training step does not (the recipe's step, named)
batch_only               single samples agree, batches do not
=======================  ==========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from common.recipe import Recipe
from common.tolerances import tolerance
from compare.check.where import between

GRADIENT_KINDS = ("dL/dz", "gradient", "dL/dh")
STEP_KINDS = ("step 1", "steps 2-5")
MODES = ("single", "batch")


@dataclass(frozen=True)
class Cell:
    """One comparison, Mine against Theirs, in one mode (one sample, or the batch)."""

    relative: float  # max|mine − theirs| / max|theirs|
    cosine: float | None  # None for a scalar (the loss)
    ratio: float  # |mine| / |theirs|
    tolerance: float
    passed: bool
    worst: tuple | None = None  # (index, mine, theirs) at the largest difference, when it failed
    call: int | None = None  # for a training step: which train() call (1, 2, ...)
    nonfinite: tuple | None = None  # (index, value) of the first nan or infinity in mine, if any


@dataclass(frozen=True)
class Row:
    """What was compared (``kind``) at one layer, for one sample and for the batch."""

    kind: str  # "outputs", "dL/dz", "gradient", "dL/dh", "step 1", "steps 2-5", "loss", "state", "again"
    layer: str
    single: Cell | None
    batch: Cell | None

    def cells(self) -> Iterator[tuple[str, Cell]]:
        for mode in MODES:
            if getattr(self, mode) is not None:
                yield mode, getattr(self, mode)


@dataclass(frozen=True)
class Cause:
    name: str
    layer: str
    sentence: str


@dataclass
class Evidence:
    """Everything the rules read; built by :func:`compare.check.network.check_network`."""

    rows: list[Row]
    batch_size: int
    tolerance: float
    lr: float
    output_layer: tuple[str, ...]  # the parameter names of the output layer
    weights_moved: float = 0.0  # relative change of the weights across the gradients() calls
    previous: float = float("inf")  # the batch's gradients against the call before (another sample)
    hypotheses: list[Any] = field(default_factory=list)  # compare.check.mistakes.Hypothesis: those whose numbers fit
    recipe: Recipe = field(default_factory=Recipe)
    activation: str | None = "sigmoid"  # of the hidden layers; None without any
    loss: str = "half_sse"
    state_words: str = ""  # where the optimizer state started, for the report
    path: list[Any] = field(default_factory=list)  # compare.check.where.backward_path: the rows and the steps between

    @property
    def cosine_floor(self) -> float:
        """How far from 1 (or −1) a cosine must be to say that two arrays point apart.

        Arrays that agree to a relative difference δ have a cosine about δ² from 1, and the
        cosine, computed in float64, carries its own rounding: the float64 single tolerance.
        """
        return max(self.tolerance**2, tolerance("float64").single)

    def same_direction(self, cell: Cell, sign: float = 1.0) -> bool:
        """Cosine 1 (or −1 with ``sign=-1``) within :attr:`cosine_floor`."""
        return cell.cosine is not None and 1.0 - sign * cell.cosine <= self.cosine_floor

    def cells(self, kinds: tuple[str, ...], mode: str | None = None) -> list[tuple[Row, str, Cell]]:
        return [(row, m, c) for row in self.rows if row.kind in kinds for m, c in row.cells() if mode in (None, m)]

    def failing(self, kinds: tuple[str, ...], mode: str | None = None) -> list[tuple[Row, str, Cell]]:
        return [(row, m, c) for row, m, c in self.cells(kinds, mode) if not c.passed]


def _close(value: float, target: float, tolerance: float) -> bool:
    return abs(value / target - 1.0) <= tolerance


def _cosine(value: float) -> str:
    """A cosine with the digits that show how far from ±1 it is: 0.999408, or 0.99999997."""
    digits = 6
    while digits < 15 and f"{abs(value):.{digits}f}" == "1." + "0" * digits and abs(value) != 1.0:
        digits += 2
    return f"{value:.{digits}f}"


def _numbers(cell: Cell) -> str:
    cosine = "" if cell.cosine is None else f", cosine {_cosine(cell.cosine)}"
    return f"relative {cell.relative:.3g}{cosine}, length ratio {cell.ratio:.4g}"


def _samples(mode: str, n: int) -> str:
    return "one sample" if mode == "single" else f"a batch of {n}"


def _weight_layer(failing: list[tuple[Row, str, Cell]]) -> str:
    """The first parameter whose gradient fails, else the first failing row's own name."""
    return next((row.layer for row, _, _ in failing if row.kind == "gradient"), failing[0][0].layer)


# What the derivative of each hidden activation is, in words, for the sentences.
DERIVATIVES = {"sigmoid": "the sigmoid's h (1 − h)", "tanh": "tanh's 1 − h²",
               "relu": "ReLU's mask (1 where z > 0, else 0)"}
OUTPUT_DERIVATIVES = {"half_sse": "the output sigmoid's o (1 − o)"}
WHAT = {"outputs": "query() returned", "gradient": "gradients() returned", "dL/dz": "intermediate_gradients() returned",
        "dL/dh": "intermediate_gradients() returned", "loss": "train() returned the loss",
        "state": "get_optimizer_state() returned", "buffers": "get_buffers() returned after the steps",
        "again": "a second gradients() call returned"}


# -- the rules, in the order they are tried -------------------------------------------------------

def non_finite(e: Evidence) -> Cause | None:
    """A nan or an infinity: said as such, where it is, before any pattern is read into it."""
    for row in e.rows:
        for mode, cell in row.cells():
            if cell.nonfinite is None:
                continue
            index, value = cell.nonfinite
            where = f"{row.layer}[{', '.join(map(str, index))}]" if index else row.layer
            if row.kind in STEP_KINDS:
                what = f"train() call {cell.call} left a weight of {value}"
            elif row.kind == "loss":
                what = f"train() call {cell.call} returned the loss {value}"
            else:
                what = f"{WHAT[row.kind]} {value}"
            return Cause("non_finite", row.layer, (
                f"{what} at {where} ({row.kind}, {_samples(mode, e.batch_size)}), where autograd's is finite: a "
                "division by zero, a logarithm of 0, an overflowing exponential or an uninitialised array."))
    return None


def gradients_move_weights(e: Evidence) -> Cause | None:
    if e.weights_moved > e.tolerance:
        return Cause("gradients_move_weights", "all", (
            f"gradients() changed the weights (by {e.weights_moved:.3g}, relative to the largest): it must "
            "return dL/dW and leave the weights as they were; only train() steps."))
    return None


def stale_gradients(e: Evidence) -> Cause | None:
    for row, _, cell in e.failing(("again",)):
        return Cause("stale_gradients", "all", (
            f"A second gradients() call on the same batch returned {cell.ratio:.4g}x the first (relative "
            f"{cell.relative:.3g}): the gradients accumulate from call to call; start each call from zero."))
    if e.failing(("gradient",), "batch") and e.previous <= e.tolerance:
        return Cause("stale_gradients", "all", (
            "gradients() returned for the batch exactly what the call before returned for another sample: "
            "stale gradients, kept from an earlier call instead of computed for the samples given."))
    return None


def recipe_mistake(e: Evidence) -> Cause | None:
    """The steps (and gradients) are one classic recipe mistake's, replayed by :mod:`compare.check.mistakes.recipe`."""
    return _hypothesis(e, "recipe")


def _hypothesis(e: Evidence, stage: str) -> Cause | None:
    """The first hypothesis of ``stage`` whose numbers were found to be the network's, as the cause."""
    found = next((h for h in e.hypotheses if h.stage == stage), None)
    return None if found is None else Cause(found.name, found.layer, found.sentence)


def recipe_sentence(mistake: Any, recipe: Recipe, batch_size: int) -> str:
    """The cause's sentence for a recipe mistake (:class:`compare.check.mistakes.recipe.Mistake`) whose steps fit."""
    return (f"train() takes the steps of {mistake.what}: all of its steps, for one sample and for a batch of "
            f"{batch_size}, are that rule's from the same weights and state (within each step's tolerance), not "
            f"torch.optim's {recipe.describe()}. Fix: {mistake.fix}.")


def query_not_forward(e: Evidence) -> Cause | None:
    outputs = e.failing(("outputs",))
    if outputs and e.cells(("gradient",)) and not e.failing(GRADIENT_KINDS):
        _, mode, cell = outputs[0]
        return Cause("query_not_forward", "outputs", (
            f"query() does not compute the forward pass that gradients() differentiates: for "
            f"{_samples(mode, e.batch_size)} its outputs differ from autograd's ({_numbers(cell)}) while "
            "every gradient agrees."))
    return None


def layer_mistake(e: Evidence) -> Cause | None:
    """A layer kind's mistake (:mod:`compare.check.mistakes`) whose numbers are the network's: its
    outputs where they differ, else its gradients."""
    stage = ("outputs" if e.failing(("outputs",)) else "gradients" if e.failing(GRADIENT_KINDS)
             else "buffers")
    return _hypothesis(e, stage)


# The output error of each loss, and what the right gradient at the output is, for the sentences.
OUTPUT_ERRORS = {
    "half_sse": "dL/do = o − t for L = ½ Σ (t − o)²; the book's output_errors, t − o, is the negative",
    "cross_entropy": "dL/dz = softmax(z) − t for softmax cross-entropy; t − softmax(z) is the negative",
    "binary_cross_entropy": "dL/dz = σ(z) − t for binary cross-entropy on sigmoid outputs; t − σ(z) is the negative",
    "binary_cross_entropy_mean": "dL/dz = (σ(z) − t) / K for binary cross-entropy averaged over the K outputs; "
                                 "t − σ(z) is the negative",
}
DOUBLED = {  # factor: (for the half squared error, for the other losses)
    2.0: ("the ½ is missing: the loss is Σ (t − o)² where L = ½ Σ (t − o)² belongs (torch's "
          "MSELoss(reduction='sum') is 2L), so dL/do = 2 (o − t)",
          "the loss is counted twice, or its derivative at the output doubled"),
    0.5: ("a ½ too many: dL/do = ½ (o − t) where L = ½ Σ (t − o)² gives o − t",
          "the loss's derivative at the output is halved"),
}


def wrong_sign(e: Evidence) -> Cause | None:
    failing = e.failing(GRADIENT_KINDS)
    if failing and e.same_direction(failing[0][2], sign=-1.0):
        row, _, cell = failing[0]
        return Cause("wrong_sign", _weight_layer(failing), (
            f"The gradient has the wrong sign from {row.kind} {row.layer} down: cosine {cell.cosine:.6f} with autograd, length "
            f"ratio {cell.ratio:.4g}; it points uphill. At the output, {OUTPUT_ERRORS[e.loss]}."))
    return None


def half_missing_or_doubled(e: Evidence) -> Cause | None:
    cells = [c for _, _, c in e.cells(("gradient",))]
    if not cells or e.failing(("outputs",)):
        return None
    for factor, (book, other) in DOUBLED.items():
        if all(_close(c.ratio, factor, e.tolerance) and e.same_direction(c) for c in cells):
            return Cause("half_missing_or_doubled", "all", (
                f"Every gradient is exactly {factor:g}x autograd's, cosine 1, for one sample and for a batch: "
                f"{book if e.loss == 'half_sse' else other}."))
    return None


def sum_not_mean(e: Evidence) -> Cause | None:
    n = e.batch_size
    failing = e.failing(GRADIENT_KINDS, "batch")
    gradients = [c for row, _, c in failing if row.kind == "gradient"]
    if n < 2 or e.failing(GRADIENT_KINDS, "single") or not gradients:
        return None
    if all(_close(c.ratio, n, e.tolerance) and e.same_direction(c) for _, _, c in failing):
        layers = ", ".join(dict.fromkeys(row.layer for row, _, _ in failing if row.kind == "gradient"))
        return Cause("sum_not_mean", _weight_layer(failing), (
            f"At {layers} the batch's gradients are summed where L is the mean over the batch: length ratio "
            f"{n}, the batch size, with cosine 1, while single samples agree. Divide the sum by the number of "
            "samples."))
    return None


def missing_derivative(e: Evidence) -> Cause | None:
    failing = e.failing(GRADIENT_KINDS)
    if e.failing(("outputs",)) or not failing:
        return None
    row, mode, cell = failing[0]
    top = [c for r, _, c in e.cells(("gradient",)) if r.layer in e.output_layer]
    below = [r for r, _, _ in failing if r.kind == "gradient"]
    if row.layer in e.output_layer or not below or not top or not all(c.passed for c in top):
        return None
    if e.same_direction(cell) or cell.ratio <= 1.0 + e.tolerance:
        return None
    hidden = DERIVATIVES.get(e.activation or "", "its activation's derivative")
    top_hidden = next((r.layer for r in e.rows if r.kind == "dL/dh"), None)  # rows run down from the output
    output = OUTPUT_DERIVATIVES.get(e.loss)
    skipped = output if row.layer == top_hidden and output else hidden
    book = (", as the book's hidden_errors = who.T @ output_errors leaves it out" if skipped == output else "")
    where = {
        "dL/dh": (f"dL/dz above it agrees, so the error was carried back through W without the derivative of the "
                  f"layer above it, {skipped}{book}"),
        "dL/dz": f"dL/dh at the same layer agrees, so dL/dz = dL/dh · f'(z) lost f'(z), {hidden}",
    }.get(row.kind, f"the error carried down to it skipped an activation's derivative ({output or hidden})")
    return Cause("missing_derivative", below[0].layer, (
        f"A missing activation derivative below the output (the book's pattern): the output layer agrees, but "
        f"from {row.kind} {row.layer} down the results are {cell.ratio:.3g}x as long as autograd's and point "
        f"elsewhere (cosine {cell.cosine:.6f}, {_samples(mode, e.batch_size)}). Here {where}."))


def update_not_gradient(e: Evidence) -> Cause | None:
    steps = e.failing(STEP_KINDS)
    if not steps or not e.cells(("gradient",)) or e.failing(GRADIENT_KINDS):
        return None
    steps.sort(key=lambda found: found[2].call)
    row, mode, cell = steps[0]
    plain = e.recipe.is_plain
    rule = "W −= lr × dL/dW" if plain else f"torch.optim's step for {e.recipe.describe()}"
    if e.same_direction(cell, sign=-1.0):
        how = "it steps the other way, uphill"
    elif e.same_direction(cell):
        digits = ".4g" if abs(cell.ratio - 1.0) > 1e-3 else ".12g"  # a step 1e-9 too long shows as such
        how = f"it steps {cell.ratio:{digits}}x as far" + (f", as if lr were {cell.ratio * e.lr:{digits}}" if plain else "")
    else:
        how = f"its step points elsewhere (cosine {_cosine(cell.cosine)}, length ratio {cell.ratio:.4g})"
    since = ""
    if cell.call > 1 and plain:
        since = (f" The first train() call agrees and call {cell.call} does not: something carries over from one call "
                 "to the next (a momentum, a decaying learning rate, a cached value). A network that trains with "
                 "momentum, Adam or a schedule states its recipe (momentum = 0.9, optimizer = 'adam', ...), and is "
                 "checked against torch.optim's (docs/optimizers.md).")
    elif cell.call > 1:
        since = (f" The first train() call agrees and call {cell.call} does not: the optimizer's state (its buffers "
                 "or its step count) evolves otherwise than torch.optim's.")
    return Cause("update_not_gradient", row.layer, (
        f"train() does not take {rule} although gradients() agrees with autograd: at {row.layer}, train() call "
        f"{cell.call} ({_samples(mode, e.batch_size)}), {how}.{since}"))


def batch_only(e: Evidence) -> Cause | None:
    every = ("outputs", *GRADIENT_KINDS, *STEP_KINDS)
    failing = e.failing(every, "batch")
    if failing and not e.failing(every, "single"):
        row, _, cell = failing[0]
        return Cause("batch_only", _weight_layer(failing), (
            f"Only batches go wrong: single samples agree, but at {row.kind} {row.layer} a batch of "
            f"{e.batch_size} gives {_numbers(cell)}. The samples of a batch are combined wrongly (averaged "
            "before the outer product, summed along the wrong axis, or broadcast against each other)."))
    return None


RULES: tuple[Callable[[Evidence], Cause | None], ...] = (
    non_finite, gradients_move_weights, stale_gradients, recipe_mistake, layer_mistake, query_not_forward,
    wrong_sign, half_missing_or_doubled, sum_not_mean, missing_derivative, update_not_gradient, batch_only)


def first_failure(e: Evidence) -> tuple[Row, str, Cell] | None:
    """Where the numbers first go wrong: the first failing cell in the report's order (outputs,
    then backwards from the output layer), the one-sample cell before the batch's; then among the
    training steps, the earliest ``train()`` call; then the optimizer state, compared after those
    steps (a state that differs follows from a step that does); the network against itself last."""
    failing = [(row, mode, cell) for row in e.rows for mode, cell in row.cells() if not cell.passed]
    if not failing:
        return None

    def rank(found: tuple[Row, str, Cell]) -> tuple[int, int]:
        row, _, cell = found
        if row.kind in ("state", "again"):
            return (2 if row.kind == "state" else 3, 0)
        return (0, 0) if cell.call is None else (1, cell.call)

    return min(failing, key=rank)  # the first of equal rank, in the report's order


def diagnose(e: Evidence) -> Cause | None:
    """The first rule whose pattern the numbers fit; otherwise a Cause named "unexplained" saying
    what was seen; None when nothing failed."""
    found = first_failure(e)
    if found is None:
        return None
    for rule in RULES:
        cause = rule(e)
        if cause is not None:
            return cause
    row, mode, cell = found
    return Cause("unexplained", row.layer, (
        f"No cause in the catalogue fits these numbers. First difference: {row.kind} {row.layer} for "
        f"{_samples(mode, e.batch_size)}: {_numbers(cell)}.{_between(e, row)}"))


def _between(e: Evidence, failed: Row) -> str:
    """The backward pass's steps between the row above the first failure, which agrees, and the first failure."""
    index = next(i for i, row in enumerate(e.rows) if row is failed)
    passed = e.rows[index - 1] if index else None
    if passed is None or not all(cell.passed for _, cell in passed.cells()):
        return ""
    steps = between(e.path, (passed.kind, passed.layer), (failed.kind, failed.layer))
    if not steps:
        return ""
    return (f" Between {passed.kind} {passed.layer}, which agrees, and {failed.kind} {failed.layer} lie: "
            f"{'; '.join(steps)}. The mistake is in one of them.")
