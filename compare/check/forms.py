"""An update rule as the learner wrote it, run on copies: cs231n's functions and nnfs's optimizer objects.

Two forms, each run over the same weights and gradients and read for what it says of itself:

- cs231n's ``rule(w, dw, config) -> (next_w, config)`` (assignment 2's optim.py): one parameter a
  call, one config dict per parameter, as the Solver keeps them (it starts each as a dict of the
  hyperparameters given, and hands the returned config back at the next step). The rule sets its
  defaults with ``config.setdefault``, so its hyperparameters are read from the config it returns
  after the first call, and its state (``velocity``, ``m``, ``v``, ``t``, ``cache``) from the configs.
- nnfs's optimizer objects (*Neural Networks from Scratch*, chapter 10): ``pre_update_params()``,
  ``update_params(layer)`` for each layer, ``post_update_params()``, the hyperparameters in their
  attributes (``learning_rate``, ``decay``, ``epsilon``, ``beta_1``, ...), the state on the layer
  (``weight_momentums``, ``weight_cache``, ...) and the count in ``iterations``. The layer is one
  dense layer in nnfs's layout: ``weights`` (n_inputs, n_neurons), ``biases`` (1, n_neurons).

Whatever the learner's code does to the arrays it is handed (cs231n's ``sgd`` steps ``w`` in place)
happens to copies; what it did is told (:attr:`Trace.notes`).
"""
from __future__ import annotations

import copy
import inspect
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.errors import ConformanceError, ParameterError
from compare.conformance import call_user, short_repr

PARAMETERS = ("W", "b")  # the two parameters every rule steps: a weight matrix and a bias
SHAPE = (5, 4)  # W's: 5 inputs, 4 outputs, in the (n_in, n_out) layout of both codebases
COUNTS = ("t", "iterations")  # the step counts the forms keep (cs231n's Adam, nnfs's optimizers)


@dataclass
class Trace:
    """What the learner's rule did over the steps: the weights before and after each step (in the dtype
    checked), its hyperparameters in its own names (the values it stepped with), its state after the
    last step in its own names (one entry per parameter, a count as an int), and what it did besides."""

    befores: list[list[np.ndarray]] = field(default_factory=list)
    afters: list[list[np.ndarray]] = field(default_factory=list)
    hyper: dict[str, Any] = field(default_factory=dict)
    state: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _scalar(value: Any) -> bool:
    return isinstance(value, (numbers.Real, np.bool_)) and np.ndim(value) == 0


class _Form:
    """What both forms share: the name the messages give the rule, the dtype, the checks of what comes back."""

    name: str
    shapes: list[tuple[int, ...]]
    signature: str

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)

    def _weights(self, value: Any, shape: tuple[int, ...], what: str, step: int, trace: Trace) -> np.ndarray:
        """``value``, a parameter after a step, checked: an ndarray of ``shape``, finite, in a float dtype;
        one the rule promoted to float64 is rounded to the dtype checked, and told."""
        where = f"{self.name} returned {what} at step {step}"
        if not isinstance(value, np.ndarray):
            raise ConformanceError(f"{where} as {short_repr(value)}; expected an ndarray of shape {shape}.")
        if value.shape != shape:
            hint = " (the transpose)" if value.shape == shape[::-1] and len(shape) == 2 else ""
            raise ConformanceError(f"{where} of shape {value.shape}; expected {shape}, the shape it was given{hint}.")
        if value.dtype.kind != "f":
            raise ConformanceError(f"{where} of dtype {value.dtype}; expected a float array, {self.dtype.name}.")
        bad = np.flatnonzero(~np.isfinite(value))
        if bad.size:
            index = [int(i) for i in np.unravel_index(int(bad[0]), shape)]
            raise ConformanceError(f"{where} with {value.flat[bad[0]]} at {index}, where torch.optim's step is "
                                   "finite: a division by zero (ε left out, or a moment still 0), a square root "
                                   "of a negative, or an overflow.")
        if value.dtype != self.dtype:
            trace.note(f"{self.name} returned {value.dtype} weights for {self.dtype.name} ones (NumPy promoted "
                       f"them: an array or scalar of {value.dtype} in the rule); each is rounded to "
                       f"{self.dtype.name} before the next step, as torch's are compared in {self.dtype.name}")
        return np.array(value, dtype=self.dtype, copy=True)


class Cs231nRule(_Form):
    """cs231n's ``rule(w, dw, config) -> (next_w, config)``, one config per parameter, as the Solver calls it."""

    def __init__(self, rule: Any, given: dict[str, Any], dtype: np.dtype) -> None:
        super().__init__(dtype)
        self.rule, self.given = rule, dict(given)
        self.name = getattr(rule, "__name__", type(rule).__name__)
        self.shapes = [SHAPE, SHAPE[1:]]
        self.signature = f"{self.name}(w, dw, config) -> (next_w, config), one config per parameter"

    def run(self, starts: list[np.ndarray], gradients: list[list[np.ndarray]], rates: list[float] | None) -> Trace:
        trace, weights = Trace(), [w.copy() for w in starts]
        configs: list[Any] = [dict(self.given) for _ in starts]
        for k, grads in enumerate(gradients):
            trace.befores.append([w.copy() for w in weights])
            for i, (w, dw) in enumerate(zip(weights, grads)):
                if rates is not None:
                    configs[i]["learning_rate"] = rates[k]  # as the Solver's lr_decay sets it between epochs
                w_in, dw_in = w.copy(), dw.copy()
                returned = call_user(self.name, self.rule, w_in, dw_in, configs[i])
                next_w, configs[i] = self._unpack(returned, k + 1)
                weights[i] = self._weights(next_w, w.shape, f"next_w for {PARAMETERS[i]}", k + 1, trace)
                if not np.array_equal(w_in, w):
                    trace.note(f"{self.name} changes w in place (w -= ...), as the handout's sgd does: checked on "
                               "copies; the array it was given is the one it returns")
                if not np.array_equal(dw_in, dw):
                    trace.note(f"{self.name} writes into dw, the gradient it was given: checked on copies; a "
                               "caller that reads dw afterwards would see it changed")
            if k == 0:
                trace.hyper = {key: value for key, value in configs[0].items()
                               if _scalar(value) and key not in COUNTS}
            trace.afters.append([w.copy() for w in weights])
        for key, value in configs[0].items():
            values = [config.get(key) for config in configs]
            if key in COUNTS and all(isinstance(v, numbers.Integral) for v in values):
                trace.state[key] = [int(v) for v in values]
            elif all(isinstance(v, np.ndarray) and v.shape == w.shape for v, w in zip(values, weights)):
                trace.state[key] = [np.array(v, dtype=np.float64) for v in values]
        return trace

    def _unpack(self, returned: Any, step: int) -> tuple[Any, dict]:
        expected = "expected the pair (next_w, config)"
        if returned is None:
            raise ConformanceError(f"{self.name} returned None at step {step}; {expected}: is its return "
                                   "statement missing?")
        if not isinstance(returned, tuple) or len(returned) != 2:
            raise ConformanceError(f"{self.name} returned {short_repr(returned)} at step {step}; {expected}.")
        next_w, config = returned
        if not isinstance(config, dict):
            raise ConformanceError(f"{self.name} returned config as {short_repr(config)} at step {step}; expected the "
                                   "dict of its hyperparameters and state, handed back to it at the next step.")
        return next_w, config


class _Layer:
    """What nnfs's ``update_params(layer)`` reads and writes: a dense layer's parameters and gradients."""

    def __init__(self, weights: np.ndarray, biases: np.ndarray) -> None:
        self.weights, self.biases = weights, biases


class NnfsOptimizer(_Form):
    """nnfs's optimizer object: ``pre_update_params()``, ``update_params(layer)``, ``post_update_params()``."""

    METHODS = ("pre_update_params", "update_params", "post_update_params")

    def __init__(self, optimizer: Any, given: dict[str, Any], dtype: np.dtype) -> None:
        super().__init__(dtype)
        cls = optimizer if inspect.isclass(optimizer) else type(optimizer)
        self.name = cls.__name__
        if inspect.isclass(optimizer):
            self.optimizer = call_user(f"{self.name}()", optimizer, **given)
        elif given:
            raise ParameterError(f"This {self.name} object holds its hyperparameters already: build it with them "
                                 f"({self.name}({', '.join(f'{k}={v!r}' for k, v in given.items())})), or pass the "
                                 "class and check_update builds it.")
        else:
            self.optimizer = copy.deepcopy(optimizer)
        self.given = dict(given)
        self.shapes = [SHAPE, (1, SHAPE[1])]
        self.signature = f"{self.name}: pre_update_params(), update_params(layer), post_update_params()"

    def run(self, starts: list[np.ndarray], gradients: list[list[np.ndarray]], rates: list[float] | None) -> Trace:
        if rates is not None:
            raise ParameterError(f"{self.name} sets its own rate each step (its decay): the 'learning_rates' "
                                 "parameter is for cs231n's rules, whose config['learning_rate'] the Solver changes.")
        trace, layer = Trace(), _Layer(*(w.copy() for w in starts))
        optimizer = self.optimizer
        for k, (dweights, dbiases) in enumerate(gradients):
            trace.befores.append([layer.weights.copy(), layer.biases.copy()])
            layer.dweights, layer.dbiases = dweights.copy(), dbiases.copy()
            for method in self.METHODS:
                if callable(getattr(optimizer, method, None)):
                    call_user(f"{self.name}.{method}", getattr(optimizer, method), *([layer] if method ==
                                                                                      "update_params" else []))
            if not (np.array_equal(layer.dweights, dweights) and np.array_equal(layer.dbiases, dbiases)):
                trace.note(f"{self.name}.update_params writes into layer.dweights or layer.dbiases: checked on "
                           "copies; the layer's backward pass would see its gradients changed")
            layer.weights = self._weights(layer.weights, starts[0].shape, "layer.weights", k + 1, trace)
            layer.biases = self._weights(layer.biases, starts[1].shape, "layer.biases", k + 1, trace)
            if k == 0:
                trace.hyper = {key: value for key, value in vars(optimizer).items()
                               if _scalar(value) and key not in COUNTS and key != "current_learning_rate"}
            trace.afters.append([layer.weights.copy(), layer.biases.copy()])
        for key, value in vars(layer).items():
            if key.startswith("weight_") and isinstance(value, np.ndarray):
                bias = getattr(layer, "bias_" + key[len("weight_"):], None)
                if isinstance(bias, np.ndarray) and (value.shape, bias.shape) == (starts[0].shape, starts[1].shape):
                    trace.state[key[len("weight_"):]] = [np.array(value, np.float64), np.array(bias, np.float64)]
        if isinstance(getattr(optimizer, "iterations", None), numbers.Integral):
            trace.state["iterations"] = [int(optimizer.iterations)] * 2
        return trace


def form_of(rule: Any, given: dict[str, Any], dtype: np.dtype) -> Cs231nRule | NnfsOptimizer:
    """The form ``rule`` is written in; one sentence if it is neither."""
    if callable(getattr(rule, "update_params", None)):
        return NnfsOptimizer(rule, given, dtype)
    if callable(rule) and not inspect.isclass(rule):
        return Cs231nRule(rule, given, dtype)
    raise ConformanceError(f"The 'rule' parameter must be an update rule as cs231n writes one, rule(w, dw, config) -> "
                           f"(next_w, config), or an nnfs optimizer (an object with update_params(layer), or its "
                           f"class). Got {short_repr(rule)} instead.")
