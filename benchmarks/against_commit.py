"""from_scratch's training step against an earlier commit's, interleaved in one process.

A restructure must not make a step slower. This loads ``common``, ``from_scratch`` and ``torch_impl``
as they were at ``REF`` (``git archive``, their imports renamed ``old_common``, ...) beside the
working tree's, builds the same network in each from the same seed, and times ``train()`` in
alternating rounds (which goes first alternates too), reporting the median of the paired ratios
new / old with its quartiles::

    env -u OPENBLAS_CORETYPE python benchmarks/against_commit.py 25fbdaf
    env -u OPENBLAS_CORETYPE python benchmarks/against_commit.py HEAD~1 --cases "book f32 b1" "lenet f32 b1"

Ratios below 1 mean the working tree's step is faster. One thread for every library, set before
NumPy loads. After the warm-up round the two networks' weights are checked to agree (within 1e-3 of
the largest, which leaves room for rounding in another order), so that the two time the same
arithmetic. Both networks are built afresh each round, in the order that round times them, so that
where their arrays land in memory is not one side's luck: a control against ``HEAD`` itself reads
within a few per cent of 1 (its figure is the noise to read the others by).
"""
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

PACKAGES = ("common", "from_scratch", "torch_impl")
LENET = dict(activation="relu", loss="cross_entropy", bias=True, conv=((6, 5, 2), (16, 5, 0)))
# name: (hidden, keywords, dtype, batch, train() calls a round)
CASES = {
    "book f32 b1": (200, {}, "float32", 1, 1000),
    "book f64 b1": (200, {}, "float64", 1, 1000),
    "book f32 b64": (200, {}, "float32", 64, 40),
    "book f64 b64": (200, {}, "float64", 64, 40),
    "lenet f32 b1": ([120, 84], LENET, "float32", 1, 100),
    "lenet f32 b64": ([120, 84], LENET, "float32", 64, 6),
    "adam f32 b1": (200, {"optimizer": "adam"}, "float32", 1, 500),
}
_IMPORT = re.compile(r"^(\s*)(from|import)\s+(" + "|".join(PACKAGES) + r")\b", re.MULTILINE)


def extract(ref: str, into: Path) -> None:
    """The packages as they were at ``ref``, written under ``into`` as ``old_<package>``."""
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, *PACKAGES],
                                 check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"git archive {ref} failed: {error.stderr.decode().strip()}") from None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            package, _, rest = member.name.partition("/")
            target = into / f"old_{package}" / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            data = tar.extractfile(member).read()
            if member.name.endswith(".py"):
                data = _IMPORT.sub(r"\1\2 old_\3", data.decode("utf-8")).encode("utf-8")
            target.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the commit to measure against (any git revision)")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES), metavar="CASE",
                        help="which steps to time: " + ", ".join(f"'{name}'" for name in CASES))
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds (default 31)")
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error(f"--rounds must be 3 or more to give quartiles; got {args.rounds}.")

    with tempfile.TemporaryDirectory() as folder:
        extract(args.ref, Path(folder))
        sys.path.insert(0, folder)
        import from_scratch
        import old_from_scratch
        from threadpoolctl import threadpool_info

        from benchmarks.bench import stepper
        from common.data import load_embedded, one_hot_targets, scale_inputs

        blas = sorted({(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()})
        print(f"against {args.ref}; BLAS (library, kernel, threads): {blas}")
        embedded = load_embedded()
        for name in args.cases:
            hidden, keywords, dtype, batch, calls = CASES[name]
            images = scale_inputs(embedded.train_images[:4096], dtype)
            targets = one_hot_targets(embedded.train_labels[:4096], dtype, values=(0.0, 1.0))
            modules = (old_from_scratch, from_scratch)

            def build(order: tuple[int, int]) -> list:
                """Both networks, built afresh in ``order`` and warmed up: new arrays each round, so that
                where the allocator puts them (cache sets, alignment) favours neither side every time."""
                built = {k: modules[k].Network(784, hidden, 10, 0.01, dtype=dtype, seed=0, **keywords)
                         for k in order}
                for k in order:
                    run(built[k], max(1, calls // 10))
                return [built[0], built[1]]

            def run(network, count: int = calls) -> float:
                step = stepper(network, images, targets, batch)
                start = time.perf_counter()
                for i in range(count):
                    step(i)
                return (time.perf_counter() - start) / (count * batch) * 1e6

            first = build((0, 1))
            for network in first:
                run(network)  # the same calls on both, then their weights compared
            old_weights, new_weights = (network.get_weights() for network in first)
            for old, new in zip(old_weights, new_weights):
                old, new = np.asarray(old, dtype=np.float64), np.asarray(new, dtype=np.float64)
                if old.shape != new.shape or np.abs(old - new).max() > 1e-3 * np.abs(new).max():
                    raise SystemExit(f"{name}: the two commits' networks took different steps; "
                                     "they would not be timing the same arithmetic.")
            times: list[list[float]] = [[], []]
            for round_ in range(args.rounds):
                order = (0, 1) if round_ % 2 else (1, 0)
                networks = build(order)
                for k in order:
                    times[k].append(run(networks[k]))
            ratios = sorted(new / old for old, new in zip(*times))
            quartile = len(ratios) // 4
            print(f"{name:14s} old {statistics.median(times[0]):8.2f} µs/sample, "
                  f"new {statistics.median(times[1]):8.2f}; new/old median {statistics.median(ratios):.3f} "
                  f"(quartiles {ratios[quartile]:.3f} to {ratios[-1 - quartile]:.3f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
