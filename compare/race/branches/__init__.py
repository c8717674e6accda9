"""Branches that rounding decides: how close each ReLU unit and each max-pool window is to its branch.

A network with ReLU or max pooling is piecewise: a ReLU unit passes its gradient where its
pre-activation z > 0 and not where z ≤ 0; a max-pool window sends its gradient to the largest of
its values. Where z lies within rounding of 0, or the two largest values of a window within
rounding of each other, two correct implementations, whose sums round differently, can go
different ways, and from that step their runs follow different, equally right paths.

Both runs' weights before a step are loaded into one torch_impl twin (:mod:`compare.state`) and
the step's batch is run forward at each, with the input of every layer that takes a branch caught
by a forward hook. Each such kind's measure gives, per unit (per window):

- ``margin``, how far its value is from the branch: ``|z|`` for a ReLU, the largest value less
  the second for a max-pool window;
- ``separation``, how far apart the two runs' values are there;
- ``scale``, the largest ``|value|`` of that input for that sample: one rounding error of it,
  ``eps · scale``, is how finely the value is known in either backend.

A unit is within rounding of its branch when its margin is at most ``separation + eps · scale``:
what separates the two runs' values, plus one rounding of the layer's largest. :func:`nearest`
ranks first the units within it that lie on different sides in the two runs, the earliest in the
forward pass first: a flip there moves every value after it, so a flip further on (a window of a
ReLU's zeros whose winner changes because one of them turned on) may be only its consequence.
The rest follow, by the share of that reach their margin is. A value identical in both runs and exactly on
its branch (a window of equal values, a z of exactly 0, as a blank patch of image gives) is left
out: both backends resolve it alike (torch's first maximum, no gradient at 0).

Two backends can go different ways even from identical weights, where a value lies within their
own rounding of its branch. :func:`flipped_step` proves such a branch: torch takes the step with
that one unit sent the other way (its gradient passed or stopped; a window's sent to its second
largest value), and where that step is the other backend's, the two differ by the branch and by
nothing else.

Each kind with a branch has a module here named as its implementation (:mod:`.activation`, the
ReLU's; :mod:`.maxpool`), whose ``branch(spec)`` gives its :class:`BranchKind`, the measure and
the flip: a kind with a branch of its own adds its module, and nothing here lists the kinds
(dropout's mask is no branch: it is a function of the seed and the step).
"""
from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from common.layers import Layer
from compare.state import TrainingState, one_step, restore


@dataclass(frozen=True)
class Measured:
    """One module's units against their branch, per sample and unit (window), all float64."""

    margin: np.ndarray  # how far from the branch
    separation: np.ndarray  # the two runs apart there
    scale: np.ndarray  # the largest |value| of the module's input, per sample, broadcast
    flipped: np.ndarray  # bool: the two runs' values lie on different sides
    words: Callable[[tuple[int, ...]], str]  # "unit 93's pre-activation", "window at channel 2, rows 6-7, ..."
    values: Callable[[tuple[int, ...]], str]  # its value(s) at the first run's weights, in words


def unit_words(index: tuple[int, ...]) -> str:
    """A unit of one sample's map: ``unit 93`` of a dense layer, ``channel 3, row 10, column 20`` of a map."""
    if len(index) == 1:
        return f"unit {index[0]}"
    return ", ".join(f"{axis} {i}" for axis, i in zip(("channel", "row", "column"), index[-3:]))


@dataclass(frozen=True)
class BranchKind:
    """How a layer kind's output takes a branch: ``measure(module, a, b)``, its units against their branch
    for the two runs' inputs ``a`` and ``b``; ``flip(module, x, out, where)``, its output with the units at
    ``where`` sent the other way."""

    words: str  # "ReLU", "max pool"
    measure: Callable[[Any, np.ndarray, np.ndarray], Measured]
    flip: Callable[[Any, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def kind_of(spec: Layer) -> BranchKind | None:
    """The branch ``spec``'s output takes: ``branch(spec)`` of the module named as its kind's implementation
    (``compare.race.branches.activation``, ``.maxpool``); None for a layer without one."""
    name = f"{__name__}.{spec.implementation()}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return None
    return module.branch(spec)


def branching(network: Any) -> list[tuple[str, nn.Module, BranchKind]]:
    """The torch_impl ``network``'s layers whose output takes a branch, input side first: each one's
    name (its module's in the model), module and :class:`BranchKind`."""
    modules = dict(network.model.named_modules())
    found = ((spec.name, kind_of(spec)) for spec in network.architecture.layers)
    return [(name, modules[name], kind) for name, kind in found if kind is not None]


@dataclass(frozen=True)
class Branch:
    """The unit (or window) closest to its branch, in the model's words and numbers."""

    module: str  # the module's name in the torch model: "relu1", "pool2", "relu_conv1"
    kind: str  # "ReLU", "max pool"
    sample: int  # which sample of the step's batch (0 for one sample a step)
    unit: list[int]  # its index in one sample's map (a window's in the pooled map)
    where: str  # "unit 93's pre-activation", "window at channel 2, rows 6-7, columns 10-11, its two largest values"
    values: str  # the value(s) at the first run's weights
    margin: float  # how far from the branch
    separation: float  # how far apart the two runs' values were there
    rounding: float  # one rounding of the layer's largest value, eps · scale
    flipped: bool  # the two runs' values lay on different sides, as torch computes them

    @property
    def within(self) -> bool:
        """Within rounding of its branch: the margin no larger than what separates the runs plus one rounding."""
        return self.margin <= self.separation + self.rounding

    def to_json(self) -> dict:
        return {**asdict(self), "within": self.within}


def nearest(network: Any, states: tuple[TrainingState, TrainingState], inputs: np.ndarray, eps: float,
            count: int = 8) -> list[Branch]:
    """The ``count`` units or windows nearest their branch for the batch ``inputs``: those within reach
    of it that flipped, the earliest module first; then by the share of what separates the two runs
    (``states``: their weights and optimizer state before the step; the same state twice for identical
    weights) plus one rounding that their margin is.

    ``network`` is a torch_impl network whose model's modules are read; it is left at ``states[1]``.
    Empty when no layer of the model takes a branch.
    """
    layers = branching(network)
    seen = [_inputs(network, layers, states[0], inputs)]
    seen.append(seen[0] if states[1] is states[0] else _inputs(network, layers, states[1], inputs))
    found = []
    for order, (name, module, kind) in enumerate(layers):
        measured = kind.measure(module, seen[0][name], seen[1][name])
        reach = measured.separation + eps * measured.scale
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(reach > 0, measured.margin / reach, np.where(measured.margin > 0, np.inf, 0.0))
        flat = share.ravel()
        for position in np.argsort(flat, kind="stable")[:count]:
            if not np.isfinite(flat[position]):
                break
            index = np.unravel_index(int(position), share.shape)
            branch = Branch(name, kind.words, int(index[0]), [int(i) for i in index[1:]], measured.words(index),
                            measured.values(index), float(measured.margin[index]), float(measured.separation[index]),
                            float(eps * measured.scale[index]), bool(measured.flipped[index]))
            rank = (0, not branch.flipped, order, flat[position]) if branch.within else (1, 0, 0, flat[position])
            found.append((rank, len(found), branch))
    return [branch for _, _, branch in sorted(found)[:count]]


def flipped_step(network: Any, state: TrainingState, inputs: np.ndarray, targets: np.ndarray,
                 branch: Branch) -> list[np.ndarray]:
    """The weights after one step of the torch_impl ``network`` from ``state`` with ``branch``'s unit
    (or window) sent the other way (its kind's :attr:`BranchKind.flip`), on the batch."""
    _, module, kind = next(layer for layer in branching(network) if layer[0] == branch.module)
    flip = kind.flip

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        where = torch.zeros(out.shape, dtype=torch.bool, device=out.device)
        where[(branch.sample, *branch.unit)] = True  # train() hands the model a batch, of one sample too
        return flip(m, args[0], out, where)

    handle = module.register_forward_hook(hook)
    try:
        return one_step(network, state, inputs, targets)
    finally:
        handle.remove()


def _inputs(network: Any, layers: list[tuple[str, nn.Module, BranchKind]], state: TrainingState,
            inputs: np.ndarray) -> dict[str, np.ndarray]:
    """The input of each of ``layers`` (:func:`branching`), as float64 arrays, at ``state``."""
    restore(network, state)
    caught: dict[str, np.ndarray] = {}
    hooks = [module.register_forward_hook(
        lambda m, args, out, name=name: caught.__setitem__(name, args[0].detach().cpu().double().numpy()))
        for name, module, _ in layers]
    try:
        with torch.no_grad():
            network.query(inputs if inputs.ndim == 2 else inputs[None])
    finally:
        for hook in hooks:
            hook.remove()
    return caught
