"""DeepMind Control behind the gymnasium API: ids, observations, action repeat, time limits, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from rlcore import dmc
from rlcore.config import ConfigError, EnvConfig, RunConfig
from rlcore.envs import env_spec, make_env

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # glfw's "no DISPLAY" (egl renders)


@pytest.mark.parametrize("bad, expected", [
    ("dmc:nosuch-walk", "a DeepMind Control domain: one of acrobot, ball_in_cup, cartpole"),
    ("dmc:walker-fly", "a task of walker: one of stand, walk, run"),
    ("dmc:walker", "'dmc:<domain>-<task>'"),
])
def test_bad_ids_name_the_valid_ones(bad, expected):
    with pytest.raises(ConfigError, match="^env.id=") as err:
        make_env(bad)
    assert expected in str(err.value)


def test_ids_with_underscores_parse():
    assert dmc.parse_id("dmc:ball_in_cup-catch") == ("ball_in_cup", "catch")
    assert dmc.parse_id("dmc:cartpole-swingup_sparse") == ("cartpole", "swingup_sparse")


def test_state_observations_are_the_flattened_dict_in_float32():
    e = make_env("dmc:walker-walk", seed=0)
    spec, action_dim = env_spec(e)
    assert spec.shape == (24,) and spec.dtype == np.float32 and action_dim == 6  # 14 orientations + height + 9 velocities
    obs, _ = e.reset(seed=0)
    assert obs.shape == (24,) and obs.dtype == np.float32
    assert e.action_space.low.min() == -1 and e.action_space.high.max() == 1


def test_pixels_are_channels_first_uint8_and_stack_along_channels():
    e = make_env(EnvConfig("dmc:cartpole-swingup", {"pixels": True}, frame_stack=3), seed=0)
    spec, _ = env_spec(e)
    assert spec == (((9, 84, 84)), np.dtype(np.uint8), 3)
    obs, _ = e.reset(seed=0)
    assert obs.shape == (9, 84, 84) and obs.dtype == np.uint8
    assert np.array_equal(obs[0:3], obs[6:9])  # the first frame fills the stack at reset
    assert obs.std() > 0  # a rendered image, not zeros
    obs2, *_ = e.step(np.zeros(1, np.float32))
    assert np.array_equal(obs2[0:3], obs[3:6]) and not np.array_equal(obs2[6:9], obs[6:9])


def test_quadruped_renders_camera_2_by_default():
    assert dmc.default_camera("quadruped") == 2 and dmc.default_camera("walker") == 0


def test_action_repeat_sums_the_rewards_of_the_repeated_steps():
    actions = np.random.default_rng(0).uniform(-1, 1, (10, 1)).astype(np.float32)
    single = make_env("dmc:cartpole-swingup", seed=0)
    single.reset(seed=5)
    rewards = [single.step(a)[1] for a in np.repeat(actions, 4, axis=0)]
    repeated = make_env(EnvConfig("dmc:cartpole-swingup", action_repeat=4), seed=0)
    repeated.reset(seed=5)
    summed = [repeated.step(a)[1] for a in actions]
    assert np.allclose(summed, np.add.reduceat(rewards, np.arange(0, 40, 4)))


@pytest.mark.parametrize("repeat, steps", [(1, 1000), (8, 125)])
def test_every_episode_ends_at_the_time_limit_truncated_never_terminated(repeat, steps):
    e = make_env(EnvConfig("dmc:cartpole-balance", action_repeat=repeat), seed=0)
    e.reset(seed=0)
    for n in range(1, steps + 1):
        _, _, terminated, truncated, info = e.step(e.action_space.sample())
        assert not terminated
        if truncated:
            break
    assert n == steps and truncated and info["discount"] == 1.0  # bootstrapped: the suite's discount is 1


def test_a_frame_cap_becomes_agent_steps_under_action_repeat():
    e = make_env(EnvConfig("dmc:cartpole-balance", action_repeat=8, max_episode_steps=200), seed=0)
    e.reset(seed=0)
    n = 0
    while True:
        n += 1
        if e.step(e.action_space.sample())[3]:
            break
    assert n == 25


def test_seeding_reproduces_initial_states():
    a, b = make_env("dmc:cheetah-run"), make_env("dmc:cheetah-run")
    first, _ = a.reset(seed=3)
    assert np.array_equal(first, b.reset(seed=3)[0])
    assert not np.array_equal(first, b.reset(seed=4)[0])


def test_benchmark_action_repeats():
    assert dmc.action_repeat("dmc:cartpole-swingup") == 8
    assert dmc.action_repeat("dmc:reacher-easy") == dmc.action_repeat("dmc:ball_in_cup-catch") == 4
    assert dmc.action_repeat("dmc:walker-walk") == dmc.action_repeat("dmc:finger-spin") == 2
    assert dmc.action_repeat("dmc:cartpole-swingup", benchmark="dreamer") == 2
    with pytest.raises(ConfigError, match="benchmark"):
        dmc.action_repeat("dmc:walker-walk", benchmark="atari")


def test_a_state_agent_trains_on_dmc_and_writes_its_run(tmp_path):
    from rlcore.train import train

    cfg = RunConfig().replace(**{
        "env.id": "dmc:cartpole-balance", "env.action_repeat": 8, "budget.total_steps": 80,
        "budget.warmup_steps": 40, "budget.eval_every": 40, "budget.eval_episodes": 1, "budget.log_every": 20,
        "budget.replay_size": 100, "agent.batch_size": 16, "agent.actor.width": 16, "agent.critic.width": 16,
        "budget.srank_samples": 0, "budget.td_targets_samples": 0})
    status = train(cfg, tmp_path, progress=False)
    assert status["state"] == "finished" and status["frames"] == 80 * 8
    assert (tmp_path / cfg.run_id / "evaluations.csv").exists()


def test_apex_with_pixels_is_refused_before_anything_is_written(tmp_path):
    from rlcore.train import train

    cfg = RunConfig().replace(**{"env.id": "dmc:cartpole-balance", "env.kwargs": {"pixels": True},
                                 "collect.mode": "apex", "collect.workers": 1, "collect.envs_per_worker": 1})
    with pytest.raises(ConfigError, match="^collect.mode='apex' is invalid: expected 'serial' for image observations"):
        train(cfg, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_a_smaller_shadow_map_changes_only_the_shadows_and_bad_sizes_are_refused():
    full = make_env(EnvConfig("dmc:cartpole-balance", {"pixels": True}), seed=0).reset(seed=0)[0]
    small_env = make_env(EnvConfig("dmc:cartpole-balance", {"pixels": True, "shadow_size": 256}), seed=0)
    small = small_env.reset(seed=0)[0]
    assert small_env.unwrapped._env.physics.model.vis.quality.shadowsize == 256
    assert small.shape == full.shape
    differs = np.abs(small.astype(int) - full.astype(int)).max(axis=0) > 0
    assert differs.mean() < 0.02  # the same scene (measured: identical on cartpole, 0.3 % of walker's pixels)
    with pytest.raises(ConfigError, match="shadow_size"):
        make_env(EnvConfig("dmc:cartpole-balance", {"pixels": True, "shadow_size": 0}))
