"""Collection strategies: how experience reaches the replay during a run, and what `step` counts.

    SerialCollection  one environment, one agent step at a time; after the warm-up every
                      `budget.update_every`-th step runs `budget.updates_per_step` updates. `step`
                      counts agent steps (x `env.action_repeat` = frames).
    ApexCollection    Ape-X-like (Ota 3.2): worker processes collect asynchronously with the latest
                      weights, the learner updates continuously. `step` counts gradient steps (Ota
                      A.1: the x-axis of its curves); `env_steps` counts the transitions received.

Both drive the same `Trainer` through `learner_step(step)` and `periodic(step)`; each keeps its
own resumable state (`state_dict`), saved in every checkpoint.
"""

from __future__ import annotations

import abc
import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .train import Trainer


class Diverged(Exception):
    """The run produced non-finite or exploding numbers: it is recorded as crashed."""


class CollectionStrategy(abc.ABC):
    counts = "agent steps"

    def __init__(self, trainer: "Trainer"):
        self.trainer = trainer
        self.env_steps = 0  # agent steps taken in environments (= frames / action_repeat)

    @abc.abstractmethod
    def run(self, step: int) -> int:
        """Collect and learn from `step` until the budget's total; returns the final step."""

    def metrics(self, step: int, now: float) -> None:
        """Extra rows at every logging interval."""

    def state_dict(self) -> dict[str, Any]:
        return {"env_steps": self.env_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.env_steps = state["env_steps"]


class SerialCollection(CollectionStrategy):
    """One environment step, then the updates that are due. `start`, `collect` and `updates_due`
    are the loop's parts, so a population (`rlcore.population`) can run several in lockstep."""

    def __init__(self, trainer: "Trainer"):
        super().__init__(trainer)
        self.env = trainer.make_env(seed=trainer.cfg.seed)

    def run(self, step: int) -> int:
        t, b = self.trainer, self.trainer.cfg.budget
        self.start(step)
        while step < b.total_steps:
            step = self.collect(step)
            if self.updates_due(step):
                for _ in range(b.updates_per_step):
                    t.learner_step(step)
            t.periodic(step)
        return step

    def start(self, step: int) -> None:
        """Before the first step of this call: a fresh episode."""
        # A resumed run starts a fresh episode; the interrupted partial episode is not replayed, and
        # the replay ends it by truncation so no n-step window or frame stack runs into the new one.
        self.trainer.replay.end_episode()
        self.obs, _ = self.env.reset(seed=self.trainer.cfg.seed + step)
        self.episode_return, self.episode_length = 0.0, 0

    def collect(self, step: int) -> int:
        """One agent step into the replay; returns the new step count."""
        t, b = self.trainer, self.trainer.cfg.budget
        if step < b.warmup_steps:
            action = self.env.action_space.sample()
        else:
            action = t.agent.act(self.obs, step, explore=True)
            if not np.all(np.isfinite(action)):
                raise Diverged(f"non-finite action at step {step}")
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        # Only a true terminal stops bootstrapping; time-limit truncation does not.
        t.replay.add(self.obs, action, reward, next_obs, terminated, truncated)
        self.episode_return += float(reward)
        self.episode_length += 1
        self.obs = next_obs
        step = t.step = self.env_steps = step + 1
        if terminated or truncated:
            t.log(step, "train_episode_return", self.episode_return)
            t.log(step, "train_episode_length", self.episode_length)
            self.obs, _ = self.env.reset()
            self.episode_return, self.episode_length = 0.0, 0
        return step

    def updates_due(self, step: int) -> bool:
        t, b = self.trainer, self.trainer.cfg.budget
        return step >= b.warmup_steps and len(t.replay) >= t.cfg.agent.batch_size and step % b.update_every == 0

    def state_dict(self):
        return {**super().state_dict(), "action_space_rng": self.env.action_space.np_random.bit_generator.state}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.env.action_space.np_random.bit_generator.state = state["action_space_rng"]


class ApexCollection(CollectionStrategy):
    """Workers collect asynchronously (`rlcore.collect.Collector`), the learner updates continuously."""

    counts = "gradient steps"

    def __init__(self, trainer: "Trainer"):
        super().__init__(trainer)
        self._new_window(time.time())

    def _new_window(self, now: float) -> None:
        self.window = {"transitions": 0, "staleness": 0.0, "stale_n": 0, "t": now}

    def run(self, step: int) -> int:
        from .collect import Collector

        t, cfg, b = self.trainer, self.trainer.cfg, self.trainer.cfg.budget
        acting = lambda: {k: m.state_dict() for k, m in t.agent.acting_modules().items()}
        self.collector = collector = Collector(cfg, acting())
        warmup = max(b.warmup_steps, cfg.agent.batch_size)
        try:
            collector.start()
            warmed_up = len(t.replay) >= warmup
            if warmed_up:
                collector.publish(acting, step)
            cap, start_env_steps = cfg.collect.max_env_per_grad, self.env_steps
            while step < b.total_steps:
                if cap:  # workers wait before collecting beyond warm-up + cap x gradient steps
                    collector.allow(warmup + cap * step - start_env_steps)
                for chunk in collector.drain(timeout=0.0 if warmed_up else 0.2):
                    self._receive(chunk, step)
                if collector.check_workers():
                    t.log(step, "collect_worker_restarts", collector.restarts)
                if not warmed_up:
                    if len(t.replay) < warmup:
                        continue
                    warmed_up = True
                t.learner_step(step)
                step = t.step = step + 1
                collector.publish(acting, step)  # copied out once workers took the previous copy
                t.periodic(step)
        finally:
            collector.shutdown()
        return step

    def _receive(self, chunk, step: int) -> None:
        t = self.trainer
        t.replay.add(chunk.obs, chunk.action, chunk.reward, chunk.next_obs, chunk.terminated)
        n = len(chunk.reward)
        self.env_steps += n
        w = self.window
        w["transitions"] += n
        if chunk.version > 0:
            w["staleness"] += (step - chunk.version) * n  # gradient steps behind the learner
            w["stale_n"] += n
        for r in chunk.episode_returns:
            t.log(step, "train_episode_return", r)

    def metrics(self, step: int, now: float) -> None:
        t, w = self.trainer, self.window
        t.log(step, "collect_env_steps", self.env_steps)
        t.log(step, "collect_grad_steps", step)
        t.log(step, "collect_env_per_grad", self.env_steps / max(step, 1))
        t.log(step, "collect_transitions_per_s", w["transitions"] / max(now - w["t"], 1e-9))
        t.log(step, "collect_worker_restarts", self.collector.restarts)
        if w["stale_n"]:
            t.log(step, "collect_weight_staleness", w["staleness"] / w["stale_n"])
        self._new_window(now)


STRATEGIES = {"serial": SerialCollection, "apex": ApexCollection}
