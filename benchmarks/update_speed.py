"""Milliseconds per SAC / TD3 gradient update, and how close it comes to the device's matmul peak.

For each device (CPU, plus CUDA when available), case (algorithm/architecture) and trunk size, the
real agent from `rlcore.agents.make_agent` is updated on batches sampled from a filled
`rlcore.replay.ReplayBuffer` (random data: speed does not depend on the values). After warm-up
updates, each update is timed on its own and the median, p10 and p90 are reported. Sampling is
done before the clock starts, so the numbers are the update alone. With OFENet one "update" is
what the trainer does per environment step: `update_features(batch)` then `update(batch')` (two
different batches, rlcore/train.py); the two parts are also reported on their own (ms feat, ms agent).

For reference the same run measures the float32 matmul throughput of each device (square
matrices, median of repeats) and counts each update's matmul FLOPs from the layer shapes, so
every row shows the achieved GFLOP/s and its fraction of that peak. The count is checked against
`torch.utils.flop_counter` on every row.

Suites (`--suite`, several allowed; default `mlp`), each with its own sizes and iteration counts:

  mlp    sac, td3 with 256x2 MLPs on Ant-v4 with contact forces (obs 111, action 8; Ota et al.
         2021, Table 2), batch 256; 50 warm-up + 300 timed updates per row (the original table).
  large  Ota et al. 2021's large agent ("ours", `rlcore.experiments.ota_ours_agent`): OFENet
         (8 DenseNet layers x 256 units = 2048, BatchNorm, Swish; predicts Ant's 27 next-state
         dims) feeding a 2 x 2048 MLP-DenseNet actor and critic with Swish and Huber critic loss;
         SAC without BatchNorm in actor/critic, TD3 with it ("we omit BN for SAC", Ota 3.3).
         Ant dims (111 + 8), batch 256. ~1.5 s per update on 2 CPU cores: 2 warm-up + 8 timed.
  heads  Bjorck et al. 2021's actor/critic heads on DrQ's encoder output, without the pixel
         encoder: input = 50 features (DrQ's feature_dim) + 6 action dims (cheetah/walker), width
         1024 (DrQ's hidden_dim), depth 2 and 4: `sac` = plain MLP (depth = hidden layers),
         `sac-modern` = linear embedding + `depth` pre-LayerNorm residual blocks (expansion 1),
         `sac-modern-sn` = the same with spectral normalization on actor and critic (every linear
         layer but the first and the last, one power-iteration step per training forward, targets
         iterating their own u, v). 3 warm-up + 15 timed updates.

    .venv/bin/python benchmarks/update_speed.py                        # 256x2, CPU (+ CUDA), ~10 s
    .venv/bin/python benchmarks/update_speed.py --widths 256 1024 2048 --csv update_speed.csv
    .venv/bin/python benchmarks/update_speed.py --quick                # a short smoke run
    .venv/bin/python benchmarks/update_speed.py --suite large          # OFENet + DenseNet 2x2048, ~1 min
    .venv/bin/python benchmarks/update_speed.py --suite heads          # modern / SN heads, ~2 min
    .venv/bin/python benchmarks/update_speed.py --suite mlp large heads --csv all.csv
    .venv/bin/python benchmarks/update_speed.py --suite large --cases sac-ofenet-densenet --profile
    .venv/bin/python benchmarks/update_speed.py --suite large --cases sac-ofenet-densenet \\
        --variants base threads1 thp densegrad thp+densegrad --repeats 2

`--warmup` / `--iters` override a suite's counts. `--profile` adds, per row, where the update's
time goes (torch.profiler, self time by op category, matmul GFLOP/s). `--variants` re-runs the
rows in one subprocess per variant and prints them side by side; a variant is one or more of these
prototypes joined by '+', applied to rlcore from outside (nothing under rlcore/ is changed):

  base      rlcore as it is
  threads1  torch.set_num_threads(1) (default: one thread per core)
  thp       THP_MEM_ALLOC_ENABLE=1 (c10's CPU allocator madvises >= 2 MiB blocks as transparent
            huge pages: a fresh 50 MB gradient faults in 25 huge pages instead of 12,000 small ones)
  mallopt   glibc mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2 GiB): freed blocks stay in the heap and
            are reused, so large tensors stop being mmap'ed and page-faulted at every allocation
  densegrad DenseNet/OFENet layers compute the input gradient only for the columns that need one
            (stock autograd multiplies the whole concatenated input, incl. z_s / z_sa blocks that
            are constants in the step); see `densegrad_patch`
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from rlcore.agents import make_agent
from rlcore.config import AgentConfig, NetConfig
from rlcore.experiments import ota_ours_agent
from rlcore.nets import EnsembleLinear, SpectralLinear
from rlcore.replay import ReplayBuffer


# ---- cases and suites: one row of the table per case, size and device ---------------------------
@dataclass(frozen=True)
class Case:
    """A labelled agent configuration; `make_config` receives the swept trunk (width x depth)."""

    label: str
    make_config: Callable[[NetConfig], AgentConfig]


@dataclass(frozen=True)
class Suite:
    """Cases with the sizes, input dimensions and iteration counts they are benchmarked at."""

    name: str
    cases: list[Case]
    widths: list[int]
    depths: list[int]
    obs_dim: int
    action_dim: int
    env_id: str | None  # picks OFENet's predicted next-state dims (rlcore.nets.ofenet.TARGET_DIMS)
    warmup: int
    iters: int
    quick: tuple[int, int]  # (warmup, iters) with --quick


def _mlp_cases() -> list[Case]:
    # A later issue adds architectures here, e.g.
    #   Case("sac-layernorm", lambda net: AgentConfig(algo="sac", actor=net,
    #                                                 critic=dataclasses.replace(net, norm="layernorm"))),
    return [Case("sac", lambda net: AgentConfig(algo="sac", actor=net, critic=net)),
            Case("td3", lambda net: AgentConfig(algo="td3", actor=net, critic=net))]


def _large_cases() -> list[Case]:
    # `ota_ours_agent` is the paper's agent as the experiments build it: OFENet 8 x 256 (2048 units),
    # DenseNet actor/critic with Swish, BatchNorm for TD3 only, Huber critic loss.
    return [Case("sac-ofenet-densenet", lambda net: ota_ours_agent("sac", width=net.width, depth=net.depth)),
            Case("td3-ofenet-densenet-bn", lambda net: ota_ours_agent("td3", width=net.width, depth=net.depth))]


def _heads_cases() -> list[Case]:
    def sac(kind: str, sn: bool = False) -> Callable[[NetConfig], AgentConfig]:
        def make(net: NetConfig) -> AgentConfig:
            spec = dataclasses.replace(net, kind=kind, spectral_norm=sn)
            return AgentConfig(algo="sac", actor=spec, critic=spec)
        return make
    return [Case("sac", sac("mlp")), Case("sac-modern", sac("modern")), Case("sac-modern-sn", sac("modern", True))]


SUITES: dict[str, Suite] = {s.name: s for s in [
    Suite("mlp", _mlp_cases(), [256], [2], 111, 8, "Ant-v4", 50, 300, (10, 50)),
    Suite("large", _large_cases(), [2048], [2], 111, 8, "Ant-v4", 2, 8, (1, 3)),
    Suite("heads", _heads_cases(), [1024], [2, 4], 50, 6, None, 3, 15, (1, 5)),
]}
# Kept for callers of the original script: the mlp suite's cases.
CASES: list[Case] = SUITES["mlp"].cases


# ---- analytic FLOPs -------------------------------------------------------------------------
# Only matmuls are counted (2*B*in*out per member and layer): they dominate the work and are what
# the matmul peak measures. Bias adds, activations, normalizations, losses and Adam are left out.
# The backward of y = x @ W costs one matmul of forward size for dW and one for dx, each only when
# autograd needs it: dW when W requires grad, dx when x does. autograd computes dx for the whole
# input of a layer even where parts of it are constants (DenseNet's concatenated z_s / z_sa):
# those FLOPs are dispatched and counted here (see `densegrad_patch` for skipping them).
#
# Spectral norm (rlcore.nets.SpectralLinear) adds matrix-vector products of 2*n*in*out FLOPs
# (1/B of the layer's matmul; 0.4% at B=256): two per power-iteration step in each forward that
# iterates (online modules in training mode, `sn_target="own"` targets), the estimate
# sigma = v^T W u in every forward (einsum: 2*n*in*out + 2*n*out), and its gradient w.r.t. W
# (the same again) when W requires grad. They are counted, so the check below stays exact.

def linear_layers(module: torch.nn.Module) -> list[EnsembleLinear]:
    """The module's linear layers, first (the one reading the module's input) first."""
    return [m for m in module.modules() if isinstance(m, EnsembleLinear)]


def pass_flops(module: torch.nn.Module, batch: int, *, backward: bool = False, weight_grad: bool = False,
               input_grad: bool = False, online: bool = True) -> float:
    """Matmul FLOPs of one forward (and backward) pass of `module` on `batch` rows.

    weight_grad: the module's parameters require grad; input_grad: its input does. The first
    layer's dx is needed only when the input requires grad; every later layer's input depends on
    the module's parameters or input, so it needs dx when either does. `online`: the module is
    an online network (training mode in updates), not a target.
    """
    total = 0.0
    for k, m in enumerate(linear_layers(module)):
        mm = 2 * batch * m.n * m.in_features * m.out_features
        total += mm
        if backward:
            total += mm if weight_grad else 0
            total += mm if (input_grad or (k > 0 and weight_grad)) else 0
        if isinstance(m, SpectralLinear):
            mv = 2 * m.n * m.in_features * m.out_features
            if online or m.iterate_in_eval:
                total += 2 * mv * m.power_iterations
            sigma = mv + 2 * m.n * m.out_features
            total += sigma
            total += sigma if (backward and weight_grad) else 0
    return total


def feature_update_flops(agent, batch: int) -> float:
    """Matmul FLOPs of one `agent.update_features` (OFENet's auxiliary step; 0 without OFENet)."""
    ext = agent.extractor
    if not ext.learns:
        return 0.0
    # z_s from raw obs (no dx on its first layer), z_sa from [z_s, a] with z_s requiring grad,
    # the linear predictor on z_sa; all weights trained.
    return (pass_flops(ext.state_stack, batch, backward=True, weight_grad=True)
            + pass_flops(ext.state_action_stack, batch, backward=True, weight_grad=True, input_grad=True)
            + pass_flops(ext.predictor, batch, backward=True, weight_grad=True, input_grad=True))


def agent_update_flops(agent, batch: int) -> float:
    """Matmul FLOPs of one `agent.update`, following the passes in rlcore/agents/{sac,td3}.py.

    Twin critics are one n=2 ensemble, so every critic pass computes both members, including
    TD3's actor loss that reads Q1 only (its backward multiplies Q2's zero gradient too).
    Replay inputs never need grad, so the first layer's input gradient is skipped unless the
    input comes from the actor. OFENet (when on) is frozen inside `update`: z_s, z_sa and the
    target's features are no-grad passes, but the actor's gradient flows back through the
    state-action stack to the action (dx in every layer, no dW).
    """
    cfg, ext, ext_t = agent.cfg, agent.extractor, agent.extractor_target
    ofe = ext.learns

    def stack(module_name: str, target: bool = False, **kw) -> float:
        if not ofe:
            return 0.0
        return pass_flops(getattr(ext_t if target else ext, module_name), batch, online=not target, **kw)

    # No-grad part: features of s (online) and s' (target), the target critic on s'.
    features = (stack("state_stack") + stack("state_action_stack")
                + stack("state_stack", target=True) + stack("state_action_stack", target=True))
    target_critic = pass_flops(agent.critic_target, batch, online=False)
    # Critic step: forward on z_sa from replay, backward for weights and hidden inputs.
    critic_step = pass_flops(agent.critic, batch, backward=True, weight_grad=True)
    # Actor step: actor forward/backward, then a frozen OFENet state-action stack and a frozen
    # critic on its action, which need input gradients only.
    actor_step = (pass_flops(agent.actor, batch, backward=True, weight_grad=True)
                  + stack("state_action_stack", backward=True, input_grad=True)
                  + pass_flops(agent.critic, batch, backward=True, input_grad=True))
    if cfg.algo == "sac":
        # The target's next action comes from the online actor (no grad); the temperature step only
        # reads the detached log-probabilities: no matmuls.
        return features + pass_flops(agent.actor, batch) + target_critic + critic_step + actor_step
    if cfg.algo == "td3":
        # Target actor + target critic on s' every update; the actor step every policy_delay
        # updates, so its cost is averaged over them.
        return (features + pass_flops(agent.actor_target, batch, online=False) + target_critic
                + critic_step + actor_step / cfg.policy_delay)
    raise ValueError(f"no FLOP count for algo={cfg.algo!r}: add it to agent_update_flops")


def update_flops(agent, batch: int) -> float:
    """Matmul FLOPs of what the trainer runs per environment step: features step + agent update."""
    return feature_update_flops(agent, batch) + agent_update_flops(agent, batch)


def update_period(cfg: AgentConfig) -> int:
    """Updates in one full cycle of the algorithm: TD3 alternates critic-only and full updates."""
    return cfg.policy_delay if cfg.algo == "td3" else 1


class Updater:
    """Runs the trainer's per-step work on pre-sampled batches, timing its parts.

    Like rlcore/train.py: with OFENet, `update_features` on one batch, then `update` on another.
    """

    def __init__(self, agent, batches: list, device: torch.device):
        self.agent, self.batches, self.sync = agent, batches, synchronizer(device)
        self.period = update_period(agent.cfg)
        self.step = 0

    def __call__(self) -> tuple[float, float]:
        """One update; returns (seconds in update_features, seconds in update)."""
        agent, n = self.agent, len(self.batches)
        t0 = time.perf_counter()
        if agent.learns_features:
            agent.update_features(self.batches[(self.step + n // 2) % n])
            self.sync()
        t1 = time.perf_counter()
        agent.update(self.batches[self.step % n])
        self.sync()
        self.step += 1
        return t1 - t0, time.perf_counter() - t1

    def cycle(self) -> tuple[float, float]:
        """One full cycle of `period` updates; returns per-update seconds (features, agent)."""
        parts = [self() for _ in range(self.period)]
        return (sum(p[0] for p in parts) / self.period, sum(p[1] for p in parts) / self.period)


def dispatched_flops(updater: Updater) -> float:
    """FLOPs per update as torch's own counter sees them over one full cycle (checks the count)."""
    with FlopCounterMode(display=False) as counter:
        updater.cycle()
    return counter.get_total_flops() / updater.period


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
        own = os.times()  # this process and its waited-for children
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


def time_updates(updater: Updater, warmup: int, iters: int) -> list[tuple[float, float]]:
    """(features, agent) seconds per update, one sample per cycle of `update_period` updates.

    TD3's per-update times alternate between critic-only and full updates; timing whole cycles
    (and dividing) gives a unimodal distribution whose median is the average update.
    """
    for _ in range(math.ceil(warmup / updater.period)):
        updater.cycle()
    return [updater.cycle() for _ in range(max(1, math.ceil(iters / updater.period)))]


# ---- the benchmark --------------------------------------------------------------------------
@dataclass
class Row:
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
    mflop_per_update: float
    mflop_features: float
    gflops: float  # achieved, from the median time
    peak_fraction: float  # of the device's measured matmul peak
    flop_check: float  # torch's dispatched FLOPs / analytic count (1.0 = the count is right)
    other_cpu: float | None  # share of the CPUs other processes used while this row was timed
    variant: str = "base"


@dataclass
class Setup:
    """One row's agent, data and sizes, before timing."""

    suite: Suite
    case: Case
    net: NetConfig
    cfg: AgentConfig
    agent: object
    updater: Updater
    obs_dim: int
    action_dim: int


def build(suite: Suite, case: Case, net: NetConfig, args, device: torch.device) -> Setup:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    obs_dim = args.obs_dim or suite.obs_dim
    action_dim = args.action_dim or suite.action_dim
    cfg = dataclasses.replace(case.make_config(net), batch_size=args.batch_size)
    agent = make_agent(cfg, obs_dim, action_dim, device, env_id=suite.env_id)
    replay = filled_replay(obs_dim, action_dim, args.replay_size, device, rng)
    # A pool of distinct batches, cycled: sampling stays outside the timed region.
    batches = [replay.sample(cfg.batch_size) for _ in range(args.batch_pool)]
    return Setup(suite, case, net, cfg, agent, Updater(agent, batches, device), obs_dim, action_dim)


def iterations(suite: Suite, args) -> tuple[int, int]:
    warmup, iters = suite.quick if args.quick else (suite.warmup, suite.iters)
    return (args.warmup if args.warmup is not None else warmup, args.iters if args.iters is not None else iters)


def benchmark_row(s: Setup, args, device: torch.device, peak_gflops: float) -> Row:
    warmup, iters = iterations(s.suite, args)
    load = OtherCpuLoad()
    samples = np.asarray(time_updates(s.updater, warmup, iters)) * 1e3  # (cycles, 2) ms
    other_cpu = load.share()
    batch = s.cfg.batch_size
    flops, flops_features = update_flops(s.agent, batch), feature_update_flops(s.agent, batch)
    check = dispatched_flops(s.updater) / flops
    total = samples.sum(axis=1)
    p10, p50, p90 = np.percentile(total, [10, 50, 90])
    gflops = flops / (p50 / 1e3) / 1e9
    agent = s.agent
    modules = [agent.actor, agent.critic] + ([agent.extractor] if agent.learns_features else [])
    params = sum(p.numel() for m in modules for p in m.parameters())
    return Row(device.type, s.suite.name, s.case.label, s.net.width, s.net.depth, s.obs_dim, s.action_dim,
               params, len(total), p50, p10, p90,
               float(np.median(samples[:, 0])) if agent.learns_features else None,
               float(np.median(samples[:, 1])), flops / 1e6, flops_features / 1e6, gflops,
               gflops / peak_gflops, check, other_cpu, args.variant)


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


def _other(r) -> str:
    return "?" if r.other_cpu is None else f"{100 * r.other_cpu:.0f}"


def render(header: list[str], body: list[list[str]], text_columns: int) -> str:
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

    def fmt(line: list[str]) -> str:  # text columns left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i < text_columns else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line, widths)))

    rule = "-" * len(fmt(header))
    return "\n".join([fmt(header), rule] + [fmt(line) for line in body])


def format_table(rows: list[Row]) -> str:
    header = ["device", "case", "width", "depth", "in", "params", "n", "ms p50", "ms p10", "ms p90",
              "ms feat", "ms agent", "MFLOP/upd", "GFLOP/s", "% peak", "% CPU other"]
    body = [[r.device, r.case, str(r.width), str(r.depth), f"{r.obs_dim}+{r.action_dim}", f"{r.params:,}",
             str(r.samples), f"{r.ms_p50:.3f}", f"{r.ms_p10:.3f}", f"{r.ms_p90:.3f}",
             "-" if r.ms_features_p50 is None else f"{r.ms_features_p50:.3f}", f"{r.ms_agent_p50:.3f}",
             f"{r.mflop_per_update:,.1f}", f"{r.gflops:.1f}", f"{100 * r.peak_fraction:.1f}", _other(r)]
            for r in rows]
    return render(header, body, 2)


LEGEND = """\
in              observation + action dims the agent reads
n               timed samples (TD3: whole policy_delay cycles)
ms p50/p10/p90  wall time per update (TD3: timed over whole policy_delay cycles, divided);
                with OFENet an update is update_features + update, as the trainer runs per env step
ms feat/agent   medians of the two parts on their own (feat: OFENet's auxiliary step)
MFLOP/upd       matmul FLOPs of one update, counted from the layer shapes
GFLOP/s         MFLOP/upd over the median time; % peak: its share of the largest matmul rate above
% CPU other     share of the CPUs that other processes used while the row was timed"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    labels = sorted({c.label for s in SUITES.values() for c in s.cases})
    p.add_argument("--suite", nargs="+", default=["mlp"], choices=[*SUITES, "all"],
                   help="which suites (default mlp; see below)")
    p.add_argument("--obs-dim", type=int, help="override the suite's (mlp/large 111: Ant-v4 with contact forces)")
    p.add_argument("--action-dim", type=int, help="override the suite's (mlp/large 8: Ant-v4)")
    p.add_argument("--batch-size", type=int, default=256, help="default 256")
    p.add_argument("--widths", type=int, nargs="+", help="hidden widths (default: the suite's)")
    p.add_argument("--depths", type=int, nargs="+", help="hidden depths or blocks (default: the suite's)")
    p.add_argument("--cases", nargs="+", choices=labels, help="only these cases of the suites (default: all)")
    p.add_argument("--devices", nargs="+", choices=["cpu", "cuda"],
                   help="default: cpu, and cuda when torch.cuda.is_available()")
    p.add_argument("--warmup", type=int, help="untimed updates first (default: the suite's, mlp 50, large 2, heads 3)")
    p.add_argument("--iters", type=int, help="timed updates (default: the suite's, mlp 300, large 8, heads 15)")
    p.add_argument("--matmul-sizes", type=int, nargs="+", default=[1024, 2048],
                   help="square matmul sizes for the peak (default 1024 2048)")
    p.add_argument("--matmul-repeats", type=int, default=10, help="timed repeats per size (default 10)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--replay-size", type=int, default=10_000, help="replay transitions (default 10000)")
    p.add_argument("--batch-pool", type=int, default=32, help="pre-sampled batches, cycled (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="short run: fewer updates (mlp 10 + 50, large 1 + 3, heads 1 + 5), 3 matmul repeats")
    p.add_argument("--profile", action="store_true",
                   help="per row, where the update's time goes (torch.profiler, by op category)")
    p.add_argument("--profile-updates", type=int, default=2, help="updates profiled per row (default 2)")
    p.add_argument("--profile-top", type=int, default=12, help="also list the N slowest ops with shapes (default 12)")
    p.add_argument("--variants", nargs="+", metavar="VARIANT",
                   help=f"compare prototypes, one subprocess each: {', '.join(PROTOTYPES)}, joined by '+'")
    p.add_argument("--repeats", type=int, default=1, help="with --variants: rounds over all variants (default 1)")
    p.add_argument("--wait-idle", type=float, default=0, metavar="S",
                   help="with --variants: before each run wait up to S seconds for the other processes "
                        "to leave the CPUs idle (default 0: no wait)")
    p.add_argument("--variant", default="base", help=argparse.SUPPRESS)  # set in --variants' subprocesses
    p.add_argument("--emit-json", help=argparse.SUPPRESS)  # where a --variants subprocess writes its rows
    p.add_argument("--csv", metavar="PATH", help="also write the rows to this CSV file")
    args = p.parse_args(argv)
    if "all" in args.suite:
        args.suite = list(SUITES)
    if args.quick:
        args.matmul_repeats = 3
    if args.devices is None:
        args.devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in args.devices and not torch.cuda.is_available():
        p.error("--devices cuda: torch.cuda.is_available() is False")
    for v in (args.variants or []) + [args.variant]:
        unknown = [x for x in v.split("+") if x not in PROTOTYPES]
        if unknown:
            p.error(f"unknown prototype {unknown[0]!r} in variant {v!r}: expected {', '.join(PROTOTYPES)}")
    return args


def selected(args) -> list[tuple[Suite, Case, NetConfig]]:
    out = []
    for name in args.suite:
        suite = SUITES[name]
        for width in args.widths or suite.widths:
            for depth in args.depths or suite.depths:
                for case in suite.cases:
                    if args.cases is None or case.label in args.cases:
                        out.append((suite, case, NetConfig(width=width, depth=depth)))
    return out


def print_header(args) -> None:
    idle_check = OtherCpuLoad()
    time.sleep(1.0)  # a second of doing nothing: how busy is the machine without us?
    busy = idle_check.share()
    cuda = f", CUDA {torch.version.cuda}" if torch.cuda.is_available() else ""
    print(f"torch {torch.__version__}{cuda}, python {platform.python_version()}, "
          f"threads {torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} inter-op, "
          f"{os.cpu_count()} CPUs, float32 matmul precision '{torch.get_float32_matmul_precision()}'"
          + (f", THP_MEM_ALLOC_ENABLE={os.environ['THP_MEM_ALLOC_ENABLE']}" if "THP_MEM_ALLOC_ENABLE" in os.environ else ""))
    if busy is not None:
        print(f"CPUs busy with other work before start: {100 * busy:.0f}%"
              + ("  WARNING: CPU timings will be slow and noisy" if busy > 0.1 else ""))
    for name in args.suite:
        suite = SUITES[name]
        warmup, iters = iterations(suite, args)
        print(f"suite {name}: obs {args.obs_dim or suite.obs_dim}, action {args.action_dim or suite.action_dim}, "
              f"batch {args.batch_size}, {warmup} warm-up + {iters} timed updates per row")
    if args.variant != "base":
        print(f"variant: {args.variant}")


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


def print_checks(rows: list[Row], devices: list[torch.device], peaks: dict[str, float], args) -> dict[str, float]:
    # Shared or virtual machines can change speed mid-run without any visible load: re-measure.
    after = {}
    for device in devices:
        after[device.type] = max(matmul_gflops(n, device, args.matmul_repeats) for n in args.matmul_sizes)
        drift = after[device.type] / peaks[device.type] - 1
        print(f"{device.type} matmul peak after the rows: {after[device.type]:,.1f} GFLOP/s ({100 * drift:+.0f}%)"
              + ("  WARNING: the device's speed changed during the run" if abs(drift) > 0.1 else ""))
    off = [r for r in rows if abs(r.flop_check - 1) > 0.01]
    for r in off:
        print(f"{'NOTE' if args.variant != 'base' else 'WARNING'} {r.device} {r.case} {r.width}x{r.depth}: "
              f"torch counted {r.flop_check:.3f}x the analytic FLOPs"
              + (f" (variant {args.variant} dispatches other matmuls)" if args.variant != "base"
                 else "; update_flops does not match the agent's passes"))
    if not off:
        print("Analytic FLOP counts agree with torch.utils.flop_counter on every row.")
    if any(r.other_cpu is not None and r.other_cpu > 0.1 for r in rows):
        print("WARNING: other processes used over 10% of the CPUs while some rows were timed "
              "(% CPU other); rerun those on an idle machine.")
    return after


def write_csv(path: str, rows: list[Row], peaks: dict[str, float]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["torch", "threads", "device_name", "peak_gflops",
                                               *(fl.name for fl in dataclasses.fields(Row))])
        writer.writeheader()
        for r in rows:
            writer.writerow({"torch": torch.__version__, "threads": torch.get_num_threads(),
                             "device_name": device_name(torch.device(r.device)),
                             "peak_gflops": peaks[r.device], **dataclasses.asdict(r)})


# ---- profile: where the update's time goes ------------------------------------------------------
# Self time of every op (children excluded), so the categories add up to the profiled wall time.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("matmul fwd (baddbmm/addmm)", ("aten::baddbmm", "aten::addmm")),
    ("matmul bwd + SN (bmm/mm)", ("aten::bmm", "aten::mm")),
    ("Adam (fused)", ("aten::_fused_adam_", "Optimizer.step")),
    ("zero_grad (frees grads)", ("Optimizer.zero_grad",)),
    ("target soft update (lerp)", ("aten::lerp_", "aten::_foreach_lerp_", "aten::_foreach_copy_")),
    ("cat / copies / zeros", ("aten::cat", "aten::copy_", "aten::clone", "aten::_to_copy", "aten::zero_",
                              "aten::fill_", "aten::zeros", "aten::new_zeros", "aten::slice_backward",
                              "aten::contiguous", "aten::index", "aten::narrow_copy")),
    ("activations (+bwd)", ("aten::silu", "aten::silu_backward", "aten::relu", "aten::threshold_backward",
                            "aten::tanh", "aten::tanh_backward", "aten::clamp", "aten::exp", "aten::softplus",
                            "aten::softplus_backward")),
    ("norms (+bwd)", ("aten::native_batch_norm", "aten::native_batch_norm_backward",
                      "aten::native_layer_norm", "aten::native_layer_norm_backward", "aten::_batch_norm_impl_index",
                      "aten::batch_norm", "aten::layer_norm")),
    ("elementwise (add, mul, sum, ...)", ("aten::add", "aten::add_", "aten::mul", "aten::mul_", "aten::sum",
                                          "aten::sub", "aten::div", "aten::div_", "aten::mean", "aten::neg",
                                          "aten::where", "aten::min", "aten::square", "aten::pow",
                                          "aten::huber_loss", "aten::huber_loss_backward", "aten::expand_as",
                                          "aten::sigmoid", "aten::linalg_vector_norm", "aten::clamp_min",
                                          "aten::addcmul_", "aten::sqrt")),
]


def category_of(name: str) -> str:
    for category, names in CATEGORIES:
        if any(name == n or name.startswith(n + "#") for n in names):
            return category
    return "framework / other ops"


def profile_row(s: Setup, args, peak: float) -> str:
    from torch.profiler import ProfilerActivity, profile

    updater = s.updater
    updater.cycle()  # warm
    cycles = max(1, math.ceil(args.profile_updates / updater.period))
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU], with_flops=True, record_shapes=True) as prof:
        for _ in range(cycles):
            updater.cycle()
    wall_ms = (time.perf_counter() - t0) * 1e3 / (cycles * updater.period)
    per = cycles * updater.period
    totals: dict[str, list[float]] = {}
    for e in prof.key_averages():
        c = category_of(e.key)
        acc = totals.setdefault(c, [0.0, 0.0])
        acc[0] += e.self_cpu_time_total / 1e3 / per
        acc[1] += (e.flops or 0) / per
    profiled = sum(v[0] for v in totals.values())
    lines = [f"profile {s.case.label} {s.net.width}x{s.net.depth}: {wall_ms:.1f} ms per update under the "
             f"profiler ({per} updates), ops' self time adds up to {profiled:.1f} ms"]
    header = ["category", "ms/update", "% of update", "GFLOP/s", "% peak"]
    body = []
    order = [c for c, _ in CATEGORIES] + ["framework / other ops"]
    for c in order:
        if c not in totals:
            continue
        ms, fl = totals[c]
        rate = fl / (ms / 1e3) / 1e9 if fl and ms and c in order[:2] else None  # matmuls only
        body.append([c, f"{ms:.1f}", f"{100 * ms / profiled:.1f}", "" if rate is None else f"{rate:.1f}",
                     "" if rate is None else f"{100 * rate / peak:.1f}"])
    mm_ms = sum(totals.get(c, [0, 0])[0] for c in order[:2])
    mm_fl = sum(totals.get(c, [0, 0])[1] for c in order[:2])
    body.append(["all matmuls at the measured peak", f"{mm_fl / peak / 1e6:.1f}",
                 f"{100 * mm_fl / peak / 1e6 / profiled:.1f}", f"{peak:.1f}", "100.0"])
    lines.append(render(header, body, 1))
    lines.append(f"matmuls take {mm_ms:.1f} ms ({100 * mm_ms / profiled:.0f}%); at the peak they would take "
                 f"{mm_fl / peak / 1e6:.1f} ms; everything else {profiled - mm_ms:.1f} ms")
    if args.profile_top:
        rows = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
        header = ["op", "input shapes", "calls/upd", "ms/update", "GFLOP/s"]
        body = []
        for e in rows[: args.profile_top]:
            ms = e.self_cpu_time_total / 1e3 / per
            shapes = ",".join("x".join(map(str, sh)) for sh in (e.input_shapes or []) if sh)
            rate = (e.flops or 0) / per / (ms / 1e3) / 1e9 if e.flops else None
            body.append([e.key, shapes[:60], f"{e.count / per:g}", f"{ms:.1f}", "" if rate is None else f"{rate:.0f}"])
        lines.append(render(header, body, 2))
    return "\n".join(lines)


# ---- prototypes: fixes applied to rlcore from outside, for --variants -----------------------------
def _mallopt() -> None:
    """glibc: never serve allocations by mmap and never trim the heap, so freed blocks are reused."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)):
        raise RuntimeError("mallopt failed")


def _threads1() -> None:
    torch.set_num_threads(1)


def _thp() -> None:
    # c10 reads THP_MEM_ALLOC_ENABLE once, at the first CPU allocation: the parent sets it in the
    # subprocess's environment (see VARIANT_ENV); here we only check it arrived.
    if os.environ.get("THP_MEM_ALLOC_ENABLE") != "1":
        raise RuntimeError("variant thp needs THP_MEM_ALLOC_ENABLE=1 in the environment before torch starts")


class _DenseLinear(torch.autograd.Function):
    """baddbmm(bias, x, weight) whose backward computes dx only for `cols`, the column ranges of x
    that need a gradient (the others get zeros, which autograd discards: they are constants)."""

    @staticmethod
    def forward(ctx, x, weight, bias, cols):
        ctx.save_for_backward(x, weight)
        ctx.cols = cols
        return torch.baddbmm(bias, x, weight)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            if ctx.cols == ((0, x.shape[-1]),):
                dx = torch.bmm(dy, weight.transpose(1, 2))
            else:
                dx = dy.new_zeros(x.shape)
                for a, b in ctx.cols:
                    dx[..., a:b] = torch.bmm(dy, weight[:, a:b].transpose(1, 2))
        if ctx.needs_input_grad[1]:
            dw = torch.bmm(x.transpose(1, 2), dy)
        if ctx.needs_input_grad[2]:
            db = dy.sum(1, keepdim=True)
        return dx, dw, db, None


def _grad_cols(x: torch.Tensor) -> tuple[tuple[int, int], ...]:
    """Column ranges of x that require grad: recorded by the patched modules, else all or none."""
    if not x.requires_grad:
        return ()
    return getattr(x, "_grad_cols", None) or ((0, x.shape[-1]),)


def _merge(ranges) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def _with_cols(t: torch.Tensor, cols) -> torch.Tensor:
    if t.requires_grad:
        t._grad_cols = _merge(cols)
    return t


@contextlib.contextmanager
def densegrad_patch():
    """DenseBlock / OFENet forward that skip input-gradient matmuls for constant input columns.

    Stock: a DenseBlock computes act(norm(W [new..., x0])) and autograd's dx = dy W^T spans every
    input column, although x0 (z_sa in the critic step, z_s in the actor's, z_s inside the
    state-action stack during the actor step) is a constant there. The patched block tracks which
    columns of its input require grad (a `_grad_cols` attribute on the concatenated tensor,
    carried through OFENet's and the trunk's reshapes) and multiplies only those rows of W.
    Forward values and all gradients that are used are unchanged.
    """
    from rlcore.nets import ofenet as ofenet_mod
    from rlcore.nets import trunks

    def block_forward(self, x):
        lin = self.linear
        if isinstance(lin, SpectralLinear) and (lin.training or lin.iterate_in_eval):
            lin.power_iterate(lin.power_iterations)
        cols = _grad_cols(x)
        new = self.act(self.norm(_DenseLinear.apply(x, lin.effective_weight(), lin.bias, cols)))
        w = new.shape[-1]
        out = torch.cat([new, x], dim=-1)
        return _with_cols(out, ([(0, w)] if new.requires_grad else []) + [(a + w, b + w) for a, b in cols])

    def expand(self, x):
        return _with_cols(x.expand(self.n, *x.shape), _grad_cols(x)) if x.dim() == 2 else x

    def state_features(self, obs):
        out = self.state_stack(obs.unsqueeze(0))
        return _with_cols(out.squeeze(0), _grad_cols(out))

    def state_action_features(self, z_s, action):
        d = z_s.shape[-1]
        inp = _with_cols(torch.cat([z_s, action], dim=-1).unsqueeze(0),
                         list(_grad_cols(z_s)) + [(a + d, b + d) for a, b in _grad_cols(action)])
        out = self.state_action_stack(inp)
        return _with_cols(out.squeeze(0), _grad_cols(out))

    patches = [(trunks.DenseBlock, "forward", block_forward), (trunks.Trunk, "_expand", expand),
               (ofenet_mod.OFENet, "state_features", state_features),
               (ofenet_mod.OFENet, "state_action_features", state_action_features)]
    saved = [(cls, name, cls.__dict__[name]) for cls, name, _ in patches]
    for cls, name, fn in patches:
        setattr(cls, name, fn)
    try:
        yield
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)


def densegrad_selftest() -> float:
    """Largest parameter difference between stock and patched small OFENet + DenseNet agents (SAC
    and TD3 with BatchNorm) after 3 updates from the same state on the same batches; raises if
    above 1e-5 (a wrong gradient moves a parameter by about the learning rate, 3e-4).

    Left out: biases of linear layers followed by BatchNorm, whose gradient is zero in exact
    arithmetic (BN removes the mean), so Adam turns rounding noise into lr-sized steps in the
    stock code as in the patched one.
    """
    worst = 0.0
    for algo in ("sac", "td3"):
        cfg = ota_ours_agent(algo, width=64, depth=2, ofenet_units=64, ofenet_layers=4)
        states = []
        for patched in (False, True):
            torch.manual_seed(0)
            agent = make_agent(cfg, 11, 3, "cpu", env_id="Hopper-v4")
            replay = filled_replay(11, 3, 1000, torch.device("cpu"), np.random.default_rng(0))
            with densegrad_patch() if patched else contextlib.nullcontext():
                for _ in range(3):
                    agent.update_features(replay.sample(32))
                    agent.update(replay.sample(32))
            bn_fed = {f"{name}.{path}.linear.bias" for name, m in agent.modules.items()
                      for path, sub in m.named_modules() if type(sub).__name__ == "DenseBlock"
                      and type(sub.norm).__name__ == "EnsembleBatchNorm"}
            states.append({f"{name}.{k}": v for name, m in agent.modules.items()
                           for k, v in m.state_dict().items() if f"{name}.{k}" not in bn_fed})
            torch.manual_seed(0)
        worst = max([worst] + [(states[0][k].double() - states[1][k].double()).abs().max().item() for k in states[0]])
    if worst > 1e-5:
        raise RuntimeError(f"densegrad changes the updates: max parameter difference {worst:.3g}")
    return worst


def _densegrad() -> None:
    print(f"densegrad self-test: stock vs patched parameters after 3 updates differ by at most "
          f"{densegrad_selftest():.2g}")
    patch = densegrad_patch()
    patch.__enter__()  # for the whole subprocess
    _KEEP.append(patch)  # an unreferenced generator context would be closed, undoing the patch


_KEEP: list = []


PROTOTYPES: dict[str, Callable[[], None]] = {"base": lambda: None, "threads1": _threads1, "thp": _thp,
                                             "mallopt": _mallopt, "densegrad": _densegrad}
VARIANT_ENV = {"thp": {"THP_MEM_ALLOC_ENABLE": "1"}}


def child_argv(args, variant: str, json_path: str) -> list[str]:
    argv = [sys.executable, os.path.abspath(__file__), "--suite", *args.suite, "--devices", *args.devices,
            "--batch-size", str(args.batch_size), "--matmul-sizes", *map(str, args.matmul_sizes),
            "--matmul-repeats", str(args.matmul_repeats), "--replay-size", str(args.replay_size),
            "--batch-pool", str(args.batch_pool), "--seed", str(args.seed),
            "--variant", variant, "--emit-json", json_path]
    for flag, value in [("--obs-dim", args.obs_dim), ("--action-dim", args.action_dim),
                        ("--warmup", args.warmup), ("--iters", args.iters), ("--threads", args.threads)]:
        if value is not None:
            argv += [flag, str(value)]
    for flag, values in [("--widths", args.widths), ("--depths", args.depths), ("--cases", args.cases)]:
        if values:
            argv += [flag, *map(str, values)]
    if args.quick:
        argv.append("--quick")
    return argv


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


def run_variants(args) -> None:
    """Each variant in its own process (allocator settings, THP and patches cannot be undone), in
    `--repeats` rounds so that a slow spell of a shared machine hits all variants alike."""
    results: dict[str, list[dict]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.repeats):
            for v in args.variants:
                path = os.path.join(tmp, f"{v}-{rnd}.json")
                env = dict(os.environ)
                for proto in v.split("+"):
                    env.update(VARIANT_ENV.get(proto, {}))
                print(f"  variant {v}, round {rnd + 1}/{args.repeats}", file=sys.stderr, flush=True)
                if args.wait_idle:
                    wait_for_idle(args.wait_idle)
                done = subprocess.run(child_argv(args, v, path), env=env, capture_output=True, text=True)
                if done.returncode:
                    sys.stderr.write(done.stdout + done.stderr)
                    raise SystemExit(f"variant {v} failed (exit {done.returncode})")
                with open(path) as f:
                    results[v].append(json.load(f))
    base = args.variants[0]
    header = ["variant", "case", "width", "depth", "ms p50", "ms feat", "ms agent", f"x vs {base}",
              "GFLOP/s", "% peak", "dispatched", "peak", "% CPU other"]
    body = []
    keys = [(r["device"], r["case"], r["width"], r["depth"]) for r in results[base][0]["rows"]]
    med = lambda xs: float(np.median(xs)) if xs and all(x is not None for x in xs) else None  # noqa: E731
    for key in keys:
        ref = None
        for v in args.variants:
            rows = [next(r for r in run["rows"] if (r["device"], r["case"], r["width"], r["depth"]) == key)
                    for run in results[v]]
            peaks = [run["peaks"][key[0]] for run in results[v]]
            ms, feat, agent = (med([r[k] for r in rows]) for k in ("ms_p50", "ms_features_p50", "ms_agent_p50"))
            stock_mflop = rows[0]["mflop_per_update"]  # analytic count of the stock update
            ref = ref or ms
            gflops = stock_mflop / ms  # MFLOP per ms = GFLOP/s
            other = [r["other_cpu"] for r in rows if r["other_cpu"] is not None]
            body.append([v, key[1], str(key[2]), str(key[3]), f"{ms:.1f}", "-" if feat is None else f"{feat:.1f}",
                         f"{agent:.1f}", f"{ref / ms:.3f}", f"{gflops:.1f}", f"{100 * gflops / med(peaks):.1f}",
                         f"{med([r['flop_check'] for r in rows]):.3f}", f"{med(peaks):.1f}",
                         f"{100 * max(other):.0f}" if other else "?"])
    print()
    print(render(header, body, 2))
    print()
    print(f"""\
ms p50/feat/agent  medians over {args.repeats} round(s) of each run's median
GFLOP/s, % peak    the stock update's analytic matmul FLOPs over the median time, against the matmul
                   peak each subprocess measured (median over rounds, column `peak`): the same work
                   in less time reads as a higher share, also for variants that skip FLOPs
dispatched         matmul FLOPs torch dispatched / the stock analytic count (< 1: FLOPs skipped)
% CPU other        the largest share of the CPUs other processes used during a round""")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.variants:
        run_variants(args)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    for proto in args.variant.split("+"):
        PROTOTYPES[proto]()
    devices = [torch.device(d) for d in args.devices]

    print_header(args)
    peaks = measure_peaks(devices, args)
    rows, profiles = [], []
    for device in devices:
        for suite, case, net in selected(args):
            s = build(suite, case, net, args, device)
            rows.append(benchmark_row(s, args, device, peaks[device.type]))
            if args.profile:
                profiles.append(profile_row(s, args, peaks[device.type]))
            del s
            print(f"  done {device.type} {suite.name} {case.label} {net.width}x{net.depth}", file=sys.stderr, flush=True)
    print()
    print(format_table(rows))
    print()
    print(LEGEND)
    print()
    after = print_checks(rows, devices, peaks, args)
    for text in profiles:
        print()
        print(text)
    if args.csv:
        write_csv(args.csv, rows, peaks)
        print(f"wrote {args.csv}")
    if args.emit_json:
        with open(args.emit_json, "w") as f:
            json.dump({"rows": [dataclasses.asdict(r) for r in rows], "peaks": peaks, "peaks_after": after}, f)


if __name__ == "__main__":
    main()
