"""Where in the network a departure lies: the steps of the backward pass between two rows of
:func:`compare.check.network.check_network`'s table.

The table's rows run as backpropagation does: the outputs, then for each block from the output
down its dL/dz, its parameters' gradients and the dL/dh it hands to the block below.
:func:`backward_path` lists those rows in the order the backward pass reaches them with, between
each two, the step that leads from one to the next, in words, as each layer says its own
(:meth:`common.layers.Layer.backward_words`, :meth:`~common.layers.Layer.gradient_words`);
:func:`between` reads off the steps between the last row that agrees and the first that does not,
so that a departure no cause of the catalogue explains is still pinned between two rows.

>>> from common.architecture import Architecture
>>> path = backward_path(Architecture(784, [20], 10, "relu", "cross_entropy", True, conv=((4, 5, 2), (6, 3, 0))))
>>> between(path, ("dL/dh", "h_conv2"), ("dL/dz", "z_conv2"))
['the backward pass of pool2, the max pool after conv2', "the ReLU's derivative at conv2"]
>>> between(path, ("gradient", "b_h"), ("gradient", "W_conv2"))[:2]
['dL/dx of W_ih (W_ihᵀ dL/dz)', 'the flatten undone: dL/dx seen as the maps (6, 6, 6), in (C, H, W) order']
"""
from __future__ import annotations

from common.architecture import LOSS_WORDS, Architecture

Row = tuple[str, str]  # (kind, layer), as the table names a row


def backward_path(architecture: Architecture) -> list[Row | str]:
    """The table's rows from the outputs down, each step of the backward pass between two rows in words."""
    layers = architecture.layers
    marks = {index: (f"dL/d{key[3]}", name) for key, index, name, _ in architecture.intermediates()}
    block = {}  # each layer's block, in words: the affine layer's
    for group in architecture.blocks():
        block.update({id(layer): group[0].block_words for layer in group})
    first = next(i for i, spec in enumerate(layers) if spec.parameters())  # below it, no dL/dx is read
    path: list[Row | str] = [("outputs", "o"), f"the loss's derivative at the output ({LOSS_WORDS[architecture.loss]}, "
                                               f"{architecture.output_function} outputs)"]
    for i in range(len(layers) - 1, first - 1, -1):
        spec = layers[i]
        if i in marks:
            path.append(marks[i])
        for parameter in spec.parameters():
            path += [spec.gradient_words(parameter.name), ("gradient", parameter.name)]
        if i > first:
            path.append(spec.backward_words(block.get(id(spec), spec.name)))
    return path


def between(path: list[Row | str], passed: Row, failed: Row) -> list[str]:
    """The steps of ``path`` between the row ``passed`` and the row ``failed``, below it; ``[]``
    where either row is not on the path (a training step, the loss, the optimizer state)."""
    rows = [step for step in path if isinstance(step, tuple)]
    if passed not in rows or failed not in rows or path.index(passed) > path.index(failed):
        return []
    return [step for step in path[path.index(passed) + 1:path.index(failed)] if isinstance(step, str)]
