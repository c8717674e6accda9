"""A ReLU's branch: each unit passes its gradient where its pre-activation z > 0, and not where z ≤ 0.
Sigmoid and tanh are smooth: no branch."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from common.layers.activation import Activation
from compare.race.branches import BranchKind, Measured, unit_words


def relu(module: nn.ReLU, a: np.ndarray, b: np.ndarray) -> Measured:
    """A ReLU unit's branch is z = 0: its margin is ``|z|``; it flips where ``z > 0`` in one run only."""
    identical_zero = (a == 0.0) & (b == 0.0)
    margin = np.where(identical_zero, np.inf, np.abs(a))
    scale = np.abs(a).reshape(len(a), -1).max(axis=1).reshape((-1,) + (1,) * (a.ndim - 1))
    return Measured(margin, np.abs(a - b), np.broadcast_to(scale, a.shape), (a > 0) != (b > 0),
                    lambda i: f"{unit_words(i[1:])}'s pre-activation", lambda i: f"{a[i]:.3g}")


def flip_relu(module: nn.ReLU, z: torch.Tensor, out: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """The ReLU's output with the units at ``where`` the other way, as on the other side of 0: where
    z > 0, 0 with no gradient; where z ≤ 0, |z| with the gradient passed (z − 2z, the 2z held
    constant), so that a max pool after it sees it on. Either differs from the output by |z|."""
    return torch.where(where, torch.where(z > 0, z * 0, z - 2 * z.detach()), out)


def branch(spec: Activation) -> BranchKind | None:
    return BranchKind("ReLU", relu, flip_relu) if spec.function == "relu" else None
