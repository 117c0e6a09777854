"""Replay memory for pixel observations: bytes per stored step, measured, against the 2.5 GB target
for 100k transitions of 3x84x84 uint8 frames stacked 3 deep (DrQ / DrQ-v2 settings).

The buffer is allocated at its full capacity and filled with episodes of random frames as the
serial loop would add them (FrameStack observations, `add(obs, action, reward, next_obs, ...)`);
the process's resident memory is read before and after (psutil), so the number includes whatever
the layout really touches. For comparison it prints what storing obs and next_obs stacks whole
(the naive layout: 2 x 9 x 84 x 84 bytes per step) would take, and one sampled batch's assembly time.

    .venv/bin/python benchmarks/replay_memory.py                      # 100k steps, ~2 GB, ~1 min
    .venv/bin/python benchmarks/replay_memory.py --steps 20000        # smaller
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import psutil
import torch

from rlcore.envs import ObsSpec
from rlcore.replay import ReplayBuffer

TARGET_BYTES = 2.5e9
TARGET_STEPS = 100_000


def fill(replay: ReplayBuffer, steps: int, episode_length: int, k: int, rng: np.random.Generator) -> None:
    c, h, w = replay.spec.frame_shape
    frames = rng.integers(0, 256, size=(64, c, h, w), dtype=np.uint8)  # reused: content does not matter
    history, t = None, 0
    for i in range(steps):
        if history is None:
            history = [frames[i % 64]] * k
        nxt = history[1:] + [frames[(i + 1) % 64]]
        t += 1
        end = t == episode_length
        replay.add(np.concatenate(history), rng.uniform(-1, 1, 6), 0.0, np.concatenate(nxt), False, end)
        history = None if end else nxt
        t = 0 if end else t


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=TARGET_STEPS)
    p.add_argument("--episode-length", type=int, default=500, help="agent steps (DMC: 1000 frames / repeat 2)")
    p.add_argument("--stack", type=int, default=3)
    p.add_argument("--n-step", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args(argv)

    k, frame = args.stack, (3, 84, 84)
    spec = ObsSpec((k * frame[0], *frame[1:]), np.dtype(np.uint8), frame_stack=k)
    proc = psutil.Process()
    # Final observations get slots of their own: one per episode.
    capacity = args.steps + args.steps // args.episode_length + 1
    rss0 = proc.memory_info().rss
    replay = ReplayBuffer(spec, 6, capacity, "cpu", gamma=0.99, n_step=args.n_step)
    t0 = time.perf_counter()
    fill(replay, args.steps, args.episode_length, k, np.random.default_rng(0))
    fill_s = time.perf_counter() - t0
    rss = proc.memory_info().rss - rss0
    t0 = time.perf_counter()
    for _ in range(10):
        replay.sample(args.batch_size)
    sample_ms = (time.perf_counter() - t0) / 10 * 1e3

    naive = 2 * int(np.prod(spec.shape)) * args.steps
    per_step = rss / args.steps
    at_target = per_step * TARGET_STEPS
    print(f"torch {torch.__version__}; {args.steps:,} transitions of {k} x {frame} uint8 frames, "
          f"episodes of {args.episode_length} steps, n-step {args.n_step}")
    print(f"{'layout':<28}{'bytes/step':>12}{'total':>12}{'at 100k':>12}{'target':>10}")
    print("-" * 74)
    print(f"{'frames stored once (rlcore)':<28}{per_step:>12,.0f}{rss / 1e9:>10.2f} GB{at_target / 1e9:>10.2f} GB"
          f"{'  met' if at_target <= TARGET_BYTES else '  MISSED':>10}")
    print(f"{'obs + next_obs stacks':<28}{naive / args.steps:>12,.0f}{naive / 1e9:>10.2f} GB"
          f"{naive / args.steps * TARGET_STEPS / 1e9:>10.2f} GB{'':>10}")
    print(f"\nresident memory measured with psutil (RSS after - before allocation); one frame is "
          f"{int(np.prod(frame)):,} bytes")
    print(f"fill {fill_s:.1f} s ({args.steps / fill_s:,.0f} steps/s); sample of {args.batch_size} "
          f"(stacks assembled, n-step sums): {sample_ms:.1f} ms")


if __name__ == "__main__":
    main()
