"""Loss landscapes of a Q-network (Li et al. 2018; Ota et al. 2021 section 4.1 and A.3).

The loss is the critic's TD loss of Ota eq. (2)-(3) with *frozen* targets:
    J_Q(theta) = mean over stored transitions of l(Q_theta(s, a) - Q_hat(s, a)),
with l the run's own critic loss (`agent.critic_loss`: 1/2 e^2 for "mse", Huber with delta 1 for
"huber", which the Ota presets train with), and Q_hat = r + discount * V_target(s') the agent's own
Bellman target, computed once from the trained agent and stored with (s, a) (`analysis.td_targets`). J_Q is then evaluated at theta* + alpha d1 + beta d2 for two random
Gaussian directions, filter-normalized: each filter's weights in d are scaled to the norm of that
filter's weights in theta* -- a linear layer's filter is one output unit's incoming weights, a
convolution's is one output channel's kernel weight[i] (in, kh, kw), as Li et al. do for conv nets;
biases and normalization parameters get zero directions (Li et al.'s "ignore_biasbn" setting).
BatchNorm is in eval mode throughout.

Which network: for state agents (SAC, TD3) the critic trunk alone, on precomputed inputs ([s, a] or
OFENet's z_sa, OFENet frozen); for pixel agents (DrQ-v2, DrQ) the whole critic path
encoder -> critic projection -> [., a] -> trunk (`PixelCritic`) on the stored uint8 frames and
actions, so conv, projection and head weights are perturbed together.

Trunks are evaluated in batches over the grid: `torch.func.functional_call` under `torch.vmap` over
grid points (a chunk at a time, to fit memory), looping over the transitions in mini-batches, so
one batched matmul serves many grid points. Networks with convolutions are evaluated one grid point
after another (method "serial", see `evaluate_points`). `evaluate_pointwise` is the classic
one-point-at-a-time reference (copy weights in, evaluate) used by the tests and the benchmark.
"""

from __future__ import annotations

import copy
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
from ..config import PIXEL_ALGORITHMS
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
    # What the Q-network reads: (N, d) [s, a] or OFENet's z_sa for a trunk; a tuple (obs (N, C, H, W)
    # uint8, action (N, A)) for a pixel agent's whole critic (`PixelCritic`), which reads both.
    inputs: torch.Tensor | tuple[torch.Tensor, ...]
    targets: torch.Tensor  # (N,): Q_hat(s, a), frozen
    loss: str = "mse"      # the per-element TD loss: the run's critic loss

    def __len__(self) -> int:
        return self.targets.shape[0]

    def rows(self, start: int, stop: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        """The module's arguments for transitions start:stop, on `device` (a tuple, even of one)."""
        inputs = self.inputs if isinstance(self.inputs, tuple) else (self.inputs,)
        return tuple(x[start:stop].to(device) for x in inputs)


class PixelCritic(nn.Module):
    """Q-network `member` of a pixel agent as one module: (obs, action) -> (1, B, 1) through
    encoder -> critic projection -> [., a] -> the trunk member, what `agent.critic(
    agent.critic_features(obs, action))[member]` computes. Holds copies of the agent's networks."""

    def __init__(self, encoder: nn.Module, projection: nn.Module, critic: nn.Module):
        super().__init__()
        self.encoder, self.projection, self.critic = encoder, projection, critic

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.critic(torch.cat([self.projection(self.encoder(obs)), action], dim=-1))


def is_pixel_agent(agent) -> bool:
    """Whether the agent reads images through its own encoder (DrQ-v2, DrQ)."""
    return bool(getattr(agent.cfg, "pixels", False)) and isinstance(getattr(agent, "encoder", None), nn.Module)


@torch.no_grad()
def q_network_data(agent, targets: TDTargets, member: int = 0, batch_size: int = 4096):
    """(Q-network `member` as a standalone module in eval mode, its inputs and frozen targets).

    State agents: the critic trunk; OFENet (if any) is frozen here: its features z_sa are computed
    once and become the data. Pixel agents: the whole critic (`PixelCritic`: encoder, critic
    projection and trunk member) on the raw uint8 frames and actions, which stay as they are
    (no features are precomputed: 10k 9 x 84 x 84 frames are 0.6 GB as uint8)."""
    if is_pixel_agent(agent):
        return pixel_q_network_data(agent, targets, member)
    agent.eval_mode()
    device = agent.device
    inputs = torch.cat([agent.critic_features(targets.obs[i:i + batch_size].to(device),
                                              targets.action[i:i + batch_size].to(device))
                        for i in range(0, len(targets.q_hat), batch_size)])
    module = agent.critic.member(member).eval()
    for p in module.parameters():
        p.requires_grad_(True)
    return module, TDData(inputs, targets.q_hat.to(device), targets.loss)


@torch.no_grad()
def pixel_q_network_data(agent, targets: TDTargets, member: int = 0) -> tuple[PixelCritic, TDData]:
    """`q_network_data` of a pixel agent: `PixelCritic` of member `member` (copies of the agent's
    encoder and critic projection, the trunk member), checked against the agent's own critic on the
    first transitions, and TDData((obs, action), Q_hat)."""
    agent.eval_mode()
    device = agent.device
    module = PixelCritic(copy.deepcopy(agent.encoder), copy.deepcopy(agent.critic_projection),
                         agent.critic.member(member)).to(device).eval()
    for p in module.parameters():
        p.requires_grad_(True)
    obs, action = targets.obs.to(device), targets.action.to(device)
    if len(targets.q_hat):  # the module is the agent's critic: same Q on a few transitions
        expected = agent.critic(agent.critic_features(obs[:2], action[:2]))[member]
        if not torch.allclose(module(obs[:2], action[:2])[0], expected, rtol=1e-5, atol=1e-6):
            raise ValueError(f"{type(agent).__name__}: encoder -> critic_projection -> critic does not reproduce "
                             "agent.critic(agent.critic_features(obs, action)); PixelCritic cannot stand for it")
    return module, TDData((obs, action), targets.q_hat.to(device), targets.loss)


# ---- directions -------------------------------------------------------------------------------
_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _filter_weights(module: nn.Module) -> dict[str, int | tuple[int, ...]]:
    """The weights that are filter-normalized, each with the dims one filter's weights run along;
    all other parameters (biases, normalization parameters) get zero directions.

    EnsembleLinear stores (n, in, out): a unit's incoming weights run along dim -2; nn.Linear stores
    (out, in): along dim -1; a convolution stores (out, in / groups, *kernel): filter i is weight[i]."""
    dims: dict[str, int | tuple[int, ...]] = {}
    for name, m in module.named_modules():
        key = f"{name}.weight" if name else "weight"
        if isinstance(m, EnsembleLinear):
            dims[key] = -2
        elif isinstance(m, nn.Linear):
            dims[key] = -1
        elif isinstance(m, _CONVOLUTIONS):
            dims[key] = tuple(range(1, m.weight.dim()))
    return dims


def _filter_norms(t: torch.Tensor, dim: int | tuple[int, ...]) -> torch.Tensor:
    """Each filter's Frobenius norm, broadcastable against `t` (Tensor.norm reads a 2-tuple of dims
    as a matrix norm, so several dims go through vector_norm)."""
    if isinstance(dim, tuple):
        return torch.linalg.vector_norm(t, dim=dim, keepdim=True)
    return t.norm(dim=dim, keepdim=True)


def random_direction(module: nn.Module, generator: torch.Generator) -> Params:
    """A filter-normalized Gaussian direction (Li et al. 2018): for every linear or convolution
    weight, each filter (a linear layer's output unit's incoming weights, a convolution's output
    channel's kernel) is scaled to that filter's norm in the trained weights; biases and norm params
    are zero. One draw per filter-normalized weight, in `named_parameters` order."""
    weights = _filter_weights(module)
    direction = {}
    for name, p in module.named_parameters():
        if name in weights:
            d = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
            dim = weights[name]
            d = d * (_filter_norms(p.detach(), dim) / _filter_norms(d, dim).clamp_min(1e-12))
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
def _q(module: nn.Module, params: Params, buffers: Params, xs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return functional_call(module, (params, buffers), xs).reshape(xs[0].shape[0])


def has_convolutions(module: nn.Module) -> bool:
    return any(isinstance(m, _CONVOLUTIONS) for m in module.modules())


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

    method="serial" ("auto" picks it for networks with convolutions, e.g. `PixelCritic`): one point
    after another, `functional_call(module, theta(a, b), x)` on each mini-batch of transitions (the
    module's own weights are never touched). vmap gains nothing there: a convolution over a batch
    of 84 x 84 frames is already one large kernel per layer, while vmap turns the points into a
    grouped convolution holding every point's activations at once, `chunk` times the memory. It
    works ("vmap" gives the same numbers, to float32 rounding) but measured slower: on one CPU
    thread, DrQ-v2's critic (9 x 84 x 84 frames, 2 x 1024 head), 8 points x 256 frames took
    1.3-3.9 s serially (batches of 64-256) and 4.7-6.0 s under vmap (chunks of 4 and 8); not
    measured on a GPU. A forward holds about 0.9 MB of activations per 9 x 84 x 84 frame, so
    `batch_size` bounds the memory: about 3.7 GB at 4096 frames (times `chunk` under vmap).
    """
    from ..nets import Trunk

    if method == "auto":
        if isinstance(module, Trunk) and module.n == 1:
            method = "ensemble"
        else:
            method = "serial" if has_convolutions(module) else "vmap"
    if method not in ("vmap", "ensemble", "serial"):
        raise ValueError(f"method={method!r} is invalid: expected one of 'auto', 'vmap', 'ensemble', 'serial'")
    if method == "ensemble" and isinstance(data.inputs, tuple):
        raise ValueError("method='ensemble' is invalid for a module of several inputs (e.g. PixelCritic): "
                         "expected 'auto', 'vmap' or 'serial'")
    module = module.eval()
    base = {k: v.detach() for k, v in module.named_parameters()}
    buffers = {k: v.detach() for k, v in module.named_buffers()}
    d2 = d2 if d2 is not None else {k: torch.zeros_like(v) for k, v in base.items()}
    device = next(iter(base.values())).device
    coords = coords.to(device=device, dtype=torch.float32)
    chunk = chunk or (64 if device.type == "cuda" else 4)
    sse = torch.zeros(coords.shape[0], device=device, dtype=torch.float64)

    if method in ("vmap", "serial"):
        def point_sse(a, b, xs, y):
            params = {k: base[k] + a * d1[k] + b * d2[k] for k in base}
            return td_loss(_q(module, params, buffers, xs) - y, data.loss).sum()

        batched = torch.vmap(point_sse, in_dims=(0, 0, None, None))
        for i in range(0, len(data), batch_size):
            xs, y = data.rows(i, i + batch_size, device), data.targets[i:i + batch_size].to(device)
            if method == "serial":
                for p, (a, b) in enumerate(coords):
                    sse[p] += point_sse(a, b, xs, y).to(torch.float64)
                continue
            for start in range(0, coords.shape[0], chunk):
                sse[start:start + chunk] += batched(coords[start:start + chunk, 0], coords[start:start + chunk, 1],
                                                    xs, y).to(torch.float64)
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
                xs = data.rows(i, i + batch_size, p.device)
                y = data.targets[i:i + batch_size].to(p.device)
                sse += float(td_loss(module(*xs).reshape(-1) - y, data.loss).sum(dtype=torch.float64))
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
    Hessian-vector products (double backward), over all parameters, BatchNorm in eval mode. For a
    `PixelCritic` the double backward keeps the conv activations of a whole `batch_size` batch:
    several times a forward's memory, so a smaller batch_size than the grid's may be needed."""
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
            xs = data.rows(i, i + batch_size, params[0].device)
            y = data.targets[i:i + batch_size].to(params[0].device)
            loss = td_loss(module(*xs).reshape(-1) - y, data.loss).sum() / len(data)
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
    `max_transitions` a seeded subsample of the stored transitions. A pixel agent's landscape is over
    its whole critic (encoder, critic projection, trunk: `PixelCritic`), marked
    meta["network"] = "pixel_critic"; a cached one without the mark (over the trunk alone) is redone."""
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
    agent_cfg = read_json(run_dir / "config.json")["agent"]
    loss = agent_cfg.get("critic_loss", "mse")
    network = "pixel_critic" if agent_cfg.get("algo") in PIXEL_ALGORITHMS else "trunk"
    if path.exists() and not recompute:
        cached = Landscape.load(path)
        # a cache from before J_Q used the run's own loss, or from before a pixel agent's landscape
        # covered its encoder and projection: redo
        if cached.meta.get("loss", "mse") == loss and cached.meta.get("network", "trunk") == network:
            return cached
    dev = resolve_device(device)
    agent = load_agent(run_dir, dev)
    targets = TDTargets.load(run_dir / "td_targets.pt", dev)
    targets.loss = agent.cfg.critic_loss  # J_Q is the run's own TD loss (older td_targets.pt name none)
    if max_transitions is not None and max_transitions < len(targets.q_hat):
        keep = torch.randperm(len(targets.q_hat), generator=torch.Generator().manual_seed(seed))[:max_transitions]
        targets = targets.subset(keep)
    module, data = q_network_data(agent, targets, member)
    meta = {"run": run_dir.name, "member": member, "device": str(dev)}
    if isinstance(module, PixelCritic):
        meta["network"] = "pixel_critic"
    result = loss_landscape(module, data, dims=dims, span=span, points=points, seed=seed,
                            hessian_iterations=hessian_iterations, meta=meta, **kw)
    result.save(path)
    return result
