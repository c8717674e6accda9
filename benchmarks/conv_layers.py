"""LeNet-5's training step: from_scratch.Network against torch_impl.Network, and the bare kernels against torch eager.

    env -u OPENBLAS_CORETYPE python benchmarks/conv_layers.py           # batch 1 and 64
    env -u OPENBLAS_CORETYPE python benchmarks/conv_layers.py --quick   # fewer steps and repeats

Every candidate trains the same network from the same weights on the same digits, float32, one
thread (BLAS and torch): conv 6×5 pad 2 → relu → 2×2 max pool → conv 16×5 → relu → pool →
flatten → dense 400-120-84-10 with relu, softmax cross-entropy, one plain SGD step:

- ``from_scratch.Network(784, [120, 84], 10, conv=((6, 5, 2), (16, 5, 0)), ...)`` and
  ``torch_impl.Network`` with the same arguments: the library's two backends, as ``python -m
  compare --conv 6x5p2,16x5 --hidden 120,84`` races them. Their ratio is the one issue 16's
  targets are about.
- the same LeNet from from_scratch's conv kernels with its dense layers written out here
  (:class:`ScratchLeNet`), and torch eager written as a torch user writes it
  (:class:`TorchLeNet`: ``nn.Sequential`` of ``nn.Conv2d``, ``nn.MaxPool2d`` and ``nn.Linear``,
  then ``zero_grad``, forward, loss, ``backward``, ``optimizer.step()``): what the classes'
  generality costs, or saves, beside them.

Before anything is timed, one step of each pair from identical weights is compared (L and the
gradient of every parameter, at float32's ``single`` tolerance), so that no side wins the race
by doing less; tests/test_conv_layers.py runs the same check. The candidates then run
interleaved (A, B, C, D, A, B, ...) in this one process; each figure is the median over repeats
of a timed stretch of steps, in µs per sample. Issue 16's targets, from_scratch.Network's time
over torch_impl.Network's: at most 1.0 at batch 1 and 1.5 at batch 64. They are goals, not
tests: the script reports them and exits 0. Unset OPENBLAS_CORETYPE for this command, if it is
set, to let OpenBLAS pick the kernel for this processor; the first line says which BLAS ran.

The last two columns count the minor page faults of a step of each library network: memory
that the allocator gave back to the system and faulted in again. glibc serves a block above its
mmap threshold (128 KB, rising to 32 MB as blocks are freed) by mmap and unmaps it when freed, so
a step that allocates many large arrays pays for every page of each, every step;
``MALLOC_MMAP_THRESHOLD_=4000000000 MALLOC_TRIM_THRESHOLD_=4000000000`` before the command keeps
them in the heap instead, and shows what the faults cost.
"""
from __future__ import annotations

import os

if __name__ == "__main__":  # one thread, before NumPy and torch load (not when a test imports this)
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

import from_scratch  # noqa: E402
import torch_impl  # noqa: E402
from benchmarks.bench import race  # noqa: E402
from common.data import load_embedded, one_hot_targets, scale_inputs  # noqa: E402
from common.tolerances import relative_difference, tolerance  # noqa: E402
from compare.race.environment import describe, one_line  # noqa: E402
from from_scratch.layers.conv import conv_backward, conv_forward  # noqa: E402
from from_scratch.losses import cross_entropy  # noqa: E402
from from_scratch.layers.maxpool import maxpool_backward, maxpool_forward  # noqa: E402

LR = 0.01
TARGETS = {1: 1.0, 64: 1.5}  # batch: the most from_scratch.Network's time per step may be, over torch_impl's
LENET = dict(activation="relu", loss="cross_entropy", bias=True, conv=((6, 5, 2), (16, 5, 0)), dtype="float32")


def torch_lenet() -> nn.Sequential:
    """LeNet-5 for 28×28 digits, the first conv padded by 2 (as the 32×32 inputs of 1998)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class TorchLeNet:
    """The canonical torch training step on :func:`torch_lenet`, plain SGD."""

    def __init__(self, parameters: list[np.ndarray], lr: float) -> None:
        self.model = torch_lenet()
        with torch.no_grad():
            for p, value in zip(self.model.parameters(), parameters):
                p.copy_(torch.from_numpy(value))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.loss_function = nn.CrossEntropyLoss()

    def train(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        self.optimizer.zero_grad()
        loss = self.loss_function(self.model(images), labels)
        loss.backward()
        self.optimizer.step()
        return loss.item()


class ScratchLeNet:
    """The same LeNet from from_scratch's kernels, its dense layers written out here.

    relu and the max pool commute (relu is monotone: the largest of four relu'd numbers is relu
    of the largest), so each conv block pools first and applies relu to the pooled map, a
    quarter of the size; its backward pass masks dL/dy by ``y > 0`` before the pool's backward.
    Parameters are in nn.Sequential's order, each laid out as torch's.
    """

    def __init__(self, parameters: list[np.ndarray], lr: float) -> None:
        self.params = [p.copy() for p in parameters]
        self.lr = lr
        self.conv1 = self.conv2 = None  # the last step's caches: the next step reuses their im2col buffers

    def gradients(self, images: np.ndarray, targets: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """L (the batch mean) and dL/d(every parameter), for images (n, 1, 28, 28), one-hot targets (n, 10)."""
        c1_w, c1_b, c2_w, c2_b, *dense = self.params
        n = images.shape[0]
        z1, self.conv1 = conv_forward(images, c1_w, c1_b, padding=2, reuse=self.conv1)  # (n, 6, 28, 28)
        h1, pool1 = maxpool_forward(z1)  # (n, 6, 14, 14)
        np.maximum(h1, 0, out=h1)
        z2, self.conv2 = conv_forward(h1, c2_w, c2_b, reuse=self.conv2)  # (n, 16, 10, 10)
        h2, pool2 = maxpool_forward(z2)  # (n, 16, 5, 5)
        np.maximum(h2, 0, out=h2)
        a = h2.reshape(n, 400)  # flatten in (C, H, W) order
        layer_inputs = []
        for i in range(0, len(dense), 2):  # z = a Wᵀ + b; relu, except on the logits
            W, b = dense[i], dense[i + 1]
            layer_inputs.append(a)
            a = np.dot(a, W.T)
            a += b
            if i < len(dense) - 2:
                np.maximum(a, 0, out=a)
        _, loss, dz = cross_entropy(a, targets)  # dL/dz_o = o − t, each sample's
        dz /= n  # L is the batch mean
        dense_grads = []
        for i in range(len(dense) - 2, -1, -2):  # from the logits down
            W, a = dense[i], layer_inputs[i // 2]
            dense_grads[:0] = [np.dot(dz.T, a), dz.sum(axis=0)]  # dL/dW = dL/dzᵀ a, dL/db
            dz = np.dot(dz, W)  # dL/da = dL/dz W
            dz *= a > 0  # through the relu below (the pooled map's, for the first dense layer)
        dz2 = maxpool_backward(dz.reshape(h2.shape), pool2)
        dh1, dc2_w, dc2_b = conv_backward(dz2, self.conv2)
        dh1 *= h1 > 0
        dz1 = maxpool_backward(dh1, pool1)
        _, dc1_w, dc1_b = conv_backward(dz1, self.conv1, need_dx=False)  # no dL/d(images)
        return loss, [dc1_w, dc1_b, dc2_w, dc2_b] + dense_grads

    def train(self, images: np.ndarray, targets: np.ndarray) -> float:
        """One SGD step, p -= lr dL/dp; returns L before it."""
        loss, grads = self.gradients(images, targets)
        for p, g in zip(self.params, grads):
            p -= self.lr * g
        return loss


def data(batch: int, steps: int):
    """``steps`` batches of real digits, as NumPy and as torch: images, one-hot targets, labels."""
    embedded = load_embedded()
    rows = batch * steps
    images = scale_inputs(embedded.train_images[:rows], "float32").reshape(rows, 1, 28, 28)
    labels = embedded.train_labels[:rows].astype(np.int64)
    targets = one_hot_targets(labels, "float32", values=(0.0, 1.0))
    return images, targets, torch.from_numpy(images), torch.from_numpy(labels)


def same_step(batch: int) -> tuple[float, str]:
    """One step of each from the same weights: the largest relative difference of L and of the gradients."""
    torch.manual_seed(batch)
    parameters = [p.detach().numpy().copy() for p in torch_lenet().parameters()]
    images, targets, timages, tlabels = data(batch, 1)
    mine, theirs = ScratchLeNet(parameters, LR), TorchLeNet(parameters, LR)
    loss, grads = mine.gradients(images, targets)
    torch_loss = theirs.train(timages, tlabels)  # leaves this step's gradients in each .grad
    worst = max([abs(loss - torch_loss) / abs(torch_loss)]
                + [relative_difference(g, p.grad.numpy()) for g, p in zip(grads, theirs.model.parameters())])
    return worst, f"batch {batch:>2}: L and every gradient agree with torch's to {worst:.2g} (relative)"


def library_networks(parameters: list[np.ndarray]):
    """from_scratch.Network and torch_impl.Network built as LeNet-5, both loaded with ``parameters``."""
    networks = (from_scratch.Network(784, [120, 84], 10, LR, **LENET), torch_impl.Network(784, [120, 84], 10, LR, **LENET))
    for network in networks:
        network.set_weights(parameters)
    return networks


def same_network_step(batch: int) -> tuple[float, str]:
    """The library's two networks from the same weights: the largest relative difference of L and of
    the gradients of one step."""
    torch.manual_seed(batch)
    parameters = [p.detach().numpy().copy() for p in torch_lenet().parameters()]
    images, targets, _, _ = data(batch, 1)
    rows = images.reshape(batch, 784)
    mine, theirs = library_networks(parameters)
    worst = max(relative_difference(a, b) for a, b in zip(mine.gradients(rows, targets), theirs.gradients(rows, targets)))
    loss, torch_loss = mine.train(rows, targets), theirs.train(rows, targets)
    worst = max(worst, abs(loss - torch_loss) / abs(torch_loss))
    return worst, (f"batch {batch:>2}: from_scratch.Network's L and gradients agree with torch_impl.Network's to "
                   f"{worst:.2g} (relative)")


def steppers(batch: int, steps: int):
    """``step(i)`` for each candidate: one training step on the i-th of ``steps`` batches, cycling.
    The library's networks take rows of 784 pixels (one sample a step: one row), the kernels images."""
    torch.manual_seed(0)
    parameters = [p.detach().numpy().copy() for p in torch_lenet().parameters()]
    images, targets, timages, tlabels = data(batch, steps)
    rows, trows, ttargets = images.reshape(-1, 784), timages.reshape(-1, 784), torch.from_numpy(targets)
    ours, twin = library_networks(parameters)
    mine, theirs = ScratchLeNet(parameters, LR), TorchLeNet(parameters, LR)
    span = [slice(i * batch, (i + 1) * batch) if batch > 1 else i for i in range(steps)]
    batches = [(images[i * batch:(i + 1) * batch], targets[i * batch:(i + 1) * batch]) for i in range(steps)]
    tbatches = [(timages[i * batch:(i + 1) * batch], tlabels[i * batch:(i + 1) * batch]) for i in range(steps)]
    return {"from_scratch.Network": lambda i: ours.train(rows[span[i % steps]], targets[span[i % steps]]),
            "torch_impl.Network": lambda i: twin.train(trows[span[i % steps]], ttargets[span[i % steps]]),
            "from_scratch": lambda i: mine.train(*batches[i % steps]),
            "torch eager": lambda i: theirs.train(*tbatches[i % steps])}


def page_faults(step, calls: int) -> float:
    """Minor page faults per call of ``step``: memory the allocator handed back to the system and
    took again, each page faulted in afresh (0 where buffers are reused)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(calls):
        step(i)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def cuda_lines(args) -> list[str]:
    """torch_impl.Network's LeNet on CUDA, its step as a CUDA graph and launched op by op, beside the CPU."""
    if not torch.cuda.is_available():
        return ["cuda: skipped, no CUDA device"]
    lines = [f"{'batch':>5} {'cuda graph':>11} {'cuda eager':>11} {'cpu':>9} {'from_scratch':>13}   (torch_impl.Network, "
             "µs per sample, float32)"]
    for batch in args.batch:
        torch.manual_seed(0)
        parameters = [p.detach().numpy().copy() for p in torch_lenet().parameters()]
        steps = max(1, min(50, 6000 // batch))  # the embedded set's 6,000 images
        images, targets, _, _ = data(batch, steps)
        rows, trows = images.reshape(-1, 784), torch.from_numpy(images.reshape(-1, 784))
        graph = torch_impl.Network(784, [120, 84], 10, LR, device="cuda", **LENET)
        eager = torch_impl.Network(784, [120, 84], 10, LR, device="cuda", cuda_graphs=False, **LENET)
        ours, cpu = library_networks(parameters)
        for network in (graph, eager):
            network.set_weights(parameters)
        gpu = {"x": trows.cuda(), "t": torch.from_numpy(targets).cuda()}
        span = [slice(i * batch, (i + 1) * batch) if batch > 1 else i for i in range(steps)]
        r = race({"graph": lambda i: graph.train(gpu["x"][span[i % steps]], gpu["t"][span[i % steps]]),
                  "eager": lambda i: eager.train(gpu["x"][span[i % steps]], gpu["t"][span[i % steps]]),
                  "cpu": lambda i: cpu.train(trows[span[i % steps]], torch.from_numpy(targets)[span[i % steps]]),
                  "from_scratch": lambda i: ours.train(rows[span[i % steps]], targets[span[i % steps]])},
                 batch, max(args.calls // (1 if batch == 1 else 10), 2), args.repeats)
        lines.append(f"{batch:5d} {r['graph']['median']:11.1f} {r['eager']['median']:11.1f} {r['cpu']['median']:9.1f} "
                     f"{r['from_scratch']['median']:13.1f}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/conv_layers.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed stretches per candidate (default 9)")
    parser.add_argument("--calls", type=int, default=400, help="steps per stretch at batch 1, a tenth at 64 "
                                                               "(default 400)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64], help="batch sizes (default 1 64)")
    parser.add_argument("--quick", action="store_true", help="100 steps, 3 repeats")
    parser.add_argument("--cuda", action="store_true", help="also torch_impl.Network on a CUDA device, as a CUDA graph "
                                                            "and eager (benchmarks/gpu_sweep.sh)")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.repeats = 100, 3
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        print(f"threads 1 | {one_line(describe())}")
        for batch in args.batch:
            for check in (same_step, same_network_step):
                worst, line = check(batch)
                print(line)
                if not worst <= tolerance("float32").single:
                    raise AssertionError(f"from_scratch's LeNet does not compute torch's: {line}")
        print(f"\n{'':5} {'the library (python -m compare)':^44} {'the bare loops':^31} {'page faults':^15}\n"
              f"{'batch':>5} {'from_scratch':>13} {'torch_impl':>11} {'ratio':>6} {'target':>11} {'kernels':>11} "
              f"{'torch eager':>12} {'ratio':>6} {'ours':>7} {'torch':>7}   (µs per sample, median of interleaved "
              "runs, float32, 1 thread; page faults per step)")
        for batch in args.batch:
            calls = max(args.calls // (1 if batch == 1 else 10), 2)
            candidates = steppers(batch, max(1, min(50, 6000 // batch)))  # of the embedded set's 6,000 images
            r = race(candidates, batch, calls, args.repeats)
            ours, twin, mine, theirs = (r[k]["median"] for k in ("from_scratch.Network", "torch_impl.Network",
                                                                 "from_scratch", "torch eager"))
            faults = [page_faults(candidates[k], calls) for k in ("from_scratch.Network", "torch_impl.Network")]
            ratio, target = ours / twin, TARGETS.get(batch)
            verdict = "" if target is None else f"{target:.1f}x {'met' if ratio <= target else 'MISSED'}"
            print(f"{batch:5d} {ours:13.1f} {twin:11.1f} {ratio:6.2f} {verdict:>11} {mine:11.1f} {theirs:12.1f} "
                  f"{mine / theirs:6.2f} {faults[0]:7.0f} {faults[1]:7.0f}", flush=True)
        if args.cuda:
            print("\n" + "\n".join(cuda_lines(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
