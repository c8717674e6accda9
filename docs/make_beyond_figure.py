"""Draw the picture of docs/beyond-the-book.md: the book's rule against the gradient, per layer.

    python docs/make_beyond_figure.py          # writes docs/figures/book-rule-depth.png
    python docs/make_beyond_figure.py --out DIR

Needs matplotlib (the ``plot`` extra). A 784-200-200-10 sigmoid network (seed 0, lr 0.1)
learns by the book's rule (``from_scratch.BookNetwork``), one sample a step, over the 6,000
embedded training images. Every 250 steps, at its weights, the book's step for each of 100
held-out samples (the first test images) is compared with the true gradient there
(``from_scratch.Network.gradients``): the median cosine and length ratio for each layer.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, uninstalled

import from_scratch  # noqa: E402
from common.data import load_embedded, one_hot_targets, scale_inputs  # noqa: E402

FIGURES = Path(__file__).resolve().with_name("figures")
HIDDEN, LR, EVERY, PROBES = [200, 200], 0.1, 250, 100


def book_against_gradient(book, probe, inputs, targets) -> np.ndarray:
    """``(layers, 2)``: median cosine and median length ratio of the book's step against the gradient."""
    probe.set_weights(book.get_weights())
    found = []
    for x, t in zip(inputs, targets):
        pairs = [(s.ravel(), g.ravel()) for s, g in zip(book.gradients(x, t), probe.gradients(x, t))]
        found.append([[s @ g / (np.linalg.norm(s) * np.linalg.norm(g)), np.linalg.norm(s) / np.linalg.norm(g)]
                      for s, g in pairs])
    return np.median(found, axis=0)


def measure(data) -> tuple[list[int], np.ndarray]:
    inputs, targets = scale_inputs(data.train_images), one_hot_targets(data.train_labels)
    probe_inputs, probe_targets = scale_inputs(data.test_images[:PROBES]), one_hot_targets(data.test_labels[:PROBES])
    book = from_scratch.BookNetwork(784, HIDDEN, 10, LR, seed=0)
    probe = from_scratch.Network(784, HIDDEN, 10, LR)
    steps, found = [0], [book_against_gradient(book, probe, probe_inputs, probe_targets)]
    for i, (x, t) in enumerate(zip(inputs, targets), start=1):
        book.train(x, t)
        if i % EVERY == 0:
            steps.append(i)
            found.append(book_against_gradient(book, probe, probe_inputs, probe_targets))
    return steps, np.array(found)


def draw(path: Path, steps: list[int], found: np.ndarray, names: list[str]) -> Path:
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 5.5), sharex=True)
    for layer, name in enumerate(names):
        top.plot(steps, found[:, layer, 0], label=name)
        bottom.plot(steps, found[:, layer, 1], label=name)
    top.set_ylabel("cosine with the gradient")
    bottom.set_ylabel("length / gradient's length")
    bottom.set_yscale("log")
    bottom.set_xlabel("training samples (one step each)")
    top.set_title("784-200-200-10 by the book's rule: its step against the true gradient")
    top.legend(loc="lower left")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description="Draw the picture of docs/beyond-the-book.md.")
    parser.add_argument("--out", type=Path, default=FIGURES, help=f"folder to write into (default {FIGURES})")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(limits=1):
        steps, found = measure(load_embedded())
    for step, row in zip(steps, found):
        print(step, " ".join(f"{c:.3f} x{r:.1f}" for c, r in row))
    names = from_scratch.Network(784, HIDDEN, 10, LR).architecture.parameter_names()
    return draw(args.out / "book-rule-depth.png", steps, found, names)


if __name__ == "__main__":
    print(main())
