"""CPU hours a paper experiment will take at a profile, from update and environment times measured here.

For each distinct agent of the experiment's grid (config x observation/action sizes) the real agent
is updated on pre-sampled batches (`update_speed.Updater`: OFENet's auxiliary step + the agent's
update, TD3 over whole policy-delay cycles), and each environment is stepped with random actions.
A run then costs

    updates x (ms per update)  +  OFENet pretraining steps x (ms per features step)
    + learner-side env steps x (ms per env step)  +  evaluation steps x (ms per env step + ms per act)

where updates = (total_steps - warmup_steps) / update_every x updates_per_step for serial runs and
total_steps (gradient steps) for Ape-X ones, whose workers step environments on other cores (their
CPU time is listed apart, at the cap `collect.max_env_per_grad` environment steps per update).
Evaluation steps are an upper bound (every episode runs to its time limit).

    .venv/bin/python benchmarks/sweep_cost.py --experiment ota_fig09_table1_tasks --profile quick
    .venv/bin/python benchmarks/sweep_cost.py --experiment ota_fig10_ablation --profile quick --iters 10

It prints one row per distinct agent and the total. Timings are only as good as the machine is
idle: the table shows the share of the CPUs other processes used while it measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections import defaultdict

import numpy as np
import torch

from update_speed import OtherCpuLoad, Updater, build_agent, sampled_batches  # same directory

from rlcore.config import RunConfig
from rlcore.device import heap_allocator
from rlcore.envs import env_spec_of, make_env
from rlcore.experiments import get_experiment


def updates_of(cfg: RunConfig) -> int:
    b = cfg.budget
    if cfg.collect.mode == "apex":
        return b.total_steps
    return max(0, b.total_steps - b.warmup_steps) // b.update_every * b.updates_per_step


def eval_steps_of(cfg: RunConfig, episode_steps: int) -> int:
    b = cfg.budget
    return (b.total_steps // b.eval_every + 1) * b.eval_episodes * episode_steps


def time_updates(cfg: RunConfig, obs, action_dim: int, iters: int, seed: int) -> tuple[float, float]:
    """Median seconds per update (whole update, features step alone) for `cfg`'s agent (`obs`: the
    flat observation size, or the ObsSpec of images)."""
    torch.manual_seed(seed)
    agent, _ = build_agent(cfg.agent, obs, action_dim, torch.device("cpu"), cfg.env.id)
    batches = sampled_batches(obs, action_dim, 4 * cfg.agent.batch_size, cfg.agent.batch_size, 8,
                              torch.device("cpu"), np.random.default_rng(seed))
    updater = Updater(agent, batches, cfg.agent.td3.policy_delay if cfg.agent.algo == "td3" else 1,
                      torch.device("cpu"))
    updater.timed_cycle()  # warm-up
    samples = [updater.timed_cycle() for _ in range(max(1, iters // updater.period))]
    return (statistics.median(f + a for f, a in samples), statistics.median(f for f, _ in samples))


def time_env(cfg: RunConfig, steps: int, seed: int) -> tuple[float, int]:
    """Seconds per random-action env step, and the episode's time limit."""
    env = make_env(cfg.env)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    t0, first_episode, length = time.perf_counter(), None, 0
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        length += 1
        if terminated or truncated:
            first_episode = first_episode or (length if truncated else None)  # a time limit, in agent steps
            env.reset()
            length = 0
    per_step = (time.perf_counter() - t0) / steps
    limit = first_episode or cfg.env.max_episode_steps or (env.spec.max_episode_steps if env.spec else 1000) or 1000
    env.close()
    return per_step, limit


def main(argv=None) -> None:
    heap_allocator()  # as every training run does (large blocks stay in glibc's heap)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--experiment", required=True)
    p.add_argument("--profile", default="quick")
    p.add_argument("--iters", type=int, default=20, help="timed updates per distinct agent")
    p.add_argument("--env-steps", type=int, default=2000, help="timed env steps per environment")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    sweep = get_experiment(args.experiment)(args.profile)
    load = OtherCpuLoad()
    groups: dict[tuple, list[RunConfig]] = defaultdict(list)
    for cfg in sweep.configs:  # seeds share an agent; so do serial and Ape-X runs of the same agent
        groups[(cfg.env.id, cfg.agent)].append(cfg)
    env_times = {}
    rows, totals = [], defaultdict(float)
    for (env_id, agent), cfgs in groups.items():
        cfg = cfgs[0]
        if env_id not in env_times:
            env_times[env_id] = time_env(cfg, args.env_steps, args.seed)
        env_s, episode_steps = env_times[env_id]
        obs_spec, action_dim = env_spec_of(cfg.env)
        obs = obs_spec if cfg.agent.pixels else int(np.prod(obs_spec.shape))
        update_s, feat_s = time_updates(cfg, obs, action_dim, args.iters, args.seed)
        hours = defaultdict(float)
        for c in cfgs:
            apex = c.collect.mode == "apex"
            updates = updates_of(c)
            pretrain = c.agent.ofenet.pretrain_steps if c.agent.ofenet.enabled else 0
            hours["updates"] += (updates * update_s + pretrain * feat_s) / 3600
            learner_env = 0 if apex else c.budget.total_steps
            hours["env"] += (learner_env + eval_steps_of(c, episode_steps)) * env_s / 3600
            if apex:
                cap = c.collect.max_env_per_grad or 0
                hours["workers"] += (updates * cap + c.budget.warmup_steps) * env_s / 3600
        for k, v in hours.items():
            totals[k] += v
        label = (f"{agent.algo} {agent.critic.kind} {agent.critic.depth}x{agent.critic.width}"
                 + (" + SN" if agent.critic.spectral_norm else "")
                 + (f" + OFENet {agent.ofenet.total_units}/{agent.ofenet.layers}L" if agent.ofenet.enabled else ""))
        rows.append([env_id, label, str(len(cfgs)), f"{update_s * 1e3:.1f}", f"{env_s * 1e3:.2f}",
                     f"{hours['updates']:.2f}", f"{hours['env']:.2f}", f"{hours['workers']:.2f}"])
    header = ["env", "agent", "runs", "ms/update", "ms/env step", "update h", "env+eval h", "worker h"]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print(f"# {sweep.name} at profile={args.profile}: {len(sweep)} runs; {sweep.budget_line}")
    print(f"# torch threads {torch.get_num_threads()}; other processes used "
          f"{(load.share() or 0) * 100:.0f} % of the CPUs while measuring")
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    learner = totals["updates"] + totals["env"]
    print(f"\nlearner CPU hours (updates + env + evaluation): {learner:.1f}; "
          f"Ape-X worker CPU hours on other cores (upper bound at the cap): {totals['workers']:.1f}")


if __name__ == "__main__":
    sys.exit(main())
