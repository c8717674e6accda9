"""Whether a trained network saturated: one definition, measured on the test images.

A network has saturated when its units sit at the ends of their range for most inputs,
where their derivatives vanish and training stalls, or when it answers no better than
chance. Measured on the first ``SAMPLES`` test images with the reference backend's final
weights, in float64:

- **hidden units**: the share of hidden activations within ``MARGIN`` of a bound of their
  activation (sigmoid: 0 or 1; tanh: −1 or 1); for ReLU, whose zeros are ordinary, the share
  of units that are 0 on every image (dead units). A convolution layer's units are the entries
  of its pooled map, (channel, row, column);
- **outputs** (sigmoid outputs): the share within ``MARGIN`` of 0 or 1;
- **chance**: test accuracy no better than always answering the most common test label.

Saturated: more than ``MOST`` of the hidden units or of the outputs pinned, or accuracy at
chance. Whether the backends agree is a separate question and is answered separately.
"""
from __future__ import annotations

import numpy as np

from common.architecture import Architecture
from compare.plugins import build_network
from from_scratch.layers.activation import sigmoid
from from_scratch.network import Network

MARGIN = 1e-6
MOST = 0.5
SAMPLES = 1000
BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def _pinned(values: np.ndarray, bounds: tuple[float, float]) -> float:
    return float(np.mean((np.abs(values - bounds[0]) <= MARGIN) | (np.abs(values - bounds[1]) <= MARGIN)))


def saturation(weights: list[np.ndarray], architecture: Architecture, inputs: np.ndarray, accuracy: float,
               labels: np.ndarray, buffers: list[np.ndarray] | None = None) -> dict:
    """Measure saturation; returns the shares, the chance level and the verdict ``saturated``.

    Parameters
    ----------
    weights : list of ndarray
        The parameters in ``architecture.parameter_names()`` order.
    inputs : ndarray of shape (n, input_nodes)
        Scaled test images; the first ``SAMPLES`` are used.
    accuracy : float
        The network's test accuracy.
    labels : ndarray of shape (n,)
        The test labels, for the chance level.
    buffers : list of ndarray, optional
        The network's running statistics, which evaluation reads; their starting values if not given.
    """
    network = build_network(Network, architecture, 1.0)  # float64, the architecture's every keyword
    network.set_weights(weights)
    if buffers is not None:
        network.set_buffers(buffers)
    hidden, z = network.hidden_outputs(np.asarray(inputs[:SAMPLES], dtype=np.float64))
    hidden_shares = []
    for activations in hidden:  # a convolution layer's units: each entry of its pooled map
        activations = activations.reshape(len(activations), -1)
        if architecture.activation == "relu":
            hidden_shares.append(float(np.mean(np.all(activations == 0.0, axis=0))))  # dead units
        else:
            hidden_shares.append(_pinned(activations, BOUNDS[architecture.activation]))
    outputs = None
    if architecture.loss == "half_sse":  # sigmoid outputs; softmax's near-0 outputs are a confident answer
        outputs = _pinned(sigmoid(z), BOUNDS["sigmoid"])
    labels = np.asarray(labels)
    chance = float(np.bincount(labels).max() / len(labels)) if len(labels) else 0.0
    hidden = max(hidden_shares, default=None)
    saturated = bool((hidden is not None and hidden > MOST) or (outputs is not None and outputs > MOST)
                     or accuracy <= chance)
    return {"saturated": saturated, "hidden_pinned": hidden, "outputs_pinned": outputs, "accuracy": accuracy,
            "chance": chance, "samples": int(min(len(inputs), SAMPLES)), "margin": MARGIN,
            "activation": architecture.activation}


def pinned(record: dict) -> bool:
    """Whether units are pinned (rather than the accuracy alone being at chance)."""
    return any(share is not None and share > MOST for share in (record["hidden_pinned"], record["outputs_pinned"]))


def label(record: dict) -> str:
    """A few words for tables: "saturated", "did not learn", or "" for a network that learned."""
    if not record["saturated"]:
        return ""
    return "saturated" if pinned(record) else "did not learn"


def describe(record: dict) -> str:
    """The note a report prints for a saturated network (an empty string for one that is not)."""
    if not record["saturated"]:
        return ""
    shares = []
    if record["hidden_pinned"] is not None and record["hidden_pinned"] > MOST:
        what = ("hidden units dead (0 on every image)" if record["activation"] == "relu"
                else "hidden activations within 1e-6 of a bound")
        shares.append(f"{record['hidden_pinned']:.0%} of {what}")
    if record["outputs_pinned"] is not None and record["outputs_pinned"] > MOST:
        shares.append(f"{record['outputs_pinned']:.0%} of outputs within 1e-6 of 0 or 1")
    accuracy = (f"test accuracy {record['accuracy']:.1%}, no better than always answering the most common "
                f"digit ({record['chance']:.1%})" if record["accuracy"] <= record["chance"]
                else f"test accuracy {record['accuracy']:.1%}")
    whose = f"{record['backend']}'s network" if record.get("backend") else "the network"
    if shares:
        said = (f"note: {whose} saturated: {', '.join(shares)} on {record['samples']:,} test images, where "
                f"the derivatives vanish and learning stalls; {accuracy}.")
    else:
        said = f"note: {whose} did not learn: {accuracy}."
    return said + " Try a smaller --lr (or fewer hidden nodes). Whether the backends agree is a separate question."
