"""Ota, Jha, Kanezaki 2021 as config grids: the size, activation, connectivity, OFENet, Ape-X,
task and ablation experiments, scaled by profile."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from .. import nbparams, profiles
from ..config import (ACTIVATIONS, BACKENDS, CRITIC_LOSSES, NET_KINDS, AgentConfig, BudgetConfig, CollectConfig,
                      ConfigError, EnvConfig, NetConfig, OFENetConfig, RunConfig)
from .base import Sweep, check_env, check_overrides, profile_steps


# The paper's Ant-v2 (111-dim observation incl. contact forces, Ota A.2) is gone from gymnasium;
# Ant-v4 with use_contact_forces=True has the same 111-dim observation and 8-dim action.
OTA_ANT = EnvConfig("Ant-v4", {"use_contact_forces": True})

# Ota et al. 2021, Fig 1a / 3a / 4: SAC on Ant, units x layers of both actor and critic MLPs.
SIZE_SWEEP = {
    "paper": dict(units=(128, 256, 512, 1024, 2048), layers=(1, 2, 4, 8, 16), seeds=(0, 1, 2, 3, 4),
                  fixed_units=256, fixed_layers=2),
    "quick": dict(units=(64, 128, 256, 512), layers=(1, 2, 4, 8), seeds=(0, 1),
                  fixed_units=256, fixed_layers=2, total_steps=30_000),
    "smoke": dict(units=(32, 64), layers=(1, 2), seeds=(0,), fixed_units=32, fixed_layers=2),
}

# Loss-landscape grids per profile (Ota A.3 / Li et al.: 51 x 51 over [-1, 1]^2) and how many of the
# stored transitions enter J_Q (Ota: all training transitions; we use a seeded sample).
LANDSCAPE = {
    "paper": dict(points=51, max_transitions=10_000, hessian_iterations=50),
    "quick": dict(points=25, max_transitions=5_000, hessian_iterations=30),
    "smoke": dict(points=9, max_transitions=500, hessian_iterations=10),
}


def deepest_and_widest(sweep: Sweep) -> dict[str, RunConfig]:
    """The two runs whose Q-networks Fig 1b / 3b show: the deepest at the fixed width and the widest
    at the fixed depth, first seed."""
    units, layers = sweep.axes["agent.critic.width"], sweep.axes["agent.critic.depth"]
    seed = sweep.axes["seed"][0]
    pick = lambda w, d: next(c for c in sweep.configs
                             if c.agent.critic.width == w and c.agent.critic.depth == d and c.seed == seed)
    return {"deepest": pick(sweep.axes["fixed_units"], max(layers)),
            "widest": pick(max(units), sweep.axes["fixed_layers"])}


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
    profile = nbparams.profile(profile)
    check_overrides(ota_size_sweep, budget_overrides)
    preset = dict(SIZE_SWEEP[profile])
    units = nbparams.int_list(units, "units") or preset["units"]
    layers = nbparams.int_list(layers, "layers") or preset["layers"]
    seeds = nbparams.int_list(seeds, "seeds", minimum=0) or preset["seeds"]
    critic_loss = nbparams.choice(critic_loss, "critic_loss", CRITIC_LOSSES)
    profile_steps(total_steps, preset, budget_overrides)
    budget = profiles.budget(profile, "sac", **budget_overrides)

    env = ota_env(env, profile)
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


# ---- Ota et al. 2021 "ours": OFENet features + wide MLP-DenseNet actor and critic -----------------

# OFENet 2020 setting (Ota et al. 2020): 240 units over 6 or 8 DenseNet layers per task. Hopper 6
# and Humanoid 8 are MERL's gin files; HalfCheetah 8 and Walker2d 6 come from a derivative repo
# keeping those gins (RL-SPF); Ant 6 only from a PyTorch port's rule (8 for HalfCheetah and
# Humanoid, 6 otherwise) -- no official Ant file was found.
OFENET_2020_LAYERS = {"Hopper": 6, "Walker2d": 6, "HalfCheetah": 8, "Humanoid": 8, "Ant": 6}


def ofenet_2020(env_id: str, **overrides: Any) -> OFENetConfig:
    """The 2020 OFENet for an environment: 240 units, per-task layers, no target network."""
    name = env_id.split("-")[0]
    layers = OFENET_2020_LAYERS.get(name, 6)
    return OFENetConfig(**{"enabled": True, "layers": layers, "total_units": 240, "target_network": False,
                           **overrides})


def ota_ours_agent(algo: str = "sac", width: int = 2048, depth: int = 2, activation: str = "swish",
                   ofenet_units: int | None = 2048, ofenet_layers: int = 8, pretrain_steps: int = 10_000,
                   critic_loss: str = "huber") -> AgentConfig:
    """Ota et al. 2021's agent: OFENet (8 DenseNet layers, `ofenet_units` in total; None: no OFENet)
    feeding a `depth` x `width` MLP-DenseNet actor and critic with Swish. BatchNorm in the DenseNet
    for TD3 only ("we omit BN for SAC", Sec. 3.3); Huber critic loss (A.1)."""
    net = NetConfig(kind="densenet", width=width, depth=depth, activation=activation,
                    norm="batchnorm" if algo == "td3" else "auto")
    ofenet = (OFENetConfig(enabled=True, layers=ofenet_layers, total_units=ofenet_units,
                           pretrain_steps=pretrain_steps) if ofenet_units else OFENetConfig())
    return AgentConfig(algo=algo, actor=net, critic=net, ofenet=ofenet, critic_loss=critic_loss)


def ota2021_table2() -> "pd.DataFrame":
    """Ota Table 2 rebuilt from our modules, beside the published numbers, row by row.

    "ours": SAC with OFENet (8 x 256 = 2048 units) and a DenseNet actor/critic of 2 x 2048 units on
    Ant (111-dim observation, 8-dim action); "original": SAC with 256 x 2 MLPs. The published "SAC"
    rows are the policy network, and its output layer is one 8-unit head (the mean); our actor's
    log-std head, the critics and OFENet's state-action stack are in `parameter_table` but not in
    the published table.
    """
    import pandas as pd

    from ..agents import make_agent
    from ..envs import ObsSpec
    from ..nets import parameter_table
    from ..reference import ota2021_table2 as published

    agents = {"ours": ota_ours_agent("sac"), "original": AgentConfig(algo="sac")}
    rename = {"actor": "SAC"}
    rows = []
    for name, cfg in agents.items():
        table = parameter_table(make_agent(cfg, ObsSpec.flat(111), 8, env_id=OTA_ANT.id))
        table = table[table["network"].isin(["OFENet z_s", "actor"])]
        table = table[table["layer"] != "output layer (log_std)"]
        table = table.assign(agent=name, network=table["network"].replace(rename),
                             layer=table["layer"].replace({"output layer (mean)": "output layer"}))
        rows.append(table)
    ours = pd.concat(rows)[["agent", "network", "layer", "input_units", "output_units", "parameters"]]
    merged = published().merge(ours, on=["agent", "network", "layer"], how="outer",
                               suffixes=("_paper", "_ours"), validate="one_to_one")
    merged["match"] = ((merged["input_units_paper"] == merged["input_units_ours"])
                       & (merged["output_units_paper"] == merged["output_units_ours"])
                       & (merged["parameters_paper"] == merged["parameters_ours"]))
    return merged


# Fig 13 (Appendix B.1): SAC "ours" with Swish vs ReLU in the actor and critic, on Ant.
ACTIVATION_SWEEP = {
    "paper": dict(width=2048, ofenet_units=2048, seeds=(0, 1, 2, 3, 4)),
    "quick": dict(width=256, ofenet_units=256, seeds=(0, 1), total_steps=30_000),
    "smoke": dict(width=32, ofenet_units=32, ofenet_layers=2, seeds=(0,)),
}


def ota_activation_sweep(profile: str = "smoke", env: EnvConfig | str | None = None,
                         activations: Sequence[str] = ("swish", "relu"), seeds: Sequence[int] | None = None,
                         width: int | None = None, ofenet_units: int | None = None,
                         total_steps: int | None = None, **budget_overrides: Any) -> Sweep:
    """Fig 13: the activation of the DenseNet actor and critic (OFENet keeps Swish, as in the paper)."""
    profile = nbparams.profile(profile)
    check_overrides(ota_activation_sweep, budget_overrides)
    preset = dict(ACTIVATION_SWEEP[profile])
    activations = nbparams.str_list(activations, "activations", ACTIVATIONS) or ("swish", "relu")
    width = nbparams.integer(width, "width") or preset["width"]
    ofenet_units = nbparams.integer(ofenet_units, "ofenet_units") or preset["ofenet_units"]
    ofenet_layers = preset.get("ofenet_layers", 8)
    seeds = nbparams.int_list(seeds, "seeds", minimum=0) or preset["seeds"]
    profile_steps(total_steps, preset, budget_overrides)
    budget = profiles.budget(profile, "sac", **budget_overrides)
    env = ota_env(env, profile)
    configs = tuple(
        RunConfig(env=env, agent=ota_ours_agent("sac", width=width, activation=act, ofenet_units=ofenet_units,
                                                ofenet_layers=ofenet_layers,
                                                pretrain_steps=min(10_000, budget.warmup_steps)),
                  budget=budget, seed=s, profile=profile)
        for act in activations for s in seeds)
    return Sweep(name="ota2021_fig13_activation", profile=profile, configs=configs,
                 axes={"agent.critic.activation": tuple(activations), "seed": seeds},
                 description=f"SAC (ours): OFENet {ofenet_units} units + DenseNet 2 x {width}, Swish vs ReLU")


# Fig 14 (Appendix B.2): loss landscapes of the deeper (16 x 256) and wider (2 x 2048) SAC
# Q-networks trained on HalfCheetah for 1M steps.
FIG14 = {
    "paper": dict(deep=(256, 16), wide=(2048, 2)),
    "quick": dict(deep=(256, 8), wide=(512, 2), total_steps=30_000),
    "smoke": dict(deep=(32, 3), wide=(128, 1)),
}


def ota_fig14_runs(profile: str = "smoke", env: EnvConfig | str = "HalfCheetah-v4", seed: int = 0,
                   total_steps: int | None = None, **budget_overrides: Any) -> Sweep:
    profile = nbparams.profile(profile)
    check_overrides(ota_fig14_runs, budget_overrides)
    preset = FIG14[profile]
    seed = nbparams.integer(seed, "seed", minimum=0)
    seed = 0 if seed is None else seed
    profile_steps(total_steps, preset, budget_overrides)
    budget = profiles.budget(profile, "sac", **budget_overrides)
    env = ota_env(env, profile)
    configs = tuple(RunConfig(env=env, agent=ota_agent("sac", w, d), budget=budget, seed=seed, profile=profile)
                    for w, d in (preset["deep"], preset["wide"]))
    return Sweep(name="ota2021_fig14_landscapes", profile=profile, configs=configs,
                 axes={"deep": preset["deep"], "wide": preset["wide"], "seed": (seed,)},
                 description="SAC on HalfCheetah, deeper vs wider MLP Q-networks (units, layers)")


# Fig 5: connectivity (MLP / MLP-ResNet / MLP-DenseNet / D2RL) at S and L units, SAC on Ant, 2 layers.
CONNECTIVITY = {
    "paper": dict(sizes={"S": 128, "L": 2048}, seeds=(0, 1, 2, 3, 4)),
    "quick": dict(sizes={"S": 128, "L": 512}, seeds=(0, 1), total_steps=30_000),
    "smoke": dict(sizes={"S": 16, "L": 32}, seeds=(0,)),
}
# Ota A.2: Swish for MLP-ResNet and MLP-DenseNet; MLP and D2RL keep their original ReLU.
PAPER_ACTIVATION = {"mlp": "relu", "d2rl": "relu", "resnet": "swish", "densenet": "swish"}


def ota_connectivity_sweep(profile: str = "smoke", env: EnvConfig | str | None = None,
                           kinds: Sequence[str] = ("mlp", "resnet", "densenet", "d2rl"),
                           sizes: dict[str, int] | None = None, seeds: Sequence[int] | None = None,
                           depth: int = 2, activation: str | None = None, total_steps: int | None = None,
                           **budget_overrides: Any) -> Sweep:
    """Fig 5: return and effective rank per connectivity; `activation=None` is A.2's per-kind choice."""
    profile = nbparams.profile(profile)
    check_overrides(ota_connectivity_sweep, budget_overrides)
    preset = CONNECTIVITY[profile]
    kinds = nbparams.str_list(kinds, "kinds", NET_KINDS) or ("mlp", "resnet", "densenet", "d2rl")
    sizes = nbparams.int_map(sizes, "sizes") or dict(preset["sizes"])
    seeds = nbparams.int_list(seeds, "seeds", minimum=0) or preset["seeds"]
    depth = nbparams.integer(depth, "depth") or 2
    activation = None if activation is None else nbparams.choice(activation, "activation", ACTIVATIONS)
    profile_steps(total_steps, preset, budget_overrides)
    budget = profiles.budget(profile, "sac", **budget_overrides)
    env = ota_env(env, profile)
    configs = []
    for kind in kinds:
        net_activation = activation or PAPER_ACTIVATION.get(kind, "relu")
        for width in sizes.values():
            net = NetConfig(kind=kind, width=width, depth=depth, activation=net_activation)
            agent = AgentConfig(algo="sac", actor=net, critic=net, critic_loss="huber")
            configs += [RunConfig(env=env, agent=agent, budget=budget, seed=s, profile=profile) for s in seeds]
    return Sweep(name="ota2021_fig05_connectivity", profile=profile, configs=tuple(configs),
                 axes={"agent.critic.kind": tuple(kinds), "sizes": sizes, "seed": seeds},
                 description=f"SAC on Ant, {depth}-layer actor and critic, connectivity x size")


# Fig 6 (with / without OFENet at S/M/L) and Fig 7 (SAC units x OFENet units); the baseline (no
# OFENet) is the DenseNet agent of Fig 5. Fig 7's OFENet axis is not printed in the text; we use the
# same S/M/L units, plus "none" (0) for the baseline column.
OFENET_GRID = {
    "paper": dict(sizes={"S": 256, "M": 1024, "L": 2048}, seeds=(0, 1, 2, 3, 4), ofenet_layers=8),
    "quick": dict(sizes={"S": 64, "M": 128, "L": 256}, seeds=(0, 1), ofenet_layers=8, total_steps=30_000),
    "smoke": dict(sizes={"S": 16, "M": 32}, seeds=(0,), ofenet_layers=2),
}


def ota_ofenet_grid(profile: str = "smoke", env: EnvConfig | str | None = None,
                    sac_units: Sequence[int] | None = None, ofenet_units: Sequence[int] | None = None,
                    seeds: Sequence[int] | None = None, total_steps: int | None = None,
                    **budget_overrides: Any) -> Sweep:
    """Fig 7's grid (and Fig 6 as its diagonal plus the no-OFENet column): SAC (ours) units x OFENet
    units, 0 meaning no OFENet."""
    profile = nbparams.profile(profile)
    check_overrides(ota_ofenet_grid, budget_overrides)
    preset = OFENET_GRID[profile]
    sizes = tuple(preset["sizes"].values())
    sac_units = nbparams.int_list(sac_units, "sac_units") or sizes
    ofenet_units = nbparams.int_list(ofenet_units, "ofenet_units", minimum=0) or (0, *sizes)
    seeds = nbparams.int_list(seeds, "seeds", minimum=0) or preset["seeds"]
    profile_steps(total_steps, preset, budget_overrides)
    budget = profiles.budget(profile, "sac", **budget_overrides)
    env = ota_env(env, profile)
    configs = tuple(
        RunConfig(env=env, agent=ota_ours_agent("sac", width=w, ofenet_units=u or None,
                                                ofenet_layers=preset["ofenet_layers"],
                                                pretrain_steps=min(10_000, budget.warmup_steps)),
                  budget=budget, seed=s, profile=profile)
        for w in sac_units for u in ofenet_units for s in seeds)
    return Sweep(name="ota2021_fig06_fig07_ofenet", profile=profile, configs=configs,
                 axes={"agent.critic.width": sac_units, "agent.ofenet.total_units": ofenet_units,
                       "seed": seeds, "sizes": preset["sizes"]},
                 description="SAC (ours, DenseNet 2 layers, Swish) x OFENet units (0: no OFENet)")


# Fig 8 (SAC units x OFENet units with Ape-X-like collection) and Fig 12 (with / without Ape-X at
# S/M/L). Paper: N_core = 2 cores x N_env = 32 environments (A.1), no cap on environment steps per
# gradient step, prioritized replay as in Ape-X (`collect.replay` switches it). On a 2-core machine
# the workers would starve the learner, so smoke and quick cap
# the ratio (`collect.max_env_per_grad`) and use fewer environments.
APEX = {
    "paper": dict(workers=2, envs_per_worker=32, max_env_per_grad=0.0),
    "quick": dict(workers=2, envs_per_worker=8, max_env_per_grad=4.0),
    "smoke": dict(workers=2, envs_per_worker=2, max_env_per_grad=4.0),
}


def apex_collect(profile: str, **overrides: Any) -> CollectConfig:
    return CollectConfig(**{"mode": "apex", "replay": "prioritized", **APEX[profile], **overrides})


def ota_apex_grid(profile: str = "smoke", env: EnvConfig | str | None = None,
                  sac_units: Sequence[int] | None = None, ofenet_units: Sequence[int] | None = None,
                  seeds: Sequence[int] | None = None, total_steps: int | None = None, apex: bool = True,
                  backend: str = "local", **budget_overrides: Any) -> Sweep:
    """Fig 8's grid (Fig 7's agents with Ape-X-like collection); `apex=False` gives Fig 7's runs.
    With Ape-X, budget.total_steps counts gradient steps. `smoke` runs one SAC size with and without
    OFENet (worker processes take seconds to start)."""
    profile = nbparams.profile(profile)
    check_overrides(ota_apex_grid, budget_overrides)
    apex = nbparams.boolean(apex, "apex")
    backend = nbparams.choice(backend, "backend", BACKENDS)
    if profile == "smoke" and sac_units is None and ofenet_units is None:
        sac_units, ofenet_units = (16,), (0, 16)
    sweep = ota_ofenet_grid(profile, env=env, sac_units=sac_units, ofenet_units=ofenet_units, seeds=seeds,
                            total_steps=total_steps, **budget_overrides)
    if not apex:
        return sweep
    collect = apex_collect(profile, backend=backend)
    configs = tuple(dataclasses.replace(c, collect=collect) for c in sweep.configs)
    return Sweep(name="ota2021_fig08_apex_grid", profile=profile, configs=configs,
                 axes={**sweep.axes, "collect": (collect.workers, collect.envs_per_worker)},
                 description=f"{sweep.description}, Ape-X-like collection "
                             f"({collect.workers} cores x {collect.envs_per_worker} envs)")


# ---- Fig 9 + Table 1: five MuJoCo tasks x SAC / TD3 x Ours / OFENet / Original (Ota 4.2) ------------

# The paper's -v2 tasks are gone from gymnasium; v4 keeps their observation and action sizes (Hopper
# 11/3, Walker2d 17/6, HalfCheetah 17/6, Ant 111/8 with contact forces, Humanoid 376/17) and reward
# definitions. Humanoid-v4 departs from the paper's Humanoid-v2 in one known way: under mujoco-py
# >= 2.0 (what 2021 code ran) v2's 84 contact-force entries (cfrc_ext) were all zero; v4 reads them
# from the mujoco bindings, so they are not. v5 changes the observation (348 dims), so v4 it is.
OTA_TASKS = {
    "Hopper": EnvConfig("Hopper-v4"),
    "Walker2d": EnvConfig("Walker2d-v4"),
    "HalfCheetah": EnvConfig("HalfCheetah-v4"),
    "Ant": OTA_ANT,
    "Humanoid": EnvConfig("Humanoid-v4"),
}
TASK_METHODS = ("ours", "ofenet", "original")

# `width` / `ofenet_units`: "ours" (OFENet of 8 layers + DenseNet 2 x width, Ape-X). `ofenet_2020_units`:
# the "OFENet" baseline's OFENet (240 in the 2020 paper, over the per-task layers), MLP heads 256 x 2.
# quick: 2 seeds x 10k steps (gradient steps for Ape-X), ~6 CPU hours measured by benchmarks/sweep_cost.py.
TASKS_GRID = {
    "paper": dict(tasks=tuple(OTA_TASKS), width=2048, ofenet_units=2048, ofenet_2020_units=240, heads=256,
                  seeds=(0, 1, 2, 3, 4)),
    "quick": dict(tasks=tuple(OTA_TASKS), width=256, ofenet_units=256, ofenet_2020_units=240, heads=256,
                  seeds=(0, 1), total_steps=10_000),
    "smoke": dict(tasks=("Hopper", "HalfCheetah"), width=32, ofenet_units=32, ofenet_2020_units=24, heads=32,
                  seeds=(0,), total_steps=600),
}


def ota_task_method(method: str, algo: str, env: EnvConfig, profile: str, width: int, ofenet_units: int,
                    ofenet_2020_units: int, heads: int, budget: BudgetConfig,
                    ofenet_layers: int = 8) -> tuple[AgentConfig, CollectConfig]:
    """One cell of Table 1: the agent and the collection of `method` for `algo` on `env`.

    ours: OFENet (`ofenet_layers` DenseNet layers, `ofenet_units` in all) + MLP-DenseNet 2 x `width`,
          Swish, BatchNorm in the DenseNet for TD3 only (Ota 3.3, A.1), Ape-X-like collection.
    ofenet: the 2020 setting (Ota et al. 2020): OFENet of `ofenet_2020_units` over the per-task layers,
          no target OFENet, and the original algorithm's MLP heads (`heads` x 2, ReLU), serial.
    original: `heads` x 2 MLPs, ReLU (SAC's 256 x 2; TD3 256 x 2 as its authors' code, see README), serial.
    All three use Ota's Huber critic loss (A.1)."""
    pretrain = min(10_000, budget.warmup_steps)
    if method == "ours":
        return (ota_ours_agent(algo, width=width, ofenet_units=ofenet_units, ofenet_layers=ofenet_layers,
                               pretrain_steps=pretrain), apex_collect(profile))
    if method == "ofenet":
        agent = ota_agent(algo, heads, 2)
        ofenet = ofenet_2020(env.id, total_units=ofenet_2020_units, pretrain_steps=pretrain)
        return dataclasses.replace(agent, ofenet=ofenet), CollectConfig()
    if method == "original":
        return ota_agent(algo, heads, 2), CollectConfig()
    raise ConfigError("methods", method, f"one of {', '.join(map(repr, TASK_METHODS))}")


def ota_fig09_table1_tasks(profile: str = "smoke", tasks: Sequence[str] | None = None,
                           algos: Sequence[str] = ("sac", "td3"), methods: Sequence[str] = TASK_METHODS,
                           seeds: Sequence[int] | None = None, total_steps: int | None = None,
                           width: int | None = None, ofenet_units: int | None = None,
                           **budget_overrides: Any) -> Sweep:
    """Fig 9 (training curves) and Table 1 (highest average return): `tasks` (names of OTA_TASKS) x
    `algos` x `methods`. budget.total_steps counts environment steps for the serial methods and
    gradient steps for "ours" (Ape-X), as the paper's x-axis (gradient steps) does for both."""
    profile = nbparams.profile(profile)
    check_overrides(ota_fig09_table1_tasks, budget_overrides)
    preset = dict(TASKS_GRID[profile])
    tasks = nbparams.str_list(tasks, "tasks", tuple(OTA_TASKS)) or preset["tasks"]
    algos = nbparams.str_list(algos, "algos", ("sac", "td3")) or ("sac", "td3")
    methods = nbparams.str_list(methods, "methods", TASK_METHODS) or TASK_METHODS
    seeds = nbparams.int_list(seeds, "seeds", minimum=0) or preset["seeds"]
    width = nbparams.integer(width, "width") or preset["width"]
    ofenet_units = nbparams.integer(ofenet_units, "ofenet_units") or preset["ofenet_units"]
    profile_steps(total_steps, preset, budget_overrides)
    configs = []
    for task in tasks:
        env = ota_env(OTA_TASKS[task], profile)
        for algo in algos:
            budget = profiles.budget(profile, algo, **budget_overrides)
            for method in methods:
                agent, collect = ota_task_method(method, algo, env, profile, width, ofenet_units,
                                                 preset["ofenet_2020_units"], preset["heads"], budget,
                                                 ofenet_layers=8 if profile != "smoke" else 2)
                configs += [RunConfig(env=env, agent=agent, budget=budget, collect=collect, seed=s, profile=profile)
                            for s in seeds]
    return Sweep(name="ota2021_fig09_table1_tasks", profile=profile, configs=tuple(configs),
                 axes={"task": tuple(tasks), "algo": tuple(algos), "method": tuple(methods), "seed": seeds,
                       "width": width, "ofenet_units": ofenet_units},
                 description=f"{len(tasks)} MuJoCo tasks x {'/'.join(algos)} x {'/'.join(methods)}; "
                             f"ours = OFENet {ofenet_units} + DenseNet 2 x {width} + Ape-X")


def task_method(cfg: RunConfig) -> tuple[str, str, str]:
    """(task, algo, method) of a config built by `ota_fig09_table1_tasks`, read back from the config."""
    task = next(name for name, env in OTA_TASKS.items() if env.id == cfg.env.id)
    if cfg.collect.mode == "apex":
        method = "ours"
    elif cfg.agent.ofenet.enabled:
        method = "ofenet"
    else:
        method = "original"
    return task, cfg.agent.algo, method


# ---- Fig 10: the ablation of SAC "ours" on Ant (Ota 4.3) ----------------------------------------------

ABLATION_VARIANTS = ("Full", "w/o Ape-X", "w/o OFENet", "w/o larger NN", "w/o DenseNet", "sac")
# width: the SAC and OFENet units of Full (paper 2048); small: "w/o larger NN" units (paper 256).
ABLATION = {
    "paper": dict(width=2048, small=256, seeds=(0, 1, 2, 3, 4)),
    "quick": dict(width=256, small=32, seeds=(0, 1), total_steps=30_000),
    "smoke": dict(width=32, small=16, seeds=(0,), ofenet_layers=2, total_steps=600),
}


def ota_ablation_variant(variant: str, profile: str, width: int, small: int, budget: BudgetConfig,
                         ofenet_layers: int = 8) -> tuple[AgentConfig, CollectConfig]:
    """Ota 4.3's derived methods of SAC on Ant.

    Full: OFENet (`width` units) + MLP-DenseNet 2 x `width` + Ape-X. w/o Ape-X: serial collection.
    w/o OFENet: no OFENet. w/o larger NN: `small` units for both OFENet and SAC. w/o DenseNet: a
    plain 2 x `width` MLP (Swish, as the DenseNet it replaces) on OFENet's features. sac: the
    original SAC (256 x 2 MLPs, ReLU, serial; Huber loss as every Ota preset)."""
    pretrain = min(10_000, budget.warmup_steps)
    full = ota_ours_agent("sac", width=width, ofenet_units=width, ofenet_layers=ofenet_layers, pretrain_steps=pretrain)
    apex = apex_collect(profile)
    if variant == "Full":
        return full, apex
    if variant == "w/o Ape-X":
        return full, CollectConfig()
    if variant == "w/o OFENet":
        return ota_ours_agent("sac", width=width, ofenet_units=None), apex
    if variant == "w/o larger NN":
        return ota_ours_agent("sac", width=small, ofenet_units=small, ofenet_layers=ofenet_layers,
                              pretrain_steps=pretrain), apex
    if variant == "w/o DenseNet":
        mlp = dataclasses.replace(full.critic, kind="mlp")
        return dataclasses.replace(full, actor=mlp, critic=mlp), apex
    if variant == "sac":
        return ota_agent("sac", 256, 2), CollectConfig()
    raise ConfigError("variants", variant, f"one of {', '.join(map(repr, ABLATION_VARIANTS))}")


def ota_fig10_ablation(profile: str = "smoke", env: EnvConfig | str | None = None,
                       variants: Sequence[str] = ABLATION_VARIANTS, seeds: Sequence[int] | None = None,
                       width: int | None = None, small: int | None = None, total_steps: int | None = None,
                       **budget_overrides: Any) -> Sweep:
    """Fig 10: SAC on Ant, Full and each element removed. budget.total_steps counts gradient steps
    for the Ape-X variants and environment steps for the serial ones (Fig 10's axis: gradient steps)."""
    profile = nbparams.profile(profile)
    check_overrides(ota_fig10_ablation, budget_overrides)
    preset = dict(ABLATION[profile])
    variants = nbparams.str_list(variants, "variants", ABLATION_VARIANTS) or ABLATION_VARIANTS
    seeds = nbparams.int_list(seeds, "seeds", minimum=0) or preset["seeds"]
    width = nbparams.integer(width, "width") or preset["width"]
    small = nbparams.integer(small, "small") or preset["small"]
    profile_steps(total_steps, preset, budget_overrides)
    budget = profiles.budget(profile, "sac", **budget_overrides)
    env = ota_env(env, profile)
    configs = []
    for variant in variants:
        agent, collect = ota_ablation_variant(variant, profile, width, small, budget, preset.get("ofenet_layers", 8))
        configs += [RunConfig(env=env, agent=agent, budget=budget, collect=collect, seed=s, profile=profile)
                    for s in seeds]
    return Sweep(name="ota2021_fig10_ablation", profile=profile, configs=tuple(configs),
                 axes={"variant": tuple(variants), "seed": seeds, "width": width, "small": small},
                 description=f"SAC on Ant: Full (OFENet {width} + DenseNet 2 x {width} + Ape-X) and ablations")


def ablation_variant(cfg: RunConfig, width: int, small: int) -> str:
    """Which of ABLATION_VARIANTS a config built by `ota_fig10_ablation` is."""
    agent, apex = cfg.agent, cfg.collect.mode == "apex"
    if not apex:
        return "w/o Ape-X" if agent.ofenet.enabled else "sac"
    if not agent.ofenet.enabled:
        return "w/o OFENet"
    if agent.critic.kind == "mlp":
        return "w/o DenseNet"
    return "w/o larger NN" if agent.critic.width == small else "Full"


def ota_env(env: EnvConfig | str | None, profile: str) -> EnvConfig:
    """The experiment's environment (Ota's Ant by default) with the profile's episode cap, built
    once here so that an id or kwargs that cannot be built fail before any run starts."""
    if not isinstance(env, EnvConfig):
        env = nbparams.env_id(env, "env")
    if env is None:
        env = OTA_ANT
    elif isinstance(env, str):
        env = OTA_ANT if env == OTA_ANT.id else EnvConfig(env)
    cap = profiles.EPISODE_CAP[profile]
    if cap is not None and env.max_episode_steps is None:
        env = EnvConfig(env.id, env.kwargs_dict, max_episode_steps=cap)
    check_env(env)
    return env


