"""``python -m compare``: argparse to a frozen Config, the run, the report, the exit code.
Nothing beyond this module sees argparse.

Exit codes: 0 the backends agree (their steps from identical weights agree, and their
trajectories stay within the tolerance or drift only as this run amplifies rounding); 1 they
disagree beyond the tolerance; 2 bad input (an option, a file, a missing device); 3 training
diverged; 130 interrupted (Ctrl-C), with a partial report.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from dataclasses import fields
from pathlib import Path

from common.errors import DataError, ParameterError
from common.architecture import ACTIVATIONS, LOSSES
from common.layers import OPTIONS
from common.recipe import OPTIMIZERS, SCHEDULES
from compare.race.config import PRESETS, RULES, Config
from compare.race.pipeline import run_comparison

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_FOR_STATUS = {"completed": EXIT_OK, "disagreed": EXIT_DISAGREE, "diverged": EXIT_DIVERGED,
                   "interrupted": EXIT_INTERRUPTED}


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one sentence, not the usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


# The options whose names are not their Config field's (or the networks' keyword's).
OPTION_NAMES = {"devices": "--device", "json_path": "--json", "plot_path": "--plot", "save_dir": "--save",
                "hidden_nodes": "--hidden"}


def in_option_names(message: str) -> str:
    """A library sentence as the command line says it: "The 'backends' parameter names ..." becomes
    "--backends names ...", each parameter called by the option that sets it."""
    return re.sub(r"\b[Tt]he '(\w+)' parameter",
                  lambda m: OPTION_NAMES.get(m[1], "--" + m[1].replace("_", "-")), message)


def whole_number(minimum: int):
    """An argparse type: an integer >= ``minimum``, or one sentence saying what was expected."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
        return value
    return parse


positive_int, non_negative_int = whole_number(1), whole_number(0)


def hidden_layers(text: str) -> int | tuple[int, ...]:
    """An argparse type for one network's hidden layers: ``200`` (one layer), ``200,100`` (two, in
    order from the input), or ``none`` (no hidden layer)."""
    if text.strip().lower() == "none":
        return ()
    sizes = tuple(whole_number(1)(part) for part in text.split(","))
    return sizes[0] if len(sizes) == 1 and "," not in text else sizes


CONV_LAYER = re.compile(r"^(\d+)x(\d+)(?:p(\d+))?$")


def conv_layers(text: str) -> tuple[tuple[int, int, int], ...]:
    """An argparse type for the convolution layers: ``6x5p2,16x5`` is 6 filters of 5x5 padded by 2,
    then 16 of 5x5 unpadded (CxK, with an optional pP); ``none`` is none."""
    if text.strip().lower() == "none":
        return ()
    layers = []
    for part in text.split(","):
        found = CONV_LAYER.match(part.strip().lower())
        if not found or int(found[1]) < 1 or int(found[2]) < 1:
            raise argparse.ArgumentTypeError(
                f"must be convolution layers CxK or CxKpP separated by commas (C filters of KxK, padding P, "
                f"C and K >= 1), e.g. 6x5p2,16x5; got {text!r}")
        layers.append((int(found[1]), int(found[2]), int(found[3] or 0)))
    return tuple(layers)


def learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def numbers_list(count: int | None, name: str):
    """An argparse type: comma-separated finite numbers (exactly ``count`` of them, if given)."""
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(part) for part in text.split(","))
        except ValueError:
            values = ()
        if not values or not all(math.isfinite(v) for v in values) or (count and len(values) != count):
            raise argparse.ArgumentTypeError(f"must be {name}, got {text!r}")
        return values
    return parse


def build_parser() -> Parser:
    p = Parser(prog="python -m compare", description=(
        "Train the NumPy network and its PyTorch twin from identical weights on identical samples, "
        "check that they agree as they go, and time each."), epilog=__doc__.split("\n\n")[1])
    data = p.add_argument_group("data")
    data.add_argument("--dataset", choices=("embedded", "mnist"),
                      help="embedded: the 6,000/1,000 subset shipped with the package (default); "
                           "mnist: the full 60,000/10,000, downloaded once into the cache")
    data.add_argument("--data-dir", type=Path, metavar="DIR",
                      help="a folder of MNIST IDX files (raw or .gz) or the book's CSV files; wins over --dataset")
    data.add_argument("--train-limit", type=positive_int, metavar="N", help="use the first N training images")
    data.add_argument("--test-limit", type=positive_int, metavar="N", help="use the first N test images")
    net = p.add_argument_group("training")
    net.add_argument("--epochs", type=positive_int, metavar="N", help="passes over the training set (default 1)")
    net.add_argument("--hidden", type=hidden_layers, nargs="+", metavar="N[,N...]",
                     help="each network's hidden layers: 200 is one layer of 200 nodes (the default), 200,100 two "
                          "layers, none no hidden layer; several networks, separated by spaces, run a sweep")
    net.add_argument("--conv", type=conv_layers, metavar="CxK[pP],...",
                     help="convolution layers in front of the hidden layers: 6x5p2,16x5 is 6 filters of 5x5 padded "
                          "by 2, then 16 of 5x5, each followed by the activation and a 2x2 max pool, then a flatten "
                          "(LeNet-5 with --hidden 120,84); default none, as the book")
    net.add_argument("--activation", choices=ACTIVATIONS,
                     help="of the hidden and convolution layers (default sigmoid, the book's)")
    net.add_argument("--loss", choices=[name.replace("_", "-") for name in LOSSES], type=lambda t: t.replace("_", "-"),
                     help="half-sse: sigmoid outputs and L = ½ Σ (t − o)², targets 0.01/0.99 (default, the book's); "
                          "cross-entropy: softmax outputs, targets 0/1")
    net.add_argument("--bias", action="store_true", default=None, help="a bias in every layer (default: none, as the book)")
    net.add_argument("--lr", type=learning_rate, metavar="X", help="learning rate (default 0.1)")
    net.add_argument("--batch-size", type=positive_int, metavar="N", help="samples per step (default 1)")
    net.add_argument("--dtype", choices=("float32", "float64"),
                     help="float64 (default) agrees to rounding; float32 is faster")
    net.add_argument("--device", dest="devices", nargs="+", choices=("cpu", "cuda", "auto"),
                     help="torch's device (default cpu); several run a sweep")
    net.add_argument("--threads", type=positive_int, metavar="N",
                     help="threads for NumPy's BLAS and for torch alike, a fair race (default 1)")
    net.add_argument("--seed", type=non_negative_int, metavar="N",
                     help="the random seed of the initial weights and of --shuffle's order (default 0)")
    net.add_argument("--shuffle", action="store_true", default=None,
                     help="a seeded shuffle of the samples each epoch (default: file order)")
    net.add_argument("--rule", choices=RULES,
                     help="true: backpropagation (default); book: the book's update, measured against autograd")
    net.add_argument("--backends", nargs="+", metavar="NAME",
                     help="which to run (default both): from_scratch, torch_impl, and a network of your own as "
                          "mypackage.mynet:MyNetwork or path/to/mynet.py:MyNetwork, which races against torch_impl")
    net.add_argument("--check-every", type=positive_int, metavar="N",
                     help="compare the backends every N training samples, in whole batches, so that checks "
                          "spread over the run at any batch size (default 1000)")
    net.add_argument("--preset", choices=sorted(PRESETS),
                     help="2017: the experiment of the 2017 tutorial that ported the book to PyTorch (full MNIST, "
                          "784-200-10, lr 0.1, 5 epochs, float32), printed beside its timings; other options override it")
    layers = p.add_argument_group("layers in every hidden block (common/layers)")
    for keyword, kinds in OPTIONS.items():
        option = kinds[0].option
        if option.choice is None:  # a number the kind reads
            layers.add_argument(f"--{keyword}", type=non_negative_float, metavar=option.metavar or "X", help=option.help)
        else:
            layers.add_argument(f"--{keyword}", choices=[kind.option.choice for kind in kinds],
                                help="; ".join(f"{kind.option.choice}: {kind.option.help}" for kind in kinds)
                                + " (default: none, as the book)")
    recipe = p.add_argument_group("training recipe (torch.optim's names and defaults; common/recipe.py)")
    recipe.add_argument("--optimizer", choices=OPTIMIZERS,
                        help="sgd (default, the book's plain SGD), adam, adamw or rmsprop, as torch.optim's")
    recipe.add_argument("--momentum", type=non_negative_float, metavar="X", help="sgd and rmsprop (default 0)")
    recipe.add_argument("--dampening", type=non_negative_float, metavar="X",
                        help="sgd: the momentum buffer adds (1 - X) g (default 0)")
    recipe.add_argument("--nesterov", action="store_true", default=None, help="sgd: Nesterov momentum")
    recipe.add_argument("--betas", type=numbers_list(2, "two numbers B1,B2"), metavar="B1,B2",
                        help="adam and adamw (default 0.9,0.999)")
    recipe.add_argument("--eps", type=non_negative_float, metavar="X",
                        help="adam, adamw and rmsprop: added outside the square root (default 1e-8)")
    recipe.add_argument("--amsgrad", action="store_true", default=None, help="adam and adamw: AMSGrad")
    recipe.add_argument("--alpha", type=non_negative_float, metavar="X", help="rmsprop's smoothing (default 0.99)")
    recipe.add_argument("--centered", action="store_true", default=None, help="rmsprop: centred")
    recipe.add_argument("--weight-decay", type=non_negative_float, metavar="X",
                        help="the optimizer's weight decay: through the gradient in sgd, adam and rmsprop, "
                             "decoupled in adamw (default 0, and 0.01 for adamw)")
    recipe.add_argument("--l2", type=non_negative_float, metavar="X",
                        help="an L2 penalty X/2 * sum of squared weights in the loss, so in every gradient (default 0)")
    recipe.add_argument("--decay-biases", action="store_true", default=None,
                        help="weight decay and L2 reach the biases too (default: the weights only)")
    recipe.add_argument("--schedule", choices=[s.replace("_", "-") for s in SCHEDULES],
                        type=lambda t: t.replace("_", "-"),
                        help="the learning rate's: constant (default); step: times --gamma at each of --milestones, "
                             "as MultiStepLR; inverse-time: lr / (1 + --lr-decay * t) at step t, as nnfs's decay")
    recipe.add_argument("--milestones", type=numbers_list(None, "numbers of epochs, e.g. 2,4 or 0.5"),
                        metavar="E[,E...]", help="--schedule step: the epochs (fractions allowed) at which lr drops")
    recipe.add_argument("--gamma", type=non_negative_float, metavar="X", help="--schedule step's factor (default 0.1)")
    recipe.add_argument("--lr-decay", type=non_negative_float, metavar="X", help="--schedule inverse-time's decay")
    out = p.add_argument_group("output")
    out.add_argument("--json", dest="json_path", type=Path, metavar="PATH", help="write the whole record as JSON")
    out.add_argument("--plot", dest="plot_path", type=Path, metavar="PATH",
                     help="save loss, weight-difference and timing plots (needs matplotlib)")
    out.add_argument("--save", dest="save_dir", type=Path, metavar="DIR",
                     help="save both trained networks' weights (.npz) and the JSON record")
    out.add_argument("--quiet", action="store_true", default=None,
                     help="no progress bar and a one-line summary instead of the report")
    return p


def config_from_args(args: argparse.Namespace, stderr_is_terminal: bool) -> Config:
    """Defaults, then the preset, then the options given: one frozen Config."""
    values = dict(PRESETS[args.preset]) if args.preset else {}
    names = {f.name for f in fields(Config) if f.init} | set(OPTIONS)
    values.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(args).items()
                   if v is not None and k in names})
    for name in ("loss", "schedule"):
        if name in values:
            values[name] = values[name].replace("-", "_")
    return Config.of(**values, progress=stderr_is_terminal and not values.get("quiet", False))


def main(argv: list[str] | None = None) -> int:
    """Parse, run the pipeline, print the report rendered from the record, return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, sys.stderr.isatty())
        record = run_comparison(config)
    except (ParameterError, DataError) as error:
        print(f"{parser.prog}: error: {in_option_names(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted before training began.", file=sys.stderr)
        return EXIT_INTERRUPTED
    from compare.race.report import summary_line, text_report  # torch is loaded by now; it was not for a bad input

    print(summary_line(record) if config.quiet else text_report(record), flush=True)
    if record["status"] != "completed" and not config.quiet and not _same_destination():
        # Where the report went elsewhere (a file, a pipe), the terminal still hears why it ended: the
        # message's first line, what failed and where.
        print(f"{parser.prog}: {record['status']}: {record['message'].splitlines()[0]}", file=sys.stderr)
    return EXIT_FOR_STATUS[record["status"]]


def _same_destination() -> bool:
    """Whether stdout and stderr are one file, pipe or terminal (``2>&1``), where the report has just
    said it all."""
    try:
        out, err = os.fstat(sys.stdout.fileno()), os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):  # a stream without a file descriptor (captured): not the same
        return False
    return (out.st_dev, out.st_ino) == (err.st_dev, err.st_ino)
