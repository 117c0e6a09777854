"""Bjorck, Gomes, Weinberger 2021: the pixel agents' head presets and their papers' per-task settings."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import AgentConfig, ConfigError, DrQV2Config, NetConfig


# Heads read the encoder's 50 features (and the action, for the critic); only they change (Bjorck 3).
# DrQ's hidden width 1024. `mlpN`: N hidden layers in actor and critic (Sec. 3.3: 2 -> 4 at constant
# width). `modern4`: pre-LayerNorm residual feed-forward blocks, 4 in the critic and 2 in the actor
# (Sec. 3.2; Fig 1). `modern2`: 2 blocks in both (Table 3's "two hidden layers"). `_sn`: spectral
# normalization on every head layer but the first and the last (Sec. 5.1; App. A for mlp4_sn).
# Ambiguous: Table 3 describes modern4 as "four hidden layers" without separating actor and critic;
# we keep Sec. 3.2's 2-block actor (`actor_blocks` changes it).
HEAD_PRESETS = ("mlp2", "mlp4", "modern2", "modern4", "modern4_sn", "mlp4_sn")
HEAD_WIDTH = 1024


def bjorck_heads(name: str, width: int = HEAD_WIDTH, actor_blocks: int | None = None) -> tuple[NetConfig, NetConfig]:
    """(actor, critic) NetConfigs of a head preset (HEAD_PRESETS)."""
    if name not in HEAD_PRESETS:
        raise ConfigError("heads", name, f"one of {', '.join(map(repr, HEAD_PRESETS))}")
    base, sn = name.removesuffix("_sn"), name.endswith("_sn")
    kind, depth = ("modern", int(base[len("modern"):])) if base.startswith("modern") else ("mlp", int(base[len("mlp"):]))
    critic = NetConfig(kind=kind, width=width, depth=depth, spectral_norm=sn)
    actor_depth = actor_blocks or (2 if kind == "modern" else depth)
    return dataclasses.replace(critic, depth=actor_depth), critic


# DrQ-v2's task groups (its cfgs/task/*.yaml): the exploration std decays over 100k agent steps on
# easy tasks, 500k on medium and 2M on hard ones; a few tasks change other defaults. Tasks DrQ-v2
# does not list count as medium (its default task, quadruped_walk, is medium).
DRQV2_STD_STEPS = {"easy": 100_000, "medium": 500_000, "hard": 2_000_000}
DRQV2_EASY = ("cartpole-balance", "cartpole-balance_sparse", "cartpole-swingup", "ball_in_cup-catch", "finger-spin",
              "hopper-stand", "pendulum-swingup", "walker-stand", "walker-walk")
DRQV2_HARD = ("humanoid-stand", "humanoid-walk", "humanoid-run")
DRQV2_TASK_OVERRIDES: dict[str, dict[str, Any]] = {
    "walker-walk": dict(n_step=1, batch_size=512), "walker-stand": dict(n_step=1, batch_size=512),
    "walker-run": dict(n_step=1, batch_size=512),
    **{t: dict(actor_lr=8e-5, critic_lr=8e-5, feature_dim=100) for t in DRQV2_HARD},
}


def drqv2_difficulty(env_id: str) -> str:
    from ..dmc import parse_id

    task = "-".join(parse_id(env_id))
    return "easy" if task in DRQV2_EASY else "hard" if task in DRQV2_HARD else "medium"


def drqv2_task_settings(env_id: str) -> dict[str, Any]:
    """AgentConfig overrides DrQ-v2 uses on `env_id`: its exploration schedule's length and the
    task's own exceptions (walker: 1-step returns at batch 512; humanoid: lr 8e-5, 100 features)."""
    from ..dmc import parse_id

    extra = dict(DRQV2_TASK_OVERRIDES.get("-".join(parse_id(env_id)), {}))
    section = dict(std_steps=DRQV2_STD_STEPS[drqv2_difficulty(env_id)])
    if "feature_dim" in extra:
        section["feature_dim"] = extra.pop("feature_dim")
    return {"drqv2": DrQV2Config(**section), **extra}


def pixel_agent(algo: str = "drqv2", heads: str = "mlp2", width: int = HEAD_WIDTH, env_id: str | None = None,
                **overrides: Any) -> AgentConfig:
    """A pixel agent with its paper settings (`AgentConfig.for_algorithm`) and a Bjorck head preset;
    given a DMC `env_id`, DrQ-v2 also takes its per-task settings (`drqv2_task_settings`)."""
    actor, critic = bjorck_heads(heads, width)
    task = drqv2_task_settings(env_id) if algo == "drqv2" and env_id is not None else {}
    return AgentConfig.for_algorithm(algo, actor=actor, critic=critic, **{**task, **overrides})


