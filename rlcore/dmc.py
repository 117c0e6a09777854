"""The DeepMind Control Suite behind the gymnasium API: `dmc:<domain>-<task>` ids.

`DMCEnv(domain, task, pixels=False, height=84, width=84, camera_id=None)`:
  state observations: the suite's observation dict flattened in its order, float32;
  pixels: an RGB image rendered by MuJoCo, channels first (3, height, width), uint8 -- camera 0,
    quadruped camera 2 (as DrQ / DrQ-v2 render them).
Actions are the suite's bounded arrays (every suite task is [-1, 1]). Every suite episode ends at its
time limit (1,000 control steps for all of them) with discount 1, so the end is `truncated`, never
`terminated`, and the last state is bootstrapped; a time step with discount 0 (none in the suite) is
reported as `terminated`. Seeding: `reset(seed=s)` rebuilds the task with `random=s`, the suite's
way of seeding its initial states.

`action_repeat=k` applies each action for k control steps (rewards summed) and renders once, at the
end: the agent never sees the frames in between, so they are not drawn.

`shadow_size` (pixels of the square shadow map; None keeps the model's, 2048 in every suite domain):
on a CPU's software GL the shadow map is most of a frame's cost (84x84: ~5 ms at 256 against
~16-38 ms at 2048, measured here), so the tests and the `smoke` profile may lower it; the images
then differ from the papers' in their shadows' sharpness only.

Rendering needs a GL backend: `MUJOCO_GL=egl` (set by rlcore.envs when unset) works headless on CPUs
and GPUs; `MUJOCO_GL=osmesa` is the software fallback where EGL is missing.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from .config import ConfigError

PREFIX = "dmc:"
# Action repeat per task as the benchmarks define it. PlaNet's six tasks (Hafner et al. 2019), which
# DrQ's PlaNet benchmark follows: cartpole 8, reacher / cheetah / cup 4, finger / walker 2. The
# Dreamer / DrQ 15-task benchmark Bjorck et al. use: 2 for every task.
PLANET_ACTION_REPEAT = {"cartpole": 8, "reacher": 4, "cheetah": 4, "ball_in_cup": 4, "finger": 2, "walker": 2}
DREAMER_ACTION_REPEAT = 2
ACTION_REPEAT_BENCHMARKS = ("planet", "dreamer")


def suite_tasks() -> dict[str, tuple[str, ...]]:
    from dm_control import suite

    tasks: dict[str, list[str]] = {}
    for domain, task in suite.ALL_TASKS:
        tasks.setdefault(domain, []).append(task)
    return {d: tuple(t) for d, t in sorted(tasks.items())}


def parse_id(env_id: str) -> tuple[str, str]:
    """'dmc:walker-walk' -> ('walker', 'walk'); an unknown domain or task names the valid ones."""
    if not env_id.startswith(PREFIX) or "-" not in env_id[len(PREFIX):]:
        raise ConfigError("env.id", env_id, "'dmc:<domain>-<task>', e.g. 'dmc:cartpole-swingup'")
    domain, task = env_id[len(PREFIX):].split("-", 1)
    tasks = suite_tasks()
    if domain not in tasks:
        raise ConfigError("env.id", env_id, f"a DeepMind Control domain: one of {', '.join(tasks)}")
    if task not in tasks[domain]:
        raise ConfigError("env.id", env_id, f"a task of {domain}: one of {', '.join(tasks[domain])}")
    return domain, task


def action_repeat(env_id: str, benchmark: str = "planet") -> int:
    """The benchmark's action repeat for a task ("planet": per domain, 2 where PlaNet has no entry;
    "dreamer": 2)."""
    if benchmark not in ACTION_REPEAT_BENCHMARKS:
        raise ConfigError("benchmark", benchmark, f"one of {', '.join(map(repr, ACTION_REPEAT_BENCHMARKS))}")
    domain, _ = parse_id(env_id)
    return PLANET_ACTION_REPEAT.get(domain, 2) if benchmark == "planet" else DREAMER_ACTION_REPEAT


def default_camera(domain: str) -> int:
    return 2 if domain == "quadruped" else 0


class DMCEnv(gym.Env):
    """One DeepMind Control task as a gymnasium environment (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, domain: str, task: str, pixels: bool = False, height: int = 84, width: int = 84,
                 camera_id: int | None = None, seed: int = 0, action_repeat: int = 1, shadow_size: int | None = None,
                 **task_kwargs: Any):
        self.domain, self.task, self.pixels = domain, task, bool(pixels)
        if shadow_size is not None and (isinstance(shadow_size, bool) or not isinstance(shadow_size, int)
                                        or shadow_size < 1):
            raise ConfigError("env.kwargs.shadow_size", shadow_size, "a positive integer (pixels of the shadow map) or null")
        self.shadow_size = shadow_size
        self.action_repeat = int(action_repeat)
        self.height, self.width = int(height), int(width)
        self.camera_id = default_camera(domain) if camera_id is None else int(camera_id)
        self.task_kwargs = task_kwargs
        self._env = self._load(seed)
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(spec.minimum.astype(np.float32), spec.maximum.astype(np.float32),
                                           dtype=np.float32)
        if self.pixels:
            self.observation_space = gym.spaces.Box(0, 255, (3, self.height, self.width), np.uint8)
        else:
            dim = sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    def _load(self, seed: int):
        from dm_control import suite

        try:
            env = suite.load(self.domain, self.task, task_kwargs={"random": seed, **self.task_kwargs})
        except TypeError as err:  # an unknown task argument
            raise ConfigError("env.kwargs", self.task_kwargs, f"arguments of {self.domain}-{self.task} ({err})") from err
        if self.shadow_size is not None:  # read when the render context is made, at the first render
            env.physics.model.vis.quality.shadowsize = self.shadow_size
        return env

    def _observation(self, time_step) -> np.ndarray:
        if self.pixels:
            frame = self._env.physics.render(self.height, self.width, camera_id=self.camera_id)
            return np.ascontiguousarray(frame.transpose(2, 0, 1))
        return np.concatenate([np.asarray(v, dtype=np.float32).ravel() for v in time_step.observation.values()])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env = self._load(seed)
        return self._observation(self._env.reset()), {}

    def step(self, action):
        # Repeating here rather than in a wrapper renders only the frame the agent sees.
        action, reward = np.asarray(action, dtype=np.float64), 0.0
        for _ in range(self.action_repeat):
            time_step = self._env.step(action)
            reward += float(time_step.reward or 0.0)
            if time_step.last():
                break
        terminated = bool(time_step.last() and time_step.discount == 0.0)
        truncated = bool(time_step.last() and not terminated)
        return self._observation(time_step), reward, terminated, truncated, {"discount": float(time_step.discount)}

    def render(self):
        return self._env.physics.render(self.height, self.width, camera_id=self.camera_id)

    def close(self):
        self._env.close() if hasattr(self._env, "close") else None


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """The environment of a `dmc:` id; `kwargs`: pixels, height, width, camera_id, and task arguments."""
    domain, task = parse_id(env_id)
    return DMCEnv(domain, task, **kwargs)
