"""``--plot PATH``: loss curves, the weight difference over training, and the timing.

Needs matplotlib (``pip install numpy-torch-twins[plot]``); imported only when asked for.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import ParameterError
from common.files import atomic_write
from compare.race.departure import summary as departure_summary

if TYPE_CHECKING:  # the runner imports torch: a bad --plot should fail before that wait
    from compare.race.runner import RunResult

MARKERS = 60  # a loss curve with at most this many points shows each one

def require_matplotlib() -> None:
    """Fail before training, not after it, when --plot cannot be honoured."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ParameterError("--plot needs matplotlib, which is not installed: "
                             "pip install 'numpy-torch-twins[plot]'.") from None


def check_plot_path(path: Path) -> None:
    """Refuse, before training, a file whose format (its suffix; none means PNG) matplotlib cannot write."""
    require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if _format(path) not in formats:
        raise ParameterError(f"--plot {path}: matplotlib cannot write .{_format(path)} files; "
                             f"give a name ending in one of .{', .'.join(sorted(formats))}.")


def plot(path: Path, results: list[RunResult], sweep: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = _sweep_figure(plt, results) if sweep else _run_figure(plt, results[0])
    with atomic_write(path) as f:
        figure.savefig(f, format=_format(path), dpi=120, bbox_inches="tight")
    plt.close(figure)


def _format(path: Path) -> str:
    return path.suffix.lstrip(".").lower() or "png"


def _run_figure(plt, result: RunResult):
    figure, (loss_axes, diff_axes, time_axes) = plt.subplots(1, 3, figsize=(15, 4.2))
    _loss_panel(loss_axes, result)
    if result.agreement:
        _difference_panel(diff_axes, result.agreement)
    keys = [b.key for b in result.backends]
    per_sample = [b.us_per_sample or 0 for b in result.backends]
    time_axes.bar(keys, per_sample, color=["tab:blue", "tab:orange", "tab:green"][: len(keys)])
    time_axes.set(title="training time", ylabel="µs per sample")
    if result.saturation and result.saturation["saturated"]:
        figure.suptitle("the network saturated: try a smaller --lr (the agreement verdict is separate)",
                        color="tab:red")
    figure.tight_layout()
    return figure


def _loss_panel(axes, result: RunResult) -> None:
    """Each backend's loss curve, with markers when the points are few; plain numbers on the axis."""
    for backend in result.backends:
        if backend.loss_curve:
            steps, losses = zip(*backend.loss_curve)
            axes.plot(steps, losses, marker="o" if len(steps) <= MARKERS else None, ms=4, label=backend.key)
    axes.set(title="training loss L, mean over stretches of steps", xlabel="step", ylabel="L")
    axes.ticklabel_format(axis="both", style="plain", useOffset=False)
    axes.legend()


def _difference_panel(axes, agreement) -> None:
    """Weights apart (or the book's step against the gradient), on a scale where 0 is drawn as 0."""
    book = any(c.kind == "book step" for c in agreement.checks)
    kind = "book step" if book else "weights"
    layers = list(dict.fromkeys(c.layer for c in agreement.checks if c.kind == kind))
    highest = 0.0 if book else agreement.tolerance.trajectory
    for layer in layers:
        checks = [c for c in agreement.checks if c.kind == kind and c.layer == layer]
        values = [1 - c.cosine if book else c.relative for c in checks]
        highest = max([highest, *values])
        axes.plot([c.step for c in checks], values, "o-", ms=4, label=layer)
    highest = max([highest, *(max(s.bound) for s in agreement.sensitivity)])
    # symlog: linear below the dtype's epsilon, so an exact 0 sits at 0 rather than at a made-up 1e-18.
    axes.set_yscale("symlog", linthresh=agreement.tolerance.eps)
    axes.set_ylim(0, 10 * max(highest, agreement.tolerance.eps))
    if book:
        axes.set(title="book step: 1 − cosine with the gradient", xlabel="step")
    else:
        axes.axhline(agreement.tolerance.trajectory, color="grey", ls="--", label="tolerance")
        explained = [s for s in agreement.sensitivity if s.explained]
        if explained:
            axes.plot([s.start + s.steps for s in explained], [max(s.bound) for s in explained], "v", color="grey",
                      label="what rounding explains")
            axes.plot([s.start + s.steps for s in explained], [max(s.growth) for s in explained], "x",
                      color="tab:red", label="a 1-rounding-error nudge, grown")
            parted = [d for s in explained if s.explained_by == "branch" for d in s.search["departures"]]
            if parted:
                axes.plot([d["step"] for d in parted], [d["apart_after"] for d in parted], "*", color="tab:purple",
                          ms=9, label="parted at a branch")
            note = ("sensitive to rounding: " + (f"parted at a branch, {departure_summary(parted[0])}" if parted
                                                 else explained[0].describe())
                    + "; the runs are re-synchronised at each check")
            axes.text(0.02, 0.98, textwrap.fill(note, 60), transform=axes.transAxes, va="top", fontsize=7)
        axes.set(title="weights: relative difference between backends", xlabel="step")
    axes.legend(loc="lower right", fontsize=8)


def _position(result: RunResult, results: list[RunResult]) -> float:
    """Where a run sits on the sweep's x axis: its hidden nodes, or its place when depths differ."""
    if all(len(r.architecture.hidden_nodes) == 1 for r in results):
        return result.architecture.hidden_nodes[0]
    return results.index(result)


def _sweep_figure(plt, results: list[RunResult]):
    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    keys = list(dict.fromkeys(b.key for r in results for b in r.backends))
    for key in keys:
        points = [(_position(r, results), b.train_seconds) for r in results for b in r.backends if b.key == key]
        axes.plot(*zip(*points), "o-", label=key)
    axes.set(title="training time against hidden nodes", xlabel="hidden nodes", ylabel="seconds", yscale="log")
    if all(len(r.architecture.hidden_nodes) == 1 for r in results):
        axes.set_xscale("log")
    else:  # several layers, or none: one place each, named as --hidden names them
        axes.set_xticks(range(len(results)), [r.hidden for r in results])
    axes.legend()
    figure.tight_layout()
    return figure
