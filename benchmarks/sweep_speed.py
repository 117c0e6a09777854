"""Runs per hour of a sweep of small runs: serial vs `--jobs N` local processes vs Ray tasks.

Each mode trains the same grid (SAC on Pendulum-v1, `--units` x 2 MLPs, `--steps` steps, one run per
seed) into its own fresh temporary store, so nothing is cached between modes, and the wall clock
covers everything a user waits for: process or Ray start-up, environment creation, training,
evaluation and writing the store. Every mode uses one torch thread per run, so `jobs` runs use
`jobs` cores.

    .venv/bin/python benchmarks/sweep_speed.py                        # serial, jobs 2, ray jobs 2
    .venv/bin/python benchmarks/sweep_speed.py --runs 8 --jobs 1 2 4 --no-ray

Timings are only meaningful on an otherwise idle machine; "other load" is the share of the CPUs
used by processes other than this one while a mode ran, which for the parallel modes includes the
sweep's own worker processes (so ~100 % there means both cores were busy with runs).

Measured here (2 AMD EPYC cores, the machine otherwise idle), 8 runs x 4,000 steps: serial 496
runs/hour, 2 local processes 911 (1.84x), local Ray 2 tasks 717 (1.44x; Ray's start-up, ~8 s, is
in the wall clock). With 4 runs x 2,000 steps: 975, 1495 (1.54x), 881 (0.90x).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

from update_speed import OtherCpuLoad  # same directory

from rlcore.config import RunConfig
from rlcore.sweep import grid, run_sweep


def configs(runs: int, steps: int, units: int) -> list[RunConfig]:
    base = RunConfig().replace(**{
        "env.id": "Pendulum-v1", "budget.total_steps": steps, "budget.warmup_steps": steps // 10,
        "budget.eval_every": steps // 2, "budget.eval_episodes": 2, "budget.log_every": 100,
        "budget.replay_size": steps, "agent.actor.width": units, "agent.critic.width": units,
        "budget.checkpoint_every": steps, "budget.td_targets_samples": 0, "budget.srank_samples": 0})
    return grid(base, {"seed": list(range(runs))})


def measure(label: str, cfgs: list[RunConfig], jobs: int, backend: str) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="sweep-speed-") as root:
        load = OtherCpuLoad()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the serial mode runs in this process: one thread, as each job has
        t0 = time.perf_counter()
        try:
            rows = run_sweep(cfgs, root, progress=False, jobs=jobs, backend=backend, threads=1)
        finally:
            torch.set_num_threads(threads)
        wall = time.perf_counter() - t0
        other = load.share()
    ok = int((rows["state"] == "finished").sum())
    return [label, str(jobs), f"{ok}/{len(cfgs)}", f"{wall:.1f}", f"{len(cfgs) / wall * 3600:.0f}",
            "-" if other is None else f"{other * 100:.0f} %"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=6)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--jobs", type=int, nargs="+", default=[2])
    p.add_argument("--no-ray", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    cfgs = configs(args.runs, args.steps, args.units)
    print(f"# {args.runs} runs of SAC {args.units}x2 on Pendulum-v1, {args.steps} steps each; "
          f"{os.cpu_count()} CPUs; one torch thread per run")
    rows = [measure("serial", cfgs, 1, "local")]
    rows += [measure("local processes", cfgs, j, "local") for j in args.jobs if j > 1]
    if not args.no_ray:
        rows += [measure("ray (local)", cfgs, j, "ray") for j in args.jobs]
    header = ["mode", "jobs", "finished", "wall s", "runs/hour", "other load"]
    base = float(rows[0][3])
    header.append("speed-up")
    rows = [r + [f"{base / float(r[3]):.2f}x"] for r in rows]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))


if __name__ == "__main__":
    sys.exit(main())
