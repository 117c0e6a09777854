"""Environment construction behind one gymnasium API.

Agents act in [-1, 1]^d (tanh-squashed SAC, tanh TD3); `make_env` rescales to each task's bounds.
Time-limit truncation comes back as `truncated`, never as `terminated`: the training loop stores
only `terminated` as a terminal, so a timed-out state is still bootstrapped.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np

from .config import ConfigError, EnvConfig

# Headless rendering: glfw needs a display; egl works on CPU machines and GPU boxes alike.
os.environ.setdefault("MUJOCO_GL", "egl")

DMC_PREFIX = "dmc:"


def _check_id(env_id: str) -> None:
    if env_id.startswith(DMC_PREFIX):
        raise NotImplementedError(
            f"env.id={env_id!r}: DeepMind Control Suite tasks ('dmc:domain-task') are reserved for the "
            "pixel-agent issue and not built yet")
    if env_id not in gym.registry:
        mujoco = sorted(k for k in gym.registry if k.endswith(("-v4", "-v5")) and "Pendulum" not in k)
        classic = ["Pendulum-v1", "MountainCarContinuous-v0"]
        raise ConfigError("env.id", env_id,
                          f"a registered gymnasium id, e.g. one of {', '.join(classic + mujoco[:12])}, ...")


def make_env(env: EnvConfig | str, seed: int | None = None, **kwargs) -> gym.Env:
    """Build a single environment with continuous actions rescaled to [-1, 1] and float32 obs."""
    if isinstance(env, str):
        env = EnvConfig(id=env, kwargs=kwargs)
    elif kwargs:
        env = EnvConfig(id=env.id, kwargs={**env.kwargs_dict, **kwargs},
                        max_episode_steps=env.max_episode_steps)
    _check_id(env.id)
    make_kwargs = env.kwargs_dict
    if env.max_episode_steps is not None:
        make_kwargs["max_episode_steps"] = env.max_episode_steps
    try:
        e = gym.make(env.id, **make_kwargs)
    except TypeError as err:  # an unknown constructor kwarg: name it
        raise ConfigError("env.kwargs", env.kwargs_dict, f"kwargs accepted by {env.id} ({err})") from err
    if not isinstance(e.action_space, gym.spaces.Box):
        raise ConfigError("env.id", env.id, "an environment with a continuous (Box) action space")
    ones = np.ones(e.action_space.shape, dtype=np.float32)
    e = gym.wrappers.RescaleAction(e, -ones, ones)
    e = gym.wrappers.TransformObservation(
        e, lambda o: np.asarray(o, dtype=np.float32),
        gym.spaces.Box(-np.inf, np.inf, e.observation_space.shape, np.float32))
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


def env_dims(e: gym.Env) -> tuple[int, int]:
    """(observation dim, action dim) of a flat-observation environment."""
    return int(np.prod(e.observation_space.shape)), int(np.prod(e.action_space.shape))


def vector_final_obs(next_obs: np.ndarray, infos: dict, done: np.ndarray) -> np.ndarray:
    """The true next observation per env of a SAME_STEP vector env (final obs where an episode ended)."""
    real = np.array(next_obs, copy=True)
    if done.any():
        for i in np.flatnonzero(done):
            real[i] = infos["final_obs"][i]
    return real
