"""The architecture zoo: every trunk the two papers (and their successors) compare, one builder.

A trunk maps (B, in) or (n, B, in) to (n, B, out) -- or (B, out) when squeezed -- for an ensemble
of `n` independent members (the twin critics are one trunk with n=2). `features(x)` returns the
penultimate activations, whose effective rank the analysis tools measure.

What `depth` counts:
  mlp, densenet, d2rl  hidden linear layers (each: linear -> norm -> activation);
  resnet               linear layers too, two per residual block (OFENet code's MLP-ResNet block);
  modern, simba, bronet residual blocks after a linear embedding (Bjorck et al. count "blocks").

Spectral normalization (`spec.spectral_norm`, Bjorck et al. 2021 section 5.1) is applied to every
linear layer except the first (the input layer or embedding) and the last (the output layer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import NET_KINDS, ConfigError, NetConfig
from .layers import EnsembleLinear, SpectralLinear, linear_skipping_trailing_grads, make_activation, make_norm

# Kinds whose definition includes a normalization layer: `norm="auto"` means LayerNorm for them.
_PRE_NORM_KINDS = ("modern", "simba", "bronet")
# Inner width of a residual feed-forward block, as a multiple of `width`, when `expansion` is None.
# SimBa's 4x is Lee et al. (2024); Bjorck et al. do not state theirs: we take 1x (the block's hidden
# width equals the trunk's width, like the MLP it is compared with) -- set `expansion` to change it.
DEFAULT_EXPANSION = {"modern": 1, "simba": 4, "bronet": 1}


def resolved_norm(spec: NetConfig) -> str:
    if spec.norm != "auto":
        return spec.norm
    return "layernorm" if spec.kind in _PRE_NORM_KINDS else "none"


def resolved_expansion(spec: NetConfig) -> int:
    return spec.expansion if spec.expansion is not None else DEFAULT_EXPANSION.get(spec.kind, 1)


class Trunk(nn.Module):
    """Skeleton shared by all kinds: `body` computes features, `head` the output (never SN)."""

    body: nn.Module
    feature_dim: int

    def __init__(self, spec: NetConfig, in_dim: int, out_dim: int, n: int, squeeze: bool):
        super().__init__()
        self.spec, self.n, self.squeeze = spec, n, squeeze
        self.in_dim, self.out_dim = in_dim, out_dim
        self.norm_kind = resolved_norm(spec)
        self._linears = 0

    # -- layer factories, so the first-layer / last-layer spectral-norm rule lives in one place --
    def _linear(self, d_in: int, d_out: int) -> EnsembleLinear:
        first = self._linears == 0
        self._linears += 1
        if self.spec.spectral_norm and not first:
            return SpectralLinear(self.n, d_in, d_out, power_iterations=self.spec.sn_power_iterations)
        return EnsembleLinear(self.n, d_in, d_out)

    def _norm(self, features: int) -> nn.Module:
        return make_norm(self.norm_kind, self.n, features)

    def _act(self) -> nn.Module:
        # In place: in every kind an activation reads a fresh linear / norm / residual-sum output
        # that nothing else reads (saves an allocation and a pass over memory per hidden layer).
        return make_activation(self.spec.activation, inplace=True)

    def _finish(self, feature_dim: int) -> None:
        self.feature_dim = feature_dim
        self.head = EnsembleLinear(self.n, feature_dim, self.out_dim)

    def member(self, i: int) -> "Trunk":
        """Member `i` of the ensemble as a standalone trunk (n=1, output (1, B, out)), same weights."""
        if not 0 <= i < self.n:
            raise IndexError(f"member={i} is out of range for an ensemble of {self.n}")
        single = type(self)(self.spec, self.in_dim, self.out_dim, n=1, squeeze=False)
        single.load_state_dict(_member_state(self, i))
        return single.to(next(self.parameters()).device).train(self.training)

    # -- forward -----------------------------------------------------------------------------
    def _expand(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(self.n, *x.shape) if x.dim() == 2 else x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, (n, B, feature_dim)."""
        return self.body(self._expand(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.features(x))
        return y.squeeze(0) if self.squeeze else y


class MLP(Trunk):
    """`depth` hidden layers of `width` units (linear -> norm -> activation), then a linear output."""

    def __init__(self, spec, in_dim, out_dim, n=1, squeeze=False):
        super().__init__(spec, in_dim, out_dim, n, squeeze)
        layers: list[nn.Module] = []
        dims = [in_dim] + [spec.width] * spec.depth
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [self._linear(d_in, d_out), self._norm(d_out), self._act()]
        self.body = nn.Sequential(*layers)
        self._finish(spec.width)


class DenseBlock(nn.Module):
    """y = [act(norm(W x)), x]: the block's new features are concatenated to its input (Ota 3.3).

    New features first, input after, as in the OFENet code's DensenetBlock (the order only
    permutes the next layer's inputs, but it fixes where the raw input sits in z_s and z_sa).
    `constant_cols`: how many trailing columns of x are the stack's raw input needing no gradient
    (their input-gradient product is skipped; see `layers.linear_skipping_trailing_grads`).
    """

    def __init__(self, linear: nn.Module, norm: nn.Module, act: nn.Module):
        super().__init__()
        self.linear, self.norm, self.act = linear, norm, act

    def forward(self, x, constant_cols: int = 0):
        h = linear_skipping_trailing_grads(self.linear, x, constant_cols)
        return torch.cat([self.act(self.norm(h)), x], dim=-1)


def _constant_cols(spec: NetConfig, x: torch.Tensor) -> int:
    """Trailing raw-input columns whose input gradients a DenseNet / D2RL layer may skip: all of
    them when the switch is on and the raw input needs no gradient (e.g. the critic step, where
    z_sa is data), none otherwise (the actor's loss needs dQ/da through the critic)."""
    return x.shape[-1] if spec.skip_raw_input_grads and not x.requires_grad else 0


def dense_stack(make_linear, make_norm_, make_act, in_dim: int, width: int, depth: int) -> nn.Sequential:
    """`depth` DenseBlocks of `width` new units each: in_dim -> in_dim + depth * width."""
    blocks, d = [], in_dim
    for _ in range(depth):
        blocks.append(DenseBlock(make_linear(d, width), make_norm_(width), make_act()))
        d += width
    return nn.Sequential(*blocks)


class DenseNet(Trunk):
    """MLP-DenseNet (Ota et al. 2021 section 3.3): layer i sees [y_0, ..., y_{i-1}].

    Feature width grows by `width` per layer: in_dim + depth * width (Table 2: 2159 -> 4207 -> 6255).
    """

    def __init__(self, spec, in_dim, out_dim, n=1, squeeze=False):
        super().__init__(spec, in_dim, out_dim, n, squeeze)
        self.body = dense_stack(self._linear, self._norm, self._act, in_dim, spec.width, spec.depth)
        self._finish(in_dim + spec.depth * spec.width)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._expand(x)
        constant = _constant_cols(self.spec, x)
        for block in self.body:
            x = block(x, constant)
        return x


class D2RLBody(nn.Module):
    """Hidden layer 1 sees x; hidden layer i > 1 sees [h_{i-1}, x] (Sinha et al. 2020). Each layer
    is (linear, norm, activation); `skip_raw_input_grads` as in `DenseBlock`."""

    def __init__(self, layers: list[nn.Module], skip_raw_input_grads: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.skip_raw_input_grads = skip_raw_input_grads

    def forward(self, x):
        h = self.layers[0](x)
        constant = x.shape[-1] if self.skip_raw_input_grads and not x.requires_grad else 0
        for linear, norm, act in self.layers[1:]:
            h = act(norm(linear_skipping_trailing_grads(linear, torch.cat([h, x], dim=-1), constant)))
        return h


class D2RL(Trunk):
    """D2RL: the raw input is concatenated to the input of every hidden layer; the output layer
    reads the last hidden layer alone."""

    def __init__(self, spec, in_dim, out_dim, n=1, squeeze=False):
        super().__init__(spec, in_dim, out_dim, n, squeeze)
        layers = []
        for i in range(spec.depth):
            d_in = in_dim if i == 0 else spec.width + in_dim
            layers.append(nn.Sequential(self._linear(d_in, spec.width), self._norm(spec.width), self._act()))
        self.body = D2RLBody(layers, spec.skip_raw_input_grads)
        self._finish(spec.width)


def _pad_to(x: torch.Tensor, width: int) -> torch.Tensor:
    return x if x.shape[-1] == width else F.pad(x, (0, width - x.shape[-1]))


class ResidualBlock(nn.Module):
    """OFENet code's MLP-ResNet block: act(norm(W2 act(norm(W1 x))) + x).

    When the residual branch and the input differ in width, the narrower one is zero-padded on the
    right (no projection), as in the OFENet code; the block's output is the wider of the two.
    """

    def __init__(self, linear1, norm1, act1, linear2, norm2, act2):
        super().__init__()
        self.linear1, self.norm1, self.act1 = linear1, norm1, act1
        self.linear2, self.norm2, self.act2 = linear2, norm2, act2
        self.out_features = max(linear1.in_features, linear2.out_features)

    def forward(self, x):
        h = self.norm2(self.linear2(self.act1(self.norm1(self.linear1(x)))))
        return self.act2(_pad_to(h, self.out_features) + _pad_to(x, self.out_features))


class ResNet(Trunk):
    """MLP-ResNet (Ota et al. 2021 section 4.2): y_i = f_res(y_{i-1}) + y_{i-1}.

    `depth` counts linear layers, two per block, as the OFENet code does (so depth must be even).
    """

    def __init__(self, spec, in_dim, out_dim, n=1, squeeze=False):
        super().__init__(spec, in_dim, out_dim, n, squeeze)
        if spec.depth % 2:
            raise ConfigError("depth", spec.depth, "an even number for kind='resnet' (two linear layers per block)")
        blocks, d, w = [], in_dim, spec.width
        for _ in range(spec.depth // 2):
            block = ResidualBlock(self._linear(d, w), self._norm(w), self._act(),
                                  self._linear(w, w), self._norm(w), self._act())
            blocks.append(block)
            d = block.out_features
        self.body = nn.Sequential(*blocks)
        self._finish(d)


class PreNormBlock(nn.Module):
    """x + W2 act(W1 norm(x)): a Transformer feed-forward block with pre-normalization."""

    def __init__(self, norm, linear1, act, linear2):
        super().__init__()
        self.norm, self.linear1, self.act, self.linear2 = norm, linear1, act, linear2

    def forward(self, x):
        return x + self.linear2(self.act(self.linear1(self.norm(x))))


class Modern(Trunk):
    """Bjorck et al. 2021 section 3.2: linear embedding -> `depth` pre-norm residual feed-forward
    blocks -> linear output."""

    final_norm = False

    def __init__(self, spec, in_dim, out_dim, n=1, squeeze=False):
        super().__init__(spec, in_dim, out_dim, n, squeeze)
        w, inner = spec.width, spec.width * resolved_expansion(spec)
        layers: list[nn.Module] = [self._linear(in_dim, w)]
        for _ in range(spec.depth):
            layers.append(PreNormBlock(self._norm(w), self._linear(w, inner), self._act(), self._linear(inner, w)))
        if self.final_norm:
            layers.append(self._norm(w))
        self.body = nn.Sequential(*layers)
        self._finish(w)


class SimBa(Modern):
    """SimBa (Lee et al. 2024): the same residual blocks with 4x expansion, plus a final LayerNorm
    before the output layer. (SimBa's running observation normalization is not part of the trunk.)"""

    final_norm = True


class PostNormBlock(nn.Module):
    """BroNet block (Nauman et al. 2024): x + norm(W2 act(norm(W1 x)))."""

    def __init__(self, linear1, norm1, act, linear2, norm2):
        super().__init__()
        self.linear1, self.norm1, self.act, self.linear2, self.norm2 = linear1, norm1, act, linear2, norm2

    def forward(self, x):
        return x + self.norm2(self.linear2(self.act(self.norm1(self.linear1(x)))))


class BroNet(Trunk):
    """BroNet (Nauman et al. 2024): embedding linear -> norm -> act, then `depth` residual blocks."""

    def __init__(self, spec, in_dim, out_dim, n=1, squeeze=False):
        super().__init__(spec, in_dim, out_dim, n, squeeze)
        w, inner = spec.width, spec.width * resolved_expansion(spec)
        layers: list[nn.Module] = [self._linear(in_dim, w), self._norm(w), self._act()]
        for _ in range(spec.depth):
            layers.append(PostNormBlock(self._linear(w, inner), self._norm(inner), self._act(),
                                        self._linear(inner, w), self._norm(w)))
        self.body = nn.Sequential(*layers)
        self._finish(w)


def _member_state(trunk: Trunk, i: int) -> dict[str, torch.Tensor]:
    state = {}
    for prefix, m in trunk.named_modules():
        own = {k: v for k, v in m.state_dict(keep_vars=False).items() if "." not in k}
        for k, v in own.items():
            if isinstance(m, nn.BatchNorm1d):  # EnsembleBatchNorm's inner BN: n * f features
                f = v.numel() // trunk.n if v.dim() else 0
                v = v[i * f:(i + 1) * f] if v.dim() else v
            else:  # ensemble tensors lead with the member axis
                v = v[i:i + 1]
            state[f"{prefix}.{k}" if prefix else k] = v.clone()
    return state


TRUNKS: dict[str, type[Trunk]] = {"mlp": MLP, "resnet": ResNet, "densenet": DenseNet, "d2rl": D2RL,
                                  "modern": Modern, "simba": SimBa, "bronet": BroNet}
assert set(TRUNKS) == set(NET_KINDS)


def build_trunk(spec: NetConfig, in_dim: int, out_dim: int, n: int = 1, squeeze: bool | None = None) -> Trunk:
    """The one builder: a config's trunk as an ensemble of `n` members (squeezed when n == 1)."""
    squeeze = (n == 1) if squeeze is None else squeeze
    if spec.kind not in TRUNKS:
        raise ConfigError("kind", spec.kind, f"one of {', '.join(map(repr, TRUNKS))}")
    return TRUNKS[spec.kind](spec, in_dim, out_dim, n=n, squeeze=squeeze)


def spectral_layers(module: nn.Module) -> list[SpectralLinear]:
    return [m for m in module.modules() if isinstance(m, SpectralLinear)]


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
