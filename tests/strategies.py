"""Hypothesis strategies for small networks and the data fed to them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from common.weights import initial_weights


@dataclass
class Case:
    """A small network, its starting weights and a batch, drawn by hypothesis."""

    sizes: tuple[int, int, int]
    lr: float
    dtype: str
    weights: list[np.ndarray]
    inputs: np.ndarray  # (batch, input) in (0, 1)
    targets: np.ndarray  # (batch, output) in (0, 1)

    def networks(self):
        """The NumPy and the torch network, both loaded with this case's weights."""
        from from_scratch import Network
        from torch_impl import Network as TorchNetwork

        mine = Network(*self.sizes, self.lr, dtype=self.dtype)
        theirs = TorchNetwork(*self.sizes, self.lr, dtype=self.dtype)
        mine.set_weights(self.weights)
        theirs.set_weights(self.weights)
        return mine, theirs


@st.composite
def cases(draw, max_nodes: int = 30, max_batch: int = 8) -> Case:
    """Sizes 1..30 a layer, weights from the book's initialisation scaled by 0.25..4,
    inputs and targets in (0, 1), learning rates 0.001..10, batches of 1..8, both dtypes."""
    sizes = tuple(draw(st.integers(1, max_nodes)) for _ in range(3))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    lr = draw(st.floats(1e-3, 10.0))
    scale = draw(st.floats(0.25, 4.0))
    seed = draw(st.integers(0, 2**32 - 1))
    batch = draw(st.integers(1, max_batch))
    rng = np.random.default_rng(seed)
    weights = [w * scale for w in initial_weights(*sizes, seed=seed)]
    inputs = rng.uniform(0.01, 1.0, size=(batch, sizes[0]))
    targets = rng.uniform(0.01, 0.99, size=(batch, sizes[2]))
    cast = np.dtype(dtype)
    return Case(sizes, lr, dtype, [w.astype(cast) for w in weights], inputs.astype(cast), targets.astype(cast))
