"""What the pixel agents' heads cost: Bjorck et al. 2021, Sec. 5.4 / Table 3, measured here.

Table 3 gives, for the SAC-based agent of Kostrikov et al. (DrQ) with four heads (mlp2, mlp4,
modern2, modern4), the memory and time of training at batch 512 and of acting ("models
deployment"), on Tesla V100 GPUs, "time with CUDA events and memory with PyTorch native tools",
"for a single run, we average time across 500 iterations with warm-start", averaged across 5 runs
(`rlcore.reference.bjorck2021_table3`). `measure_cost` measures the same four numbers for any head
preset and pixel agent on the machine at hand and returns them as a tidy frame; `cost_summary`
averages the runs and gives each head's increase over a baseline head; `table3_comparison` puts
them beside the published numbers.

How (the method `benchmarks/pixel_speed.py` section d used before it moved here):

- Every (head, run) is measured in a fresh Python process (`isolate=True`), so one head's
  allocations never count as another's. The process first warms up with a tiny agent of the same
  algorithm (24 x 24 frames, width 32: it acts and updates, so library code pages, thread pools
  and the CUDA context are resident and not counted), then records its resident set (RSS) as the
  baseline and builds the real agent.
- Acting: `agent.act_batch` on one uint8 (9, 84, 84) observation (batch 1), host -> device and back
  included, a few untimed calls then `act_iterations` timed ones.
- Training: `agent.update` on a fixed batch of random uint8 pixels (speed does not depend on the
  values), `warmup` untimed updates then `iterations` timed ones. DrQ steps its actor and target
  every 2nd update, so time is taken over whole cycles of `update_period` updates and divided.
- Memory on CUDA: `torch.cuda.max_memory_allocated` (everything PyTorch allocated: weights, Adam
  state, the batch, activations; the peak is reset before acting and again before training). On
  the CPU: the peak RSS (VmHWM, reset through /proc/self/clear_refs, Linux >= 4.0) minus the
  baseline RSS: the same things as the OS sees them, plus allocator slack. Where the peak cannot be
  reset, `peak_reset` is False and the training peak includes the acting one (never smaller).
- Units as the text's: train memory in GB (1e9 bytes), act memory in MB (1e6 bytes), times in ms
  per update / per act call.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from ..config import ConfigError
from ..envs import ObsSpec

TABLE3_HEADS = ("mlp2", "mlp4", "modern2", "modern4")  # Table 3's columns, in its order
COST_ALGOS = ("drq", "drqv2")
TIME_STATISTICS = ("mean", "median")
# metric -> unit; the first four are Table 3's rows (the names of `reference.bjorck2021_table3`).
METRICS = {"train_mem": "GB", "act_mem": "MB", "train_time": "ms", "act_time": "ms",
           "weights": "MB", "acting_weights": "MB"}
TABLE3_METRICS = ("train_mem", "act_mem", "train_time", "act_time")
_SCALE = {"GB": 1e9, "MB": 1e6}

# Table 3's measurement per profile: batch (training), timed updates per run (`iterations`),
# untimed updates first (`warmup`), timed act calls (`act_iterations`) and runs per head.
# paper: the text's batch 512, 500 iterations, 5 runs ("warm-start" of unstated length: 20 updates).
# quick: the paper's batch, 10 updates x 3 runs (a DrQ update at batch 512 takes seconds on a CPU).
# smoke: the pipeline only (batch 32, 2 updates, 1 run).
TABLE3_PROFILES = {
    "paper": dict(batch_size=512, iterations=500, warmup=20, act_iterations=500, runs=5),
    "quick": dict(batch_size=512, iterations=10, warmup=2, act_iterations=100, runs=3),
    "smoke": dict(batch_size=32, iterations=2, warmup=2, act_iterations=20, runs=1),
}


class MeasurementFailed(RuntimeError):
    """A measuring process ended without a result (its return code and the end of its stderr)."""

    def __init__(self, heads: str, returncode: int, stderr: str):
        self.heads, self.returncode, self.stderr = heads, returncode, stderr
        super().__init__(f"measuring heads={heads!r} failed (rc {returncode}):\n{stderr[-3000:]}")


def pixel_spec(image: int = 84) -> ObsSpec:
    """3 stacked `image` x `image` RGB frames, uint8, channels first (what the pixel agents read)."""
    return ObsSpec((9, image, image), np.dtype(np.uint8), 3)


PIXELS = pixel_spec(84)


def table3_settings(profile: str, **overrides: Any) -> dict[str, int]:
    """The profile's Table 3 measurement (`TABLE3_PROFILES`) with the non-None `overrides`
    (batch_size, iterations, warmup, act_iterations, runs), each checked (>= 1; warmup >= 0)."""
    from .. import nbparams

    profile = nbparams.profile(profile)
    unknown = sorted(set(overrides) - set(TABLE3_PROFILES[profile]))
    if unknown:
        raise ConfigError("table3_settings", unknown, f"fields out of {', '.join(TABLE3_PROFILES[profile])}")
    out = dict(TABLE3_PROFILES[profile])
    for name, value in overrides.items():
        value = nbparams.integer(value, name, minimum=0 if name == "warmup" else 1)
        if value is not None:
            out[name] = value
    return out


# ---- one agent, one batch ---------------------------------------------------------------------------------
def random_batch(size: int, action_dim: int, device: torch.device, seed: int = 0, spec: ObsSpec = PIXELS):
    """A replay batch of `size` random uint8 observations (and actions, rewards) on `device`."""
    from ..replay import Batch

    g = torch.Generator(device=device).manual_seed(seed)
    pixels = lambda: torch.randint(0, 256, (size, *spec.shape), dtype=torch.uint8, device=device, generator=g)  # noqa: E731
    return Batch(obs=pixels(), action=torch.rand(size, action_dim, device=device, generator=g) * 2 - 1,
                 reward=torch.randn(size, 1, device=device, generator=g), next_obs=pixels(),
                 discount=torch.full((size, 1), 0.99, device=device))


def build_agent(algo: str, heads: str, batch: int, action_dim: int, device: torch.device, seed: int = 0,
                spec: ObsSpec = PIXELS, **overrides: Any):
    """A pixel agent (`experiments.pixel_agent`: its paper settings) with a head preset, at `batch`."""
    from ..agents import make_agent
    from ..experiments import pixel_agent

    torch.manual_seed(seed)
    return make_agent(pixel_agent(algo, heads, batch_size=batch, **overrides), spec, action_dim, device)


def update_period(cfg) -> int:
    """Updates until an agent's update pattern repeats (DrQ: actor and target every 2nd update;
    DrQ-v2: every update is alike). `cfg` is an AgentConfig."""
    own = getattr(cfg, "drq", None)
    if cfg.algo == "drq" and own is not None:
        return int(np.lcm(own.actor_update_every, own.target_update_every))
    return 1


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class UpdateCycle:
    """Updates an agent on one fixed batch, a whole cycle (`update_period`) at a time."""

    def __init__(self, agent, batch, device: torch.device):
        self.agent, self.batch, self.device, self.step = agent, batch, device, 0
        self.period = update_period(agent.cfg)

    def cycle(self) -> None:
        for _ in range(self.period):
            self.agent.update(self.batch, self.step)
            self.step += 1

    def timed_cycle(self) -> float:
        """Seconds per update over one cycle (the device synchronized before and after)."""
        sync(self.device)
        t0 = time.perf_counter()
        self.cycle()
        sync(self.device)
        return (time.perf_counter() - t0) / self.period


# ---- memory -----------------------------------------------------------------------------------------------
def rss_bytes(field: str = "VmRSS") -> int | None:
    """This process's resident set ("VmRSS") or its peak ("VmHWM") from /proc/self/status; None
    where there is no /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak(device: torch.device) -> bool:
    """Reset the peak memory reading (CUDA: PyTorch's statistics; CPU: the peak RSS, Linux >= 4.0);
    False where the CPU peak cannot be reset."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        with open("/proc/self/clear_refs", "w") as f:  # "5": reset the peak RSS
            f.write("5")
        return True
    except OSError:
        return False


def peak_bytes(device: torch.device, base: int) -> int | None:
    """Peak since the last `reset_peak`: CUDA max_memory_allocated, or the peak RSS minus `base`."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    hwm = rss_bytes("VmHWM")
    return None if hwm is None else hwm - base


def warm_process(algo: str, heads: str, action_dim: int, device: torch.device) -> None:
    """Before the memory baseline: a tiny agent (24 x 24 frames, width 32) acts and updates, so that
    the libraries' code pages, the thread pools and the CUDA context are resident and not counted as
    the real agent's memory; its own tensors are freed again."""
    tiny = pixel_spec(24)
    agent = build_agent(algo, heads, 4, action_dim, device, spec=tiny, width=32)
    agent.act_batch(np.zeros((1, *tiny.shape), dtype=np.uint8), 0, True)
    UpdateCycle(agent, random_batch(4, action_dim, device, spec=tiny), device).cycle()
    del agent
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def measure_head(heads: str, algo: str = "drq", device: str = "cpu", batch_size: int = 512, iterations: int = 2,
                 warmup: int = 2, act_iterations: int = 50, action_dim: int = 6, width: int | None = None,
                 image: int = 84, threads: int | None = None, heap_malloc: bool = False,
                 time_statistic: str = "mean", seed: int = 0) -> dict[str, Any]:
    """One head's four numbers, measured in this process (`measure_cost` runs it in a fresh one):
    act at batch 1, then train at `batch_size`. Returns bytes and milliseconds (plain numbers) and
    what was measured: act_ms, act_mem, train_ms, train_mem, weights / acting_weights (bytes of the
    whole agent's parameters, targets included, and of its acting modules), n_train (timed updates:
    `iterations` rounded up to whole cycles), n_act, threads, heap_malloc, peak_reset."""
    from ..device import heap_allocator
    from ..experiments import HEAD_WIDTH

    if threads:
        torch.set_num_threads(threads)
    heap = heap_allocator() if heap_malloc else False
    dev = torch.device(device)
    spec = pixel_spec(image)
    extra = {} if width is None else {"width": width}
    warm_process(algo, heads, action_dim, dev)
    base = rss_bytes() or 0
    agent = build_agent(algo, heads, batch_size, action_dim, dev, seed, spec=spec, **extra)
    acting = sum(p.numel() * p.element_size() for m in agent.acting_modules().values() for p in m.parameters())
    weights = sum(p.numel() * p.element_size() for m in agent.modules.values() for p in m.parameters())
    obs = np.random.default_rng(seed).integers(0, 256, (1, *spec.shape), dtype=np.uint8)
    exact = reset_peak(dev)
    for i in range(5):
        agent.act_batch(obs, i, True)
    act = []
    for i in range(act_iterations):
        t0 = time.perf_counter()
        agent.act_batch(obs, i, True)  # returns numpy: synchronizes
        act.append(time.perf_counter() - t0)
    act_mem = peak_bytes(dev, base)
    updater = UpdateCycle(agent, random_batch(batch_size, action_dim, dev, seed, spec=spec), dev)
    exact = reset_peak(dev) and exact
    for _ in range(math.ceil(warmup / updater.period)):
        updater.cycle()
    train = [updater.timed_cycle() for _ in range(math.ceil(iterations / updater.period))]
    average = statistics.fmean if time_statistic == "mean" else statistics.median
    return {"heads": heads, "algo": algo, "act_ms": 1e3 * average(act), "act_mem": act_mem,
            "train_ms": 1e3 * average(train), "train_mem": peak_bytes(dev, base),
            "n_train": len(train) * updater.period, "n_act": len(act), "weights": weights, "acting_weights": acting,
            "peak_reset": exact, "threads": torch.get_num_threads(), "heap_malloc": heap,
            "width": width or HEAD_WIDTH}


def _worker(spec_json: str) -> None:
    """Entry point of a measuring process: `measure_head(**spec)`, its result as one JSON line."""
    print(json.dumps(measure_head(**json.loads(spec_json))), flush=True)


def _measure_isolated(spec: dict[str, Any]) -> dict[str, Any]:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", "import sys; from rlcore.analysis.cost import _worker; _worker(sys.argv[1])",
                           json.dumps(spec)], capture_output=True, text=True, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise MeasurementFailed(spec["heads"], proc.returncode, proc.stderr)
    return json.loads(lines[-1])


# ---- the table ----------------------------------------------------------------------------------------------
def machine_info(device: str | torch.device = "auto") -> dict[str, Any]:
    """What the numbers were measured on: device ("cpu" / "cuda"), device_name (the GPU, or the CPU
    model), cpu_model, cpus (logical CPUs this process may use), torch_threads (torch's default here),
    torch and CUDA versions, and the load average (1 / 5 / 15 min) when it was called."""
    from ..device import resolve_device

    dev = resolve_device(device)
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"device": dev.type, "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu,
            "cpu_model": cpu, "cpus": cpus, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.version.cuda if dev.type == "cuda" else None,
            "load_average": tuple(round(v, 2) for v in os.getloadavg()) if hasattr(os, "getloadavg") else None}


def measure_cost(heads: Sequence[str] = TABLE3_HEADS, algo: str = "drq", device: str | torch.device = "auto",
                 batch_size: int = 512, iterations: int = 2, warmup: int = 2, act_iterations: int = 50, runs: int = 1,
                 action_dim: int = 6, width: int | None = None, image: int = 84, threads: int | None = None,
                 heap_malloc: bool = False, time_statistic: str = "mean", isolate: bool = True,
                 seed: int = 0) -> pd.DataFrame:
    """Table 3's numbers for each head preset in `heads` and `runs` runs of each (a fresh process per
    head and run unless `isolate=False`; run r uses seed `seed + r`). `width`: the heads' hidden width
    (None: the presets' 1024); `image`: frame size (84 as the papers); `time_statistic`: how a run's
    timed iterations are averaged ("mean" as the text; "median"). Everything is checked before the
    first process starts; a process that fails raises `MeasurementFailed`.

    Tidy frame, one row per head, run and metric (`METRICS`: train_mem GB, act_mem MB, train_time ms,
    act_time ms, weights MB, acting_weights MB): heads, algo, run, metric, unit, value, and what was
    measured: device, device_name, batch_size, iterations (timed updates), act_iterations, warmup,
    width, image, threads, heap_malloc, time_statistic, peak_reset, memory ("max_memory_allocated" or
    "peak RSS - baseline")."""
    from .. import nbparams
    from ..device import resolve_device
    from ..experiments import HEAD_PRESETS, pixel_agent

    algo = nbparams.choice(algo, "algo", COST_ALGOS)
    heads = nbparams.str_list(heads, "heads", HEAD_PRESETS) or TABLE3_HEADS
    time_statistic = nbparams.choice(time_statistic, "time_statistic", TIME_STATISTICS)
    for name, value, minimum in (("batch_size", batch_size, 1), ("iterations", iterations, 1), ("warmup", warmup, 0),
                                 ("act_iterations", act_iterations, 1), ("runs", runs, 1), ("action_dim", action_dim, 1),
                                 ("image", image, 24)):
        if nbparams.integer(value, name, minimum) is None:
            raise ConfigError(name, value, f"an integer >= {minimum}")
    if width is not None:
        nbparams.integer(width, "width")
    if threads is not None:
        nbparams.integer(threads, "threads")
    dev = resolve_device(device)
    for h in heads:  # every preset builds (ConfigError otherwise) before anything is measured
        pixel_agent(algo, h, **({} if width is None else {"width": width}))
    info = machine_info(dev)
    rows = []
    for h in heads:
        for run in range(runs):
            spec = dict(heads=h, algo=algo, device=dev.type, batch_size=batch_size, iterations=iterations,
                        warmup=warmup, act_iterations=act_iterations, action_dim=action_dim, width=width, image=image,
                        threads=threads, heap_malloc=heap_malloc, time_statistic=time_statistic, seed=seed + run)
            r = _measure_isolated(spec) if isolate else measure_head(**spec)
            values = {"train_mem": r["train_mem"], "act_mem": r["act_mem"], "train_time": r["train_ms"],
                      "act_time": r["act_ms"], "weights": r["weights"], "acting_weights": r["acting_weights"]}
            for metric, unit in METRICS.items():
                value = values[metric]
                if value is not None and unit in _SCALE:
                    value = value / _SCALE[unit]
                rows.append(dict(heads=h, algo=algo, run=run, metric=metric, unit=unit,
                                 value=np.nan if value is None else float(value), device=dev.type,
                                 device_name=info["device_name"], batch_size=batch_size, iterations=r["n_train"],
                                 act_iterations=r["n_act"], warmup=warmup, width=r["width"], image=image,
                                 threads=r["threads"], heap_malloc=r["heap_malloc"], time_statistic=time_statistic,
                                 peak_reset=r["peak_reset"],
                                 memory="max_memory_allocated" if dev.type == "cuda" else "peak RSS - baseline"))
    return pd.DataFrame(rows)


def cost_summary(frame: pd.DataFrame, baseline: str = "mlp2") -> pd.DataFrame:
    """Per head and metric of a `measure_cost` frame: mean and std over runs (ddof 1; 0 for one run),
    runs, and `relative`: the mean's increase over the `baseline` head's mean of the same metric
    (0.17 = +17 %; NaN without the baseline). Heads keep the frame's order, metrics `METRICS`'."""
    order = {h: i for i, h in enumerate(dict.fromkeys(frame["heads"]))}
    out = (frame.groupby(["heads", "metric", "unit"], sort=False)["value"]
           .agg(mean="mean", std=lambda s: float(s.std(ddof=1)) if s.count() > 1 else 0.0, runs="count")
           .reset_index())
    base = out[out["heads"] == baseline].set_index("metric")["mean"]
    out["relative"] = out["mean"] / out["metric"].map(base) - 1.0
    metric_order = {m: i for i, m in enumerate(METRICS)}
    out = out.sort_values(by=["heads", "metric"], key=lambda s: s.map(order if s.name == "heads" else metric_order))
    return out.reset_index(drop=True)


def table3_comparison(summary: pd.DataFrame, published: pd.DataFrame | None = None,
                      baseline: str = "mlp2") -> pd.DataFrame:
    """Ours (`cost_summary`) beside Table 3 (`reference.bjorck2021_table3()`), for the heads and
    metrics both have: heads, metric, unit, mean, std, runs, relative (ours), paper_mean, paper_pm,
    paper_relative (the published mean's increase over the published `baseline`)."""
    if published is None:
        from ..reference import bjorck2021_table3

        published = bjorck2021_table3()
    paper = published[["heads", "metric", "mean", "pm"]].rename(columns={"mean": "paper_mean", "pm": "paper_pm"})
    base = paper[paper["heads"] == baseline].set_index("metric")["paper_mean"]
    paper = paper.assign(paper_relative=paper["paper_mean"] / paper["metric"].map(base) - 1.0)
    ours = summary[summary["metric"].isin(TABLE3_METRICS)]
    return ours.merge(paper, on=["heads", "metric"], how="left").reset_index(drop=True)
