"""Sweeps on several processes and on Ray: same store, same run ids, same numbers, locks respected.

Every run is a few seconds of Pendulum-v1 (60 steps, 16-unit networks, 20-step episodes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from rlcore import sweep as sweep_module
from rlcore.config import ConfigError, RunConfig
from rlcore.io import read_json
from rlcore.results import RunStore, load_runs, load_table
from rlcore.sweep import grid, run_sweep

# xdist_group "processes": see tests/conftest.py
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.xdist_group("processes")]

TINY = {
    "env.id": "Pendulum-v1", "env.max_episode_steps": 20, "budget.total_steps": 60, "budget.warmup_steps": 20,
    "budget.eval_every": 30, "budget.eval_episodes": 1, "budget.log_every": 10, "agent.batch_size": 16,
    "agent.actor.width": 16, "agent.critic.width": 16, "budget.replay_size": 100, "budget.srank_samples": 0,
    "budget.td_targets_samples": 0,
}


def tiny_grid(seeds=(0, 1, 2)) -> list[RunConfig]:
    return grid(RunConfig().replace(**TINY), {"seed": list(seeds)})


def evaluations(results_dir) -> pd.DataFrame:
    frame = load_table(results_dir, "evaluations")
    return frame.sort_values(["run", "step", "metric"]).reset_index(drop=True)[["run", "step", "metric", "value"]]


@pytest.fixture(scope="module")
def serial_one_thread(tmp_path_factory):
    """The reference: the grid run serially with one torch thread (what each parallel job uses)."""
    root = tmp_path_factory.mktemp("serial")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = run_sweep(tiny_grid(), root, progress=False)
    finally:
        torch.set_num_threads(threads)
    return root, rows


def test_jobs_2_trains_every_run_into_the_same_store_with_the_serial_numbers(serial_one_thread, tmp_path):
    serial_root, serial_rows = serial_one_thread
    rows = run_sweep(tiny_grid(), tmp_path, progress=True, jobs=2)
    assert list(rows["run"]) == [c.run_id for c in tiny_grid()]  # rows in the configs' order
    assert (rows["state"] == "finished").all(), rows
    assert list(rows["run"]) == list(serial_rows["run"])
    pd.testing.assert_frame_equal(evaluations(tmp_path), evaluations(serial_root))


def test_jobs_skip_finished_runs_and_recompute_only_a_deleted_one(tmp_path):
    configs = tiny_grid((0, 1))
    run_sweep(configs, tmp_path, progress=False, jobs=2)
    stamps = {c.run_id: (tmp_path / c.run_id / "status.json").stat().st_mtime_ns for c in configs}
    import shutil

    shutil.rmtree(tmp_path / configs[1].run_id)
    rows = run_sweep(configs, tmp_path, progress=False, jobs=2)
    assert (rows["state"] == "finished").all()
    assert (tmp_path / configs[0].run_id / "status.json").stat().st_mtime_ns == stamps[configs[0].run_id]
    assert (tmp_path / configs[1].run_id / "status.json").exists()


def test_a_run_held_by_another_process_is_reported_locked_and_the_others_train(tmp_path):
    configs = tiny_grid((0, 1))
    holder = RunStore(tmp_path, configs[0])
    holder.prepare()
    holder.acquire()
    try:
        rows = run_sweep(configs, tmp_path, progress=False, jobs=2).set_index("run")
    finally:
        holder.release()
    assert rows.loc[configs[0].run_id, "state"] == "locked"
    assert rows.loc[configs[1].run_id, "state"] == "finished"


def test_bad_jobs_backend_and_environment_are_one_line_errors(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="jobs"):
        run_sweep(tiny_grid((0,)), tmp_path, jobs=0)
    with pytest.raises(ConfigError, match="backend"):
        run_sweep(tiny_grid((0,)), tmp_path, backend="slurm")
    monkeypatch.setenv("RLCORE_JOBS", "two")
    with pytest.raises(ConfigError, match="RLCORE_JOBS"):
        run_sweep(tiny_grid((0,)), tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_ray_worker_without_the_drivers_filesystem_returns_the_files_the_driver_stores(tmp_path):
    """`_ray_run` called directly (no Ray): the marker is absent, as on a node that does not share
    the results directory, so it trains in scratch space and returns the run's files."""
    cfg = tiny_grid((0,))[0]
    out = sweep_module._ray_run(cfg.to_dict(), str(tmp_path / "driver"), ".sweep-absent", False, 0.0, 1, None)
    assert out["row"]["state"] == "finished"
    assert {"config.json", "status.json", "evaluations.csv", "metrics.csv", "agent.pt"} <= set(out["files"])
    assert "checkpoint.pt" not in out["files"]
    sweep_module._store_returned(tmp_path / "driver", cfg.run_id, out["files"])
    runs = load_runs(tmp_path / "driver")
    assert list(runs["run"]) == [cfg.run_id] and list(runs["state"]) == ["finished"]
    # The stored run is complete: a sweep over the same store returns it without training.
    store = RunStore(tmp_path / "driver", cfg)
    assert store.verified_final_status()["state"] == "finished"


@pytest.mark.slow
def test_ray_backend_end_to_end_with_a_local_ray(serial_one_thread, tmp_path):
    pytest.importorskip("ray")
    serial_root, _ = serial_one_thread
    os.environ.pop("RAY_ADDRESS", None)
    rows = run_sweep(tiny_grid(), tmp_path, progress=False, jobs=2, backend="ray")
    assert (rows["state"] == "finished").all(), rows
    pd.testing.assert_frame_equal(evaluations(tmp_path), evaluations(serial_root))
    assert not list(tmp_path.glob(".sweep-*"))  # the filesystem marker is removed


_PDEATHSIG_PROBE = """
import ctypes, os, signal
from rlcore import sweep
sweep._die_with_sweep(os.getppid())
value = ctypes.c_int(0)
ctypes.CDLL(None).prctl(2, ctypes.byref(value))  # PR_GET_PDEATHSIG
print(value.value == signal.SIGTERM, sweep._sweep_gone())
sweep._die_with_sweep(os.getppid() + 1)  # as if the sweep that started this worker had died
print(sweep._sweep_gone())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_local_worker_dies_with_its_sweep_and_starts_no_run_after_it(tmp_path, tiny_config):
    out = subprocess.run([sys.executable, "-c", _PDEATHSIG_PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first == "True False"  # SIGTERM on the sweep's death; the sweep is alive
    assert second == "True"
    sweep_module._sweep_pid = os.getppid() + 1  # this process's parent is not that sweep: it is "gone"
    try:
        row = sweep_module._worker_run(tiny_config().to_dict(), str(tmp_path), False, 0.0, 1, None)
    finally:
        sweep_module._sweep_pid = None
    assert row["state"] == "interrupted" and "ended" in row["reason"]
    assert not list(tmp_path.iterdir()), "no run was started"


def test_ctrl_c_stops_a_parallel_sweep_without_starting_the_queued_runs(tmp_path):
    """Ctrl-C reaches the sweep and its workers (one process group): the two running runs checkpoint
    and stop, and the runs the pool had already queued behind them never start."""
    cmd = [sys.executable, "-m", "rlcore", "sweep", "--env", "Pendulum-v1", "--profile", "smoke", "--no-progress",
           "--jobs", "2", "--grid", "seed=0,1,2,3,4,5", "--set", "budget.total_steps=50000",
           "--results-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # both runs past their first metrics window
            if len(list(tmp_path.glob("*/metrics.csv"))) == 2:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the two runs never started")
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    runs = sorted(p.name for p in tmp_path.iterdir())
    assert len(runs) == 2, f"queued runs started after Ctrl-C: {runs}"
    states = [RunStore(tmp_path, RunConfig.from_dict(read_json(tmp_path / r / "config.json"))).status()["state"]
              for r in runs]
    assert states == ["interrupted", "interrupted"]
