"""check_network: the gallery's mistakes caught and diagnosed, correct networks passed, and every
way a network can fail the protocol reported in one sentence."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.architecture import Architecture
from common.errors import ConformanceError, ParameterError
from compare import check_network
from compare.check.diagnosis import Cell, Evidence, Row, diagnose
from compare.check.report import render
from from_scratch import BookNetwork, Network
from tests import gallery

HIDDEN = 16  # small layers keep each check to a few hundredths of a second


@pytest.mark.parametrize("cls", [*gallery.CORRECT, Network], ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correct_networks_pass(cls, dtype):
    report = check_network(cls(784, HIDDEN, 10, 0.1, dtype=dtype))
    assert report.passed, str(report)
    assert report.cause is None and "PASSED" in str(report)


def expected_layer(cls: type, hidden) -> str:
    if isinstance(cls.LAYER, str):
        return cls.LAYER
    return Architecture(784, hidden, 10).layer_names()[cls.LAYER]


@pytest.mark.parametrize("hidden", [[HIDDEN, 12], []], ids=["two hidden layers", "none"])
@pytest.mark.parametrize("options", [dict(activation="tanh", loss="cross_entropy", bias=True),
                                     dict(activation="relu", bias=True)], ids=["tanh-ce-bias", "relu-bias"])
def test_networks_beyond_the_book_pass_with_their_intermediate_gradients(hidden, options):
    report = check_network(Network(784, hidden, 10, 0.05, **options))
    assert report.passed, str(report)
    kinds = {row.kind for row in report.rows}
    assert {"dL/dz", "gradient"} <= kinds and ("dL/dh" in kinds) == bool(hidden)
    if hidden:  # backwards from the output, each weight then its bias
        assert [row.layer for row in report.rows if row.kind == "gradient"][:2] == ["W3", "b3"]


@pytest.mark.parametrize("cls", gallery.BUGGY, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [HIDDEN, [HIDDEN, 12]], ids=["one hidden layer", "two"])
def test_each_gallery_mistake_is_caught_at_its_layer_with_its_cause(cls, dtype, hidden):
    report = check_network(cls(784, hidden, 10, 0.1, dtype=dtype))
    assert not report.passed
    layer = expected_layer(cls, hidden)
    assert (report.cause.name, report.cause.layer) == (cls.CAUSE, layer), str(report)
    assert f"likely cause ({cls.CAUSE}, {layer})" in str(report)


def test_subtle_mistakes_pass_where_they_do_not_show():
    """The batch-only mistake agrees on one sample; momentum agrees at the first train() call."""
    batch_only = check_network(gallery.AveragedBeforeOuterProduct(784, HIDDEN, 10, 0.1))
    assert all(cell.passed for row in batch_only.rows if row.kind != "again" for cell in [row.single])
    momentum = check_network(gallery.Momentum(784, HIDDEN, 10, 0.1))
    first_steps = [row.single for row in momentum.rows if row.kind == "step 1"]
    assert first_steps and all(cell.passed and cell.call == 1 for cell in first_steps)
    assert "call 2" in momentum.cause.sentence


@pytest.mark.parametrize("hidden, top, below", [(HIDDEN, "W_ho", "W_ih"), ([HIDDEN, 12], "W3", "W2")])
def test_book_network_checked_as_a_users_is_missing_a_derivative_below_the_output(hidden, top, below):
    report = check_network(BookNetwork(784, hidden, 10, 0.1))
    assert (report.cause.name, report.cause.layer) == ("missing_derivative", below)
    rows = {(row.kind, row.layer): row for row in report.rows}
    assert rows["outputs", "o"].single.passed and rows["gradient", top].batch.passed
    gradient = rows["gradient", below].single
    assert gradient.cosine < 1 and gradient.ratio > 1  # the book's step is longer and points elsewhere
    # Its intermediate gradients place the mistake: dL/dz above agrees, dL/dh below it does not.
    first_row, _, _ = report.first_failure
    assert first_row.kind == "dL/dh" and "dL/dz above it agrees" in report.cause.sentence


def test_sum_where_the_mean_belongs_shows_the_batch_size_as_the_ratio():
    report = check_network(gallery.SummedBatch(784, HIDDEN, 10, 0.1), batch_size=5)
    gradient = next(row for row in report.rows if row.kind == "gradient")
    assert gradient.single.passed and gradient.batch.ratio == pytest.approx(5)
    assert "length ratio 5, the batch size" in report.cause.sentence


def test_report_prints_from_its_record_and_the_record_is_json():
    report = check_network(gallery.WrongSign(784, HIDDEN, 10, 0.1))
    record = json.loads(json.dumps(report.to_json()))
    assert str(report) == render(record)
    assert record["passed"] is False and record["first_failure"]["mode"] == "single"
    assert (record["cause"]["name"], record["cause"]["layer"]) == ("wrong_sign", "W_ho")
    text = str(report)
    assert "largest difference at" in text and "Mine" in text and "Theirs" in text


def test_the_networks_weights_are_put_back():
    network = gallery.Momentum(784, HIDDEN, 10, 0.1)
    before = network.get_weights()
    check_network(network)
    for got, expected in zip(network.get_weights(), before):
        np.testing.assert_array_equal(got, expected)


# -- the rules claim a cause only when the numbers fit it ---------------------------------------

def _cell(ratio: float, cosine: float = 1.0, passed: bool = False) -> Cell:
    return Cell(relative=0.0 if passed else abs(ratio - 1) + 1e-3, cosine=cosine, ratio=ratio, tolerance=1e-12,
                passed=passed)


def _evidence(*rows: Row) -> Evidence:
    ok = _cell(1.0, passed=True)
    return Evidence(rows=[Row("outputs", "o", ok, ok), *rows, Row("again", "all", None, ok)], batch_size=8,
                    tolerance=1e-12, lr=0.1, output_layer=("W_ho",), previous=1.0)


def test_a_factor_of_two_at_one_layer_only_is_not_called_the_half():
    evidence = _evidence(Row("gradient", "W_ho", _cell(2.0), _cell(2.0)),
                         Row("gradient", "W_ih", _cell(1.0, passed=True), _cell(1.0, passed=True)))
    assert diagnose(evidence).name != "half_missing_or_doubled"


def test_numbers_no_rule_fits_are_reported_as_seen():
    evidence = _evidence(Row("gradient", "W_ho", _cell(1.3, 0.7), _cell(1.3, 0.7)),
                         Row("gradient", "W_ih", _cell(0.9, 0.5), _cell(0.9, 0.5)))
    cause = diagnose(evidence)
    assert cause.name == "unexplained" and "gradient W_ho for one sample" in cause.sentence


def test_a_ratio_near_but_not_at_the_batch_size_is_not_called_a_sum():
    evidence = _evidence(Row("gradient", "W_ho", _cell(1.0, passed=True), _cell(7.9)))
    assert diagnose(evidence).name == "batch_only"


# -- conformance: one sentence naming the method, what came back and what was expected -------------

class NoGradients(gallery.RowNetwork):
    gradients = None


class NoLearningRate(gallery.RowNetwork):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.lr


class QueryReturnsList(gallery.RowNetwork):
    def query(self, inputs):
        return super().query(inputs).tolist()


class GradientsTransposed(gallery.RowNetwork):
    def gradients(self, inputs, targets):
        return [g.T for g in super().gradients(inputs, targets)]


class QueryInFloat32(gallery.RowNetwork):
    def query(self, inputs):
        return super().query(inputs).astype(np.float32)


class GradientsOfOneLayer(gallery.RowNetwork):
    def gradients(self, inputs, targets):
        return super().gradients(inputs, targets)[-1:]


class TrainReturnsNothing(gallery.RowNetwork):
    def train(self, inputs, targets):
        super().train(inputs, targets)


class IgnoresSetWeights(gallery.RowNetwork):
    def set_weights(self, weights):
        if not hasattr(self, "weights"):
            super().set_weights(weights)


class WeightsNotCopied(gallery.RowNetwork):
    def get_weights(self):
        return self.weights


class IntermediatesWithoutDLdh(gallery.RowNetwork):
    def intermediate_gradients(self, inputs, targets):
        return {"dLdz": super().intermediate_gradients(inputs, targets)["dLdz"]}


class StringDtype(gallery.RowNetwork):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dtype = "int8"


@pytest.mark.parametrize("cls, message", [
    (NoGradients, r"NoGradients has no method 'gradients'; a network needs set_weights, get_weights, query, "),
    (NoLearningRate, r"NoLearningRate has no attribute 'lr'"),
    (QueryReturnsList, r"QueryReturnsList.query for one sample returned a list; expected an ndarray of shape "
                       r"\(10,\) and dtype float64\."),
    (GradientsTransposed, r"GradientsTransposed.gradients for one sample returned W_ih of shape \(784, 16\); "
                          r"expected \(16, 784\) \(the transpose: weights are laid out \(n_out, n_in\)"),
    (QueryInFloat32, r"QueryInFloat32.query for one sample returned an array of dtype float32; expected float64"),
    (GradientsOfOneLayer, r"GradientsOfOneLayer.gradients for one sample returned 1 arrays; expected 2: "
                          r"W_ih \(16, 784\), W_ho \(10, 16\)\."),
    (TrainReturnsNothing, r"TrainReturnsNothing.train returned None; expected the loss before the step, a float\."),
    (IgnoresSetWeights, r"IgnoresSetWeights.get_weights returned W_ih .* away from what set_weights was given"),
    (WeightsNotCopied, r"WeightsNotCopied.get_weights returned W_ih as the network's own array twice; expected a "
                       r"copy"),
    (IntermediatesWithoutDLdh, r"IntermediatesWithoutDLdh.intermediate_gradients for one sample returned \['dLdz'\]; "
                               r"expected a dict with keys 'dLdz' \(one array per layer, input side first\) and 'dLdh'"),
    (StringDtype, r"StringDtype.dtype is 'int8'; expected float32 or float64\."),
])
def test_a_network_that_breaks_the_protocol_is_named_in_one_sentence(cls, message):
    with pytest.raises(ConformanceError, match=message) as caught:
        check_network(cls(784, HIDDEN, 10, 0.1))
    assert isinstance(caught.value, ParameterError) and "\n" not in str(caught.value)


class CrashesInside(gallery.RowNetwork):
    def error_below(self, dLdz, k):
        return dLdz @ self.weights[k].T  # the wrong transpose: shapes do not fit


def test_an_exception_in_the_networks_code_shows_only_its_own_frames():
    with pytest.raises(ConformanceError) as caught:
        check_network(CrashesInside(784, HIDDEN, 10, 0.1))
    message = str(caught.value)
    first, *frames = message.splitlines()
    assert first.startswith("CrashesInside.gradients raised ValueError: matmul")
    files = [line for line in frames if line.strip().startswith("File ")]
    assert files and all("tests/" in line for line in files), message
    assert "in error_below" in message and "compare/" not in message and "numpy" not in message


def test_a_network_that_is_not_mnist_shaped_is_refused():
    with pytest.raises(ParameterError, match="784 inputs and 10 outputs. Got 20 inputs and 10 outputs"):
        check_network(gallery.RowNetwork(20, 4, 10, 0.1))


class NegatedCrossEntropy(Network):
    """from_scratch's softmax network with the output error the wrong way round, t − p."""

    def gradients(self, inputs, targets):
        return [-g for g in super().gradients(inputs, targets)]


class DoubledCrossEntropy(Network):
    def gradients(self, inputs, targets):
        return [2 * g for g in super().gradients(inputs, targets)]


def test_each_cause_speaks_of_the_networks_own_loss():
    wrong = check_network(NegatedCrossEntropy(784, HIDDEN, 10, 0.1, loss="cross_entropy", bias=True)).cause
    assert wrong.name == "wrong_sign" and "softmax(z) − t for softmax cross-entropy" in wrong.sentence
    assert "½" not in wrong.sentence and "output_errors" not in wrong.sentence
    doubled = check_network(DoubledCrossEntropy(784, HIDDEN, 10, 0.1, loss="binary_cross_entropy")).cause
    assert doubled.name == "half_missing_or_doubled" and "counted twice" in doubled.sentence
    assert "½" not in doubled.sentence


def test_the_steps_between_two_rows_are_the_backward_pass_between_them():
    """compare.check.where: what lies between a row that agrees and the next, from the output down."""
    from compare.check.where import backward_path, between

    book = backward_path(Architecture(784, 200, 10))
    assert between(book, ("outputs", "o"), ("gradient", "W_ho")) == [
        "the loss's derivative at the output (half squared error, sigmoid outputs)",
        "dL/dW of W_ho, dL/dz z_o times the layer's input"]
    assert between(book, ("gradient", "W_ho"), ("dL/dh", "h")) == ["dL/dx of W_ho (W_hoᵀ dL/dz)"]
    assert between(book, ("dL/dh", "h"), ("dL/dz", "z_h")) == ["the sigmoid's derivative at W_ih's layer"]
    lenet = backward_path(Architecture(784, [120, 84], 10, "relu", "cross_entropy", True, conv=((6, 5, 2), (16, 5, 0))))
    assert between(lenet, ("dL/dz", "z1"), ("dL/dh", "h_conv2")) == [
        "dL/dW of W1, dL/dz z1 times the layer's input", "dL/db of W1, dL/dz z1 summed over the samples",
        "dL/dx of W1 (W1ᵀ dL/dz)", "the flatten undone: dL/dx seen as the maps (16, 5, 5), in (C, H, W) order"]
    assert between(lenet, ("dL/dh", "h_conv1"), ("dL/dz", "z_conv1")) == [
        "the backward pass of pool1, the max pool after conv1", "the ReLU's derivative at conv1"]
    assert between(lenet, ("gradient", "W1"), ("step 1", "W1")) == []  # not on the backward pass


# -- the report's words -------------------------------------------------------------------------------

CONV = ((2, 5, 0), (3, 3, 0))


class DoubledConv2Error(Network):
    """A LeNet-style network whose intermediate_gradients report dL/dz of conv2 doubled, all else right."""

    def intermediate_gradients(self, inputs, targets):
        found = super().intermediate_gradients(inputs, targets)
        found["dLdz"][1] = 2 * found["dLdz"][1]
        return found


class BatchAxisKept(Network):
    """intermediate_gradients for one sample that keep the batch axis: (1, C, H, W) where (C, H, W) belongs."""

    def intermediate_gradients(self, inputs, targets):
        found = super().intermediate_gradients(inputs, targets)
        if np.ndim(inputs) == 1:
            found = {key: [a[None] for a in arrays] for key, arrays in found.items()}
        return found


@pytest.fixture(scope="module")
def doubled_report():
    return check_network(DoubledConv2Error(784, [10], 10, 0.01, "relu", "cross_entropy", True, conv=CONV, seed=0),
                         batch_size=4)


def test_largest_difference_names_the_axes_of_its_index(doubled_report):
    row, mode, cell = doubled_report.first_failure
    assert (row.kind, row.layer, mode) == ("dL/dz", "z_conv2", "single"), str(doubled_report)
    assert f"largest difference at [C, H, W] = {list(cell.worst[0])}: Mine" in str(doubled_report)


def test_axes_name_the_batch_axis_and_a_parameter_s_layout():
    from compare.check.report import axes

    assert axes("dL/dz", "z_conv2", "batch", 4) == "[n, C, H, W]"
    assert axes("dL/dh", "h1", "single", 1) == "[node]" and axes("outputs", "o", "batch", 2) == "[n, output]"
    assert axes("gradient", "W_conv1", "single", 4) == "[C_out, C_in, k, l]"
    assert axes("steps 2-5", "W1", "batch", 2) == "[n_out, n_in]" and axes("step 1", "b_conv1", "single", 1) == "[C_out]"


def test_the_rows_of_steps_2_to_5_say_which_step_each_cell_shows(doubled_report):
    lines = str(doubled_report).splitlines()
    shown = [row for row in doubled_report.rows if row.kind == "steps 2-5"]
    assert shown
    for row in shown:
        calls = "|".join(map(str, dict.fromkeys((row.single.call, row.batch.call))))
        assert any(line.startswith(f"step {calls} of 2-5 ") and f" {row.layer} " in line for line in lines), row
    assert "step i|j of 2-5: which of train() calls 2 to 5 each cell shows" in str(doubled_report)


def test_a_one_sample_intermediate_gradient_with_its_batch_axis_is_told_to_drop_it():
    network = BatchAxisKept(784, [10], 10, 0.01, "relu", "cross_entropy", True, conv=CONV, seed=0)
    with pytest.raises(ConformanceError, match=r"of shape \(1, 2, 24, 24\); expected \(2, 24, 24\) \(the batch axis "
                                               r"n kept for one sample: for inputs of shape \(784,\), every array "
                                               r"comes without it\)\.$"):
        check_network(network, batch_size=4)
def test_the_optimizer_state_ranks_behind_the_steps_it_is_compared_after():
    """The state is compared after the five steps: one that differs follows from a step that does."""
    from compare.check.diagnosis import first_failure

    def cell(passed: bool, call: int | None) -> Cell:
        return Cell(0.0 if passed else 1.0, 1.0, 1.0, 1e-12, passed, None, call)

    rows = [Row("gradient", "W", cell(True, None), cell(True, None)),
            Row("step 1", "W", cell(True, 1), cell(True, 1)),
            Row("steps 2-5", "W", cell(True, 2), cell(False, 3)),
            Row("state", "momentum_buffer", cell(False, None), None),
            Row("again", "all", None, cell(False, None))]
    row, mode, _ = first_failure(Evidence(rows, batch_size=8, tolerance=1e-12, lr=0.1, output_layer=("W",)))
    assert (row.kind, mode) == ("steps 2-5", "batch")
    row, _, _ = first_failure(Evidence(rows[3:], batch_size=8, tolerance=1e-12, lr=0.1, output_layer=("W",)))
    assert row.kind == "state"


def test_a_failure_line_states_the_failing_cells_own_tolerance():
    """One failure, one tolerance: the one it failed, as the race's sentence quotes it (a step's is
    widened by the rounding measured there)."""
    from compare.check.report import NetworkReport

    widened = Cell(2e-12, 1.0, 1.0, 1.51e-12, False, ((0, 1), 0.5, 0.5), 1)
    row = Row("step 1", "W1", widened, None)
    report = NetworkReport("Net", "784-10", "SGD", "float64", "torch_impl", 8, 9.09e-13, [row], (row, "single", widened),
                           diagnose(Evidence([row], batch_size=8, tolerance=9.09e-13, lr=0.1, output_layer=("W1",))))
    line = next(line for line in str(report).splitlines() if line.startswith("FAILED"))
    assert line == ("FAILED: first at step 1 W1 for one sample, train() call 1: relative 2e-12, beyond its tolerance "
                    "1.51e-12 (float64's 9.09e-13 from common.tolerances, widened to 32x what a one-rounding nudge of "
                    "the weights (or of torch.optim's gradients) does to the reference's own step).")


def test_the_races_table_gives_a_failures_tolerance_with_the_sentences_digits():
    from compare.race.checks import Agreement
    from compare.race.report import agreement_text
    from common.tolerances import tolerance

    agreement = Agreement(tolerance("float64"), "torch_impl")
    agreement.compare("step", "W1", "Mine", 15, 0, np.full(3, 1.0), np.full(3, 2.0), 1.5123e-12)
    row = agreement_text({"agreement": agreement.to_json(), "status": "disagreed"}, "true").splitlines()[-1]
    assert row.split()[-1] == "1.51e-12"


def test_check_network_checks_the_samples_it_is_given():
    """LongStepOnSevens steps too far only on a 7 trained alone: the first MNIST images give it none
    as one sample; the samples from the first 7 on (sample 15) begin with it."""
    from common.data import load_embedded, one_hot_targets, scale_inputs
    from tests.planted import LongStepOnSevens

    network = LongStepOnSevens(784, HIDDEN, 10, 0.1)
    assert check_network(network, batch_size=2).passed
    data, seven = load_embedded(), 15
    samples = (scale_inputs(data.train_images[seven:seven + 10]), one_hot_targets(data.train_labels[seven:seven + 10]))
    row, mode, cell = check_network(network, batch_size=2, samples=samples).first_failure
    assert (row.kind, mode, cell.call) == ("step 1", "single", 1)
    with pytest.raises(ParameterError, match=r"The 'samples' parameter must be inputs of shape \(m, 784\) and "
                                             r"targets of shape \(m, 10\), m >= 10"):
        check_network(network, batch_size=2, samples=(samples[0][:9], samples[1][:9]))
