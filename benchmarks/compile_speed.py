"""Does `torch.compile` pay for the small-network update? Eager vs compiled `agent.update`, interleaved.

Two copies of the same agent (SAC or TD3, 256x2 MLPs, batch 256, Ant-v4 dims: obs 111, action 8)
start from the same seed; one keeps rlcore's eager `agent.update`, the other runs it through
`torch.compile` (`--modes`: "default", "max-autotune-no-cudagraphs", and on CUDA "reduce-overhead",
which adds CUDA graphs). Every round times `--iters` updates of each, on the same pre-sampled
batches, alternating, so both see the same moment of machine load. Printed per mode: compile time
(the first updates, recompiles included), Dynamo's graph count and graph breaks of one update
(`torch._dynamo.explain`: optimizer steps and `requires_grad_` toggles break the graph), ms per
update (median and range over rounds), the eager/compiled ratio, and the largest parameter
difference after the warm-up updates, both copies drawing the same noise (the compiled path must
compute the same numbers up to float reassociation; over hundreds of updates such differences
grow, as between two CPUs).

    .venv/bin/python benchmarks/compile_speed.py                       # CPU (+ CUDA), SAC, ~2 min idle
    .venv/bin/python benchmarks/compile_speed.py --algo td3 --rounds 3 --iters 50

Measured here (2 AMD EPYC cores, SAC only, torch 2.13 CPU, gcc 12, with `fallback_random`; the
machine at 7-15 % other load): eager/compiled = 0.75-0.85, i.e. compiling made the update 18-33 %
slower: "default" 14.4 vs 12.2 ms and 14.1 vs 11.3 ms, "max-autotune-no-cudagraphs" 13.8 vs 10.4
ms; 6 graphs, 5 breaks; parameters after 6 updates equal to 8e-7. On HalfCheetah dims (obs 17), in
throwaway experiments: compiling only the critic and actor losses (each forward + backward one
graph, optimizer steps eager) gave 7.5-8.7 vs 6.5-7.7 ms; inductor's `cpp_wrapper` changed
nothing, one inductor thread made it worse (10-12.6 ms). The profile says why: the matmuls (bmm/baddbmm at ~175 GFLOP/s, this machine's
peak) are ~4.2 ms of the eager update and stay external calls when compiled, while inductor's
generated C++ kernels for the pointwise work and reductions took ~2.2 ms per update, plus ~0.1 ms
of guard checks per compiled call: no less than eager's ~2.3 ms of non-matmul ops. So rlcore has
no compile switch for CPU (a slower path to maintain); on a GPU, where per-op launch cost
dominates a 256x2 update, "reduce-overhead" (CUDA graphs) is the mode this script measures there.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch._inductor.config

from update_speed import OtherCpuLoad, build_agent, sampled_batches, synchronizer  # same directory

from rlcore.config import AgentConfig, NetConfig

OBS_DIM, ACTION_DIM = 111, 8  # Ant-v4 with contact forces (Ota et al. 2021, Table 2)


def make_pair(algo: str, device: torch.device, seed: int):
    """Two identical agents (same seed, same initial weights)."""
    cfg = AgentConfig(algo=algo, actor=NetConfig(width=256, depth=2), critic=NetConfig(width=256, depth=2))
    agents = []
    for _ in range(2):
        torch.manual_seed(seed)
        agents.append(build_agent(cfg, OBS_DIM, ACTION_DIM, device, env_id=None)[0])
    return agents


def timed(update, batches, start: int, iters: int, sync, seed: int) -> float:
    """ms per update over `iters` updates (step indices from `start`, so TD3's delay cycles on),
    from a generator seeded with `seed`, so both copies draw the same policy noise."""
    torch.manual_seed(seed)
    sync()
    t0 = time.perf_counter()
    for i in range(iters):
        update(batches[(start + i) % len(batches)], start + i)
    sync()
    return (time.perf_counter() - t0) / iters * 1e3


def max_param_difference(a, b) -> float:
    return max((pa - pb).abs().max().item() for name in a.modules
               for pa, pb in zip(a.modules[name].parameters(), b.modules[name].parameters()))


def graph_breaks(agent, batch) -> tuple[int, int]:
    """Graphs and graph breaks Dynamo makes of one update (on a throwaway copy's state: explain runs it)."""
    explained = torch._dynamo.explain(agent.update)(batch, 0)
    return explained.graph_count, explained.graph_break_count


def bench_mode(mode: str, device: torch.device, args, batches) -> dict:
    sync = synchronizer(device)
    eager, compiled = make_pair(args.algo, device, args.seed)
    compiled_update = torch.compile(compiled.update, mode=None if mode == "default" else mode)
    t0 = time.perf_counter()
    for i in range(args.warmup):  # compiles, and recompiles while the step index changes TD3's branch
        for update in (compiled_update, eager.update):
            torch.manual_seed(args.seed + i)
            update(batches[i % len(batches)], i)
    sync()
    compile_s = time.perf_counter() - t0
    difference = max_param_difference(eager, compiled)  # after the same warm-up updates, same noise
    ours, theirs, step = [], [], args.warmup
    for r in range(args.rounds):
        ours.append(timed(eager.update, batches, step, args.iters, sync, args.seed + step))
        theirs.append(timed(compiled_update, batches, step, args.iters, sync, args.seed + step))
        step += args.iters
    probe = make_pair(args.algo, device, args.seed)[0]
    graphs, breaks = graph_breaks(probe, batches[0])
    torch._dynamo.reset()
    ratios = sorted(e / c for e, c in zip(ours, theirs))
    return {"device": device.type, "mode": mode, "compile s": f"{compile_s:.1f}", "graphs/breaks": f"{graphs}/{breaks}",
            "eager ms": f"{statistics.median(ours):.2f} ({min(ours):.2f}-{max(ours):.2f})",
            "compiled ms": f"{statistics.median(theirs):.2f} ({min(theirs):.2f}-{max(theirs):.2f})",
            "eager/compiled": f"{statistics.median(ratios):.2f}", f"max |dparam| after {args.warmup}": f"{difference:.1e}"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algo", choices=["sac", "td3"], default="sac")
    p.add_argument("--modes", nargs="+", default=None,
                   help="torch.compile modes (default: default, max-autotune-no-cudagraphs; + reduce-overhead on CUDA)")
    p.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--iters", type=int, default=150, help="updates per timed chunk")
    p.add_argument("--warmup", type=int, default=6, help="untimed updates first (compilation happens here)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for field in ("rounds", "iters", "warmup", "threads"):
        if getattr(args, field) < 1:
            p.error(f"--{field} must be >= 1, got {getattr(args, field)}")
    return args


def main(argv=None) -> None:
    import pandas as pd

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    # Compiled random ops draw from the eager generator, so the two copies stay comparable.
    torch._inductor.config.fallback_random = True
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows, load = [], OtherCpuLoad()
    for name in devices:
        if name.startswith("cuda") and not torch.cuda.is_available():
            sys.exit(f"--devices: {name!r} is not available here (valid: cpu)")
        device = torch.device(name)
        modes = args.modes or ["default", "max-autotune-no-cudagraphs"] + (["reduce-overhead"] if device.type == "cuda" else [])
        batches = sampled_batches(OBS_DIM, ACTION_DIM, 10_000, 256, 32, device, np.random.default_rng(args.seed))
        for mode in modes:
            rows.append(bench_mode(mode, device, args, batches))
            print(f"  {name} {mode}: done", file=sys.stderr, flush=True)
    busy = load.share()
    print(f"{args.algo.upper()} 256x2, batch 256, Ant-v4 dims; torch {torch.__version__}, {args.threads} threads, "
          f"{platform.processor() or platform.machine()}; {args.rounds} rounds x {args.iters} updates"
          + ("" if busy is None else f"; other processes used {100 * busy:.0f}% of the CPUs meanwhile"))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    os.environ.setdefault("MUJOCO_GL", "egl")
    main()
