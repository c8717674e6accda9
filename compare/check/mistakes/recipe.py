"""The classic mistakes in a hand-written training recipe, each as the step it takes.

:func:`compare.check_network` records, for every ``train()`` call it makes, the weights before
it, autograd's gradient there (with the stated L2 penalty) and the scheduled learning rate.
Each mistake below turns that record into the steps a network with the mistake would take,
from the same optimizer state: either the stated recipe with one value changed (decay reaching
the biases, L2 at twice its strength, ...), run by :mod:`from_scratch.optimizers` itself, or the
stated optimizer with one line of its rule miswritten (:class:`MistakenAdam`,
:class:`MistakenSGD`, :class:`MistakenRMSprop`), or its learning rate (negated, or decayed from the
last rate). A mistake is named only when its steps are the network's steps, every one of them,
within the step check's own tolerance (:func:`misfit`): :mod:`compare.check.diagnosis` reads the
fits. :func:`compare.check_update` replays the update rule's own (:func:`rule_mistakes`) for a rule
checked alone.

=============================  ==============================================================
mistake                        the step it takes
=============================  ==============================================================
adam_bias_correction           m / (√v + ε): no 1 − β^t corrections
adam_eps_inside_sqrt           m̂ / √(v̂ + ε)
adam_eps_before_correction     lr √(1 − β2^t) / (1 − β1^t) · m / (√v + ε) (the paper's "efficient" form)
step_count_off_by_one          the corrections at t + 1 or t − 1
adam_step_stuck                the corrections at t = 1 at every step: the count never stored back
rmsprop_no_sqrt                g / (v + ε): the mean square, without its square root
rmsprop_eps_inside_sqrt        g / √(v + ε) (TensorFlow 1's and d2l's placement)
momentum_buffer_dampened       SGD's buffer starts at (1 − τ) g, not at g
momentum_ema_form              v ← μ v + (1 − μ) g, w ← w − lr v from v = 0 (deeplearning.ai's form)
momentum_no_velocity_store     plain SGD: the velocity computed and never stored back
lr_inside_velocity             v ← μ v − lr_t g, w ← w + v: the old lr kept in the velocity
sgd_ascent                     w ← w + lr g: a step up the gradient
lr_decay_compounds             lr_t = lr_{t−1} / (1 + decay · t), decayed from the last rate, not the first
decay_reaches_biases           weight decay or L2 on the biases too
decay_misses_biases            weight decay or L2 on the weights only, where the recipe decays biases
decay_missing                  weight decay (or L2) left out
l2_strength                    L2 at twice or half the stated strength (reg W against ½ reg W)
coupled_decay                  AdamW's decay added to the gradient (Adam's), not to the weights
bce_mean_not_sum               binary cross-entropy averaged over the outputs where summed
bce_sum_not_mean               binary cross-entropy summed over the outputs where averaged
=============================  ==============================================================
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from common.architecture import Architecture
from common.recipe import Recipe
from common.tolerances import Tolerance, measure_step, step_floors
from from_scratch.optimizers import SGD, Adam, RMSprop, make_optimizer


# How much further than the step check's own tolerance a mistake's replayed steps may lie from the
# network's and still be its steps. The replay starts from autograd's gradients, not the network's
# own, and Adam turns the rounding of a gradient entry that nearly cancels into a step of full
# length (common.tolerances.STEP_ROUNDING_MARGIN): on the planted networks of tests/users over 40
# random starts each, the right mistake's replay came to at most 3 times the tolerance (float32,
# nnfs's Adam), and every other candidate to thousands of times it or more.
FIT_MARGIN = 8.0

# Every mistake candidates() can name, in the table's order.
NAMES = ("adam_bias_correction", "adam_eps_inside_sqrt", "adam_eps_before_correction", "step_count_off_by_one",
         "adam_step_stuck", "rmsprop_no_sqrt", "rmsprop_eps_inside_sqrt", "momentum_buffer_dampened",
         "momentum_ema_form", "momentum_no_velocity_store", "lr_inside_velocity", "sgd_ascent", "lr_decay_compounds",
         "decay_reaches_biases", "decay_misses_biases", "decay_missing", "l2_strength", "coupled_decay",
         "bce_mean_not_sum", "bce_sum_not_mean")


@dataclass(frozen=True)
class StepRecord:
    """One ``train()`` call as check_network made it: from ``before``, at ``lr``, with autograd's
    ``gradient`` there (L2 penalty included, as the stated recipe has it)."""

    before: list[np.ndarray]
    gradient: list[np.ndarray]
    lr: float


@dataclass(frozen=True)
class Mistake:
    """A departure from the stated recipe: another recipe, a miswritten rule, or a loss's factor."""

    name: str
    what: str  # in words, for the sentence: "the momentum buffer started at (1 − τ) g = 0.5 g"
    fix: str  # what to change
    recipe: Recipe  # the recipe the mistaken network follows in effect
    rule: str | None = None  # a miswritten line of MistakenAdam, MistakenSGD or MistakenRMSprop
    gradient_scale: float = 1.0  # the loss's factor on the data gradient (the BCE reductions)
    lr_rule: str | None = None  # "ascent": each step's lr negated; "compounding": nnfs's decay from the last rate


class MistakenAdam(Adam):
    """Adam with one line miswritten, as readers miswrite it; ``rule`` says which (float64, not in place)."""

    rule: str = ""

    def update(self, i, w, g, lr, weight_decay):
        beta1, beta2 = self.recipe.betas
        if weight_decay and self.recipe.decoupled:
            w *= 1.0 - lr * weight_decay
        elif weight_decay:
            g = g + weight_decay * w
        m, v = self.exp_avg[i], self.exp_avg_sq[i]
        m[...] = beta1 * m + (1.0 - beta1) * g
        v[...] = beta2 * v + (1.0 - beta2) * g * g
        if self.recipe.amsgrad:
            v = np.maximum(self.max_exp_avg_sq[i], v, out=self.max_exp_avg_sq[i])
        t = 1 if self.rule == "t=1" else self.t + {"t+1": 1, "t-1": -1}.get(self.rule, 0)
        one = np.float64(1.0)  # NumPy's floats: at t − 1 = 0 a correction of 0 gives inf, not an exception
        c1, c2 = (one, one) if self.rule == "no bias correction" else (one - beta1**t, one - beta2**t)
        eps = self.recipe.eps
        if self.rule == "eps inside sqrt":
            denominator = np.sqrt(v / c2 + eps)  # √(v̂ + ε)
        elif self.rule == "eps before correction":
            denominator = (np.sqrt(v) + eps) / np.sqrt(c2)  # (√v + ε) / √(1 − β2^t)
        else:
            denominator = np.sqrt(v) / np.sqrt(c2) + eps
        w -= lr / c1 * m / denominator


class MistakenSGD(SGD):
    """SGD with momentum miswritten: the buffer started damped, or cs231n's classic velocity."""

    rule: str = ""

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.velocity = None  # the classic velocity, made from the buffer at the first step: v = −lr b

    def update(self, i, w, g, lr, weight_decay):
        mu, tau = self.recipe.momentum, self.recipe.dampening
        if weight_decay:
            g = g + weight_decay * w
        b = self.momentum_buffer[i]
        if self.rule == "classic velocity":
            if self.velocity is None:
                self.velocity = [-lr * buffer for buffer in self.momentum_buffer]
            self.velocity[i] = mu * self.velocity[i] - lr * g  # v ← μ v − lr g
            w += self.velocity[i]
            return
        b[...] = (1.0 - tau) * g if self.t == 1 else mu * b + (1.0 - tau) * g  # b starts at (1 − τ) g
        w -= lr * (g + mu * b if self.recipe.nesterov else b)


class MistakenRMSprop(RMSprop):
    """RMSprop with its denominator miswritten: no square root, or ε under it (not centered)."""

    rule: str = ""

    def update(self, i, w, g, lr, weight_decay):
        alpha = self.recipe.alpha
        if weight_decay:
            g = g + weight_decay * w
        v = self.square_avg[i]
        v[...] = alpha * v + (1.0 - alpha) * g * g
        eps = self.recipe.eps
        denominator = v + eps if self.rule == "no sqrt" else np.sqrt(v + eps)  # (v + ε), or √(v + ε)
        if self.recipe.momentum:
            b = self.momentum_buffer[i]
            b[...] = self.recipe.momentum * b + g / denominator
            w -= lr * b
        else:
            w -= lr * g / denominator


def rule_mistakes(recipe: Recipe, changing: bool = False) -> list[Mistake]:
    """The mistakes of the update rule itself, for ``recipe``'s optimizer, that would take other steps
    than it does; ``changing``: the learning rate changes between steps (by rates given one a step,
    where the recipe's schedule does not say so)."""
    found: list[Mistake] = []
    changing = changing or recipe.schedule != "constant"
    if recipe.optimizer in ("adam", "adamw"):
        for rule, name, what, fix in (
                ("no bias correction", "adam_bias_correction", "Adam without its bias corrections, m / (√v + ε)",
                 "divide m by 1 − β1^t and v by 1 − β2^t, t counting steps from 1"),
                ("eps inside sqrt", "adam_eps_inside_sqrt", "Adam with ε under the square root, m̂ / √(v̂ + ε)",
                 "add ε after the square root, m̂ / (√v̂ + ε), as torch.optim.Adam"),
                ("eps before correction", "adam_eps_before_correction",
                 "Adam with ε added before the bias correction, lr √(1 − β2^t) / (1 − β1^t) · m / (√v + ε)",
                 "correct v first and add ε last, m̂ / (√v̂ + ε), as torch.optim.Adam"),
                ("t+1", "step_count_off_by_one", "Adam's bias corrections at step t + 1 where t belongs",
                 "count t from 1 at the first step, and increment it once a step"),
                ("t-1", "step_count_off_by_one", "Adam's bias corrections at step t − 1 where t belongs",
                 "count t from 1 at the first step, and increment it before the corrections"),
                ("t=1", "adam_step_stuck", "Adam with its step count stuck at 1, every step bias-corrected as "
                 "the first", "store the incremented count back (cs231n: config['t'] = t; nnfs: iterations += 1 "
                 "in post_update_params), so that the corrections fade as t grows")):
            found.append(Mistake(name, what, fix, recipe, rule))
        if recipe.optimizer == "adamw" and recipe.weight_decay:
            found.append(Mistake("coupled_decay", f"Adam's coupled decay, g + {recipe.weight_decay:g} w, where AdamW's "
                                 "decoupled decay was asked", "decay the weights themselves, w ← w (1 − lr λ), before "
                                 "the moments, and leave the gradient alone", replace(recipe, optimizer="adam")))
    if recipe.optimizer == "rmsprop" and not recipe.centered:
        found.append(Mistake("rmsprop_no_sqrt", "RMSprop dividing by the mean square itself, g / (v + ε), without "
                             "its square root", "divide by its root: g / (√v + ε), as torch.optim.RMSprop",
                             recipe, "no sqrt"))
        found.append(Mistake("rmsprop_eps_inside_sqrt", "RMSprop with ε under the square root, g / √(v + ε) "
                             "(TensorFlow 1's and d2l's placement)", "add ε after the root, g / (√v + ε), as "
                             "torch.optim.RMSprop; the two part where v is small beside ε", recipe, "eps inside sqrt"))
    if recipe.optimizer == "sgd" and recipe.momentum:
        if recipe.dampening:
            found.append(Mistake("momentum_buffer_dampened", f"a momentum buffer started at (1 − τ) g = "
                                 f"{1 - recipe.dampening:g} g", "start the buffer at g itself, as torch.optim.SGD "
                                 "does: dampening applies from the second step on", recipe, "buffer dampened"))
        elif not recipe.nesterov:
            found.append(Mistake("momentum_ema_form", f"momentum as an exponential average, v ← μ v + (1 − μ) g "
                                 f"from v = 0, w ← w − lr v (deeplearning.ai's form), a step {1 - recipe.momentum:g} "
                                 "times as long", "v ← μ v + g, w ← w − lr v (torch.optim.SGD), or cs231n's "
                                 "v ← μ v − lr g, w ← w + v", replace(recipe, dampening=recipe.momentum),
                                 "buffer dampened"))
        if changing and not recipe.nesterov:
            found.append(Mistake("lr_inside_velocity", "the classic velocity v ← μ v − lr_t g, w ← w + v, which keeps "
                                 "each step's learning rate inside v", "keep lr out of the buffer: b ← μ b + g, "
                                 "w ← w − lr_t b, as torch.optim.SGD; the two agree only while lr is constant",
                                 recipe, "classic velocity"))
        found.append(Mistake("momentum_no_velocity_store", "plain SGD, w ← w − lr g: the velocity is computed and "
                             "never stored back, so every step starts it from zero", "store it for the next step "
                             "(cs231n: config['velocity'] = v; nnfs: layer.weight_momentums = weight_updates)",
                             replace(recipe, momentum=0.0, dampening=0.0, nesterov=False)))
    if recipe.optimizer == "sgd":
        found.append(Mistake("sgd_ascent", "a step up the gradient, w ← w + lr g, where descent subtracts it",
                             "subtract the step: w ← w − lr · dw", recipe, lr_rule="ascent"))
    if recipe.schedule == "inverse_time" and recipe.lr_decay:
        found.append(Mistake("lr_decay_compounds", "a learning rate decayed from the last step's rate, lr_t = "
                             "lr_{t−1} / (1 + decay · t), so that the decays compound", "decay from the initial "
                             "rate, lr_t = lr / (1 + decay · t) (nnfs: self.learning_rate, not "
                             "self.current_learning_rate)", recipe, lr_rule="compounding"))
    return found


def candidates(recipe: Recipe, architecture: Architecture) -> list[Mistake]:
    """The mistakes that would take other steps than ``recipe`` does for this architecture."""
    found = rule_mistakes(recipe)
    decays = recipe.weight_decay > 0 or recipe.l2 > 0
    what_decays = " and ".join(n for n, v in (("weight decay", recipe.weight_decay), ("L2", recipe.l2)) if v)
    if decays and not all(architecture.weights_decayed()):
        flipped = replace(recipe, decay_biases=not recipe.decay_biases)
        if recipe.decay_biases:
            found.append(Mistake("decay_misses_biases", f"{what_decays} on the weights only, where the recipe says "
                                 "decay_biases=True", "decay every parameter, biases included", flipped))
        else:
            found.append(Mistake("decay_reaches_biases", f"{what_decays} reaching the biases too, where the recipe "
                                 "decays the weights only", "leave the biases out (torch: a parameter group with "
                                 "weight_decay 0), or state decay_biases=True", flipped))
    if recipe.weight_decay:
        found.append(Mistake("decay_missing", f"no weight decay, where the recipe has weight_decay "
                             f"{recipe.weight_decay:g}", "apply it in train()", replace(recipe, weight_decay=0.0)))
    if recipe.l2:
        found.append(Mistake("decay_missing", f"no L2 penalty, where the recipe has l2 {recipe.l2:g}",
                             "add l2 · W to each weight's gradient (and ½ · l2 · Σ ‖W‖² to the loss)",
                             replace(recipe, l2=0.0)))
        for factor, how in ((2.0, "reg · W where the loss ½ · reg · Σ W² gives"), (0.5, "½ · reg · W where the "
                                                                                          "loss reg · Σ W² gives")):
            found.append(Mistake("l2_strength", f"L2 at {factor:g}x its strength, l2 {factor * recipe.l2:g} for "
                                 f"{recipe.l2:g}", f"the penalty's gradient is {how} its own: ½ · l2 · Σ ‖W‖² has the "
                                 "gradient l2 · W (cs231n's reg · Σ W² is l2 = 2 reg)",
                                 replace(recipe, l2=factor * recipe.l2)))
    k = architecture.output_nodes
    if architecture.loss == "binary_cross_entropy":
        found.append(Mistake("bce_mean_not_sum", f"binary cross-entropy averaged over the {k} outputs where the "
                             "recipe sums it (loss 'binary_cross_entropy')", "sum over the outputs, as Nielsen's "
                             "CrossEntropyCost, or state loss='binary_cross_entropy_mean' (torch's BCELoss(), "
                             "nnfs's)", recipe, gradient_scale=1.0 / k))
    if architecture.loss == "binary_cross_entropy_mean":
        found.append(Mistake("bce_sum_not_mean", f"binary cross-entropy summed over the {k} outputs where the recipe "
                             "averages it (loss 'binary_cross_entropy_mean')", "divide by the number of outputs, "
                             "or state loss='binary_cross_entropy'", recipe, gradient_scale=float(k)))
    return found


def penalty_gradients(recipe: Recipe, weights: list[np.ndarray], decayed: list[bool]) -> list[np.ndarray]:
    """``l2 · W`` for each parameter the recipe's penalty reaches, zeros elsewhere (float64); ``decayed``
    says which parameter is a weight (``architecture.weights_decayed()``)."""
    decays = recipe.decays(decayed)
    return [recipe.l2 * np.asarray(w, np.float64) if d else np.zeros(w.shape) for w, d in zip(weights, decays)]


def gradient_of(mistake: Mistake, stated: Recipe, weights: list[np.ndarray], gradient: list[np.ndarray],
                decayed: list[bool]) -> list[np.ndarray]:
    """The gradient a network with ``mistake`` computes, from autograd's for the stated recipe:
    the data part scaled by the loss's factor, the stated penalty swapped for the mistake's."""
    return [(np.asarray(g, np.float64) - p) * mistake.gradient_scale + q for g, p, q in
            zip(gradient, penalty_gradients(stated, weights, decayed),
                penalty_gradients(mistake.recipe, weights, decayed))]


def steps_of(mistake: Mistake, stated: Recipe, state: dict[str, Any], records: list[StepRecord],
             decayed: list[bool]) -> list[list[np.ndarray]]:
    """The weights after each recorded step, as a network with ``mistake`` takes them from ``state``
    (``decayed``: :func:`penalty_gradients`')."""
    shapes = [w.shape for w in records[0].before]
    kinds = {"adam": MistakenAdam, "adamw": MistakenAdam, "sgd": MistakenSGD, "rmsprop": MistakenRMSprop}
    optimizer = (kinds[mistake.recipe.optimizer](mistake.recipe, shapes, np.float64, decayed) if mistake.rule
                 else make_optimizer(mistake.recipe, shapes, np.float64, decayed))
    optimizer.rule = mistake.rule
    optimizer.set_state(state)
    after = []
    for k, record in enumerate(records):
        weights = [np.array(w, dtype=np.float64, order="C") for w in record.before]
        lr = _mistaken_lr(mistake, stated, record.lr, state["step"] + k)
        optimizer.step(weights, gradient_of(mistake, stated, record.before, record.gradient, decayed), lr)
        after.append(weights)
    return after


def _mistaken_lr(mistake: Mistake, stated: Recipe, lr: float, step: int) -> float:
    """The learning rate the mistake steps with after ``step`` earlier steps, where the right one is ``lr``."""
    if mistake.lr_rule == "ascent":
        return -lr
    if mistake.lr_rule == "compounding":  # lr_t = lr_{t−1} / (1 + d t): lr / Π_{j ≤ t} (1 + d j)
        first = lr * (1.0 + stated.lr_decay * step)
        return first / float(np.prod([1.0 + stated.lr_decay * j for j in range(1, step + 1)]))
    return lr


def misfit(predicted: list[list[np.ndarray]], afters: list[list[np.ndarray]], befores: list[list[np.ndarray]],
           limits: list[list[float]], tol: Tolerance, partners: Sequence[int | None] | None = None) -> float:
    """How far a replay's steps (``predicted``) lie from the steps taken (``afters``), each from ``befores``:
    the worst over steps and parameters of :func:`common.tolerances.measure_step`'s relative difference
    in units of that step's tolerance (``limits``), each at its floor (:func:`common.tolerances.step_floors`
    of ``partners``, ``Architecture.floor_partners()``); infinite where the replay is not finite."""
    worst = 0.0
    for guess, after, before, limit in zip(predicted, afters, befores, limits):
        bounds = step_floors(guess, before, partners) if partners is not None else [0.0] * len(guess)
        for g, a, b, bound, floor in zip(guess, after, before, limit, bounds):
            relative = measure_step(a, g, b, tol, floor)["relative"] if np.all(np.isfinite(g)) else np.inf
            worst = max(worst, relative / bound)
    return worst
