"""``check_update``: an update rule as the learner wrote it, against torch.optim, step by step, with a likely cause.

The rule (cs231n's ``rule(w, dw, config)`` or an nnfs optimizer object, :mod:`compare.check.forms`)
steps a weight matrix W and a bias b, from seeded weights, over :data:`STEPS` seeded gradients
whose columns are of order 1, 1e-2 and 1e-4: enough steps for Adam's bias correction, momentum
and a decaying rate to show, and entries small enough beside ε for its place (inside or outside
the square root, before or after the correction) to show. torch.optim's optimizer, built with the
hyperparameters the rule itself stepped with (read from it, :data:`LEARNER_NAMES`), takes each
step from the rule's own weights before it, its state carried from step to step as the rule's
should be; the two steps are compared as the race compares steps
(:func:`common.tolerances.measure_step`, within the dtype's ``single`` tolerance). Where they
differ, each mistake of :mod:`compare.check.mistakes.recipe` that the optimizer can make is
replayed from the same weights, and one is named only when its steps are the rule's, every one.

========================  =================================  ==========================================
``optimizer``             torch.optim                        the learner's form it is checked against
========================  =================================  ==========================================
``"sgd"``                 ``SGD(lr)``, momentum as read      cs231n's ``sgd``; nnfs's ``Optimizer_SGD``
``"sgd_momentum"``        ``SGD(lr, momentum)``              cs231n's velocity v = μ v − lr dw, w += v
                                                             (torch's buffer b, v = −lr b)
``"nesterov"``            ``SGD(lr, momentum, nesterov=True)``  the lecture notes' form of Nesterov
``"rmsprop"``             ``RMSprop(lr, alpha, eps)``        cs231n's ``decay_rate``, nnfs's ``rho``: α
``"adagrad"``             ``Adagrad(lr, eps)``               nnfs's ``Optimizer_Adagrad``
``"adam"``                ``Adam(lr, betas, eps)``           cs231n's ``adam``; nnfs's ``Optimizer_Adam``
``"adamw"``               ``AdamW(lr, betas, eps, weight_decay)``  decoupled weight decay
========================  =================================  ==========================================
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from common.errors import ParameterError
from common.recipe import Recipe, fresh_state
from common.tolerances import measure_step, tolerance
from compare.check.diagnosis import Cause
from compare.check.forms import PARAMETERS, COUNTS, Trace, form_of
from compare.check.mistakes.recipe import FIT_MARGIN, StepRecord, misfit, rule_mistakes, steps_of
from compare.check.network import _cell
from compare.check.update_report import UpdateReport, UpdateRow

STEPS = 6  # enough for bias correction, momentum and an inverse-time decay (compounding shows at step 3)
SCALES = (1.0, 1e-2, 1e-4)  # the gradients' columns cycle through these: ε's place shows beside the smallest
SEED = 0

# check_update's names: torch.optim's class and the keywords the name fixes
OPTIMIZERS = {"sgd": ("SGD", {}), "sgd_momentum": ("SGD", {}), "nesterov": ("SGD", {"nesterov": True}),
              "rmsprop": ("RMSprop", {}), "adagrad": ("Adagrad", {}), "adam": ("Adam", {}), "adamw": ("AdamW", {})}
RECIPE_OPTIMIZER = {"sgd": "sgd", "sgd_momentum": "sgd", "nesterov": "sgd", "rmsprop": "rmsprop", "adam": "adam",
                    "adamw": "adamw"}  # common.recipe's name; Adagrad has no recipe, so no catalogue
# The hyperparameters in the learners' names (cs231n's config keys, nnfs's attributes, torch's own) and
# what each is to torch.optim: "beta1", "beta2" make betas; "lr_decay" is nnfs's decay, lr / (1 + decay t).
LEARNER_NAMES = {"learning_rate": "lr", "lr": "lr", "momentum": "momentum", "dampening": "dampening",
                 "beta1": "beta1", "beta_1": "beta1", "beta2": "beta2", "beta_2": "beta2", "epsilon": "eps",
                 "eps": "eps", "decay_rate": "alpha", "rho": "alpha", "alpha": "alpha", "weight_decay": "weight_decay",
                 "decay": "lr_decay", "amsgrad": "amsgrad", "centered": "centered", "decay_biases": "decay_biases"}
TARGETS = {"beta1": "betas[0]", "beta2": "betas[1]", "lr_decay": "lr / (1 + decay · t) each step",
           "decay_biases": "whether weight decay reaches b"}  # the words for a target that is no keyword of torch's
READS = {"SGD": ("lr", "momentum", "dampening", "weight_decay"),
         "RMSprop": ("lr", "alpha", "eps", "momentum", "centered", "weight_decay"),
         "Adagrad": ("lr", "eps", "weight_decay"),
         "Adam": ("lr", "beta1", "beta2", "eps", "amsgrad", "weight_decay"),
         "AdamW": ("lr", "beta1", "beta2", "eps", "amsgrad", "weight_decay")}
# Where each learner's state lies in torch.optim's, by the optimizer's family: (torch's name, scale), the
# scale "-lr" for a velocity v = −lr b. A count is compared with the steps taken.
STATE = {"SGD": {"velocity": ("momentum_buffer", "-lr"), "momentum_buffer": ("momentum_buffer", 1.0),
                 "momentums": ("momentum_buffer", "-lr")},
         "RMSprop": {"cache": ("square_avg", 1.0), "square_avg": ("square_avg", 1.0)},
         "Adagrad": {"cache": ("sum", 1.0), "sum": ("sum", 1.0)},
         "Adam": {"m": ("exp_avg", 1.0), "v": ("exp_avg_sq", 1.0), "momentums": ("exp_avg", 1.0),
                  "cache": ("exp_avg_sq", 1.0)}}
STATE["AdamW"] = STATE["Adam"]


def check_update(optimizer: str, rule: Any, *, dtype: str = "float64", learning_rates: Sequence[float] | None = None,
                 **hyperparameters: Any) -> UpdateReport:
    """Check an update rule, as written, against torch.optim's ``optimizer`` over several steps.

    Parameters
    ----------
    optimizer : str
        The torch.optim optimizer the rule is meant to be (the module's table): ``"sgd"``,
        ``"sgd_momentum"``, ``"nesterov"``, ``"rmsprop"``, ``"adagrad"``, ``"adam"`` or ``"adamw"``.
    rule : callable or object
        cs231n's ``rule(w, dw, config=None) -> (next_w, config)``, or an nnfs optimizer: an object with
        ``update_params(layer)`` (and ``pre_update_params``, ``post_update_params``), or its class,
        which is built with ``hyperparameters``.
    dtype : {"float64", "float32"}
        The weights' and gradients' dtype, and torch's.
    learning_rates : sequence of float, optional
        The learning rate of each step, as cs231n's Solver sets ``config['learning_rate']`` between
        epochs (its ``lr_decay``); as many steps as rates. By default a constant rate, the rule's own.
    **hyperparameters
        In the learner's own names (:data:`LEARNER_NAMES`: ``learning_rate``, ``momentum``, ``beta1``
        or ``beta_1``, ``epsilon``, ``decay_rate`` or ``rho``, ``decay``, ``weight_decay``, ...): the
        first config of a cs231n rule, or an nnfs class's constructor keywords. Whatever the rule
        does not set is its own default; whatever torch.optim reads that the rule has not is torch's.

    Returns
    -------
    UpdateReport
        ``.passed``, ``.rows``, ``.cause``; ``print(report)`` shows the table, ``report.to_json()``
        the record.

    Raises
    ------
    ParameterError
        An unknown optimizer or hyperparameter, or a bad value (one sentence).
    ConformanceError
        A rule of neither form, or one that returned something else than it should (None, a bare
        array, another shape, a nan), or raised (shown with its own frames).
    """
    if optimizer not in OPTIMIZERS:
        raise ParameterError(f"The 'optimizer' parameter must be one of {', '.join(map(repr, OPTIMIZERS))}: the "
                             f"torch.optim optimizer the rule is meant to be. Got {optimizer!r} instead.")
    dtype = np.dtype(dtype) if dtype in ("float32", "float64") else None
    if dtype is None:
        raise ParameterError("The 'dtype' parameter must be 'float64' or 'float32'.")
    given = _given(hyperparameters)
    rates = _rates(learning_rates, given)
    form = form_of(rule, given, dtype)
    steps = len(rates) if rates else STEPS
    starts, gradients = _inputs(form.shapes, steps, dtype)
    trace = form.run(starts, gradients, rates)
    torch_name, keywords = OPTIMIZERS[optimizer]
    hyper, read = _hyperparameters(optimizer, torch_name, trace.hyper, given)
    lr, lr_decay = hyper.pop("lr"), hyper.pop("lr_decay", 0.0)
    decays = [True, bool(hyper.pop("decay_biases", True))]
    lrs = list(rates) if rates else [lr / (1.0 + lr_decay * k) for k in range(steps)]
    keywords = {**_torch_keywords(torch_name, hyper), **keywords}
    theirs, their_state = _torch_steps(torch_name, {"lr": lr, **keywords}, trace.befores, gradients, lrs, decays)
    tol = tolerance(dtype)
    rows = _step_rows(trace, theirs, tol) + _state_rows(torch_name, trace, their_state, lrs[-1], tol)
    report = dict(rule=form.name, optimizer=optimizer, form=form.signature, dtype=dtype.name, tolerance=tol.single,
                  reference=_call(torch_name, lr, keywords), read=read, state_names=_state_words(torch_name, trace),
                  setting=_setting(form.shapes, steps, rates, lr_decay), notes=trace.notes, rows=rows)
    failed = next((row for row in rows if row.kind == "step" and not row.cell.passed), None)
    cause = None
    if failed is not None:
        recipe = _recipe(optimizer, lr, lr_decay, hyper)
        cause = _cause(form.name, recipe, report["reference"], trace, gradients, lrs, decays, theirs, tol, failed,
                       changing=rates is not None and len(set(rates)) > 1)
        if cause.name == "unexplained" and not rates and "lr" not in (LEARNER_NAMES.get(k) for k in trace.hyper):
            cause = replace(cause, sentence=cause.sentence + (
                f" The rule states no learning rate (no learning_rate in its config after the first call, or "
                f"attribute), so torch.optim's default, {lr:g}, was taken: give the one it steps with, "
                "learning_rate=..."))
    return UpdateReport(**report, cause=cause)


# -- what the learner gave ---------------------------------------------------------------------------

def _given(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    for name, value in hyperparameters.items():
        if name not in LEARNER_NAMES:
            raise ParameterError(f"check_update() got an unexpected hyperparameter {name!r}; it reads, in the "
                                 f"learners' names, {', '.join(LEARNER_NAMES)}.")
        flag = LEARNER_NAMES[name] in ("amsgrad", "centered", "decay_biases")
        ok = isinstance(value, bool) if flag else (not isinstance(value, bool) and isinstance(value, numbers.Real)
                                                   and np.isfinite(value) and value >= 0)
        if not ok:
            allowed = "True or False" if flag else "a finite float >= 0"
            raise ParameterError(f"The {name!r} hyperparameter must be {allowed}. Got {value!r} instead.")
    return dict(hyperparameters)


def _rates(learning_rates: Sequence[float] | None, given: dict[str, Any]) -> list[float] | None:
    if learning_rates is None:
        return None
    rates = list(learning_rates) if isinstance(learning_rates, Sequence) else None
    if rates is None or len(rates) < 2 or not all(not isinstance(r, bool) and isinstance(r, numbers.Real) and
                                                  np.isfinite(r) and r > 0 for r in rates):
        raise ParameterError(f"The 'learning_rates' parameter must be two or more floats > 0, one a step. Got "
                             f"{learning_rates!r} instead.")
    clash = [name for name in given if LEARNER_NAMES[name] in ("lr", "lr_decay")]
    if clash:
        raise ParameterError(f"The 'learning_rates' parameter sets each step's rate; {clash[0]!r} cannot be given "
                             "beside it.")
    return [float(r) for r in rates]


def _inputs(shapes: list[tuple[int, ...]], steps: int, dtype: np.dtype) -> tuple[list[np.ndarray], list[list]]:
    """Seeded starting weights and ``steps`` gradients, each gradient's columns of order 1, 1e-2 and 1e-4 in turn."""
    generator = np.random.default_rng(SEED)
    starts = [(0.1 * generator.standard_normal(shape)).astype(dtype) for shape in shapes]
    scales = [np.resize(np.array(SCALES), shape[-1]) for shape in shapes]
    gradients = [[(scale * (generator.standard_normal(shape) + 0.3)).astype(dtype)
                  for shape, scale in zip(shapes, scales)] for _ in range(steps)]
    return starts, gradients


def _defaults(torch_name: str) -> dict[str, Any]:
    """torch.optim's defaults for the class, with its betas as beta1 and beta2."""
    import torch

    defaults = {k: p.default for k, p in inspect.signature(getattr(torch.optim, torch_name)).parameters.items()}
    if "betas" in defaults:
        defaults.update(beta1=defaults["betas"][0], beta2=defaults["betas"][1])
    return defaults


def _value(value: Any) -> str:
    return repr(value) if isinstance(value, (bool, np.bool_)) else f"{value:g}"


def _hyperparameters(optimizer: str, torch_name: str, stated: dict[str, Any],
                     given: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """torch.optim's values (its names), from what the rule stepped with (given, or its own), else
    torch's defaults; and, in words, what was read from where."""
    defaults = _defaults(torch_name)
    hyper: dict[str, Any] = {}
    found: dict[str, list[str]] = {"given": [], "own": [], "default": [], "ignored": []}
    for name, value in stated.items():
        target = LEARNER_NAMES.get(name)
        if target is None or (target not in READS[torch_name] and target not in ("lr_decay", "decay_biases")):
            found["ignored"].append(name)
            continue
        twin = next((other for other in stated if other != name and LEARNER_NAMES.get(other) == target), None)
        if twin is not None and stated[twin] != value:
            raise ParameterError(f"The rule holds {name} {_value(value)} and {twin} {_value(stated[twin])}, both "
                                 f"{TARGETS.get(target, target)} to torch.optim: give the hyperparameter in the rule's "
                                 "own spelling, the one it reads.")
        hyper[target] = value
        found["given" if name in given else "own"].append(f"{name} {_value(value)} → {TARGETS.get(target, target)}")
    for target in READS[torch_name]:
        if target not in hyper:
            hyper[target] = defaults[target]
            found["default"].append(f"{target} {_value(defaults[target])}")
    if optimizer in ("sgd_momentum", "nesterov") and not hyper["momentum"]:
        raise ParameterError(f"check_update({optimizer!r}, ...) needs a momentum: the rule states none (in its "
                             "config after the first call, or in its attributes); give it, momentum=0.9.")
    how = {"given": "given", "own": "the rule's own", "default": "torch's defaults: the rule sets none",
           "ignored": f"not read by torch.optim.{torch_name}"}
    said = "; ".join(f"{', '.join(found[key])} ({how[key]})" for key in how if found[key])
    return hyper, said or "nothing"


def _torch_keywords(torch_name: str, hyper: dict[str, Any]) -> dict[str, Any]:
    keywords = {k: v for k, v in hyper.items() if k not in ("beta1", "beta2")}
    if "beta1" in hyper:
        keywords["betas"] = (float(hyper["beta1"]), float(hyper["beta2"]))
    return keywords


def _call(torch_name: str, lr: float, keywords: dict[str, Any]) -> str:
    """``torch.optim.Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08)``: lr and every keyword away from its default,
    and the ones that define the optimizer (betas, eps, alpha, momentum)."""
    defaults = _defaults(torch_name)
    given = {"lr": lr, **keywords}
    shown = {k: given[k] for k in defaults if k in given and (given[k] != defaults[k] or k in ("lr", "betas", "eps",
                                                                                              "alpha"))}
    return f"torch.optim.{torch_name}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _setting(shapes: list[tuple[int, ...]], steps: int, rates: list[float] | None, lr_decay: float) -> str:
    rate = ("at the learning rates given, " + ", ".join(f"{r:g}" for r in rates) if rates else
            f"lr / (1 + {lr_decay:g} t), the rule's decay" if lr_decay else "at a constant learning rate")
    return (f"{steps} on copies of W {shapes[0]} and b {shapes[1]} from seeded weights, on seeded gradients whose "
            f"columns are of order {', '.join(f'{s:g}' for s in SCALES)} (where ε's place shows), {rate}; each step "
            "from the rule's own weights before it, torch's state carried from step to step as the rule's should be")


# -- torch.optim beside it -------------------------------------------------------------------------------

def _torch_steps(torch_name: str, keywords: dict[str, Any], befores: list[list[np.ndarray]], gradients: list[list],
                 lrs: list[float], decays: list[bool]) -> tuple[list[list[np.ndarray]], dict[str, list]]:
    """torch.optim's weights after each step, each from the rule's weights before it, and its state after the last."""
    import torch

    params = [torch.zeros(w.shape, dtype=getattr(torch, w.dtype.name), requires_grad=True) for w in befores[0]]
    groups = [{"params": [p], **({} if decays[i] else {"weight_decay": 0.0})} for i, p in enumerate(params)]
    optimizer = getattr(torch.optim, torch_name)(groups, **keywords)
    afters = []
    for before, grads, lr in zip(befores, gradients, lrs):
        with torch.no_grad():
            for p, w, g in zip(params, before, grads):
                p.copy_(torch.from_numpy(w))
                p.grad = torch.from_numpy(np.array(g, dtype=w.dtype))
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        afters.append([p.detach().numpy().copy() for p in params])
    state: dict[str, list] = {}
    for p in params:
        for name, value in optimizer.state[p].items():
            state.setdefault(name, []).append(value.detach().numpy().astype(np.float64) if value.ndim else
                                              int(value.item()))
    return afters, state


def _step_rows(trace: Trace, theirs: list[list[np.ndarray]], tol) -> list[UpdateRow]:
    rows = []
    for k, (before, mine, other) in enumerate(zip(trace.befores, trace.afters, theirs), start=1):
        for name, w0, w1, r1 in zip(PARAMETERS, before, mine, other):
            step, their_step = w1.astype(np.float64) - w0, r1.astype(np.float64) - w0
            cell = _cell(step, their_step, tol.single, k, numbers=measure_step(w1, r1, w0, tol))
            at = np.unravel_index(int(np.argmax(np.abs(step - their_step))), step.shape)
            rows.append(UpdateRow("step", k, name, cell, float(step[at]), float(their_step[at])))
    return rows


def _state_rows(torch_name: str, trace: Trace, theirs: dict[str, list], lr: float, tol) -> list[UpdateRow]:
    """The rule's state after the last step beside torch's, where its names say which torch's it is."""
    rows, steps = [], len(trace.afters)
    for name, values in trace.state.items():
        if name in COUNTS:
            cell = _cell(np.array([float(values[0])]), np.array([float(steps)]), 0.0)
            rows.append(UpdateRow("state", None, f"{name} → step", cell, float(values[0]), float(steps)))
            continue
        if name not in STATE[torch_name] or STATE[torch_name][name][0] not in theirs:
            continue
        target, scale = STATE[torch_name][name]
        factor = -lr if scale == "-lr" else scale
        mine = np.concatenate([np.ravel(v) for v in values])
        other = factor * np.concatenate([np.ravel(v) for v in theirs[target]])
        cell = _cell(mine, other, tol.single)
        at = int(np.argmax(np.abs(mine - other)))
        label = f"{name} → {'−lr · ' if scale == '-lr' else ''}{target}"
        rows.append(UpdateRow("state", None, label, cell, float(mine[at]), float(other[at])))
    return rows


def _state_words(torch_name: str, trace: Trace) -> str:
    known = [f"{name} → {'step (the steps taken)' if name in COUNTS else STATE[torch_name][name][0]}"
             for name in trace.state if name in COUNTS or name in STATE[torch_name]]
    unknown = [name for name in trace.state if name not in COUNTS and name not in STATE[torch_name]]
    said = ", ".join(known) if known else "none that torch.optim keeps"
    return said + (f"; not compared: {', '.join(unknown)}" if unknown else "")


# -- the likely cause ----------------------------------------------------------------------------------

def _recipe(optimizer: str, lr: float, lr_decay: float, hyper: dict[str, Any]) -> Recipe | None:
    """The recipe the steps should follow, in common.recipe's terms, for the catalogue's replays."""
    if optimizer not in RECIPE_OPTIMIZER:
        return None
    name = RECIPE_OPTIMIZER[optimizer]
    fields = {"momentum": hyper.get("momentum", 0.0), "dampening": hyper.get("dampening", 0.0),
              "nesterov": optimizer == "nesterov", "betas": (hyper.get("beta1", 0.9), hyper.get("beta2", 0.999)),
              "eps": hyper.get("eps", 1e-8), "amsgrad": hyper.get("amsgrad", False), "alpha": hyper.get("alpha", 0.99),
              "centered": hyper.get("centered", False)}
    reads = {"sgd": ("momentum", "dampening", "nesterov"), "rmsprop": ("alpha", "eps", "momentum", "centered"),
             "adam": ("betas", "eps", "amsgrad"), "adamw": ("betas", "eps", "amsgrad")}[name]
    schedule = {"schedule": "inverse_time", "lr_decay": lr_decay} if lr_decay else {}
    return Recipe(optimizer=name, weight_decay=float(hyper.get("weight_decay", 0.0)),
                  **{k: fields[k] for k in reads}, **schedule)


def _cause(rule: str, recipe: Recipe | None, reference: str, trace: Trace, gradients, lrs, decays, theirs, tol,
           failed: UpdateRow, changing: bool) -> Cause:
    limits = [[tol.single] * len(PARAMETERS) for _ in trace.afters]
    if recipe is not None:
        records = [StepRecord([w.astype(np.float64) for w in before], [g.astype(np.float64) for g in grads], lr)
                   for before, grads, lr in zip(trace.befores, gradients, lrs)]
        state = fresh_state(recipe, [w.shape for w in trace.befores[0]], np.float64)
        fits = []
        with np.errstate(all="ignore"):
            for order, mistake in enumerate(rule_mistakes(recipe, changing)):
                predicted = steps_of(mistake, recipe, state, records, decays)
                worst = misfit(predicted, trace.afters, trace.befores, limits, tol)
                if worst <= FIT_MARGIN and misfit(predicted, theirs, trace.befores, limits, tol) > 1.0:
                    fits.append((worst, order, mistake))
        if fits:
            mistake = min(fits, key=lambda fit: fit[:2])[2]
            return Cause(mistake.name, failed.name, (
                f"{rule} takes the steps of {mistake.what}: all {len(trace.afters)} of its steps are that rule's "
                f"from the same weights and state (within each step's tolerance), not {reference}'s. "
                f"Fix: {mistake.fix}."))
    cell = failed.cell
    opposite = cell.cosine is not None and cell.cosine < -0.99
    how = (f"its step points the other way (cosine {cell.cosine:.6f})" if opposite
           else f"its step is {cell.ratio:.4g}x as long, cosine {cell.cosine:.6f}")
    since = (f" Step 1 agrees and step {failed.step} does not: its state (a velocity, the moments, the step count) "
             f"evolves otherwise than torch.optim's." if failed.step > 1 else "")
    catalogue = "" if recipe is not None else f" (the catalogue has no mistakes of {reference.split('(')[0]})"
    return Cause("unexplained", failed.name, (
        f"No mistake in the catalogue{catalogue} fits these steps. First difference: step {failed.step}, "
        f"{failed.name}: relative {cell.relative:.3g}; {how}.{since}"))
