"""rlcore.envs: construction, action rescaling, seeding, errors, time limits, SAME_STEP vector autoreset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rlcore.train
from rlcore.config import ConfigError, EnvConfig
from rlcore.envs import ObsSpec, env_spec, env_spec_of, make_env, make_vector_env, vector_final_obs
from rlcore.replay import ReplayBuffer
from rlcore.train import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _assert_flat_spec(e, obs_dim: int, action_dim: int) -> None:
    """`env_spec` declares a flat float32 observation of `obs_dim` features, no frame stack."""
    spec, adim = env_spec(e)
    assert isinstance(spec, ObsSpec)
    assert spec.shape == (obs_dim,) and spec.dtype == np.float32 and spec.frame_stack == 1
    assert spec == ObsSpec.flat(obs_dim) and spec.flat_dim == obs_dim
    assert adim == action_dim


@pytest.mark.parametrize("env_id,dims", [
    ("Pendulum-v1", (3, 1)),
    ("Hopper-v4", (11, 3)),
    ("Hopper-v5", (11, 3)),
    ("InvertedPendulum-v4", (4, 1)),
])
def test_make_env_spaces_and_step(env_id, dims):
    e = make_env(env_id, seed=0)
    _assert_flat_spec(e, *dims)
    assert isinstance(e.action_space, gym.spaces.Box)
    np.testing.assert_array_equal(e.action_space.low, -np.ones(dims[1], np.float32))
    np.testing.assert_array_equal(e.action_space.high, np.ones(dims[1], np.float32))
    obs, _ = e.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (dims[0],)
    assert e.observation_space.dtype == np.float32
    obs, reward, terminated, truncated, _ = e.step(e.action_space.sample())
    assert obs.dtype == np.float32 and obs.shape == (dims[0],)
    assert np.isfinite(reward) and isinstance(terminated, bool) and isinstance(truncated, bool)


def test_ant_v4_with_contact_forces_has_111_dim_obs():
    e = make_env(EnvConfig("Ant-v4", {"use_contact_forces": True}), seed=0)
    _assert_flat_spec(e, 111, 8)
    obs, _ = e.reset(seed=0)
    assert obs.shape == (111,)
    assert e.step(np.zeros(8, np.float32))[0].shape == (111,)
    # Without the flag Ant-v4 has the 27-dim observation: the kwarg really reached the constructor.
    _assert_flat_spec(make_env("Ant-v4"), 27, 8)
    # Keyword form of the same thing.
    _assert_flat_spec(make_env("Ant-v4", use_contact_forces=True), 111, 8)
    # The spec of the environment a config describes, without keeping the environment.
    assert env_spec_of(EnvConfig("Ant-v4", {"use_contact_forces": True})) == (ObsSpec.flat(111), 8)
    assert env_spec_of(EnvConfig("Ant-v4")) == (ObsSpec.flat(27), 8)


@pytest.mark.parametrize("env_id,high", [("Pendulum-v1", 2.0), ("InvertedPendulum-v4", 3.0)])
def test_actions_are_rescaled_from_unit_box(env_id, high):
    """An agent action a in [-1, 1] reaches the task as a * high (both tasks have symmetric bounds)."""
    raw = gym.make(env_id)
    assert float(raw.action_space.high[0]) == high
    ours = make_env(env_id)
    for a in (1.0, -1.0, 0.5, 0.0):
        raw.reset(seed=3)
        ours.reset(seed=3)
        for _ in range(3):
            o_raw, r_raw, *_ = raw.step(np.array([a * high], np.float32))
            o_ours, r_ours, *_ = ours.step(np.array([a], np.float32))
        np.testing.assert_allclose(o_ours, o_raw, rtol=1e-5, atol=1e-6)
        assert r_ours == pytest.approx(r_raw, rel=1e-5)


def _rollout(e, n=20):
    obs = [e.reset()[0]]
    for _ in range(n):
        o, *_ = e.step(e.action_space.sample())
        obs.append(o)
    return np.stack(obs)


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Hopper-v5"])
def test_seeding_is_reproducible(env_id):
    a = make_env(env_id, seed=7)
    b = make_env(env_id, seed=7)
    c = make_env(env_id, seed=8)
    # make_env(seed=...) seeds both the start state and the action space's sampler.
    ra, rb, rc = _rollout(a), _rollout(b), _rollout(c)
    np.testing.assert_array_equal(ra, rb)
    assert not np.allclose(ra, rc)
    # reset(seed=...) reproduces the start state on its own.
    np.testing.assert_array_equal(a.reset(seed=11)[0], c.reset(seed=11)[0])


def test_unknown_env_id_raises_config_error_naming_env_id():
    with pytest.raises(ConfigError) as info:
        make_env("Hoper-v4")
    assert info.value.field_name == "env.id"
    assert "'Hoper-v4'" in str(info.value) and "Pendulum-v1" in str(info.value)
    with pytest.raises(ConfigError):
        make_env(EnvConfig("NoSuchEnv-v0"))


def test_unknown_ids_name_both_kinds_of_valid_ids():
    """A one-line ConfigError naming env.id and listing ids that do work (DMC ids: tests/test_dmc.py)."""
    with pytest.raises(ConfigError, match="NoSuch-v0") as info:
        make_env("NoSuch-v0")
    assert info.value.field_name == "env.id"
    assert "dmc:<domain>-<task>" in str(info.value) and "Pendulum-v1" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Hopper-v4", "Ant-v5"])
def test_bad_kwargs_raise_config_error(env_id):
    with pytest.raises(ConfigError) as info:
        make_env(EnvConfig(env_id, {"no_such_option": 3}))
    assert info.value.field_name == "env.kwargs"
    assert "no_such_option" in str(info.value) and env_id in str(info.value)


def test_discrete_action_env_is_rejected():
    with pytest.raises(ConfigError) as info:
        make_env("CartPole-v1")
    assert info.value.field_name == "env.id" and "Box" in str(info.value)


def test_extra_kwargs_merge_into_env_config():
    e = make_env(EnvConfig("Ant-v4", max_episode_steps=3), use_contact_forces=True)
    _assert_flat_spec(e, 111, 8)
    e.reset(seed=0)
    flags = [e.step(np.zeros(8, np.float32))[3] for _ in range(3)]
    assert flags == [False, False, True]  # the max_episode_steps of the EnvConfig survived the merge


def test_extra_kwargs_keep_action_repeat_and_frame_stack():
    cfg = EnvConfig("Pendulum-v1", frame_stack=3, action_repeat=2)
    assert env_spec(make_env(cfg))[0] == ObsSpec((9,), np.dtype(np.float32), 3)
    assert env_spec(make_env(cfg, g=9.81))[0] == ObsSpec((9,), np.dtype(np.float32), 3)


def test_max_episode_steps_truncates_not_terminates():
    e = make_env(EnvConfig("Pendulum-v1", max_episode_steps=5), seed=0)
    e.reset(seed=0)
    out = [e.step(e.action_space.sample())[2:4] for _ in range(5)]
    assert out == [(False, False)] * 4 + [(False, True)]


# ---- the trainer stores truncation as non-terminal, true terminals as terminal ---------------------------
class _FlagRecorder(gym.Wrapper):
    """Records (terminated, truncated) of every step of the training env."""

    def __init__(self, env, log):
        super().__init__(env)
        self.log = log

    def step(self, action):
        out = self.env.step(action)
        self.log.append((bool(out[2]), bool(out[3])))
        return out


def _train_and_record(monkeypatch, tmp_path, cfg):
    log: list[tuple[bool, bool]] = []
    real_make_env = rlcore.train.make_env

    def recording_make_env(env_cfg, seed=None, **kw):
        e = real_make_env(env_cfg, seed=seed, **kw)
        return _FlagRecorder(e, log) if seed is not None else e  # the training env gets a seed

    monkeypatch.setattr(rlcore.train, "make_env", recording_make_env)
    trainer = Trainer(cfg, tmp_path, progress=False)
    status = trainer.run()
    assert status["state"] == "finished"
    n = len(trainer.replay)
    assert n == cfg.budget.total_steps == len(log)
    terminated = np.array([t for t, _ in log])
    truncated = np.array([t for _, t in log])
    return trainer.replay, terminated, truncated


def test_time_limit_truncation_is_not_stored_as_terminal(monkeypatch, tmp_path, tiny_config):
    # Pendulum never terminates: every episode end is a time-limit truncation.
    cfg = tiny_config("sac", "Pendulum-v1", max_episode_steps=20, total_steps=200, warmup_steps=200,
                      eval_every=200)
    replay, terminated, truncated = _train_and_record(monkeypatch, tmp_path, cfg)
    assert not terminated.any()
    assert truncated.sum() == 10
    not_terminal = replay.not_terminal[:200, 0].numpy()
    assert (not_terminal == 1.0).all()
    # The stored next_obs of a truncation is the final obs, not the next episode's first obs.
    ends = np.flatnonzero(truncated)
    ends = ends[ends < 199]
    obs, next_obs = replay.obs.numpy(), replay.next_obs.numpy()
    for t in ends:
        assert not np.allclose(next_obs[t], obs[t + 1])
    inner = np.setdiff1d(np.arange(199), ends)
    np.testing.assert_array_equal(next_obs[inner], obs[inner + 1])  # continuity within an episode


def test_true_terminal_is_stored_and_truncation_is_not(monkeypatch, tmp_path, tiny_config):
    # Hopper-v4 under random actions falls within ~15-30 steps; the 30-step cap truncates the rest.
    cfg = tiny_config("td3", "Hopper-v4", max_episode_steps=30, total_steps=300, warmup_steps=300,
                      eval_every=300)
    replay, terminated, truncated = _train_and_record(monkeypatch, tmp_path, cfg)
    assert terminated.sum() >= 2, "the test needs real terminals"
    assert (truncated & ~terminated).sum() >= 1, "the test needs pure truncations"
    not_terminal = replay.not_terminal[:300, 0].numpy()
    np.testing.assert_array_equal(not_terminal, 1.0 - terminated.astype(np.float32))
    # Both kinds of episode end close the episode (no n-step sum or frame stack crosses them).
    np.testing.assert_array_equal(replay.ends[:300].numpy(), terminated | truncated)


# ---- vector env ----------------------------------------------------------------------------------------
def test_vector_env_same_step_autoreset_stores_true_final_obs():
    """InvertedPendulum ends episodes at staggered times (falls and 8-step truncations).

    Ground truth comes from single envs replaying the same actions: the stored next observation of
    every transition must be that env's real next state, and the observation of the next transition
    must be the reset one.
    """
    cfg = EnvConfig("InvertedPendulum-v4", max_episode_steps=8)
    num_envs, seed, steps = 3, 5, 40
    venv = make_vector_env(cfg, num_envs=num_envs, seed=seed)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    singles = [make_env(cfg) for _ in range(num_envs)]
    single_obs = [s.reset(seed=seed + i)[0] for i, s in enumerate(singles)]

    obs, _ = venv.reset(seed=seed)
    np.testing.assert_allclose(obs, np.stack(single_obs), rtol=1e-6)
    _assert_flat_spec(venv, 4, 1)  # the vector env declares one env's spec
    replay = ReplayBuffer(env_spec(venv)[0], 1, capacity=num_envs * steps)
    truth_obs, truth_next, truth_terminal = [], [], []
    n_done = 0
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = rng.uniform(-1, 1, (num_envs, 1)).astype(np.float32)
        next_obs, rewards, terminated, truncated, infos = venv.step(actions)
        done = terminated | truncated
        real_next = vector_final_obs(next_obs, infos, done)
        replay.add(obs, actions, rewards, real_next, terminated)
        for i, s in enumerate(singles):
            truth_obs.append(single_obs[i])
            o, r, te, tr, _ = s.step(actions[i])
            truth_next.append(o)
            truth_terminal.append(te)
            assert (te, tr) == (bool(terminated[i]), bool(truncated[i]))
            if te or tr:
                n_done += 1
                np.testing.assert_array_equal(real_next[i], infos["final_obs"][i])
                assert not np.allclose(next_obs[i], o)  # the vector env already returned the reset obs
                o, _ = s.reset()
            else:
                np.testing.assert_array_equal(real_next[i], next_obs[i])
            single_obs[i] = o
            np.testing.assert_allclose(next_obs[i], o, rtol=1e-5, atol=1e-6)
        obs = next_obs
    assert n_done >= 6

    # Every stored transition is a real one: (s, a) -> s' of the same episode, never final -> reset.
    assert len(replay) == num_envs * steps
    np.testing.assert_allclose(replay.obs.numpy(), np.stack(truth_obs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(replay.next_obs.numpy(), np.stack(truth_next), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(replay.not_terminal[:, 0].numpy(), 1.0 - np.array(truth_terminal, np.float32))


def test_vector_final_obs_without_done_is_a_copy():
    next_obs = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = vector_final_obs(next_obs, {}, np.zeros(3, bool))
    np.testing.assert_array_equal(out, next_obs)
    assert out is not next_obs
    final = np.empty(3, dtype=object)
    final[1] = np.array([9.0, 9.0], np.float32)
    out = vector_final_obs(next_obs, {"final_obs": final}, np.array([False, True, False]))
    np.testing.assert_array_equal(out, [[0, 1], [9, 9], [4, 5]])
    np.testing.assert_array_equal(next_obs[1], [2, 3])  # input untouched


def test_make_vector_env_rejects_zero_envs():
    with pytest.raises(ConfigError) as info:
        make_vector_env("Pendulum-v1", num_envs=0, seed=0)
    assert info.value.field_name == "num_envs"
