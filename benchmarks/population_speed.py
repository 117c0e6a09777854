"""Seeds per hour: N seeds of one configuration trained one after another vs as one population.

For each N in `--seeds`, the same N configs (SAC `--units` x 2 on `--env`, `--steps` agent steps of
which `--warmup` random, no evaluation but the first and last, no in-training analysis) are trained
twice into fresh temporary stores: sequentially with `rlcore.train.train`, then together with
`rlcore.population.train_population` (which gives the same per-seed results). The wall clock covers
what a user waits for: environment and agent construction, training, evaluation and the store.
Sequential and population measurements of one N run back to back; `--repeats` alternates them.

    .venv/bin/python benchmarks/population_speed.py                         # N = 1, 2, 5; 1 thread
    .venv/bin/python benchmarks/population_speed.py --threads 2 --seeds 1 5 --steps 1500
    .venv/bin/python benchmarks/population_speed.py --device cuda --units 256 --steps 3000

Timings only mean something on an otherwise idle machine ("other load" is printed per row).

Measured here (2 AMD EPYC cores, nearly idle, 1200 steps per seed): 1 thread, N = 1 / 2 / 5:
sequential 192 / 218 / 231 seeds per hour, population 213 / 252 / 300 (1.11x / 1.15x / 1.30x; N = 1
is the same solo path both ways, so ~10 % is run-to-run noise); 2 threads, N = 5: 286 vs 471 (1.65x).
On a CPU the update is mostly matmul time, which stacking does not reduce; what it removes is the
per-op cost paid once per seed (see cleanrl_speed.py), more of which there is with 2 threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from update_speed import OtherCpuLoad  # same directory

from rlcore.config import RunConfig
from rlcore.population import train_population
from rlcore.train import train


def configs(n: int, args) -> list[RunConfig]:
    base = RunConfig(device=args.device).replace(**{
        "env.id": args.env, "agent.algo": "sac", "budget.total_steps": args.steps,
        "budget.warmup_steps": args.warmup, "budget.eval_every": args.steps, "budget.eval_episodes": 1,
        "budget.replay_size": args.steps, "budget.checkpoint_every": args.steps, "budget.log_every": 1000,
        "agent.actor.width": args.units, "agent.critic.width": args.units, "budget.grad_norm_every": 0,
        "budget.srank_samples": 0, "budget.td_targets_samples": 0})
    return [base.replace(seed=s) for s in range(n)]


def timed(work) -> tuple[float, float | None]:
    load = OtherCpuLoad()
    t0 = time.perf_counter()
    work()
    return time.perf_counter() - t0, load.share()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 5], help="population sizes N")
    ap.add_argument("--env", default="HalfCheetah-v4")
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as a sweep's runs)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("MALLOC_MMAP_MAX_", "0")

    print(f"# SAC {args.units}x2 on {args.env}, {args.steps} agent steps per seed ({args.warmup} random), "
          f"batch 256, torch {torch.__version__}, {args.threads} thread(s), device {args.device}")
    print(f"{'N':>3}  {'mode':<11}{'wall s':>9}{'seeds/h':>10}{'speed-up':>10}{'other load':>12}")
    for n in args.seeds:
        walls = {"sequential": [], "population": []}
        loads = {"sequential": [], "population": []}
        for _ in range(args.repeats):
            for mode in ("sequential", "population"):
                with tempfile.TemporaryDirectory(prefix="population-speed-") as root:
                    cfgs = configs(n, args)
                    work = ((lambda: [train(c, root, progress=False) for c in cfgs]) if mode == "sequential"
                            else (lambda: train_population(cfgs, root, progress=False)))
                    wall, other = timed(work)
                walls[mode].append(wall)
                loads[mode].append(other)
        base = statistics.median(walls["sequential"])
        for mode in ("sequential", "population"):
            wall = statistics.median(walls[mode])
            other = [x for x in loads[mode] if x is not None]
            print(f"{n:>3}  {mode:<11}{wall:>9.1f}{n / wall * 3600:>10.0f}{base / wall:>9.2f}x"
                  f"{(f'{statistics.mean(other) * 100:.0f} %' if other else '-'):>12}")


if __name__ == "__main__":
    main()
