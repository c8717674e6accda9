"""One frozen configuration for a comparison run, built once from the command line."""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from common.architecture import ACTIVATIONS, LOSSES, Architecture, conv_words
from common.layers import OPTIONS
from common.recipe import Recipe
from common.data import DATASETS
from common.errors import ParameterError
from common.validation import check_dtype, check_learning_rate, check_positive_int
from compare.plugins import is_user_network, race_order

BACKENDS = ("from_scratch", "torch_impl")  # the built-in ones; a user's own network is named "module:Class"
RULES = ("true", "book")
DEVICES = ("cpu", "cuda", "auto")  # torch_impl.DEVICES, named here so no torch is imported to check one

# The 2017 tutorial's experiment as published: full MNIST, 784-200-10, lr 0.1, 5 epochs, one
# sample a step. Its PyTorch port used float32 tensors (torch.FloatTensor); the book's NumPy, float64.
PRESETS = {
    "2017": dict(dataset="mnist", hidden=(200,), lr=0.1, epochs=5, batch_size=1, dtype="float32"),
}
# Seconds the 2017 tutorial measured for those 5 epochs on 2017 hardware (the GPU was a K80).
SECONDS_2017 = {("from_scratch", "cpu"): 440.0, ("torch_impl", "cpu"): 841.0, ("torch_impl", "cuda"): 366.0}


def _epochs(value: object) -> tuple[float, ...]:
    """Milestones in epochs: increasing finite numbers > 0."""
    found = tuple(value) if isinstance(value, (tuple, list)) else None
    if found is None or any(isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0
                            for v in found) or any(b <= a for a, b in zip(found, found[1:])):
        raise ParameterError(f"The 'milestones' parameter must be increasing numbers of epochs > 0. Got {value!r} "
                             "instead.")
    return tuple(float(v) for v in found)


def usable_cores() -> int:
    """Processors this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Config:
    """Everything a run needs; see ``python -m compare --help`` for each field's meaning.

    Built once (by the command line or :func:`compare.run_comparison`) and checked here, so a
    bad value fails with one sentence before any work starts.
    """

    dataset: str = "embedded"
    data_dir: Path | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    epochs: int = 1
    hidden: tuple = (200,)  # one entry a network: an int (one hidden layer) or a tuple of sizes (any number)
    conv: tuple = ()  # convolution layers in front of every network's hidden layers: (channels, kernel, padding)
    options: tuple = ()  # (keyword, value) of the architecture's options (common.layers.OPTIONS): norm, dropout
    activation: str = "sigmoid"
    loss: str = "half_sse"
    bias: bool = False
    lr: float = 0.1
    batch_size: int = 1
    dtype: str = "float64"
    devices: tuple[str, ...] = ("cpu",)
    threads: int = 1
    seed: int = 0
    shuffle: bool = False
    rule: str = "true"
    backends: tuple[str, ...] = BACKENDS
    check_every: int = 1000
    # The training recipe (common.recipe.Recipe's fields), but milestones in epochs, not steps.
    optimizer: str = "sgd"
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    amsgrad: bool = False
    alpha: float = 0.99
    centered: bool = False
    weight_decay: float | None = None
    l2: float = 0.0
    decay_biases: bool = False
    schedule: str = "constant"
    milestones: tuple[float, ...] = ()  # epochs (fractions allowed): compare turns them into steps
    gamma: float = 0.1
    lr_decay: float = 0.0
    preset: str | None = None
    json_path: Path | None = None
    plot_path: Path | None = None
    save_dir: Path | None = None
    quiet: bool = False
    progress: bool = False
    input_nodes: int = field(default=784, init=False)
    output_nodes: int = field(default=10, init=False)
    architectures: tuple[Architecture, ...] = field(default=(), init=False)  # one per entry of hidden

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "threads", "check_every"):
            check_positive_int(name, getattr(self, name))
        for name in ("train_limit", "test_limit"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        if isinstance(self.hidden, (int, str, bytes)) or not self.hidden:
            raise ParameterError(f"The 'hidden' parameter needs at least one network: a sequence whose entries are "
                                 f"an int or a sequence of ints. Got {self.hidden!r} instead.")
        for name, value, allowed in (("activation", self.activation, ACTIVATIONS), ("loss", self.loss, LOSSES)):
            if value not in allowed:
                raise ParameterError(f"The '{name}' parameter must be one of {allowed}. Got {value!r} instead.")
        options = dict(self.options)
        architectures = tuple(Architecture(self.input_nodes, sizes, self.output_nodes, self.activation, self.loss,
                                           self.bias, self.conv, **options) for sizes in self.hidden)
        object.__setattr__(self, "conv", architectures[0].conv)
        object.__setattr__(self, "options", tuple((k, v) for k, v in architectures[0].options if k in options))
        object.__setattr__(self, "architectures", architectures)
        object.__setattr__(self, "hidden", tuple(a.hidden_nodes if not isinstance(h, int) else h
                                                 for a, h in zip(architectures, self.hidden)))
        object.__setattr__(self, "dtype", check_dtype(self.dtype).name)
        check_learning_rate(self.lr, self.dtype)  # and one the dtype can hold
        object.__setattr__(self, "milestones", _epochs(self.milestones))
        self.recipe(10**9)  # every other recipe value checked, in one sentence (steps: a placeholder)
        for name, value, allowed in (("dataset", self.dataset, DATASETS), ("rule", self.rule, RULES),
                                     ("preset", self.preset, (None, *PRESETS))):
            if value not in allowed:
                raise ParameterError(f"The '{name}' parameter must be one of {allowed}. Got {value!r} instead.")
        if not self.devices or any(v not in DEVICES for v in self.devices):
            raise ParameterError(f"The 'devices' parameter must list some of {DEVICES}. Got {self.devices!r} instead.")
        if isinstance(self.backends, str):
            raise ParameterError(f"The 'backends' parameter must be a sequence of names. Got {self.backends!r} instead.")
        object.__setattr__(self, "backends", race_order(tuple(self.backends)))  # each name resolved, reference first
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ParameterError(f"The 'seed' parameter must be an int >= 0. Got {self.seed!r} instead.")
        if self.rule == "book" and any(is_user_network(name) for name in self.backends):
            raise ParameterError("--rule book measures from_scratch's BookNetwork against autograd; a network of your "
                                 "own races with --rule true.")
        if self.rule == "book" and "from_scratch" not in self.backends:
            raise ParameterError("--rule book trains from_scratch's BookNetwork: include from_scratch in --backends.")
        if self.rule == "book" and not self.recipe(10**9).is_plain:
            raise ParameterError(f"--rule book is the book's rule, plain SGD; got {self.recipe(10**9).describe()}.")
        if self.rule == "book" and self.conv:
            raise ParameterError(f"--rule book is the book's rule, defined for fully connected layers only; got --conv "
                                 f"{','.join(conv_words(layer) for layer in self.conv)}.")
        if self.rule == "book" and (self.activation, self.loss) != ("sigmoid", "half_sse"):
            raise ParameterError(f"--rule book is the book's rule, defined for sigmoid hidden layers and the half "
                                 f"squared error only; got --activation {self.activation} and --loss "
                                 f"{self.loss.replace('_', '-')}.")
        for architecture in architectures:
            least, why = architecture.min_batch
            if self.batch_size < least:
                raise ParameterError(f"The 'batch_size' parameter must be at least {least} for "
                                     f"{architecture.describe()}: {why}. Got {self.batch_size} instead.")
        if self.threads > usable_cores():
            raise ParameterError(
                f"--threads {self.threads} is more than the {usable_cores()} processors this process may use: "
                "threads that wait for a core make every step slower, not faster.")

    @classmethod
    def of(cls, **values) -> "Config":
        """A Config from keywords, each architecture option (``norm="batch"``, ``dropout=0.3``) among
        them: ``Config.of(hidden=(100,), norm="batch")``."""
        options = {k: values.pop(k) for k in list(values) if k in OPTIONS}
        return cls(**values, options=tuple({**dict(values.pop("options", ())), **options}.items()))

    def __getattr__(self, name: str):
        """An option's value by its keyword: ``config.norm``; its default where the run does not set it."""
        if name in OPTIONS:
            return getattr(self.architectures[0], name)
        raise AttributeError(f"'Config' object has no attribute {name!r}")

    def recipe(self, steps_per_epoch: int) -> Recipe:
        """The training recipe, with the milestones (epochs here) turned into steps of this run."""
        values = {f.name: getattr(self, f.name) for f in fields(Recipe)}
        steps = tuple(round(m * steps_per_epoch) for m in self.milestones)
        for epochs, step, before in zip(self.milestones, steps, (0, *steps)):
            if step <= before:
                where = "on the same step as the milestone before it" if before else "before the first step"
                raise ParameterError(f"--milestones {epochs:g} falls {where} in this run of {steps_per_epoch:,} "
                                     f"step{'s' if steps_per_epoch != 1 else ''} an epoch.")
        return Recipe(**{**values, "milestones": steps})

    @property
    def is_sweep(self) -> bool:
        """Several hidden sizes or devices: print the 2017 tutorial's table (hidden nodes x device)."""
        return len(self.hidden) > 1 or len(self.devices) > 1

    def to_json(self) -> dict:
        """The configuration as JSON-ready values (paths as strings, each architecture as a record)."""
        record = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                  for k, v in asdict(self).items() if k != "architectures"}
        record["hidden"] = [list(h) if isinstance(h, tuple) else h for h in self.hidden]
        record["conv"] = [list(layer) for layer in self.conv]
        del record["options"]
        record.update(dict(self.architectures[0].options))  # norm, dropout: each by its keyword
        record["architectures"] = [a.to_json() for a in self.architectures]
        return record
