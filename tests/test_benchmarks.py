"""The benchmark's baselines do the work they claim, so no race is won by doing less.

Nothing here is timed: speed targets live in benchmarks/bench.py, not in the tests.
"""
import numpy as np
import pytest
import torch

from benchmarks.baselines import BatchFloor, BookLoop, Floor, Port2017, TorchBatchFloor, TorchFloor
from benchmarks.bench import main as bench_main
from common.tolerances import assert_close, tolerance
from common.weights import initial_weights
from from_scratch import BookNetwork, Network


def sample(n_in=20, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.01, 1.0, n_in), rng.uniform(0.01, 0.99, n_out)


def test_book_loop_takes_the_book_networks_step():
    weights = initial_weights(20, 8, 4, seed=1)
    x, t = sample()
    book_loop, book_network = BookLoop(weights, 0.3), BookNetwork(20, 8, 4, 0.3)
    book_network.set_weights(weights)
    book_loop.train(x, t)
    book_network.train(x, t)
    for a, b in zip((book_loop.wih, book_loop.who), book_network.get_weights()):
        assert_close(a, b, tolerance("float64").single, "book loop against BookNetwork")


def test_2017_port_steps_twice_the_gradient_of_half_squared_error():
    """MSELoss summed is 2L: the port at lr takes the true-gradient step of lr * 2."""
    weights = initial_weights(20, 8, 4, seed=2)
    x, t = sample(seed=3)
    port, network = Port2017(weights, 0.1), Network(20, 8, 4, 0.2)
    network.set_weights(weights)
    port.train(x, t)
    network.train(x, t)
    for a, b in zip((port.linear_ih.weight, port.linear_ho.weight), network.get_weights()):
        assert_close(a.detach().numpy(), b, tolerance("float64").single, "2017 port against Network at 2 lr")


def as_numpy(weight: np.ndarray | torch.Tensor) -> np.ndarray:
    """A floor's weight as an ndarray: ``Tensor.numpy()`` for torch's (``np.array(tensor)`` is
    deprecated in NumPy 2: torch's ``__array__`` takes no ``copy`` keyword)."""
    return weight.numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight)


@pytest.mark.filterwarnings("error")
def test_floors_touch_the_whole_first_layer():
    weights = initial_weights(20, 8, 4, seed=4)
    x, _ = sample()
    batch = np.random.default_rng(5).uniform(size=(6, 20))
    for floor, inputs in ((Floor(weights, 0.1), x), (TorchFloor(weights, 0.1), torch.from_numpy(x)),
                          (BatchFloor(weights, 0.1), batch), (TorchBatchFloor(weights, 0.1), torch.from_numpy(batch))):
        before = as_numpy(floor.wih).copy()
        floor.train(inputs)
        changed = as_numpy(floor.wih) != before
        assert changed.all(), type(floor).__name__


def test_benchmark_runs_and_reports_its_targets(capsys):
    assert bench_main(["--only", "targets", "--calls", "10", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("threads 1 | BLAS ")
    for line in ("floor (gemv + ger, layer 1)", "from_scratch.Network.train", "2017 port loop (torch)",
                 "from_scratch within 1.3x the floor", "torch_impl at least 3x faster than the 2017 port"):
        assert line in out


def test_optimizers_table_prices_every_recipe_in_both_backends_beside_plain_sgd(capsys):
    from benchmarks.bench import RECIPES

    assert bench_main(["--only", "optimizers", "--calls", "4", "--repeats", "1", "--dtypes", "float32"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.split("  ")[0].strip() in RECIPES]
    assert len(rows) == 2 * len(RECIPES)  # batch 1 and 64
    assert all(line.split()[-3] == "1.00" for line in rows if line.startswith("SGD  "))  # SGD against itself
    assert "from_scratch's Adam within 1.5x its plain SGD step, batch 1, float32" in out


def test_benchmark_says_a_missed_target_is_not_a_failure_unless_strict(capsys):
    """A MISSED target is explained in the output; only --strict turns it into exit status 1."""
    assert bench_main(["--only", "targets", "--calls", "10", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "goals, not tests" in out and "still exits 0" in out
    status = bench_main(["--only", "targets", "--calls", "10", "--repeats", "1", "--strict"])
    assert status == (1 if "MISSED" in capsys.readouterr().out else 0)


def test_architectures_script_reports_agreement_and_the_book_rule_per_layer(capsys):
    """benchmarks/architectures.py on a few embedded samples: every row complete, answers identical."""
    from benchmarks.architectures import main as architectures_main
    from common.data import EMBEDDED_DIR
    assert architectures_main(["--data", str(EMBEDDED_DIR), "--train-limit", "30", "--epochs", "1",
                               "--samples", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith(("(a)", "(b)", "(c)"))]
    assert len(rows) == 3 and all("1000/1000" in row for row in rows), lines
    epochs = [line.split() for line in lines if line.strip().startswith(("0 ", "1 "))]
    assert [e[0] for e in epochs] == ["0", "1"] and all(e[-3:] == ["W3", "1.000", "x1.00"] for e in epochs), lines


def test_conv_benchmark_races_the_library_networks_beside_the_bare_kernels(capsys):
    """benchmarks/conv_layers.py: LeNet-5 through from_scratch.Network and torch_impl.Network, checked to
    compute the same step first, then timed with the targets marked; the bare kernels beside them."""
    from benchmarks.conv_layers import main as conv_main
    assert conv_main(["--calls", "2", "--repeats", "1", "--batch", "1", "64"]) == 0
    out = capsys.readouterr().out
    assert "from_scratch.Network's L and gradients agree with torch_impl.Network's" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["64"])]
    assert [row[0] for row in rows] == ["1", "64"] and [row[4] for row in rows] == ["1.0x", "1.5x"]
    assert all(row[5] in ("met", "MISSED") for row in rows)


def _against_commit(*args):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("benchmarks/against_commit.py reads an earlier commit with git; this is not a git checkout")
    return subprocess.run([sys.executable, str(root / "benchmarks" / "against_commit.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_against_commit_times_the_same_steps_of_two_commits_side_by_side():
    result = _against_commit("HEAD", "--cases", "book f32 b64", "--rounds", "3")
    assert result.returncode == 0, result.stderr
    assert "against HEAD; BLAS (library, kernel, threads)" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("book f32 b64"))
    assert "new/old median" in row and "quartiles" in row


def test_against_commit_refuses_an_unknown_commit_in_one_sentence():
    result = _against_commit("no-such-commit-here", "--rounds", "3")
    assert result.returncode != 0
    assert "git archive no-such-commit-here failed" in result.stderr
    assert "Traceback" not in result.stderr
