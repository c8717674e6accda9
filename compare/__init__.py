"""Side by side: the NumPy network and its PyTorch twin, checked step by step and timed.

From the shell: ``python -m compare --help``. From Python (a lesson, a notebook)::

    from compare import run_comparison
    record = run_comparison(train_limit=1000, test_limit=200)
    record["agreement"]["passed"], record["backends"]["torch_impl"]["accuracy"]

``compare`` is the only package that imports both ``from_scratch`` and ``torch_impl``.
"""
from __future__ import annotations

from compare.config import Config
from compare.network_check import check_network


def run_comparison(config: Config | None = None, **options) -> dict:
    """Run a comparison without printing and return its record (the ``--json`` content).

    Parameters
    ----------
    config : Config, optional
        A whole configuration; or give its fields as keyword arguments, e.g.
        ``run_comparison(hidden=(100,), epochs=2, rule="book")``. ``json_path``,
        ``save_dir`` and ``plot_path`` are written as on the command line.
    """
    from compare.cli import check_outputs, load
    from compare.report import build_record
    from compare.runner import run
    from compare.session import write_outputs

    config = config or Config(**options)
    check_outputs(config)
    data = load(config)
    results, environment = run(config, data)
    record = build_record(config, environment, results, data)
    write_outputs(config, record, results)
    return record


__all__ = ["Config", "check_network", "run_comparison"]
