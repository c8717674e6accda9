"""The classic mistakes of a softmax cross-entropy loss written by hand, and its check alone.

=======================  ======================================================================
mistake                  what its numbers are
=======================  ======================================================================
sum_not_mean             the loss and dx summed over the N samples where torch's average them
                         (or, nnfs's combined object, dx alone summed while the loss averages);
                         check_network's name for the same mistake in a network
softmax_dx_no_subtract   dx = softmax(x) / N: the −1 at each sample's label left out
softmax_no_shift         exp(x) without subtracting each row's maximum: the same numbers until
                         exp overflows (x ≳ 88 in float32, 709 in float64), then inf and nan
=======================  ======================================================================

Not a layer of a network: the loss is the network's own choice there (``common.architecture``),
so this module holds no ``mistakes(spec)``, only ``CHECKS``, where :func:`compare.check_layer`
finds the kind as it finds every other. cs231n writes the loss as one function,
``softmax_loss(x, y) -> (loss, dx)``, the mean over the samples; nnfs as an object,
``Activation_Softmax_Loss_CategoricalCrossentropy``, whose ``forward(inputs, y_true)`` returns the
mean loss (its probabilities clipped to [1e-7, 1 − 1e-7] before the log, the book's convention)
and whose ``backward(softmax_outputs, y_true)`` stores dL/dx in ``dinputs``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from compare.check.one_layer import (BACKWARD, FORWARD, Case, Configuration, LayerCheck, Mistake, Theirs,
                                     mnist_labels, pre_activations)

CLIP = 1e-7  # nnfs's Loss_CategoricalCrossentropy clips the probabilities to [CLIP, 1 − CLIP]


class SoftmaxLossCheck(LayerCheck):
    kind = "softmax_loss"
    keys = ("loss", "dx")
    pair_words = "softmax_loss(x, y) -> (loss, dx)"
    reference_words = "torch.nn.functional.cross_entropy"
    objects = True
    single_function = True

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        return [Configuration("scores of 8 MNIST rows, 8×10", {"scale": 1.0}),
                Configuration("large scores (× 1000), 8×10", {"scale": 1000.0})]

    def reading(self, convention: Any, form: str) -> str:
        return form

    def conventions(self, reading: str) -> list[str]:
        if reading == "object":
            return ["the loss of probabilities clipped to [1e-7, 1 − 1e-7] before the log (nnfs's "
                    "Loss_CategoricalCrossentropy), and the mean over the samples: the book's, not read"]
        return ["the mean over the samples, cs231n's and torch's (cross_entropy's reduction='mean'): not read"]

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng = np.random.default_rng(index)
        x = pre_activations(8, 10, 16 * index, rng, np.float64) * 3 * configuration.setting["scale"]
        return Case(configuration, dtype, {"x": x.astype(dtype), "y": mnist_labels(8, 16 * index)})

    def run_pair(self, pair: Any, case: Case, reading: str, calls: Any, mine: dict[str, Any]) -> None:
        mine["loss"], mine["dx"] = calls.forward(pair, [("x", case.values["x"]), ("y", case.values["y"])],
                                                 returns=("loss", "dx"))

    def run_object(self, obj: Any, case: Case, reading: str, calls: Any, mine: dict[str, Any]) -> None:
        layer = calls.build(obj)
        x, y = case.values["x"], case.values["y"]
        loss = calls.object_forward(layer, [("inputs", x), ("y_true", y)])
        mine["probabilities"] = calls.stored(layer, "output", FORWARD)
        mine["loss"] = calls.array(loss, f"{obj.words}.forward", "the loss", scalar=True)
        calls.object_backward(layer, [("softmax_outputs", mine["probabilities"].copy()), ("y_true", y)])
        mine["dx"] = calls.stored(layer, "dinputs", BACKWARD)

    def reference(self, case: Case, reading: str) -> dict[str, Any]:
        return self._numbers(case, reading, lambda x, y: F.cross_entropy(x, y), dtype=torch.float64)

    def _numbers(self, case: Case, reading: str, loss_of, dtype=torch.float64) -> dict[str, Any]:
        """The loss ``loss_of(x, y)`` and its gradient by autograd, computed in ``dtype``; where nnfs's
        object is checked, its probabilities too, and its loss of the clipped probabilities (its gradient
        is the unclipped one: the book's combined backward is (ŷ − y) / N)."""
        x = torch.tensor(np.asarray(case.values["x"], np.float64), dtype=dtype, requires_grad=True)
        y = torch.as_tensor(case.values["y"])
        loss = loss_of(x, y)
        loss.backward()
        found = {"loss": Theirs(float(loss.detach()), floor=1.0), "dx": x.grad.double().numpy().copy()}
        if reading == "object":
            p = torch.softmax(x.detach().double(), dim=1)
            clipped = -torch.log(p.clamp(CLIP, 1 - CLIP)[torch.arange(len(y)), y]).mean()
            found = {"probabilities": p.numpy(), **found, "loss": Theirs(float(clipped), floor=1.0)}
        return found

    def mistakes(self) -> list[Mistake]:
        def summed(loss_too: bool) -> Any:
            def numbers(case: Case, reading: str) -> dict[str, Any]:
                found, n = self.reference(case, reading), len(case.values["y"])
                loss = Theirs(found["loss"].value * n, floor=1.0) if loss_too else found["loss"]
                return {**found, "loss": loss, "dx": found["dx"] * n}
            return numbers

        def no_subtract(case: Case, reading: str) -> dict[str, Any]:
            found = self.reference(case, reading)
            return {**found, "dx": _softmax(case.values["x"]) / len(case.values["y"])}

        def no_shift(case: Case, reading: str) -> dict[str, Any] | None:
            if reading == "object":
                return None  # nnfs's softmax subtracts the maximum in its own Activation_Softmax
            dtype = torch.float32 if case.dtype == np.float32 else torch.float64
            def unshifted(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return (torch.log(torch.exp(x).sum(1)) - x[torch.arange(len(y)), y]).mean()
            return self._numbers(case, reading, unshifted, dtype=dtype)

        return [
            Mistake("sum_not_mean", (
                "The loss and its gradient are summed over the batch where torch's average it: the loss and dx "
                "equal autograd's times N, as {where} leaves out the / N. cs231n's and torch's softmax loss is "
                "the mean over the N samples: loss = −Σ log p_y / N and dx = (softmax(x) − onehot(y)) / N."),
                summed(loss_too=True)),
            Mistake("sum_not_mean", (
                "The gradient is summed over the batch where the loss is its mean: the loss agrees and dx equals "
                "autograd's times N, as {where} leaves out the / N of the gradient alone. The mean's gradient is "
                "(softmax(x) − onehot(y)) / N (nnfs: self.dinputs = self.dinputs / samples)."),
                summed(loss_too=False)),
            Mistake("softmax_dx_no_subtract", (
                "dx leaves out the −1 at each sample's label: it equals softmax(x) / N, where {where} must subtract "
                "1 at the label: dx = (softmax(x) − onehot(y)) / N, dx[np.arange(N), y] -= 1 before dividing."),
                no_subtract),
            Mistake("softmax_no_shift", (
                "exp(x) overflows: the loss and dx are inf and nan where the scores are large, as {where} computes "
                "exp(x) without subtracting each row's maximum first. softmax(x) = softmax(x − max(x)): shift "
                "each row by its maximum (x - x.max(axis=1, keepdims=True)), and the same numbers come out "
                "without overflow."), no_shift, forward_only=True),  # its dx: whatever the code makes of inf
        ]


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.asarray(x, np.float64) - np.max(x, axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


CHECKS = {"softmax_loss": SoftmaxLossCheck()}
