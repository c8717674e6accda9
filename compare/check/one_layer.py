"""What a kind's catalogue tells :func:`compare.check_layer`: one layer, checked alone.

Each catalogue module of :mod:`compare.check.mistakes` that can check a layer alone holds, beside its
network-level ``mistakes(spec)``, a :class:`LayerCheck` per kind in ``CHECKS`` (``{"conv": ...}``):

=====================  =============================================================================
asked                  answered by
=====================  =============================================================================
configurations         :meth:`LayerCheck.configurations`: several, each a :class:`Configuration`
                       (pad 0 and 2, overlapping windows, keep probabilities 0.5 and 0.8, ...)
what the code is       :meth:`LayerCheck.draw`: a :class:`Case`, real MNIST images or maps of
given                  fitting shape, the parameters in torch's layout, dL/dout, the parameter dict
how it is called       :meth:`LayerCheck.run_pair` (cs231n's ``forward``/``backward``) and
                       :meth:`LayerCheck.run_object` (nnfs's object), both through a
                       :class:`compare.check.layer_forms.Calls` that runs them on copies
the conventions        :meth:`LayerCheck.reading`, what the kind reads of the code (a layout, what
                       p means, where the running statistics start), filled by :meth:`LayerCheck.read`
torch's numbers        :meth:`LayerCheck.reference`, in the learner's layout
its mistakes           :meth:`LayerCheck.mistakes`: each a :class:`Mistake` whose numbers for a case
                       come from torch with the mistake planted (the network catalogue's modules where
                       they apply) or from torch's correct numbers transformed
=====================  =============================================================================

Numbers are a dict from what is compared (``"out"``, ``"dx"``, ``"dw"``, ``"running_mean"``,
``"test-mode out"``, ``"keep rate"``, ...) to an array, a float, :class:`Theirs` (a number with its
own tolerance) or :class:`Raised` (the code raised instead of giving it). A name whose last word
starts with "d" (``dx``, ``test-mode dx``) is the backward pass's; the others are the forward's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from common.data import load_embedded, scale_inputs
from common.errors import ParameterError

FORWARD, BACKWARD = "forward", "backward"


@dataclass(frozen=True)
class Configuration:
    """One configuration a kind is checked at: its label in the report, and the kind's own settings."""

    label: str
    setting: dict[str, Any]


@dataclass
class Case:
    """One configuration drawn: what the learner's code and torch's are given, and what was read off
    the learner's numbers (``seen``: dropout's mask). ``values`` holds the arrays by the names the
    pair's signature gives them (``x``, ``w``, ``b``, ``dout``, ...), parameters in torch's layout."""

    configuration: Configuration
    dtype: np.dtype
    values: dict[str, Any]
    param: dict[str, Any] | None = None  # the parameter dict handed over (conv_param, ...)
    seen: dict[str, Any] = field(default_factory=dict)

    @property
    def setting(self) -> dict[str, Any]:
        return self.configuration.setting


@dataclass(frozen=True)
class Raised:
    """What a stage gave instead of numbers: the code raised (or its result could not be read)."""

    stage: str  # FORWARD or BACKWARD
    words: str  # "ValueError: shapes (4,5) and (6,5) not aligned"
    description: str = ""  # with the user's own frames, for a ConformanceError


@dataclass(frozen=True)
class Theirs:
    """A number compared with a tolerance of its own (a keep rate, drawn at random: a few standard
    errors), or relative to at least ``floor`` (a cross-entropy loss: to 1)."""

    value: Any
    tolerance: float | None = None
    floor: float = 0.0


@dataclass(frozen=True)
class Mistake:
    """A classic mistake of a layer alone: its name (the catalogue's, one per mistake for check_network
    and check_layer alike), its sentence (``{where}``: the function or class that holds it), and its
    numbers for a case and a reading, or None where it cannot happen there.

    ``forward_only``: the mistake is in the forward pass, and only the forward's numbers (the outputs,
    the running statistics, the test-mode outputs) must be the code's: the learner's backward, written
    for the right forward, gives what it gives from the cache it is handed.
    """

    name: str
    sentence: str
    numbers: Callable[["Case", Any], dict[str, Any] | None]
    forward_only: bool = False


def is_gradient(key: str) -> bool:
    """Whether a compared name is the backward pass's (``dx``, ``dgamma``, ``test-mode dx``)."""
    return key.split()[-1].startswith("d")


def raised_everywhere(keys: tuple[str, ...], raised: Raised) -> dict[str, Any]:
    """The numbers of a stage that raised: every name from that stage on is ``raised``."""
    return {key: raised for key in keys if raised.stage == FORWARD or is_gradient(key)}


class LayerCheck:
    """How one kind is checked alone; each kind's catalogue subclasses it (see the module's table)."""

    kind: str = ""
    param: str | None = None  # the parameter dict's keyword: "conv_param"
    parameters: tuple[str, ...] = ()  # the forward's arrays after x, as the pair names them: ("w", "b")
    keys: tuple[str, ...] = ("out", "dx")  # what is compared, in order
    pair_words: str = ""  # the pair's signatures, for messages: "conv_forward(x, w, b, conv_param) -> (out, cache); ..."
    reference_words: str = ""  # "torch.nn.functional.conv2d"
    objects: bool = False  # nnfs writes this kind as an object (check_layer(kind, Layer_Dense))
    single_function: bool = False  # cs231n writes it as one function (softmax_loss(x, y) -> (loss, dx))

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        """The configurations, or the one ``given`` parameter dict alone; ``form``: "pair" or "object"."""
        raise NotImplementedError

    def reading(self, convention: Any, form: str) -> Any:
        """What the kind reads of the code, started from the ``convention`` keyword (None: read it)."""
        return None

    def read(self, reading: Any, case: Case, mine: dict[str, Any]) -> None:
        """Read conventions off the code's numbers in ``case`` into ``reading`` (the first case that shows them)."""

    def conventions(self, reading: Any) -> list[str]:
        """The conventions read or taken, in words, for the report."""
        return []

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        raise NotImplementedError

    def run_pair(self, pair: Any, case: Case, reading: Any, calls: Any, mine: dict[str, Any]) -> None:
        """The pair's numbers, into ``mine`` as each stage gives them: ``forward(x, *parameters[, param])``,
        then ``backward(dout, cache)``."""
        args = [("x", case.values["x"]), *((name, self.user_array(name, case, reading)) for name in self.parameters)]
        if self.param is not None:
            args.append((self.param, dict(case.param)))
        mine["out"], cache = calls.forward(pair, args)
        mine.update(calls.backward(pair, case.values["dout"], cache, self.keys[1:]))

    def run_object(self, obj: Any, case: Case, reading: Any, calls: Any, mine: dict[str, Any]) -> None:
        """An nnfs object's numbers, into ``mine``: ``forward(inputs[, training])`` storing ``output``,
        ``backward(dvalues)`` storing ``dinputs``."""
        layer = calls.build(obj)
        calls.object_forward(layer, [("inputs", case.values["x"])], training=True)
        mine["out"] = calls.stored(layer, "output", FORWARD)
        calls.object_backward(layer, [("dvalues", case.values["dout"])])
        mine["dx"] = calls.stored(layer, "dinputs", BACKWARD)

    def user_array(self, name: str, case: Case, reading: Any) -> np.ndarray:
        """A parameter as the learner's code takes it (torch's layout unless the kind reads another)."""
        return case.values[name]

    def reference(self, case: Case, reading: Any) -> dict[str, Any]:
        raise NotImplementedError

    def mistakes(self) -> list[Mistake]:
        return []

    def from_catalogue(self, planted: list) -> list[Mistake]:
        """The network catalogue's mistakes of this kind (``compare.check.mistakes.<kind>.mistakes(spec)``)
        as this check's: each planted in the torch module ``self.numbers(plant, case)`` builds, a mistake
        of the forward pass where it shows outside the gradients."""
        from compare.check.mistakes import GRADIENTS

        return [Mistake(p.name, p.sentence, lambda case, reading, p=p: self.numbers(lambda m: p.plant(m, None), case),
                        forward_only=p.shows != GRADIENTS) for p in planted]


# -- torch's numbers ---------------------------------------------------------------------------

def autograd(module: Any, x: np.ndarray, dout: np.ndarray, parameters: dict[str, Any],
             keys: tuple[str, ...]) -> dict[str, Any]:
    """``module(x)`` and its backward from ``dout``, in float64: ``out``, ``dx`` and ``d<name>`` of each
    of ``parameters`` (torch tensors the module shares). A stage that raises gives :class:`Raised`, as a
    learner's would: a mistake may be one that cannot run in some configuration."""
    import torch

    tx = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    try:
        out = module(tx)
    except Exception as error:  # noqa: BLE001 (a planted mistake that cannot run here, as the learner's)
        return raised_everywhere(keys, Raised(FORWARD, error_words(error)))
    found: dict[str, Any] = {"out": out.detach().numpy().copy()}
    try:
        out.backward(torch.as_tensor(np.asarray(dout, np.float64)))
    except Exception as error:  # noqa: BLE001
        return {**found, **raised_everywhere(keys, Raised(BACKWARD, error_words(error)))}
    found["dx"] = tx.grad.numpy().copy()
    for name, tensor in parameters.items():
        found[f"d{name}"] = (np.zeros(tuple(tensor.shape)) if tensor.grad is None else tensor.grad.numpy().copy())
    return found


def error_words(error: BaseException) -> str:
    """An exception in a few words: ``"ValueError: shapes (2,3) and (4,) not aligned"``, its first line."""
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")


def parameter(array: np.ndarray) -> Any:
    """A float64 torch parameter holding ``array``."""
    import torch

    return torch.nn.Parameter(torch.tensor(np.asarray(array, np.float64)))


# -- what the code is given: MNIST ------------------------------------------------------------------

@lru_cache(maxsize=1)
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    data = load_embedded()
    return data.train_images[:2048].copy(), data.train_labels[:2048].copy()


def mnist_rows(n: int, start: int, dtype: np.dtype) -> np.ndarray:
    """``n`` MNIST training images from ``start``, scaled to 0.01..1 (:func:`common.data.scale_inputs`): (n, 784)."""
    return scale_inputs(_mnist()[0][start:start + n], dtype)


def mnist_labels(n: int, start: int) -> np.ndarray:
    return _mnist()[1][start:start + n].astype(np.int64)


def mnist_maps(shape: tuple[int, int, int, int], start: int, dtype: np.dtype) -> np.ndarray:
    """Maps of ``shape`` (N, C, H, W) cut from MNIST images: each channel the centre of another image,
    so strokes and the blank background (ties in every window) both show."""
    n, c, h, w = shape
    images = mnist_rows(n * c, start, dtype).reshape(n, c, 28, 28)
    top, left = (28 - h) // 2, (28 - w) // 2
    return np.ascontiguousarray(images[:, :, top:top + h, left:left + w])


def pre_activations(n: int, features: int, start: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """What a dense layer gives from ``n`` MNIST images: ``x W`` for a random W (784, features), scaled to
    unit standard deviation, of both signs: (n, features)."""
    z = mnist_rows(n, start, np.float64) @ rng.standard_normal((784, features))
    return (z / z.std()).astype(dtype)


def drawn(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, scale: float = 1.0) -> np.ndarray:
    """Normal numbers of ``shape``, in ``dtype`` (a parameter, or dL/dout)."""
    return (scale * rng.standard_normal(shape)).astype(dtype)


def parse_convention(convention: Any, fields: dict[str, tuple[str, ...]], codebases: dict[str, dict[str, str]],
                     kind: str) -> dict[str, str]:
    """The ``convention`` keyword as a kind's fields: None (read them), a codebase's name, or a dict of
    the kind's own fields; anything else one sentence."""
    if convention is None:
        return {}
    if isinstance(convention, str) and convention in codebases:
        return dict(codebases[convention])
    if isinstance(convention, dict) and set(convention) <= set(fields) and all(
            convention[k] in fields[k] for k in convention):
        return dict(convention)
    allowed = ", ".join(f"{k!r}: {' or '.join(map(repr, v))}" for k, v in fields.items())
    raise ParameterError(f"The 'convention' parameter of check_layer({kind!r}, ...) must be None (read it from "
                           f"the code), one of {tuple(codebases)} or a dict of {{{allowed}}}. Got {convention!r} "
                           "instead.")
