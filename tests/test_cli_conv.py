"""``python -m compare --conv``: a convolutional network raced through every check, each naming its
convolution layers (gradients, steps, trajectories and their sensitivity, saturation, --plot, the
JSON, --save); every bad --conv as one sentence and exit 2; --rule book refused.

The runs go through ``compare.race.cli.main`` in this process, on a small network and a few hundred
images, so that each takes a fraction of a second after the first.
"""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from common.architecture import Architecture
from common.weights import load_weights
from compare.race.cli import EXIT_DISAGREE, EXIT_OK, EXIT_USAGE, main
from compare.race.saturation import saturation
from from_scratch import Network

CONV = ("--conv", "4x5p2,6x3", "--hidden", "20", "--activation", "relu", "--loss", "cross-entropy", "--bias",
        "--lr", "0.05")
SMALL = ("--train-limit", "300", "--test-limit", "100", "--check-every", "100")
ARCHITECTURE = Architecture(784, 20, 10, "relu", "cross_entropy", True, conv=((4, 5, 2), (6, 3, 0)))
CONV_LAYERS = ["W_conv1", "b_conv1", "W_conv2", "b_conv2"]


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    """One race with --json, --save and --plot: its exit code, report and folder."""
    folder, report = tmp_path_factory.mktemp("conv_run"), io.StringIO()
    with contextlib.redirect_stdout(report):
        code = main([*CONV, *SMALL, "--json", str(folder / "record.json"), "--save", str(folder / "saved"),
                     "--plot", str(folder / "run.png")])
    return code, report.getvalue(), folder


def test_a_conv_network_races_and_agrees_with_its_conv_layers_in_every_check(conv_run):
    code, report, folder = conv_run
    assert code == EXIT_OK, report
    record = json.loads((folder / "record.json").read_text())
    assert record["config"]["conv"] == [[4, 5, 2], [6, 3, 0]]
    assert record["runs"][0]["architecture"]["conv"] == [[4, 5, 2], [6, 3, 0]]
    assert report.startswith("784-conv4x5p2-conv6x3-20-10, relu, softmax cross-entropy, bias, lr 0.05")
    for kind in ("gradient", "step", "weights"):
        layers = [c["layer"] for c in record["agreement"]["checks"] if c["kind"] == kind]
        assert layers[:4] == CONV_LAYERS and len(layers) == 3 * 8, kind  # 8 parameters at steps 0, 100 and 200
    assert record["agreement"]["passed"] and record["agreement"]["predictions"]["torch_impl"]["identical"] == 100


def test_saved_conv_weights_load_for_their_architecture_only(conv_run):
    _, _, folder = conv_run
    weights = load_weights(folder / "saved" / "torch_impl.npz", ARCHITECTURE)
    assert [w.shape for w in weights] == ARCHITECTURE.parameter_shapes()
    network = Network(784, 20, 10, 0.05, "relu", "cross_entropy", True, conv=((4, 5, 2), (6, 3, 0)))
    network.set_weights(weights)
    with pytest.raises(Exception, match="convolutions none here, 4x5p2,6x3 in the file"):
        load_weights(folder / "saved" / "torch_impl.npz", Architecture(784, 20, 10, "relu", "cross_entropy", True))


def test_the_plot_of_a_conv_run_is_written(conv_run):
    _, _, folder = conv_run
    assert (folder / "run.png").stat().st_size > 10_000


def test_a_sweep_of_conv_networks_names_each_by_its_dense_layers(tmp_path, capsys):
    code = main([*CONV[:2], "--hidden", "20", "none", *CONV[4:], "--train-limit", "100", "--test-limit", "50",
                 "--json", str(tmp_path / "sweep.json")])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert out.startswith("784-{conv4x5p2-conv6x3-20 | conv4x5p2-conv6x3}-10, relu, softmax cross-entropy, bias")
    record = json.loads((tmp_path / "sweep.json").read_text())
    assert [row["architecture"] for row in record["sweep"]] == [
        "784-conv4x5p2-conv6x3-20-10, relu, softmax cross-entropy, bias",
        "784-conv4x5p2-conv6x3-10, relu, softmax cross-entropy, bias"]


def test_a_drift_planted_in_a_conv_layer_is_caught_and_measured_against_rounding(tmp_path, capsys):
    """tests.planted's NudgedAt200 scales the first filter of conv1 by 1.001 at step 200: the weights part
    at the next check, beyond what this run's rounding explains, measured layer by layer."""
    code = main(["--backends", "torch_impl", "tests.planted:NudgedAt200", *CONV, "--lr", "0.01",
                 "--train-limit", "400", "--test-limit", "50", "--check-every", "100",
                 "--json", str(tmp_path / "record.json")])
    out = capsys.readouterr().out
    assert code == EXIT_DISAGREE, out
    record = json.loads((tmp_path / "record.json").read_text())
    failures = record["agreement"]["failures"]
    assert {f["kind"] for f in failures} == {"weights"} and {f["step"] for f in failures} == {300}
    assert "W_conv1" in {f["layer"] for f in failures}
    (measured,) = record["agreement"]["sensitivity"]
    assert measured["layers"][:4] == CONV_LAYERS and not measured["explained"]
    assert "The backends disagree: weights" in record["message"]


def test_saturation_counts_a_conv_layers_dead_units():
    """ReLU conv units that are 0 on every image: every entry of conv1's map, where its biases are far
    below what any image reaches."""
    network = Network(784, 20, 10, 0.05, "relu", "cross_entropy", True, conv=((4, 5, 2), (6, 3, 0)), seed=0)
    weights = network.get_weights()
    weights[1] = np.full(4, -100.0)  # b_conv1
    rng = np.random.default_rng(0)
    measured = saturation(weights, ARCHITECTURE, rng.uniform(0.01, 1.0, (50, 784)), 0.5, np.arange(50) % 10)
    assert measured["saturated"] and measured["hidden_pinned"] == 1.0
    alive = saturation(network.get_weights(), ARCHITECTURE, rng.uniform(0.01, 1.0, (50, 784)), 0.5, np.arange(50) % 10)
    assert not alive["saturated"] and alive["hidden_pinned"] < 0.5


@pytest.mark.parametrize("option, said", [
    (("--conv", "6x"), "argument --conv: must be convolution layers CxK or CxKpP separated by commas (C filters of "
                       "KxK, padding P, C and K >= 1), e.g. 6x5p2,16x5; got '6x' (see --help)"),
    (("--conv", "6x5,p2"), "got '6x5,p2'"),
    (("--conv", "0x5"), "got '0x5'"),
    (("--conv", "6x29"), "--conv shrinks the image below a kernel: conv1 (6x29) gets a 28x28 image (28x28 with its "
                         "padding 0), smaller than its 29x29 kernel."),
    (("--conv", "6x5,6x5,6x5"), "--conv shrinks the image below a kernel: conv3 (6x5) gets a 4x4 image"),
    (("--conv", "6x27"), None),  # 2x2 before the pool: just large enough, accepted
    (("--conv", "6x28"), "--conv shrinks the image below the pool: conv1 (6x28) leaves a 1x1 image, smaller than "
                         "the 2x2 max pool that follows it."),
    (("--conv", "6x5p2", "--rule", "book"), "--rule book is the book's rule, defined for fully connected layers "
                                            "only; got --conv 6x5p2."),
    (("--conv", "6x5", "--backends", "torch_impl", "tests.gallery:RowNetwork"),
     "RowNetwork() takes no 'conv' argument, so it cannot be built as 784-conv6x5-200-10"),
])
def test_bad_conv_options_are_one_sentence_and_exit_2(capsys, option, said):
    try:
        code = main([*option, "--train-limit", "10", "--test-limit", "10", "--quiet"])
    except SystemExit as exit:  # argparse's own errors end the command there, as on the command line
        code = exit.code
    captured = capsys.readouterr()
    if said is None:
        assert code == EXIT_OK, captured
        return
    assert code == EXIT_USAGE and captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("python -m compare: error: ") and said in line, line


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; none here")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_conv_network_on_cuda_matches_the_cpu(dtype):
    from common.tolerances import assert_close, tolerance
    from torch_impl import Network as TorchNetwork

    keywords = dict(activation="relu", loss="cross_entropy", bias=True, conv=((4, 5, 2), (6, 3, 0)), dtype=dtype,
                    seed=0)
    cpu, gpu = TorchNetwork(784, 20, 10, 0.05, **keywords), TorchNetwork(784, 20, 10, 0.05, device="cuda", **keywords)
    inputs = np.random.default_rng(0).uniform(0.01, 1.0, (8, 784)).astype(dtype)
    targets = np.eye(10, dtype=dtype)[np.arange(8)]
    for x, t in ((inputs, targets), (inputs[0], targets[0])):
        for a, b in zip(cpu.gradients(x, t), gpu.gradients(x, t)):
            assert_close(b, a, tolerance(dtype).single, "cuda against cpu")
        cpu.train(x, t)
        gpu.train(x, t)  # a CUDA graph, captured once per shape
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        assert_close(b, a, tolerance(dtype).single, "weights after two steps")


def test_a_conv_network_too_large_for_memory_exits_2_with_one_sentence_naming_conv(capsys, monkeypatch):
    """Its convolution maps for one image, not its weights, outgrow the machine (16 GiB here)."""
    from compare.race import memory

    monkeypatch.setattr(memory, "physical_memory", lambda: 16 * 2**30)
    code = main(["--conv", "200000x5p2,1x5", "--hidden", "none", "--train-limit", "10", "--quiet"])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE and captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line == ("python -m compare: error: --conv asks for 784-conv200000x5p2-conv1x5-10, whose convolution layers "
                    "need 39.1 GiB in float64 for a single image in 2 backends (4 times each layer's im2col columns and "
                    "outputs: the activations and their gradients), beside 1.71 GiB for 23 copies of its weights: more "
                    "than this machine's 16 GiB of memory."), line
    code = main(["--conv", "2000000x5p2", "--train-limit", "10", "--quiet"])
    assert code == EXIT_USAGE and "--conv asks for 784-conv2000000x5p2-200-10, whose 78,450,002,000 weights" in \
        capsys.readouterr().err
