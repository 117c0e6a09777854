"""The papers' experiments as config grids, scaled by profile. Notebooks and the CLI share these.

Each function returns a `Sweep`: the run configs plus what a figure needs to say about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from . import profiles
from .config import AgentConfig, ConfigError, EnvConfig, NetConfig, RunConfig


@dataclass(frozen=True)
class Sweep:
    name: str
    profile: str
    configs: tuple[RunConfig, ...]
    axes: dict[str, tuple] = field(default_factory=dict)
    description: str = ""

    @property
    def budget_line(self) -> str:
        b = self.configs[0].budget
        return profiles.describe(self.profile, b, self.axes.get("seed", (self.configs[0].seed,)))

    def __len__(self) -> int:
        return len(self.configs)


# The paper's Ant-v2 (111-dim observation incl. contact forces, Ota A.2) is gone from gymnasium;
# Ant-v4 with use_contact_forces=True has the same 111-dim observation and 8-dim action.
OTA_ANT = EnvConfig("Ant-v4", {"use_contact_forces": True})

# Ota et al. 2021, Fig 1a / 3a / 4: SAC on Ant, units x layers of both actor and critic MLPs.
SIZE_SWEEP = {
    "paper": dict(units=(128, 256, 512, 1024, 2048), layers=(1, 2, 4, 8, 16), seeds=(0, 1, 2, 3, 4),
                  fixed_units=256, fixed_layers=2),
    "quick": dict(units=(64, 128, 256, 512), layers=(1, 2, 4, 8), seeds=(0, 1),
                  fixed_units=256, fixed_layers=2, total_steps=30_000),
    "smoke": dict(units=(32, 64), layers=(1, 2), seeds=(0,), fixed_units=64, fixed_layers=2),
}


def ota_agent(algo: str = "sac", width: int = 256, depth: int = 2, activation: str = "relu",
              critic_loss: str = "huber") -> AgentConfig:
    """Ota et al.'s agent: the original algorithm's hyperparameters, Huber critic loss (Ota A.1)."""
    net = NetConfig(kind="mlp", width=width, depth=depth, activation=activation)
    return AgentConfig(algo=algo, actor=net, critic=net, critic_loss=critic_loss)


def ota_size_sweep(profile: str = "smoke", env: EnvConfig | str | None = None,
                   units: Sequence[int] | None = None, layers: Sequence[int] | None = None,
                   seeds: Sequence[int] | None = None, total_steps: int | None = None,
                   critic_loss: str = "huber", **budget_overrides: Any) -> Sweep:
    """Fig 1a (depth sweep at fixed units), Fig 3a (width sweep at fixed layers), Fig 4 (the grid).

    One grid serves all three figures, as in the paper: the depth sweep is the grid's column at
    `fixed_units` (256 in the paper) and the width sweep its row at `fixed_layers` (2).
    """
    profiles.check_profile(profile)
    preset = dict(SIZE_SWEEP[profile])
    units = tuple(units or preset["units"])
    layers = tuple(layers or preset["layers"])
    seeds = tuple(seeds if seeds is not None else preset["seeds"])
    for name, values in (("units", units), ("layers", layers)):
        if not values or any(not isinstance(v, int) or v < 1 for v in values):
            raise ConfigError(name, values, "a non-empty list of positive integers")
    if total_steps is None:
        total_steps = preset.get("total_steps")
    if total_steps is not None:
        budget_overrides["total_steps"] = total_steps
    budget = profiles.budget(profile, "sac", **budget_overrides)

    if env is None:
        env = OTA_ANT
    elif isinstance(env, str):
        env = OTA_ANT if env == OTA_ANT.id else EnvConfig(env)
    cap = profiles.EPISODE_CAP[profile]
    if cap is not None and env.max_episode_steps is None:
        env = EnvConfig(env.id, env.kwargs_dict, max_episode_steps=cap)

    configs = tuple(
        RunConfig(env=env, agent=ota_agent("sac", w, d, critic_loss=critic_loss), budget=budget, seed=s,
                  profile=profile)
        for w in units for d in layers for s in seeds)
    fixed_units = preset["fixed_units"] if preset["fixed_units"] in units else units[len(units) // 2]
    fixed_layers = preset["fixed_layers"] if preset["fixed_layers"] in layers else layers[0]
    return Sweep(name="ota2021_size_sweep", profile=profile, configs=configs,
                 axes={"agent.critic.width": units, "agent.critic.depth": layers, "seed": seeds,
                       "fixed_units": fixed_units, "fixed_layers": fixed_layers},
                 description="SAC on Ant, MLP actor and critic of N_unit units x N_layer layers")


EXPERIMENTS = {"ota_size_sweep": ota_size_sweep}


def get_experiment(name: str):
    if name not in EXPERIMENTS:
        raise ConfigError("experiment", name, f"one of {', '.join(map(repr, EXPERIMENTS))}")
    return EXPERIMENTS[name]
