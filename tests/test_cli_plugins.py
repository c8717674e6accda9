"""``python -m compare`` with a network of the user's own: by module path and by file path, raced
against torch_impl (autograd), diagnosed where it departs; and every way such a network can fail
the protocol, or raise inside its own code, as one sentence and exit 2.

The two races run as a user runs them (a subprocess, shared by module-scoped fixtures); the
failures, which end before any training, run in this process through ``compare.race.cli.main``.
"""
from __future__ import annotations

import json

import pytest

from compare.race.cli import EXIT_DISAGREE, EXIT_USAGE, main
from tests import gallery
from tests.cli_helpers import SMALL, exited, outcome

EXAMPLE = "docs/examples/mynet.py"
SMALL_RACE = (*SMALL, "--hidden", "30,20")


@pytest.fixture(scope="module")
def by_file(tmp_path_factory):
    """The doc's fixed network, by its file's path, two hidden layers, raced for the small data."""
    return outcome(tmp_path_factory.mktemp("by_file"), *SMALL_RACE, "--backends", "torch_impl",
                   f"{EXAMPLE}:MyNetwork")


@pytest.fixture(scope="module")
def by_module(tmp_path_factory):
    """The book's network as a user's, by module path, named first: the reference is still autograd."""
    return outcome(tmp_path_factory.mktemp("by_module"), *SMALL_RACE, "--backends", "from_scratch.book:BookNetwork",
                   "torch_impl")


def test_a_network_given_by_its_file_races_autograd_and_agrees(by_file):
    record = exited(by_file, 0).record()
    assert list(record["backends"]) == ["torch_impl", "MyNetwork"]
    assert record["agreement"]["reference"] == "torch_impl" and record["agreement"]["passed"] is True
    assert record["config"]["architectures"][0]["hidden_nodes"] == [30, 20]
    assert "predictions   MyNetwork: identical on 50 of 50 test images" in by_file.run.stdout


def test_a_network_given_by_module_path_is_checked_before_the_race_and_blamed_with_a_diagnosis(by_module):
    run, record = exited(by_module, 1).run, by_module.record()
    agreement = record["agreement"]
    assert agreement["reference"] == "torch_impl"  # autograd is the reference, whatever the order given
    assert agreement["passed"] is False
    (first,) = agreement["failures"]  # compare.check_network at the starting weights, before any step
    assert (first["kind"], first["backend"], first["step"], first["layer"]) == ("check_network", "BookNetwork", 0,
                                                                               "h2")
    diagnosis = record["runs"][0]["diagnosis"]
    assert (diagnosis["backend"], diagnosis["step"], diagnosis["before_race"]) == ("BookNetwork", 0, True)
    assert (diagnosis["cause"]["name"], diagnosis["cause"]["layer"]) == ("missing_derivative", "W2")
    assert "BookNetwork at its starting weights, before the race, checked against torch_impl (autograd, torch.optim)" in run.stdout
    assert "likely cause (missing_derivative, W2)" in run.stdout
    # named from the output layer down, the way the mistake spreads: W3 agrees, dL/dh h2 is the first to part
    assert record["message"].startswith("BookNetwork fails compare.check_network at its starting weights, before "
                                        "the race: dL/dh h2 for one sample is ")
    assert "of torch_impl" not in record["message"]
    assert [b["steps"] for b in record["backends"].values()] == [0, 0]


# -- failures before the race, in this process ---------------------------------------------------

def test_a_batch_only_mistake_is_caught_before_a_race_at_one_sample_a_step(capsys, tmp_path):
    """The batch's gradient summed where the mean belongs: a sum equals the mean at --batch-size 1, so only
    check_network's batch, tried before the race, shows it."""
    code = main(["--backends", "torch_impl", "tests.gallery:SummedBatch", "--hidden", "20", "--train-limit", "20",
                 "--test-limit", "10", "--json", str(tmp_path / "record.json")])
    out = capsys.readouterr().out
    assert code == EXIT_DISAGREE, out
    record = json.loads((tmp_path / "record.json").read_text())
    assert (record["status"], record["agreement"]["passed"]) == ("disagreed", False)
    (failure,) = record["agreement"]["failures"]
    assert (failure["kind"], failure["backend"], failure["step"]) == ("check_network", "SummedBatch", 0)
    diagnosis = record["runs"][0]["diagnosis"]
    assert diagnosis["first_failure"]["mode"] == "batch" and diagnosis["cause"]["name"] == "sum_not_mean"
    assert record["message"].startswith("SummedBatch fails compare.check_network at its starting weights, before the "
                                        "race: gradient W_ho for a batch of 8 is ")
    assert "SummedBatch at its starting weights, before the race, checked against torch_impl (autograd, torch.optim)" in out
    assert "likely cause (sum_not_mean, W_ho)" in out and "batch of 8" in out
    assert ("no training step was taken (torch_impl, SummedBatch): SummedBatch failed compare.check_network at its "
            "starting weights, so the race did not begin (its table is below).") in out
    assert [b["steps"] for b in record["backends"].values()] == [0, 0]


class CrashesInTrain(gallery.RowNetwork):
    def train(self, inputs, targets):
        return self.update_twice(inputs)

    def update_twice(self, inputs):
        raise RuntimeError(f"no update for inputs of shape {inputs.shape}")


class NoQuery(gallery.RowNetwork):
    query = None


class NoDtypeArgument(gallery.RowNetwork):
    def __init__(self, input_nodes, hidden_nodes, output_nodes, learning_rate):
        super().__init__(input_nodes, hidden_nodes, output_nodes, learning_rate)


HERE = "tests.test_cli_plugins"


@pytest.mark.parametrize("backend, said", [
    ("no_such_module:Net", "No module named 'no_such_module'"),
    (f"{HERE}:Missing", f"{HERE} has no class 'Missing'."),
    ("tests/absent.py:Net", "No file 'tests/absent.py'."),
    (f"{HERE}:HERE", f"{HERE}:HERE is an object of type str, not a class."),
    (f"{HERE}:NoDtypeArgument", "NoDtypeArgument() takes no 'dtype' argument"),
    (f"{HERE}:NoQuery", "NoQuery has no method 'query'"),
    ("tests.test_check_network:QueryReturnsList", "QueryReturnsList.query for one sample returned a list; "
                                                  "expected an ndarray of shape (10,) and dtype float64."),
    ("tests.test_check_network:GradientsTransposed", "GradientsTransposed.gradients for one sample returned W_ih "
                                                     "of shape (784, 20); expected (20, 784) (the transpose"),
    ("tests.test_check_network:QueryInFloat32", "QueryInFloat32.query for one sample returned an array of dtype float32"),
    ("tests.test_check_network:TrainReturnsNothing", "TrainReturnsNothing.train returned None"),
])
def test_a_network_that_breaks_the_protocol_exits_2_with_one_sentence(backend, said, capsys):
    code = main(["--backends", "torch_impl", backend, "--hidden", "20", "--train-limit", "20", "--test-limit", "10",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and said in err, err
    assert err.startswith("python -m compare: error: ") and err.count("\n") == 1


def test_an_exception_in_the_networks_code_exits_2_with_its_own_frames_only(capsys):
    code = main(["--backends", "torch_impl", f"{HERE}:CrashesInTrain", "--hidden", "20", "--train-limit", "20",
                 "--test-limit", "10", "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    first, *rest = err.splitlines()
    assert first == ("python -m compare: error: CrashesInTrain.train raised RuntimeError: no update for inputs of "
                     "shape (784,)")
    frames = [line for line in rest if line.strip().startswith("File ")]
    assert len(frames) == 2 and all("tests/test_cli_plugins.py" in line for line in frames), err
    assert "compare/" not in err


def test_a_users_network_needs_autograd_in_the_race(capsys):
    code = main(["--backends", "from_scratch", f"{HERE}:NoQuery", "--quiet"])
    assert code == EXIT_USAGE and "add torch_impl to --backends" in capsys.readouterr().err


# -- one pipeline, one rendering -----------------------------------------------------------------

def test_the_printed_report_is_rendered_from_the_record_alone(by_file):
    from compare.race.report import text_report

    assert text_report(by_file.record()) == exited(by_file, 0).run.stdout.rstrip("\n")


def test_nothing_below_the_command_line_knows_argparse_or_imports_it():
    from pathlib import Path

    import compare

    for path in Path(compare.__file__).parent.rglob("*.py"):
        text = path.read_text()
        if path.name not in ("cli.py", "__main__.py"):
            imports = [line for line in text.splitlines() if line.lstrip().startswith(("import ", "from "))]
            assert not [line for line in imports if "argparse" in line or "compare.race.cli" in line], path.name
