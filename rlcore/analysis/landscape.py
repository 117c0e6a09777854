"""Loss landscapes of a Q-network (Li et al. 2018; Ota et al. 2021 section 4.1 and A.3).

The loss is the critic's TD loss of Ota eq. (2)-(3) with *frozen* targets:
    J_Q(theta) = mean over stored transitions of l(Q_theta(s, a) - Q_hat(s, a)),
with l the run's own critic loss (`agent.critic_loss`: 1/2 e^2 for "mse", Huber with delta 1 for
"huber", which the Ota presets train with), and Q_hat = r + discount * V_target(s') the agent's own
Bellman target, computed once from the trained agent and stored with (s, a) (`analysis.td_targets`). J_Q is then evaluated at theta* + alpha d1 + beta d2 for two random
Gaussian directions, filter-normalized: each output unit's incoming weights in d are scaled to the
norm of that unit's weights in theta* (a "filter" of a linear layer); biases and normalization
parameters get zero directions (Li et al.'s setting). BatchNorm is in eval mode throughout.

The whole grid is evaluated in batches: `torch.func.functional_call` under `torch.vmap` over grid
points (a chunk at a time, to fit memory), looping over the transitions in mini-batches, so one
batched matmul serves many grid points. `evaluate_pointwise` is the classic one-point-at-a-time
reference (copy weights in, evaluate) used by the tests and the benchmark.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from ..agents import load_agent
from ..device import resolve_device
from ..io import atomic_write, read_json
from ..nets import EnsembleLinear
from .td_targets import TDTargets

Params = dict[str, torch.Tensor]


# ---- the data: the Q-network's inputs and frozen targets ---------------------------------------
def td_loss(error: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-element TD loss of the error Q - Q_hat, written with `where` so it runs under vmap
    (equal to `agents.base.td_loss_elements`)."""
    if kind == "mse":
        return 0.5 * error.square()
    if kind == "huber":
        magnitude = error.abs()
        return torch.where(magnitude <= 1.0, 0.5 * error.square(), magnitude - 0.5)
    raise ValueError(f"loss={kind!r} is invalid: expected one of 'mse', 'huber'")


@dataclass
class TDData:
    inputs: torch.Tensor   # (N, d): what the Q-network reads, [s, a] or OFENet's z_sa
    targets: torch.Tensor  # (N,): Q_hat(s, a), frozen
    loss: str = "mse"      # the per-element TD loss: the run's critic loss

    def __len__(self) -> int:
        return self.targets.shape[0]


@torch.no_grad()
def q_network_data(agent, targets: TDTargets, member: int = 0, batch_size: int = 4096):
    """(Q-network `member` as a standalone module in eval mode, its inputs and frozen targets).

    OFENet (if any) is frozen here: its features z_sa are computed once and become the data."""
    agent.eval_mode()
    device = agent.device
    inputs = torch.cat([agent.critic_features(targets.obs[i:i + batch_size].to(device),
                                              targets.action[i:i + batch_size].to(device))
                        for i in range(0, len(targets.q_hat), batch_size)])
    module = agent.critic.member(member).eval()
    for p in module.parameters():
        p.requires_grad_(True)
    return module, TDData(inputs, targets.q_hat.to(device), targets.loss)


# ---- directions -------------------------------------------------------------------------------
def _filter_weights(module: nn.Module) -> set[str]:
    """Names of the parameters that are linear weights (filter-normalized); all others get zeros."""
    return {f"{name}.weight" if name else "weight" for name, m in module.named_modules()
            if isinstance(m, (EnsembleLinear, nn.Linear))}


def random_direction(module: nn.Module, generator: torch.Generator) -> Params:
    """A filter-normalized Gaussian direction: for every linear weight, each output unit's incoming
    weights are scaled to that unit's norm in the trained weights; biases and norm params are zero."""
    weights = _filter_weights(module)
    direction = {}
    for name, p in module.named_parameters():
        if name in weights:
            d = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
            # EnsembleLinear stores (n, in, out): a unit's incoming weights run along dim -2;
            # nn.Linear stores (out, in): along dim -1.
            dim = -2 if p.dim() == 3 else -1
            d = d * (p.detach().norm(dim=dim, keepdim=True) / d.norm(dim=dim, keepdim=True).clamp_min(1e-12))
            direction[name] = d
        else:
            direction[name] = torch.zeros_like(p)
    return direction


def orthogonalize(d1: Params, d2: Params) -> Params:
    """d2 minus its projection on d1 (Gram-Schmidt over all parameters), rescaled to d2's norm."""
    dot = sum((d1[k] * d2[k]).sum() for k in d1)
    n1 = sum(d1[k].square().sum() for k in d1)
    out = {k: d2[k] - dot / n1 * d1[k] for k in d2}
    scale = torch.sqrt(sum(d2[k].square().sum() for k in d2) / sum(out[k].square().sum() for k in out))
    return {k: v * scale for k, v in out.items()}


def directions(module: nn.Module, seed: int = 0, orthogonal: bool = False) -> tuple[Params, Params]:
    generator = torch.Generator().manual_seed(seed)
    d1, d2 = random_direction(module, generator), random_direction(module, generator)
    return d1, (orthogonalize(d1, d2) if orthogonal else d2)


# ---- evaluation --------------------------------------------------------------------------------
def _q(module: nn.Module, params: Params, buffers: Params, x: torch.Tensor) -> torch.Tensor:
    return functional_call(module, (params, buffers), (x,)).reshape(x.shape[0])


def _first_linear(module: nn.Module, x: torch.Tensor) -> str | None:
    """Name of the linear layer that reads the raw input first, if there is one (checked by running
    a forward pass): its output is affine in (alpha, beta) and can be precomputed for the whole grid."""
    linears = {m: name for name, m in module.named_modules() if isinstance(m, EnsembleLinear)}
    calls: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda m, inp: calls.append((m, inp[0]))) for m in linears]
    try:
        module(x[:2])
    finally:
        for h in hooks:
            h.remove()
    if not calls:
        return None
    first, seen = calls[0]
    reads_raw_input = seen.shape[-1] == x.shape[-1] and torch.equal(seen.reshape(-1, x.shape[-1]), x[:2])
    called_once = sum(m is first for m, _ in calls) == 1
    return linears[first] if reads_raw_input and called_once else None


def _stack_points(tensors: Params, a: torch.Tensor, b: torch.Tensor, d1: Params | None = None,
                  d2: Params | None = None) -> Params:
    """theta* + a_k d1 + b_k d2 for the k points of a chunk, laid out as an ensemble of k members:
    (k, *shape) reshaped to (k * shape[0], *shape[1:]) -- member-major tensors (n=1, ...) become
    (k, ...), BatchNorm's flat (f,) vectors become (k * f,), as an ensemble of k would hold them."""
    k, out = a.shape[0], {}
    for name, t in tensors.items():
        if t.dim() == 0:  # e.g. BatchNorm's num_batches_tracked
            out[name] = t
            continue
        shape = (k,) + (1,) * t.dim()
        stacked = t.unsqueeze(0).expand(k, *t.shape)
        if d1 is not None:
            stacked = stacked + a.view(shape) * d1[name] + b.view(shape) * d2[name]
        out[name] = stacked.reshape(k * t.shape[0], *t.shape[1:])
    return out


@torch.no_grad()
def evaluate_points(module: nn.Module, data: TDData, d1: Params, d2: Params | None,
                    coords: torch.Tensor, chunk: int | None = None, batch_size: int = 4096,
                    method: str = "auto") -> torch.Tensor:
    """J_Q at theta* + a d1 + b d2 for each row (a, b) of `coords` (P, 2), batched over grid points.

    method="vmap": `torch.vmap` over points of `functional_call(module, theta(a, b), x)`; works for
    any module. method="ensemble" (rlcore trunks; "auto" picks it for them): the chunk's k points
    are passed to `functional_call` as the k members of an ensemble, so every layer is one fused
    `baddbmm` over points. There, the first linear layer's output is also computed once per batch
    of transitions: it is affine in (a, b), x W(a, b) + c(a, b) = (x W* + c*) + a (x D1 + e1) +
    b (x D2 + e2), so the grid only pays for the layers after it.
    """
    from ..nets import Trunk

    if method == "auto":
        method = "ensemble" if isinstance(module, Trunk) and module.n == 1 else "vmap"
    if method not in ("vmap", "ensemble"):
        raise ValueError(f"method={method!r} is invalid: expected one of 'auto', 'vmap', 'ensemble'")
    module = module.eval()
    base = {k: v.detach() for k, v in module.named_parameters()}
    buffers = {k: v.detach() for k, v in module.named_buffers()}
    d2 = d2 if d2 is not None else {k: torch.zeros_like(v) for k, v in base.items()}
    device = next(iter(base.values())).device
    coords = coords.to(device=device, dtype=torch.float32)
    chunk = chunk or (64 if device.type == "cuda" else 4)
    sse = torch.zeros(coords.shape[0], device=device, dtype=torch.float64)

    if method == "vmap":
        def point_sse(a, b, x, y):
            params = {k: base[k] + a * d1[k] + b * d2[k] for k in base}
            return td_loss(_q(module, params, buffers, x) - y, data.loss).sum()

        batched = torch.vmap(point_sse, in_dims=(0, 0, None, None))
        for i in range(0, len(data), batch_size):
            x, y = data.inputs[i:i + batch_size].to(device), data.targets[i:i + batch_size].to(device)
            for start in range(0, coords.shape[0], chunk):
                sse[start:start + chunk] += batched(coords[start:start + chunk, 0], coords[start:start + chunk, 1],
                                                    x, y).to(torch.float64)
        return (sse / len(data)).cpu()

    first = _first_linear(module, data.inputs[:2].to(device))
    first_module = module.get_submodule(first) if first is not None else None
    terms: dict[str, torch.Tensor] = {}
    try:
        if first_module is not None:  # its output for the chunk's points, from the precomputed terms
            first_module.forward = lambda inp: terms["base"] + terms["a"] * terms["d1"] + terms["b"] * terms["d2"]
        for i in range(0, len(data), batch_size):
            x, y = data.inputs[i:i + batch_size].to(device), data.targets[i:i + batch_size].to(device)
            if first_module is not None:
                xe = x.unsqueeze(0)
                terms.update(base=torch.baddbmm(base[f"{first}.bias"], xe, base[f"{first}.weight"]),
                             d1=torch.baddbmm(d1[f"{first}.bias"], xe, d1[f"{first}.weight"]),
                             d2=torch.baddbmm(d2[f"{first}.bias"], xe, d2[f"{first}.weight"]))
            for start in range(0, coords.shape[0], chunk):
                a, b = coords[start:start + chunk, 0], coords[start:start + chunk, 1]
                k = a.shape[0]
                terms.update(a=a.view(k, 1, 1), b=b.view(k, 1, 1))
                params = _stack_points(base, a, b, d1, d2)
                q = functional_call(module, (params, _stack_points(buffers, a, b)), (x.expand(k, *x.shape),))
                sse[start:start + chunk] += td_loss(q.reshape(k, -1) - y, data.loss).sum(1, dtype=torch.float64)
    finally:
        if first_module is not None:
            del first_module.forward  # back to the class's forward
    return (sse / len(data)).cpu()


@torch.no_grad()
def evaluate_pointwise(module: nn.Module, data: TDData, d1: Params, d2: Params | None,
                       coords: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """The classic way: for each point copy theta* + a d1 + b d2 into the module, then evaluate."""
    module = module.eval()
    base = {k: v.detach().clone() for k, v in module.named_parameters()}
    params = dict(module.named_parameters())
    losses = []
    try:
        for a, b in coords.tolist():
            for k, p in params.items():
                p.copy_(base[k] + a * d1[k] + (b * d2[k] if d2 is not None else 0.0))
            sse = 0.0
            for i in range(0, len(data), batch_size):
                x = data.inputs[i:i + batch_size].to(p.device)
                y = data.targets[i:i + batch_size].to(p.device)
                sse += float(td_loss(module(x).reshape(-1) - y, data.loss).sum(dtype=torch.float64))
            losses.append(sse / len(data))
    finally:
        for k, p in params.items():
            p.copy_(base[k])
    return torch.tensor(losses, dtype=torch.float64)


def grid_coords(span: float = 1.0, points: int = 51, dims: int = 2) -> tuple[np.ndarray, torch.Tensor]:
    """Axis values in [-span, span] and the (P, 2) coordinates of the 1-D line or 2-D grid."""
    axis = np.linspace(-span, span, points)
    if dims == 1:
        return axis, torch.tensor(np.stack([axis, np.zeros_like(axis)], 1))
    a, b = np.meshgrid(axis, axis, indexing="ij")
    return axis, torch.tensor(np.stack([a.ravel(), b.ravel()], 1))


# ---- sharpness ---------------------------------------------------------------------------------
_DEFAULT_RADII = (0.1, 0.25, 0.5, 1.0)


def loss_rise_at_radii(module, data, d1, d2, radii: Sequence[float] = _DEFAULT_RADII,
                       angles: int = 16, center: float | None = None, **kw) -> dict[float, float]:
    """Mean over `angles` points on the circle of radius r in the (d1, d2) plane of J_Q - J_Q(theta*)."""
    if d2 is None:  # 1-D: the two points at +-r
        theta = torch.tensor([0.0, math.pi], dtype=torch.float64)
    else:
        theta = torch.arange(angles, dtype=torch.float64) * (2 * math.pi / angles)
    coords = torch.cat([torch.stack([r * theta.cos(), r * theta.sin()], 1) for r in radii])
    if center is None:
        center = float(evaluate_points(module, data, d1, d2, torch.zeros(1, 2), **kw)[0])
    losses = evaluate_points(module, data, d1, d2, coords, **kw).view(len(radii), len(theta))
    return {float(r): float(losses[i].mean() - center) for i, r in enumerate(radii)}


def hessian_top_eigenvalue(module: nn.Module, data: TDData, iterations: int = 50, tol: float = 1e-4,
                           seed: int = 0, batch_size: int = 4096) -> float:
    """Largest-magnitude eigenvalue of the Hessian of J_Q at theta*, by power iteration on
    Hessian-vector products (double backward), over all parameters, BatchNorm in eval mode."""
    module = module.eval()
    params = [p for p in module.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=generator).to(p) for p in params]
    norm = torch.sqrt(sum(x.square().sum() for x in v))
    v = [x / norm for x in v]
    eigenvalue = 0.0
    for _ in range(iterations):
        hv = [torch.zeros_like(p) for p in params]
        for i in range(0, len(data), batch_size):
            x = data.inputs[i:i + batch_size].to(params[0].device)
            y = data.targets[i:i + batch_size].to(params[0].device)
            loss = td_loss(module(x).reshape(-1) - y, data.loss).sum() / len(data)
            grads = torch.autograd.grad(loss, params, create_graph=True)
            dot = sum((g * u).sum() for g, u in zip(grads, v))
            for acc, h in zip(hv, torch.autograd.grad(dot, params)):
                acc += h
        new = float(sum((h * u).sum() for h, u in zip(hv, v)))  # Rayleigh quotient v^T H v
        norm = torch.sqrt(sum(h.square().sum() for h in hv))
        if norm == 0:
            return 0.0
        v = [h / norm for h in hv]
        if abs(new - eigenvalue) <= tol * max(1.0, abs(new)):
            return new
        eigenvalue = new
    return eigenvalue


# ---- the whole analysis, saved as a result ------------------------------------------------------
@dataclass
class Landscape:
    axis: list[float]
    losses: list[list[float]] | list[float]  # 2-D: [i][j] at (axis[i], axis[j]); 1-D: [i]
    center_loss: float
    loss_rise: dict[float, float] = field(default_factory=dict)
    hessian_top_eigenvalue: float | None = None
    meta: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        return atomic_write(path, json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: str | Path) -> "Landscape":
        d = read_json(path)
        d["loss_rise"] = {float(k): v for k, v in d["loss_rise"].items()}
        return cls(**d)


def loss_landscape(module: nn.Module, data: TDData, dims: int = 2, span: float = 1.0, points: int = 51,
                   seed: int = 0, orthogonal: bool = False, radii: Sequence[float] = _DEFAULT_RADII,
                   hessian_iterations: int = 50, chunk: int | None = None, batch_size: int = 4096,
                   meta: dict | None = None) -> Landscape:
    """1-D or 2-D surface of J_Q around a trained Q-network plus sharpness numbers."""
    if dims not in (1, 2):
        raise ValueError(f"dims={dims!r} is invalid: expected 1 or 2")
    d1, d2 = directions(module, seed, orthogonal)
    if dims == 1:
        d2 = None
    axis, coords = grid_coords(span, points, dims)
    kw = dict(chunk=chunk, batch_size=batch_size)
    losses = evaluate_points(module, data, d1, d2, coords, **kw)
    center = float(evaluate_points(module, data, d1, d2, torch.zeros(1, 2), **kw)[0])
    rise = loss_rise_at_radii(module, data, d1, d2, radii, center=center, **kw) if radii else {}
    top = hessian_top_eigenvalue(module, data, hessian_iterations, seed=seed, batch_size=batch_size) \
        if hessian_iterations else None
    grid = losses.view(points, points).tolist() if dims == 2 else losses.tolist()
    info = {"dims": dims, "span": span, "points": points, "seed": seed, "orthogonal": orthogonal,
            "transitions": len(data), "loss": data.loss, **(meta or {})}
    return Landscape(axis=list(map(float, axis)), losses=grid, center_loss=center, loss_rise=rise,
                     hessian_top_eigenvalue=top, meta=info)


def run_landscape(run_dir: str | Path, dims: int = 2, points: int = 51, span: float = 1.0, seed: int = 0,
                  member: int = 0, max_transitions: int | None = None, hessian_iterations: int = 50,
                  device: str = "auto", recompute: bool = False, **kw) -> Landscape:
    """The loss landscape of a finished run's critic `member`, cached as JSON in its run directory.

    Uses the run's saved final weights (agent.pt) and frozen TD targets (td_targets.pt); with
    `max_transitions` a seeded subsample of the stored transitions."""
    run_dir = Path(run_dir)
    name = f"landscape_{dims}d_p{points}_r{span:g}_s{seed}_m{member}_n{max_transitions or 'all'}"
    # Options that change the result are part of the cache name too (only when not the defaults,
    # so the default names stay what they were).
    if kw.get("orthogonal", False):
        name += "_orth"
    radii = tuple(float(r) for r in (kw.get("radii", _DEFAULT_RADII) or ()))
    if radii != _DEFAULT_RADII:
        name += "_radii" + ("-".join(f"{r:g}" for r in radii) or "none")
    if hessian_iterations != 50:
        name += f"_h{hessian_iterations}"
    name += ".json"
    path = run_dir / name
    loss = read_json(run_dir / "config.json")["agent"].get("critic_loss", "mse")
    if path.exists() and not recompute:
        cached = Landscape.load(path)
        if cached.meta.get("loss", "mse") == loss:  # a cache from before J_Q used the run's own loss: redo
            return cached
    dev = resolve_device(device)
    agent = load_agent(run_dir, dev)
    targets = TDTargets.load(run_dir / "td_targets.pt", dev)
    targets.loss = agent.cfg.critic_loss  # J_Q is the run's own TD loss (older td_targets.pt name none)
    if max_transitions is not None and max_transitions < len(targets.q_hat):
        keep = torch.randperm(len(targets.q_hat), generator=torch.Generator().manual_seed(seed))[:max_transitions]
        targets = targets.subset(keep)
    module, data = q_network_data(agent, targets, member)
    result = loss_landscape(module, data, dims=dims, span=span, points=points, seed=seed,
                            hessian_iterations=hessian_iterations,
                            meta={"run": run_dir.name, "member": member, "device": str(dev)}, **kw)
    result.save(path)
    return result
