"""Training steps per second of rlcore's SAC against CleanRL's loop, interleaved in one process.

rlcore's real trainer (`rlcore.train.Trainer`: environment, replay, agent update, logging) trains
SAC 256x2 on `--env`; a hook hands the process to the CleanRL-shaped loop (`cleanrl_sac.py`) every
`--chunk` updates, so the two alternate chunk by chunk on the same cores, threads and moment of
machine load, and each chunk is timed on its own. Both run their uniform-random warm-up
(`--warmup` steps) untimed first; the first `--discard` rounds are dropped (allocator, caches).
Printed: steps/s per loop (median, p10, p90 over rounds) and the median of the per-round ratios.

Like for like: both do one critic and (on average) one actor and one temperature update per env
step, batch 256, 256x2 ReLU networks. rlcore's in-training measurements (gradient norms every 10
updates, srank at evaluations, exported TD targets) are switched off unless `--with-analysis`, and
its evaluations fall outside the timed chunks, as CleanRL evaluates nothing while training.

    .venv/bin/python benchmarks/cleanrl_speed.py                   # HalfCheetah-v4, 2 threads, ~2 min idle
    .venv/bin/python benchmarks/cleanrl_speed.py --rounds 4 --chunk 100 --warmup 300   # smoke run
    .venv/bin/python benchmarks/cleanrl_speed.py --agent-option compile=true

Timings only mean something on an otherwise idle machine: "other load" is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

from cleanrl_sac import CleanRLSAC  # same directory
from update_speed import OtherCpuLoad

from rlcore.config import RunConfig
from rlcore.hooks import Hook
from rlcore.train import Trainer


def rlcore_config(env_id: str, total_steps: int, warmup: int, analysis: bool, options: dict) -> RunConfig:
    changes = {"env.id": env_id, "agent.algo": "sac", "budget.total_steps": total_steps,
               "budget.warmup_steps": warmup, "budget.eval_every": total_steps, "budget.eval_episodes": 1,
               "budget.checkpoint_every": total_steps, "budget.replay_size": total_steps}
    if not analysis:
        changes.update({"budget.grad_norm_every": 0, "budget.srank_samples": 0, "budget.td_targets_samples": 0})
    changes.update({f"agent.{k}": v for k, v in options.items()})
    return RunConfig().replace(**changes)


class Interleave(Hook):
    """Every `chunk` rlcore updates: close rlcore's timed chunk, run and time `chunk` CleanRL steps."""

    name = "interleave"

    def __init__(self, other: CleanRLSAC, chunk: int):
        self.other, self.chunk = other, chunk
        self.updates, self.resume = 0, None
        self.ours: list[float] = []
        self.theirs: list[float] = []

    def before_update(self, trainer, step, request):
        self.updates += 1
        if self.updates == 1:  # rlcore's warm-up is over: run CleanRL's, untimed
            self.other.steps(self.other.learning_starts + 1)
            self.resume = time.perf_counter()
            return None
        if (self.updates - 1) % self.chunk:
            return None
        self.ours.append(self.chunk / (time.perf_counter() - self.resume))
        t0 = time.perf_counter()
        self.other.steps(self.chunk)
        self.theirs.append(self.chunk / (time.perf_counter() - t0))
        self.resume = time.perf_counter()
        return None


def _spread(values: list[float]) -> tuple[float, float, float]:
    q = np.percentile(values, [50, 10, 90])
    return float(q[0]), float(q[1]), float(q[2])


def parse_options(items: list[str]) -> dict:
    import json
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"--agent-option {item!r}: expected key=value, e.g. compile=true")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="HalfCheetah-v4")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for both loops (default 2)")
    ap.add_argument("--warmup", type=int, default=1000, help="random steps before updates, each loop")
    ap.add_argument("--chunk", type=int, default=250, help="steps per timed chunk")
    ap.add_argument("--rounds", type=int, default=12, help="timed rounds (one chunk of each loop)")
    ap.add_argument("--discard", type=int, default=1, help="first rounds dropped")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--with-analysis", action="store_true", help="keep rlcore's in-training measurements on")
    ap.add_argument("--agent-option", action="append", default=[], metavar="KEY=VALUE",
                    help="an rlcore agent field, e.g. compile=true (repeatable)")
    args = ap.parse_args(argv)
    options = parse_options(args.agent_option)

    torch.set_num_threads(args.threads)
    os.environ.setdefault("MALLOC_MMAP_MAX_", "0")
    total = args.warmup + args.chunk * (args.rounds + args.discard) + 2
    cfg = rlcore_config(args.env, total, args.warmup, args.with_analysis, options)
    other = CleanRLSAC(args.env, seed=args.seed, learning_starts=args.warmup, buffer_size=total)
    hook = Interleave(other, args.chunk)
    load = OtherCpuLoad()
    with tempfile.TemporaryDirectory(prefix="cleanrl-speed-") as root:
        status = Trainer(cfg.replace(seed=args.seed), root, progress=False, hooks=[hook]).run()
    other_load = load.share()
    if status.get("state") != "finished":
        sys.exit(f"the rlcore run ended {status.get('state')}: {status.get('reason')}")
    ours, theirs = hook.ours[args.discard:], hook.theirs[args.discard:]
    ratios = [a / b for a, b in zip(ours, theirs)]

    print(f"# SAC 256x2, batch 256, {args.env}; {len(ours)} rounds of {args.chunk} steps each loop, interleaved "
          f"after {args.warmup} random steps; torch {torch.__version__}, {args.threads} threads, "
          f"{platform.processor() or platform.machine()} ({os.cpu_count()} CPUs); rlcore agent options: "
          f"{options or 'defaults'}; rlcore analysis hooks {'on' if args.with_analysis else 'off'}")
    print(f"# other processes used {other_load * 100:.0f} % of the CPUs while measuring" if other_load is not None
          else "# other load: unknown")
    print(f"{'loop':<22}{'steps/s median':>16}{'p10':>8}{'p90':>8}{'ms/step':>9}")
    for name, values in (("CleanRL-shaped", theirs), ("rlcore", ours)):
        med, p10, p90 = _spread(values)
        print(f"{name:<22}{med:>16.1f}{p10:>8.1f}{p90:>8.1f}{1000 / med:>9.2f}")
    med, p10, p90 = _spread(ratios)
    print(f"{'ratio rlcore/CleanRL':<22}{med:>16.2f}{p10:>8.2f}{p90:>8.2f}")
    print(f"# per-round ratios: {' '.join(f'{r:.2f}' for r in ratios)}; "
          f"geometric mean {statistics.geometric_mean(ratios):.2f}")


if __name__ == "__main__":
    main()
