"""The catalogues of classic mistakes, each a hypothesis tested against a network's own numbers.

Every layer kind has its catalogue in a module named as its implementation is
(``compare.check.mistakes.<module>``, :meth:`common.layers.Layer.implementation`), whose
``mistakes(spec)`` lists what learners get wrong in that layer, each as torch's module for the
layer with the mistake planted (:class:`Planted`): a convolution whose kernel is flipped, a max
pool whose gradient is spread over its window. The recipe's mistakes (:mod:`.recipe`) are steps
replayed instead. Whatever the catalogue, a mistake reaches the diagnosis one way: as a
:class:`Hypothesis` whose numbers were found to be the network's, in ``Evidence.hypotheses``.

A mistake written once in a layer function reaches every layer of its kind, so each is tried in
each layer alone and in all of them at once. Torch with the mistake planted is built here, in
``compare`` (the only package that knows both backends), never in ``torch_impl``.

A network compared under another codebase's conventions (cs231n's batch norm, whose running variance
is the biased one; its dropout, whose mask comes from ``np.random.seed``) is compared with torch's
network whose modules for those layers keep the convention (:func:`compare.check.model.check_model`).
Such a module carries the catalogue of its kind under its convention, as its ``mistakes(spec)``
method: :func:`catalogue` asks the module before the kind, so that a mistake is planted into the
convention, not into torch's own.

The same modules hold what :func:`compare.check_layer` needs to check one layer alone: ``CHECKS``,
a :class:`compare.check.one_layer.LayerCheck` for each kind the module checks, whose mistakes reuse
the planted modules above; a kind that is no network's layer (``softmax_loss``) has a module of its
own with ``CHECKS`` alone.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from common.architecture import Architecture
from common.layers import Layer
from common.recipe import Recipe
from common.tolerances import differences

# Where a planted mistake shows, so where its numbers are compared: the outputs of query() (a
# mistake in the forward pass), every gradient while the outputs agree (one in the backward pass), or
# the buffers one training step moves while both agree (a running statistic updated otherwise).
OUTPUTS, GRADIENTS, BUFFERS = "outputs", "gradients", "buffers"


@dataclass(frozen=True)
class Hypothesis:
    """A mistake whose numbers are the network's: its cause's name, the layer, and the sentence that
    says so, why it is a mistake and what to do. ``stage`` orders it among the diagnosis's rules:
    "recipe" (the training steps), "outputs" or "gradients"."""

    name: str
    layer: str
    sentence: str
    stage: str


@dataclass(frozen=True)
class Planted:
    """One classic mistake of a layer kind: torch's module for the layer with the mistake planted.

    Parameters
    ----------
    name : str
        The cause, as the report names it ("flipped_kernel").
    shows : str or tuple of str
        :data:`OUTPUTS`, :data:`GRADIENTS` or :data:`BUFFERS`: where its numbers are compared; several
        where a mistake in the training pass shows in query() only once the running statistics move.
    plant : callable
        ``plant(module, spec) -> nn.Module``: the layer's module (its parameters shared) with the
        mistake in it.
    sentence : str
        The cause's sentence, with ``{where}`` for the layer or layers: what was seen, why torch's
        is right, and the fix.
    dx_only : bool
        The mistake changes dL/dx alone (col2im's), so it cannot show in the first layer with
        parameters, whose dL/dx nothing reads: not tried there.
    """

    name: str
    shows: str | tuple[str, ...]
    plant: Callable[[Any, Layer], Any]  # (nn.Module, spec) -> nn.Module
    sentence: str
    dx_only: bool = False


def catalogue(spec: Layer, module: Any = None) -> list[Planted]:
    """The mistakes of ``spec``'s kind that can happen in this layer; ``[]`` for a kind without a catalogue.

    ``module``: the layer's torch module, where one is at hand; a module that keeps another codebase's
    convention has the kind's catalogue under that convention, its ``mistakes(spec)``.
    """
    own = getattr(module, "mistakes", None)
    if callable(own):
        return own(spec)
    try:
        module = importlib.import_module(f"{__name__}.{spec.implementation()}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{spec.implementation()}":
            raise
        return []
    return module.mistakes(spec)


def _which(layers: Sequence[str], kind: str) -> str:
    """``"conv1"``, or ``"every conv layer (conv1, conv2)"``."""
    return layers[0] if len(layers) == 1 else f"every {kind} layer ({', '.join(layers)})"


def candidates(architecture: Architecture, shows: str,
               model: Any = None) -> list[tuple[Planted, tuple[str, ...], str]]:
    """Each mistake that shows in ``shows``, with the layers to plant it in: each layer of its kind
    alone, then all of them (where there are several). Returns ``(planted, layer names, where)``.
    ``model``: the ``nn.Sequential`` the mistakes are planted in, whose modules may carry their own
    catalogue (:func:`catalogue`)."""
    by_mistake: dict[tuple[str, str], list[tuple[Planted, Layer]]] = OrderedDict()
    first = next(i for i, spec in enumerate(architecture.layers) if spec.parameters())
    modules = dict(model.named_children()) if model is not None else {}
    for i, spec in enumerate(architecture.layers):
        for planted in catalogue(spec, modules.get(spec.name)):
            stages = planted.shows if isinstance(planted.shows, tuple) else (planted.shows,)
            if shows in stages and not (planted.dx_only and i <= first):
                by_mistake.setdefault((planted.name, planted.sentence), []).append((planted, spec))
    found = []
    for entries in by_mistake.values():
        names = tuple(spec.name for _, spec in entries)
        called = dict((spec.name, spec.called) for _, spec in entries)
        sets = [(name,) for name in names] + ([names] if len(names) > 1 else [])
        for layers in sets:
            found.append((entries[0][0], layers, _which([called[name] for name in layers], entries[0][1].kind)))
    return found


def planted_model(model: Any, architecture: Architecture, planted: Planted, layers: Sequence[str]) -> Any:
    """``model`` (an ``nn.Sequential``) with ``planted`` in each of ``layers``, every parameter shared."""
    from torch import nn  # the catalogues import torch; the command line does not, until it runs

    specs = {spec.name: spec for spec in architecture.layers}
    return nn.Sequential(OrderedDict(
        (name, planted.plant(module, specs[name]) if name in layers else module)
        for name, module in model.named_children()))


def fitting(architecture: Architecture, recipe: Recipe, state: Any, shows: str,
            cases: list[tuple[np.ndarray, np.ndarray, Any, float]],
            also: list[tuple[np.ndarray, np.ndarray, Any, float]] | None = None,
            twin: Callable[[], Any] | None = None) -> list[Hypothesis]:
    """The layer mistakes that show in ``shows`` whose numbers are the network's.

    ``cases``: ``(inputs, targets, numbers, limit)``, the network's own ``numbers`` for those
    samples (its outputs, its gradients, or its buffers after one training step from ``buffers``)
    and how close the planted network's must be. A
    mistake fits where its numbers are within ``limit`` of the network's in every case, and in some
    case not within it of the correct network's: one that changes nothing on these samples (a
    pool's ties where no window ties) is not told apart by them. ``also``: gradient cases a fitting
    mistake must fit as well, so that a forward mistake is named only where the gradients are the ones
    it gives where they are autograd's (a query() that computes otherwise than the training pass is
    another mistake). The planted network is
    torch_impl's at the network's ``state`` (a :class:`compare.state.TrainingState`: its weights,
    optimizer state, buffers and layer seed), in float64; ``twin``, where given, builds it instead
    (torch's network under the network's conventions, in float64).
    """
    from compare.plugins import build_network, load_class
    from compare.state import TrainingState, restore

    reference = (twin() if twin is not None else
                 build_network(load_class("torch_impl"), architecture, 1.0, "float64", recipe, device="cpu"))
    restore(reference, TrainingState([np.asarray(w, np.float64) for w in state.weights], state.optimizer,
                                     None if state.buffers is None else [np.asarray(b, np.float64) for b in state.buffers],
                                     state.seed))
    model, found = reference.model, []
    called = {spec.name: spec.called for spec in architecture.layers}
    gradient_partners = architecture.floor_partners()  # a bias a normalization cancels
    partners = gradient_partners if shows == GRADIENTS else None
    correct = [_numbers(reference, shows, inputs, targets) for inputs, targets, _, _ in cases]
    # where the network's gradients are autograd's, a mistake that fits must leave them so (else query() alone errs)
    kept = [(inputs, targets, limit, right) for inputs, targets, numbers, limit in also or []
            for right in [_numbers(reference, GRADIENTS, inputs, targets)] if _close(numbers, right, limit,
                                                                                     gradient_partners)]
    for planted, layers, where in candidates(architecture, shows, model):
        reference.model = planted_model(model, architecture, planted, layers)
        try:
            mistaken = [_numbers(reference, shows, inputs, targets) for inputs, targets, _, _ in cases]
            fits = all(_close(numbers, m, limit, partners) for (_, _, numbers, limit), m in zip(cases, mistaken))
            fits = fits and any(not _close(m, right, limit, partners)
                                for (_, _, _, limit), m, right in zip(cases, mistaken, correct))
            if fits and kept:
                fits = all(_close(_numbers(reference, GRADIENTS, inputs, targets), right, limit, gradient_partners)
                           for inputs, targets, limit, right in kept)
        finally:
            reference.model = model
        if fits:  # named where its numbers first go wrong: the first layer forward, the last backward
            layer = called[layers[-1] if shows == GRADIENTS else layers[0]]
            found.append(Hypothesis(planted.name, layer, planted.sentence.format(where=where), shows))
    return found


def _numbers(reference: Any, shows: str, inputs: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
    """What ``shows`` compares: the outputs of ``query``, every parameter's gradient, or the buffers
    after one ``train()`` step (the reference put back where it was afterwards)."""
    from compare.state import restore, snapshot

    if shows == OUTPUTS:
        return [reference.query(inputs)]
    if shows == BUFFERS:
        start = snapshot(reference)
        reference.train(inputs, targets)
        moved = reference.get_buffers()
        restore(reference, start)
        return moved
    return reference.gradients(np.atleast_2d(inputs), np.atleast_2d(targets))


def _close(mine: Any, theirs: list[np.ndarray], limit: float, partners: list | None = None) -> bool:
    mine = [mine] if isinstance(mine, np.ndarray) else mine
    return all(d <= limit for d in differences(mine, theirs, partners if partners and len(partners) == len(theirs)
                                                else None))
