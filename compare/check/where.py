"""Where in the network a departure lies: the steps of the backward pass between two rows of
:func:`compare.check.network.check_network`'s table.

The table's rows run as backpropagation does: the outputs, then for each layer from the output
down its dL/dz, its parameters' gradients and the dL/dh it hands to the layer below.
:func:`backward_path` lists those rows in that order with, between each two, the step of the
backward pass that leads from one to the next, in words; :func:`between` reads off the steps
between the last row that agrees and the first that does not, so that a departure no cause of
the catalogue explains is still pinned between two rows.

>>> from common.architecture import Architecture
>>> path = backward_path(Architecture(784, [20], 10, "relu", "cross_entropy", True, conv=((4, 5, 2), (6, 3, 0))))
>>> between(path, ("dL/dh", "h_conv2"), ("dL/dz", "z_conv2"))
['the backward pass of pool2, the max pool after conv2', "the ReLU's derivative at conv2"]
>>> between(path, ("gradient", "b_h"), ("gradient", "W_conv2"))[0]
'dL/dx of W_ih (W_ihᵀ dL/dz), unflattened to the maps of conv2 in (C, H, W) order'
"""
from __future__ import annotations

from common.architecture import LOSS_WORDS, Architecture

Row = tuple[str, str]  # (kind, layer), as the table names a row


def backward_path(architecture: Architecture) -> list[Row | str]:
    """The table's rows from the outputs down, each step of the backward pass between two rows in words."""
    names = architecture.per_layer(architecture.parameter_names())  # [[W, b], ...] input side first
    convs = architecture.conv_names()
    z, h = architecture.intermediate_names()["dLdz"], architecture.intermediate_names()["dLdh"]
    activation = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}[architecture.activation]
    path: list[Row | str] = [("outputs", "o"), f"the loss's derivative at the output ({LOSS_WORDS[architecture.loss]}, "
                                               f"{architecture.output_function} outputs)"]
    for j in reversed(range(len(names))):
        weight, *bias = names[j]
        conv = j < len(convs)
        path += [("dL/dz", z[j]),
                 f"dL/dW of {convs[j]}, dL/dz {z[j]} correlated with the input windows" if conv
                 else f"dL/dW of {weight}, dL/dz {z[j]} times the layer's input", ("gradient", weight)]
        for b in bias:
            path += [f"dL/db of {convs[j] if conv else weight}, dL/dz {z[j]} summed over the samples"
                     + (" and positions" if conv else ""), ("gradient", b)]
        if j == 0:
            break
        if conv:
            carried = f"dL/dx of {convs[j]} (dL/dz {z[j]} carried back through the kernel, each window's share added)"
        else:
            carried = f"dL/dx of {weight} ({weight}ᵀ dL/dz)"
            if j == len(convs):
                carried += f", unflattened to the maps of {convs[-1]} in (C, H, W) order"
        below = convs[j - 1] if j - 1 < len(convs) else f"{names[j - 1][0]}'s layer"
        path += [carried, ("dL/dh", h[j - 1])]
        if j - 1 < len(convs):
            path.append(f"the backward pass of pool{j}, the max pool after {below}")
        path.append(f"the {activation}'s derivative at {below}")
    return path


def between(path: list[Row | str], passed: Row, failed: Row) -> list[str]:
    """The steps of ``path`` between the row ``passed`` and the row ``failed``, below it; ``[]``
    where either row is not on the path (a training step, the loss, the optimizer state)."""
    rows = [step for step in path if isinstance(step, tuple)]
    if passed not in rows or failed not in rows or path.index(passed) > path.index(failed):
        return []
    return [step for step in path[path.index(passed) + 1:path.index(failed)] if isinstance(step, str)]
