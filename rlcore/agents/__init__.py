"""Agents behind one protocol (`Agent`, in `base`): `make_agent(cfg.agent, obs_spec, action_dim, device)`
picks the algorithm by name in `AGENTS`; `load_agent(run_dir)` rebuilds a finished run's agent.

A new algorithm is one module with an `Agent` subclass, an entry in `AGENTS`, and (for its own
settings) a section in `rlcore.config.ALGORITHM_SECTIONS`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import ALGORITHMS, AgentConfig, ConfigError, RunConfig
from ..envs import ObsSpec, env_spec_of
from ..io import load_torch, read_json
from .base import Agent, UpdateResult
from .drq import DrQ
from .drqv2 import DrQV2
from .sac import SAC
from .td3 import TD3

AGENTS: dict[str, type[Agent]] = {"sac": SAC, "td3": TD3, "drq": DrQ, "drqv2": DrQV2}
assert set(AGENTS) == set(ALGORITHMS)


def make_agent(cfg: AgentConfig, spec: ObsSpec, action_dim: int, device: torch.device | str = "cpu",
               env_id: str | None = None) -> Agent:
    """`env_id` picks OFENet's predicted next-state dimensions (`nets.ofenet.TARGET_DIMS`)."""
    if cfg.algo not in AGENTS:
        raise ConfigError("agent.algo", cfg.algo, f"one of {', '.join(map(repr, AGENTS))}")
    return AGENTS[cfg.algo](cfg, spec, action_dim, device, env_id=env_id)


def load_agent(run_dir: str | Path, device: torch.device | str = "cpu") -> Agent:
    """The final agent of a finished run, rebuilt from its config.json and agent.pt."""
    run_dir = Path(run_dir)
    if not (run_dir / "agent.pt").exists():
        raise FileNotFoundError(f"{run_dir / 'agent.pt'} does not exist: the run has not finished, or its weights "
                                "were not kept (committed results hold tables only; retrain it with --force)")
    cfg = RunConfig.from_dict(read_json(run_dir / "config.json"))
    spec, action_dim = env_spec_of(cfg.env)
    agent = make_agent(cfg.agent, spec, action_dim, device, env_id=cfg.env.id)
    agent.load_weights(load_torch(run_dir / "agent.pt", device))
    return agent


__all__ = ["AGENTS", "Agent", "DrQ", "DrQV2", "SAC", "TD3", "UpdateResult", "load_agent", "make_agent"]
