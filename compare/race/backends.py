"""The backends as the runner drives them: the same loop, each fed in its own form.

``compare`` is the only package that knows both networks; a user's own network joins them
through :mod:`compare.plugins`, by name. Each :class:`Backend` holds a
network behind the Network protocol plus what the runner needs around it: how to hand it a
chunk of data (NumPy arrays as they are; tensors on the right device for torch) and how to
wait for it to finish (a CUDA device runs asynchronously).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

import from_scratch
import torch_impl
from common.architecture import Architecture
from common.protocol import Network
from common.recipe import Recipe
from compare.conformance import Guarded
from compare.plugins import BUILT_IN, build_network, is_user_network, load_class, race_order


LOSS_POINTS = 10  # points on the loss curve per segment, so that it is a curve at any batch size


@dataclass
class Progress:
    """One segment's losses, filled as each step returns, and how many steps are done."""

    losses: np.ndarray
    done: int = 0


@dataclass
class Backend:
    """One network in the race, with its timings and its loss curve."""

    key: str  # "from_scratch", "torch_impl", "torch_impl[cuda]" when several devices race, or a class's name
    package: str  # what --backends named: "from_scratch", "torch_impl", or "module:Class" / "file.py:Class"
    device: str
    network: Network
    prepare: Callable[[np.ndarray], Any]
    sync: Callable[[], None]
    train_seconds: float = 0.0
    test_seconds: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)
    steps: int = 0
    samples: int = 0
    loss_curve: list[tuple[int, float]] = field(default_factory=list)  # (last step of a stretch, its mean loss)

    def record_losses(self, first_step: int, losses: np.ndarray) -> None:
        """Add a segment's losses to the curve: the mean of each of up to ``LOSS_POINTS`` stretches."""
        stretch = max(1, -(-len(losses) // LOSS_POINTS))
        for start in range(0, len(losses), stretch):
            part = losses[start:start + stretch]
            self.loss_curve.append((first_step + start + len(part), float(part.mean())))

    @property
    def us_per_sample(self) -> float | None:
        """Training time per sample in microseconds; None before any sample was trained."""
        return self.train_seconds / self.samples * 1e6 if self.samples else None


def _no_sync() -> None:
    pass


def make_backends(names: tuple[str, ...], devices: tuple[str, ...], architecture: Architecture, lr: float,
                  dtype: str, rule: str, recipe: Recipe | None = None) -> list[Backend]:
    """Build every backend of one run, the reference first (:func:`compare.plugins.race_order`);
    the weights are loaded by the runner afterwards.

    Every name resolves through :mod:`compare.plugins`, built-in or the user's own; torch_impl
    becomes one backend per device, and from_scratch the book's network under ``--rule book``.
    """
    backends = []
    for name in race_order(names):
        if name == "torch_impl":
            resolved = list(dict.fromkeys(torch_impl.resolve_device(d).type for d in devices))  # "auto" may be "cpu"
            for device in resolved:
                backends.append(make_torch_backend(device, len(resolved) > 1, architecture, lr, dtype, recipe))
            continue
        cls = from_scratch.BookNetwork if (name, rule) == ("from_scratch", "book") else load_class(name)
        network = build_network(cls, architecture, lr, dtype, recipe)
        if is_user_network(name):
            network = Guarded(network)
        key = name if not is_user_network(name) else _user_key(cls, backends)
        backends.append(Backend(key, name, "cpu", network, lambda a: a, _no_sync))
    return backends


def _user_key(cls: type, backends: list[Backend]) -> str:
    """A user's network is named by its class, made unique if two of that name race."""
    taken = {b.key for b in backends} | set(BUILT_IN)
    key, n = cls.__name__, 2
    while key in taken:
        key, n = f"{cls.__name__}[{n}]", n + 1
    return key


def make_torch_backend(device: str, label_device: bool, architecture: Architecture, lr: float, dtype: str,
                       recipe: Recipe | None = None) -> Backend:
    network = build_network(torch_impl.Network, architecture, lr, dtype, recipe, device=device)
    resolved = network.device

    def prepare(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(resolved, non_blocking=True)

    sync = torch.cuda.synchronize if resolved.type == "cuda" else _no_sync
    key = f"torch_impl[{resolved.type}]" if label_device else "torch_impl"
    return Backend(key, "torch_impl", resolved.type, network, prepare, sync)


def make_probe(backend: Backend, lr: float, dtype: str) -> Network:
    """A network of ``backend``'s kind, device, dtype and architecture, for gradients and steps at
    weights the runner chooses without disturbing the network that is training. For
    from_scratch it computes the true gradient, also where the backend runs the book's rule."""
    architecture, recipe = Architecture.of(backend.network), Recipe.of(backend.network)
    if backend.package == "torch_impl":
        return build_network(torch_impl.Network, architecture, lr, dtype, recipe, device=backend.device)
    network = build_network(load_class(backend.package), architecture, lr, dtype, recipe)
    return Guarded(network) if is_user_network(backend.package) else network


def train_segment(network: Network, inputs, targets, batch_size: int, progress: Progress) -> None:
    """The training loop both backends run: one ``train()`` call per batch, losses kept.

    One sample a step hands the network single rows, shape ``(input_nodes,)``, as the book did.
    ``progress.done`` counts the steps that returned, so Ctrl-C leaves it exact.
    """
    train, losses = network.train, progress.losses
    if batch_size == 1:
        for i in range(len(losses)):
            losses[i] = train(inputs[i], targets[i])
            progress.done = i + 1
    else:
        for step, start in enumerate(range(0, len(inputs), batch_size)):
            losses[step] = train(inputs[start:start + batch_size], targets[start:start + batch_size])
            progress.done = step + 1
