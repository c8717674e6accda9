"""A model as the learner wrote it, behind the Network protocol: the adapter the learner would have written.

Two forms, each read for what it is (its architecture, parameters' layout and names, recipe and
conventions) and called through its own methods, on a copy that :func:`compare.check.check_model`
made of it:

- :class:`Cs231nModel`, cs231n's ``classifiers/fc_net.py``: ``params`` a dict of ``W1, b1, gamma1,
  beta1, ..., WL, bL`` in the course's layout (``W1`` of shape (D, M), the transpose of
  ``nn.Linear.weight``), ``loss(X, y) -> (loss, grads)`` (training mode, grads keyed like params),
  ``loss(X) -> scores`` (test mode), ``reg``, ``normalization``, ``bn_params`` and ``dropout_param``.
- :class:`NnfsModel`, nnfs's ``Model`` (chapter 22): ``layers`` (``Layer_Dense``, its activations,
  ``Layer_Dropout``), ``loss``, ``optimizer``, ``forward(X, training)``, ``backward(output, y)``.

Each adapter is the Network protocol of :mod:`common.protocol`: parameters in
``architecture.parameter_names()`` order, each weight ``(n_out, n_in)`` (``params['W1'].T``,
``layers[0].weights.T``), each bias a vector; ``query`` gives the softmax of the model's scores (or
its outputs, nnfs's softmax); ``gradients`` and ``train`` take one-hot targets, the model its labels.
Whatever the model returns is checked here, in its own words (``TwoLayerNet.loss(X, y) returned
...``), and a gradient comes back in the parameters' dtype (nnfs's dropout mask is float64 whatever
the layers are, and promotes what follows it).
"""
from __future__ import annotations

import inspect
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from common.architecture import Architecture
from common.errors import ConformanceError, ParameterError
from common.recipe import Recipe
from compare.conformance import call_user


def _short(value: Any) -> str:
    """A short repr for a sentence: a NumPy scalar as its number, anything long cut at 60 characters."""
    text = f"{value.item():.6g}" if isinstance(value, np.number) else repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


@dataclass(frozen=True)
class Conventions:
    """How the model's layers compute where torch's differ and neither is wrong: per layer (by its name in
    the architecture), batch norm's torch momentum and ε (cs231n's biased running variance), layer norm's ε,
    and how dropout's mask is drawn (:data:`compare.check.mistakes.dropout.DRAWS`); ``words`` says them."""

    batchnorm: dict[str, tuple[float, float]] = field(default_factory=dict)
    layernorm: dict[str, float] = field(default_factory=dict)
    draw: str | None = None
    words: tuple[str, ...] = ()


class _Form:
    """What both forms share: the protocol's attributes, and the checks of what the model returns."""

    activation, loss, bias = "relu", "cross_entropy", True

    def __init__(self, model: Any, name: str) -> None:
        self.model, self.name = model, name
        self.steps = 0  # train() calls taken

    def _set_architecture(self, sizes: list[int], **keywords: Any) -> None:
        self.architecture = Architecture(sizes[0], sizes[1:-1], sizes[-1], self.activation, self.loss, True,
                                         **keywords)
        self.input_nodes, self.output_nodes = sizes[0], sizes[-1]
        self.hidden_nodes = list(sizes[1:-1])
        self.norm, self.dropout = self.architecture.norm, self.architecture.dropout

    def _rows(self, inputs: np.ndarray) -> np.ndarray:
        return np.atleast_2d(inputs).astype(self.dtype)

    def _labels(self, targets: np.ndarray) -> np.ndarray:
        return np.atleast_2d(targets).argmax(axis=1)

    def _array(self, value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ConformanceError(f"{what} as {_short(value)}; expected a float ndarray of shape {shape}.")
        if value.shape != shape:
            hint = " (the transpose)" if value.shape == shape[::-1] else ""
            raise ConformanceError(f"{what} of shape {value.shape}; expected {shape}{hint}.")
        return value.astype(self.dtype, copy=False)

    @staticmethod
    def _dtype(arrays: dict[str, np.ndarray], where: str) -> np.dtype:
        dtypes = sorted({a.dtype.name for a in arrays.values()})
        if len(dtypes) != 1 or dtypes[0] not in ("float32", "float64"):
            raise ConformanceError(f"{where} are of dtype {', '.join(dtypes)}; expected float64 or float32, the "
                                   "same for every parameter.")
        return np.dtype(dtypes[0])

    @staticmethod
    def _finite(arrays: dict[str, np.ndarray], where: str) -> None:
        for key, array in arrays.items():
            bad = np.flatnonzero(~np.isfinite(array))
            if bad.size:
                index = [int(i) for i in np.unravel_index(int(bad[0]), array.shape)]
                raise ConformanceError(f"{where.format(key=key)} holds {array.flat[bad[0]]} at {index}: check_model "
                                       "checks a model at finite weights.")


# -- cs231n ---------------------------------------------------------------------------------------------

def _rule_recipe(rule: Any, config: dict[str, Any], dtype: np.dtype) -> tuple[Recipe, float, str]:
    """The recipe of cs231n's update ``rule`` (and its learning rate), read from the config it returns after
    one call on a copy: its hyperparameters (``config.setdefault``'s defaults, the Solver's ``optim_config``),
    cs231n's names: ``beta1``, ``beta2``: Adam; ``decay_rate``: RMSprop; ``momentum``: SGD's; and those words."""
    name = getattr(rule, "__name__", type(rule).__name__)
    returned = call_user(name, rule, np.zeros((2, 2), dtype), np.full((2, 2), 0.1, dtype), dict(config))
    if not isinstance(returned, tuple) or len(returned) != 2 or not isinstance(returned[1], dict):
        raise ConformanceError(f"{name}(w, dw, config) returned {_short(returned)}; expected the pair (next_w, "
                               "config), as cs231n's update rules return it.")
    read = returned[1]
    lr = read.get("learning_rate")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ConformanceError(f"{name}'s config holds no learning_rate > 0 after a step (got {_short(lr)}): give "
                               "it one, as the Solver's optim_config does.")
    if "beta1" in read or "beta2" in read:  # the hyperparameters it sets, not its state, which a mistake may not keep
        recipe = Recipe("adam", betas=(read.get("beta1", 0.9), read.get("beta2", 0.999)), eps=read.get("epsilon", 1e-8))
    elif "decay_rate" in read:
        recipe = Recipe("rmsprop", alpha=read["decay_rate"], eps=read.get("epsilon", 1e-8))
    elif "momentum" in read:
        recipe = Recipe("sgd", momentum=read["momentum"])
    else:
        recipe = Recipe()
    keys = ", ".join(k for k, v in read.items() if np.ndim(v) == 0)
    return recipe, float(lr), (f"{name}(w, dw, config) on each parameter, one config each as the Solver keeps them "
                               f"(from {_short(dict(config))}), read from its config after one call on a copy "
                               f"({keys})")


class Cs231nModel(_Form):
    """cs231n's model: ``params``, ``loss(X, y=None)``, ``reg``; ``normalization``, ``bn_params``,
    ``dropout_param`` where it has them.

    Read: the layer sizes from the weights (``W1`` (D, M1), ``W2`` (M1, M2), ...); ReLU hidden layers,
    softmax cross-entropy, a bias in every layer (the handout's); batch or layer norm from
    ``normalization`` ('batchnorm', 'layernorm'), else from ``gamma1`` and ``bn_params``; dropout from
    ``use_dropout`` and ``dropout_param['p']``, the keep probability (``dropout_p="drop"``: the 2017
    handout's drop probability); ``reg`` as the recipe's ``l2`` (the recent handout's 0.5 · reg · ΣW²,
    gradient reg · W, weights only). ``update``: the Solver's rule, run on each parameter with its own
    config (from ``optim_config``); without one, check_model steps by plain SGD at lr 0.01 (cs231n's
    ``sgd`` default), so that the steps check the loss and what a training pass moves.
    """

    DEFAULT_LR = 1e-2

    def __init__(self, model: Any, name: str, update: Any = None, optim_config: dict | None = None,
                 dropout_p: str = "keep") -> None:
        super().__init__(model, name)
        params = model.params
        if not isinstance(params, dict) or not all(isinstance(v, np.ndarray) for v in params.values()):
            raise ConformanceError(f"{name}.params is {_short(params)}; expected a dict of ndarrays, W1, b1, ...")
        self.dtype = self._dtype(params, f"{name}.params")
        self._finite(params, f"{name}.params['{{key}}']")
        count = sum(1 for key in params if re.fullmatch(r"W\d+", key))
        if count < 1 or any(f"W{i}" not in params or f"b{i}" not in params for i in range(1, count + 1)):
            raise ConformanceError(f"{name}.params has {sorted(params)}; expected W1, b1, ..., W{count}, b{count}.")
        weights = [params[f"W{i}"] for i in range(1, count + 1)]
        sizes = [weights[0].shape[0]] + [w.shape[1] if w.ndim == 2 else -1 for w in weights]
        if any(w.ndim != 2 or w.shape[0] != n for w, n in zip(weights, sizes)):
            raise ConformanceError(f"{name}.params' weights are of shapes {[w.shape for w in weights]}; expected "
                                   "(D, M1), (M1, M2), ...: each layer's inputs and outputs, as the handout lays W "
                                   "out.")
        norm = self._norm(model, params)
        keep = self._dropout(model, dropout_p)
        self._set_architecture(sizes, norm=norm, dropout=keep[0] if keep else 0.0)
        self.keys = [f"{prefix}{i}" for i in range(1, count + 1) for prefix in ("W", "b", "gamma", "beta")
                     if f"{prefix}{i}" in params and (prefix in "Wb" or (norm and i < count))]
        extra = sorted(set(params) - set(self.keys))
        if len(self.keys) != len(self.architecture.parameter_names()) or extra:
            raise ConformanceError(f"{name}.params has {sorted(params)}; expected "
                                   f"{', '.join(self._expected(count, norm))}.")
        self.shapes = {key: params[key].shape for key in self.keys}
        reg = getattr(model, "reg", 0.0) or 0.0
        if isinstance(reg, bool) or not isinstance(reg, numbers.Real) or not 0 <= reg < np.inf:
            raise ConformanceError(f"{name}.reg is {_short(reg)}; expected the L2 strength, a float >= 0.")
        self.l2 = float(reg)
        self.rule, self.configs = update, {}
        if update is None:
            self.recipe, self.lr = Recipe(l2=self.l2), self.DEFAULT_LR
            steps = f"plain SGD at lr {self.DEFAULT_LR:g} taken by check_model (no update= given)"
        else:
            recipe, self.lr, steps = _rule_recipe(update, optim_config or {}, self.dtype)
            self.recipe = Recipe(**{**recipe.changed_keywords(), "l2": self.l2})
            self.configs = {key: dict(optim_config or {}) for key in self.keys}
        self.conventions = self._conventions(model, keep)
        self.notes = [
            f"Read from {name}: {self.architecture.describe()}, from the shapes of params' "
            f"{', '.join(self._expected(count, norm))}; reg {self.l2:g} as L2 {self.l2:g} on the weights "
            f"(0.5 · reg · ΣW², gradient reg · W)" + (f"; {keep[2]}" if keep else "") + ".",
            f"Parameters: {', '.join(self._legend())}: torch's layout (n_out, n_in), as nn.Linear.weight.",
            *self.conventions.words,
            f"train(): {name}.loss(X, y), then {steps}.",
        ]

    def _expected(self, count: int, norm: str | None) -> list[str]:
        return [f"{p}{i}" for i in range(1, count + 1) for p in ("W", "b", "gamma", "beta")
                if p in "Wb" or (norm and i < count)]

    def _legend(self) -> list[str]:
        return [f"{mine} = params['{key}']{'.T' if key.startswith('W') else ''}"
                for mine, key in zip(self.architecture.parameter_names(), self.keys) if mine != key or key[0] == "W"]

    def _norm(self, model: Any, params: dict) -> str | None:
        """"batch" or "layer" from ``normalization``, else from ``bn_params`` where there is a gamma1; or None."""
        stated = getattr(model, "normalization", None)
        if stated in ("batchnorm", "layernorm"):
            return stated[:-4]
        if stated is not None:
            raise ConformanceError(f"{self.name}.normalization is {_short(stated)}; expected 'batchnorm', 'layernorm' "
                                   "or None, as the handout has it.")
        if "gamma1" not in params:
            return None
        bn_params = getattr(model, "bn_params", None) or []
        if bn_params and all("mode" in p for p in bn_params):
            return "batch"
        if bn_params:
            return "layer"
        raise ConformanceError(f"{self.name}.params has gamma1 and beta1 but {self.name} says neither normalization "
                               "nor bn_params: set normalization = 'batchnorm' or 'layernorm', as the handout does.")

    def _dropout(self, model: Any, meaning: str) -> tuple[float, str, str] | None:
        """torch's p (the probability of dropping) from ``dropout_param['p']``, the draw (DRAWS) and those
        words; None without dropout."""
        if meaning not in ("keep", "drop"):
            raise ParameterError(f"The 'dropout_p' parameter must be 'keep' (recent handouts) or 'drop' (2017's): "
                                 f"what dropout_param['p'] means. Got {meaning!r} instead.")
        param = getattr(model, "dropout_param", None) or {}
        if not getattr(model, "use_dropout", bool(param)):
            return None
        p = param.get("p")
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 < p < 1:
            raise ConformanceError(f"{self.name}.dropout_param['p'] is {_short(p)}; expected a probability in (0, 1).")
        torch_p = 1.0 - p if meaning == "keep" else float(p)
        words = (f"dropout_param['p'] = {p:g}, the probability of {'keeping' if meaning == 'keep' else 'dropping'} a "
                 f"unit (dropout_p='{meaning}'): torch's p = {torch_p:g}")
        return torch_p, "cs231n" if meaning == "keep" else "cs231n_2017", words

    def _conventions(self, model: Any, keep: tuple | None) -> Conventions:
        bn_params = list(getattr(model, "bn_params", None) or [])
        words, batchnorm, layernorm = [], {}, {}
        specs = [spec for spec in self.architecture.layers if spec.kind in ("batchnorm", "layernorm")]
        for spec, bn_param in zip(specs, bn_params + [{}] * len(specs)):
            if spec.kind == "batchnorm":
                batchnorm[spec.name] = (1.0 - float(bn_param.get("momentum", 0.9)), float(bn_param.get("eps", 1e-5)))
            else:
                layernorm[spec.name] = float(bn_param.get("eps", 1e-5))
        if batchnorm:
            momentum = "/".join(dict.fromkeys(f"{1 - m:g}" for m, _ in batchnorm.values()))
            words.append(f"Batch norm under cs231n's conventions: the running statistics from the model's own (0 "
                         f"before its first training pass), moved towards the batch's biased variance, with momentum "
                         f"{momentum} on the old value (bn_param['momentum'], 0.9 where it has none); the bias before "
                         "it has a gradient of "
                         "exactly 0, compared at its weight's scale.")
        if not keep:
            return Conventions(batchnorm, layernorm, None, tuple(words))
        param = model.dropout_param
        seeded = (f"seed {param['seed']}" if "seed" in param else
                  "dropout_param had no seed: check_model set 0 on its copy")
        param.setdefault("seed", 0)
        words.append(f"Dropout's mask as cs231n draws it: np.random.seed(seed), then np.random.rand(*x.shape) "
                     f"{'<' if keep[1] == 'cs231n' else '>='} p: the same mask in every layer and at every step, for "
                     f"one shape ({seeded}).")
        return Conventions(batchnorm, layernorm, keep[1], tuple(words))

    @property
    def layer_seed(self) -> int | None:
        """The seed cs231n's dropout draws its masks after, ``dropout_param['seed']``; None without dropout."""
        return int(self.model.dropout_param["seed"]) if self.dropout else None

    @layer_seed.setter
    def layer_seed(self, seed: int) -> None:
        if self.dropout:
            self.model.dropout_param["seed"] = int(seed)

    # -- the protocol --------------------------------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(self.model.params[k].T, order="C") if k[0] == "W" else self.model.params[k].reshape(-1).copy()
                for k in self.keys]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        for key, w in zip(self.keys, weights):
            value = np.ascontiguousarray(w.T) if key[0] == "W" else np.reshape(w, self.shapes[key])
            self.model.params[key] = value.astype(self.dtype)

    def _bn_params(self) -> list[dict]:
        return list(self.model.bn_params) if self.norm == "batch" else []

    def get_buffers(self) -> list[np.ndarray]:
        return [np.array(p.get(key, np.zeros(self.shapes[f"gamma{i}"], self.dtype)), dtype=self.dtype)
                for i, p in enumerate(self._bn_params(), start=1) for key in ("running_mean", "running_var")]

    def set_buffers(self, buffers: list[np.ndarray]) -> None:
        for i, p in enumerate(self._bn_params()):
            p["running_mean"], p["running_var"] = (np.array(b, dtype=self.dtype) for b in buffers[2 * i:2 * i + 2])

    def query(self, inputs: np.ndarray) -> np.ndarray:
        x = self._rows(inputs)
        scores = call_user(f"{self.name}.loss", self.model.loss, x)
        scores = self._array(scores, (len(x), self.output_nodes), f"{self.name}.loss(X) returned the scores")
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities[0] if np.ndim(inputs) == 1 else probabilities

    def _loss(self, inputs: np.ndarray, targets: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        x, y = self._rows(inputs), self._labels(targets)
        returned = call_user(f"{self.name}.loss", self.model.loss, x, y)
        what = f"{self.name}.loss(X, y) returned"
        if not isinstance(returned, tuple) or len(returned) != 2 or not isinstance(returned[1], dict):
            raise ConformanceError(f"{what} {_short(returned)}; expected the pair (loss, grads), grads a dict keyed "
                                   "like params.")
        loss, grads = returned
        if isinstance(loss, np.ndarray) and loss.shape == ():
            loss = loss[()]
        if isinstance(loss, bool) or not isinstance(loss, numbers.Real):
            raise ConformanceError(f"{what} the loss {_short(loss)}; expected a float.")
        missing = [key for key in self.keys if key not in grads]
        if missing:
            raise ConformanceError(f"{what} grads without {', '.join(missing)}; expected one per parameter, keyed "
                                   "like params.")
        return float(loss), {k: self._array(grads[k], self.shapes[k], f"{what} grads['{k}']") for k in self.keys}

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        saved = [{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in p.items()} for p in self._bn_params()]
        _, grads = self._loss(inputs, targets)
        for p, kept in zip(self._bn_params(), saved):  # a gradient moves no running statistic
            p.clear()
            p.update(kept)
        return [np.ascontiguousarray(grads[k].T) if k[0] == "W" else grads[k].reshape(-1) for k in self.keys]

    def train(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        loss, grads = self._loss(inputs, targets)
        for key in self.keys:
            w = self.model.params[key]
            if self.rule is None:
                self.model.params[key] = w - self.dtype.type(self.lr) * grads[key]
                continue
            name = getattr(self.rule, "__name__", type(self.rule).__name__)
            returned = call_user(name, self.rule, w, grads[key], self.configs[key])
            if not isinstance(returned, tuple) or len(returned) != 2 or not isinstance(returned[1], dict):
                raise ConformanceError(f"{name}(w, dw, config) returned {_short(returned)} for {key}; expected the "
                                       "pair (next_w, config).")
            self.model.params[key] = self._array(returned[0], w.shape, f"{name} returned next_w for {key}").copy()
            self.configs[key] = returned[1]
        self.steps += 1
        return loss


# -- nnfs -----------------------------------------------------------------------------------------------

ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
OUTPUTS = {("Softmax", "CategoricalCrossentropy"): "cross_entropy",
           ("Sigmoid", "BinaryCrossentropy"): "binary_cross_entropy_mean"}


def _kind(layer: Any) -> str:
    """A layer of nnfs's Model by what it has: 'dense', 'dropout', or its activation's name in its class's."""
    if isinstance(getattr(layer, "weights", None), np.ndarray) and isinstance(getattr(layer, "biases", None),
                                                                              np.ndarray):
        return "dense"
    if isinstance(getattr(layer, "rate", None), numbers.Real) and "Dropout" in type(layer).__name__:
        return "dropout"
    return next((word for word in ("Softmax", *ACTIVATIONS) if word in type(layer).__name__), type(layer).__name__)


def _optimizer_recipe(optimizer: Any, name: str) -> tuple[Recipe, float, str]:
    """nnfs's optimizer object as the recipe: its attributes in torch's names, its decay as the schedule."""
    get = lambda attribute, default=0.0: getattr(optimizer, attribute, default)  # noqa: E731
    lr, decay = get("learning_rate", None), float(get("decay") or 0.0)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ConformanceError(f"{name}.optimizer is {_short(optimizer)}, whose learning_rate is {_short(lr)}; "
                               "expected an nnfs optimizer with a learning_rate > 0.")
    schedule = {"schedule": "inverse_time", "lr_decay": decay} if decay else {}
    if hasattr(optimizer, "beta_1"):
        recipe = Recipe("adam", betas=(get("beta_1"), get("beta_2")), eps=get("epsilon"), **schedule)
    elif hasattr(optimizer, "rho"):
        recipe = Recipe("rmsprop", alpha=get("rho"), eps=get("epsilon"), **schedule)
    elif hasattr(optimizer, "epsilon"):
        raise ConformanceError(f"{name}.optimizer is a {type(optimizer).__name__}, which torch.optim has as Adagrad, a "
                               "recipe check_model does not compare with: check it with SGD, RMSprop or Adam.")
    else:
        recipe = Recipe("sgd", momentum=float(get("momentum") or 0.0), **schedule)
    hyper = ", ".join(f"{k}={v:g}" for k, v in vars(optimizer).items()
                      if isinstance(v, numbers.Real) and k not in ("iterations", "current_learning_rate"))
    return recipe, float(lr), f"{type(optimizer).__name__}({hyper}), read from its attributes"


class NnfsModel(_Form):
    """nnfs's ``Model``: ``layers``, ``loss``, ``optimizer``, ``forward(X, training)``, ``backward(output, y)``.

    Read: the layer sizes from each ``Layer_Dense``'s ``weights`` (n_inputs, n_neurons); the hidden
    activation and the output's (softmax with categorical cross-entropy, or sigmoid with binary
    cross-entropy, averaged over the outputs as nnfs's is) from the layers' classes; dropout from
    ``Layer_Dropout.rate``, the *keep* rate nnfs stores (1 − the rate it was built with), unless
    ``dropout`` gives the rate it was built with; the layers' ``weight_regularizer_l2`` λ as ``l2`` =
    2λ (nnfs's loss adds λ ΣW²); the optimizer's attributes as the recipe (Adam's ``epsilon`` 1e-7,
    ``decay`` as the inverse-time schedule). ``train`` is one pass of ``Model.train``'s loop: forward
    in training mode, the loss with the layers' penalties, backward, the optimizer's three calls.
    The optimizer starts from a fresh state, as torch.optim's (its count and the layers' caches reset
    on the copy). Dropout draws from NumPy's generator, seeded with ``layer_seed`` before each training pass.
    """

    def __init__(self, model: Any, name: str, dropout: float | None = None) -> None:
        super().__init__(model, name)
        if not hasattr(model, "input_layer"):  # Model.train needs it: the links between the layers
            call_user(f"{name}.finalize", model.finalize)
        kinds = [_kind(layer) for layer in model.layers]
        self.dense = [layer for layer, kind in zip(model.layers, kinds) if kind == "dense"]
        self._check_layers(kinds)
        self.dtype = self._dtype({str(i): layer.weights for i, layer in enumerate(self.dense)},
                                 f"{name}'s layers' weights")
        self._finite({f"layers[{model.layers.index(layer)}].weights": layer.weights for layer in self.dense}, "{key}")
        sizes = [self.dense[0].weights.shape[0]] + [layer.weights.shape[1] for layer in self.dense]
        self.activation = next((ACTIVATIONS[k] for k in kinds[:-1] if k in ACTIVATIONS), "relu")
        self.loss = OUTPUTS[kinds[-1], self._loss_kind()]
        rates = {float(layer.rate) for layer, kind in zip(model.layers, kinds) if kind == "dropout"}
        drop = float(dropout) if dropout is not None else (1.0 - rates.pop() if rates else 0.0)
        self._set_architecture(sizes, dropout=drop)
        self.recipe, self.lr, steps = self._recipe()
        self.layer_seed = 0
        self._fresh_optimizer()
        self.conventions = Conventions(draw="nnfs" if drop else None, words=(
            ("Dropout's mask as nnfs draws it: np.random.binomial(1, rate, x.shape) from NumPy's generator, "
             "np.random.seed(layer_seed) before each training pass, the layers drawing in turn.",) if drop else ()))
        where = [f"layers[{model.layers.index(layer)}]" for layer in self.dense]
        stored = "1 − Layer_Dropout.rate, the keep rate nnfs stores"
        self.notes = [
            f"Read from {name}: {self.architecture.describe()}, from {len(self.dense)} Layer_Dense "
            f"({', '.join(where)}), Activation_{kinds[-1]} with {type(model.loss).__name__}"
            + (f"; dropout {drop:g} ({'given' if dropout is not None else stored})" if drop else "") + ".",
            "Parameters: " + ", ".join(f"{w} = {at}.weights.T, {b} = {at}.biases[0]" for at, (w, b) in
                                      zip(where, self.architecture.per_layer(self.architecture.parameter_names())))
            + ": torch's layout (n_out, n_in), as nn.Linear.weight.",
            *self.conventions.words,
            f"train(): {name}.forward(X, training=True), the loss, {name}.backward(output, y), then "
            f"{steps}, from a fresh state.",
        ]

    def _check_layers(self, kinds: list[str]) -> None:
        pattern = "dense(,(" + "|".join(ACTIVATIONS) + ")(,dropout)?,dense)*,(Softmax|Sigmoid)"
        if not re.fullmatch(pattern, ",".join(kinds)) or len({k for k in kinds[:-1] if k in ACTIVATIONS}) > 1:
            raise ConformanceError(f"{self.name}.layers are {', '.join(kinds)}; expected Layer_Dense, then for each "
                                   "hidden layer one activation (ReLU, Sigmoid or Tanh, the same in every one), "
                                   "Layer_Dropout if any, and Layer_Dense, and last Activation_Softmax (or Sigmoid).")

    def _loss_kind(self) -> str:
        loss = type(getattr(self.model, "loss", None)).__name__
        found = next((kind for kind in ("CategoricalCrossentropy", "BinaryCrossentropy") if kind in loss), None)
        last = _kind(self.model.layers[-1])
        if found is None or (last, found) not in OUTPUTS:
            raise ConformanceError(f"{self.name} ends in {last} with {loss}; expected Activation_Softmax with "
                                   "Loss_CategoricalCrossentropy, or Activation_Sigmoid with Loss_BinaryCrossentropy.")
        return found

    def _recipe(self) -> tuple[Recipe, float, str]:
        penalties = {(float(getattr(layer, "weight_regularizer_l2", 0) or 0),
                      float(getattr(layer, "bias_regularizer_l2", 0) or 0)) for layer in self.dense}
        l1 = [layer for layer in self.dense if getattr(layer, "weight_regularizer_l1", 0)
              or getattr(layer, "bias_regularizer_l1", 0)]
        weight, bias = penalties.pop() if len(penalties) == 1 else (None, None)
        if l1 or weight is None or bias not in (0.0, weight):
            raise ConformanceError(f"{self.name}'s layers regularize as {sorted(penalties | {(weight, bias)})} (weight "
                                   "and bias λ): check_model compares one L2 λ on every layer's weights, or on its "
                                   "weights and biases alike, and no L1.")
        recipe, lr, words = _optimizer_recipe(self.model.optimizer, self.name)
        l2 = {"l2": 2 * weight, "decay_biases": bias == weight} if weight else {}
        return Recipe(**{**recipe.changed_keywords(), **l2}), lr, words

    def _penalty(self) -> float:
        """The layers' L2 penalty, by the loss's ``regularization_loss``: chapter 22's takes no argument (the
        layers ``finalize`` gave it), earlier chapters' one layer at a time."""
        penalty, name = self.model.loss.regularization_loss, f"{type(self.model.loss).__name__}.regularization_loss"
        try:
            each = bool(inspect.signature(penalty).parameters)
        except (TypeError, ValueError):
            each = True
        if not each:
            return float(call_user(name, penalty))
        return float(sum(call_user(name, penalty, layer) for layer in self.dense))

    def _fresh_optimizer(self) -> None:
        optimizer = self.model.optimizer
        optimizer.iterations, optimizer.current_learning_rate = 0, optimizer.learning_rate
        for layer in self.dense:
            for attribute in [a for a in vars(layer) if a.endswith(("_momentums", "_cache"))]:
                delattr(layer, attribute)

    # -- the protocol --------------------------------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        return [array for layer in self.dense
                for array in (np.array(layer.weights.T, order="C"), layer.biases.reshape(-1).copy())]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        for layer, w, b in zip(self.dense, weights[::2], weights[1::2]):
            layer.weights = np.ascontiguousarray(w.T).astype(self.dtype)
            layer.biases = np.reshape(b, (1, -1)).astype(self.dtype)

    def query(self, inputs: np.ndarray) -> np.ndarray:
        x = self._rows(inputs)
        output = call_user(f"{self.name}.forward", self.model.forward, x, False)
        output = self._array(output, (len(x), self.output_nodes), f"{self.name}.forward(X, training=False) returned")
        return output[0] if np.ndim(inputs) == 1 else output

    def _passed(self, inputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One forward and backward pass in training mode; the output and the targets the loss reads."""
        x = self._rows(inputs)
        y = self._labels(targets) if self.loss == "cross_entropy" else np.atleast_2d(targets).astype(self.dtype)
        if self.dropout:
            np.random.seed(self.layer_seed)
        output = call_user(f"{self.name}.forward", self.model.forward, x, True)
        self._array(output, (len(x), self.output_nodes), f"{self.name}.forward(X, training=True) returned")
        call_user(f"{self.name}.backward", self.model.backward, output, y)
        return output, y

    def gradients(self, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        self._passed(inputs, targets)
        found = []
        for layer in self.dense:
            at = f"layers[{self.model.layers.index(layer)}]"
            found.append(np.ascontiguousarray(self._array(getattr(layer, "dweights", None), layer.weights.shape,
                                                          f"{self.name}.backward left {at}.dweights").T))
            found.append(self._array(getattr(layer, "dbiases", None), layer.biases.shape,
                                     f"{self.name}.backward left {at}.dbiases").reshape(-1))
        return found

    def train(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        output, y = self._passed(inputs, targets)
        model, optimizer = self.model, self.model.optimizer
        loss = call_user(f"{type(model.loss).__name__}.calculate", model.loss.calculate, output, y)
        loss += self._penalty()
        call_user(f"{type(optimizer).__name__}.pre_update_params", optimizer.pre_update_params)
        for layer in self.dense:
            call_user(f"{type(optimizer).__name__}.update_params", optimizer.update_params, layer)
        call_user(f"{type(optimizer).__name__}.post_update_params", optimizer.post_update_params)
        self.steps += 1
        return float(loss)


def form_of(model: Any) -> Callable[..., _Form] | None:
    """The adapter class for ``model``'s form, or None where it is neither."""
    if isinstance(getattr(model, "params", None), dict) and callable(getattr(model, "loss", None)):
        return Cs231nModel
    if all(callable(getattr(model, m, None)) for m in ("forward", "backward")) and isinstance(
            getattr(model, "layers", None), list) and hasattr(model, "optimizer"):
        return NnfsModel
    return None
