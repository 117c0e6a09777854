"""Milliseconds per SAC / TD3 gradient update, and how close it comes to the device's matmul peak.

For each device (CPU, plus CUDA when available), case (algorithm/architecture) and trunk size, the
real agent from `rlcore.agents.make_agent` is updated on batches sampled from a filled
`rlcore.replay.ReplayBuffer` (random data: speed does not depend on the values). After warm-up
updates, each update is timed on its own and the median, p10 and p90 are reported. Sampling is
done before the clock starts, so the numbers are the update alone.

For reference the same run measures the float32 matmul throughput of each device (square
matrices, median of repeats) and counts each update's matmul FLOPs from the layer shapes, so
every row shows the achieved GFLOP/s and its fraction of that peak. The defaults are Ant-v4 with
contact forces (obs 111, action 8; Ota et al. 2021, Table 2), batch 256, 256x2 MLPs.

    .venv/bin/python benchmarks/update_speed.py                        # 256x2, CPU (+ CUDA)
    .venv/bin/python benchmarks/update_speed.py --widths 256 1024 2048 --csv update_speed.csv
    .venv/bin/python benchmarks/update_speed.py --quick                # a short smoke run
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
from rlcore.nets import EnsembleLinear
from rlcore.replay import ReplayBuffer


# ---- cases: one row of the table per case, size and device ------------------------------------
@dataclass(frozen=True)
class Case:
    """A labelled agent configuration; `make_config` receives the swept trunk (width x depth)."""

    label: str
    make_config: Callable[[NetConfig], AgentConfig]


# A later issue adds architectures here, e.g.
#   Case("sac-layernorm", lambda net: AgentConfig(algo="sac", actor=net,
#                                                 critic=dataclasses.replace(net, norm="layernorm"))),
CASES: list[Case] = [
    Case("sac", lambda net: AgentConfig(algo="sac", actor=net, critic=net)),
    Case("td3", lambda net: AgentConfig(algo="td3", actor=net, critic=net)),
]


# ---- analytic FLOPs -------------------------------------------------------------------------
# Only matmuls are counted (2*B*in*out per member and layer): they dominate the work and are what
# the matmul peak measures. Bias adds, activations, losses and Adam are left out.

Layer = tuple[int, int, int]  # (ensemble members n, in_features, out_features)


def linear_layers(module: torch.nn.Module) -> list[Layer]:
    """Shapes of the module's EnsembleLinear layers, first (the one reading the raw input) first."""
    return [(m.n, m.in_features, m.out_features) for m in module.modules() if isinstance(m, EnsembleLinear)]


def forward_flops(layers: list[Layer], batch: int) -> int:
    return sum(2 * batch * n * i * o for n, i, o in layers)


# The backward of y = x @ W costs one matmul of forward size for dW and one for dx, each only
# when autograd needs it: dW when W requires grad, dx when x does.
def weight_grad_flops(layers: list[Layer], batch: int) -> int:
    return forward_flops(layers, batch)


def input_grad_flops(layers: list[Layer], batch: int, first_needs_grad: bool) -> int:
    return forward_flops(layers if first_needs_grad else layers[1:], batch)


def update_flops(agent, batch: int) -> float:
    """Matmul FLOPs of one `agent.update`, following the passes in rlcore/agents/{sac,td3}.py.

    Twin critics are one n=2 ensemble, so every critic pass computes both members, including
    TD3's actor loss that reads Q1 only (its backward multiplies Q2's zero gradient too).
    Replay inputs never need grad, so the first layer's input gradient is skipped unless the
    action comes from the actor.
    """
    algo = agent.cfg.algo
    actor, critic = linear_layers(agent.actor), linear_layers(agent.critic)
    fwd_a, fwd_c = forward_flops(actor, batch), forward_flops(critic, batch)
    # Critic step: forward on (obs, action) from replay, backward for weights and hidden inputs.
    critic_step = fwd_c + weight_grad_flops(critic, batch) + input_grad_flops(critic, batch, False)
    # Actor step: actor forward, frozen critic forward on its action, backward through the critic
    # for input gradients only (its weights are frozen), then actor weight + hidden input grads.
    actor_step = (fwd_a + fwd_c + input_grad_flops(critic, batch, True)
                  + weight_grad_flops(actor, batch) + input_grad_flops(actor, batch, False))
    if algo == "sac":
        # Target: actor sample on next_obs, target critic on it (no grad); then both steps.
        # The temperature step only reads the detached log-probabilities: no matmuls.
        return fwd_a + fwd_c + critic_step + actor_step
    if algo == "td3":
        # Target actor + target critic on next_obs every update; the actor step every
        # policy_delay updates, so its cost is averaged over them.
        return fwd_a + fwd_c + critic_step + actor_step / agent.cfg.policy_delay
    raise ValueError(f"no FLOP count for algo={algo!r}: add it to update_flops")


def update_period(cfg: AgentConfig) -> int:
    """Updates in one full cycle of the algorithm: TD3 alternates critic-only and full updates."""
    return cfg.policy_delay if cfg.algo == "td3" else 1


def dispatched_flops(agent, batches: list) -> float:
    """FLOPs per update as torch's own counter sees them over one full cycle (checks the count)."""
    period = update_period(agent.cfg)
    with FlopCounterMode(display=False) as counter:
        for k in range(period):
            agent.update(batches[k % len(batches)])
    return counter.get_total_flops() / period


# ---- timing ---------------------------------------------------------------------------------
def synchronizer(device: torch.device) -> Callable[[], None]:
    # CUDA kernels run asynchronously: wait for them before reading the clock.
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


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
    """Share of all CPUs that other processes (and the hypervisor, as steal) used while measuring.

    The benchmark's CPU timings are only meaningful on an otherwise idle machine; this makes a
    busy one visible in the table. Linux only (/proc/stat); `share()` is None elsewhere.
    """

    def __init__(self):
        self._start = self._snapshot()

    @staticmethod
    def _snapshot():
        try:
            with open("/proc/stat") as f:
                # user nice system idle iowait irq softirq steal (guest time is inside user)
                ticks = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK")
        own = os.times()
        return sum(ticks) / hz, (sum(ticks) - ticks[3] - ticks[4]) / hz, own.user + own.system

    def share(self) -> float | None:
        end = self._snapshot()
        if self._start is None or end is None:
            return None
        total, busy, own = (b - a for a, b in zip(self._start, end))
        return max(0.0, busy - own) / total if total > 0 else None


def filled_replay(obs_dim: int, action_dim: int, size: int, device: torch.device, rng) -> ReplayBuffer:
    replay = ReplayBuffer(obs_dim, action_dim, size, device)
    replay.add(rng.standard_normal((size, obs_dim)), rng.uniform(-1, 1, (size, action_dim)),
               rng.standard_normal(size), rng.standard_normal((size, obs_dim)), rng.random(size) < 0.01)
    return replay


def time_updates(agent, batches: list, warmup: int, iters: int, device: torch.device) -> list[float]:
    """Seconds per update, one sample per cycle of `update_period` updates.

    TD3's per-update times alternate between critic-only and full updates; timing whole cycles
    (and dividing) gives a unimodal distribution whose median is the average update.
    """
    sync = synchronizer(device)
    period = update_period(agent.cfg)
    step = 0

    def run_cycle():
        nonlocal step
        for _ in range(period):
            agent.update(batches[step % len(batches)])
            step += 1

    for _ in range(math.ceil(warmup / period)):
        run_cycle()
    sync()
    samples = []
    for _ in range(math.ceil(iters / period)):
        t0 = time.perf_counter()
        run_cycle()
        sync()
        samples.append((time.perf_counter() - t0) / period)
    return samples


# ---- the benchmark --------------------------------------------------------------------------
@dataclass
class Row:
    device: str
    case: str
    width: int
    depth: int
    params: int  # trainable parameters of actor + critics (targets excluded)
    ms_p50: float
    ms_p10: float
    ms_p90: float
    mflop_per_update: float
    gflops: float  # achieved, from the median time
    peak_fraction: float  # of the device's measured matmul peak
    flop_check: float  # torch's dispatched FLOPs / analytic count (1.0 = the count is right)
    other_cpu: float | None  # share of the CPUs other processes used while this row was timed


def benchmark_row(case: Case, net: NetConfig, args, device: torch.device, peak_gflops: float) -> Row:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cfg = dataclasses.replace(case.make_config(net), batch_size=args.batch_size)
    agent = make_agent(cfg, args.obs_dim, args.action_dim, device)
    replay = filled_replay(args.obs_dim, args.action_dim, args.replay_size, device, rng)
    # A pool of distinct batches, cycled: sampling stays outside the timed region.
    batches = [replay.sample(cfg.batch_size) for _ in range(args.batch_pool)]

    load = OtherCpuLoad()
    seconds = time_updates(agent, batches, args.warmup, args.iters, device)
    other_cpu = load.share()
    flops = update_flops(agent, cfg.batch_size)
    check = dispatched_flops(agent, batches) / flops
    p10, p50, p90 = np.percentile(np.asarray(seconds) * 1e3, [10, 50, 90])
    gflops = flops / (p50 / 1e3) / 1e9
    params = sum(p.numel() for m in (agent.actor, agent.critic) for p in m.parameters())
    return Row(device.type, case.label, net.width, net.depth, params, p50, p10, p90, flops / 1e6,
               gflops, gflops / peak_gflops, check, other_cpu)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_table(rows: list[Row]) -> str:
    header = ["device", "case", "width", "depth", "params", "ms p50", "ms p10", "ms p90",
              "MFLOP/upd", "GFLOP/s", "% peak", "% CPU other"]
    body = [[r.device, r.case, str(r.width), str(r.depth), f"{r.params:,}", f"{r.ms_p50:.3f}",
             f"{r.ms_p10:.3f}", f"{r.ms_p90:.3f}", f"{r.mflop_per_update:,.1f}", f"{r.gflops:.1f}",
             f"{100 * r.peak_fraction:.1f}", "?" if r.other_cpu is None else f"{100 * r.other_cpu:.0f}"]
            for r in rows]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

    def fmt(line: list[str]) -> str:  # text columns (device, case) left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))

    rule = "-" * len(fmt(header))
    return "\n".join([fmt(header), rule] + [fmt(line) for line in body])


LEGEND = """\
ms p50/p10/p90  wall time per update (TD3: timed over whole policy_delay cycles, divided)
MFLOP/upd       matmul FLOPs of one update, counted from the layer shapes
GFLOP/s         MFLOP/upd over the median time; % peak: its share of the largest matmul rate above
% CPU other     share of the CPUs that other processes used while the row was timed"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    labels = [c.label for c in CASES]
    p.add_argument("--obs-dim", type=int, default=111, help="default 111 (Ant-v4, use_contact_forces=True)")
    p.add_argument("--action-dim", type=int, default=8, help="default 8 (Ant-v4)")
    p.add_argument("--batch-size", type=int, default=256, help="default 256")
    p.add_argument("--widths", type=int, nargs="+", default=[256], help="hidden widths (default 256)")
    p.add_argument("--depths", type=int, nargs="+", default=[2], help="hidden depths (default 2)")
    p.add_argument("--cases", nargs="+", default=labels, choices=labels, help="default: all")
    p.add_argument("--devices", nargs="+", choices=["cpu", "cuda"],
                   help="default: cpu, and cuda when torch.cuda.is_available()")
    p.add_argument("--warmup", type=int, default=50, help="untimed updates first (default 50)")
    p.add_argument("--iters", type=int, default=300, help="timed updates (default 300)")
    p.add_argument("--matmul-sizes", type=int, nargs="+", default=[1024, 2048],
                   help="square matmul sizes for the peak (default 1024 2048)")
    p.add_argument("--matmul-repeats", type=int, default=10, help="timed repeats per size (default 10)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--replay-size", type=int, default=10_000, help="replay transitions (default 10000)")
    p.add_argument("--batch-pool", type=int, default=32, help="pre-sampled batches, cycled (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="short run: sets 10 warm-up and 50 timed updates, 3 matmul repeats")
    p.add_argument("--csv", metavar="PATH", help="also write the rows to this CSV file")
    args = p.parse_args(argv)
    if args.quick:
        args.warmup, args.iters, args.matmul_repeats = 10, 50, 3
    if args.devices is None:
        args.devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in args.devices and not torch.cuda.is_available():
        p.error("--devices cuda: torch.cuda.is_available() is False")
    return args


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
    print(f"obs {args.obs_dim}, action {args.action_dim}, batch {args.batch_size}, "
          f"{args.warmup} warm-up + {args.iters} timed updates per row")


def measure_peaks(devices: list[torch.device], args) -> dict[str, float]:
    """The largest float32 matmul rate of each device, in GFLOP/s; prints every size's rate."""
    peaks = {}
    for device in devices:
        load = OtherCpuLoad()
        rates = {n: matmul_gflops(n, device, args.matmul_repeats) for n in args.matmul_sizes}
        other = load.share()
        peaks[device.type] = max(rates.values())
        print(f"{device.type}: {device_name(device)}; float32 matmul "
              + ", ".join(f"{n}^2 {g:,.1f}" for n, g in rates.items())
              + f" GFLOP/s (peak {peaks[device.type]:,.1f})"
              + ("" if other is None else f"; other processes {100 * other:.0f}% CPU meanwhile"))
    return peaks


def print_checks(rows: list[Row], devices: list[torch.device], peaks: dict[str, float], args) -> None:
    # Shared or virtual machines can change speed mid-run without any visible load: re-measure.
    for device in devices:
        after = max(matmul_gflops(n, device, args.matmul_repeats) for n in args.matmul_sizes)
        drift = after / peaks[device.type] - 1
        print(f"{device.type} matmul peak after the rows: {after:,.1f} GFLOP/s ({100 * drift:+.0f}%)"
              + ("  WARNING: the device's speed changed during the run" if abs(drift) > 0.1 else ""))
    off = [r for r in rows if abs(r.flop_check - 1) > 0.01]
    for r in off:
        print(f"WARNING {r.device} {r.case} {r.width}x{r.depth}: torch counted {r.flop_check:.3f}x "
              "the analytic FLOPs; update_flops does not match the agent's passes")
    if not off:
        print("Analytic FLOP counts agree with torch.utils.flop_counter on every row.")
    if any(r.other_cpu is not None and r.other_cpu > 0.1 for r in rows):
        print("WARNING: other processes used over 10% of the CPUs while some rows were timed "
              "(% CPU other); rerun those on an idle machine.")


def write_csv(path: str, rows: list[Row], peaks: dict[str, float]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["torch", "threads", "device_name", "peak_gflops",
                                               *(fl.name for fl in dataclasses.fields(Row))])
        writer.writeheader()
        for r in rows:
            writer.writerow({"torch": torch.__version__, "threads": torch.get_num_threads(),
                             "device_name": device_name(torch.device(r.device)),
                             "peak_gflops": peaks[r.device], **dataclasses.asdict(r)})


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device(d) for d in args.devices]
    cases = [c for c in CASES if c.label in args.cases]

    print_header(args)
    peaks = measure_peaks(devices, args)
    rows = []
    for device in devices:
        for width in args.widths:
            for depth in args.depths:
                for case in cases:
                    net = NetConfig(width=width, depth=depth)
                    rows.append(benchmark_row(case, net, args, device, peaks[device.type]))
                    print(f"  done {device.type} {case.label} {width}x{depth}", file=sys.stderr, flush=True)
    print()
    print(format_table(rows))
    print()
    print(LEGEND)
    print()
    print_checks(rows, devices, peaks, args)
    if args.csv:
        write_csv(args.csv, rows, peaks)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
