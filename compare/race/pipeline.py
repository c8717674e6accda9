"""One comparison, from a Config to its record: the steps ``run_comparison`` and the command line
share. Nothing here knows argparse or prints a report; :mod:`compare.race.cli` parses, calls
:func:`run_comparison`, renders the record (:mod:`compare.race.report`) and maps its status to an
exit code.
"""
from __future__ import annotations

import os

from common.data import Dataset, load_dataset
from common.errors import ParameterError
from compare.race.config import Config
from compare.race.memory import check_memory


def run_comparison(config: Config | None = None, **options) -> dict:
    """Run a comparison without printing and return its record (the ``--json`` content).

    Parameters
    ----------
    config : Config, optional
        A whole configuration; or give its fields as keyword arguments, e.g.
        ``run_comparison(hidden=(100,), epochs=2, rule="book")`` or
        ``run_comparison(backends=("torch_impl", "mypackage.mynet:MyNetwork"))``. ``json_path``,
        ``save_dir`` and ``plot_path`` are written as on the command line.

    Raises
    ------
    ParameterError, DataError
        Bad input, before any training: an output path, the data, a device, a network of the
        user's own that breaks the protocol (:class:`~common.errors.ConformanceError`), a
        network too large for the machine's memory (also when an allocation fails later).
    """
    config = config or Config.of(**options)
    check_outputs(config)
    check_memory(config.architectures, config.dtype, count_backends(config))
    data = load(config)  # before torch is imported: a bad folder is reported at once
    if "torch_impl" in config.backends:
        from torch_impl import resolve_device
        for device in config.devices:
            resolve_device(device)  # --device cuda without CUDA fails here, before any work
    from compare.race.record import build_record
    from compare.race.runner import run

    results, environment = run(config, data)
    record = build_record(config, environment, results, data)
    write_outputs(config, record, results)
    return record


def check_outputs(config: Config) -> None:
    """Refuse, before any training, output paths that could not be written afterwards."""
    for option, path in (("--json", config.json_path), ("--plot", config.plot_path)):
        if path is not None and (path.is_dir() or not path.parent.is_dir()):
            raise ParameterError(f"{option} {path}: " + ("is a folder; give a file name." if path.is_dir()
                                 else f"{path.parent} is not a folder." if path.parent.exists()
                                 else f"the folder {path.parent} does not exist."))
        if path is not None and not os.access(path.parent, os.W_OK):
            raise ParameterError(f"{option} {path}: the folder {path.parent} is not writable.")
    if config.save_dir is not None:  # made after training: its nearest existing ancestor must be a folder
        existing = next(p for p in (config.save_dir, *config.save_dir.parents) if p.exists())
        if not existing.is_dir():
            raise ParameterError(f"--save {config.save_dir}: " + ("exists and is not a folder."
                                 if existing == config.save_dir else f"{existing} is not a folder."))
        if not os.access(existing, os.W_OK):
            raise ParameterError(f"--save {config.save_dir}: the folder {existing} is not writable.")
    if config.plot_path is not None:
        from compare.race.plot import check_plot_path
        check_plot_path(config.plot_path)


def count_backends(config: Config) -> int:
    """Networks that train in the run: one per backend, torch_impl one per device."""
    return len(config.backends) + (len(config.devices) - 1 if "torch_impl" in config.backends else 0)


def load(config: Config) -> Dataset:
    """The data the configuration names, cut to its limits."""
    data = load_dataset(config.dataset, config.data_dir, progress=not config.quiet)
    return data.limit(config.train_limit, config.test_limit)


def write_outputs(config: Config, record: dict, results: list) -> None:
    """What ``--json``, ``--save`` and ``--plot`` ask for; each file written atomically."""
    from common.weights import save_weights
    from compare.race.record import write_json
    from compare.state import snapshot

    if config.json_path:
        write_json(config.json_path, record)
    if config.save_dir:
        config.save_dir.mkdir(parents=True, exist_ok=True)
        for result in results:
            suffix = f"_h{result.hidden.replace(',', '-')}" if len(config.hidden) > 1 else ""
            for backend in result.backends:
                name = backend.key.replace("[", "_").replace("]", "")
                state = snapshot(backend.network)
                save_weights(config.save_dir / f"{name}{suffix}.npz", state.weights, result.architecture,
                             result.recipe, state.buffers)
        write_json(config.save_dir / "record.json", record)
    if config.plot_path and results:
        from compare.race.plot import plot
        plot(config.plot_path, results, config.is_sweep)
