"""Draw the tutorial's pictures, each from the code it shows.

    python docs/make_figures.py            # writes the four PNG files into docs/figures/
    python docs/make_figures.py --out DIR

- ``digit.png``: test image 0 of the embedded data;
- ``outputs.png``: both backends' outputs for it, after the training of lesson 4 (784-200-10,
  lr 0.1, seed 0, one step for each of the first 1,000 embedded training images, the same
  loop for both backends);
- ``autograd_graph.png``: the graph autograd records for one training step of
  ``torch_impl.Network``, walked from ``loss.grad_fn`` through ``next_functions`` (lesson 4);
- ``compare_plot.png``: the ``--plot`` panels of a short ``run_comparison`` (lesson 8).

Needs matplotlib (the ``plot`` extra: ``pip install -e .[plot]``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, uninstalled

import from_scratch  # noqa: E402
import torch_impl  # noqa: E402
from common.data import load_embedded, one_hot_targets, scale_inputs  # noqa: E402

FIGURES = Path(__file__).resolve().with_name("figures")
TRAIN_IMAGES = 1000
TEST_INDEX = 0


def trained_networks(data) -> list:
    """Both backends from the same seed, trained on the same samples in the same order."""
    inputs = scale_inputs(data.train_images[:TRAIN_IMAGES])
    targets = one_hot_targets(data.train_labels[:TRAIN_IMAGES])
    networks = [from_scratch.Network(784, 200, 10, 0.1, seed=0), torch_impl.Network(784, 200, 10, 0.1, seed=0)]
    for network in networks:
        for one_input, one_target in zip(inputs, targets):
            network.train(one_input, one_target)
    return networks


def draw_digit(path: Path, image: np.ndarray, label: int) -> Path:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3, 3.2))
    axes.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
    axes.set_title(f"test image {TEST_INDEX}: a {label}")
    axes.set_axis_off()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def draw_outputs(path: Path, outputs: dict[str, np.ndarray], label: int) -> Path:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3))
    digits, width = np.arange(10), 0.4
    for offset, (name, values) in zip((-width / 2, width / 2), outputs.items()):
        axes.bar(digits + offset, values, width, label=name)
    axes.set_xticks(digits)
    axes.set_xlabel("output node (digit)")
    axes.set_ylabel("output o")
    axes.set_ylim(0, 1)
    axes.set_title(f"outputs for test image {TEST_INDEX} (a {label}) after {TRAIN_IMAGES:,} training images")
    axes.legend(loc="upper left")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def backward_graph(loss: torch.Tensor) -> tuple[list[tuple[int, str]], list[tuple[int, int]]]:
    """The nodes ``(depth, label)`` and edges ``(from, to)`` of the graph behind ``loss``.

    Walks ``grad_fn.next_functions`` from the loss, as ``backward()`` does; a node reached
    twice is drawn once. An ``AccumulateGrad`` leaf is labelled with its weight's shape.
    """
    nodes: list[tuple[int, str]] = []
    edges: list[tuple[int, int]] = []
    index: dict[int, int] = {}

    def visit(node, depth: int) -> int:
        if id(node) not in index:
            label = type(node).__name__
            if hasattr(node, "variable"):
                label += "\n" + "x".join(str(n) for n in node.variable.shape)
            index[id(node)] = len(nodes)
            nodes.append((depth, label))
            for parent, _ in node.next_functions:
                if parent is not None:
                    edges.append((index[id(node)], visit(parent, depth + 1)))
        return index[id(node)]

    visit(loss.grad_fn, 0)
    return nodes, edges


def one_step_loss(data) -> torch.Tensor:
    """The loss of one ``torch_impl.Network`` training step on training image 0, graph attached."""
    network = torch_impl.Network(784, 200, 10, 0.1, seed=0)
    inputs = torch.from_numpy(scale_inputs(data.train_images[0])).unsqueeze(0)  # a one-row batch, as train does
    targets = torch.from_numpy(one_hot_targets(data.train_labels[0])).unsqueeze(0)
    return network.loss_function(network.model(inputs), targets)


def draw_autograd_graph(path: Path, loss: torch.Tensor) -> Path:
    import matplotlib.pyplot as plt

    nodes, edges = backward_graph(loss)
    children: dict[int, list[int]] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
    x: dict[int, float] = {}

    def place(node: int, next_leaf: list[float]) -> float:  # leaves left to right, parents centred
        if node not in x:
            below = [place(child, next_leaf) for child in children.get(node, [])]
            if below:
                x[node] = sum(below) / len(below)
            else:
                x[node], next_leaf[0] = next_leaf[0], next_leaf[0] + 1
        return x[node]

    place(0, [0.0])
    depth = max(d for d, _ in nodes)
    figure, axes = plt.subplots(figsize=(2.2 * (max(x.values()) + 1) + 1, 0.9 * (depth + 1) + 0.8))
    for parent, child in edges:
        axes.annotate("", xy=(x[child], -nodes[child][0] + 0.25), xytext=(x[parent], -nodes[parent][0] - 0.25),
                      arrowprops={"arrowstyle": "->", "color": "0.4"})
    for number, (level, label) in enumerate(nodes):
        leaf = label.startswith("AccumulateGrad")
        axes.text(x[number], -level, label, ha="center", va="center", fontsize=9, family="monospace",
                  bbox={"boxstyle": "round", "facecolor": "#ffe9b3" if leaf else "#dcecff", "edgecolor": "0.5"})
    axes.set_xlim(-0.8, max(x.values()) + 0.8)
    axes.set_ylim(-depth - 0.6, 0.6)
    axes.set_axis_off()
    axes.set_title("autograd's graph of one training step, walked from loss.grad_fn\n"
                   "(backward() runs top to bottom; AccumulateGrad adds into W.grad)", fontsize=10)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def draw_compare_plot(path: Path) -> Path:
    """``--plot``'s panels, drawn by ``compare`` itself for a short run."""
    from compare import run_comparison

    run_comparison(train_limit=1000, test_limit=200, check_every=100, plot_path=path, quiet=True)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description="Draw the tutorial's pictures.")
    parser.add_argument("--out", type=Path, default=FIGURES, help=f"folder to write into (default {FIGURES})")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_embedded()
    image, label = data.test_images[TEST_INDEX], int(data.test_labels[TEST_INDEX])
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread each, as in the tutorial: faster for matrices this small
    try:
        with threadpool_limits(limits=1):
            numpy_net, torch_net = trained_networks(data)
    finally:
        torch.set_num_threads(torch_threads)
    inputs = scale_inputs(image)
    outputs = {"from_scratch (NumPy)": numpy_net.query(inputs), "torch_impl (PyTorch)": torch_net.query(inputs)}
    return [draw_digit(args.out / "digit.png", image, label), draw_outputs(args.out / "outputs.png", outputs, label),
            draw_autograd_graph(args.out / "autograd_graph.png", one_step_loss(data)),
            draw_compare_plot(args.out / "compare_plot.png")]


if __name__ == "__main__":
    for written in main():
        print(written)
