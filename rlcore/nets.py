"""Network trunks, built from a `NetConfig` by one builder.

Every trunk is an *ensemble* of `n` independent members evaluated in one batched matmul per
layer (`torch.baddbmm` over stacked weights): the twin critics of SAC/TD3 are one module with
n=2, which halves the kernel launches of two separate networks. An actor is the same class with
n=1 and `squeeze=True`, so there is one code path for both.

Shapes: input (B, in) or (n, B, in); output (n, B, out), or (B, out) when squeezed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ConfigError, NetConfig

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, B, in) -> (n, B, out)
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"n={self.n}, in_features={self.in_features}, out_features={self.out_features}"


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over features with separate affine parameters per member."""

    def __init__(self, n: int, features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n, 1, features))
        self.bias = nn.Parameter(torch.zeros(n, 1, features))

    def forward(self, x):
        return torch.nn.functional.layer_norm(x, x.shape[-1:]) * self.weight + self.bias


class EnsembleBatchNorm(nn.Module):
    """BatchNorm with statistics per member and unit, computed over the batch.

    (n, B, f) is viewed as (B, n*f) so one BatchNorm1d keeps separate statistics per member.
    """

    def __init__(self, n: int, features: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(n * features)

    def forward(self, x):
        n, b, f = x.shape
        y = self.bn(x.transpose(0, 1).reshape(b, n * f))
        return y.reshape(b, n, f).transpose(0, 1)


def _norm(kind: str, n: int, features: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "layernorm":
        return EnsembleLayerNorm(n, features)
    if kind == "batchnorm":
        return EnsembleBatchNorm(n, features)
    raise ConfigError("norm", kind, "one of 'none', 'batchnorm', 'layernorm'")


class MLP(nn.Module):
    """`depth` hidden layers of `width` units (linear -> norm -> activation), then a linear output."""

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int, activation: str = "relu",
                 norm: str = "none", n: int = 1, squeeze: bool = False):
        super().__init__()
        self.n, self.squeeze = n, squeeze
        self.in_dim, self.out_dim, self.feature_dim = in_dim, out_dim, width
        layers: list[nn.Module] = []
        dims = [in_dim] + [width] * depth
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [EnsembleLinear(n, d_in, d_out), _norm(norm, n, d_out), ACTIVATIONS[activation]()]
        self.hidden = nn.Sequential(*layers)
        self.head = EnsembleLinear(n, width, out_dim)

    def _expand(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(self.n, *x.shape) if x.dim() == 2 else x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, (n, B, width): the features whose effective rank is measured."""
        return self.hidden(self._expand(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.features(x))
        return y.squeeze(0) if self.squeeze else y


def build_trunk(spec: NetConfig, in_dim: int, out_dim: int, n: int = 1, squeeze: bool | None = None) -> nn.Module:
    """The one builder: a config's trunk as an ensemble of `n` members (squeezed when n == 1)."""
    squeeze = (n == 1) if squeeze is None else squeeze
    if spec.kind == "mlp":
        return MLP(in_dim, out_dim, spec.width, spec.depth, spec.activation, spec.norm, n=n, squeeze=squeeze)
    raise ConfigError("kind", spec.kind, "one of 'mlp'")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
