"""rlcore.train: a whole tiny run, its files, divergence handling, skip-if-finished, in-process resume."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

import rlcore.train
from rlcore.agents import make_agent
from rlcore.config import ConfigError
from rlcore.envs import ObsSpec
from conftest import EvaluationSpy
from rlcore.results import COLUMNS, RunStore, load_agent
from rlcore.train import evaluate, resolve_device, train

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EVAL_METRICS = {"eval_return", "eval_return_std", "eval_length"}


def eval_frame(results_dir, cfg) -> pd.DataFrame:
    return pd.read_csv(RunStore(results_dir, cfg).path("evaluations.csv"))


def assert_no_duplicates(frame: pd.DataFrame) -> None:
    dup = frame.duplicated(["step", "metric"], keep=False)
    assert not dup.any(), frame[dup]


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_tiny_run_finishes_with_expected_files_and_evaluations(tmp_path, tiny_config, algo):
    cfg = tiny_config(algo, total_steps=300, eval_every=100, log_every=50, warmup_steps=100)
    status = train(cfg, tmp_path, progress=False)
    assert status["state"] == "finished" and status["step"] == 300
    run_dir = tmp_path / cfg.run_id
    assert sorted(os.listdir(run_dir)) == [".lock", "agent.pt", "config.json", "evaluations.csv", "manifest.json",
                                          "metrics.csv", "status.json", "td_targets.pt"]  # no checkpoint, no temp files
    evals = eval_frame(tmp_path, cfg)
    assert list(evals.columns) == COLUMNS
    assert_no_duplicates(evals)
    assert sorted(evals["step"].unique()) == [0, 100, 200, 300]
    assert set(evals["metric"]) == EVAL_METRICS and len(evals) == 12
    assert (evals["run"] == cfg.run_id).all() and (evals["algo"] == algo).all() and (evals["seed"] == 0).all()
    assert (evals["frames"] == evals["step"]).all()  # serial, no action repeat: one frame per agent step
    returns = evals[evals["metric"] == "eval_return"].set_index("step")["value"]
    assert status["final_eval_return"] == pytest.approx(returns[300])
    assert (evals[evals["metric"] == "eval_length"]["value"] == 50).all()  # max_episode_steps honoured

    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert_no_duplicates(metrics)
    names = set(metrics["metric"])
    assert {"train_critic_loss", "train_q_mean", "train_actor_loss", "train_steps_per_s",
            "train_episode_return", "train_episode_length"} <= names
    # Updates start once warm-up is over and a batch fits: first logged at step 100, then every 50.
    assert sorted(metrics[metrics["metric"] == "train_critic_loss"]["step"]) == [100, 150, 200, 250, 300]
    assert sorted(metrics[metrics["metric"] == "train_episode_length"]["step"]) == [50, 100, 150, 200, 250, 300]
    assert np.isfinite(metrics["value"]).all()

    # Final weights load into a fresh agent (every network, plus SAC's temperature).
    weights = torch.load(run_dir / "agent.pt")
    agent = load_agent(run_dir)
    assert set(weights["modules"]) == set(agent.modules)
    for k, m in agent.modules.items():
        for name, tensor in m.state_dict().items():
            assert torch.equal(tensor, weights["modules"][k][name])
    # Frozen TD targets of every stored transition (300 < td_targets_samples) for loss landscapes.
    td = torch.load(run_dir / "td_targets.pt")
    assert td["obs"].shape == (300, 3) and td["action"].shape == (300, 1) and td["q_hat"].shape == (300,)
    assert td["loss"] == cfg.agent.critic_loss  # the run's critic loss travels with its targets
    assert torch.isfinite(td["q_hat"]).all()
    manifest = pd.read_json(run_dir / "manifest.json", typ="series")
    assert manifest["wall_time_s"] > 0 and manifest["device"] == "cpu"


def test_final_evaluation_when_total_is_not_a_multiple(tmp_path, tiny_config):
    cfg = tiny_config("td3", total_steps=250, eval_every=100)
    assert train(cfg, tmp_path, progress=False)["state"] == "finished"
    evals = eval_frame(tmp_path, cfg)
    assert sorted(evals["step"].unique()) == [0, 100, 200, 250]
    assert_no_duplicates(evals)


def test_same_config_same_results(tmp_path, tiny_config):
    """Fixed seeds make a CPU run reproducible (the resume tests rely on comparable runs)."""
    cfg = tiny_config("sac", total_steps=200, eval_every=100)
    train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(eval_frame(tmp_path / "a", cfg), eval_frame(tmp_path / "b", cfg))


def test_evaluate_is_deterministic(tiny_config):
    from rlcore.envs import make_env
    cfg = tiny_config("sac", max_episode_steps=30)
    agent = make_agent(cfg.agent, ObsSpec.flat(3), 1)
    env = make_env(cfg.env)
    r1, l1 = evaluate(agent, env, 3, seed=10)
    r2, l2 = evaluate(agent, env, 3, seed=10)
    assert r1 == r2 and l1 == l2 == [30, 30, 30]
    assert len(set(r1)) == 3  # different start states per episode


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")  # a torch device passes through
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda") as err:
            resolve_device("cuda")
        assert err.value.field_name == "device"
    with pytest.raises(ConfigError, match="'tpu'") as err:
        resolve_device("tpu")
    assert err.value.field_name == "device"


# ---- divergence -----------------------------------------------------------------------------------
def _check_crashed(tmp_path, cfg, status, step, reason, eval_steps):
    assert status["state"] == "crashed"
    assert status["step"] == step
    assert reason in status["reason"]
    store = RunStore(tmp_path, cfg)
    assert store.status() == status
    assert not store.path("checkpoint.pt").exists()
    evals = eval_frame(tmp_path, cfg)
    assert sorted(evals["step"].unique()) == eval_steps  # everything evaluated before the crash is kept
    last = evals[(evals["metric"] == "eval_return") & (evals["step"] == eval_steps[-1])]["value"].item()
    assert status["last_good_eval_return"] == pytest.approx(last)


def test_divergence_threshold_marks_run_crashed(tmp_path, tiny_config):
    # Any positive critic loss exceeds 1e-12: the first metrics flush after warm-up (step 150) diverges.
    cfg = tiny_config("sac", total_steps=400, warmup_steps=150, eval_every=100, log_every=50,
                      divergence_threshold=1e-12)
    status = train(cfg, tmp_path, progress=False)
    _check_crashed(tmp_path, cfg, status, step=150, reason="at step 150", eval_steps=[0, 100])
    assert status["reason"].startswith(("critic_loss=", "q_mean="))


def _nan_after(monkeypatch, n_updates: int, key: str = "critic_loss"):
    real_make_agent = rlcore.train.make_agent

    def patched(*args, **kwargs):
        agent = real_make_agent(*args, **kwargs)
        real_update = agent.update

        def update(batch, step, **kwargs):
            result = real_update(batch, step, **kwargs)
            if agent.updates > n_updates:
                result.metrics[key] = torch.tensor(float("nan"))
            return result

        agent.update = update
        return agent

    monkeypatch.setattr(rlcore.train, "make_agent", patched)


def test_nan_loss_marks_run_crashed(tmp_path, tiny_config, monkeypatch):
    # Updates start at step 100 (update 1 at step 100); update 121 happens at step 220 -> flushed at step 250.
    _nan_after(monkeypatch, 120)
    cfg = tiny_config("td3", total_steps=400, warmup_steps=100, eval_every=100, log_every=50)
    status = train(cfg, tmp_path, progress=False)
    _check_crashed(tmp_path, cfg, status, step=250, reason="critic_loss=nan", eval_steps=[0, 100, 200])
    metrics = pd.read_csv(RunStore(tmp_path, cfg).path("metrics.csv"))
    assert metrics["step"].max() <= 250 and np.isfinite(metrics["value"]).all()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_non_finite_action_marks_run_crashed(tmp_path, tiny_config, monkeypatch):
    real_make_agent = rlcore.train.make_agent

    def patched(*args, **kwargs):
        agent = real_make_agent(*args, **kwargs)
        agent.act = lambda obs, step, explore: np.full(1, np.nan, np.float32)
        return agent

    monkeypatch.setattr(rlcore.train, "make_agent", patched)
    cfg = tiny_config("sac", total_steps=300, warmup_steps=120, eval_every=100)
    # evaluate() itself calls act: the step-0 evaluation already feeds NaN to the env. The run must
    # still end as crashed at the first exploratory action, not raise.
    status = train(cfg, tmp_path, progress=False)
    assert status["state"] == "crashed" and status["step"] == 120
    assert "non-finite action" in status["reason"]


# ---- finished runs are not recomputed ---------------------------------------------------------------
def _snapshot(directory):
    return {p: (os.stat(directory / p).st_mtime_ns, (directory / p).read_bytes()) for p in os.listdir(directory)}


@pytest.mark.parametrize("final", ["finished", "crashed"])
def test_ended_run_is_skipped(tmp_path, tiny_config, monkeypatch, final):
    cfg = tiny_config("sac", total_steps=200, warmup_steps=100, eval_every=100,
                      divergence_threshold=1e-12 if final == "crashed" else 1e8)
    first = train(cfg, tmp_path, progress=False)
    assert first["state"] == final
    before = _snapshot(tmp_path / cfg.run_id)

    def must_not_run(*args, **kwargs):
        raise AssertionError("an ended run must not build environments again")

    monkeypatch.setattr(rlcore.train, "make_env", must_not_run)
    again = train(cfg, tmp_path, progress=False)
    assert again == first
    assert _snapshot(tmp_path / cfg.run_id) == before


# ---- resume after an interruption (in process; the real-kill test is in test_resume.py) ----------------
def agents_interrupted_at_update(n: int):
    """A `make_agent` whose agents raise KeyboardInterrupt (a second Ctrl-C) when asked for update `n`."""
    real_make_agent = rlcore.train.make_agent

    def make(*args, **kwargs):
        agent = real_make_agent(*args, **kwargs)
        real_update = agent.update

        def update(batch, step, **kw):
            if agent.updates == n:
                raise KeyboardInterrupt
            return real_update(batch, step, **kw)

        agent.update = update
        return agent

    return make


def test_interrupted_run_resumes_without_duplicates(tmp_path, tiny_config, monkeypatch):
    cfg = tiny_config("sac", total_steps=400, warmup_steps=100, eval_every=50, log_every=50,
                      checkpoint_every=150, max_episode_steps=40)
    reference = train(cfg, tmp_path / "ref", progress=False)
    ref_evals = eval_frame(tmp_path / "ref", cfg)

    # Interrupt at update 180 (step 279): after the checkpoint at step 150 and the evaluations at 200, 250.
    monkeypatch.setattr(rlcore.train, "make_agent", agents_interrupted_at_update(180))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run", progress=False)
    store = RunStore(tmp_path / "run", cfg)
    assert store.status()["state"] == "running"
    assert store.load_checkpoint()["step"] == 150
    partial = eval_frame(tmp_path / "run", cfg)
    assert partial["step"].max() == 250  # rows beyond the checkpoint, to be dropped on resume
    monkeypatch.undo()

    spy = EvaluationSpy()
    status = train(cfg, tmp_path / "run", progress=False, hooks=[spy])
    assert status["state"] == "finished" and status["step"] == 400
    assert spy.steps == [200, 250, 300, 350, 400]  # resumed at 150: nothing before it is recomputed
    assert not store.path("checkpoint.pt").exists()
    evals = eval_frame(tmp_path / "run", cfg)
    assert_no_duplicates(evals)
    assert set(zip(evals["step"], evals["metric"])) == set(zip(ref_evals["step"], ref_evals["metric"]))
    # Rows up to the checkpoint are the ones the interrupted process wrote (and equal the reference's).
    kept = evals[evals["step"] <= 150].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, partial[partial["step"] <= 150].reset_index(drop=True))
    pd.testing.assert_frame_equal(kept, ref_evals[ref_evals["step"] <= 150].reset_index(drop=True))
    metrics = pd.read_csv(store.path("metrics.csv"))
    assert_no_duplicates(metrics)
    assert metrics["step"].max() == 400
    assert reference["state"] == "finished"
    final = evals[(evals["metric"] == "eval_return") & (evals["step"] == 400)]["value"].item()
    assert status["final_eval_return"] == pytest.approx(final)


# ---- checkpoints by the clock ($RLCORE_CHECKPOINT_MINUTES) ------------------------------------------
def test_clock_checkpoints_change_nothing_and_resume_a_run_that_never_reaches_its_step_interval(
        tmp_path, tiny_config, monkeypatch):
    """A quick pixel run is shorter than its `checkpoint_every`: only the clock checkpoints it. Here
    the clock is due at every step (1e-9 minutes); the run must compute exactly what a run without
    such checkpoints computes, and a killed one must resume from its last clock checkpoint."""
    cfg = tiny_config("sac", total_steps=300, warmup_steps=100, eval_every=50, log_every=50,
                      checkpoint_every=10**6, max_episode_steps=40)
    monkeypatch.setenv("RLCORE_CHECKPOINT_MINUTES", "0")
    train(cfg, tmp_path / "ref", progress=False)
    ref_evals = eval_frame(tmp_path / "ref", cfg)

    monkeypatch.setenv("RLCORE_CHECKPOINT_MINUTES", "1e-9")
    saves = []
    real_checkpoint = rlcore.train.Trainer._checkpoint
    monkeypatch.setattr(rlcore.train.Trainer, "_checkpoint", lambda self, step: saves.append(step) or real_checkpoint(self, step))
    train(cfg, tmp_path / "clocked", progress=False)
    assert saves == list(range(1, 300))  # every step but the last, none of them a multiple of checkpoint_every
    pd.testing.assert_frame_equal(eval_frame(tmp_path / "clocked", cfg), ref_evals)

    with monkeypatch.context() as m:  # at update 120 (step 220): a second Ctrl-C, which saves nothing itself
        m.setattr(rlcore.train, "make_agent", agents_interrupted_at_update(120))
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path / "killed", progress=False)
    store = RunStore(tmp_path / "killed", cfg)
    assert store.load_checkpoint()["step"] == 219
    spy = EvaluationSpy()
    assert train(cfg, tmp_path / "killed", progress=False, hooks=[spy])["state"] == "finished"
    assert spy.steps == [250, 300]
    evals = eval_frame(tmp_path / "killed", cfg)
    assert_no_duplicates(evals)
    assert set(zip(evals["step"], evals["metric"])) == set(zip(ref_evals["step"], ref_evals["metric"]))
    pd.testing.assert_frame_equal(evals[evals["step"] <= 219].reset_index(drop=True),
                                  ref_evals[ref_evals["step"] <= 219].reset_index(drop=True))


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_checkpoint_clock_is_one_config_error(tmp_path, tiny_config, monkeypatch, value):
    monkeypatch.setenv("RLCORE_CHECKPOINT_MINUTES", value)
    with pytest.raises(ConfigError) as info:
        train(tiny_config("sac"), tmp_path, progress=False)
    assert info.value.field_name == "RLCORE_CHECKPOINT_MINUTES"
    assert not (tmp_path / tiny_config("sac").run_id).exists()  # stopped before anything was written
