"""compare from Python: the Config's checks, run_comparison, and parts of the report."""
import json
import os
import stat
from types import SimpleNamespace

import numpy as np
import pytest

from common.errors import ParameterError
from common.files import atomic_write
from compare import Config, run_comparison
from compare.config import usable_cores
from compare.report import backend_table, comparable_to_seed


@pytest.mark.parametrize("options, message", [
    (dict(epochs=0), "'epochs' parameter must be an int >= 1. Got 0"),
    (dict(hidden=()), "'hidden' parameter needs at least one size"),
    (dict(lr=float("inf")), "'lr' parameter must be a finite float > 0"),
    (dict(dtype="int8"), "'dtype' parameter must be one of"),
    (dict(backends=("torch_impl",), rule="book"), "--rule book trains from_scratch's BookNetwork"),
    (dict(threads=usable_cores() + 1), "more than the .* processors this process may use"),
    (dict(devices=("gpu",)), "'devices' parameter must list some of"),
])
def test_config_refuses_bad_values_with_one_sentence(options, message):
    with pytest.raises(ParameterError, match=message):
        Config(**options)


def test_run_comparison_returns_the_record_and_writes_what_it_is_asked(tmp_path):
    record = run_comparison(train_limit=200, test_limit=50, check_every=100, json_path=tmp_path / "r.json",
                            save_dir=tmp_path / "saved")
    assert record["status"] == "completed" and record["agreement"]["passed"] is True
    assert record["agreement"]["complete"] is True
    assert json.loads((tmp_path / "r.json").read_text())["backends"].keys() == {"from_scratch", "torch_impl"}
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["from_scratch.npz", "record.json",
                                                                      "torch_impl.npz"]


def test_2017_seconds_stand_only_beside_the_2017_run():
    full = SimpleNamespace(train_labels=np.zeros(60000))
    seed = Config(dataset="mnist", epochs=5, dtype="float32")
    assert comparable_to_seed(seed, full)
    assert not comparable_to_seed(Config(epochs=1), full)
    assert not comparable_to_seed(seed, SimpleNamespace(train_labels=np.zeros(6000)))
    assert not comparable_to_seed(Config(dataset="mnist", epochs=5, hidden=(100,)), full)


def test_backend_table_prints_the_2017_column_when_asked():
    from common.data import load_embedded
    from compare.runner import run

    (result,), _ = run(Config(train_limit=100, test_limit=20, epochs=2), load_embedded().limit(100, 20))
    table = backend_table(result, seed_column=True)
    header, numpy_row, torch_row = table.splitlines()[:3]
    assert header.endswith("2017 s") and numpy_row.endswith(" 440") and torch_row.endswith(" 841")
    assert "seconds per epoch" in table  # two epochs: each is listed, so uneven epochs show


def test_atomic_write_gives_the_permissions_open_would(tmp_path):
    with atomic_write(tmp_path / "out.txt", "w") as f:
        f.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o666 & ~umask
