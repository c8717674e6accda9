"""``check_model``: a learner's model, as written, against autograd and torch.optim, with a likely cause.

A model written in cs231n's form (``model.params``, ``model.loss(X, y=None)``, ``model.reg``) or
nnfs's ``Model`` (``layers``, ``loss``, ``optimizer``, ``forward``, ``backward``) is checked as
:func:`compare.check_network` checks a network that keeps the library's protocol, with no adapter to
write: :mod:`compare.check.model_forms` is the adapter, reading the architecture, the names, the
layout and the recipe from the model, and :func:`check_network` runs on it, so that the table, the
first failure and the likely cause are check_network's. The model itself is left as it was: the
check runs on a deep copy of it, and on copies of that.

What is compared, at the model's current weights (its running statistics too), for one sample
(where no batch norm needs a batch) and for a batch of 8: the outputs of test mode (the softmax of
``loss(X)``'s scores), every parameter's gradient from training mode, five training steps from the
same weights (the loss, the weights after each, and a batch norm's running statistics), and the
model against itself (a second gradient on the same batch). Not compared: the optimizer's state
(``configs``, an nnfs layer's caches), which the model does not hand over in torch's form: both
sides start from a fresh state, as the Solver and ``Model.train`` start, and its steps carry it.

torch's network is compared under the model's conventions, which are not mistakes
(:class:`compare.check.twin.TwinUnderConventions`): cs231n's batch norm, whose running statistics start at 0 and move
towards the biased variance with momentum 0.9 on the old value (torch's 0.1 on the new): torch's
``nn.BatchNorm1d`` as :class:`compare.check.mistakes.batchnorm.HandoutBatchNorm`, the model's own
running statistics loaded; dropout whose mask cs231n draws after ``np.random.seed(seed)`` (the same
for every layer and step) or nnfs from NumPy's generator: torch's dropout as
:class:`compare.check.mistakes.dropout.DrawnDropout`, which draws the same. Each convention module
lives beside its kind's catalogue and carries that catalogue under its convention, so that a mistake
is named only where the model's numbers are those of torch's network under the model's conventions
with the mistake planted.

Samples: MNIST training images (scaled pixels) for a model of 784 inputs and 10 classes; for any
other size, the same images' pixels, each image's 784 repeated to fill the model's D inputs, and
their labels modulo its C classes: real pixel values, not images of the model's kind, which is what
gradients need (values of the range a model is fed), and the report says so.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from common.architecture import Architecture
from common.data import scale_inputs
from common.errors import ConformanceError, ParameterError, with_article
from common.validation import check_positive_int
from compare.check.model_forms import form_of
from compare.check.network import STEPS, _mnist, check_network
from compare.check.report import NetworkReport

MNIST_INPUTS = 784


@dataclass(frozen=True)
class ModelReport(NetworkReport):
    """check_network's report of the model's adapter, with what check_model read from the model and the
    conventions it compared under (``notes``, printed under the header)."""

    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {**super().to_json(), "notes": list(self.notes)}

    def __str__(self) -> str:
        lines = super().__str__().splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("Checked ")) + 1
        return "\n".join(lines[:at] + list(self.notes) + lines[at:])


def _samples(architecture: Architecture, count: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, str | None]:
    """``count`` MNIST training images as the model's inputs and one-hot targets, and what was done to fit
    them to its shape (None where nothing was: 784 inputs and 10 classes)."""
    images, labels = _mnist(count)
    inputs, width, classes = scale_inputs(images, dtype), architecture.input_nodes, architecture.output_nodes
    if width != MNIST_INPUTS:
        inputs = np.tile(inputs, (1, -(-width // MNIST_INPUTS)))[:, :width]
    targets = np.zeros((count, classes), dtype=dtype)
    targets[np.arange(count), labels % classes] = 1
    if (width, classes) == (MNIST_INPUTS, 10):
        return inputs, targets, None
    return inputs, targets, (f"Samples: MNIST training images' scaled pixels, each image's 784 repeated to fill the "
                             f"model's {width} inputs, their labels modulo its {classes} classes: real pixel values, "
                             "not images of the model's kind.")


def check_model(model: Any, *, update: Any = None, optim_config: dict | None = None, dropout: float | None = None,
                dropout_p: str = "keep", batch_size: int = 8) -> ModelReport:
    """Check a model as the learner wrote it, cs231n's or nnfs's, against autograd and torch.optim.

    Parameters
    ----------
    model : object
        cs231n's form: ``params`` (a dict of ``W1`` (D, M1), ``b1`` (M1,), ``gamma1``, ``beta1``, ...,
        ``WL``, ``bL``), ``loss(X, y=None)`` (``(loss, grads)`` with y, the scores (N, C) without),
        ``reg``; ``normalization``, ``bn_params``, ``dropout_param`` and ``use_dropout`` where it has them.
        Or nnfs's ``Model`` after ``set(loss=..., optimizer=...)``: ``layers`` (``Layer_Dense``, an
        activation, ``Layer_Dropout``, ..., ``Activation_Softmax``), ``loss``, ``optimizer``,
        ``forward(X, training)``, ``backward(output, y)`` (``finalize()`` is called on the copy if it
        has not been). Its dtype is its parameters'.
    update : callable, optional
        cs231n only: the Solver's update rule, ``rule(w, dw, config) -> (next_w, config)``, run on each
        parameter with a config of its own, as the Solver runs it; its recipe (torch.optim's SGD,
        momentum, RMSprop or Adam) is read from the config it returns after one call on a copy. Without
        one, the steps are plain SGD at lr 0.01, taken by check_model. nnfs's Model steps with its own
        ``optimizer``.
    optim_config : dict, optional
        cs231n only: the Solver's ``optim_config``, each parameter's first config (``learning_rate``,
        ``beta1``, ...); the rule's own defaults fill the rest.
    dropout : float, optional
        nnfs only: the rate each ``Layer_Dropout`` was built with (the probability of dropping), where
        its ``rate`` attribute, the keep rate nnfs stores, is not to be trusted.
    dropout_p : {"keep", "drop"}, default "keep"
        cs231n only: what ``dropout_param['p']`` means: the probability of keeping a unit (recent
        handouts, mask ``rand < p``) or of dropping one (2017's, mask ``rand >= p``).
    batch_size : int, default 8
        The batch compared beside single samples (at least 2 with batch norm).

    Returns
    -------
    ModelReport
        check_network's report (``.passed``, ``.rows``, ``.first_failure``, ``.cause``), its
        parameters named as the library names them (``W1`` for ``params['W1'].T``; ``notes`` says which
        is which), with what was read and the conventions compared under in ``.notes``.

    Raises
    ------
    ConformanceError
        An object of neither form, a model that cannot be copied, weights that are not finite or not
        of one float dtype, or a ``loss``, ``forward``, ``backward`` or update rule that returns
        something else than its form's (one sentence), or raises (shown with the model's own frames).
    ParameterError
        A keyword of the other form, or a bad value.
    """
    adapter_class = form_of(model)
    if adapter_class is None:
        raise ConformanceError(f"check_model takes a model as cs231n writes one (params, a dict of W1, b1, ...; "
                               f"loss(X, y=None)) or nnfs's Model (layers, loss, optimizer, forward(X, training), "
                               f"backward(output, y)). Got {with_article(type(model).__name__)} instead.")
    name = type(model).__name__
    try:
        own = copy.deepcopy(model)
    except Exception as error:  # noqa: BLE001 (whatever stops a copy is the model's)
        raise ConformanceError(f"{name} cannot be copied (copy.deepcopy raised {type(error).__name__}: {error}); "
                               "check_model checks a copy, so as to leave the model as it was.") from None
    cs231n = adapter_class.__name__ == "Cs231nModel"
    batch_size = check_positive_int("batch_size", batch_size)
    nnfs_only = {"dropout": dropout is not None}
    cs231n_only = {"update": update is not None, "optim_config": optim_config is not None,
                   "dropout_p": dropout_p != "keep"}
    given = next((k for k, v in (nnfs_only if cs231n else cs231n_only).items() if v), None)
    if given is not None:
        raise ParameterError(f"The '{given}' parameter is for {'nnfs' if cs231n else 'cs231n'}'s models; {name} is "
                             f"{'cs231n' if cs231n else 'nnfs'}'s.")
    named = type(name, (adapter_class,), {"__module__": adapter_class.__module__})  # reports name the model
    adapter = (named(own, name, update, optim_config, dropout_p) if cs231n else named(own, name, dropout))
    architecture = adapter.architecture
    inputs, targets, fitted = _samples(architecture, STEPS * batch_size, adapter.dtype)
    from compare.check.twin import TwinUnderConventions  # torch, imported when a check runs

    reference = TwinUnderConventions(architecture, adapter.lr, adapter.dtype, adapter.recipe, adapter.conventions)
    report = check_network(adapter, batch_size=batch_size, reference=reference, samples=(inputs, targets))
    form = "cs231n's" if cs231n else "nnfs's"
    theirs = "torch_impl (autograd, torch.optim)" + (f" under {form} conventions" if adapter.conventions.words else "")
    return ModelReport(**{**{f.name: getattr(report, f.name) for f in fields(report)}, "reference": theirs},
                       notes=tuple(adapter.notes) + ((fitted,) if fitted else ()))
