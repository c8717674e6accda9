"""A layer as the network runs it: its arrays, and its pair called in training or evaluation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from common.layers import Layer as Spec
from from_scratch.blas import add_scaled


def per_feature(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A per-feature (per-channel) vector (a normalization's γ, β or statistics) shaped to broadcast
    against x: rows of features, or maps (n, C, H, W)."""
    return v if x.ndim <= 2 else v.reshape(-1, 1, 1)


def batch_axes(x: np.ndarray) -> tuple[int, ...]:
    """The axes a per-feature sum runs over: the batch's, and a map's positions (none for one sample)."""
    return {1: (), 2: (0,)}.get(x.ndim, (0, 2, 3))


@dataclass
class Context:
    """What a network's layers share on one pass.

    ``step``: ``train()`` calls taken so far, and ``seed``: the network's ``layer_seed``, which a
    layer that draws random numbers (dropout) reads (:func:`common.layers.layer_rng`);
    ``update_buffers``: whether a training pass moves the running statistics (not in
    ``gradients()``, which leaves the network as it was).
    """

    step: int = 0
    seed: int = 0
    update_buffers: bool = True


class Layer:
    """One layer of :class:`from_scratch.Network`: the spec, its parameters and buffers, its pair.

    ``params`` and ``buffers`` are the network's own arrays (not copies), bound by :meth:`bind`
    whenever the network loads new ones. A kind overrides :meth:`forward` and :meth:`backward`;
    :meth:`backward_into` and :meth:`step` have a general form here, which the dense layer
    replaces with BLAS calls that write into existing arrays.
    """

    def __init__(self, spec: Spec, dtype: np.dtype, context: Context | None = None) -> None:
        self.spec, self.dtype, self.context = spec, np.dtype(dtype), context or Context()
        self.params: list[np.ndarray] = []
        self.buffers: list[np.ndarray] = []
        self.index: int | None = None  # among the network's layers that draw (common.layers.layer_rng), if this one does

    def bind(self, params: Sequence[np.ndarray], buffers: Sequence[np.ndarray], context: Context) -> None:
        self.params, self.buffers, self.context = list(params), list(buffers), context

    def forward(self, x: np.ndarray, training: bool) -> tuple[np.ndarray, Any]:
        """The output, and what :meth:`backward` needs; ``training`` picks the mode (dropout, batch
        statistics)."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray, cache: Any, need_dx: bool = True) -> tuple[np.ndarray | None, list]:
        """dL/dx (None when not ``need_dx``) and dL/d(each parameter), given dL/dout."""
        raise NotImplementedError

    def backward_into(self, dout: np.ndarray, cache: Any, need_dx: bool, into: Sequence[np.ndarray]):
        """:meth:`backward`, with the parameters' gradients written into ``into``; returns dL/dx."""
        dx, grads = self.backward(dout, cache, need_dx)
        for target, grad in zip(into, grads):
            np.copyto(target, grad)
        return dx

    def step(self, dout: np.ndarray, cache: Any, need_dx: bool, lr: float):
        """Plain SGD's ``p −= lr · dL/dp`` for each parameter, in place; returns dL/dx, computed first."""
        if not self.params:  # an activation, a pool, a reshape: only dL/dx
            return self.backward(dout, cache, need_dx)[0]
        dx, grads = self.backward(dout, cache, need_dx)
        for parameter, grad in zip(self.params, grads):
            add_scaled(parameter, -lr, grad)
        return dx
