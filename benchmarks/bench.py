"""Speed of both backends against their baselines and the floor, measured side by side.

    python benchmarks/bench.py            # the targets, the hidden-size table, mini-batches, optimizers
    python benchmarks/bench.py --quick    # fewer steps and repeats, for a first look
    python benchmarks/bench.py --only optimizers   # each training recipe beside plain SGD

Every figure is a median over repeats of a timed stretch of steps; the candidates of one
table run interleaved (A, B, C, A, B, C, ...) in this one process, so a machine that slows
down mid-run slows all of them alike. Threads are pinned (NumPy's BLAS and torch alike) and
printed, with the BLAS kernel in use. Unset OPENBLAS_CORETYPE for this command only, if it
is set, to let OpenBLAS pick the kernel for this processor; the header says what it picked.

The first table ends with the project's speed targets, each marked ``met`` or ``MISSED``.
They are goals, not tests: timings depend on the machine, so the benchmark reports them and
exits 0 whatever it finds (``--strict`` exits 1 when one is missed, for a machine where they
are known to hold). One is missed on every CPU measured so far: torch_impl is not 3x faster
than the 2017 port at one sample a step, because both pay torch's fixed cost per operation
(dispatch and autograd bookkeeping, about 400 µs a step), which the canonical loop can trim
but not remove; the README's "What the timings teach" measures where it goes.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

import from_scratch  # noqa: E402
import torch_impl  # noqa: E402
from benchmarks.baselines import (  # noqa: E402
    BatchFloor, BookLoop, Floor, Port2017, TorchBatchFloor, TorchFloor)
from common.data import load_embedded, one_hot_targets, scale_inputs  # noqa: E402
from common.weights import initial_weights  # noqa: E402
from compare.race.environment import describe, one_line  # noqa: E402

LR = 0.1


def race(candidates: dict[str, Callable[[int], None]], samples_per_call: int, calls: int,
         repeats: int) -> dict[str, dict]:
    """Time each candidate over ``calls`` calls, ``repeats`` times, interleaved.

    Returns µs per sample: the median and the minimum over repeats, for each candidate.
    """
    for step in candidates.values():  # warm up: first-call costs, caches, allocator
        for i in range(max(calls // 10, 5)):
            step(i)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, step in candidates.items():
            begin = time.perf_counter()
            for i in range(calls):
                step(i)
            times[name].append((time.perf_counter() - begin) / (calls * samples_per_call) * 1e6)
    return {name: {"median": statistics.median(t), "min": min(t)} for name, t in times.items()}


def stepper(network, inputs, targets, batch: int = 1) -> Callable[[int], None]:
    """``step(i)`` trains ``network`` on the i-th sample (or batch), cycling through the data."""
    train, n = network.train, len(inputs) // batch
    if batch == 1:
        return lambda i: train(inputs[i % n], targets[i % n])
    return lambda i: train(inputs[(i % n) * batch:(i % n + 1) * batch], targets[(i % n) * batch:(i % n + 1) * batch])


def data(dtype: str, rows: int):
    """Real digits from the embedded set: NumPy arrays and the same as torch tensors."""
    embedded = load_embedded()
    x = scale_inputs(embedded.train_images[:rows], dtype)
    t = one_hot_targets(embedded.train_labels[:rows], dtype)
    return x, t, torch.from_numpy(x), torch.from_numpy(t)


def targets_table(args) -> list[str]:
    """Hidden 200, float32, one sample a step: every candidate against the floor."""
    x, t, tx, tt = data("float32", 1000)
    weights = initial_weights(784, 200, 10, seed=0, dtype="float32")
    numpy_net = from_scratch.Network(784, 200, 10, LR, dtype="float32")
    torch_net = torch_impl.Network(784, 200, 10, LR, dtype="float32")
    for net in (numpy_net, torch_net):
        net.set_weights(weights)
    results = race({
        "floor (gemv + ger, layer 1)": stepper(Floor(weights, LR), x, t),
        "book loop (NumPy, as written)": stepper(BookLoop(weights, LR), x, t),
        "from_scratch.Network.train": stepper(numpy_net, x, t),
        "torch floor (mv + addr_)": stepper(TorchFloor(weights, LR), tx, tt),
        "2017 port loop (torch)": stepper(Port2017(weights, LR), x, t),
        "torch_impl.Network.train": stepper(torch_net, tx, tt),
    }, 1, args.calls, args.repeats)
    floor = results["floor (gemv + ger, layer 1)"]["median"]
    lines = [f"{'one sample a step, hidden 200, float32':<34} {'µs/sample':>10} {'min':>8} {'x floor':>8}"]
    for name, r in results.items():
        lines.append(f"{name:<34} {r['median']:10.1f} {r['min']:8.1f} {r['median'] / floor:8.2f}")
    ours, book = results["from_scratch.Network.train"]["median"], results["book loop (NumPy, as written)"]["median"]
    torch_ours, port = results["torch_impl.Network.train"]["median"], results["2017 port loop (torch)"]["median"]
    lines += ["targets (goals, not tests: a MISSED one is reported, and the benchmark still exits 0):",
              _target("from_scratch within 1.3x the floor", ours / floor, "x", ours / floor <= 1.3),
              _target("from_scratch at least 2x faster than the book loop", book / ours, "x", book / ours >= 2),
              _target("torch_impl at least 3x faster than the 2017 port", port / torch_ours, "x", port / torch_ours >= 3)]
    if port / torch_ours < 3:
        lines.append("  (at one sample a step both torch loops pay torch's fixed cost per operation, dispatch and\n"
                     "   autograd bookkeeping, which no canonical loop removes: see the README's timings)")
    return lines


def _target(text: str, value: float, unit: str, met: bool) -> str:
    return f"  {'met ' if met else 'MISSED'} {text}: {value:.2f}{unit}"


def hidden_table(args) -> list[str]:
    """The 2017 tutorial's hidden sizes: µs per sample, one sample a step, per backend and dtype.

    The work of a step grows linearly with the hidden size, but its cost need not: above a
    few hundred hidden nodes the weights no longer fit in the core's cache and every step
    streams them from further away. So each cost is also shown against the floor's at the
    same size, and its growth from the smallest size against the floor's growth.
    """
    lines = [f"{'hidden':>6} {'dtype':>8} {'floor':>9} {'from_scratch':>13} {'x floor':>8} {'torch_impl':>11}"
             f" {'x floor':>8} {'growth: work':>13} {'floor':>6} {'ours':>6}   (µs per sample; growth since the "
             "smallest size)"]
    for dtype in ("float32", "float64"):
        x, t, tx, tt = data(dtype, 200)
        first = None
        for hidden in args.hidden:
            weights = initial_weights(784, hidden, 10, seed=0, dtype=dtype)
            numpy_net = from_scratch.Network(784, hidden, 10, LR, dtype=dtype)
            torch_net = torch_impl.Network(784, hidden, 10, LR, dtype=dtype)
            for net in (numpy_net, torch_net):
                net.set_weights(weights)
            calls = max(args.calls * 200 // hidden // 2, 20)
            r = race({"floor": stepper(Floor(weights, LR), x, t), "from_scratch": stepper(numpy_net, x, t),
                      "torch_impl": stepper(torch_net, tx, tt)}, 1, calls, args.repeats)
            floor, ours, theirs = (r[k]["median"] for k in ("floor", "from_scratch", "torch_impl"))
            first = first or (hidden, floor, ours)
            lines.append(f"{hidden:6d} {dtype:>8} {floor:9.1f} {ours:13.1f} {ours / floor:8.2f} {theirs:11.1f} "
                         f"{theirs / floor:8.2f} {hidden / first[0]:13.1f} {floor / first[1]:6.1f} "
                         f"{ours / first[2]:6.1f}")
    return lines


def batch_table(args) -> list[str]:
    """Mini-batches: samples per second of each backend against the bare matrix products."""
    lines = [f"{'batch':>5} {'dtype':>8} {'bare NumPy':>11} {'from_scratch':>13} {'bare torch':>11} {'torch_impl':>11}"
             f"   (thousand samples per second; hidden 200; share of bare in brackets)"]
    for dtype in ("float32", "float64"):
        for batch in (64, 256):
            x, t, tx, tt = data(dtype, 2048)
            weights = initial_weights(784, 200, 10, seed=0, dtype=dtype)
            numpy_net = from_scratch.Network(784, 200, 10, LR, dtype=dtype)
            torch_net = torch_impl.Network(784, 200, 10, LR, dtype=dtype)
            for net in (numpy_net, torch_net):
                net.set_weights(weights)
            r = race({"bare NumPy": stepper(BatchFloor(weights, LR), x, t, batch),
                      "from_scratch": stepper(numpy_net, x, t, batch),
                      "bare torch": stepper(TorchBatchFloor(weights, LR), tx, tt, batch),
                      "torch_impl": stepper(torch_net, tx, tt, batch)},
                     batch, max(args.calls // batch * 4, 10), args.repeats)
            rate = {k: 1e3 / v["median"] for k, v in r.items()}  # thousand samples per second
            lines.append(f"{batch:5d} {dtype:>8} {rate['bare NumPy']:11.1f} {rate['from_scratch']:8.1f} "
                         f"({rate['from_scratch'] / rate['bare NumPy']:.2f}) {rate['bare torch']:11.1f} "
                         f"{rate['torch_impl']:6.1f} ({rate['torch_impl'] / rate['bare torch']:.2f})")
    return lines


RECIPES = {  # name: (the recipe's keywords, its learning rate)
    "SGD": ({}, LR),
    "SGD, momentum 0.9": ({"momentum": 0.9}, 0.01),
    "SGD, Nesterov 0.9": ({"momentum": 0.9, "nesterov": True}, 0.01),
    "SGD, L2 1e-4": ({"l2": 1e-4}, LR),
    "Adam": ({"optimizer": "adam"}, 1e-3),
    "AdamW, decay 0.01": ({"optimizer": "adamw"}, 1e-3),
    "RMSprop": ({"optimizer": "rmsprop"}, 1e-3),
}


def optimizers_table(args) -> list[str]:
    """Each recipe's cost per sample in both backends, hidden 200, at batch 1 and 64, beside plain SGD.

    All the candidates of one batch size and dtype race interleaved, both backends together.
    Plain SGD in from_scratch adds its step into the weights inside the backward pass (BLAS ger or
    gemm); every other recipe computes the gradient arrays and runs its rule over them, a few
    passes over every weight (Adam: the moments, a square root, a division).
    """
    lines = [f"{'recipe':<20} {'dtype':>8} {'batch':>5} {'from_scratch':>13} {'x SGD':>6} {'torch_impl':>11} "
             f"{'x SGD':>6}   (µs per sample, hidden 200)"]
    ratios = {}
    for dtype in args.dtypes:
        for batch in (1, 64):
            x, t, tx, tt = data(dtype, 1024)
            weights = initial_weights(784, 200, 10, seed=0, dtype=dtype)
            candidates = {}
            for name, (keywords, lr) in RECIPES.items():
                for backend, cls, inputs, targets in (("from_scratch", from_scratch.Network, x, t),
                                                      ("torch_impl", torch_impl.Network, tx, tt)):
                    net = cls(784, 200, 10, lr, dtype=dtype, **keywords)
                    net.set_weights(weights)
                    candidates[name, backend] = stepper(net, inputs, targets, batch)
            calls = args.calls if batch == 1 else max(args.calls // batch * 4, 10)
            r = race(candidates, batch, calls, args.repeats)
            for name in RECIPES:
                ours, theirs = r[name, "from_scratch"]["median"], r[name, "torch_impl"]["median"]
                base_ours, base_theirs = r["SGD", "from_scratch"]["median"], r["SGD", "torch_impl"]["median"]
                ratios[name, dtype, batch] = ours / base_ours
                lines.append(f"{name:<20} {dtype:>8} {batch:5d} {ours:13.1f} {ours / base_ours:6.2f} {theirs:11.1f} "
                             f"{theirs / base_theirs:6.2f}")
    adam = ratios.get(("Adam", args.dtypes[0], 1))
    lines += ["targets (goals, not tests: a MISSED one is reported, and the benchmark still exits 0):",
              _target(f"from_scratch's Adam within 1.5x its plain SGD step, batch 1, {args.dtypes[0]}", adam, "x",
                      adam <= 1.5)]
    if adam > 1.5:
        lines.append("  (plain SGD's step is one pass of BLAS ger over each weight; Adam's is about ten passes of\n"
                     "   NumPy over the weight-sized arrays, one of them a square root, which NumPy computes at\n"
                     "   about a nanosecond per float64 here: the rule as torch.optim writes it, one ufunc a term)")
    return lines


def gpu_table(args) -> list[str]:
    """torch_impl on CUDA at one sample a step: the step as a CUDA graph, and launched op by op."""
    if not torch.cuda.is_available():
        return ["gpu: skipped, no CUDA device"]
    lines = [f"{'hidden':>6} {'dtype':>8} {'graph':>9} {'eager':>9} {'cpu':>9}   (µs per sample, torch_impl, one "
             f"sample a step; target for graph: at most 50)"]
    for dtype in ("float32", "float64"):
        x, t, tx, tt = data(dtype, 200)
        gx, gt = tx.cuda(), tt.cuda()
        for hidden in args.hidden:
            weights = initial_weights(784, hidden, 10, seed=0, dtype=dtype)
            nets = {"graph": torch_impl.Network(784, hidden, 10, LR, dtype=dtype, device="cuda"),
                    "eager": torch_impl.Network(784, hidden, 10, LR, dtype=dtype, device="cuda", cuda_graphs=False),
                    "cpu": torch_impl.Network(784, hidden, 10, LR, dtype=dtype)}
            for net in nets.values():
                net.set_weights(weights)
            r = race({k: stepper(n, tx if k == "cpu" else gx, tt if k == "cpu" else gt) for k, n in nets.items()},
                     1, max(args.calls * 200 // hidden // 2, 50), args.repeats)
            lines.append(f"{hidden:6d} {dtype:>8} {r['graph']['median']:9.1f} {r['eager']['median']:9.1f} "
                         f"{r['cpu']['median']:9.1f}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for BLAS and torch (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="timed stretches per candidate (default 7)")
    parser.add_argument("--calls", type=int, default=2000, help="steps per stretch at hidden 200 (default 2000)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[200, 1000, 2000, 5000])
    parser.add_argument("--only", choices=("targets", "hidden", "batch", "optimizers", "gpu"), nargs="+",
                        default=["targets", "hidden", "batch", "optimizers"], help="which tables (default all but gpu)")
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "float64"), default=["float32", "float64"],
                        help="the optimizers table's dtypes (default both)")
    parser.add_argument("--quick", action="store_true", help="200 steps, 3 repeats")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a speed target is missed (default: report, exit 0)")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.repeats = 200, 3
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        with threadpool_limits(limits=args.threads):
            print(f"threads {args.threads} | {one_line(describe())}")
            tables = {"targets": targets_table, "hidden": hidden_table, "batch": batch_table,
                      "optimizers": optimizers_table, "gpu": gpu_table}
            missed = False
            for name in args.only:
                lines = tables[name](args)
                missed = missed or any(line.lstrip().startswith("MISSED") for line in lines)
                print()
                print("\n".join(lines), flush=True)
    finally:
        torch.set_num_threads(previous)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
