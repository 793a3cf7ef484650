"""Run records: lossless JSON, atomic writes, the on-disk cache."""
from __future__ import annotations

import dataclasses
import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from overfit_core import FAST, get_variant
from overfit_core.records import (SCHEMA, KernelStats, RecordStore, RunRecord, atomic_write, cache_key, run_id,
                                  writable_dir)


def make_record(**over) -> RunRecord:
    base = dict(
        spec=get_variant("l1"), config=FAST, seed=3, dataset="imdb", data_kind="synthetic",
        data_source="synthetic(seed=0)", data_sha256="ab" * 32,
        plan={"epochs": 40, "max_train_samples": None, "validation_split": None},
        history={"loss": [0.7, 0.1 + 1e-17, 1 / 3], "val_loss": [0.69, 0.8, math.pi]},
        kernels=(KernelStats("dense", 12800, 12.5, 0.1234567890123, 0.25),),
        evaluation={"val_accuracy": 0.5}, predictions=(), targets=(),
        versions={"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6", "python": "3.11.7"},
        n_train=5000, epochs_run=3, wall_time_s=1.25, samples_per_s=12000.0, cache_key="k1",
    )
    return RunRecord(**{**base, **over})


def test_json_round_trip_is_lossless():
    r = make_record()
    back = RunRecord.from_json(r.to_json())
    assert back == r and back.to_json() == r.to_json()
    assert back.history["val_loss"][-1] == math.pi
    assert back.data_kind == "synthetic" and dict(back.plan) == {"epochs": 40, "max_train_samples": None,
                                                                 "validation_split": None}
    assert json.loads(r.to_json())["schema"] == SCHEMA == 2


def test_record_is_immutable():
    r = make_record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.seed = 4
    with pytest.raises(TypeError):
        r.history["loss"] = ()
    with pytest.raises(TypeError):
        r.plan["epochs"] = 1


def test_run_id_is_readable():
    assert make_record().run_id == "l1-imdb-seed3-fast" == run_id("l1", "imdb", 3, "fast")


def test_cache_key_covers_the_plan():
    r = make_record()
    args = (r.spec, r.config, r.seed, r.data_sha256, {"word_num": 100}, r.versions)
    key = cache_key(*args, r.plan)
    assert len(key) == 24 and key == cache_key(*args, dict(r.plan))
    assert key != cache_key(*args, {**r.plan, "epochs": 41})  # trained longer: another record
    assert key != cache_key(*args, {**r.plan, "max_train_samples": 1000})


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "r.json"
    atomic_write(path, "old")
    atomic_write(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
    atomic_write(path, b"\x00bytes\xff")  # bytes are written as they are, text as UTF-8
    assert path.read_bytes() == b"\x00bytes\xff"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_failed_write_keeps_previous_content(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    atomic_write(path, "kept")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        atomic_write(path, "lost")
    assert path.read_text() == "kept" and len(list(tmp_path.iterdir())) == 1


def test_store_round_trip_and_key_mismatch(tmp_path):
    store = RecordStore(tmp_path)
    r = make_record()
    store.save(r)
    assert store.load(r.run_id, "k1") == r
    assert store.load(r.run_id, "other") is None


@pytest.mark.parametrize("content", ["{not json", json.dumps({"schema": 99}), json.dumps({"schema": 1}), ""])
def test_store_discards_corrupt_record_with_warning(tmp_path, content):
    store = RecordStore(tmp_path)
    path = store.path("x-imdb-seed0-fast", "k")
    path.write_text(content)
    with pytest.warns(UserWarning, match="Discarding corrupt cached record"):
        assert store.load("x-imdb-seed0-fast", "k") is None
    assert not path.exists()


def test_store_on_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ValueError, match="a directory, not a file"):
        RecordStore(f)


def test_workers_sharing_an_out_folder_all_get_it(tmp_path):
    # Every worker of a multi-worker cluster checks the same --out at once; a shared probe file name made one of
    # them fail ("No such file") when another removed the probe first.
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda _: writable_dir(tmp_path / "out", "records"), range(400)))
    assert set(outs) == {tmp_path / "out"} and (tmp_path / "out" / "records").is_dir()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["records"]  # no probe left behind
