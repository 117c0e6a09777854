"""Ensemble building blocks: linear (optionally spectrally normalized), LayerNorm, BatchNorm.

Every layer holds `n` independent members evaluated in one batched matmul (`torch.baddbmm` over
stacked weights): the twin critics of SAC/TD3 are one module with n=2, which halves the kernel
launches of two separate networks. Activations have shape (n, B, features).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "swish": nn.SiLU}  # Swish with beta=1 is SiLU (Ramachandran et al. 2017)


class EnsembleLinear(nn.Module):
    """`n` independent linear layers; initialised like `nn.Linear` (U(-1/sqrt(in), 1/sqrt(in)))."""

    def __init__(self, n: int, in_features: int, out_features: int):
        super().__init__()
        self.n, self.in_features, self.out_features = n, in_features, out_features
        self.weight = nn.Parameter(torch.empty(n, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(n, 1, out_features))
        bound = 1.0 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def effective_weight(self) -> torch.Tensor:
        """The (n, in, out) matrix the forward pass multiplies by."""
        return self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, B, in) -> (n, B, out)
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"n={self.n}, in_features={self.in_features}, out_features={self.out_features}"


class _LeadingInputGrad(torch.autograd.Function):
    """`baddbmm(bias, x, weight)` whose gradient for `x` is computed for its first `grad_cols`
    columns only; the others get zeros. The forward pass and the weight and bias gradients are
    baddbmm's own ops (the same numbers); only the skipped input-gradient columns differ (zeros)."""

    @staticmethod
    def forward(ctx, x, weight, bias, grad_cols: int):
        ctx.save_for_backward(x, weight)
        ctx.grad_cols = grad_cols
        return torch.baddbmm(bias, x, weight)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            k = ctx.grad_cols
            leading = torch.bmm(grad, weight[:, :k].transpose(1, 2))
            grad_x = torch.cat([leading, grad.new_zeros(*grad.shape[:-1], x.shape[-1] - k)], dim=-1)
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(x.transpose(1, 2), grad)
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(1, keepdim=True)
        return grad_x, grad_w, grad_b, None


def linear_skipping_trailing_grads(layer: "EnsembleLinear", x: torch.Tensor, constant_cols: int) -> torch.Tensor:
    """`layer(x)` where the last `constant_cols` columns of `x` are a trunk's raw input that needs no
    gradient (DenseNet and D2RL concatenate it to later layers' inputs): the backward pass skips
    their share of the input-gradient product (`NetConfig.skip_raw_input_grads`). Plain `layer(x)`
    for spectrally normalized layers, without such columns, or outside autograd."""
    if (constant_cols <= 0 or type(layer) is not EnsembleLinear or not torch.is_grad_enabled()
            or constant_cols >= x.shape[-1]):
        return layer(x)
    return _LeadingInputGrad.apply(x, layer.weight, layer.bias, x.shape[-1] - constant_cols)


class SpectralLinear(EnsembleLinear):
    """Linear layer with spectral normalization (Miyato et al. 2018): `x W / sigma(W)`.

    sigma is estimated per member as `v^T W u` from vectors refined by power iteration:
    `power_iterations` steps in every forward pass in training mode (Miyato et al. use 1), none in
    eval mode, so acting and analysis never change the estimate. The gradient flows through W in
    both W and sigma(W); u and v are buffers (no gradient), as in Miyato et al. and
    `torch.nn.utils.spectral_norm`. The constructor starts u, v at the exact top singular vectors
    of the initial weights (an SVD), so the first forward pass divides by sigma_max itself
    (15 power-iteration steps, as before, left ||W / sigma||_2 at 1.012 for a 256 x 256 layer).

    Target networks are kept in eval mode (for BatchNorm), so a target that keeps its own u, v
    (`owns_vectors`, `AgentConfig.sn_target="own"`, what a deep-copied `torch.nn.utils.spectral_norm`
    target does in the DrQ code Bjorck et al. build on) is advanced explicitly, once per update,
    by `Agent.advance_target_spectral_norms`; reading it (a TD target) changes nothing. With
    `sn_target="copy"` the target takes the online u, v at every soft update instead
    (see `agents.base.soft_update`).
    """

    def __init__(self, n: int, in_features: int, out_features: int, power_iterations: int = 1,
                 eps: float = 1e-12):
        super().__init__(n, in_features, out_features)
        self.power_iterations, self.eps = power_iterations, eps
        self.owns_vectors = False
        self.register_buffer("sn_u", torch.empty(n, out_features))
        self.register_buffer("sn_v", torch.empty(n, in_features))
        self.reset_vectors()

    @torch.no_grad()
    def reset_vectors(self) -> None:
        """u, v <- the exact top singular vectors of the current weights (after any re-initialisation)."""
        # weight is (n, in, out): its left singular vectors live in R^in (v), its right ones in R^out (u).
        left, _, right_t = torch.linalg.svd(self.weight, full_matrices=False)
        self.sn_u.copy_(F.normalize(right_t[:, 0, :], dim=-1, eps=self.eps))
        self.sn_v.copy_(F.normalize(left[:, :, 0], dim=-1, eps=self.eps))

    @torch.no_grad()
    def power_iterate(self, steps: int) -> None:
        w = self.weight
        u, v = self.sn_u, self.sn_v
        # Both products as row vector x matrix: v <- W u as u^T W^T, u <- W^T v as v^T W. On a CPU,
        # bmm with a (1024, 1024) matrix on the left and one column on the right took 2 ms (W u) and
        # 9 ms (W^T v, strided) per call against 0.17 ms this way (`update_speed.py --suite heads`: SN +40-50 % -> +1-9 %).
        for _ in range(steps):
            v = F.normalize(torch.bmm(u.unsqueeze(1), w.transpose(1, 2)).squeeze(1), dim=-1, eps=self.eps)
            u = F.normalize(torch.bmm(v.unsqueeze(1), w).squeeze(1), dim=-1, eps=self.eps)
        self.sn_u.copy_(u)
        self.sn_v.copy_(v)

    def sigma(self) -> torch.Tensor:
        """(n,) estimate v^T W u of each member's largest singular value, differentiable in W."""
        # clone(): the buffers are updated in place by later forward passes, which must not
        # invalidate a graph that is still waiting for its backward pass.
        u, v = self.sn_u.clone(), self.sn_v.clone()
        return torch.bmm(torch.bmm(v.unsqueeze(1), self.weight), u.unsqueeze(-1)).view(-1)

    def effective_weight(self) -> torch.Tensor:
        return self.weight / self.sigma().view(-1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.power_iterate(self.power_iterations)
        # x (W / sigma) computed as (x W) / sigma: the division touches the (B, out) output instead
        # of the (in, out) weight, in the forward and the backward pass alike.
        return torch.bmm(x, self.weight) / self.sigma().view(-1, 1, 1) + self.bias

    def extra_repr(self) -> str:
        return super().extra_repr() + f", spectral_norm=True, power_iterations={self.power_iterations}"


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over features with separate affine parameters per member."""

    def __init__(self, n: int, features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n, 1, features))
        self.bias = nn.Parameter(torch.zeros(n, 1, features))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:]) * self.weight + self.bias


class EnsembleBatchNorm(nn.Module):
    """BatchNorm with statistics per member and unit, computed over the batch.

    (n, B, f) is viewed as (B, n*f) so one BatchNorm1d keeps separate statistics per member.
    Defaults are Keras's (running average decay 0.99 -> torch momentum 0.01, eps 1e-3): the OFENet
    and Ota et al. code is TensorFlow/Keras.
    """

    def __init__(self, n: int, features: int, momentum: float = 0.01, eps: float = 1e-3):
        super().__init__()
        self.bn = nn.BatchNorm1d(n * features, momentum=momentum, eps=eps)

    def forward(self, x):
        n, b, f = x.shape
        y = self.bn(x.transpose(0, 1).reshape(b, n * f))
        return y.reshape(b, n, f).transpose(0, 1)


def make_norm(kind: str, n: int, features: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "layernorm":
        return EnsembleLayerNorm(n, features)
    if kind == "batchnorm":
        return EnsembleBatchNorm(n, features)
    raise ConfigError("norm", kind, "one of 'none', 'batchnorm', 'layernorm'")


def make_activation(kind: str, inplace: bool = False) -> nn.Module:
    """`inplace` (ReLU only: its backward reads its output, SiLU's reads its input) overwrites the
    activation's input, for callers whose input is a fresh tensor nothing else reads."""
    if kind not in ACTIVATIONS:
        raise ConfigError("activation", kind, f"one of {', '.join(map(repr, ACTIVATIONS))}")
    return nn.ReLU(inplace=True) if inplace and kind == "relu" else ACTIVATIONS[kind]()
