"""The output layer and its loss, fused: each takes the logits z_o and returns o, L and dL/dz_o.

=============================  ============  ==========================================  ==============
loss                           outputs o     L (per sample)                              dL/dz_o
=============================  ============  ==========================================  ==============
``half_sse``                   σ(z_o)        ½ Σ_k (t_k − o_k)²                          (o − t) o (1 − o)
``cross_entropy``              softmax(z_o)  −Σ_k t_k log o_k                            o Σ_k t_k − t
``binary_cross_entropy``       σ(z_o)        −Σ_k [t_k log o_k + (1 − t_k) log(1 − o_k)]  o − t
``binary_cross_entropy_mean``  σ(z_o)        the same divided by K, the number of outputs  (o − t) / K
=============================  ============  ==========================================  ==============

Why binary cross-entropy on sigmoid outputs is o − t: log σ(z) = −log(1 + e^(−z)) and
log(1 − σ(z)) = −log(1 + e^z), so each output's term is log(1 + e^z) − t z, whose derivative
is σ(z) − t: the sigmoid's o (1 − o) and the logarithms' 1/o, 1/(1 − o) cancel, as softmax's do.

Why softmax with cross-entropy is simply o − t: log o_k = z_k − log Σ_j e^(z_j), so
L = log Σ_j e^(z_j) · Σ_k t_k − Σ_k t_k z_k, and dL/dz_j = o_j Σ_k t_k − t_j: the softmax's
Jacobian and the logarithm's 1/o cancel. For targets that sum to 1 (one-hot) it is o − t.

Samples are rows. L is averaged over the samples of a batch; dL/dz_o is each sample's own,
and the network divides by the number of samples where it sums them into a weight's gradient.
"""
from __future__ import annotations

import numpy as np

from from_scratch.layers.activation import sigmoid, sigmoid_backward


def half_sse(z_o: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Sigmoid outputs and L = ½ Σ (t − o)², the book's; works in place on ``z_o``.

    Returns
    -------
    final_outputs : ndarray, shape of ``z_o``
    loss : float
        L, averaged over the batch.
    dLdz_o : ndarray, shape of ``z_o``
    """
    final_outputs = sigmoid(z_o, out=z_o)  # o = σ(z_o)
    dLdo = final_outputs - targets  # L = ½ Σ (t − o)²  ⇒  dL/do = o − t
    loss = 0.5 * float(dLdo.ravel().dot(dLdo.ravel())) / (z_o.shape[0] if z_o.ndim == 2 else 1)
    return final_outputs, loss, sigmoid_backward(dLdo, final_outputs)  # dL/dz_o = dL/do · o (1 − o)


def softmax(z: np.ndarray) -> np.ndarray:
    """``e^z / Σ e^z`` over the last axis, with the largest z subtracted first so no e^z overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(z_o: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Softmax outputs and L = −Σ t log softmax(z_o), computed stably by log-sum-exp.

    ``log softmax(z) = z − m − log Σ e^(z − m)`` with m = max z: no exponential overflows
    and no probability that rounds to 0 is ever passed to a logarithm.

    Returns
    -------
    final_outputs : ndarray, shape of ``z_o``
        The probabilities softmax(z_o).
    loss : float
        L, averaged over the batch.
    dLdz_o : ndarray, shape of ``z_o``
        ``o Σ_k t_k − t``, which is ``o − t`` for one-hot targets.
    """
    shifted = z_o - z_o.max(axis=-1, keepdims=True)
    log_outputs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # log o
    final_outputs = np.exp(log_outputs)
    loss = -float(np.vdot(targets, log_outputs)) / (z_o.shape[0] if z_o.ndim == 2 else 1)
    return final_outputs, loss, final_outputs * targets.sum(axis=-1, keepdims=True) - targets


def binary_cross_entropy(z_o: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Sigmoid outputs and L = −Σ_k [t log o + (1 − t) log(1 − o)], summed over the outputs.

    Computed from the logits, ``L = Σ_k log(1 + e^(z_k)) − t_k z_k``, with ``np.logaddexp(0, z)``
    for log(1 + e^z), so that no output that rounds to 0 or 1 is ever passed to a logarithm
    (Nielsen's network2 needs ``nan_to_num`` there). Nielsen's CrossEntropyCost; torch's
    ``BCEWithLogitsLoss(reduction="sum")`` divided by the batch size.

    Returns
    -------
    final_outputs : ndarray, shape of ``z_o``
    loss : float
        L, averaged over the batch.
    dLdz_o : ndarray, shape of ``z_o``
        ``o − t``.
    """
    loss = float(np.logaddexp(0.0, z_o).sum() - np.vdot(targets, z_o)) / (z_o.shape[0] if z_o.ndim == 2 else 1)
    final_outputs = sigmoid(z_o)
    return final_outputs, loss, final_outputs - targets


def binary_cross_entropy_mean(z_o: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """:func:`binary_cross_entropy` averaged over the K outputs as well: torch's ``BCELoss()``
    (and ``BCEWithLogitsLoss()``), nnfs's ``Loss_BinaryCrossentropy``. L and dL/dz_o are 1/K as large."""
    final_outputs, loss, dLdz = binary_cross_entropy(z_o, targets)
    outputs = z_o.shape[-1]
    dLdz /= outputs
    return final_outputs, loss / outputs, dLdz


# loss name: (the output layer's function for query, the fused output layer and loss)
LOSSES = {"half_sse": (sigmoid, half_sse), "cross_entropy": (softmax, cross_entropy),
          "binary_cross_entropy": (sigmoid, binary_cross_entropy),
          "binary_cross_entropy_mean": (sigmoid, binary_cross_entropy_mean)}
