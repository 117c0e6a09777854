"""Bjorck, Gomes, Weinberger 2021: the pixel agents' head presets, their papers' per-task settings,
and the paper's experiments (Fig 1-4, Tables 1-2, Appendix A) as grids scaled by profile."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from .. import nbparams, profiles
from ..config import AgentConfig, ConfigError, DrQV2Config, EnvConfig, NetConfig, RunConfig
from .base import Sweep, check_overrides


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




# ---- Bjorck et al.'s experiments as grids --------------------------------------------------------------

# Scale per profile. paper: the text's (Sec. 4: 15 tasks, 10 seeds, 500k frames, 84x84, action repeat
# 2; each agent's own batch, DrQ 512). quick and smoke depart from it, and every figure says how:
#   quick: one task (cartpole swingup; Table 1: its one easy sparse task), action repeat 8 (PlaNet's for
#          cartpole), 2 seeds, 84x84 frames, 50k frames, a batch of 64. Sized from measured update
#          times (`benchmarks/sweep_cost.py --experiment bjorck_fig4_sn --profile quick`): a DrQ update
#          with 1024-wide heads at batch 128 takes 1.0-1.2 s on an idle core (2-4 s loaded), so 5,250
#          of them at 64 are ~0.9 CPU hours a run; Fig 3 + Fig 4 (mlp2, modern4, modern4_sn x 2 seeds)
#          ~5.5 CPU hours (Table 1 has its own departures: `table1` below). Measured in
#          training (mlp2, one thread beside another sweep): 0.7-1.0 s per agent step, ~1.2-1.7 CPU
#          hours a run, so Figs 3 + 4 (6 distinct runs) take ~7-10;
#   smoke: the pipeline only: 32x32 frames, 200 agent steps, a batch of 32.
# `std_schedule` (DrQ-v2's exploration std, 1.0 -> 0.1): "paper" keeps DrQ-v2's length in agent steps
#   (100k on easy tasks: 40 % of the paper's 250k agent steps); "scaled" ends it after the same share of
#   the run's agent steps (quick: 2,500 of 6,250), so a short run is not exploring at std ~0.95 throughout.
# `shadow_size` lowers the software-GL shadow map outside `paper` (images identical on cartpole).
# `table1`: Table 1's own departures from the profile's. At quick, DrQ-v2 keeps the paper's action
#   repeat (2), warm-up (2,000 agent steps = 4,000 frames) and exploration schedule, and runs 40k
#   frames: DrQ-v2's published curves for cartpole balance_sparse (10 seeds, batch 256) are at 1000 in
#   every seed by 40k frames. The first quick grid (action repeat 8, 50k frames, 2,625 updates, the
#   scaled schedule) left the MLP head at 25-56, below its untrained policy: 3.4x fewer updates than
#   the reference had made by 40k frames. Now 9,000 updates at batch 64, measured at 0.33 s (mlp2),
#   0.55 s (modern4) and 0.54 s (modern4_sn) each on one core (`benchmarks/pixel_speed.py --sections b
#   --algos drqv2 --batches 64 --threads 1`): ~0.9 / 1.4 / 1.4 CPU hours a run, ~7.3 for the 6 runs.
BJORCK = {
    "paper": dict(tasks=None, seeds=tuple(range(10)), frames=500_000, image=84, action_repeat=None, batch_size=None,
                  warmup_steps=None, eval_every_frames=10_000, shadow_size=None, std_schedule="paper"),
    "quick": dict(tasks=("dmc:cartpole-swingup",), table1_tasks=("dmc:cartpole-balance_sparse",), seeds=(0, 1),
                  frames=50_000, image=84, action_repeat=8, batch_size=64, warmup_steps=1_000,
                  eval_every_frames=10_000, shadow_size=256, std_schedule="scaled",
                  table1=dict(frames=40_000, action_repeat=None, warmup_steps=2_000, std_schedule="paper")),
    "smoke": dict(tasks=("dmc:cartpole-swingup",), table1_tasks=("dmc:cartpole-balance_sparse",), seeds=(0,),
                  frames=400, image=32, action_repeat=2, batch_size=None, warmup_steps=None,
                  eval_every_frames=200, shadow_size=256, std_schedule="scaled"),
}
FIG3_TASK = "dmc:cartpole-swingup"  # Fig 3's training dynamics (Sec. 3.4)


def bjorck_preset(profile: str, experiment: str | None = None) -> dict:
    """The profile's scale (BJORCK), with an experiment's own departures (e.g. "table1") applied."""
    preset = {k: v for k, v in BJORCK[profile].items() if not isinstance(v, dict)}
    return {**preset, **BJORCK[profile].get(experiment, {})} if experiment else preset


def bjorck_env(task: str, profile: str, preset: dict | None = None) -> EnvConfig:
    """A task as the profile renders it: 84x84 RGB (or the profile's size), 3 frames, the benchmark's
    action repeat (2) unless the profile (`preset`, default `bjorck_preset(profile)`) sets one, and
    the profile's episode cap."""
    from .. import envs

    preset = preset or bjorck_preset(profile)
    kwargs = {"height": preset["image"], "width": preset["image"]}
    if preset["shadow_size"] is not None:
        kwargs["shadow_size"] = preset["shadow_size"]
    env = envs.pixel_env(task, **kwargs)
    if preset["action_repeat"] is not None:
        env = dataclasses.replace(env, action_repeat=preset["action_repeat"])
    cap = profiles.EPISODE_CAP[profile]
    return dataclasses.replace(env, max_episode_steps=cap) if cap is not None else env


def bjorck_sweep(name: str, profile: str, algo: str, heads: Sequence[str], tasks: Sequence[str],
                 seeds: Sequence[int] | None = None, frames: int | None = None, description: str = "",
                 preset: dict | None = None, **budget_overrides: Any) -> Sweep:
    """Every (task, head preset, seed) of one experiment: `algo`'s paper settings (DrQ-v2's per task)
    with the head preset, the profile's scale (`preset`, default `bjorck_preset(profile)`) and
    `budget_overrides`."""
    preset = preset or bjorck_preset(profile)
    seeds = nbparams.int_list(seeds, "seeds", minimum=0) or preset["seeds"]
    frames = nbparams.integer(frames, "frames") or preset["frames"]
    configs = []
    for task in tasks:
        env = bjorck_env(task, profile, preset)
        steps = max(frames // env.action_repeat, 1)
        overrides = dict(total_steps=steps, eval_every=max(preset["eval_every_frames"] // env.action_repeat, 1))
        if profile == "paper":  # the agents' own replays: DrQ 100k, DrQ-v2 1M (holds every step here)
            overrides["replay_size"] = 100_000 if algo == "drq" else min(steps, 1_000_000)
        if preset["warmup_steps"] is not None:
            overrides["warmup_steps"] = preset["warmup_steps"]
        budget = profiles.budget(profile, algo, **{**overrides, **budget_overrides})
        agent_overrides = profiles.agent_overrides(profile, algo)
        if preset["batch_size"] is not None:
            agent_overrides["batch_size"] = preset["batch_size"]
        for head in heads:
            agent = pixel_agent(algo, head, env_id=task, **agent_overrides)
            if algo == "drqv2" and preset["std_schedule"] == "scaled":
                agent = _scaled_std_schedule(agent, steps, task)
            configs += [RunConfig(env=env, agent=agent, budget=budget, seed=s, profile=profile) for s in seeds]
    return Sweep(name=name, profile=profile, configs=tuple(configs),
                 axes={"task": tuple(tasks), "heads": tuple(heads), "seed": seeds, "frames": frames, "algo": algo},
                 description=description)


def _scaled_std_schedule(agent: AgentConfig, steps: int, task: str) -> AgentConfig:
    """DrQ-v2's exploration schedule shortened to the same share of this run's agent steps as it
    takes of the paper's run (`BJORCK["paper"]` frames at the task's paper action repeat)."""
    paper_steps = BJORCK["paper"]["frames"] // bjorck_env(task, "paper").action_repeat
    std_steps = max(1, round(agent.drqv2.std_steps * steps / paper_steps))
    return dataclasses.replace(agent, drqv2=dataclasses.replace(agent.drqv2, std_steps=std_steps))


def _tasks(tasks: Any, profile: str, paper_tasks: Sequence[str], key: str = "tasks") -> tuple[str, ...]:
    from ..dmc import PREFIX, suite_tasks

    valid = [f"{PREFIX}{domain}-{task}" for domain, names in suite_tasks().items() for task in names]
    chosen = nbparams.str_list(tasks, "tasks", valid)
    return chosen or BJORCK[profile].get(key) or tuple(paper_tasks)


def _heads(heads: Any, default: Sequence[str]) -> tuple[str, ...]:
    return nbparams.str_list(heads, "heads", HEAD_PRESETS) or tuple(default)


def bjorck_fig1_modern(profile: str = "smoke", tasks: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                       heads: Sequence[str] | None = None, frames: int | None = None, **budget_overrides: Any) -> Sweep:
    """Fig 1: DrQ with the modern heads (4 blocks critic, 2 actor) against its MLP, 15 tasks."""
    return _drq_grid(bjorck_fig1_modern, "bjorck2021_fig1_modern", ("mlp2", "modern4"), profile, tasks, seeds,
                     heads, frames, budget_overrides, "DrQ: modern heads vs the 2-layer MLP")


def bjorck_fig2_depth(profile: str = "smoke", tasks: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                      heads: Sequence[str] | None = None, frames: int | None = None, **budget_overrides: Any) -> Sweep:
    """Fig 2: DrQ with MLP heads of 2 and of 4 hidden layers (width 1024), 15 tasks."""
    return _drq_grid(bjorck_fig2_depth, "bjorck2021_fig2_depth", ("mlp2", "mlp4"), profile, tasks, seeds,
                     heads, frames, budget_overrides, "DrQ: MLP heads with 2 vs 4 hidden layers")


def bjorck_fig3_dynamics(profile: str = "smoke", tasks: Sequence[str] | None = None,
                         seeds: Sequence[int] | None = None, heads: Sequence[str] | None = None,
                         frames: int | None = None, **budget_overrides: Any) -> Sweep:
    """Fig 3: training dynamics (critic loss, return, actor and critic gradient norms) of DrQ with the
    small MLP and the deep modern heads on cartpole swingup."""
    return _drq_grid(bjorck_fig3_dynamics, "bjorck2021_fig3_dynamics", ("mlp2", "modern4"), profile,
                     tasks or (FIG3_TASK,), seeds, heads, frames, budget_overrides,
                     "DrQ on cartpole swingup: training dynamics of the MLP and modern heads")


def bjorck_fig4_sn(profile: str = "smoke", tasks: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                   heads: Sequence[str] | None = None, frames: int | None = None, **budget_overrides: Any) -> Sweep:
    """Fig 4: DrQ with the deep modern heads without and with spectral normalization, 15 tasks."""
    return _drq_grid(bjorck_fig4_sn, "bjorck2021_fig4_sn", ("modern4", "modern4_sn"), profile, tasks, seeds,
                     heads, frames, budget_overrides, "DrQ: modern heads without vs with spectral normalization")


def bjorck_table2(profile: str = "smoke", tasks: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                  heads: Sequence[str] | None = None, frames: int | None = None, **budget_overrides: Any) -> Sweep:
    """Table 2: DrQ with its MLP against modern + SN heads at 500k frames, 15 tasks (Dreamer: published only)."""
    return _drq_grid(bjorck_table2, "bjorck2021_table2", ("mlp2", "modern4_sn"), profile, tasks, seeds,
                     heads, frames, budget_overrides, "DrQ: MLP vs modern + SN heads")


def bjorck_appendix_a(profile: str = "smoke", tasks: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                      heads: Sequence[str] | None = None, frames: int | None = None, **budget_overrides: Any) -> Sweep:
    """Appendix A: spectral normalization on the 4-hidden-layer MLP heads (DrQ)."""
    return _drq_grid(bjorck_appendix_a, "bjorck2021_appendix_a", ("mlp4", "mlp4_sn"), profile, tasks, seeds,
                     heads, frames, budget_overrides, "DrQ: 4-layer MLP heads without vs with spectral normalization")


def bjorck_table1_drqv2(profile: str = "smoke", tasks: Sequence[str] | None = None,
                        seeds: Sequence[int] | None = None, heads: Sequence[str] | None = None,
                        frames: int | None = None, cartpole_sparse: str = "balance_sparse",
                        **budget_overrides: Any) -> Sweep:
    """Table 1: DrQ-v2 with MLP, modern and modern + SN heads on five tasks at 500k frames."""
    from ..reference import bjorck2021_table1

    profile = nbparams.profile(profile)
    check_overrides(bjorck_table1_drqv2, budget_overrides)
    paper_tasks = tuple(dict.fromkeys(bjorck2021_table1(cartpole_sparse)["task"]))
    return bjorck_sweep("bjorck2021_table1_drqv2", profile, "drqv2",
                        _heads(heads, ("mlp2", "modern4", "modern4_sn")),
                        _tasks(tasks, profile, paper_tasks, key="table1_tasks"), seeds, frames,
                        "DrQ-v2: MLP, modern and modern + SN heads", preset=bjorck_preset(profile, "table1"),
                        **budget_overrides)


def _drq_grid(experiment, name: str, default_heads: Sequence[str], profile: str, tasks, seeds, heads, frames,
              budget_overrides: dict, description: str) -> Sweep:
    from ..reference import BJORCK_TASKS

    profile = nbparams.profile(profile)
    check_overrides(experiment, budget_overrides)
    return bjorck_sweep(name, profile, "drq", _heads(heads, default_heads), _tasks(tasks, profile, BJORCK_TASKS),
                        seeds, frames, description, **budget_overrides)


BJORCK_EXPERIMENTS = {"bjorck_fig1_modern": bjorck_fig1_modern, "bjorck_fig2_depth": bjorck_fig2_depth,
                      "bjorck_fig3_dynamics": bjorck_fig3_dynamics, "bjorck_fig4_sn": bjorck_fig4_sn,
                      "bjorck_table1_drqv2": bjorck_table1_drqv2, "bjorck_table2": bjorck_table2,
                      "bjorck_appendix_a": bjorck_appendix_a}
