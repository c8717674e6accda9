"""Branches that rounding decides: how close each ReLU unit and each max-pool window is to its branch.

A network with ReLU or max pooling is piecewise: a ReLU unit passes its gradient where its
pre-activation z > 0 and not where z ≤ 0; a max-pool window sends its gradient to the largest of
its values. Where z lies within rounding of 0, or the two largest values of a window within
rounding of each other, two correct implementations, whose sums round differently, can go
different ways, and from that step their runs follow different, equally right paths.

Both runs' weights before a step are loaded into one torch_impl twin (:mod:`compare.state`) and
the step's batch is run forward at each, with the inputs of every module of a kind in
:data:`MEASURES` caught by a forward hook. Each kind's function gives, per unit (per window):

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

The table :data:`MEASURES` goes from the torch module's type to its functions, one pair per kind,
so that a layer kind with a branch of its own (dropout's mask is none: it is a function of the
seed and the step) adds one entry.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

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


def _unit(index: tuple[int, ...]) -> str:
    """A unit of one sample's map: ``unit 93`` of a dense layer, ``channel 3, row 10, column 20`` of a map."""
    if len(index) == 1:
        return f"unit {index[0]}"
    return ", ".join(f"{axis} {i}" for axis, i in zip(("channel", "row", "column"), index[-3:]))


def relu(module: nn.ReLU, a: np.ndarray, b: np.ndarray) -> Measured:
    """A ReLU unit's branch is z = 0: its margin is ``|z|``; it flips where ``z > 0`` in one run only."""
    identical_zero = (a == 0.0) & (b == 0.0)
    margin = np.where(identical_zero, np.inf, np.abs(a))
    scale = np.abs(a).reshape(len(a), -1).max(axis=1).reshape((-1,) + (1,) * (a.ndim - 1))
    return Measured(margin, np.abs(a - b), np.broadcast_to(scale, a.shape), (a > 0) != (b > 0),
                    lambda i: f"{_unit(i[1:])}'s pre-activation", lambda i: f"{a[i]:.3g}")


def max_pool(module: nn.MaxPool2d, a: np.ndarray, b: np.ndarray) -> Measured:
    """A max-pool window's branch is a tie of its two largest values: its margin is their difference;
    it flips where the two runs' largest value is at different places (torch's first maximum)."""
    k, s = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)

    def windows(x: np.ndarray) -> np.ndarray:  # (n, C, H_out, W_out, k·k), row-major in each window
        view = sliding_window_view(x, k, axis=(-2, -1))[..., ::s[0], ::s[1], :, :]
        return view.reshape(view.shape[:-2] + (-1,))

    wa, wb = windows(a), windows(b)
    top_a, top_b = np.sort(wa, axis=-1), np.sort(wb, axis=-1)
    gap_a, gap_b = top_a[..., -1] - top_a[..., -2], top_b[..., -1] - top_b[..., -2]
    margin = np.where((gap_a == 0.0) & (gap_b == 0.0), np.inf, gap_a)
    scale = np.abs(a).reshape(len(a), -1).max(axis=1).reshape((-1,) + (1,) * (margin.ndim - 1))

    def words(i: tuple[int, ...]) -> str:
        channel, row, column = i[-3:]
        r, c = row * s[0], column * s[1]
        return f"window at channel {channel}, rows {r}-{r + k[0] - 1}, columns {c}-{c + k[1] - 1}, its two largest values"

    def values(i: tuple[int, ...]) -> str:
        return f"{top_a[i][-1]:.7g} and {top_a[i][-2]:.7g}"

    return Measured(margin, np.abs(wa - wb).max(axis=-1), np.broadcast_to(scale, margin.shape),
                    wa.argmax(axis=-1) != wb.argmax(axis=-1), words, values)


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def flip_relu(module: nn.ReLU, z: torch.Tensor, out: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """The ReLU's output with the units at ``where`` the other way, as on the other side of 0: where
    z > 0, 0 with no gradient; where z ≤ 0, |z| with the gradient passed (z − 2z, the 2z held
    constant), so that a max pool after it sees it on. Either differs from the output by |z|."""
    return torch.where(where, torch.where(z > 0, z * 0, z - 2 * z.detach()), out)


def flip_max_pool(module: nn.MaxPool2d, x: torch.Tensor, out: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """The pool's output with the windows at ``where`` taking their second largest value, so that the
    gradient goes there: it differs from the largest by the window's margin."""
    k, s = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
    windows = x.unfold(-2, k[0], s[0]).unfold(-2, k[1], s[1])  # (n, C, H_out, W_out, k, k)
    windows = windows.reshape(windows.shape[:-2] + (-1,))
    second = torch.gather(windows, -1, windows.argsort(dim=-1, stable=True)[..., -2:-1]).squeeze(-1)
    return torch.where(where, second, out)


# The kinds of module whose output takes a branch: how close to it each unit is, and the unit sent the other way.
MEASURES: dict[type, tuple[str, Callable[[Any, np.ndarray, np.ndarray], Measured], Callable]] = {
    nn.ReLU: ("ReLU", relu, flip_relu),
    nn.MaxPool2d: ("max pool", max_pool, flip_max_pool),
}


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
    Empty when the model has no module of a kind in :data:`MEASURES`.
    """
    seen = [_inputs(network, states[0], inputs)]
    seen.append(seen[0] if states[1] is states[0] else _inputs(network, states[1], inputs))
    found = []
    for order, (name, (module, a)) in enumerate(seen[0].items()):
        kind, measure, _ = MEASURES[type(module)]
        measured = measure(module, a, seen[1][name][1])
        reach = measured.separation + eps * measured.scale
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(reach > 0, measured.margin / reach, np.where(measured.margin > 0, np.inf, 0.0))
        flat = share.ravel()
        for position in np.argsort(flat, kind="stable")[:count]:
            if not np.isfinite(flat[position]):
                break
            index = np.unravel_index(int(position), share.shape)
            branch = Branch(name, kind, int(index[0]), [int(i) for i in index[1:]], measured.words(index),
                            measured.values(index), float(measured.margin[index]), float(measured.separation[index]),
                            float(eps * measured.scale[index]), bool(measured.flipped[index]))
            rank = (0, not branch.flipped, order, flat[position]) if branch.within else (1, 0, 0, flat[position])
            found.append((rank, len(found), branch))
    return [branch for _, _, branch in sorted(found)[:count]]


def flipped_step(network: Any, state: TrainingState, inputs: np.ndarray, targets: np.ndarray,
                 branch: Branch) -> list[np.ndarray]:
    """The weights after one step of the torch_impl ``network`` from ``state`` with ``branch``'s unit
    (or window) sent the other way (:data:`MEASURES`' second function), on the batch."""
    module = dict(network.model.named_modules())[branch.module]
    flip = MEASURES[type(module)][2]

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        where = torch.zeros(out.shape, dtype=torch.bool, device=out.device)
        where[(branch.sample, *branch.unit)] = True  # train() hands the model a batch, of one sample too
        return flip(m, args[0], out, where)

    handle = module.register_forward_hook(hook)
    try:
        return one_step(network, state, inputs, targets)
    finally:
        handle.remove()


def _inputs(network: Any, state: TrainingState, inputs: np.ndarray) -> dict[str, tuple[nn.Module, np.ndarray]]:
    """The input of every module of a kind in :data:`MEASURES`, as float64 arrays, at ``state``."""
    restore(network, state)
    caught: dict[str, tuple[nn.Module, np.ndarray]] = {}
    hooks = [module.register_forward_hook(
        lambda m, args, out, name=name: caught.__setitem__(name, (m, args[0].detach().cpu().double().numpy())))
        for name, module in network.model.named_modules() if type(module) in MEASURES]
    try:
        with torch.no_grad():
            network.query(inputs if inputs.ndim == 2 else inputs[None])
    finally:
        for hook in hooks:
            hook.remove()
    return caught
