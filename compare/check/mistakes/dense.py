"""The classic mistakes of a dense layer written by hand: its weight used transposed, its gradients.

==================================  ============================================================
mistake                             what is planted, and the numbers that must be its
==================================  ============================================================
transposed_weight                   ``x @ W`` where ``W x`` (``x @ W.T`` for rows) belongs, or,
                                    where W is not square, W reshaped to ``(n_in, n_out)`` and
                                    transposed: the outputs (a network's; alone, the layout is read)
dense_grads_averaged                dw and db divided by the batch size (check_layer)
dense_dx_wrong_transpose            dx = dout @ w for cs231n's w (D, M): raises unless w is square
                                    (check_layer)
dense_x_not_flattened_in_backward   dw = x.T @ dout of an unflattened x (N, d1, ..., dk): of shape
                                    (dk, ..., d1, M) (check_layer)
==================================  ============================================================

A dense layer alone is checked by :class:`DenseCheck` (``CHECKS``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.errors import ConformanceError
from common.layers.dense import Dense
from compare.check.layer_forms import UserRaised
from compare.check.mistakes import OUTPUTS, Planted
from compare.check.one_layer import (BACKWARD, FORWARD, Case, Configuration, LayerCheck, Mistake, autograd, drawn,
                                     mnist_rows, parameter)


class TransposedLinear(nn.Module):
    """``linear`` (its weight and bias shared) computing with ``W.reshape(n_in, n_out).T``: its
    transpose where W is square, where a layer written for the (n_in, n_out) layout reads W."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_out, n_in = self.weight.shape
        return F.linear(x, self.weight.reshape(n_in, n_out).T, self.bias)


def mistakes(spec: Dense) -> list[Planted]:
    n_out, n_in = spec.units, spec.inputs[0]
    if n_out == n_in:
        how = ("{where} is used transposed: the outputs equal autograd's with W.T. Weights are laid out "
               "(n_out, n_in), as nn.Linear.weight: a layer computes W @ x, or inputs @ W.T for rows of samples.")
    else:
        how = (f"{{where}} is reshaped to ({n_in}, {n_out}) where a transpose belongs: the outputs equal "
               f"autograd's with W.reshape({n_in}, {n_out}).T. reshape keeps the numbers in their order; .T swaps "
               "the axes.")
    return [Planted("transposed_weight", OUTPUTS, lambda module, spec: TransposedLinear(module), how)]


# -- check_layer: a dense layer alone --------------------------------------------------------------

def _layout(name: str, value: np.ndarray, reading: dict[str, Any]) -> np.ndarray:
    """A parameter (or its gradient) of torch's layout in the learner's: w transposed for cs231n's and
    nnfs's (D, M), b as a row (1, M) for nnfs's."""
    if name == "w" and reading["layout"] != "torch":
        return np.ascontiguousarray(value.T)
    if name == "b" and reading["bias_row"]:
        return value.reshape(1, -1)
    return value


class DenseCheck(LayerCheck):
    """cs231n's ``affine_forward(x, w, b) -> (out, cache)``, ``affine_backward(dout, cache) -> (dx, dw, db)``,
    or nnfs's ``Layer_Dense(n_inputs, n_neurons)``.

    The layout is read, not assumed: cs231n's and nnfs's ``w`` is ``(D, M)``, ``x @ w``, the transpose of
    ``nn.Linear.weight``; a learner who keeps torch's ``(M, D)`` computes ``x @ w.T``. The pair's forward
    is handed w in cs231n's layout first and, where that raises, in torch's (the weight is not square,
    so only one can run); an nnfs layer's is read from the ``weights`` its constructor made. A square
    configuration comes last, in the layout read (a dx written ``dout @ w`` runs only there).
    """

    kind, param, parameters = "dense", None, ("w", "b")
    keys = ("out", "dx", "dw", "db")
    pair_words = "affine_forward(x, w, b) -> (out, cache); affine_backward(dout, cache) -> (dx, dw, db)"
    reference_words = "torch.nn.functional.linear"
    objects = True

    def configurations(self, form: str, given: dict[str, Any] | None) -> list[Configuration]:
        found = [Configuration("4 MNIST rows, 784 → 10", {"x": (4, 784), "units": 10})]
        if form == "pair":  # cs231n's affine layer flattens x (N, d1, ..., dk); nnfs's takes rows
            found.append(Configuration("4 MNIST images 4×1×28×28, flattened, 784 → 10", {"x": (4, 1, 28, 28),
                                                                                        "units": 10}))
        return found + [Configuration("square w: 4 rows of 16 pixels, 16 → 16", {"x": (4, 16), "units": 16})]

    def reading(self, convention: Any, form: str) -> dict[str, Any]:
        return {"layout": None, "bias_row": False, "form": form}

    def conventions(self, reading: dict[str, Any]) -> list[str]:
        if reading["layout"] is None:
            return []
        how = ("read from the weights its constructor made" if reading["form"] == "object" else
               "read from the layout its forward runs with, w not being square")
        words = {"cs231n": "w laid out (D, M), out = x @ w (cs231n's and nnfs's; nn.Linear.weight transposed)",
                 "torch": "w laid out (M, D), out = x @ w.T (torch's nn.Linear.weight)"}[reading["layout"]]
        return [f"{words}: {how}" + ("; biases of shape (1, M), nnfs's" if reading["bias_row"] else "")]

    def draw(self, configuration: Configuration, dtype: np.dtype, index: int) -> Case:
        rng = np.random.default_rng(index)
        shape, units = configuration.setting["x"], configuration.setting["units"]
        rows = mnist_rows(shape[0], 16 * index, dtype)
        x = rows.reshape(shape) if np.prod(shape[1:]) == 784 else np.ascontiguousarray(rows[:, 406:406 + shape[1]])
        features = int(np.prod(shape[1:]))
        return Case(configuration, dtype, {"x": x, "w": drawn(rng, (units, features), dtype, features ** -0.5),
                                           "b": drawn(rng, (units,), dtype, 0.1),
                                           "dout": drawn(rng, (shape[0], units), dtype)})

    def user_array(self, name: str, case: Case, reading: dict[str, Any]) -> np.ndarray:
        return _layout(name, case.values[name], reading)

    def run_pair(self, pair: Any, case: Case, reading: dict[str, Any], calls: Any, mine: dict[str, Any]) -> None:
        w = case.values["w"]
        layouts, first = [reading["layout"]] if reading["layout"] else ["cs231n", "torch"], None
        for layout in layouts:
            given = self.user_array("w", case, {**reading, "layout": layout})
            try:
                mine["out"], cache = calls.forward(pair, [("x", case.values["x"]), ("w", given), ("b", case.values["b"])])
            except UserRaised as error:
                first = first or error  # what the first layout raised is what is told
                continue
            if w.shape[0] != w.shape[1]:
                reading["layout"] = layout
            break
        else:
            raise first
        mine.update(calls.backward(pair, case.values["dout"], cache, self.keys[1:]))

    def run_object(self, obj: Any, case: Case, reading: dict[str, Any], calls: Any, mine: dict[str, Any]) -> None:
        units, features = case.values["w"].shape
        layer = calls.build(obj, features, units)
        weights, biases = np.asarray(getattr(layer, "weights", None)), np.asarray(getattr(layer, "biases", None))
        if weights.shape not in ((features, units), (units, features)) or biases.size != units:
            raise ConformanceError(f"{obj.words}({features}, {units}) made weights of shape {weights.shape} and biases "
                                   f"of shape {biases.shape}; nnfs's Layer_Dense(n_inputs, n_neurons) makes them "
                                   f"({features}, {units}) and (1, {units}).")
        if features != units:
            reading["layout"] = "cs231n" if weights.shape == (features, units) else "torch"
            reading["bias_row"] = biases.ndim == 2
        layer.weights = self.user_array("w", case, reading).copy()
        layer.biases = self.user_array("b", case, reading).copy()
        calls.object_forward(layer, [("inputs", case.values["x"])], training=True)
        mine["out"] = calls.stored(layer, "output", FORWARD)
        calls.object_backward(layer, [("dvalues", case.values["dout"])])
        mine.update({key: calls.stored(layer, attribute, BACKWARD)
                     for key, attribute in (("dx", "dinputs"), ("dw", "dweights"), ("db", "dbiases"))})

    def _linear(self, case: Case) -> tuple[nn.Linear, dict[str, Any]]:
        units, features = case.values["w"].shape
        linear = nn.Linear(features, units).double()
        linear.weight, linear.bias = parameter(case.values["w"]), parameter(case.values["b"])
        return linear, {"w": linear.weight, "b": linear.bias}

    def _numbers(self, module: nn.Module, parameters: dict[str, Any], case: Case,
                 reading: dict[str, Any]) -> dict[str, Any]:
        """autograd's numbers through ``module`` (x flattened first), dw and db in the learner's layout."""
        found = autograd(nn.Sequential(nn.Flatten(1), module), case.values["x"], case.values["dout"], parameters,
                         self.keys)
        for key, name in (("dw", "w"), ("db", "b")):
            if isinstance(found.get(key), np.ndarray):
                found[key] = _layout(name, found[key], reading)
        return found

    def reference(self, case: Case, reading: dict[str, Any]) -> dict[str, Any]:
        return self._numbers(*self._linear(case), case, reading)

    def mistakes(self) -> list[Mistake]:
        def averaged(case: Case, reading: dict[str, Any]) -> dict[str, Any]:
            found, n = self.reference(case, reading), case.values["x"].shape[0]
            return {**found, "dw": found["dw"] / n, "db": found["db"] / n}

        def wrong_transpose(case: Case, reading: dict[str, Any]) -> dict[str, Any]:
            linear, parameters = self._linear(case)
            return self._numbers(_WrongTransposeLinear(linear), parameters, case, reading)

        def not_flattened(case: Case, reading: dict[str, Any]) -> dict[str, Any] | None:
            if reading["layout"] == "torch":
                return None
            x, dout = (np.asarray(case.values[k], np.float64) for k in ("x", "dout"))
            return {**self.reference(case, reading), "dw": x.T.dot(dout)}

        return [
            Mistake("dense_grads_averaged", (
                "dw and db are divided by the batch size: the outputs and dx agree and dw and db equal autograd's "
                "over N, where {where} averages them. dout already carries the loss's 1/N (a mean loss divides "
                "once, at the top); dw = x.T @ dout and db = dout.sum(axis=0), sums over the batch."), averaged),
            Mistake("dense_dx_wrong_transpose", (
                "dx is computed as dout @ w where dout @ w.T belongs: {where} raises where w is not square "
                "(D ≠ M), and where it is square it runs and gives another dx. out = x @ w, so dx = dout @ w.T, "
                "(N, M) @ (M, D) (with torch's layout, w (M, D): dx = dout @ w)."),
                wrong_transpose),
            Mistake("dense_x_not_flattened_in_backward", (
                "dw is computed from x as it came, not flattened: for images x of shape (N, d1, ..., dk), {where} "
                "returns x.T @ dout, of shape (dk, ..., d1, M), where (D, M) belongs. The forward flattened x to "
                "(N, D); the backward must too: dw = x.reshape(N, -1).T @ dout."), not_flattened),
        ]


class _WrongTransposeLinear(nn.Module):
    """``linear`` (its parameters shared) whose dL/dx is dout @ W.T, where dout @ W belongs (W is
    nn.Linear.weight, (M, D)): what ``dout @ w`` gives for cs231n's w = W.T; it raises unless M = D."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _WrongTranspose.apply(x, self.weight, self.bias)


class _WrongTranspose(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, dy):
        x, weight = ctx.saved_tensors
        return dy @ weight.T, dy.T @ x, dy.sum(0)


CHECKS = {"dense": DenseCheck()}
