"""Environment construction behind one gymnasium API.

Agents act in [-1, 1]^d (tanh-squashed SAC, tanh TD3); `make_env` rescales to each task's bounds.
Time-limit truncation comes back as `truncated`, never as `terminated`: the training loop stores
only `terminated` as a terminal, so a timed-out state is still bootstrapped.

Every environment declares what it observes as an `ObsSpec` (shape, dtype, frame stack): float
observations come as float32, image observations keep uint8; replay, agents, collectors and
checkpoints are built from the spec, never from a flat `obs_dim`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from . import dmc
from .config import ConfigError, EnvConfig

# Headless rendering: glfw needs a display; egl works on CPU machines and GPU boxes alike.
os.environ.setdefault("MUJOCO_GL", "egl")

DMC_PREFIX = dmc.PREFIX


def _valid_ids() -> str:
    mujoco = sorted(k for k in gym.registry if k.endswith(("-v4", "-v5")) and "Pendulum" not in k)
    classic = ["Pendulum-v1", "MountainCarContinuous-v0"]
    return f"one of {', '.join(classic + mujoco[:12])}, ..."


def _check_id(env_id: str) -> None:
    if env_id.startswith(DMC_PREFIX):
        dmc.parse_id(env_id)  # names the valid domains or tasks
    elif env_id not in gym.registry:
        raise ConfigError("env.id", env_id, f"a registered gymnasium id or 'dmc:<domain>-<task>', e.g. {_valid_ids()}")


class ObsSpec(NamedTuple):
    """What an environment observes: `shape` and `dtype` of one observation, and how many frames
    it stacks along its first axis (shape[0] = frame_stack x channels of one frame)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    frame_stack: int = 1

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """One frame of a stacked observation (the whole observation without stacking)."""
        return (self.shape[0] // self.frame_stack, *self.shape[1:])

    @property
    def flat_dim(self) -> int:
        """Features of a flattened observation (what an MLP reads)."""
        return int(np.prod(self.shape))

    @staticmethod
    def flat(dim: int) -> "ObsSpec":
        """The spec of a flat float32 observation of `dim` features."""
        return ObsSpec((int(dim),), np.dtype(np.float32))


class ActionRepeat(gym.Wrapper):
    """Each action is applied `repeat` times (rewards summed, stopping when the episode ends)."""

    def __init__(self, env: gym.Env, repeat: int):
        super().__init__(env)
        self.repeat = repeat

    def step(self, action):
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class FrameStack(gym.ObservationWrapper):
    """The last `k` observations concatenated along their first axis; at reset the first frame
    fills the stack (DrQ's FrameStack). Stacks of k frames of shape (C, ...) are (k*C, ...)."""

    def __init__(self, env: gym.Env, k: int):
        super().__init__(env)
        self.k = k
        space = env.observation_space
        self.observation_space = gym.spaces.Box(np.concatenate([space.low] * k, axis=0),
                                                np.concatenate([space.high] * k, axis=0),
                                                (k * space.shape[0], *space.shape[1:]), space.dtype)
        self._frames: list[np.ndarray] = []

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._frames = [obs] * self.k
        return self.observation(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames = self._frames[1:] + [obs]
        return self.observation(obs), reward, terminated, truncated, info

    def observation(self, obs):
        return np.concatenate(self._frames, axis=0)


def obs_spec(e: gym.Env | gym.vector.VectorEnv) -> ObsSpec:
    """The observation spec an environment made by `make_env` (or its vector version) declares."""
    if isinstance(e, gym.vector.SyncVectorEnv):
        return obs_spec(e.envs[0])
    space, frame_stack, inner = e.observation_space, 1, e
    while inner is not None:  # the outermost FrameStack, if any, says how many frames are stacked
        if isinstance(inner, FrameStack):
            frame_stack = inner.k
            break
        inner = getattr(inner, "env", None)
    return ObsSpec(tuple(int(n) for n in space.shape), np.dtype(space.dtype), frame_stack)


def pixel_env(env_id: str, benchmark: str = "dreamer", frame_stack: int = 3, **kwargs) -> EnvConfig:
    """A DeepMind Control task as the pixel agents read it: 84x84 RGB frames, `frame_stack` of them
    (3 in DrQ and DrQ-v2), the benchmark's action repeat (`dmc.action_repeat`: "dreamer" = 2, the
    15-task set of Bjorck et al. and DrQ-v2; "planet" per domain); `kwargs` go to the suite wrapper."""
    if not isinstance(env_id, str) or not env_id.startswith(dmc.PREFIX):
        raise ConfigError("env.id", env_id, f"a DeepMind Control id for a pixel agent, e.g. {dmc.PREFIX}cartpole-swingup")
    return EnvConfig(env_id, {"pixels": True, **kwargs}, action_repeat=dmc.action_repeat(env_id, benchmark),
                     frame_stack=frame_stack)


def make_env(env: EnvConfig | str, seed: int | None = None, **kwargs) -> gym.Env:
    """Build a single environment with continuous actions rescaled to [-1, 1]; float observations
    as float32, uint8 ones (images) as they are; then action repeat and frame stack."""
    if isinstance(env, str):
        env = EnvConfig(id=env, kwargs=kwargs)
    elif kwargs:
        env = dataclasses.replace(env, kwargs={**env.kwargs_dict, **kwargs})
    _check_id(env.id)
    make_kwargs = env.kwargs_dict
    if env.max_episode_steps is not None:
        make_kwargs["max_episode_steps"] = env.max_episode_steps
    try:
        if env.id.startswith(DMC_PREFIX):
            # The suite's own time limit (1,000 frames) applies unless capped; the suite repeats
            # actions itself (one render per agent step), so a cap in frames becomes agent steps.
            frames = make_kwargs.pop("max_episode_steps", None)
            e = dmc.make(env.id, action_repeat=env.action_repeat, **make_kwargs)
            if frames is not None:
                e = gym.wrappers.TimeLimit(e, -(-frames // env.action_repeat))
        else:
            e = gym.make(env.id, **make_kwargs)
    except TypeError as err:  # an unknown constructor kwarg: name it
        raise ConfigError("env.kwargs", env.kwargs_dict, f"kwargs accepted by {env.id} ({err})") from err
    if not isinstance(e.action_space, gym.spaces.Box):
        raise ConfigError("env.id", env.id, "an environment with a continuous (Box) action space")
    ones = np.ones(e.action_space.shape, dtype=np.float32)
    e = gym.wrappers.RescaleAction(e, -ones, ones)
    if np.dtype(e.observation_space.dtype) != np.uint8:
        e = gym.wrappers.TransformObservation(
            e, lambda o: np.asarray(o, dtype=np.float32),
            gym.spaces.Box(-np.inf, np.inf, e.observation_space.shape, np.float32))
    if env.action_repeat > 1 and not env.id.startswith(DMC_PREFIX):
        e = ActionRepeat(e, env.action_repeat)
    if env.frame_stack > 1:
        e = FrameStack(e, env.frame_stack)
    if seed is not None:
        e.reset(seed=seed)
        e.action_space.seed(seed)
    return e


def make_vector_env(env: EnvConfig | str, num_envs: int, seed: int, **kwargs) -> gym.vector.VectorEnv:
    """`num_envs` copies in one process, autoresetting in the SAME step.

    Gymnasium 1.x defaults to resetting on the *next* step, which makes a naive loop store a bogus
    final->reset transition. With SAME_STEP, the returned observation of a finished env is already
    the reset one and the true final observation is in `infos["final_obs"]`.
    """
    if num_envs < 1:
        raise ConfigError("num_envs", num_envs, "an integer >= 1")
    venv = gym.vector.SyncVectorEnv(
        [lambda: make_env(env, **kwargs) for _ in range(num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    venv.reset(seed=seed)
    venv.action_space.seed(seed)
    return venv


def env_spec(e: gym.Env | gym.vector.VectorEnv) -> tuple[ObsSpec, int]:
    """(observation spec, action dim) of an environment made by `make_env` or `make_vector_env`."""
    space = getattr(e, "single_action_space", e.action_space)
    return obs_spec(e), int(np.prod(space.shape))


def env_spec_of(env: EnvConfig) -> tuple[ObsSpec, int]:
    """The spec of the environment a config describes (built once, then closed)."""
    e = make_env(env)
    try:
        return env_spec(e)
    finally:
        e.close()


def vector_final_obs(next_obs: np.ndarray, infos: dict, done: np.ndarray) -> np.ndarray:
    """The true next observation per env of a SAME_STEP vector env (final obs where an episode ended)."""
    real = np.array(next_obs, copy=True)
    if done.any():
        for i in np.flatnonzero(done):
            real[i] = infos["final_obs"][i]
    return real
