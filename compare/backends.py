"""The two backends as the runner drives them: the same loop, each fed in its own form.

``compare`` is the only package that knows both networks. Each :class:`Backend` holds a
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


LOSS_POINTS = 10  # points on the loss curve per segment, so that it is a curve at any batch size


@dataclass
class Progress:
    """One segment's losses, filled as each step returns, and how many steps are done."""

    losses: np.ndarray
    done: int = 0


@dataclass
class Backend:
    """One network in the race, with its timings and its loss curve."""

    key: str  # "from_scratch", "torch_impl", or "torch_impl[cuda]" when several devices race
    package: str  # "from_scratch" or "torch_impl"
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


def make_backends(packages: tuple[str, ...], devices: tuple[str, ...], architecture: Architecture, lr: float,
                  dtype: str, rule: str) -> list[Backend]:
    """Build every backend of one run; the weights are loaded by the runner afterwards."""
    backends = []
    if "from_scratch" in packages:
        cls = from_scratch.BookNetwork if rule == "book" else from_scratch.Network
        network = cls(*_arguments(architecture, lr), dtype=dtype)
        backends.append(Backend("from_scratch", "from_scratch", "cpu", network, lambda a: a, _no_sync))
    if "torch_impl" in packages:
        resolved = list(dict.fromkeys(torch_impl.resolve_device(d).type for d in devices))  # "auto" may be "cpu"
        for device in resolved:
            backends.append(make_torch_backend(device, len(resolved) > 1, architecture, lr, dtype))
    return backends


def _arguments(architecture: Architecture, lr: float) -> tuple:
    """The positional arguments both backends' constructors take for ``architecture``."""
    a = architecture
    return a.input_nodes, list(a.hidden_nodes), a.output_nodes, lr, a.activation, a.loss, a.bias


def make_torch_backend(device: str, label_device: bool, architecture: Architecture, lr: float, dtype: str) -> Backend:
    network = torch_impl.Network(*_arguments(architecture, lr), dtype=dtype, device=device)
    resolved = network.device

    def prepare(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(resolved, non_blocking=True)

    sync = torch.cuda.synchronize if resolved.type == "cuda" else _no_sync
    key = f"torch_impl[{resolved.type}]" if label_device else "torch_impl"
    return Backend(key, "torch_impl", resolved.type, network, prepare, sync)


def make_probe(backend: Backend, lr: float, dtype: str) -> Network:
    """A network of ``backend``'s package, device, dtype and architecture, computing the true gradient,
    for gradients and steps at weights the runner chooses without disturbing the network that is training."""
    arguments = _arguments(Architecture.of(backend.network), lr)
    if backend.package == "torch_impl":
        return torch_impl.Network(*arguments, dtype=dtype, device=backend.device)
    return from_scratch.Network(*arguments, dtype=dtype)


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
