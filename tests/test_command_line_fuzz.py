"""``python -m compare`` under any combination of options, valid or not, on tiny data.

Hypothesis draws values for every training option (the hidden layers, the convolutions, lr, batch size, dtype,
epochs, activation, loss, check-every, threads, seed, rule, the data limits, the backends, among
them networks of a reader's own, and the training recipe's options) and the flags, each from the values a user might type, the ones
that should work and the ones that should not. Whatever is drawn, the run ends as a run of the
library should: exit 0 (agree), 1 (disagree), 2 (bad input) or 3 (diverged), never a traceback,
and a bad input is one line on stderr. The runs are in this process, through ``compare.race.cli.main``,
on at most 40 training and 20 test images, so that 150 examples fit in CI in well under a minute.
"""
from __future__ import annotations

import contextlib
import io
import os

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from compare.race.cli import EXIT_DISAGREE, EXIT_DIVERGED, EXIT_OK, EXIT_USAGE, main

PROG = "python -m compare"
EXAMPLES = 1500 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 150
USERS_FRAMES = "Traceback (the network's own frames, most recent call last):"


def numbers(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


def either(valid: st.SearchStrategy[str], *invalid: str) -> st.SearchStrategy[str]:
    """Mostly a valid value; one time in ten one a user might type by mistake."""
    return st.integers(0, 9).flatmap(lambda pick: st.sampled_from(invalid) if pick == 0 else valid)


SIZES = st.lists(st.integers(1, 16), min_size=1, max_size=3).map(lambda sizes: ",".join(map(str, sizes)))
HIDDEN = st.lists(either(st.one_of(SIZES, st.just("none")), "0", "-3", "2.5", "abc", "", "1,,2", "none,3",
                         "1000000000"), min_size=1, max_size=2)
EDGES = ["1e39", "1e300", "1e308", "3e38", "1e-50", "1e-320"]  # beyond float32's ends, and near float64's
LEARNING_RATES = either(st.one_of(st.sampled_from(["0.1", "0.01", "1", "3", "1e-4"]), st.floats(1e-4, 10).map(repr))
                        | st.sampled_from(EDGES), "0", "-1", "nan", "inf", "x")
BACKENDS = either(st.sampled_from([("from_scratch",), ("torch_impl",), ("torch_impl", "from_scratch"),
                                   ("torch_impl", "docs/examples/mynet.py:MyNetwork"),
                                   ("torch_impl", "docs/examples/mynet.py:MyFirstTry"),
                                   ("tests.gallery:SummedBatch", "torch_impl"),
                                   ("torch_impl", "tests/users/nnfs.py:NnfsNetwork"),
                                   ("torch_impl", "docs/examples/momentum.py:MyMomentumNetwork")]),
                  ("torch_impl", "torch_impl"), ("from_scratch", "docs/examples/mynet.py:MyNetwork"),
                  ("torch_impl", "nosuch:Net"), ("torch_impl", "docs/examples/mynet.py"))
OPTIONS = {  # option: the values drawn for it
    "--hidden": HIDDEN,
    "--conv": either(st.sampled_from(["2x3", "2x5p2", "2x3,3x3p1", "none", "1x27"]), "6x", "0x5", "2x29", "2x28",
                     "2x5,2x5,2x5", "x", "2x3,", "2x3p-1"),
    "--lr": LEARNING_RATES,
    "--batch-size": either(numbers(1, 40), "0", "-2", "1.5", "x"),
    "--dtype": either(st.sampled_from(["float32", "float64"]), "float16", "double"),
    "--epochs": either(numbers(1, 2), "0", "x"),
    "--activation": either(st.sampled_from(["sigmoid", "tanh", "relu"]), "elu", "Sigmoid"),
    "--loss": either(st.sampled_from(["half-sse", "cross-entropy", "half_sse", "cross_entropy", "binary-cross-entropy",
                                      "binary-cross-entropy-mean"]), "mse", "bce"),
    "--check-every": either(numbers(1, 50), "0", "-1", "x"),
    "--threads": either(st.just("1"), "0", "100000", "x"),
    "--seed": either(st.integers(0, 2**64).map(str), "-1", "x", "1e3"),
    "--rule": either(st.sampled_from(["true", "book"]), "bok", "TRUE"),
    "--train-limit": either(numbers(1, 40), "0", "-5", "x"),
    "--test-limit": either(numbers(1, 20), "0", "x"),
    "--backends": BACKENDS,
    # the training recipe
    "--optimizer": either(st.sampled_from(["sgd", "adam", "adamw", "rmsprop"]), "adagrad", "Adam", ""),
    "--momentum": either(st.sampled_from(["0", "0.5", "0.9", "0.99"]), "-0.9", "nan", "x", "1e400"),
    "--dampening": either(st.sampled_from(["0", "0.1", "0.5"]), "-1", "x"),
    "--betas": either(st.sampled_from(["0.9,0.999", "0.8,0.99", "0,0"]), "0.9", "0.9,1", "1,0.9", "0.9,x", ""),
    "--eps": either(st.sampled_from(["1e-8", "1e-7", "0.1", "0"]), "-1e-8", "inf"),
    "--alpha": either(st.sampled_from(["0.99", "0.9", "0"]), "-0.5"),
    "--weight-decay": either(st.sampled_from(["0", "1e-4", "0.01", "10"]), "-0.01", "x"),
    "--l2": either(st.sampled_from(["0", "1e-4", "0.01", "100"]), "-1", "nan"),
    "--schedule": either(st.sampled_from(["constant", "step", "inverse-time", "inverse_time"]), "cosine"),
    "--milestones": either(st.sampled_from(["0.5", "1", "0.25,0.75", "1,2"]), "0", "2,1", "0.5,0.5", "-1", "x",
                           "1e-9"),
    "--gamma": either(st.sampled_from(["0.1", "0.5", "2"]), "0", "-0.1"),
    "--lr-decay": either(st.sampled_from(["0", "0.01", "1"]), "-1"),
}
FLAGS = ("--bias", "--shuffle", "--quiet", "--nesterov", "--amsgrad", "--centered", "--decay-biases")
OFTEN = ("--hidden", "--lr", "--dtype")  # given one time in two; every other option one time in three


@st.composite
def command_lines(draw) -> list[str]:
    """Tiny limits first (a drawn limit, given later, overrides them), then some options in any order."""
    argv = ["--train-limit", draw(numbers(1, 40)), "--test-limit", draw(numbers(1, 20))]
    every = draw(st.permutations(sorted(OPTIONS) + list(FLAGS)))
    chosen = [option for option in every if draw(st.sampled_from((True, False) if option in OFTEN else
                                                                (True, False, False)))]
    for option in chosen:
        if option in FLAGS:
            argv.append(option)
            continue
        value = draw(OPTIONS[option])
        argv += [option, *value] if isinstance(value, (list, tuple)) else [option, value]
    return argv


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stopped:  # argparse's error(): exit 2 with its one line
            code = stopped.code
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.data_too_large])
@given(command_lines())
# What failed before issue 15: a learning rate float32 cannot hold (a torch traceback), a network
# too large for memory (a traceback labelled the network's own), the book's rule alone with --quiet.
@example(["--train-limit", "5", "--test-limit", "5", "--dtype", "float32", "--lr", "1e39"])
@example(["--train-limit", "5", "--test-limit", "5", "--lr", "1e300", "--dtype", "float32", "--batch-size", "3"])
@example(["--train-limit", "5", "--test-limit", "5", "--hidden", "20", "1000000000"])
@example(["--train-limit", "5", "--test-limit", "5", "--rule", "book", "--backends", "from_scratch", "--quiet"])
@example(["--train-limit", "5", "--test-limit", "5", "--conv", "2x3,3x3p1", "--hidden", "none", "--batch-size", "3",
          "--backends", "torch_impl", "tests.gallery:SummedBatch"])
def test_any_options_exit_0_1_2_or_3_without_a_traceback_and_bad_input_in_one_line(argv):
    code, out, err = run(argv)
    event(f"exit {code}")
    shown = f"argv: {' '.join(argv)}\nexit {code}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
    assert code in (EXIT_OK, EXIT_DISAGREE, EXIT_USAGE, EXIT_DIVERGED), shown
    sentence, _, frames = err.partition("\n")
    if frames.startswith(USERS_FRAMES):  # an exception in a reader's own code: its own frames follow the sentence
        assert code == EXIT_USAGE and all(line.startswith("    ") or f"{os.sep}tests{os.sep}users{os.sep}" in line
                                          for line in frames.splitlines()[1:] if line.strip()), shown
        err = sentence + "\n"
    assert "Traceback" not in out + err, shown
    if code == EXIT_USAGE:
        assert err.startswith(f"{PROG}: error: ") and err.count("\n") == 1 and out == "", shown
    else:
        assert len(err.splitlines()) <= 1 and out, shown  # at most the reason a run ended, when it did not complete
