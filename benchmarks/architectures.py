"""Issue 9's figures on full MNIST: the backends agree beyond the book, and the book's rule at depth.

    python benchmarks/architectures.py                  # both parts, full MNIST
    python benchmarks/architectures.py --only agreement --train-limit 2000

agreement: for three architectures, float64, one sample a step, one epoch in file order from
``initial_weights(architecture, seed=0)``, both backends: the largest relative difference of
their parameters (``common.tolerances.relative_difference``), whether their predictions on
every test image are identical, and each one's accuracy.

book: 784-[200, 200]-10, sigmoid, half squared error, lr 0.1 (makeyourownneuralnetwork issue
#84's network), ``BookNetwork`` against the true-gradient ``Network`` from the same weights,
epoch by epoch; and at the book network's weights, before training and after each epoch, the
book's step against the true gradient for each layer, over single training samples: the
cosine of the angle between them and the ratio of their lengths (medians over single samples,
the first test images).

Threads are pinned to 1 (BLAS and torch) before anything runs.
"""
from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

import from_scratch  # noqa: E402
import torch_impl  # noqa: E402
from common.architecture import Architecture  # noqa: E402
from common.data import full_mnist_dir, load_folder, one_hot_targets, scale_inputs  # noqa: E402
from common.tolerances import relative_difference  # noqa: E402
from common.weights import initial_weights  # noqa: E402

AGREEMENT = [  # (label, architecture, lr)
    ("(a)", Architecture(784, [200, 200], 10), 0.1),
    ("(b)", Architecture(784, [128, 64], 10, "relu", "cross_entropy", True), 0.01),
    ("(c)", Architecture(784, [], 10, loss="cross_entropy", bias=True), 0.01),
]
BOOK = Architecture(784, [200, 200], 10)


def build(network_class, architecture: Architecture, lr: float, weights):
    a = architecture
    network = network_class(a.input_nodes, list(a.hidden_nodes), a.output_nodes, lr, a.activation, a.loss,
                              a.bias, dtype="float64")
    network.set_weights(weights)
    return network


def train_epoch(network, inputs, targets) -> float:
    """One sample a step, in order; returns µs per sample."""
    train, begin = network.train, time.perf_counter()
    for i in range(len(inputs)):
        train(inputs[i], targets[i])
    return (time.perf_counter() - begin) / len(inputs) * 1e6


def predictions(network, images) -> np.ndarray:
    return np.argmax(network.query(images), axis=1)


def agreement(data, train_limit: int | None) -> list[str]:
    lines = [f"{'':4} {'architecture':<52} {'lr':>5} {'max rel. diff':>13} {'same answers':>13} "
             f"{'from_scratch':>12} {'torch_impl':>10} {'µs/sample':>16}"]
    images, labels = data.train_images[:train_limit], data.train_labels[:train_limit]
    inputs, test_inputs = scale_inputs(images), scale_inputs(data.test_images)
    for label, architecture, lr in AGREEMENT:
        targets = one_hot_targets(labels, values=architecture.target_values)
        weights = initial_weights(architecture, seed=0)
        mine = build(from_scratch.Network, architecture, lr, weights)
        theirs = build(torch_impl.Network, architecture, lr, weights)
        mine_us = train_epoch(mine, inputs, targets)
        theirs_us = train_epoch(theirs, torch.from_numpy(inputs), torch.from_numpy(targets))
        difference = max(relative_difference(a, b) for a, b in zip(mine.get_weights(), theirs.get_weights()))
        answers_mine, answers_theirs = predictions(mine, test_inputs), predictions(theirs, test_inputs)
        same = int(np.sum(answers_mine == answers_theirs))
        lines.append(f"{label:4} {architecture.describe():<52} {lr:5g} {difference:13.2e} "
                     f"{same:>6}/{len(answers_mine):<6} {np.mean(answers_mine == data.test_labels):12.2%} "
                     f"{np.mean(answers_theirs == data.test_labels):10.2%} {mine_us:7.0f} {theirs_us:8.0f}")
    return lines


def book_against_gradient(book, probe, inputs, targets, samples: int) -> list[tuple[float, float]]:
    """Per layer: median cosine and median length ratio of the book's step against the true
    gradient, each at the book network's weights, over single samples."""
    probe.set_weights(book.get_weights())
    cosines, ratios = [], []
    for i in range(samples):
        steps, gradients = book.gradients(inputs[i], targets[i]), probe.gradients(inputs[i], targets[i])
        cosines.append([np.vdot(s, g) / (np.linalg.norm(s) * np.linalg.norm(g)) for s, g in zip(steps, gradients)])
        ratios.append([np.linalg.norm(s) / np.linalg.norm(g) for s, g in zip(steps, gradients)])
    return list(zip(np.median(cosines, axis=0), np.median(ratios, axis=0)))


def book_rule(data, train_limit: int | None, epochs: int, samples: int) -> list[str]:
    images, labels = data.train_images[:train_limit], data.train_labels[:train_limit]
    inputs, targets = scale_inputs(images), one_hot_targets(labels)
    test_inputs = scale_inputs(data.test_images)
    weights = initial_weights(BOOK, seed=0)
    book, true = build(from_scratch.BookNetwork, BOOK, 0.1, weights), build(from_scratch.Network, BOOK, 0.1, weights)
    probe = build(from_scratch.Network, BOOK, 0.1, weights)
    names = BOOK.parameter_names()
    # the probe samples: the first test images, on which neither network has trained
    probe_inputs, probe_targets = test_inputs[:samples], one_hot_targets(data.test_labels[:samples])
    lines = [f"{BOOK.describe()}, lr 0.1, one sample a step, {len(inputs):,} samples an epoch",
             f"{'epoch':>5} {'book rule':>10} {'gradient':>9}   book step against the true gradient at the book's "
             f"weights (median over {samples} samples): cosine, length ratio per layer"]
    for epoch in range(epochs + 1):
        if epoch:
            train_epoch(book, inputs, targets)
            train_epoch(true, inputs, targets)
        accuracy = [np.mean(predictions(n, test_inputs) == data.test_labels) for n in (book, true)]
        layers = book_against_gradient(book, probe, probe_inputs, probe_targets, samples)
        cells = "  ".join(f"{name} {c:.3f} x{r:.2f}" for name, (c, r) in zip(names, layers))
        lines.append(f"{epoch:5d} {accuracy[0]:10.2%} {accuracy[1]:9.2%}   {cells}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/architectures.py", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="MNIST folder (default: common.data.full_mnist_dir())")
    parser.add_argument("--only", choices=("agreement", "book"), nargs="+", default=["agreement", "book"],
                        help="which parts (default both)")
    parser.add_argument("--train-limit", type=int, default=None, help="training samples an epoch (default all)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the book-rule part (default 3)")
    parser.add_argument("--samples", type=int, default=200, help="samples for each cosine (default 200)")
    args = parser.parse_args(argv)
    folder = args.data or full_mnist_dir()
    if folder is None:
        parser.error("full MNIST not found; give --data FOLDER")
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        data = load_folder(folder)
        print(f"{data.source}: {len(data.train_labels):,} train, {len(data.test_labels):,} test; float64; "
              f"threads 1 (BLAS and torch {torch.__version__})")
        if "agreement" in args.only:
            print("\n".join(agreement(data, args.train_limit)), flush=True)
        if "book" in args.only:
            print("\n".join(book_rule(data, args.train_limit, args.epochs, args.samples)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
