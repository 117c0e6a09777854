"""Milliseconds per SAC / TD3 gradient update, and how close it comes to the device's matmul peak.

For each device (CPU, plus CUDA when available), case (algorithm/architecture) and trunk size, the
real agent from `rlcore.agents.make_agent` is updated on batches pre-sampled from a filled
`rlcore.replay.ReplayBuffer` (random data: speed does not depend on the values), so the clock sees
the update alone. After warm-up, each update is timed on its own: median, p10, p90. With OFENet an
"update" is what the trainer does per env step, `update_features(batch)` then `update(batch')`
(rlcore/train.py); both parts are also reported alone (ms feat, ms agent). TD3 alternates
critic-only and full updates, so it is timed over whole `policy_delay` cycles, divided.

The run also measures each device's float32 matmul peak (square matrices, median of repeats) and
counts the matmul FLOPs (mm, addmm, bmm, baddbmm) of one real update with
`torch.utils.flop_counter.FlopCounterMode` (TD3: one cycle, divided), so every row shows the
achieved GFLOP/s and its share of that peak. A new agent or architecture needs no FLOP code here.

Suites (`--suite`, several allowed; default `mlp`), each with its own sizes and iteration counts:

  mlp    sac, td3 with 256x2 MLPs on Ant-v4 with contact forces (obs 111, action 8; Ota et al.
         2021, Table 2), batch 256; 50 warm-up + 300 timed updates per row (the original table).
  large  Ota et al. 2021's large agent ("ours", `rlcore.experiments.ota_ours_agent`): OFENet
         (8 DenseNet layers x 256 units = 2048, BatchNorm, Swish; predicts Ant's 27 next-state
         dims) feeding a 2 x 2048 MLP-DenseNet actor and critic with Swish and Huber critic loss;
         SAC without BatchNorm in actor/critic, TD3 with it ("we omit BN for SAC", Ota 3.3).
         Ant dims (111 + 8), batch 256. ~1.5 s per update on 2 CPU cores: 2 warm-up + 8 timed.
         The `-skip` cases switch on `NetConfig.skip_raw_input_grads` in the actor and critic.
  heads  Bjorck et al. 2021's actor/critic heads on DrQ's encoder output, without the pixel
         encoder: input = 50 features (DrQ's feature_dim) + 6 action dims (cheetah/walker), width
         1024 (DrQ's hidden_dim), depth 2 and 4: `sac` = plain MLP (depth = hidden layers),
         `sac-modern` = linear embedding + `depth` pre-LayerNorm residual blocks (expansion 1),
         `sac-modern-sn` = the same with spectral normalization. 3 warm-up + 15 timed updates.

    .venv/bin/python benchmarks/update_speed.py                        # 256x2, CPU (+ CUDA), ~10 s idle
    .venv/bin/python benchmarks/update_speed.py --widths 256 1024 2048 --csv update_speed.csv
    .venv/bin/python benchmarks/update_speed.py --suite mlp large heads --quick   # smoke run, all suites
    .venv/bin/python benchmarks/update_speed.py --suite large          # OFENet + DenseNet 2x2048, ~1 min
    .venv/bin/python benchmarks/update_speed.py --suite heads          # modern / SN heads, ~2 min
    .venv/bin/python benchmarks/update_speed.py --suite large --cases sac-ofenet-densenet --profile

`--warmup` / `--iters` override a suite's counts. `--profile` adds, per row, where the update's
time goes (torch.profiler: ops' self time by category, and the matmuls' GFLOP/s).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from rlcore.agents import make_agent
from rlcore.config import AgentConfig, NetConfig
from rlcore.envs import ObsSpec
from rlcore.experiments import ota_ours_agent
from rlcore.replay import Batch, ReplayBuffer


# ---- the only calls into rlcore's agent / replay API (adapt these when it changes) ---------------
def _spec(obs: int | ObsSpec) -> ObsSpec:
    return obs if isinstance(obs, ObsSpec) else ObsSpec.flat(obs)


def build_agent(cfg: AgentConfig, obs: int | ObsSpec, action_dim: int, device: torch.device,
                env_id: str | None) -> tuple[object, int]:
    """The agent for `cfg` (`obs`: a flat observation size, or the ObsSpec of images), and its
    trainable parameters (actor + critics (+ OFENet, + a pixel encoder), no targets)."""
    agent = make_agent(cfg, _spec(obs), action_dim, device, env_id=env_id)
    modules = ([agent.actor, agent.critic] + ([agent.extractor] if agent.learns_features else [])
               + ([agent.encoder, agent.critic_projection] if cfg.pixels else []))
    return agent, sum(p.numel() for m in modules for p in m.parameters())


def sampled_batches(obs: int | ObsSpec, action_dim: int, replay_size: int, batch_size: int, pool: int,
                    device: torch.device, rng: np.random.Generator) -> list:
    """`pool` batches sampled from a ReplayBuffer filled with `replay_size` random transitions
    (images: random uint8 stacks drawn directly, which an update cannot tell apart)."""
    spec = _spec(obs)
    if len(spec.shape) == 3:
        frames = lambda: torch.as_tensor(rng.integers(0, 256, (batch_size, *spec.shape), dtype=np.uint8), device=device)
        vector = lambda *shape: torch.as_tensor(rng.uniform(-1, 1, shape), dtype=torch.float32, device=device)
        return [Batch(obs=frames(), action=vector(batch_size, action_dim), reward=vector(batch_size, 1),
                      next_obs=frames(), discount=torch.full((batch_size, 1), 0.99, device=device))
                for _ in range(pool)]
    obs_dim = spec.flat_dim
    replay = ReplayBuffer(spec, action_dim, replay_size, device)
    replay.add(rng.standard_normal((replay_size, obs_dim)), rng.uniform(-1, 1, (replay_size, action_dim)),
               rng.standard_normal(replay_size), rng.standard_normal((replay_size, obs_dim)),
               rng.random(replay_size) < 0.01)
    return [replay.sample(batch_size) for _ in range(pool)]


def one_update(agent, batch, feature_batch, step: int, mark: Callable[[], None]) -> bool:
    """What rlcore/train.py runs per env step: OFENet's auxiliary step on its own batch (if the agent
    learns features), `mark()` (the benchmark splits its clock there), then the agent's update.
    `step` is the update's index. Returns whether OFENet stepped."""
    learns = agent.learns_features
    if learns:
        agent.update_features(feature_batch)
    mark()
    agent.update(batch, step)
    return learns


# ---- cases and suites: one row of the table per case, size and device ---------------------------
MakeConfig = Callable[[NetConfig], AgentConfig]  # a case: the agent config for the swept trunk (width x depth)


@dataclass(frozen=True)
class Suite:
    """Cases (label -> config) with the sizes, input dimensions and iteration counts they run at."""

    name: str
    cases: dict[str, MakeConfig]
    widths: list[int]
    depths: list[int]
    obs_dim: int
    action_dim: int
    env_id: str | None  # picks OFENet's predicted next-state dims (rlcore.nets.ofenet.TARGET_DIMS)
    warmup: int
    iters: int
    quick: tuple[int, int]  # (warmup, iters) with --quick


def _plain(algo: str, kind: str = "mlp", sn: bool = False) -> MakeConfig:
    def make(net: NetConfig) -> AgentConfig:
        spec = dataclasses.replace(net, kind=kind, spectral_norm=sn)
        return AgentConfig(algo=algo, actor=spec, critic=spec)
    return make


def _ota(algo: str, skip_raw_input_grads: bool = False) -> MakeConfig:
    # The paper's agent as the experiments build it: OFENet 8 x 256, DenseNet actor/critic with
    # Swish, BatchNorm for TD3 only, Huber critic loss. `skip_raw_input_grads`: the NetConfig switch
    # that skips the DenseNet layers' input-gradient products for the raw-input columns.
    def make(net: NetConfig) -> AgentConfig:
        cfg = ota_ours_agent(algo, width=net.width, depth=net.depth)
        if not skip_raw_input_grads:
            return cfg
        on = lambda spec: dataclasses.replace(spec, skip_raw_input_grads=True)
        return dataclasses.replace(cfg, actor=on(cfg.actor), critic=on(cfg.critic))
    return make


SUITES: dict[str, Suite] = {s.name: s for s in [
    Suite("mlp", {"sac": _plain("sac"), "td3": _plain("td3")}, [256], [2], 111, 8, "Ant-v4", 50, 300, (10, 50)),
    Suite("large", {"sac-ofenet-densenet": _ota("sac"), "td3-ofenet-densenet-bn": _ota("td3"),
                    "sac-ofenet-densenet-skip": _ota("sac", True), "td3-ofenet-densenet-bn-skip": _ota("td3", True)},
          [2048], [2], 111, 8, "Ant-v4", 2, 8, (1, 3)),
    Suite("heads", {"sac": _plain("sac"), "sac-modern": _plain("sac", "modern"),
                    "sac-modern-sn": _plain("sac", "modern", sn=True)}, [1024], [2, 4], 50, 6, None, 3, 15, (1, 5)),
]}


# ---- measuring --------------------------------------------------------------------------------
MATMUL_OPS = {"mm", "addmm", "bmm", "baddbmm", "matmul"}  # the work the matmul peak measures


def matmul_flops(counter: FlopCounterMode) -> int:
    """Matmul FLOPs the counter has seen so far (it would also count convolutions / attention)."""
    counts = counter.get_flop_counts().get("Global", {})
    return sum(n for op, n in counts.items() if str(op).rsplit(".", 1)[-1] in MATMUL_OPS)


def synchronizer(device: torch.device) -> Callable[[], None]:
    # CUDA kernels run asynchronously: wait for them before reading the clock.
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


class Updater:
    """Runs `one_update` on pre-sampled batches (cycled, so sampling stays off the clock), one
    algorithm cycle at a time: `period` updates (TD3: policy_delay, else 1)."""

    def __init__(self, agent, batches: list, period: int, device: torch.device):
        self.agent, self.batches, self.period, self.sync = agent, batches, period, synchronizer(device)
        self.step, self.learns_features = 0, False

    def _update(self, mark: Callable[[], None]) -> None:
        n = len(self.batches)  # the features step reads another batch than the agent's update
        self.learns_features = one_update(self.agent, self.batches[self.step % n],
                                          self.batches[(self.step + n // 2) % n], self.step, mark)
        self.step += 1

    def timed_cycle(self) -> tuple[float, float]:
        """One cycle; seconds per update (features step, agent update)."""
        feat = agent = 0.0
        for _ in range(self.period):
            t = [time.perf_counter()]
            self._update(lambda: (self.sync(), t.append(time.perf_counter())))
            self.sync()
            feat, agent = feat + t[1] - t[0], agent + time.perf_counter() - t[1]
        return feat / self.period, agent / self.period

    def counted_cycle(self) -> tuple[float, float]:
        """One cycle under torch's FLOP counter; matmul FLOPs per update (all, features step)."""
        feat = 0
        with FlopCounterMode(display=False) as counter:
            for _ in range(self.period):
                at = [matmul_flops(counter)]
                self._update(lambda: at.append(matmul_flops(counter)))
                feat += at[1] - at[0]
            total = matmul_flops(counter)
        return total / self.period, feat / self.period


def matmul_gflops(size: int, device: torch.device, repeats: int) -> float:
    """Median GFLOP/s of a square float32 matmul (2*size^3 FLOPs)."""
    sync = synchronizer(device)
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    out = torch.empty(size, size, device=device)
    torch.mm(a, b, out=out)  # first call: allocation, kernel selection, thread pool start
    sync()
    t0 = time.perf_counter()
    torch.mm(a, b, out=out)
    sync()
    # Enough matmuls per sample for ~20 ms, so launch and clock overhead stay negligible on GPUs.
    inner = max(1, math.ceil(0.02 / max(time.perf_counter() - t0, 1e-9)))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=out)
        sync()
        samples.append((time.perf_counter() - t0) / inner)
    return 2 * size**3 / statistics.median(samples) / 1e9


class OtherCpuLoad:
    """Share of all CPUs that other processes (and the hypervisor, as steal) used since creation.
    CPU timings only mean something on an otherwise idle machine; this makes a busy one visible.
    Linux only (/proc/stat); `share()` is None elsewhere."""

    def __init__(self):
        self._start = self._snapshot()

    @staticmethod
    def _snapshot():
        try:
            with open("/proc/stat") as f:  # user nice system idle iowait irq softirq steal
                ticks = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        hz, own = os.sysconf("SC_CLK_TCK"), os.times()  # own: this process and its waited-for children
        return sum(ticks) / hz, (sum(ticks) - ticks[3] - ticks[4]) / hz, own.user + own.system

    def share(self) -> float | None:
        end = self._snapshot()
        if self._start is None or end is None:
            return None
        total, busy, own = (b - a for a, b in zip(self._start, end))
        return max(0.0, busy - own) / total if total > 0 else None


def wait_for_idle(limit_s: float, threshold: float = 0.1) -> None:
    """Wait (at most `limit_s`) until other processes use under `threshold` of the CPUs for 3 s."""
    deadline = time.monotonic() + limit_s
    while True:
        load = OtherCpuLoad()
        time.sleep(3.0)
        share = load.share()
        if share is None or share < threshold or time.monotonic() > deadline:
            return
        print(f"    machine busy ({100 * share:.0f}% CPU other), waiting", file=sys.stderr, flush=True)


# ---- one row of the table ---------------------------------------------------------------------------
@dataclass
class Row:  # the CSV's columns (after torch, threads, device_name, peak_gflops)
    device: str
    suite: str
    case: str
    width: int
    depth: int
    obs_dim: int
    action_dim: int
    params: int  # trainable parameters of actor + critics (+ OFENet); targets excluded
    samples: int  # timed cycles
    ms_p50: float
    ms_p10: float
    ms_p90: float
    ms_features_p50: float | None  # update_features alone (None without OFENet)
    ms_agent_p50: float  # agent.update alone
    mflop_per_update: float  # matmul FLOPs, from torch.utils.flop_counter
    mflop_features: float  # the update_features part of them
    gflops: float  # achieved, from the median time
    peak_fraction: float  # of the device's measured matmul peak
    other_cpu: float | None  # share of the CPUs other processes used while this row was timed


def iterations(suite: Suite, args) -> tuple[int, int]:
    warmup, iters = suite.quick if args.quick else (suite.warmup, suite.iters)
    return (args.warmup if args.warmup is not None else warmup, args.iters if args.iters is not None else iters)


def benchmark_row(suite: Suite, case: str, net: NetConfig, args, device: torch.device,
                  peak_gflops: float) -> tuple[Row, Updater]:
    """Build the agent and batches, warm up, time, count FLOPs; the Updater is kept for --profile."""
    torch.manual_seed(args.seed)
    obs_dim, action_dim = args.obs_dim or suite.obs_dim, args.action_dim or suite.action_dim
    cfg = dataclasses.replace(suite.cases[case](net), batch_size=args.batch_size)
    agent, params = build_agent(cfg, obs_dim, action_dim, device, suite.env_id)
    batches = sampled_batches(obs_dim, action_dim, args.replay_size, cfg.batch_size, args.batch_pool,
                              device, np.random.default_rng(args.seed))
    updater = Updater(agent, batches, cfg.td3.policy_delay if cfg.algo == "td3" else 1, device)

    warmup, iters = iterations(suite, args)
    for _ in range(math.ceil(warmup / updater.period)):
        updater.timed_cycle()
    load = OtherCpuLoad()
    # One sample per cycle: TD3's single updates alternate between critic-only and full ones; whole
    # cycles (divided) give a unimodal distribution whose median is the average update.
    cycles = max(1, math.ceil(iters / updater.period))
    samples = np.asarray([updater.timed_cycle() for _ in range(cycles)]) * 1e3  # (cycles, 2) ms
    other_cpu = load.share()
    flops, flops_features = updater.counted_cycle()

    total = samples.sum(axis=1)
    p10, p50, p90 = np.percentile(total, [10, 50, 90])
    gflops = flops / (p50 / 1e3) / 1e9
    feat = float(np.median(samples[:, 0])) if updater.learns_features else None
    return Row(device.type, suite.name, case, net.width, net.depth, obs_dim, action_dim, params, cycles,
               p50, p10, p90, feat, float(np.median(samples[:, 1])), flops / 1e6, flops_features / 1e6,
               gflops, gflops / peak_gflops, other_cpu), updater


# ---- --profile: ops' self time (children excluded, so the categories add up) by category -----------
PROFILE_CATEGORIES: dict[str, set[str]] = {  # op names without "aten::" (and "_backward")
    "matmuls (mm, addmm, bmm, baddbmm)": {"mm", "addmm", "bmm", "baddbmm"},
    "optimizer (Adam, zero_grad)": {"_fused_adam_", "Optimizer.step", "Optimizer.zero_grad"},
    "target soft update (lerp)": {"lerp_", "_foreach_lerp_", "_foreach_copy_"},
    "cat / copies / zeros": {"cat", "copy_", "clone", "_to_copy", "zero_", "fill_", "zeros", "new_zeros",
                             "slice", "contiguous", "index", "narrow_copy"},
    "activations, norms (+bwd)": {"silu", "relu", "threshold", "tanh", "softplus", "native_batch_norm",
                                  "native_layer_norm"},
}
OTHER_OPS = "elementwise / framework / other"


def profile_row(updater: Updater, title: str, peak: float) -> str:
    from torch.profiler import ProfilerActivity, profile

    cycles = max(1, math.ceil(2 / updater.period))  # at least 2 updates
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in range(cycles):
            updater.timed_cycle()
    per = cycles * updater.period
    totals = {c: [0.0, 0.0] for c in [*PROFILE_CATEGORIES, OTHER_OPS]}  # [ms, FLOPs] per update
    for e in prof.key_averages():
        base = e.key.split("#")[0].removeprefix("aten::").removesuffix("_backward")  # "Optimizer.step#Adam.step"
        acc = totals[next((c for c, names in PROFILE_CATEGORIES.items() if base in names), OTHER_OPS)]
        acc[0], acc[1] = acc[0] + e.self_cpu_time_total / 1e3 / per, acc[1] + (e.flops or 0) / per
    profiled = sum(ms for ms, _ in totals.values())
    (mm_category, (mm_ms, mm_fl)), body = next(iter(totals.items())), []
    for c, (ms, fl) in totals.items():
        rate = fl / (ms / 1e3) / 1e9 if c == mm_category and ms else None  # the matmul rate only
        body.append([c, f"{ms:.1f}", f"{100 * ms / profiled:.1f}", "" if rate is None else f"{rate:.1f}",
                     "" if rate is None else f"{100 * rate / peak:.1f}"])
    return "\n".join([f"profile {title}: ops' self time {profiled:.1f} ms per update ({per} updates profiled)",
                      render(["category", "ms/update", "% of update", "GFLOP/s", "% peak"], body, 1),
                      f"matmuls take {mm_ms:.1f} ms ({100 * mm_ms / profiled:.0f}%); at the peak they would take "
                      f"{mm_fl / peak / 1e6:.1f} ms; everything else {profiled - mm_ms:.1f} ms"])


# ---- output --------------------------------------------------------------------------------------
def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def render(header: list[str], body: list[list[str]], text_columns: int) -> str:
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

    def fmt(line: list[str]) -> str:  # text columns left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i < text_columns else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))

    return "\n".join([fmt(header), "-" * len(fmt(header))] + [fmt(line) for line in body])


def format_table(rows: list[Row]) -> str:
    header = ["device", "case", "width", "depth", "in", "params", "n", "ms p50", "ms p10", "ms p90",
              "ms feat", "ms agent", "MFLOP/upd", "GFLOP/s", "% peak", "% CPU other"]
    body = [[r.device, r.case, str(r.width), str(r.depth), f"{r.obs_dim}+{r.action_dim}", f"{r.params:,}",
             str(r.samples), f"{r.ms_p50:.3f}", f"{r.ms_p10:.3f}", f"{r.ms_p90:.3f}",
             "-" if r.ms_features_p50 is None else f"{r.ms_features_p50:.3f}", f"{r.ms_agent_p50:.3f}",
             f"{r.mflop_per_update:,.1f}", f"{r.gflops:.1f}", f"{100 * r.peak_fraction:.1f}",
             "?" if r.other_cpu is None else f"{100 * r.other_cpu:.0f}"] for r in rows]
    return render(header, body, 2)


LEGEND = """\
in              observation + action dims the agent reads
n               timed samples (TD3: whole policy_delay cycles)
ms p50/p10/p90  wall time per update (TD3: timed over whole policy_delay cycles, divided);
                with OFENet an update is update_features + update, as the trainer runs per env step
ms feat/agent   medians of the two parts on their own (feat: OFENet's auxiliary step)
MFLOP/upd       matmul FLOPs of one update (mm, addmm, bmm, baddbmm), from torch.utils.flop_counter
GFLOP/s         MFLOP/upd over the median time; % peak: its share of the largest matmul rate above
% CPU other     share of the CPUs that other processes used while the row was timed"""


def print_header(args) -> None:
    idle_check = OtherCpuLoad()
    time.sleep(1.0)  # a second of doing nothing: how busy is the machine without us?
    busy = idle_check.share()
    cuda = f", CUDA {torch.version.cuda}" if torch.cuda.is_available() else ""
    print(f"torch {torch.__version__}{cuda}, python {platform.python_version()}, "
          f"threads {torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} inter-op, "
          f"{os.cpu_count()} CPUs, float32 matmul precision '{torch.get_float32_matmul_precision()}'")
    if busy is not None:
        print(f"CPUs busy with other work before start: {100 * busy:.0f}%"
              + ("  WARNING: CPU timings will be slow and noisy" if busy > 0.1 else ""))
    for suite in (SUITES[name] for name in args.suite):
        warmup, iters = iterations(suite, args)
        print(f"suite {suite.name}: obs {args.obs_dim or suite.obs_dim}, action {args.action_dim or suite.action_dim}, "
              f"batch {args.batch_size}, {warmup} warm-up + {iters} timed updates per row")


def measure_peaks(devices: list[torch.device], args, before: dict[str, float] | None = None) -> dict[str, float]:
    """Each device's largest float32 matmul rate (GFLOP/s), printed. Given `before` (the peaks at the
    start) it compares: shared or virtual machines can change speed mid-run without visible load."""
    peaks = {}
    for device in devices:
        load = OtherCpuLoad()
        rates = {n: matmul_gflops(n, device, args.matmul_repeats) for n in args.matmul_sizes}
        other, peak = load.share(), max(rates.values())
        peaks[device.type] = peak
        if before is None:
            print(f"{device.type}: {device_name(device)}; float32 matmul "
                  + ", ".join(f"{n}^2 {g:,.1f}" for n, g in rates.items()) + f" GFLOP/s (peak {peak:,.1f})"
                  + ("" if other is None else f"; other processes {100 * other:.0f}% CPU meanwhile"))
        else:
            drift = peak / before[device.type] - 1
            print(f"{device.type} matmul peak after the rows: {peak:,.1f} GFLOP/s ({100 * drift:+.0f}%)"
                  + ("  WARNING: the device's speed changed during the run" if abs(drift) > 0.1 else ""))
    return peaks


def write_csv(path: str, rows: list[Row], peaks: dict[str, float]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["torch", "threads", "device_name", "peak_gflops",
                                               *(fl.name for fl in dataclasses.fields(Row))])
        writer.writeheader()
        for r in rows:
            writer.writerow({"torch": torch.__version__, "threads": torch.get_num_threads(),
                             "device_name": device_name(torch.device(r.device)),
                             "peak_gflops": peaks[r.device], **dataclasses.asdict(r)})


# ---- command line --------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    add = p.add_argument
    add("--suite", nargs="+", default=["mlp"], choices=[*SUITES, "all"], help="which suites (default mlp; see below)")
    add("--cases", nargs="+", choices=sorted({c for s in SUITES.values() for c in s.cases}),
        help="only these cases of the suites (default: all)")
    add("--widths", type=int, nargs="+", help="hidden widths (default: the suite's)")
    add("--depths", type=int, nargs="+", help="hidden depths or blocks (default: the suite's)")
    add("--obs-dim", type=int, help="override the suite's (mlp/large 111: Ant-v4 with contact forces)")
    add("--action-dim", type=int, help="override the suite's (mlp/large 8: Ant-v4)")
    add("--batch-size", type=int, default=256, help="default 256")
    add("--devices", "--device", nargs="+", choices=["cpu", "cuda"], help="default: cpu, and cuda when torch.cuda.is_available()")
    add("--warmup", type=int, help="untimed updates first (default: the suite's, mlp 50, large 2, heads 3)")
    add("--iters", type=int, help="timed updates (default: the suite's, mlp 300, large 8, heads 15)")
    add("--matmul-sizes", type=int, nargs="+", default=[1024, 2048], help="square matmul sizes for the peak (default 1024 2048)")
    add("--matmul-repeats", type=int, default=10, help="timed repeats per size (default 10)")
    add("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    add("--replay-size", type=int, default=10_000, help="replay transitions (default 10000)")
    add("--batch-pool", type=int, default=32, help="pre-sampled batches, cycled (default 32)")
    add("--seed", type=int, default=0)
    add("--quick", action="store_true", help="short run: fewer updates (mlp 10 + 50, large 1 + 3, heads 1 + 5), 3 matmul repeats")
    add("--profile", action="store_true", help="per row, where the update's time goes (torch.profiler, by op category)")
    add("--wait-idle", type=float, default=0, metavar="S",
        help="before each row wait up to S seconds for other processes to leave the CPUs idle (default 0: no wait)")
    add("--csv", metavar="PATH", help="also write the rows to this CSV file")
    args = p.parse_args(argv)
    if "all" in args.suite:
        args.suite = list(SUITES)
    if args.quick:
        args.matmul_repeats = 3
    if args.devices is None:
        args.devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in args.devices and not torch.cuda.is_available():
        p.error("--devices cuda: torch.cuda.is_available() is False")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device(d) for d in args.devices]
    print_header(args)
    peaks = measure_peaks(devices, args)
    rows, profiles = [], []
    for device in devices:
        for suite in (SUITES[name] for name in args.suite):
            for net in (NetConfig(width=w, depth=d) for w in args.widths or suite.widths for d in args.depths or suite.depths):
                for case in (c for c in suite.cases if args.cases is None or c in args.cases):
                    if args.wait_idle:
                        wait_for_idle(args.wait_idle)
                    row, updater = benchmark_row(suite, case, net, args, device, peaks[device.type])
                    rows.append(row)
                    if args.profile:
                        profiles.append(profile_row(updater, f"{device.type} {case} {net.width}x{net.depth}",
                                                    peaks[device.type]))
                    del updater  # free the agent before the next row builds its own
                    print(f"  done {device.type} {suite.name} {case} {net.width}x{net.depth}", file=sys.stderr, flush=True)
    print(f"\n{format_table(rows)}\n\n{LEGEND}\n")
    measure_peaks(devices, args, before=peaks)
    if any(r.other_cpu is not None and r.other_cpu > 0.1 for r in rows):
        print("WARNING: other processes used over 10% of the CPUs while some rows were timed "
              "(% CPU other); rerun those on an idle machine.")
    for text in profiles:
        print(f"\n{text}")
    if args.csv:
        write_csv(args.csv, rows, peaks)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
