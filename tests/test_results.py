"""rlcore.results: atomic writes, the run store, loading runs into tidy frames."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import torch

import rlcore.io
from rlcore import results
from rlcore.config import ConfigError, RunConfig
from rlcore.io import atomic_path
from rlcore.results import (COLUMNS, RunStore, atomic_torch_save, atomic_write, load_runs, load_sweep, load_table)


def _listing(directory) -> list[str]:
    """Every entry of a directory, hidden ones included (temp files are `.NAME.XXXX.tmp`)."""
    return sorted(os.listdir(directory))


def test_atomic_path_writes_a_hidden_temp_file_next_to_the_target(tmp_path):
    target = tmp_path / "table.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".table.csv.") and tmp.name.endswith(".tmp")
        tmp.write_text("x")
        assert _listing(tmp_path) == [tmp.name]  # the target appears only once the block succeeds
    assert _listing(tmp_path) == ["table.csv"] and target.read_text() == "x"
    with pytest.raises(KeyError):
        with atomic_path(tmp_path / "other.csv") as tmp:
            tmp.write_text("half")
            raise KeyError("interrupted")
    assert _listing(tmp_path) == ["table.csv"]  # the temp file of a failed write is removed


def test_atomic_write_replaces_content_and_leaves_no_temp_files(tmp_path):
    p = tmp_path / "table.csv"
    atomic_write(p, "a,b\n1,2\n")
    assert p.read_text() == "a,b\n1,2\n"
    atomic_write(p, b"replaced")
    assert p.read_bytes() == b"replaced"
    assert sorted(os.listdir(tmp_path)) == ["table.csv"]


def test_atomic_write_failure_keeps_old_file_and_cleans_up(tmp_path, monkeypatch):
    p = tmp_path / "status.json"
    atomic_write(p, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(rlcore.io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(p, "new")
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"x": 1}, tmp_path / "checkpoint.pt")
    monkeypatch.undo()
    assert p.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["status.json"]  # no temporary leftovers, no partial checkpoint


def test_atomic_torch_save(tmp_path):
    atomic_torch_save({"w": torch.arange(3)}, tmp_path / "agent.pt")
    assert torch.equal(torch.load(tmp_path / "agent.pt")["w"], torch.arange(3))
    assert _listing(tmp_path) == ["agent.pt"]


@pytest.fixture
def cfg(tiny_config):
    return tiny_config("sac", seed=3)


def test_run_store_layout_config_and_status(tmp_path, cfg):
    store = RunStore(tmp_path, cfg)
    assert store.dir == tmp_path / cfg.run_id
    assert store.status() is None
    store.prepare()
    assert RunConfig.from_dict(json.loads(store.path("config.json").read_text())) == cfg
    store.write_status("running", step=5)
    assert store.status() == {"state": "running", "step": 5}
    store.write_status("finished", step=10, final_eval_return=-1.5)
    assert store.status() == {"state": "finished", "step": 10, "final_eval_return": -1.5}
    store.write_manifest({"device": "cpu"})
    assert json.loads(store.path("manifest.json").read_text()) == {"device": "cpu"}
    store.prepare()  # idempotent for the same config
    assert _listing(store.dir) == ["config.json", "manifest.json", "status.json"]


def test_run_store_refuses_a_directory_of_another_config(tmp_path, cfg):
    store = RunStore(tmp_path, cfg)
    store.prepare()
    other = cfg.replace(seed=4)
    (tmp_path / cfg.run_id / "config.json").write_text(json.dumps(other.to_dict()))
    with pytest.raises(RuntimeError, match="different config"):
        RunStore(tmp_path, cfg).prepare()


def test_run_store_rows(tmp_path, cfg):
    store = RunStore(tmp_path, cfg)
    store.prepare()
    assert store.read_rows("evaluations") == []
    row = store.row(100, "eval_return", -123.5)
    assert row == {"run": cfg.run_id, "env": "Pendulum-v1", "algo": "sac", "seed": 3, "step": 100,
                   "metric": "eval_return", "value": -123.5, "frames": 100}
    assert list(row) == COLUMNS and COLUMNS[-1] == "frames"
    # frames: the given count (e.g. Ape-X's environment steps), else step x action repeat.
    assert store.row(100, "eval_return", 0.0, frames=4321)["frames"] == 4321
    repeated = RunStore(tmp_path, cfg.replace(**{"env.action_repeat": 4}))
    assert repeated.row(100, "eval_return", 0.0)["frames"] == 400
    rows = [store.row(s, m, s / 10) for s in (0, 100) for m in ("eval_return", "eval_length")]
    store.write_rows("evaluations", rows)
    frame = pd.read_csv(store.path("evaluations.csv"))
    assert list(frame.columns) == COLUMNS
    assert store.read_rows("evaluations") == rows
    store.write_rows("metrics", [])
    assert list(pd.read_csv(store.path("metrics.csv")).columns) == COLUMNS


def test_run_store_checkpoint(tmp_path, cfg):
    store = RunStore(tmp_path, cfg)
    store.prepare()
    assert store.load_checkpoint() is None
    store.save_checkpoint({"step": 7, "t": torch.ones(2)})
    ckpt = store.load_checkpoint()
    assert ckpt["step"] == 7 and torch.equal(ckpt["t"], torch.ones(2))
    store.remove_checkpoint()
    assert not store.path("checkpoint.pt").exists()
    store.remove_checkpoint()  # removing twice is fine
    assert _listing(store.dir) == ["config.json"]


def test_unwritable_results_dir_raises_config_error(tmp_path, cfg):
    # A path below a regular file cannot be created, not even by root (chmod would not stop root).
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("I am a file")
    with pytest.raises(ConfigError) as info:
        RunStore(blocker / "results", cfg).prepare()
    assert info.value.field_name == "results_dir"
    assert str(blocker / "results") in str(info.value)
    assert "writable directory" in str(info.value)


def test_default_results_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RLCORE_RESULTS", str(tmp_path / "elsewhere"))
    assert results.default_results_dir("smoke") == tmp_path / "elsewhere" / "smoke" / "runs"


def test_environment_manifest():
    m = results.environment_manifest("cpu")
    assert m["device"] == "cpu"
    assert torch.__version__.startswith(m["packages"]["torch"])
    assert m["packages"]["gymnasium"] is not None and m["torch_threads"] == torch.get_num_threads()
    assert {"python", "platform", "git_commit", "torch_threads"} <= set(m)


# ---- loading ----------------------------------------------------------------------------------------
def test_evaluations_are_untrained_up_to_the_warm_up_serial_or_at_step_0_with_apex(tmp_path, tiny_config):
    serial = tiny_config("sac")                                   # warm-up 100 environment steps
    apex = serial.replace(**{"collect.mode": "apex", "seed": 1})   # steps count gradient steps
    _fake_run(tmp_path, serial, steps=(0, 100, 101, 200))
    _fake_run(tmp_path, apex, steps=(0, 100, 200))
    evals = load_table(tmp_path, "evaluations").set_index(["run", "step"])["untrained"]
    assert [evals[(serial.run_id, s)] for s in (0, 100, 101, 200)] == [True, True, False, False]
    assert [evals[(apex.run_id, s)] for s in (0, 100, 200)] == [True, False, False]
    assert list(load_table(tmp_path / "none", "evaluations").columns) == COLUMNS + ["untrained"]


def _fake_run(root, cfg, state="finished", steps=(0, 100)):
    store = RunStore(root, cfg)
    store.prepare()
    store.write_rows("evaluations", [store.row(s, "eval_return", -1000 + s + cfg.seed) for s in steps])
    store.write_rows("metrics", [store.row(s, "train_critic_loss", 1.0) for s in steps[1:]])
    store.write_status(state, step=steps[-1])
    return store


def test_load_runs_table_sweep(tmp_path, tiny_config):
    cfgs = [tiny_config("sac", seed=0), tiny_config("sac", seed=1),
            tiny_config("td3", seed=0).replace(**{"agent.critic.width": 64})]
    for c, state in zip(cfgs, ("finished", "crashed", "finished")):
        _fake_run(tmp_path, c, state)
    (tmp_path / "stray-dir").mkdir()  # not a run: no config.json

    runs = load_runs(tmp_path)
    assert len(runs) == 3
    assert {"run", "state", "final_step", "reason", "agent.algo", "agent.critic.width", "seed",
            "budget.total_steps", "env.id"} <= set(runs.columns)
    by_run = runs.set_index("run")
    assert by_run.loc[cfgs[1].run_id, "state"] == "crashed"
    assert by_run.loc[cfgs[2].run_id, "agent.critic.width"] == 64

    evals = load_table(tmp_path, "evaluations")
    assert list(evals.columns) == COLUMNS + ["untrained"]
    assert len(evals) == 6 and set(evals["run"]) == {c.run_id for c in cfgs}
    # warm-up 100 steps: the evaluations at 0 and 100 saw no update yet
    assert evals["untrained"].all()
    assert list(load_table(tmp_path, "metrics").columns) == COLUMNS

    merged = load_table(tmp_path, "evaluations", config_columns=["agent.critic.width", "agent.algo"])
    assert list(merged.columns) == COLUMNS + ["untrained", "state", "agent.critic.width", "agent.algo"]
    td3_rows = merged[merged["run"] == cfgs[2].run_id]
    assert (td3_rows["agent.critic.width"] == 64).all() and (td3_rows["agent.algo"] == "td3").all()

    sweep = load_sweep(cfgs[:2], tmp_path, config_columns=["seed"])
    assert set(sweep["run"]) == {cfgs[0].run_id, cfgs[1].run_id}
    # "seed" is a column of the table already: merging it must not produce seed_x / seed_y.
    assert list(sweep.columns) == COLUMNS + ["untrained", "state"]
    assert sorted(sweep.drop_duplicates("run")["seed"]) == [0, 1]

    metrics = load_table(tmp_path, "metrics", run_ids=[cfgs[0].run_id])
    assert list(metrics.columns) == COLUMNS and len(metrics) == 1


def test_load_table_errors_and_empty(tmp_path, tiny_config):
    with pytest.raises(ConfigError) as info:
        load_table(tmp_path, "rewards")
    assert info.value.field_name == "table"
    empty = load_table(tmp_path / "missing", "evaluations")
    assert list(empty.columns) == COLUMNS + ["untrained"] and len(empty) == 0
    assert load_runs(tmp_path / "missing").empty
    _fake_run(tmp_path, tiny_config())
    with pytest.raises(ConfigError) as info:
        load_table(tmp_path, config_columns=["agent.critic.widht"])
    assert info.value.field_name == "config_columns"


@pytest.mark.filterwarnings("error::FutureWarning")
def test_a_run_that_has_not_logged_yet_adds_no_rows_and_no_warning(tmp_path, tiny_config):
    _fake_run(tmp_path, tiny_config(seed=0), steps=(0, 200))
    started = _fake_run(tmp_path, tiny_config(seed=1), state="running", steps=(0,))
    (started.dir / "evaluations.csv").write_text(",".join(COLUMNS) + "\n")  # header only
    evals = load_table(tmp_path, "evaluations")
    assert set(evals["run"]) == {tiny_config(seed=0).run_id} and len(evals) == 2
    assert evals["untrained"].tolist() == [True, False]
