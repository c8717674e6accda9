"""How closely the two backends must agree, derived from the dtype's machine epsilon, in one place.

Every test and every check in ``compare`` takes its tolerance from here, never a number
guessed per test (tinygrad's users saw about one float32 flake in ten runs that way).

Differences are measured relative to the size of the whole array,
``max|mine - theirs| / max|theirs|``, so that entries near zero, whose own relative
error means nothing, do not decide the verdict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """Relative tolerances for one dtype.

    Attributes
    ----------
    dtype : str
        "float32" or "float64".
    eps : float
        The dtype's machine epsilon.
    single : float
        One computation from identical weights and inputs (a query, a gradient, a few
        steps): ``2**12 * eps``. Sums over hundreds of terms, done in another order by
        another library, and the sigmoid's ``1 - o`` near saturation stay well inside it:
        the worst of 6,000 random cases (tests/strategies.py) was about 150 eps; over
        3,000 cases of every architecture (0-3 hidden layers, sigmoid, tanh, ReLU, both
        losses, biases) about 200 eps (float32 ReLU gradients). A derivative computed from
        a saturated output (``1 - y²`` at ``y ≈ ±1``) keeps only ``eps / f'(z)`` of relative
        precision, so a layer whose every unit is saturated is outside this tolerance
        (and passes no gradient worth comparing); the strategy leaves such layers out.
    trajectory : float
        Weights and outputs after many training steps, where each step's rounding feeds
        the next: ``2**14 * eps``. Plain SGD on this network damps rounding differences
        rather than growing them: after a full epoch of MNIST the two backends' weights
        differed by about 15 eps (float64) and 20 eps (float32). Unstable training (large
        hidden layers, a large lr) grows them instead; :data:`ROUNDING_MARGIN` says how a
        drift beyond this tolerance is judged then.
    """

    dtype: str
    eps: float
    single: float
    trajectory: float


# How much further than the estimate of rounding's growth a drift may go and still be rounding.
#
# Where training is unstable, compare.race.sensitivity measures how far a nudge of one rounding error
# a weight (δ) grows over a segment of N steps in the reference itself (G), and how far one step
# from identical weights leaves the two backends apart (r). It estimates what their rounding can
# reach as P = N · max(r, δ) · max(1, G/δ), each step's rounding grown as much as the nudge grew
# over the whole segment, plus R, the drift already there, regrown by the reference.
# - N times, not √N: the backends' differences are not random. They come from the same sums
#   taken in another order, which round the same way step after step and add up coherently. A
#   random nudge of one rounding error after every step grew 5 to 27 times less than the
#   backends' drift over the same segments; P, with its N, came to 0.05 to 1.6 times it.
# - "at most as much as the nudge grew over the whole segment" leaves out bursts that grow a
#   later rounding more than the nudge, which started in a random direction; and r is measured
#   on the segment's first step only.
# Measured (100-step segments, embedded data, 784-1000-10 at lr 0.15 and 0.3 and 784-2000-10 at
# lr 0.1, float64 and float32; README, "the 2017 tutorial's table"): the drift D came to between
# 0.05 and 1.6 times P + R (1.6: float32, hidden 2000, the segment from step 1,200). 2**3 = 8
# leaves a factor of 5 above the largest. A real difference is far outside: a row of W_ih scaled
# by 1.001 in the 784-1000-10 run drifts more than 1e7 times past 8 (P + R), and a step 1e-9 too
# long fails the step check at about 1,000 times its tolerance (tests/test_verdict.py plants both).
ROUNDING_MARGIN = 8.0


# How much further than the reference's own step moves under a one-rounding-error nudge of its
# weights (compare.state.step_rounding) two backends' steps from identical weights and state may
# differ and still be rounding.
#
# Plain SGD's step is as well conditioned as the gradient, and two backends' steps agree well
# inside ``single``. Adam and RMSprop divide each gradient entry by its own running size, so an
# entry whose sum over a batch nearly cancels (its rounding a large part of it) steps by the full
# lr with that rounding in it: measured here (embedded data, 784-200-10 and 784-64-32-10, sigmoid,
# ReLU, tanh, every loss, batches of 1, 8 and 64, float64 and float32, 2,000 samples), the
# backends' steps from identical weights and state differed by up to 86 times ``single`` (ReLU,
# Adam, batch 8, float32) while every step of plain SGD, momentum and L2 stayed under 0.2 times
# it. The nudge tracks that amplification: the backends' difference came to at most 9.7 times the
# larger of the nudge's and ``single``/16 (float32 tanh, centred RMSprop, one sample a step),
# and at most 3.3 in float64. 2**5 = 32 leaves a factor of 3 above the largest. A wrong rule is
# far outside: the optimizer mistakes of compare.check.diagnosis move a step by 1e-5 to 1 of itself.
STEP_ROUNDING_MARGIN = 32.0


def step_tolerance(single: float, rounding: float) -> float:
    """The step check's tolerance: ``single``, or ``STEP_ROUNDING_MARGIN`` times the measured
    :func:`compare.state.step_rounding` where the recipe amplifies rounding beyond it."""
    return max(single, STEP_ROUNDING_MARGIN * rounding)


def tolerance(dtype: str | np.dtype) -> Tolerance:
    """Return the :class:`Tolerance` for ``dtype`` (float32 or float64)."""
    dtype = np.dtype(dtype)
    eps = float(np.finfo(dtype).eps)
    return Tolerance(dtype=dtype.name, eps=eps, single=2.0**12 * eps, trajectory=2.0**14 * eps)


def relative_difference(mine: np.ndarray, theirs: np.ndarray, floor: float = 0.0) -> float:
    """``max|mine - theirs| / max(max|theirs|, floor)``, computed in float64 (0 when both are all zero).

    ``floor``: an absolute scale for an array that is rounding noise in both (a gradient that is
    exactly zero in exact arithmetic, :func:`floors`), which relative to itself would differ by
    about 1 however right both are."""
    mine = np.asarray(mine, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    if mine.shape != theirs.shape:
        raise ValueError(f"Shapes differ: mine {mine.shape}, theirs {theirs.shape}.")
    if mine.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(theirs))), floor)
    difference = float(np.max(np.abs(mine - theirs)))
    if scale == 0.0:
        return 0.0 if difference == 0.0 else float("inf")
    return difference / scale


def loss_difference(mine: float, theirs: float, output_nodes: int, loss: str = "half_sse") -> float:
    """``|mine - theirs|`` relative to how finely the network's numbers fix the loss L.

    ``loss="half_sse"``, L = ½ Σ (t − o)²: outputs that agree to a relative δ (they lie in
    (0, 1)) move each term by about ``|t − o| δ``, so L by up to ``sqrt(2 · output_nodes · L) · δ``:
    near L = 0, where ``t − o`` cancels, that is far more than ``L · δ``. This divides by the
    larger of the two.

    ``loss="cross_entropy"``, L = logsumexp(z) − Σ t z for targets summing to 1: logits
    that move by dz move L by Σ (p − t) dz, at most ``2 max|dz|``. The logits are sums whose
    rounding is relative to their own size, about 1 and more once trained, so L is fixed to
    an absolute δ near L = 0 (a confident right answer), where ``L · δ`` would be far too
    strict. This divides by the larger of L and 1.
    """
    if loss == "cross_entropy":
        scale = max(abs(theirs), 1.0)
    else:
        scale = max(abs(theirs), math.sqrt(2.0 * output_nodes * abs(theirs)))
    difference = abs(float(mine) - float(theirs))
    if scale == 0.0:
        return 0.0 if difference == 0.0 else float("inf")
    return difference / scale


def output_error_condition(outputs: np.ndarray, targets: np.ndarray) -> float:
    """How much the output error ``o − t`` magnifies rounding: ``max(|o|, |t|) / max|o − t|``, at least 1.

    Every gradient is linear in the output error: dL/dz_o is ``(o − t) o (1 − o)`` for half
    squared error and ``(p − t) / n`` for softmax cross-entropy. Outputs (at most 1) that agree
    to a relative δ give output errors that agree only to an absolute δ, so where the network
    answers the batch almost exactly right, ``|o − t|`` is small and the gradients it feeds agree
    only to ``δ · max(|o|, |t|) / max|o − t|`` relative to their largest entry. A gradient check
    multiplies its ``single`` tolerance by this factor. Measured on full MNIST (float64, one
    epoch of softmax regression at lr 0.01): a confidently right sample had max|p − t| = 4e-6
    and gradients that differed by 4e-16 absolute, 1.1e-10 relative: 120 times ``single``, and
    within ``single`` times this factor (2.5e5). Where ``o == t`` exactly there is no gradient to
    compare and the factor is infinite; the step check, at the weights' scale, still holds.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    error = float(np.max(np.abs(outputs - targets))) if outputs.size else 0.0
    size = max(float(np.max(np.abs(outputs))), float(np.max(np.abs(targets)))) if outputs.size else 0.0
    if error == 0.0:
        return math.inf if size else 1.0
    return max(1.0, size / error)


def floors(arrays: Sequence[np.ndarray], partners: Sequence[int | None]) -> list[float]:
    """Each array's floor for :func:`relative_difference`: the largest entry of its partner (a bias a
    normalization cancels is measured at its layer's weight's scale, or its gradient at the weight
    gradient's, ``Architecture.floor_partners()``), 0 for the others."""
    return [0.0 if p is None else float(np.max(np.abs(np.asarray(arrays[p], dtype=np.float64)))) for p in partners]


def differences(mine: Sequence[np.ndarray], theirs: Sequence[np.ndarray],
                partners: Sequence[int | None] | None = None) -> list[float]:
    """:func:`relative_difference` of each pair of parameters, with the floors of ``partners``."""
    floor = floors(theirs, partners) if partners is not None else [0.0] * len(theirs)
    return [relative_difference(m, t, f) for m, t, f in zip(mine, theirs, floor)]


def step_floors(after: Sequence[np.ndarray], before: Sequence[np.ndarray],
                partners: Sequence[int | None]) -> list[float]:
    """:func:`floors` for one step: each partner's largest change, ``max|after − before|``."""
    return [0.0 if p is None else float(np.max(np.abs(np.asarray(after[p], np.float64) - before[p])))
            for p in partners]


def measure(mine: np.ndarray, reference: np.ndarray, floor: float = 0.0) -> dict:
    """Max absolute and relative difference, cosine and norm ratio of two arrays, in float64;
    ``relative`` with :func:`relative_difference`'s ``floor``."""
    a, b = np.asarray(mine, dtype=np.float64).ravel(), np.asarray(reference, dtype=np.float64).ravel()
    # Norms of the arrays divided by their largest entry, so that huge weights cannot overflow.
    scale_a = float(np.max(np.abs(a))) if a.size else 0.0
    scale_b = float(np.max(np.abs(b))) if b.size else 0.0
    unit_a, unit_b = (a / scale_a if scale_a else a), (b / scale_b if scale_b else b)
    norm_a, norm_b = float(np.linalg.norm(unit_a)), float(np.linalg.norm(unit_b))
    cosine = float(unit_a @ unit_b / (norm_a * norm_b)) if norm_a and norm_b else float(norm_a == norm_b)
    # (scale_a / scale_b) first: the product of a huge scale and a norm above 1 could overflow.
    ratio = (scale_a / scale_b) * (norm_a / norm_b) if scale_b else float("inf") if scale_a else 1.0
    return dict(max_abs=float(np.max(np.abs(a - b))) if a.size else 0.0,
                relative=relative_difference(a, b, floor), cosine=cosine, norm_ratio=ratio)


def measure_step(mine: np.ndarray, reference: np.ndarray, before: np.ndarray, tol: Tolerance,
                 floor: float = 0.0) -> dict:
    """One step from identical weights ``before``: how far apart the weights after it are.

    ``relative`` is ``max|mine − reference| / (max|Δ| + (2 eps / single) max|reference|)``
    with ``Δ = reference − before``, the step itself: the difference relative to the step's
    size, with room for the one rounding each backend makes when it adds the step into the
    weights (half an ulp each). So ``relative <= tol.single`` exactly when the difference is
    within ``single`` of the step plus ``2 eps`` of the weights: a wrong update rule, even by
    1e-9 of the step, fails, and a vanishing step does not turn rounding into a failure.
    Cosine and norm ratio compare the two steps, ``mine − before`` against ``Δ``. ``floor``: the
    scale at least (:func:`step_floors`), for a step that is rounding noise in both.
    """
    mine, reference, before = (np.asarray(m, dtype=np.float64) for m in (mine, reference, before))
    numbers = measure(mine - before, reference - before)
    step = float(np.max(np.abs(reference - before))) if before.size else 0.0
    weights = float(np.max(np.abs(reference))) if before.size else 0.0
    scale = max(step + 2.0 * tol.eps / tol.single * weights, floor)
    difference = float(np.max(np.abs(mine - reference))) if before.size else 0.0
    numbers.update(max_abs=difference,
                   relative=difference / scale if scale else (0.0 if difference == 0.0 else float("inf")))
    return numbers


def nudge(weights: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Every weight moved to its neighbouring float, up or down at random: one rounding error."""
    rng = np.random.default_rng(seed)
    moved = []
    for w in weights:
        towards = np.where(rng.random(w.shape) < 0.5, -np.inf, np.inf).astype(w.dtype)
        moved.append(np.nextafter(w, towards))
    return moved


def nudge_at_scale(arrays: list[np.ndarray], eps: float, seed: int) -> list[np.ndarray]:
    """Each array moved by one rounding of its largest entry, ``eps · max|a|``, every entry up or down at
    random whatever its own size: the rounding a sum carries from its largest terms, which a gradient
    entry that nearly cancels (after a normalization's backward pass) keeps, and which no nudge of the
    weights the backward pass starts from makes."""
    rng = np.random.default_rng(seed)
    moved = []
    for array in arrays:
        a = np.asarray(array)
        largest = float(np.max(np.abs(a))) if a.size else 0.0
        moved.append((a + np.where(rng.random(a.shape) < 0.5, -1.0, 1.0) * eps * largest).astype(a.dtype))
    return moved


def assert_close(mine: np.ndarray, theirs: np.ndarray, rtol: float, what: str = "") -> None:
    """Raise AssertionError, printing Mine beside Theirs, unless the arrays agree to ``rtol``.

    For tests: library code reports disagreement through ``compare``, not by raising.
    """
    difference = relative_difference(mine, theirs)
    if not difference <= rtol:
        mine, theirs = np.asarray(mine), np.asarray(theirs)
        worst = np.unravel_index(np.argmax(np.abs(mine.astype(float) - theirs)), mine.shape)
        raise AssertionError(
            f"{what}: relative difference {difference:.3g} > {rtol:.3g}; worst at {worst}: "
            f"Mine {mine[worst]!r}, Theirs {theirs[worst]!r}"
        )
