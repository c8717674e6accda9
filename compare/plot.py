"""``--plot PATH``: loss curves, the weight difference over training, and the timing.

Needs matplotlib (``pip install numpy-torch-twins[plot]``); imported only when asked for.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import ParameterError
from common.files import atomic_write

if TYPE_CHECKING:  # the runner imports torch: a bad --plot should fail before that wait
    from compare.runner import RunResult


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
    for backend in result.backends:
        if backend.loss_curve:
            steps, losses = zip(*backend.loss_curve)
            loss_axes.plot(steps, losses, label=backend.key)
    loss_axes.set(title="training loss L = ½Σ(t−o)², mean per segment", xlabel="step", ylabel="L")
    loss_axes.legend()
    agreement = result.agreement
    if agreement:
        kind = "book step" if any(c.kind == "book step" for c in agreement.checks) else "weights"
        for layer in ("W_ih", "W_ho"):
            checks = [c for c in agreement.checks if c.kind == kind and c.layer == layer]
            if checks:
                values = [1 - c.cosine if kind == "book step" else c.relative for c in checks]
                diff_axes.semilogy([c.step for c in checks], [max(v, 1e-18) for v in values], "o-", label=layer)
        diff_axes.axhline(agreement.tolerance.trajectory, color="grey", ls="--", label="tolerance")
        diff_axes.set(title="book step: 1 − cosine with the gradient" if kind == "book step"
                      else "weights: relative difference between backends", xlabel="step")
        diff_axes.legend()
    keys = [b.key for b in result.backends]
    per_sample = [b.us_per_sample or 0 for b in result.backends]
    time_axes.bar(keys, per_sample, color=["tab:blue", "tab:orange", "tab:green"][: len(keys)])
    time_axes.set(title="training time", ylabel="µs per sample")
    figure.tight_layout()
    return figure


def _sweep_figure(plt, results: list[RunResult]):
    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    keys = list(dict.fromkeys(b.key for r in results for b in r.backends))
    for key in keys:
        points = [(r.hidden, b.train_seconds) for r in results for b in r.backends if b.key == key]
        axes.plot(*zip(*points), "o-", label=key)
    axes.set(title="training time against hidden nodes", xlabel="hidden nodes", ylabel="seconds",
             xscale="log", yscale="log")
    axes.legend()
    figure.tight_layout()
    return figure
