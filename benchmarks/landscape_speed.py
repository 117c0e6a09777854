"""Loss-landscape evaluation speed: the same grid point by point (the classic way: copy weights in,
evaluate) and batched (`functional_call` + `vmap` over grid points), for a 256x2 MLP Q-network and the
paper's 2048-wide DenseNet Q-network (on OFENet features: input 4215) over a fixed set of transitions.

    .venv/bin/python benchmarks/landscape_speed.py                      # CPU defaults (minutes)
    .venv/bin/python benchmarks/landscape_speed.py --device cuda --points 51 --transitions 10000

Prints seconds, grid points per second, the batched/pointwise speed ratio, and the matmul-bound
time: the forward FLOPs of the grid divided by the matmul peak measured in the same run.
The defaults keep the wide network's grid small on a CPU (a 51 x 51 grid over 10k transitions is
about 1.1 PFLOP for it: a GPU job).
"""

from __future__ import annotations

import argparse
import time

import torch

from rlcore.analysis.landscape import TDData, directions, evaluate_points, evaluate_pointwise, grid_coords
from rlcore.config import NetConfig
from rlcore.nets import EnsembleLinear, build_trunk


def matmul_peak(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(2):
        a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * size ** 3 * repeats / (time.perf_counter() - t) / 1e9


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def forward_flops(module: torch.nn.Module) -> int:
    """Multiply-adds x 2 of one sample through every linear layer."""
    return sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, EnsembleLinear))


def timed(fn, device):
    sync(device)
    t = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--points", type=int, default=None, help="grid points per axis (default: 21 small, 5 wide)")
    p.add_argument("--transitions", type=int, default=None, help="default: 10000 small, 2000 wide")
    p.add_argument("--nets", nargs="+", default=["mlp256x2", "densenet2048x2"])
    p.add_argument("--chunk", type=int, default=None, help="grid points per vmap batch (default: 4 CPU, 64 GPU)")
    p.add_argument("--batch-size", type=int, default=4096, help="transitions per forward")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    chunk = args.chunk or (64 if device.type == "cuda" else 4)
    nets = {
        "mlp256x2": (NetConfig(kind="mlp", width=256, depth=2), 119, 21, 10_000),
        "densenet2048x2": (NetConfig(kind="densenet", width=2048, depth=2, activation="swish"), 4215, 5, 2_000),
    }
    peak = matmul_peak(device)
    print(f"device {device} ({torch.get_num_threads()} threads), matmul peak {peak:.1f} GFLOP/s, chunk {chunk}\n")
    header = (f"{'network':<16}{'grid':>7}{'trans.':>8}{'pointwise s':>13}{'batched s':>11}{'pts/s pw':>10}"
              f"{'pts/s b':>9}{'ratio':>7}{'matmul-bound s':>16}{'max |diff|':>12}")
    print(header)
    print("-" * len(header))
    torch.manual_seed(0)
    for name in args.nets:
        spec, in_dim, default_points, default_transitions = nets[name]
        points = args.points or default_points
        n = args.transitions or default_transitions
        module = build_trunk(spec, in_dim, 1, n=1, squeeze=False).to(device).eval()
        data = TDData(torch.randn(n, in_dim, device=device), torch.randn(n, device=device))
        d1, d2 = directions(module, seed=0)
        _, coords = grid_coords(1.0, points, 2)
        evaluate_points(module, data, d1, d2, coords[:chunk], chunk=chunk, batch_size=args.batch_size)  # warm-up
        pointwise, t_pw = timed(lambda: evaluate_pointwise(module, data, d1, d2, coords, batch_size=args.batch_size), device)
        batched, t_b = timed(lambda: evaluate_points(module, data, d1, d2, coords, chunk=chunk,
                                                     batch_size=args.batch_size), device)
        bound = forward_flops(module) * n * len(coords) / (peak * 1e9)
        diff = float((pointwise - batched).abs().max())
        print(f"{name:<16}{f'{points}x{points}':>7}{n:>8}{t_pw:>13.2f}{t_b:>11.2f}{len(coords) / t_pw:>10.1f}"
              f"{len(coords) / t_b:>9.1f}{t_pw / t_b:>7.2f}{bound:>16.2f}{diff:>12.2e}")
    print("\nratio: pointwise time / batched time; matmul-bound: forward FLOPs of the grid / matmul peak")


if __name__ == "__main__":
    main()
