"""The classic mistakes of dropout written by hand, each planted in torch's (the same mask drawn).

=========================  ======================================================================
mistake                    what is planted, and the numbers that must be its
=========================  ======================================================================
dropout_not_inverted       no 1 / (1 − p) in training, the outputs scaled by (1 − p) in evaluation
                           instead (the lecture notes' "vanilla" dropout): the outputs (query)
dropout_keep_for_drop      p taken for the probability of keeping a unit: kept where u < p, scaled
                           by 1 / p: the gradients
dropout_mask_shared        one mask for every sample of a batch, drawn for one sample's shape and
                           broadcast: the gradients
=========================  ======================================================================

Each is :class:`PlantedDropout`, drawing its uniform numbers where the network's dropout does
(:func:`common.layers.layer_rng`, from the same seed, step and index).

:class:`DrawnDropout` is torch's dropout drawing its mask as another codebase does (:data:`DRAWS`):
cs231n's ``dropout_forward``, ``np.random.seed(seed)`` before each draw, so that every layer and
every step drops the same units of the same shape; nnfs's ``Layer_Dropout``, ``np.random.binomial``
from NumPy's generator, seeded once a training pass. A model written as those codebases write one
is compared with it (:func:`compare.check.check_model`): the mask is the convention, not a
mistake. Its catalogue, :meth:`DrawnDropout.mistakes`, plants each mistake in the same draw, and
adds what a hand-written model shows beside the three above:

==========================  ====================================================================
dropout_backward_no_scale   the forward scaled, the backward multiplying by the 0/1 mask, without
                            the 1 / (1 − p): the gradients
dropout_applied_at_test     the mask drawn (from the same seed) and applied in evaluation too: the
                            outputs (cs231n's draws, which the seed makes the same at test)
==========================  ====================================================================

``dropout_not_inverted`` is tried in two forms there (the lecture notes', scaled at test; and nnfs's
readers', nothing done at test, which only the gradients show), and ``dropout_keep_for_drop`` with
either scale a learner pairs with the confused probability.

Dropout alone (:class:`DropoutCheck`, in ``CHECKS``) is checked with the code's own mask, read off its
output, for these (with whatever p means in the code's convention, :class:`Meaning`), and for two
more: ``dropout_backward_no_scale`` (dx through the 0/1 mask, the 1/P(keep) left out) and
``dropout_applied_at_test`` (units dropped in test mode too).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from common.layers import layer_rng
from common.layers.dropout import Dropout
from compare.check.layer_forms import UserRaised
from compare.check.mistakes import GRADIENTS, OUTPUTS, Planted
from compare.check.one_layer import (BACKWARD, FORWARD, Case, Configuration, LayerCheck, Mistake, Theirs, autograd,
                                     drawn, mnist_maps, mnist_rows, parse_convention)


class PlantedDropout(nn.Module):
    """``dropout`` (torch_impl's, whose context and index it reads) with one mistake (None: none).

    ``keep``: the units kept, given (a learner's own mask, read off its output) instead of drawn; the
    mistake then changes the scale ("keep_for_drop": 1 / p; "not_inverted": 1) or takes the first
    sample's mask for every sample ("shared")."""

    def __init__(self, dropout: nn.Module, mistake: str | None, keep: np.ndarray | None = None) -> None:
        super().__init__()
        self.p, self.context, self.index, self.mistake = dropout.p, dropout.context, dropout.index, mistake
        self.keep = keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p
        if not self.training:
            return x * (1 - p) if self.mistake == "not_inverted" else x
        if self.keep is not None:
            keep = self.keep[:1] if self.mistake == "shared" else self.keep
            scale = 1.0 / p if self.mistake == "keep_for_drop" else 1.0 / (1.0 - p)
        else:
            rng = layer_rng(self.context.seed, self.context.step, self.index)
            u = rng.random(tuple(x.shape[1:]) if self.mistake == "shared" else tuple(x.shape))
            keep, scale = (u < p, 1.0 / p) if self.mistake == "keep_for_drop" else (u >= p, 1.0 / (1.0 - p))
        if self.mistake == "not_inverted":
            scale = 1.0
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        return x * torch.from_numpy(keep.astype(dtype) * dtype(scale)).to(x.device)


def mistakes(spec: Dropout) -> list[Planted]:
    return [
        Planted("dropout_not_inverted", OUTPUTS, lambda m, s: PlantedDropout(m, "not_inverted"), (
            f"Dropout is not inverted: query()'s outputs equal autograd's where {{where}} scales its inputs by "
            f"1 − p = {1 - spec.p:g} in evaluation, as the lecture notes' vanilla dropout does, instead of scaling "
            f"the units it keeps by 1 / (1 − p) in training. nn.Dropout is inverted: training keeps each unit's "
            "expected value, and evaluation is the identity.")),
        Planted("dropout_keep_for_drop", GRADIENTS, lambda m, s: PlantedDropout(m, "keep_for_drop"), (
            f"p is taken for the probability of keeping a unit: the gradients equal autograd's where {{where}} "
            f"keeps the units whose draw u is below p = {spec.p:g} and scales them by 1 / p. nn.Dropout's p is the "
            "probability of dropping: a unit is kept where u >= p, and scaled by 1 / (1 − p) (cs231n's recent "
            "handouts call the keep probability p).")),
        Planted("dropout_mask_shared", GRADIENTS, lambda m, s: PlantedDropout(m, "shared"), (
            "Every sample of a batch drops the same units: the gradients equal autograd's where {where} draws one "
            "mask of one sample's shape and broadcasts it over the batch. Draw a mask of the whole batch's shape, "
            "x.shape, not x.shape[1:]: each sample's units are dropped independently.")),
    ]


# How each codebase draws the units it keeps, p torch's (the probability of dropping), k = 1 − p.
DRAWS = {
    "cs231n": "np.random.seed(seed), then np.random.rand(*x.shape) < p, p the keep probability (recent handouts)",
    "cs231n_2017": "np.random.seed(seed), then np.random.rand(*x.shape) >= p, p the drop probability (the 2017 "
                   "handout)",
    "nnfs": "np.random.binomial(1, rate, x.shape), rate the keep probability, from NumPy's generator seeded once a "
            "training pass",
}


class NumpyStream:
    """The generator the dropout layers of one nnfs training pass draw from in turn: NumPy's, seeded as the
    pass starts (by the first layer's draw, index 0), as ``np.random.seed`` before ``model.forward`` seeds it."""

    def __init__(self) -> None:
        self.generator: np.random.RandomState | None = None


class DrawnDropout(nn.Module):
    """torch's inverted dropout, p the probability of dropping, its mask drawn as ``draw`` says (:data:`DRAWS`)
    from the network's ``context.seed``; with ``mistake`` one of its catalogue's.

    ``stream``: for nnfs's draw, the :class:`NumpyStream` the network's dropout layers share.
    ``scale``: for ``keep_for_drop``, what the kept units are scaled by (1 / k or 1 / (1 − k)).
    """

    def __init__(self, p: float, context, index: int, draw: str, stream: NumpyStream | None = None,
                 mistake: str | None = None, scale: float | None = None) -> None:
        super().__init__()
        self.p, self.context, self.index, self.draw = p, context, index, draw
        self.stream = stream if stream is not None else NumpyStream()
        self.mistake, self.scale = mistake, scale

    def _keep(self, shape: tuple[int, ...], confused: bool = False) -> np.ndarray:
        """The units kept, ``draw``'s way; ``confused``: kept with the drop probability p, as the keep one."""
        k = 1.0 - self.p
        if self.draw == "nnfs":
            if self.index == 0 or self.stream.generator is None:
                self.stream.generator = np.random.RandomState(self.context.seed)
            return self.stream.generator.binomial(1, self.p if confused else k, size=shape).astype(bool)
        u = np.random.RandomState(self.context.seed).rand(*shape)
        if self.draw == "cs231n":  # p is k: keep where u < k; confused, u >= k
            return u >= k if confused else u < k
        return u < self.p if confused else u >= self.p  # the 2017 handout's p is torch's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        k, mistake = dtype(1.0 - self.p), self.mistake
        if not self.training:
            if mistake == "not_inverted":
                return x * float(k)
            if mistake == "at_test":
                return x * torch.from_numpy(self._keep(tuple(x.shape)).astype(dtype) / k)
            return x
        keep = self._keep(tuple(x.shape[1:]) if mistake == "shared" else tuple(x.shape), mistake == "keep_for_drop")
        ones = keep.astype(dtype)
        if mistake == "backward_no_scale":  # the forward scaled, dL/dx the 0/1 mask alone
            kept = x * torch.from_numpy(ones)
            return kept + (kept * float(1 / k - 1)).detach()
        mask = (ones if mistake in ("not_inverted", "unscaled") else ones * dtype(self.scale)
                if mistake == "keep_for_drop" else ones / k)  # the units kept scaled as the mask's codebase scales them
        return x * torch.from_numpy(mask)

    def planted(self, mistake: str, scale: float | None = None) -> "DrawnDropout":
        return DrawnDropout(self.p, self.context, self.index, self.draw, self.stream, mistake, scale)

    def mistakes(self, spec: Dropout) -> list[Planted]:
        """The kind's catalogue in this draw (the module docstring's table)."""
        p, k, draw = spec.p, 1 - spec.p, DRAWS[self.draw]
        found = [
            Planted("dropout_not_inverted", OUTPUTS, lambda m, s: m.planted("not_inverted"), (
                f"Dropout is not inverted: query()'s outputs equal autograd's where {{where}} keeps the units of "
                f"its mask unscaled in training and scales its inputs by the keep probability {k:g} at test, as the "
                f"lecture notes' vanilla dropout does. Inverted dropout scales the units it keeps by 1 / {k:g} in "
                "training, so that evaluation is the identity.")),
            Planted("dropout_not_inverted", GRADIENTS, lambda m, s: m.planted("unscaled"), (
                f"Dropout is not inverted: the gradients equal autograd's where {{where}} keeps the units of its "
                f"mask unscaled in training (no / {k:g}, the keep probability) and does nothing at test, so a unit's "
                f"expected value in training is {k:g} times its value at test. Scale the units kept by 1 / {k:g}.")),
            *(Planted("dropout_keep_for_drop", GRADIENTS, lambda m, s, scale=scale: m.planted("keep_for_drop", scale), (
                f"The keep and drop probabilities are confused: the gradients equal autograd's where {{where}} keeps "
                f"each unit with the drop probability {p:g}, not the keep probability {k:g}, and scales it by "
                f"1 / {1 / scale:g}. Its mask is drawn as {draw}.")) for scale in (1 / k, 1 / p)),
            Planted("dropout_mask_shared", GRADIENTS, lambda m, s: m.planted("shared"), (
                "Every sample of a batch drops the same units: the gradients equal autograd's where {where} draws "
                "one mask of one sample's shape and broadcasts it over the batch. Draw a mask of the whole "
                "batch's shape, x.shape, not x.shape[1:]: each sample's units are dropped independently.")),
            Planted("dropout_backward_no_scale", GRADIENTS, lambda m, s: m.planted("backward_no_scale"), (
                f"The dropout's backward pass leaves out the scale: the outputs agree and the gradients equal "
                f"autograd's where {{where}} scales its output by 1 / {k:g} but multiplies dL/dy by the 0/1 mask "
                f"alone. dL/dx = dL/dy · mask / {k:g}: the same mask and the same scale as the forward.")),
        ]
        if self.draw != "nnfs":  # the seed makes the mask at test the training one: the numbers can be named
            found.append(Planted("dropout_applied_at_test", OUTPUTS, lambda m, s: m.planted("at_test"), (
                "Dropout is applied at test too: query()'s outputs equal autograd's where {where} draws its mask "
                f"(from the same seed) and scales by 1 / {k:g} in evaluation as in training. Evaluation is the "
                "identity: a prediction must not depend on a draw.")))
        return found


# -- check_layer: dropout alone ---------------------------------------------------------------------

@dataclass
class Meaning:
    """What the number handed over means: ``p`` "keep" (cs231n's recent handouts' p) or "drop" (cs231n
    2017's p, nnfs's rate, torch's p); None until read."""

    p: str | None = None
    how: str = ""


class DropoutCheck(LayerCheck):
    """cs231n's ``dropout_forward(x, dropout_param) -> (out, cache)`` and ``dropout_backward(dout, cache) -> dx``,
    ``dropout_param = {'p', 'mode', 'seed'}``, or nnfs's ``Layer_Dropout(rate)``.

    No generator can be shared with the learner's code, so the check reads the code's own mask off its
    output (the units that are 0 where x, a real MNIST image, is not) and compares torch's dropout with
    that mask: the outputs (the scaling), dx through the same mask, the keep rate against the keep
    probability (within five standard errors), whether the samples' masks differ, and test mode. What
    p means is read from the keep rate the code shows at p = 0.8 (cs231n's pair), or is nnfs's (the
    rate dropped), or is given (``convention``).
    """

    kind, param = "dropout", "dropout_param"
    keys = ("out", "dx", "keep rate", "distinct masks", "test-mode out", "test-mode dx")
    pair_words = ("dropout_forward(x, dropout_param) -> (out, cache); dropout_backward(dout, cache) -> dx, "
                  "dropout_param = {'p': P, 'mode': 'train' or 'test'}")
    reference_words = "torch's inverted dropout (nn.Dropout) with the code's own mask"
    objects = True

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        def label(p: float) -> str:
            return f"p = {p:g}" if form == "pair" else f"rate {p:g}"
        if given is not None:
            return [Configuration(f"dropout_param {given}, 8 MNIST rows of 784", {"x": (8, 784), "p": given.get("p"),
                                                                                 "param": given})]
        values = (0.8, 0.5) if form == "pair" else (0.2, 0.5)  # nnfs's rate is the one dropped: keep 0.8 and 0.5
        return [Configuration(f"{label(values[0])}, 8 MNIST rows of 784", {"x": (8, 784), "p": values[0]}),
                Configuration(f"{label(values[1])}, MNIST maps 4×2×14×14", {"x": (4, 2, 14, 14), "p": values[1]})]

    def reading(self, convention: Any, form: str) -> Meaning:
        codebases = {"cs231n": {"p": "keep"}, "cs231n-2017": {"p": "drop"}, "nnfs": {"p": "drop"},
                     "torch": {"p": "drop"}}
        given = parse_convention(convention, {"p": ("keep", "drop")}, codebases, self.kind)
        if given:
            return Meaning(given["p"], "given by the convention keyword")
        if form == "object":
            return Meaning("drop", "nnfs's: Layer_Dropout(rate) drops that rate, not read")
        return Meaning()

    def conventions(self, reading: Meaning) -> list[str]:
        what = {"keep": "the probability of keeping a unit (cs231n's recent handouts)",
                "drop": "the probability of dropping a unit (cs231n 2017, nnfs's rate, torch's p)"}
        return [f"p is {what[reading.p or 'keep']}: {reading.how}"]

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng, shape = np.random.default_rng(index), configuration.setting["x"]
        x = mnist_rows(shape[0], 16 * index, dtype) if len(shape) == 2 else mnist_maps(shape, 16 * index, dtype)
        param = {key: value for key, value in configuration.setting.get("param", {}).items() if key != "mode"}
        param.setdefault("p", configuration.setting["p"])
        param.setdefault("seed", 123 + index)  # as the handout's own tests give one (the mask is read all the same)
        return Case(configuration, dtype, {"x": x, "dout": drawn(rng, shape, dtype)}, param)

    def _train(self, case: Case, mine: dict[str, Any], out: np.ndarray) -> None:
        """What the training pass's output shows: its mask, its keep rate, how many samples' masks differ."""
        mask = np.asarray(out) != 0
        case.seen["mask"] = mask
        mine["keep rate"] = float(mask.mean())
        mine["distinct masks"] = float(len(np.unique(mask.reshape(len(mask), -1), axis=0)))

    def run_pair(self, pair: Any, case: Case, reading: Meaning, calls: Any, mine: dict[str, Any]) -> None:
        x, dout = case.values["x"], case.values["dout"]
        mine["out"], cache = calls.forward(pair, [("x", x), ("dropout_param", {**case.param, "mode": "train"})])
        self._train(case, mine, mine["out"])
        try:
            mine.update(calls.backward(pair, dout, cache, ("dx",)))
        except UserRaised as error:
            mine["dx"] = error.raised
        out, cache = calls.forward(pair, [("x", x), ("dropout_param", {**case.param, "mode": "test"})])
        mine["test-mode out"], case.seen["test mask"] = out, np.asarray(out) != 0
        mine["test-mode dx"] = calls.backward(pair, dout, cache, ("test-mode dx",))["test-mode dx"]

    def run_object(self, obj: Any, case: Case, reading: Meaning, calls: Any, mine: dict[str, Any]) -> None:
        layer = calls.build(obj, case.param["p"])
        x = case.values["x"]
        calls.object_forward(layer, [("inputs", x)], training=True)
        mine["out"] = calls.stored(layer, "output", FORWARD)
        self._train(case, mine, mine["out"])
        calls.object_backward(layer, [("dvalues", case.values["dout"])])
        mine["dx"] = calls.stored(layer, "dinputs", BACKWARD)
        case.seen["test mode"] = _takes_training(layer)
        if case.seen["test mode"]:
            calls.object_forward(layer, [("inputs", x)], training=False)
            mine["test-mode out"] = calls.stored(layer, "output", FORWARD)
            case.seen["test mask"] = mine["test-mode out"] != 0

    def read(self, reading: Meaning, case: Case, mine: dict[str, Any]) -> None:
        p = case.param["p"]
        if reading.p is not None or p == 0.5:
            return
        rate, error = mine["keep rate"], 5 * (p * (1 - p) / case.seen["mask"].size) ** 0.5
        if abs(rate - p) <= error:
            reading.p = "keep"
        elif abs(rate - (1 - p)) <= error:
            reading.p = "drop"
        else:
            reading.how = (f"not read: it keeps {rate:.3f} of the units at p = {p:g}, neither p nor 1 − p; compared "
                           "as cs231n's recent handouts")
            return
        reading.how = f"read from the keep rate it shows at p = {p:g}, {rate:.3f}"

    def keep(self, case: Case, reading: Meaning) -> float:
        """The probability of keeping a unit, as the convention reads the number handed over."""
        return case.param["p"] if (reading.p or "keep") == "keep" else 1 - case.param["p"]

    def numbers(self, mistake: str | None, case: Case, reading: Meaning, keep: float | None = None) -> dict[str, Any]:
        """torch's dropout with the code's own mask (``mistake`` planted), and the statistics it should show:
        the keep rate ``keep`` (the convention's by default), every sample's mask its own."""
        from torch_impl.layers import Context
        from torch_impl.layers.dropout import SharedMaskDropout

        k = self.keep(case, reading)
        mask = case.seen.get("mask", np.ones(case.values["x"].shape, bool))  # none where the forward raised
        module = PlantedDropout(SharedMaskDropout(1 - k, Context(), 0), mistake, keep=mask)
        found = autograd(module, case.values["x"], case.values["dout"], {}, ("out", "dx"))
        found["keep rate"] = _rate(k if keep is None else keep, mask.size)
        found["distinct masks"] = Theirs(float(len(mask)), tolerance=0.0)
        if case.seen.get("test mode", True):
            module.eval()
            found["test-mode out"] = module(torch.as_tensor(np.asarray(case.values["x"], np.float64))).numpy()
        if "test-mode out" in found and not isinstance(case.seen.get("test mode"), bool):  # the pair's backward
            found["test-mode dx"] = np.asarray(case.values["dout"], np.float64)
        return found

    def reference(self, case: Case, reading: Meaning) -> dict[str, Any]:
        return self.numbers(None, case, reading)

    def mistakes(self) -> list[Mistake]:
        def planted(mistake: str, other_rate: bool = False, **changes: Any) -> Any:
            def numbers(case: Case, reading: Meaning) -> dict[str, Any]:
                k = self.keep(case, reading)
                found = self.numbers(mistake, case, reading, keep=1 - k if other_rate else None)
                return {**found, **{key: change(case, k, found) for key, change in changes.items()}}
            return numbers

        def x(case: Case) -> np.ndarray:
            return np.asarray(case.values["x"], np.float64)

        def dout(case: Case) -> np.ndarray:
            return np.asarray(case.values["dout"], np.float64)

        inverted = ("Inverted dropout scales the units it keeps by 1 / P(keep) in training, so that each "
                    "unit's expected value is the same as at test, where dropout does nothing")
        return [
            Mistake("dropout_not_inverted", (
                f"Dropout is not inverted: the outputs equal torch's where {{where}} keeps the units unscaled in "
                f"training and multiplies by P(keep) at test (the lecture notes' vanilla dropout). {inverted}: "
                "out = x · mask / P(keep), and out = x at test."), planted("not_inverted"), forward_only=True),
            Mistake("dropout_not_inverted", (
                f"Dropout is not inverted: the outputs equal torch's where {{where}} keeps the units unscaled in "
                f"training, and does nothing at test, so each unit is P(keep) times smaller in training than at "
                f"test. {inverted}: out = x · mask / P(keep) (nnfs: / self.rate)."), planted(
                    "not_inverted", **{"test-mode out": lambda case, k, found: x(case)}), forward_only=True),
            Mistake("dropout_keep_for_drop", (
                "The keep probability is taken for the drop one in the scale: {where} keeps units at the rate the "
                "convention says but scales them by 1 / (1 − P(keep)), as if p meant the other. Use one meaning in "
                "both places: mask = (rand < P(keep)) / P(keep)."), planted("keep_for_drop"), forward_only=True),
            Mistake("dropout_keep_for_drop", (
                "p is taken for the other probability: {where} keeps 1 − P(keep) of the units and scales them by "
                "1 / (1 − P(keep)), consistent in itself, where the convention compared makes p the other "
                "probability (cs231n's recent handouts keep p; cs231n 2017, nnfs and torch drop it)."),
                planted("keep_for_drop", other_rate=True), forward_only=True),
            Mistake("dropout_keep_for_drop", (
                "The drop probability is taken for the keep one in the mask: {where} keeps 1 − P(keep) of the "
                "units while it scales them by 1 / P(keep). Use one meaning in both places: mask = (rand < "
                "P(keep)) / P(keep)."), planted(None, other_rate=True), forward_only=True),
            Mistake("dropout_mask_shared", (
                "Every sample of the batch drops the same units: {where} draws one mask of one sample's shape and "
                "broadcasts it over the batch. Draw a mask of the whole batch's shape, x.shape, not x.shape[1:]: "
                "each sample's units are dropped independently."), planted(
                    "shared", **{"distinct masks": lambda case, k, found: Theirs(1.0, tolerance=0.0),
                                 "keep rate": lambda case, k, found: _rate(k, case.seen["mask"][0].size)}),
                forward_only=True),
            Mistake("dropout_backward_no_scale", (
                "The backward pass leaves out the scale: dx equals dout · mask with a 0/1 mask, where {where} must "
                "pass dout through what the forward multiplied x by: dx = dout · mask / P(keep). Keep the scaled "
                "mask in the cache, or scale in both."), planted(
                    None, dx=lambda case, k, found: dout(case) * case.seen["mask"])),
            Mistake("dropout_applied_at_test", (
                "Dropout drops units at test too: the test-mode outputs have units at 0, where {where} must return "
                "x unchanged when mode is 'test' (inverted dropout does nothing then): a prediction that changes "
                "from one evaluation to the next."), planted(
                    None, **{"test-mode out": lambda case, k, found: x(case) * case.seen.get("test mask", 1) / k}),
                forward_only=True),
        ]


def _rate(keep: float, draws: int) -> Theirs:
    """A keep rate of ``draws`` units, each kept with probability ``keep``: within five standard errors."""
    return Theirs(keep, tolerance=5 * (keep * (1 - keep) / draws) ** 0.5 / keep)


def _takes_training(layer: Any) -> bool:
    import inspect

    try:
        inspect.signature(layer.forward).bind(None, False)
    except TypeError:
        return False
    except ValueError:
        return True
    return True


CHECKS = {"dropout": DropoutCheck()}
