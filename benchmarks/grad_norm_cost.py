"""What logging gradient norms costs the update loop (Bjorck et al. 2021, Fig 3 instrument).

The trainer asks the agent for the global L2 norms of the actor and critic gradients every
`budget.grad_norm_every` updates (`agent.update(batch, step, grad_norms=True)`, asked for by the `GradientNorms` hook). This script times the
same agent updating on the same pre-sampled batches with the gradient norms off, on every update,
and at the default interval, interleaving the three settings round by round so that drifts in the
machine's speed hit all of them alike. It prints ms per update and the overhead against "off".

    .venv/bin/python benchmarks/grad_norm_cost.py                 # SAC and TD3 256x2, ~1 min on 2 cores
    .venv/bin/python benchmarks/grad_norm_cost.py --width 1024 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from rlcore.agents import make_agent
from rlcore.config import AgentConfig, BudgetConfig, NetConfig
from rlcore.envs import ObsSpec
from rlcore.replay import ReplayBuffer


def timed_updates(agent, batches, every: int, start: int) -> float:
    """Seconds per update over `batches`, asking for gradient norms as the GradientNorms hook would."""
    t0 = time.perf_counter()
    for i, batch in enumerate(batches):
        n = start + i + 1
        agent.update(batch, n, grad_norms=every > 0 and n % every == 0)
    return (time.perf_counter() - t0) / len(batches)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algos", nargs="+", default=["sac", "td3"], choices=["sac", "td3"])
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--obs-dim", type=int, default=111, help="default 111 (Ant-v4 with contact forces)")
    p.add_argument("--action-dim", type=int, default=8)
    p.add_argument("--updates", type=int, default=200, help="updates per setting per round")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()

    default_every = BudgetConfig.__dataclass_fields__["grad_norm_every"].default
    settings = {"off": 0, "every update": 1, f"every {default_every}": default_every}
    rng = np.random.default_rng(0)
    replay = ReplayBuffer(ObsSpec.flat(args.obs_dim), args.action_dim, 10_000, "cpu")
    replay.add(rng.standard_normal((10_000, args.obs_dim)), rng.uniform(-1, 1, (10_000, args.action_dim)),
               rng.standard_normal(10_000), rng.standard_normal((10_000, args.obs_dim)), rng.random(10_000) < 0.01)
    torch.manual_seed(0)
    batches = [replay.sample(256) for _ in range(args.updates)]

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.width}x{args.depth} MLPs, "
          f"obs {args.obs_dim}, action {args.action_dim}, batch 256; {args.rounds} rounds x "
          f"{args.updates} updates per setting, interleaved")
    print(f"{'algo':5} {'grad norms':14} {'ms/update p50':>14} {'min':>8} {'max':>8} {'overhead':>9}")
    for algo in args.algos:
        spec = NetConfig(kind="mlp", width=args.width, depth=args.depth)
        agent = make_agent(AgentConfig(algo=algo, actor=spec, critic=spec), ObsSpec.flat(args.obs_dim), args.action_dim, "cpu")
        timed_updates(agent, batches[:50], 0, 0)  # warm-up
        times = {name: [] for name in settings}
        for _ in range(args.rounds):
            for name, every in settings.items():
                times[name].append(timed_updates(agent, batches, every, agent.updates) * 1e3)
        base = statistics.median(times["off"])
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{algo:5} {name:14} {med:14.3f} {min(ts):8.3f} {max(ts):8.3f} {100 * (med / base - 1):+8.1f}%")


if __name__ == "__main__":
    main()
