"""One description of how a network trains: the optimizer, decay, L2 and the learning-rate schedule.

The architecture (:mod:`common.architecture`) says what a network computes; the recipe says how
``train()`` moves its weights. Both backends build from it, ``compare`` prints and records it,
and weights files store it. Names and meanings are torch.optim's:

================  ==============================  ===============================================
field             optimizers                      meaning
================  ==============================  ===============================================
``optimizer``     all                             "sgd" (the book's, the default), "adam",
                                                  "adamw" or "rmsprop"
``momentum``      sgd, rmsprop                    μ, default 0
``dampening``     sgd                             τ: the buffer adds (1 − τ) g, default 0
``nesterov``      sgd                             Nesterov's momentum, default False
``betas``         adam, adamw                     (β1, β2), default (0.9, 0.999)
``eps``           adam, adamw, rmsprop            ε, default 1e-8; added outside the square root
``amsgrad``       adam, adamw                     default False
``alpha``         rmsprop                         the square average's smoothing, default 0.99
``centered``      rmsprop                         default False
``weight_decay``  all                             λ, the optimizer's: coupled (g += λ w) in sgd, adam
                                                  and rmsprop, decoupled (w −= lr λ w) in adamw;
                                                  default 0, and 0.01 for adamw as in torch
``l2``            all                             a penalty ½ · l2 · Σ ‖W‖² in the loss: gradients()
                                                  and the loss train() returns include it
``decay_biases``  all                             whether weight_decay and l2 reach the biases;
                                                  default False: weights only
``schedule``      all                             "constant" (default), "step" or "inverse_time"
``milestones``    schedule "step"                 the steps (train() calls) at which lr is
                                                  multiplied by ``gamma``, as MultiStepLR
``gamma``         schedule "step"                 default 0.1
``lr_decay``      schedule "inverse_time"         lr_t = lr / (1 + lr_decay · t), nnfs's ``decay``
================  ==============================  ===============================================

With plain SGD, ``weight_decay`` λ and ``l2`` λ take the same steps: both add λ w to the
gradient before the step. They part where the optimizer does more with the gradient than scale
it (Adam divides by its second moment), and in the loss, which includes only ``l2``. Nielsen's
``(1 − ηλ/n) w`` is ``weight_decay = λ/n``; cs231n's ``reg`` is ``l2 = 2 · reg`` when its loss
adds ``reg · Σ W²``, and ``weight_decay`` too.

The optimizer's state, which :meth:`Recipe.state_names` lists, moves between backends as a dict
(:func:`check_optimizer_state`)::

    {"step": t, "exp_avg": [one array per parameter], "exp_avg_sq": [...]}

``step`` counts the ``train()`` calls taken: it drives the schedule and Adam's bias correction.
Each buffer is listed in the order of ``architecture.parameter_names()``, shaped like its
parameter, with torch.optim's name and meaning: SGD's ``momentum_buffer`` is torch's ``b`` in
``b ← μ b + (1 − τ) g`` (cs231n's velocity ``v`` is ``−lr · b``), created as ``g`` at the first
step; while ``step`` is 0 every buffer is zeros.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np

from common.errors import ParameterError, with_article

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "inverse_time")

# Which fields each optimizer reads. A field set away from its default where the optimizer does
# not read it is refused, so that no option is silently ignored.
READS = {
    "sgd": ("momentum", "dampening", "nesterov"),
    "adam": ("betas", "eps", "amsgrad"),
    "adamw": ("betas", "eps", "amsgrad"),
    "rmsprop": ("alpha", "eps", "momentum", "centered"),
}
SCHEDULE_READS = {"constant": (), "step": ("milestones", "gamma"), "inverse_time": ("lr_decay",)}
DEFAULT_WEIGHT_DECAY = {"sgd": 0.0, "adam": 0.0, "adamw": 1e-2, "rmsprop": 0.0}  # torch.optim's
DECOUPLED = ("adamw",)  # weight decay applied to the weights directly, not through the gradient
NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}  # torch.optim's class names
# The same tables turned round: for each field, the optimizers or the schedule that read it.
READERS = {name: tuple(o for o, names in READS.items() if name in names) for name in dict.fromkeys(
    name for names in READS.values() for name in names)}
SCHEDULE_READERS = {name: (kind,) for kind, names in SCHEDULE_READS.items() for name in names}


def _real(name: str, value: object, below: float | None = None, positive: bool = False) -> float:
    """A finite real >= 0 (> 0 if ``positive``), below ``below`` if given; or one sentence."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value) and (
        value > 0 if positive else value >= 0)
    if ok and below is not None:
        ok = value < below
    if not ok:
        allowed = f"in [0, {below:g})" if below is not None else "> 0" if positive else ">= 0"
        raise ParameterError(f"The '{name}' parameter must be a finite float {allowed}. Got {value!r} instead.")
    return float(value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"The '{name}' parameter must be True or False. Got {value!r} instead.")
    return bool(value)


def _milestones(value: object) -> tuple[int, ...]:
    steps = tuple(value) if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else None
    if steps is None or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in steps) \
            or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ParameterError("The 'milestones' parameter must be increasing whole numbers of steps >= 1 (train() "
                             f"calls). Got {value!r} instead.")
    return tuple(int(s) for s in steps)


@dataclass(frozen=True)
class Recipe:
    """How ``train()`` steps: optimizer, weight decay, L2 penalty, learning-rate schedule.

    Every field is a keyword of both backends' ``Network`` (and of a user's network raced from
    the command line); the module docstring's table says what each means. The defaults are the
    book's: plain SGD, ``W −= lr · dL/dW``.

    Examples
    --------
    >>> Recipe()
    Recipe()
    >>> Recipe(optimizer="adam", eps=1e-7)
    Recipe(optimizer='adam', eps=1e-07)
    >>> Recipe(optimizer="adamw").weight_decay  # torch's default for AdamW
    0.01
    >>> Recipe(optimizer="sgd", momentum=0.9, l2=1e-3).describe()
    'SGD (momentum 0.9), L2 0.001 on the weights'
    >>> Recipe(optimizer="adam", momentum=0.9)
    Traceback (most recent call last):
      ...
    common.errors.ParameterError: The 'momentum' parameter applies to optimizer 'sgd' or 'rmsprop'; this recipe's optimizer is 'adam'.
    """

    optimizer: str = "sgd"
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    amsgrad: bool = False
    alpha: float = 0.99
    centered: bool = False
    weight_decay: float | None = None  # None: the optimizer's default (DEFAULT_WEIGHT_DECAY)
    l2: float = 0.0
    decay_biases: bool = False
    schedule: str = "constant"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    lr_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError(f"The 'optimizer' parameter must be one of {OPTIMIZERS}. "
                                 f"Got {self.optimizer!r} instead.")
        if self.schedule not in SCHEDULES:
            raise ParameterError(f"The 'schedule' parameter must be one of {SCHEDULES}. Got {self.schedule!r} instead.")
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        for name in ("momentum", "dampening", "weight_decay", "l2", "lr_decay"):
            if name != "weight_decay" or self.weight_decay is not None:
                set_(name, _real(name, getattr(self, name)))
        if self.weight_decay is None:
            set_("weight_decay", DEFAULT_WEIGHT_DECAY[self.optimizer])
        set_("eps", _real("eps", self.eps))
        set_("alpha", _real("alpha", self.alpha))
        set_("gamma", _real("gamma", self.gamma, positive=True))
        betas = self.betas
        if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2 or not all(
                not isinstance(b, bool) and isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas):
            raise ParameterError(f"The 'betas' parameter must be two floats (beta1, beta2), each in [0, 1). "
                                 f"Got {betas!r} instead.")
        set_("betas", tuple(float(b) for b in betas))
        for name in ("nesterov", "amsgrad", "centered", "decay_biases"):
            set_(name, _flag(name, getattr(self, name)))
        set_("milestones", _milestones(self.milestones))
        defaults = {f.name: f.default for f in fields(self)}
        for name, readers in READERS.items():
            if getattr(self, name) != defaults[name] and self.optimizer not in readers:
                raise ParameterError(f"The '{name}' parameter applies to optimizer "
                                     f"{' or '.join(repr(r) for r in readers)}; this recipe's optimizer is "
                                     f"{self.optimizer!r}.")
        for name, kinds in SCHEDULE_READERS.items():
            if getattr(self, name) != defaults[name] and self.schedule not in kinds:
                raise ParameterError(f"The '{name}' parameter applies to schedule {kinds[0]!r}; this recipe's "
                                     f"schedule is {self.schedule!r}.")
        if self.schedule == "step" and not self.milestones:
            raise ParameterError("The 'milestones' parameter is what the 'step' schedule needs: when lr is multiplied "
                                 "by gamma. Got none.")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ParameterError("Nesterov momentum needs momentum > 0 and dampening 0 (as torch.optim.SGD). "
                                 f"Got momentum {self.momentum:g} and dampening {self.dampening:g} instead.")

    # -- what it is -----------------------------------------------------------------------------

    @property
    def is_plain(self) -> bool:
        """The book's update, ``W −= lr · dL/dW``: SGD without momentum, decay, L2 or schedule."""
        return self == Recipe()

    @property
    def decoupled(self) -> bool:
        """Whether weight decay moves the weights directly (AdamW) instead of through the gradient."""
        return self.optimizer in DECOUPLED

    def state_names(self) -> tuple[str, ...]:
        """The buffers the optimizer keeps per parameter, with torch.optim's names."""
        if self.optimizer == "sgd":
            return ("momentum_buffer",) if self.momentum else ()
        if self.optimizer in ("adam", "adamw"):
            return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())
        return ("square_avg",) + (("momentum_buffer",) if self.momentum else ()) + (
            ("grad_avg",) if self.centered else ())

    @property
    def has_state(self) -> bool:
        """Whether a step depends on more than the weights and the batch: buffers, or a step count
        that the schedule or Adam's bias correction reads."""
        return bool(self.state_names()) or self.schedule != "constant"

    def decays(self, weights: Sequence[bool]) -> list[bool]:
        """For each parameter, given whether it is a weight (``architecture.weights_decayed()``),
        whether weight_decay and l2 reach it: every weight, and the others (biases, a
        normalization's γ and β) only with ``decay_biases``."""
        return [bool(weight) or self.decay_biases for weight in weights]

    def learning_rate(self, lr: float, step: int) -> float:
        """The learning rate of the step taken after ``step`` earlier steps, as torch's schedulers give it.

        "step": MultiStepLR, lr multiplied by gamma at each milestone reached, one product at a
        time as torch does it; "inverse_time": LambdaLR with ``1 / (1 + lr_decay · t)``, nnfs's decay.
        """
        if self.schedule == "step":
            for milestone in self.milestones:
                if step >= milestone:
                    lr = lr * self.gamma
            return lr
        if self.schedule == "inverse_time":
            return lr * (1.0 / (1.0 + self.lr_decay * step))
        return lr

    # -- keywords, words and records --------------------------------------------------------------

    def changed_keywords(self) -> dict[str, Any]:
        """The fields whose values are not their defaults (weight_decay: the optimizer's default)."""
        changed = {}
        for f in fields(self):
            default = DEFAULT_WEIGHT_DECAY[self.optimizer] if f.name == "weight_decay" else f.default
            if getattr(self, f.name) != default:
                changed[f.name] = getattr(self, f.name)
        return changed

    def describe(self) -> str:
        """``"Adam (eps 1e-07), weight decay 0.01 on the weights, lr ×0.1 at steps 3000, 5000"``.

        The plain recipe is ``"SGD"``.
        """
        changed = self.changed_keywords()
        options = [f"{name.replace('_', ' ')} {_words(changed[name])}" for name in READS[self.optimizer]
                   if name in changed]
        text = NAMES[self.optimizer] + (f" ({', '.join(options)})" if options else "")
        where = "on weights and biases" if self.decay_biases else "on the weights"
        if self.weight_decay:
            text += f", {'decoupled ' if self.decoupled else ''}weight decay {self.weight_decay:g} {where}"
        if self.l2:
            text += f", L2 {self.l2:g} {where}"
        if self.schedule == "step":
            text += f", lr ×{self.gamma:g} at step{'s' if len(self.milestones) > 1 else ''} " + \
                    ", ".join(f"{m:,}" for m in self.milestones)
        elif self.schedule == "inverse_time":
            text += f", lr / (1 + {self.lr_decay:g} t)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v, tuple) else v) for f in fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Recipe":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(record) - known)
        if unknown:
            raise ParameterError(f"Not a recipe record: unknown field(s) {', '.join(unknown)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in record.items()})

    @classmethod
    def of(cls, network: object) -> "Recipe":
        """The recipe a network states: its ``recipe`` attribute if it is a Recipe, else its attributes of
        the fields' names (``optimizer``, ``momentum``, ...), an absent one meaning the default."""
        found = getattr(network, "recipe", None)
        if isinstance(found, cls):
            return found
        stated = {f.name: getattr(network, f.name) for f in fields(cls) if hasattr(network, f.name)}
        optimizer = stated.get("optimizer", "sgd")
        if not isinstance(optimizer, str):
            raise ParameterError(
                f"{type(network).__name__}.optimizer is {with_article(type(optimizer).__name__)}, not the name of an "
                "optimizer: "
                f"state the recipe by name (optimizer = 'adam', ...), or as recipe = common.recipe.Recipe(...).")
        return cls(**stated)

    def __repr__(self) -> str:
        return f"Recipe({', '.join(f'{k}={v!r}' for k, v in self.changed_keywords().items())})"


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(f"{v:g}" for v in value)
    return f"{value:g}"


def make_recipe(owner: str, keywords: dict[str, Any]) -> Recipe:
    """``Recipe(**keywords)``, with an unknown keyword as one sentence naming ``owner`` (a class)."""
    known = [f.name for f in fields(Recipe)]
    unknown = [k for k in keywords if k not in known]
    if unknown:
        raise ParameterError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}; the training recipe's "
                             f"keywords are {', '.join(known)}.")
    return Recipe(**keywords)


def check_optimizer_state(state: object, recipe: Recipe, names: Sequence[str], shapes: Sequence[tuple[int, ...]],
                          dtype: np.dtype, what: str = "optimizer state") -> dict[str, Any]:
    """The state as copies in ``dtype``, checked against the recipe and the parameters; else one sentence.

    Parameters
    ----------
    state : dict
        ``{"step": int >= 0, name: [array per parameter] for name in recipe.state_names()}``.
    names, shapes : sequences
        ``architecture.parameter_names()`` and ``parameter_shapes()``.
    """
    expected = ("step", *recipe.state_names())
    if not isinstance(state, dict) or set(state) != set(expected):
        got = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
        raise ParameterError(f"The {what} must be a dict with keys {list(expected)} for {recipe.describe()}. "
                             f"Got {got} instead.")
    step = state["step"]
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) or step < 0:
        raise ParameterError(f"The {what}'s 'step' must be a whole number >= 0 (train() calls taken). "
                             f"Got {step!r} instead.")
    checked: dict[str, Any] = {"step": int(step)}
    for buffer in recipe.state_names():
        arrays = state[buffer]
        if isinstance(arrays, np.ndarray) or not isinstance(arrays, Sequence) or len(arrays) != len(names):
            raise ParameterError(f"The {what}'s {buffer!r} must be a list of {len(names)} arrays, one per parameter "
                                 f"[{', '.join(names)}].")
        copies = []
        for name, array, shape in zip(names, arrays, shapes):
            array = np.asarray(array)
            if array.shape != shape:
                raise ParameterError(f"The {what}'s {buffer} for {name} must have shape {shape}. "
                                     f"Got {array.shape} instead.")
            if not np.all(np.isfinite(array)):
                raise ParameterError(f"The {what}'s {buffer} for {name} holds non-finite values (nan or inf).")
            copies.append(np.array(array, dtype=dtype, order="C", copy=True))
        checked[buffer] = copies
    return checked


def fresh_state(recipe: Recipe, shapes: Sequence[tuple[int, ...]], dtype: np.dtype) -> dict[str, Any]:
    """The state before any step: step 0, every buffer zeros."""
    return {"step": 0, **{name: [np.zeros(s, dtype=dtype) for s in shapes] for name in recipe.state_names()}}
