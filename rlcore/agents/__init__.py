"""Agents: `make_agent(cfg.agent, obs_dim, action_dim, device)` picks the algorithm by name."""

from __future__ import annotations

import torch

from ..config import ALGORITHMS, AgentConfig, ConfigError
from .common import Agent
from .sac import SAC
from .td3 import TD3

_REGISTRY = {"sac": SAC, "td3": TD3}
assert set(_REGISTRY) == set(ALGORITHMS)


def make_agent(cfg: AgentConfig, obs_dim: int, action_dim: int, device: torch.device | str = "cpu",
               env_id: str | None = None) -> Agent:
    """`env_id` picks OFENet's predicted next-state dimensions (`nets.ofenet.TARGET_DIMS`)."""
    if cfg.algo not in _REGISTRY:
        raise ConfigError("agent.algo", cfg.algo, f"one of {', '.join(map(repr, _REGISTRY))}")
    return _REGISTRY[cfg.algo](cfg, obs_dim, action_dim, device, env_id=env_id)


__all__ = ["Agent", "SAC", "TD3", "make_agent"]
