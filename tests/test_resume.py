"""Resume after a real SIGKILL: a child process trains, is killed after a checkpoint, and the run is
finished in this process. The result must have exactly the (step, metric) rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from conftest import EvaluationSpy
from rlcore.hooks import hooks_for
from rlcore.results import RunStore
from rlcore.train import train

# xdist_group "processes": see tests/conftest.py
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.xdist_group("processes")]

CHILD = """
import json, sys
import torch
torch.set_num_threads(1)
from rlcore.config import RunConfig
from rlcore.train import train
train(RunConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], progress=False)
"""


def _read_csv(path):
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, tiny_config, monkeypatch):
    cfg = tiny_config("sac", total_steps=1200, warmup_steps=200, eval_every=200, log_every=100,
                      checkpoint_every=400, max_episode_steps=100)
    killed_dir, ref_dir = tmp_path / "killed", tmp_path / "reference"
    store = RunStore(killed_dir, cfg)

    log = open(tmp_path / "child.log", "wb")
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg.to_dict()), str(killed_dir)],
                             stdout=log, stderr=subprocess.STDOUT,
                             env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")})
    try:
        # Wait for a checkpoint (status.json says "running" at step > 0 only after one is saved) and
        # for an evaluation row beyond it: those rows are what the resume must drop and recompute.
        deadline = time.monotonic() + 120
        while True:
            assert child.poll() is None, f"child ended early: {(tmp_path / 'child.log').read_text()}"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            status = store.status() if store.path("status.json").exists() else None
            if status and status["state"] == "running" and status["step"] > 0:
                evals = _read_csv(store.path("evaluations.csv"))
                if evals is not None and evals["step"].max() > status["step"]:
                    break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        log.close()
    assert child.returncode == -signal.SIGKILL

    ckpt = torch.load(store.path("checkpoint.pt"), weights_only=False)
    ckpt_step = ckpt["step"]
    assert ckpt_step in (400, 800)
    # What a checkpoint holds: learner, replay, RNGs, the collection strategy's and the hooks' state.
    assert set(ckpt) == {"step", "agent", "replay", "torch_rng", "cuda_rng", "strategy", "hooks", "metric_window",
                         "wall_time_s"}
    assert ckpt["strategy"]["env_steps"] == ckpt_step and "action_space_rng" in ckpt["strategy"]
    assert ckpt["replay"]["size"] == ckpt_step and ckpt["replay"]["obs"].shape == (ckpt_step, 3)
    assert ckpt["agent"]["extra"]["updates"] == ckpt_step - 200 + 1  # one update per step from step 200
    assert set(ckpt["hooks"]) == {h.name for h in hooks_for(cfg, learns_features=False)}
    assert ckpt["wall_time_s"] > 0
    del ckpt
    killed_evals = pd.read_csv(store.path("evaluations.csv"))
    assert killed_evals["step"].max() > ckpt_step, "the kill should leave rows beyond the checkpoint"
    assert store.status()["state"] == "running"

    # Resume in this process; record which evaluations it computes itself.
    spy = EvaluationSpy()
    status = train(cfg, killed_dir, progress=False, hooks=[spy])
    assert status["state"] == "finished" and status["step"] == 1200
    assert store.status()["state"] == "finished"
    assert not store.path("checkpoint.pt").exists()
    assert spy.steps and min(spy.steps) > ckpt_step, "resumed from the checkpoint, not from scratch"
    assert spy.steps == list(range(ckpt_step + 200, 1201, 200))

    ref_status = train(cfg, ref_dir, progress=False)
    assert ref_status["state"] == "finished"
    resumed = pd.read_csv(store.path("evaluations.csv"))
    reference = pd.read_csv(RunStore(ref_dir, cfg).path("evaluations.csv"))
    assert not resumed.duplicated(["step", "metric"]).any()
    assert len(resumed) == len(reference) == 7 * 3
    assert set(zip(resumed["step"], resumed["metric"])) == set(zip(reference["step"], reference["metric"]))
    # Rows up to the checkpoint are the killed process's own (the same values as the reference run).
    before = resumed[resumed["step"] <= ckpt_step].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, killed_evals[killed_evals["step"] <= ckpt_step].reset_index(drop=True))
    pd.testing.assert_frame_equal(before, reference[reference["step"] <= ckpt_step].reset_index(drop=True))
    metrics = pd.read_csv(store.path("metrics.csv"))
    assert not metrics.duplicated(["step", "metric"]).any()
    # The finished run's files (and its empty lock file) and nothing else: no checkpoint, no temp file left behind.
    assert sorted(os.listdir(store.dir)) == [".lock", "agent.pt", "config.json", "evaluations.csv", "manifest.json",
                                             "metrics.csv", "status.json", "td_targets.pt"]
