"""Pixel agents' speed: rendering environments, DrQ / DrQ-v2 updates, replay size, Bjorck et al.'s
Table 3, and how much of the convolution peak an update reaches.

Sections (`--sections`, default all; each prints one table, with pandas):

  a  env      DeepMind Control from pixels (84 x 84 RGB, 3 frames stacked, `rlcore.envs.pixel_env`):
              agent steps/s and frames/s (= agent steps x action repeat, the papers' x-axis) with
              random actions, at action repeat 2 and 8; beside it the same task on states, so the
              difference is what rendering (one frame per agent step) and stacking cost.
              `--shadow-sizes model 256` adds rows rendered with a smaller shadow map
              (rlcore.dmc's shadow_size; most of a software-GL frame's cost).
  b  update   ms per `agent.update` of DrQ (K = M = 2 shifted views) and DrQ-v2 (one), for each head
              preset (`rlcore.experiments.HEAD_PRESETS`) and batch, on uint8 (B, 9, 84, 84) batches
              of random pixels (speed does not depend on the values). DrQ updates its actor and
              target every 2nd update, so it is timed over whole 2-update cycles, divided. CPU rows
              also show the minor page faults and kernel (sys) time per update.
  c  replay   bytes of a uniform replay (`rlcore.replay.replay_bytes`) per `--capacity` transitions:
              pixels with 3 frames stacked (each frame stored once), the same without frame
              de-duplication, and the tasks' state vectors.
  d  table3   Bjorck et al. 2021, Table 3 (train time / memory at batch 512, act time / memory at
              batch 1) measured for the DrQ agent ("the SAC-based agent of Kostrikov et al. [35]")
              with the mlp2 / mlp4 / modern2 / modern4 heads by `rlcore.analysis.cost.measure_cost`
              (each head in a fresh subprocess; the median of the timed cycles), printed beside the
              published Tesla V100 numbers. Memory: on CUDA
              torch.cuda.max_memory_allocated (everything PyTorch allocated: weights, Adam state,
              batch, activations); on CPU the peak resident set size (VmHWM, reset through
              /proc/self/clear_refs) minus the process's RSS before the agent was built: the same
              things, as the OS sees them, plus allocator slack.
  e  flops    per row of b: the FLOPs of one update (torch.utils.flop_counter: convolutions, their
              backward, and matmuls), its GFLOP/s, and the "conv peak": GFLOP/s of the encoder's
              four convolutions alone (forward + backward, no ReLU, float input, weight gradients
              only for the first layer, as in an update) at the batch the update convolves (DrQ:
              2 x B views, DrQ-v2: B).

    .venv/bin/python benchmarks/pixel_speed.py                              # all sections, default subset (minutes)
    .venv/bin/python benchmarks/pixel_speed.py --sections b e --heads mlp2 modern4 --batches 128 --repeats 2
    .venv/bin/python benchmarks/pixel_speed.py --sections d --devices cuda  # Table 3 on a GPU
    .venv/bin/python benchmarks/pixel_speed.py --sections b --profile       # + where one DrQ update's time goes
    .venv/bin/python benchmarks/pixel_speed.py --sections b --mallopt       # glibc: keep freed memory in the heap

On Linux/glibc every block over 32 MB is a fresh mmap whose pages fault in (and are zeroed by the
kernel) on first touch, and is unmapped on free; a pixel update makes many such tensors, so CPU
rows can spend most of their time in page faults (see "faults/upd" and "sys ms/upd"). `--mallopt`
keeps them in a heap that is never trimmed (the same as starting the process with
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge>; MALLOC_MMAP_MAX_=0 alone still trims the heap).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import platform
import resource
import statistics
import sys
import time

os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from rlcore.analysis.cost import (PIXELS, MeasurementFailed, UpdateCycle, build_agent, measure_cost,  # noqa: E402
                                  random_batch, update_period)
from rlcore.envs import ObsSpec, make_env, pixel_env  # noqa: E402
from rlcore.experiments import HEAD_PRESETS, pixel_agent  # noqa: E402
from rlcore.nets import PixelEncoder  # noqa: E402
from rlcore.replay import replay_bytes  # noqa: E402
from update_speed import OtherCpuLoad, device_name  # noqa: E402

# PIXELS: 3 stacked 84 x 84 RGB frames (rlcore.analysis.cost); random_batch: random uint8 pixels.
build = build_agent  # (algo, heads, batch, action_dim, device, seed=0, spec=PIXELS, **overrides)
SECTIONS = {"a": "env", "b": "update", "c": "replay", "d": "table3", "e": "flops"}
ALGOS = ("drq", "drqv2")
VIEWS = {"drq": 2, "drqv2": 1}  # shifted views per batch that each conv call sees (DrQ's K = M = 2)

# Bjorck, Chen, De Sa, Gomes, Weinberger 2021, "Towards Deeper Deep Reinforcement Learning with
# Spectral Normalization", Table 3: Tesla V100, the SAC-based agent of Kostrikov et al. (DrQ),
# training at batch size 512, mean +- std over 5 runs, as printed there: (mean, std); a cell the
# paper does not give is None and prints "n/a".
BJORCK_TABLE3 = {
    "mlp2":    {"train_mem_gb": ("4.05", "0.0"), "act_mem_mb": ("50.16", "0.0"), "train_ms": ("98.14", "0.15"), "act_ms": ("1.19", "0.09")},
    "mlp4":    {"train_mem_gb": ("4.19", "0.0"), "act_mem_mb": ("93.26", "0.0"), "train_ms": ("104.1", "0.14"), "act_ms": ("1.26", "0.02")},
    "modern2": {"train_mem_gb": ("4.27", "0.0"), "act_mem_mb": ("112.66", "0.0"), "train_ms": ("105.76", "0.23"), "act_ms": ("1.4", "0.1")},
    "modern4": {"train_mem_gb": ("4.73", "0.0"), "act_mem_mb": ("247.04", "0.0"), "train_ms": ("125.21", "0.1"), "act_ms": ("1.35", "0.02")},
}
TABLE3_HEADS = list(BJORCK_TABLE3)


def published(head: str, key: str) -> str:
    cell = BJORCK_TABLE3.get(head, {}).get(key)
    return "n/a" if cell is None else f"{cell[0]} ± {cell[1]}"


# ---- machine ------------------------------------------------------------------------------------
HEAP_MALLOC = False  # set by heap_malloc()


def heap_malloc() -> bool:
    """rlcore's switch to glibc's heap for large blocks (`rlcore.device.heap_allocator`)."""
    global HEAP_MALLOC
    from rlcore.device import heap_allocator

    HEAP_MALLOC = heap_allocator()
    return HEAP_MALLOC


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def print_header(args) -> None:
    idle = OtherCpuLoad()
    time.sleep(1.0)
    busy = idle.share()
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    cuda = (f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
            else "no CUDA device")
    malloc = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
    print(f"machine: {device_name(torch.device('cpu'))}, {os.cpu_count()} CPUs; {cuda}")
    print(f"torch {torch.__version__}, python {platform.python_version()}, threads {torch.get_num_threads()} "
          f"intra-op / {torch.get_num_interop_threads()} inter-op; MUJOCO_GL={os.environ.get('MUJOCO_GL')}; "
          f"malloc env: {malloc or 'none'}; allocator: "
          + ("heap, never trimmed (--mallopt)" if HEAP_MALLOC else "default (large blocks mmapped per allocation)"))
    print(f"load average (1/5/15 min): {load}"
          + ("" if busy is None else f"; other processes used {100 * busy:.0f}% of the CPUs in the last second")
          + ("  WARNING: CPU timings will be slow and noisy" if busy is not None and busy > 0.1 else ""))


def show(title: str, rows: list[dict], notes: str = "") -> None:
    print(f"\n## {title}\n")
    print(pd.DataFrame(rows).to_string(index=False) if rows else "(no rows)")
    if notes:
        print(notes)
    sys.stdout.flush()


def fmt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


# ---- a: environments ----------------------------------------------------------------------------
def env_rate(env_id: str, repeat: int, steps: int, pixels: bool, seed: int = 0, shadow: int | None = None) -> float:
    """Agent steps per second with random actions (resets included when an episode ends)."""
    cfg = dataclasses.replace(pixel_env(env_id, **({} if shadow is None else {"shadow_size": shadow})),
                              action_repeat=repeat)
    env = make_env(cfg, seed=seed) if pixels else make_env(dataclasses.replace(cfg, frame_stack=1), seed=seed, pixels=False)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    for _ in range(3):  # first render: EGL context, shaders
        env.step(env.action_space.sample())
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def section_env(args) -> None:
    rows = []
    shadows = [None if v == "model" else int(v) for v in args.shadow_sizes]
    for env_id, shadow, repeat in itertools.product(args.envs, shadows, args.action_repeats):
        load = OtherCpuLoad()
        px = env_rate(env_id, repeat, args.env_steps, pixels=True, shadow=shadow)
        st = env_rate(env_id, repeat, args.env_steps, pixels=False)
        other = load.share()
        rows.append({"env": env_id, "shadow map": "model's" if shadow is None else shadow, "repeat": repeat,
                     "agent steps/s": fmt(px), "frames/s": fmt(px * repeat),
                     "ms/agent step": fmt(1e3 / px, 2), "states: agent steps/s": fmt(st),
                     "render+stack ms/step": fmt(1e3 / px - 1e3 / st, 2),
                     "% CPU other": "?" if other is None else f"{100 * other:.0f}"})
        print(f"  done env {env_id} x{repeat}", file=sys.stderr, flush=True)
    show("a. DMC from pixels: environment speed (random actions, 84x84, frame stack 3)", rows,
         f"{args.env_steps} agent steps per row; frames = agent steps x action repeat (control steps); one render "
         "per agent step;\nrender+stack = 1/pixel rate - 1/state rate; shadow map: rlcore.dmc's shadow_size "
         "(the model's is 2048; --shadow-sizes)")


# ---- b / e: updates -----------------------------------------------------------------------------
class Updater(UpdateCycle):
    """`rlcore.analysis.cost.UpdateCycle` (whole cycles of `update_period` updates on one batch) that
    also counts page faults and kernel time, and FLOPs."""

    def timed_cycle(self) -> tuple[float, int, float]:
        """Seconds, minor page faults and kernel seconds per update over one cycle."""
        sync(self.device)
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        self.cycle()
        sync(self.device)
        dt, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        return dt / self.period, (r1.ru_minflt - r0.ru_minflt) // self.period, (r1.ru_stime - r0.ru_stime) / self.period

    def counted_cycle(self) -> tuple[float, float, float]:
        """FLOPs per update from torch's FLOP counter: (all, convolution forward, convolution backward)."""
        with FlopCounterMode(display=False) as counter:
            self.cycle()
        counts = {str(op).rsplit(".", 1)[-1]: n for op, n in counter.get_flop_counts().get("Global", {}).items()}
        fwd = sum(n for op, n in counts.items() if "convolution" in op and "backward" not in op)
        bwd = sum(n for op, n in counts.items() if "convolution_backward" in op)
        return counter.get_total_flops() / self.period, fwd / self.period, bwd / self.period


def conv_peak(n: int, device: torch.device, repeats: int) -> dict[str, float]:
    """GFLOP/s of PixelEncoder's four convolutions alone at batch n: forward + backward ("fb"),
    forward without autograd ("fwd"), and the backward alone ("bwd": fb time - fwd time)."""
    torch.manual_seed(0)
    enc = PixelEncoder(PIXELS.shape).to(device)
    convs = nn.Sequential(*[m for m in enc.convs if isinstance(m, nn.Conv2d)])
    x = torch.rand(n, *PIXELS.shape, device=device)  # scaled input: no gradient, as uint8 frames have none
    grad = torch.randn(n, enc.repr_dim, device=device)

    def both():
        convs.zero_grad(set_to_none=True)
        convs(x).flatten(1).backward(grad)

    def forward():
        with torch.no_grad():
            convs(x)

    rates = {}
    with FlopCounterMode(display=False) as counter:
        both()
    fb_flops = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        forward()
    fwd_flops = counter.get_total_flops()
    seconds = {}
    for name, fn in (("fb", both), ("fwd", forward)):
        fn()
        times = []
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times.append(time.perf_counter() - t0)
        seconds[name] = statistics.median(times)
    rates["fb"] = fb_flops / seconds["fb"] / 1e9
    rates["fwd"] = fwd_flops / seconds["fwd"] / 1e9
    rates["bwd"] = (fb_flops - fwd_flops) / max(seconds["fb"] - seconds["fwd"], 1e-9) / 1e9
    return rates


def section_updates(args, devices: list[torch.device]) -> list[dict]:
    results = []
    for device in devices:
        warmup, repeats = iterations(args, device)
        for batch in args.batches or ([128, 512] if device.type == "cuda" else [128]):
            for algo in args.algos:
                for heads in args.heads:
                    agent = build(algo, heads, batch, args.action_dim, device, args.seed)
                    updater = Updater(agent, random_batch(batch, args.action_dim, device, args.seed), device)
                    for _ in range(warmup):
                        updater.cycle()
                    load = OtherCpuLoad()
                    samples = [updater.timed_cycle() for _ in range(repeats)]
                    other = load.share()
                    flops = updater.counted_cycle() if "e" in args.sections else (None, None, None)
                    ms = [1e3 * s for s, _, _ in samples]
                    results.append({"device": device.type, "algo": algo, "heads": heads, "batch": batch,
                                    "n": len(ms) * updater.period, "ms": statistics.median(ms), "ms_min": min(ms),
                                    "ms_max": max(ms), "faults": statistics.median(f for _, f, _ in samples),
                                    "sys_ms": 1e3 * statistics.median(s for _, _, s in samples),
                                    "other": other, "flops": flops[0], "conv_fwd": flops[1], "conv_bwd": flops[2]})
                    print(f"  done update {device.type} {algo} {heads} batch {batch}: {statistics.median(ms):.0f} ms",
                          file=sys.stderr, flush=True)
                    if args.profile and algo == "drq" and not any(r.get("profiled") for r in results):
                        results[-1]["profiled"] = profile_update(updater, f"{device.type} drq {heads} batch {batch}")
                    del agent, updater
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
    rows = [{"device": r["device"], "algo": r["algo"], "heads": r["heads"], "batch": r["batch"], "n": r["n"],
             "ms/update": fmt(r["ms"]), "min": fmt(r["ms_min"]), "max": fmt(r["ms_max"]),
             "updates/s": fmt(1e3 / r["ms"], 2),
             "faults/upd": f"{r['faults']:,.0f}" if r["device"] == "cpu" else "n/a",
             "sys ms/upd": fmt(r["sys_ms"]) if r["device"] == "cpu" else "n/a",
             "% CPU other": "?" if r["other"] is None else f"{100 * r['other']:.0f}"} for r in results]
    show("b. ms per update (random uint8 pixels, action dim %d)" % args.action_dim, rows,
         "n: timed updates (DrQ: whole 2-update cycles); faults/upd: minor page faults (getrusage, CPU rows);\n"
         "sys ms/upd: kernel time (page zeroing); % CPU other: other processes' share of the CPUs meanwhile")
    for r in results:
        if r.get("profiled"):
            print(f"\n{r['profiled']}")
    return results


def section_flops(args, results: list[dict]) -> None:
    peaks, rows = {}, []
    for r in results:
        device, n = torch.device(r["device"]), VIEWS[r["algo"]] * r["batch"]
        if (r["device"], n) not in peaks:
            peaks[r["device"], n] = conv_peak(n, device, max(2, iterations(args, device)[1]))
        peak = peaks[r["device"], n]
        rate = r["flops"] / (r["ms"] / 1e3) / 1e9
        conv_ms = 1e3 * (r["conv_fwd"] / peak["fwd"] + r["conv_bwd"] / peak["bwd"]) / 1e9
        rows.append({"device": r["device"], "algo": r["algo"], "heads": r["heads"], "batch": r["batch"],
                     "GFLOP/update": fmt(r["flops"] / 1e9),
                     "conv %": fmt(100 * (r["conv_fwd"] + r["conv_bwd"]) / r["flops"]),
                     "ms/update": fmt(r["ms"]), "update GFLOP/s": fmt(rate), "conv batch": n,
                     "conv peak GFLOP/s": fmt(peak["fb"]), "update/peak %": fmt(100 * rate / peak["fb"]),
                     "conv fwd/bwd GFLOP/s": f"{peak['fwd']:,.1f} / {peak['bwd']:,.1f}",
                     "conv-bound ms": fmt(conv_ms), "rest ms": fmt(r["ms"] - conv_ms)})
    show("e. share of the convolution peak an update reaches", rows,
         "GFLOP/update: convolutions (forward and backward) + matmuls, torch.utils.flop_counter; conv peak: the encoder's 4\n"
         "convolutions alone, forward + backward at 'conv batch' images (DrQ 2 x B views, DrQ-v2 B), float input, no ReLU;\n"
         "update/peak: update GFLOP/s over it. conv fwd/bwd: the same convolutions forward only (no autograd) and backward\n"
         "alone; conv-bound ms: the update's conv forward and backward FLOPs at those two rates; rest: everything else\n"
         "(matmuls, shifts, uint8->float, ReLU, optimizer, allocation and page faults)")


def iterations(args, device: torch.device) -> tuple[int, int]:
    gpu = device.type == "cuda"
    return (args.warmup if args.warmup is not None else (5 if gpu else 1),
            args.repeats if args.repeats is not None else (30 if gpu else 3))


PROFILE_CATEGORIES = {  # aten op (without aten:: and _backward) -> category
    "conv forward": {"mkldnn_convolution", "convolution", "_convolution", "cudnn_convolution", "conv2d"},
    "conv backward": {"convolution_backward", "mkldnn_convolution_backward"},
    "ReLU (+ backward)": {"relu", "relu_", "clamp_min", "clamp_min_", "threshold", "threshold_backward"},
    "uint8->float, scale": {"copy_", "_to_copy", "to", "div", "div_", "sub", "sub_", "mul", "mul_"},
    "shift: pad, gather": {"replication_pad2d", "index", "index_put_", "randint", "random_", "select", "slice",
                           "repeat", "contiguous", "clone", "unfold", "permute", "arange", "clamp_"},
    "matmuls": {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear"},
    "optimizer": {"_fused_adam_", "lerp_", "_foreach_mul_", "_foreach_add_", "_foreach_lerp_", "addcmul_", "addcdiv_"},
}


def profile_update(updater: Updater, title: str) -> str:
    """Where one cycle's time goes (torch.profiler ops' self time by category), per update."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if updater.device.type == "cuda" else [])
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with profile(activities=activities) as prof:
        updater.cycle()
        sync(updater.device)
    wall, r1 = (time.perf_counter() - t0) / updater.period, resource.getrusage(resource.RUSAGE_SELF)
    per = updater.period
    totals: dict[str, float] = {c: 0.0 for c in [*PROFILE_CATEGORIES, "other"]}
    ops: dict[str, float] = {}
    for e in prof.key_averages():
        base = e.key.split("#")[0].removeprefix("aten::")
        cat = next((c for c, names in PROFILE_CATEGORIES.items() if base in names), None) or next(
            (c for c, names in PROFILE_CATEGORIES.items() if base.removesuffix("_backward") in names), "other")
        ms = (e.self_device_time_total if updater.device.type == "cuda" else e.self_cpu_time_total) / 1e3 / per
        totals[cat] += ms
        ops[base] = ops.get(base, 0.0) + ms
    profiled = sum(totals.values()) or 1.0
    rows = [{"category": c, "ms/update": fmt(ms), "%": fmt(100 * ms / profiled)} for c, ms in totals.items()]
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:12]
    faults, stime = (r1.ru_minflt - r0.ru_minflt) / per, (r1.ru_stime - r0.ru_stime) / per
    return "\n".join([f"profile {title}: ops' self {'CUDA' if updater.device.type == 'cuda' else 'CPU'} time "
                      f"{profiled:.1f} ms per update, wall {1e3 * wall:.1f} ms under the profiler; "
                      f"{faults:,.0f} minor page faults and {1e3 * stime:.0f} ms kernel time per update",
                      pd.DataFrame(rows).to_string(index=False),
                      "top ops (ms/update): " + ", ".join(f"{k} {v:.1f}" for k, v in top)])


# ---- c: replay ----------------------------------------------------------------------------------
def section_replay(args) -> None:
    rows, gib = [], 2 ** 30
    for env_id in args.envs:
        env = make_env(dataclasses.replace(pixel_env(env_id), frame_stack=1), pixels=False)
        state_dim, action_dim = int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))
        env.close()
        for label, spec in [("pixels, 3 frames stacked (each frame once)", PIXELS),
                            ("pixels, stacked obs stored whole (s and s')", ObsSpec(PIXELS.shape, PIXELS.dtype, 1)),
                            (f"states ({state_dim} float32)", ObsSpec.flat(state_dim))]:
            n = replay_bytes(spec, action_dim, args.capacity)
            rows.append({"env": env_id, "observations": label, "action dim": action_dim,
                         "bytes/transition": f"{n / args.capacity:,.0f}",
                         f"MiB per {args.capacity:,}": f"{n / 2 ** 20:,.1f}",
                         f"GiB per {args.capacity:,}": f"{n / gib:,.3f}"})
    show(f"c. replay bytes per {args.capacity:,} transitions (uniform ReplayBuffer)", rows,
         "from rlcore.replay.replay_bytes; a prioritized replay adds its sum tree (16 bytes per slot, power of two)")


# ---- d: Table 3 ---------------------------------------------------------------------------------
def section_table3(args, devices: list[torch.device]) -> None:
    rows = []
    period = update_period(pixel_agent("drq", "mlp2"))  # --warmup / --table3-iters count DrQ's 2-update cycles
    for device in devices:
        gpu = device.type == "cuda"
        warmup = args.warmup if args.warmup is not None else (10 if gpu else 1)
        cycles = args.table3_iters or (50 if gpu else 1)
        for heads in args.table3_heads:
            load = OtherCpuLoad()
            try:
                frame = measure_cost([heads], "drq", device.type, batch_size=args.table3_batch, iterations=cycles * period,
                                     warmup=warmup * period, act_iterations=200 if gpu else 50, runs=1,
                                     action_dim=args.action_dim, threads=args.threads, heap_malloc=args.mallopt,
                                     time_statistic="median")
            except MeasurementFailed as err:
                print(err.stderr[-3000:], file=sys.stderr)
                rows.append({"device": device.type, "heads": heads, "train ms": f"failed (rc {err.returncode})"})
                continue
            other = load.share()
            r = frame.set_index("metric")["value"]
            first = frame.iloc[0]
            mem_note = "" if first["peak_reset"] else " (peak not reset)"
            nan = lambda v: None if pd.isna(v) else float(v)  # noqa: E731
            rows.append({"device": device.type, "heads": heads,
                         "train ms": fmt(r["train_time"]), "V100 train ms": published(heads, "train_ms"),
                         "train mem GB": fmt(nan(r["train_mem"]), 2) + mem_note,
                         "V100 train mem GB": published(heads, "train_mem_gb"),
                         "act ms": fmt(r["act_time"], 2), "V100 act ms": published(heads, "act_ms"),
                         "act mem MB": fmt(nan(r["act_mem"]), 1) + mem_note,
                         "V100 act mem MB": published(heads, "act_mem_mb"),
                         "weights MB (acting)": f"{r['weights']:.1f} ({r['acting_weights']:.1f})",
                         "n train/act": f"{first['iterations']}/{first['act_iterations']}",
                         "% CPU other": "?" if other is None else f"{100 * other:.0f}"})
            print(f"  done table3 {device.type} {heads}", file=sys.stderr, flush=True)
    cpu_mem = ("CPU memory: peak RSS (VmHWM after a reset) minus the RSS before the agent was built, in a fresh "
               "process per head\n(warmed up by a tiny agent first, so that library pages are not counted);\n") if any(d.type == "cpu" for d in devices) else ""
    show(f"d. Bjorck et al. 2021, Table 3: DrQ agent, train at batch {args.table3_batch}, act at batch 1", rows,
         "V100 columns: published (Bjorck et al. 2021, Table 3, Tesla V100, mean ± std of 5 runs; time by CUDA events, "
         "500 iterations).\n"
         "Measured: train = median ms per update (DrQ: 2-update cycles); act = act_batch on one (9, 84, 84) uint8 "
         "observation,\nhost->device and back included. CUDA memory: torch.cuda.max_memory_allocated (weights, Adam state, "
         "batch, activations).\n" + cpu_mem + "weights MB: parameters of the whole agent (targets included) and of its "
         "acting modules (encoder + actor).")


# ---- command line -------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    add = p.add_argument
    add("--sections", nargs="+", default=list(SECTIONS), choices=[*SECTIONS, *SECTIONS.values()],
        help="a env, b update, c replay, d table3, e flops (default: all)")
    add("--devices", "--device", nargs="+", choices=["cpu", "cuda"],
        help="for b, d, e (default: cpu, and cuda when torch.cuda.is_available())")
    add("--algos", nargs="+", default=list(ALGOS), choices=ALGOS, help="b/e (default: drq drqv2)")
    add("--heads", nargs="+", default=["mlp2", "modern4"], choices=HEAD_PRESETS, help="b/e head presets (default: mlp2 modern4)")
    add("--batches", type=int, nargs="+", help="b/e batch sizes (default: 128 on CPU, 128 512 on CUDA)")
    add("--repeats", type=int, help="b/e timed cycles per row (default: 3 CPU, 30 CUDA)")
    add("--warmup", type=int, help="untimed cycles first, b/d/e (default: 1 CPU; 5 CUDA for b/e, 10 for d)")
    add("--action-dim", type=int, default=6, help="b/d/e (default 6: walker, cheetah)")
    add("--envs", nargs="+", default=["dmc:cartpole-swingup", "dmc:walker-walk"], help="a/c tasks")
    add("--action-repeats", type=int, nargs="+", default=[2, 8], help="a (default: 2 8)")
    add("--shadow-sizes", nargs="+", default=["model"], metavar="N|model",
        help="a: shadow map sizes to render with (rlcore.dmc's shadow_size; default: the model's, 2048)")
    add("--env-steps", type=int, default=200, help="a: timed agent steps per row (default 200)")
    add("--capacity", type=int, default=100_000, help="c: transitions (default 100000)")
    add("--table3-heads", nargs="+", default=TABLE3_HEADS, choices=HEAD_PRESETS, help="d (default: mlp2 mlp4 modern2 modern4)")
    add("--table3-batch", type=int, default=512, help="d: training batch (default 512, as the paper)")
    add("--table3-iters", type=int, help="d: timed 2-update cycles per head (default: 1 CPU, 50 CUDA)")
    add("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    add("--mallopt", action="store_true",
        help="glibc: keep freed memory in the heap (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=-1, as the env vars "
             "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge>): no page faults for re-allocated pixel tensors")
    add("--profile", action="store_true", help="b: torch.profiler breakdown of the first DrQ row's update")
    add("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.sections = [{v: k for k, v in SECTIONS.items()}.get(s, s) for s in args.sections]
    if args.devices is None:
        args.devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in args.devices and not torch.cuda.is_available():
        p.error("--devices cuda: torch.cuda.is_available() is False")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mallopt and not heap_malloc():
        print("--mallopt: glibc's mallopt is not available here; the default allocator stays", file=sys.stderr)
    devices = [torch.device(d) for d in args.devices]
    print_header(args)
    if "a" in args.sections:
        section_env(args)
    results = section_updates(args, devices) if {"b", "e"} & set(args.sections) else []
    if "e" in args.sections:
        section_flops(args, results)
    if "c" in args.sections:
        section_replay(args)
    if "d" in args.sections:
        section_table3(args, devices)


if __name__ == "__main__":
    main()
