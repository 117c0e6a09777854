"""rlcore.sweep: grids of dotted overrides, and a sweep that survives crashed and broken runs."""

from __future__ import annotations

import pandas as pd
import pytest

from rlcore.config import ConfigError, EnvConfig
from rlcore.results import RunStore, load_runs
from rlcore.sweep import grid, run_sweep

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_grid_is_the_cartesian_product(tiny_config):
    base = tiny_config("sac")
    cfgs = grid(base, {"agent.critic.width": [16, 32], "seed": [0, 1, 2]})
    assert len(cfgs) == 6
    assert [(c.agent.critic.width, c.seed) for c in cfgs] == [(w, s) for w in (16, 32) for s in (0, 1, 2)]
    assert len({c.run_id for c in cfgs}) == 6
    assert all(c.agent.actor == base.agent.actor and c.budget == base.budget for c in cfgs)
    assert grid(base, {}) == [base]


def test_grid_rejects_unknown_axis(tiny_config):
    with pytest.raises(ConfigError) as info:
        grid(tiny_config(), {"agent.critic.units": [1, 2]})
    assert info.value.field_name == "agent.critic.units"
    with pytest.raises(ConfigError):
        grid(tiny_config(), {"agent.critic.width": [0]})
    # Algorithm settings live in their sections; a section is not replaced by a number.
    with pytest.raises(ConfigError) as info:
        grid(tiny_config("td3"), {"agent.policy_delay": [1, 2]})
    assert info.value.field_name == "agent.policy_delay"
    with pytest.raises(ConfigError) as info:
        grid(tiny_config(), {"agent.critic": [64]})
    assert info.value.field_name == "agent.critic"
    assert [c.agent.td3.policy_delay for c in grid(tiny_config("td3"), {"agent.td3.policy_delay": [1, 3]})] == [1, 3]


def test_sweep_continues_past_crashed_and_broken_runs(tmp_path, tiny_config):
    crashing = tiny_config("sac", seed=0, total_steps=200, warmup_steps=100, eval_every=100,
                           divergence_threshold=1e-12)
    good = tiny_config("sac", seed=1, total_steps=200, warmup_steps=100, eval_every=100)
    # The config is valid (any non-empty id) but the environment does not exist: rejected before
    # anything is written, recorded as an error row, and the sweep goes on.
    broken = good.replace(**{"env.id": "NoSuchEnv-v0"})
    good_td3 = tiny_config("td3", seed=0, total_steps=200, warmup_steps=100, eval_every=100)
    cfgs = [crashing, good, broken, good_td3]

    out = run_sweep(cfgs, tmp_path, progress=False)
    assert isinstance(out, pd.DataFrame)
    assert list(out["run"]) == [c.run_id for c in cfgs]
    assert list(out["state"]) == ["crashed", "finished", "error", "finished"]
    assert out["step"].iloc[0] == 100 and out["step"].iloc[1] == 200
    assert "ConfigError" in out["reason"].iloc[2] and "env.id" in out["reason"].iloc[2]
    assert not RunStore(tmp_path, broken).dir.exists()

    runs = load_runs(tmp_path).set_index("run")
    assert runs.loc[good.run_id, "state"] == "finished" and runs.loc[crashing.run_id, "state"] == "crashed"

    # Re-running: ended runs come back at once with their stored state; the broken one is tried again.
    again = run_sweep(cfgs, tmp_path, progress=False)
    assert list(again["state"]) == ["crashed", "finished", "error", "finished"]
    assert again["step"].iloc[1] == 200


def test_sweep_uses_default_results_dir(tmp_path, tiny_config, monkeypatch):
    monkeypatch.setenv("RLCORE_RESULTS", str(tmp_path / "res"))
    cfg = tiny_config("td3", total_steps=100, warmup_steps=100, eval_every=100)
    out = run_sweep([cfg], progress=False)
    assert list(out["state"]) == ["finished"]
    assert (tmp_path / "res" / "custom" / "runs" / cfg.run_id / "status.json").exists()


def test_sweep_error_before_run_dir_exists(tmp_path, tiny_config):
    """A run that fails before its directory exists is still reported and the sweep goes on."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = tiny_config("sac", total_steps=100, warmup_steps=100, eval_every=100)
    out = run_sweep([cfg], blocker / "results", progress=False)
    assert list(out["state"]) == ["error"]
    assert "results_dir" in out["reason"].iloc[0]


def test_sweep_progress_prints_run_ids(tmp_path, tiny_config, capsys):
    cfg = tiny_config("td3", total_steps=100, warmup_steps=100, eval_every=100)
    run_sweep([cfg], tmp_path, progress=True)
    assert f"[1/1] {cfg.run_id}" in capsys.readouterr().out


def test_env_config_in_grid(tiny_config):
    cfgs = grid(tiny_config(), {"env": [{"id": "Hopper-v4", "kwargs": {}, "max_episode_steps": 10}]})
    assert cfgs[0].env == EnvConfig("Hopper-v4", max_episode_steps=10)
