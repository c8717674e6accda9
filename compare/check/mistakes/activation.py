"""The classic mistakes of an activation's backward pass written by hand: sigmoid, tanh and ReLU.

====================================  ============================================================
mistake                               what its numbers are (the outputs agree)
====================================  ============================================================
missing_derivative                    dx = dout: the activation's derivative left out (check_network's
                                      name for the same mistake in a network)
relu_mask_from_dout                   dx = dout · (dout > 0): the mask taken from dout, not from x
relu_mask_from_out_ge                 dx = dout · (x >= 0): 1 where x is exactly 0, where torch's is 0
sigmoid_derivative_of_output_twice    dx = dout · σ(s)(1 − σ(s)) for s = σ(x): the sigmoid applied
                                      again to the cached output
tanh_derivative_of_input              dx = dout · (1 − x²): tanh's derivative taken at x, not at tanh(x)
====================================  ============================================================

These are check_layer's (:data:`CHECKS`); a network has no activation mistakes planted
(``mistakes(spec)`` is empty): there, a missing derivative is the diagnosis's own rule.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from common.layers.activation import Activation
from compare.check.mistakes import Planted
from compare.check.one_layer import (Case, Configuration, LayerCheck, Mistake, autograd, drawn, pre_activations)

FUNCTIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
DERIVATIVES = {"sigmoid": "σ(x)(1 − σ(x)), out · (1 − out) from the cached output",
               "tanh": "1 − tanh²(x), 1 − out² from the cached output",
               "relu": "the mask x > 0 (0 at x = 0, as torch's)"}


def mistakes(spec: Activation) -> list[Planted]:
    return []


class ActivationCheck(LayerCheck):
    """sigmoid, tanh or ReLU: ``<f>_forward(x) -> (out, cache)``, ``<f>_backward(dout, cache) -> dx``."""

    objects = True

    def __init__(self, function: str) -> None:
        self.kind = function
        self.pair_words = f"{function}_forward(x) -> (out, cache); {function}_backward(dout, cache) -> dx"
        self.reference_words = f"torch.{function}"

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        return [Configuration("4 MNIST rows' pre-activations, 4×30", {"shape": (4, 30)}),
                Configuration("maps of pre-activations, 2×3×5×7", {"shape": (2, 3, 5, 7)}),
                Configuration("4×30, every third entry exactly 0", {"shape": (4, 30), "zeros": True})]

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng, shape = np.random.default_rng(index), configuration.setting["shape"]
        x = pre_activations(shape[0], int(np.prod(shape[1:])), 16 * index, rng, dtype).reshape(shape)
        if configuration.setting.get("zeros"):
            x.flat[::3] = 0.0
        return Case(configuration, dtype, {"x": x, "dout": drawn(rng, shape, dtype)})

    def reference(self, case: Case, reading: Any) -> dict[str, Any]:
        return autograd(FUNCTIONS[self.kind], case.values["x"], case.values["dout"], {}, self.keys)

    def _with_dx(self, dx) -> Any:
        """A mistake's numbers: torch's outputs, and ``dx(x, dout)`` for dL/dx."""
        def numbers(case: Case, reading: Any) -> dict[str, Any]:
            x, dout = (np.asarray(case.values[k], np.float64) for k in ("x", "dout"))
            return {**self.reference(case, reading), "dx": dx(x, dout)}
        return numbers

    def mistakes(self) -> list[Mistake]:
        found = [Mistake("missing_derivative", (
            f"The activation's derivative is missing: dx equals dout, where {{where}} must multiply dout by the "
            f"{self.kind}'s derivative, {DERIVATIVES[self.kind]}: dL/dx = dL/dout · f'(x), the chain rule."),
            self._with_dx(lambda x, dout: dout))]
        if self.kind == "relu":
            found += [
                Mistake("relu_mask_from_dout", (
                    "ReLU's mask is taken from dout: dx equals dout · (dout > 0), where {where} must pass dout where "
                    "the input was positive: dx = dout · (x > 0), x the cached input. The mask is the derivative of "
                    "max(0, x) at x; dout's sign has nothing to do with it."),
                    self._with_dx(lambda x, dout: dout * (dout > 0))),
                Mistake("relu_mask_from_out_ge", (
                    "ReLU's mask lets dout through where the input is exactly 0: dx equals dout · (x >= 0), where "
                    "{where} must use x > 0. max(0, x) has no slope at 0; torch takes 0 there (as cs231n's "
                    "solution does), and inputs of exactly 0 are common (a ReLU after a ReLU, a blank pixel)."),
                    self._with_dx(lambda x, dout: dout * (x >= 0)))]
        if self.kind == "sigmoid":
            found.append(Mistake("sigmoid_derivative_of_output_twice", (
                "The sigmoid is applied twice: dx equals dout · σ(s)(1 − σ(s)) with s = σ(x), where {where} "
                "takes the cache, which already holds σ(x), for x. With the cached output s: dx = dout · s (1 − s)."),
                self._with_dx(lambda x, dout: dout * _sigmoid(_sigmoid(x)) * (1 - _sigmoid(_sigmoid(x))))))
        if self.kind == "tanh":
            found.append(Mistake("tanh_derivative_of_input", (
                "tanh's derivative is taken at x, not at tanh(x): dx equals dout · (1 − x²), where {where} must "
                "use 1 − tanh²(x): dx = dout · (1 − out²) with the output, or (1 − np.tanh(x)²) with the input."),
                self._with_dx(lambda x, dout: dout * (1 - x ** 2))))
        return found


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


CHECKS = {function: ActivationCheck(function) for function in FUNCTIONS}
