"""Draw the tutorial's two pictures: a test digit, and both backends' outputs for it.

    python docs/make_figures.py            # writes docs/figures/digit.png and outputs.png
    python docs/make_figures.py --out DIR

Needs matplotlib (the ``plot`` extra: ``pip install -e .[plot]``). The networks are the ones
of the tutorial's section 3: 784-200-10, lr 0.1, seed 0, one step for each of the first 1,000
embedded training images, the same loop for both backends.
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
    return [draw_digit(args.out / "digit.png", image, label), draw_outputs(args.out / "outputs.png", outputs, label)]


if __name__ == "__main__":
    for written in main():
        print(written)
