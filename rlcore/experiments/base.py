"""What every experiment grid shares: the `Sweep` it returns, and the checks of its parameters."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import nbparams, profiles
from ..config import BudgetConfig, ConfigError, EnvConfig, RunConfig


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
        return profiles.describe(self.profile, b, self.axes.get("seed", (self.configs[0].seed,)),
                                 self.configs[0].env.action_repeat)

    def __len__(self) -> int:
        return len(self.configs)


def check_env(env: EnvConfig) -> None:
    """Build `env` once and close it; whatever stops it from being built is a ConfigError."""
    import gymnasium as gym

    from ..envs import make_env

    try:
        e = make_env(env)
    except NotImplementedError as err:  # ids reserved for environments not built yet (dmc:...)
        raise ConfigError("env.id", env.id, f"an environment that can be built ({err})") from err
    except gym.error.Error as err:  # e.g. a missing dependency
        raise ConfigError("env.id", env.id, f"an environment that can be built ({type(err).__name__}: {err})") from err
    e.close()


def profile_steps(total_steps: Any, preset: dict, budget_overrides: dict[str, Any]) -> None:
    """The run length: the caller's `total_steps` (papermill text accepted), else the preset's if it
    has one, else the profile's default; set as a budget override."""
    total_steps = nbparams.integer(total_steps, "total_steps")
    if total_steps is None:
        total_steps = preset.get("total_steps")
    if total_steps is not None:
        budget_overrides["total_steps"] = total_steps


_BUDGET_FIELDS = tuple(f.name for f in dataclasses.fields(BudgetConfig))


def check_overrides(experiment: Callable[..., Sweep], overrides: dict[str, Any]) -> None:
    """An experiment's `**budget_overrides` must be BudgetConfig fields: anything else is a
    misspelt or unknown parameter, named together with the valid ones."""
    for key, value in overrides.items():
        if key not in _BUDGET_FIELDS:
            params = [p.name for p in inspect.signature(experiment).parameters.values()
                      if p.kind is not inspect.Parameter.VAR_KEYWORD]
            raise ConfigError(key, value, f"a parameter of {experiment.__name__} (one of {', '.join(params)}) "
                                          f"or a budget field ({', '.join(_BUDGET_FIELDS)})")


