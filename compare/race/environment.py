"""What the timings ran on: versions, threads, the BLAS kernel, the device."""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import torch
from threadpoolctl import threadpool_info


def cpu_model() -> str:
    """The processor's name from /proc/cpuinfo where there is one, else platform's guess."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The packages whose wheels ship a BLAS of their own, in the order the BLAS line names them.
OWNERS = {"numpy": "NumPy's", "scipy": "SciPy's", "torch": "torch's"}


def owner(filepath: str | None) -> str | None:
    """The package whose wheel shipped the library at ``filepath`` ("numpy" for one in
    ``numpy.libs/`` or ``numpy/``), or None for a library of the system's or an environment's."""
    if not filepath:
        return None
    path = Path(os.path.realpath(filepath))
    for name in OWNERS:
        module = sys.modules.get(name)
        if module is None or not getattr(module, "__file__", None):
            continue
        folder = Path(os.path.realpath(module.__file__)).parent
        if any(path.is_relative_to(place) for place in (folder, folder.with_name(f"{name}.libs"))):
            return name
    return None


def blas_libraries() -> list[dict]:
    """Each BLAS loaded in this process with the kernel it picked and whose it is (NumPy's,
    SciPy's), NumPy's first: threadpoolctl lists them in the order they happened to load."""
    found = [
        {**{k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")},
         "owner": owner(info.get("filepath"))}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    order = list(OWNERS)
    return sorted(found, key=lambda b: (order.index(b["owner"]) if b["owner"] else len(order), b["filepath"] or ""))


def describe(devices: tuple[str, ...] = ("cpu",)) -> dict:
    """The environment record for the report and the JSON ``environment`` key."""
    record = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "blas": blas_libraries(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "cuda": torch.cuda.is_available(),
    }
    if any(d != "cpu" for d in devices) and torch.cuda.is_available():
        record["cuda_device"] = torch.cuda.get_device_name()
        record["cuda_version"] = torch.version.cuda
    return record


def one_line(record: dict) -> str:
    """``BLAS NumPy's openblas 0.3.31 (SkylakeX, 1 thread), SciPy's openblas 0.3.30 (SkylakeX, 1 thread) |
    torch 2.13.0 (1 thread, mkl) | cpu ...``"""
    blas = ", ".join(
        f"{OWNERS[b['owner']] + ' ' if b.get('owner') in OWNERS else ''}{b['internal_api']} {b['version']} "
        f"({b['architecture']}, {b['num_threads']} thread{'s' if b['num_threads'] != 1 else ''})"
        for b in record["blas"]
    ) or "none loaded"
    line = (f"BLAS {blas} | torch {record['torch']} ({record['torch_threads']} thread"
            f"{'s' if record['torch_threads'] != 1 else ''}, {record['torch_blas']}) | {record['cpu']}")
    if record.get("cuda_device"):
        line += f" | {record['cuda_device']}"
    if record.get("openblas_coretype"):
        line += f" | OPENBLAS_CORETYPE={record['openblas_coretype']}"
    return line
