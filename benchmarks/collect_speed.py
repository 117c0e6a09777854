"""Collection throughput: transitions per second for serial collection (one environment, one policy
call per step) and for the Ape-X-like collector with the local (processes) and Ray backends at several
N_core x N_env. The learner only drains the queue here (no gradient steps), so the numbers are the
collectors' ceilings; the policy is SAC's 256x2 actor acting with exploration.

    .venv/bin/python benchmarks/collect_speed.py                     # Ant-v4, local + ray, ~5 min
    .venv/bin/python benchmarks/collect_speed.py --backends local --cores 1 2 4 8 --envs 1 8 32

Reading it on a larger machine: throughput should grow with N_core until the cores are used up
(each worker is one process busy on one core) and with N_env until the policy's batched forward
pass and the per-message cost stop mattering; the learner needs a core (or a GPU) of its own.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from rlcore.agents import make_agent
from rlcore.collect import Collector
from rlcore.config import AgentConfig, CollectConfig, EnvConfig, RunConfig
from rlcore.envs import env_spec, make_env


def serial_rate(env_cfg: EnvConfig, seconds: float) -> float:
    env = make_env(env_cfg, seed=0)
    spec, action_dim = env_spec(env)
    agent = make_agent(AgentConfig(), spec, action_dim)
    obs, _ = env.reset(seed=0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        obs, _, terminated, truncated, _ = env.step(agent.act(obs, 0, explore=True))
        if terminated or truncated:
            obs, _ = env.reset()
        n += 1
    return n / (time.perf_counter() - t0)


def collector_rate(env_cfg: EnvConfig, backend: str, cores: int, envs: int, seconds: float) -> tuple[float, float]:
    cfg = RunConfig(env=env_cfg, agent=AgentConfig(),
                    collect=CollectConfig(mode="apex", backend=backend, workers=cores, envs_per_worker=envs))
    env = make_env(env_cfg)
    spec, action_dim = env_spec(env)
    agent = make_agent(cfg.agent, spec, action_dim, env_id=env_cfg.id)
    state = {k: m.state_dict() for k, m in agent.acting_modules().items()}
    t_start = time.perf_counter()
    collector = Collector(cfg, state)
    try:
        collector.start()
        collector.publish(state, 1)  # version 1: workers act with the policy, not at random
        # Wait for the first message from every worker (start-up: spawn, imports, env creation).
        seen = set()
        while len(seen) < cores and time.perf_counter() - t_start < 120:
            for chunk in collector.drain(timeout=0.5):
                seen.add(chunk.worker)
        startup = time.perf_counter() - t_start
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for chunk in collector.drain(max_chunks=64, timeout=0.05):
                n += len(chunk.reward)
        return n / (time.perf_counter() - t0), startup
    finally:
        collector.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="Ant-v4")
    p.add_argument("--backends", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    p.add_argument("--cores", nargs="+", type=int, default=[1, 2])
    p.add_argument("--envs", nargs="+", type=int, default=[1, 8, 32])
    p.add_argument("--seconds", type=float, default=8.0, help="measurement time per row")
    args = p.parse_args()
    torch.set_num_threads(1)
    env_cfg = EnvConfig(args.env, {"use_contact_forces": True} if args.env == "Ant-v4" else {})
    print(f"{args.env}, {os.cpu_count()} CPUs, policy SAC 256x2 actor, {args.seconds:g} s per row\n")
    header = f"{'collection':<12}{'N_core':>7}{'N_env':>7}{'transitions/s':>15}{'vs serial':>11}{'start-up s':>12}"
    print(header)
    print("-" * len(header))
    base = serial_rate(env_cfg, args.seconds)
    print(f"{'serial':<12}{1:>7}{1:>7}{base:>15.0f}{1.0:>11.2f}{'-':>12}")
    for backend in args.backends:
        for cores in args.cores:
            for envs in args.envs:
                rate, startup = collector_rate(env_cfg, backend, cores, envs, args.seconds)
                print(f"{backend:<12}{cores:>7}{envs:>7}{rate:>15.0f}{rate / base:>11.2f}{startup:>12.1f}", flush=True)
    if "ray" in args.backends:
        import ray

        if ray.is_initialized():
            ray.shutdown()


if __name__ == "__main__":
    main()
