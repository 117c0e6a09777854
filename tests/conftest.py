"""Shared fixtures: tiny configs, isolated results directories, one torch thread.

The suite runs on small CPU machines that other jobs may share: one intra-op thread keeps the
timings stable (an OpenMP team of 2 on a contended 2-core box can be 10x slower than 1 thread).
`make test` runs the suite in two pytest-xdist workers, one per core (`--dist loadgroup`). Modules
whose tests start processes and wait on them with deadlines (collection workers, Ray, parallel
sweeps, SIGKILLed runs, lock holders) are marked `xdist_group("processes")`: they run one at a time
in one worker, so two of them never compete for the cores.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import pytest  # noqa: E402
import torch  # noqa: E402

from rlcore.config import AgentConfig, BudgetConfig, EnvConfig, NetConfig, RunConfig  # noqa: E402
from rlcore.hooks import Hook  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Nothing a test does may land in the repository's results/ directory."""
    monkeypatch.setenv("RLCORE_RESULTS", str(tmp_path / "default-results"))


def make_tiny_config(algo: str = "sac", env: str = "Pendulum-v1", *, width: int = 32, depth: int = 2,
                     seed: int = 0, env_kwargs=None, max_episode_steps: int | None = 50,
                     agent: dict | None = None, **budget) -> RunConfig:
    """A run that takes a second or two on a CPU: small nets, short episodes, few steps."""
    b = dict(total_steps=300, warmup_steps=100, updates_per_step=1, replay_size=10_000, eval_every=100,
             eval_episodes=1, log_every=50, checkpoint_every=100_000)
    b.update(budget)
    net = NetConfig(width=width, depth=depth)
    return RunConfig(
        env=EnvConfig(id=env, kwargs=env_kwargs or {}, max_episode_steps=max_episode_steps),
        agent=AgentConfig(algo=algo, actor=net, critic=net, batch_size=32, **(agent or {})),
        budget=BudgetConfig(**b), seed=seed, device="cpu")


@pytest.fixture
def tiny_config():
    return make_tiny_config


class EvaluationSpy(Hook):
    """A hook recording the steps at which the trainer evaluates (`steps`)."""

    name = "evaluation_spy"

    def __init__(self):
        self.steps: list[int] = []

    def on_evaluate(self, trainer, step):
        self.steps.append(step)
        return {}
