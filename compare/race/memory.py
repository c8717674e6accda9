"""Networks too large for the machine: refused before anything is allocated where the weights
alone outgrow its memory, and named in one sentence where an allocation fails during the run.
"""
from __future__ import annotations

import math
import os
import re

import numpy as np

from common.architecture import Architecture
from common.errors import ParameterError

IMAGE_COPIES = 4  # one image's convolution maps a backend holds at once, at the least (z, f(z), their gradients)
UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def size(n_bytes: float) -> str:
    """``"5.8 TiB"``: a number of bytes in binary units, as NumPy's own MemoryError says them."""
    power = min(int(math.log(max(n_bytes, 1), 1024)), len(UNITS) - 1)
    return f"{n_bytes / 1024 ** power:.3g} {UNITS[power]}" if power else f"{n_bytes:.0f} bytes"


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def weights_bytes(architecture: Architecture, dtype: str) -> tuple[int, int]:
    """The number of parameters of ``architecture`` and the bytes one copy of them takes in ``dtype``."""
    count = sum(math.prod(shape) for shape in architecture.parameter_shapes())
    return count, count * np.dtype(dtype).itemsize


def copies_held(backends: int) -> int:
    """How many copies of the weights a run of ``backends`` backends holds at its peak, rounded up
    from what was measured: 7 for one backend (no twins), 8 more for each backend when they race."""
    return 7 if backends == 1 else 7 + 8 * backends


def check_memory(architectures: tuple[Architecture, ...], dtype: str, backends: int,
                 memory: int | None = None) -> None:
    """Refuse a network whose weights, in the copies a run holds, outgrow the machine's memory.

    A run holds many copies of the weights at once: each backend's network and the twins that
    check its steps, the weights they start from, step to and are nudged to, the gradients. Measured
    (784-20000-10, float64, 120 MB of weights): 6.5 copies at the peak with one backend, 22.6 with
    two; :func:`copies_held` rounds those up, 8 more a backend. A network that needs more than the
    machine has would be killed by the system partway, with no sentence: it is refused here.
    A convolutional network must also hold, in each backend, a few times one image's way through
    its convolution layers (its im2col columns and outputs, the activations and their gradients).

    Raises
    ------
    ParameterError
        "The 'hidden' parameter asks for 784-1000000000-10, whose ... weights take ...".
    """
    memory = physical_memory() if memory is None else memory
    if memory is None:
        return
    copies = copies_held(backends)
    for architecture in architectures:
        count, one = weights_bytes(architecture, dtype)
        if one * copies > memory:
            raise ParameterError(
                f"The '{'conv' if architecture.conv else 'hidden'}' parameter asks for "
                f"{architecture.describe().split(',')[0]}, whose {count:,} "
                f"weights take {size(one)} in {dtype}; with the {copies} copies of them a run of {backends} "
                f"backend{'s' if backends > 1 else ''} holds at its peak (each network and the twins that check its "
                f"steps, the weights they start from and step to) it needs {size(one * copies)}, more than this "
                f"machine's {size(memory)} of memory.")
        image = architecture.conv_floats_per_sample * np.dtype(dtype).itemsize * IMAGE_COPIES * backends
        if one * copies + image > memory:
            raise ParameterError(
                f"The 'conv' parameter asks for {architecture.describe().split(',')[0]}, whose convolution layers "
                f"need {size(image)} in {dtype} for a single image in {backends} backends ({IMAGE_COPIES} times each "
                f"layer's im2col columns and outputs: the activations and their gradients), beside "
                f"{size(one * copies)} for {copies} copies of its weights: more than this machine's {size(memory)} "
                "of memory.")


def out_of_memory(error: BaseException) -> str | None:
    """What did not fit, in words, when ``error`` is an allocation that failed (NumPy's MemoryError,
    or torch's RuntimeError from its CPU allocator, or its OutOfMemoryError on a GPU); else None."""
    text = str(error)
    if isinstance(error, MemoryError):
        said = re.sub(r"^Unable to allocate", "NumPy could not allocate", text)
        return said if said else "an allocation failed (MemoryError)"
    if type(error).__name__ == "OutOfMemoryError" or (
            isinstance(error, RuntimeError) and re.search(r"can't allocate memory|not enough memory", text)):
        tried = re.search(r"allocate (\d+) bytes", text)
        return f"torch could not allocate {size(int(tried[1]))}" if tried else f"torch ran out of memory ({text})"
    return None
