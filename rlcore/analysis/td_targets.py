"""Frozen TD targets (Ota et al. 2021 A.3): (s, a, Q_hat) of stored transitions under a trained agent.

Q_hat is the agent's own Bellman target (`Agent.td_target`): SAC's r + discount (min_j Q'_j(s', a')
- alpha log pi(a'|s')) with one a' ~ pi(.|s') per transition, TD3's r + discount min_j Q'_j(s',
mu'(s') + clipped noise) with its target policy smoothing -- each as in training, under a fixed
seed, but with every network in eval mode (an actor with BatchNorm reads its running statistics
here, its batch statistics in training). Computing them changes no state of the agent, and the
caller's RNG streams are restored. The random draws are made per chunk of `batch_size`
transitions, so the same seed gives the same targets for the same `batch_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..io import atomic_torch_save, load_torch


@dataclass
class TDTargets:
    """(s, a, Q_hat) for stored training transitions, and the TD loss the run trained with."""

    obs: torch.Tensor
    action: torch.Tensor
    q_hat: torch.Tensor  # (N,)
    loss: str = "mse"    # the run's critic loss: "mse" (1/2 squared error) or "huber"

    def save(self, path: str | Path) -> Path:
        return atomic_torch_save({"obs": self.obs.cpu(), "action": self.action.cpu(), "q_hat": self.q_hat.cpu(),
                                  "loss": self.loss}, path)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> "TDTargets":
        d = load_torch(path, device)
        return cls(d["obs"], d["action"], d["q_hat"], d.get("loss", "mse"))

    def subset(self, keep: torch.Tensor) -> "TDTargets":
        return TDTargets(self.obs[keep], self.action[keep], self.q_hat[keep], self.loss)


@torch.no_grad()
def frozen_td_targets(agent, replay, max_transitions: int | None = 10_000, seed: int = 0,
                      batch_size: int = 4096) -> TDTargets:
    """Frozen TD targets for the transitions in `replay` (all that can be sampled, or a seeded
    uniform sample of `max_transitions` of them)."""
    ready = replay.ready_indices()
    n = len(ready)
    if n == 0:
        raise ValueError("replay is empty: there are no training transitions to build the TD loss from")
    if max_transitions is not None and max_transitions < n:
        generator = torch.Generator().manual_seed(seed)
        ready = ready[torch.randperm(n, generator=generator)[:max_transitions].sort().values.to(ready.device)]
    agent.eval_mode()
    devices = [agent.device] if agent.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # the caller's RNG streams are left as they were
        torch.manual_seed(seed)  # the random parts of the target (a' ~ pi, TD3's noise) are frozen with it
        parts = []
        for i in range(0, len(ready), batch_size):
            b = replay.gather(ready[i:i + batch_size])
            parts.append((b.obs, b.action, agent.td_target(b).squeeze(-1)))
    obs, action, q_hat = (torch.cat(p) for p in zip(*parts))
    return TDTargets(obs, action, q_hat, agent.cfg.critic_loss)
