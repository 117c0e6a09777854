"""The architecture zoo (rlcore.nets.trunks): shapes, exact parameter counts per kind, layer layouts,
ResNet zero-padding, member independence, norm resolution, config errors, and a short SAC run per kind."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from rlcore.config import NET_KINDS, ConfigError, NetConfig
from rlcore.nets import (EnsembleBatchNorm, EnsembleLayerNorm, EnsembleLinear, build_trunk,
                         count_parameters, resolved_norm)
from rlcore.nets.trunks import TRUNKS, spectral_layers
from rlcore.results import RunStore, load_agent
from rlcore.train import train

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# (width, depth) settings every kind is built with; depths are even so ResNet accepts them.
SIZES = [(1, 2), (8, 2), (16, 4), (24, 6)]


def linears(module: nn.Module) -> list[EnsembleLinear]:
    """Every linear layer, in the order the trunk applies them (the head last)."""
    return [m for m in module.modules() if isinstance(m, EnsembleLinear)]


def expected_feature_dim(kind: str, in_dim: int, width: int, depth: int) -> int:
    if kind == "densenet":
        return in_dim + depth * width
    if kind == "resnet":
        return max(in_dim, width)
    return width


# ---- shapes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", NET_KINDS)
@pytest.mark.parametrize("width,depth", SIZES)
def test_output_and_feature_shapes(kind, width, depth):
    torch.manual_seed(0)
    in_dim, out_dim, batch = 5, 3, 7
    spec = NetConfig(kind=kind, width=width, depth=depth)
    fd = expected_feature_dim(kind, in_dim, width, depth)

    single = build_trunk(spec, in_dim, out_dim)
    assert isinstance(single, TRUNKS[kind]) and single.squeeze
    x = torch.randn(batch, in_dim)
    assert single(x).shape == (batch, out_dim)
    assert single.feature_dim == fd
    assert single.features(x).shape == (1, batch, fd)

    twin = build_trunk(spec, in_dim, out_dim, n=2)
    assert not twin.squeeze and twin.feature_dim == fd
    assert twin(x).shape == (2, batch, out_dim)  # shared input, broadcast to both members
    assert twin(torch.randn(2, batch, in_dim)).shape == (2, batch, out_dim)  # one input per member
    assert twin.features(x).shape == (2, batch, fd)
    assert twin.head.in_features == fd and twin.head.out_features == out_dim
    out = twin(x)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", NET_KINDS)
def test_features_feed_the_head(kind):
    """forward(x) is exactly head(features(x)), so `features` really is the penultimate layer."""
    torch.manual_seed(1)
    net = build_trunk(NetConfig(kind=kind, width=8, depth=2), 4, 2, n=2).eval()
    x = torch.randn(6, 4)
    torch.testing.assert_close(net(x), net.head(net.features(x)))


# ---- exact parameter counts, from hand-written formulas -----------------------------------------
def formula_params(kind: str, i: int, w: int, d: int, o: int, expansion: int | None = None) -> int:
    """Per member, default norm (auto) and no spectral norm."""
    if kind == "mlp":
        return (i + 1) * w + (d - 1) * (w + 1) * w + (w + 1) * o
    if kind == "densenet":
        return sum((i + k * w + 1) * w for k in range(d)) + (i + d * w + 1) * o
    if kind == "d2rl":
        return (i + 1) * w + (d - 1) * (w + i + 1) * w + (w + 1) * o
    if kind == "resnet":
        total, width_in = 0, i
        for _ in range(d // 2):
            total += (width_in + 1) * w + (w + 1) * w
            width_in = max(width_in, w)  # the narrower side is zero-padded, no projection
        return total + (width_in + 1) * o
    if kind in ("modern", "simba"):
        e = expansion or (4 if kind == "simba" else 1)
        block = 2 * w + (w + 1) * e * w + (e * w + 1) * w
        final_ln = 2 * w if kind == "simba" else 0
        return (i + 1) * w + d * block + final_ln + (w + 1) * o
    if kind == "bronet":
        e = expansion or 1
        block = (w + 1) * e * w + 2 * e * w + (e * w + 1) * w + 2 * w
        return (i + 1) * w + 2 * w + d * block + (w + 1) * o
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", NET_KINDS)
@pytest.mark.parametrize("in_dim,width,depth,out_dim", [(17, 32, 2, 6), (5, 12, 4, 1), (40, 8, 2, 3)])
@pytest.mark.parametrize("n", [1, 2])
def test_parameter_count_matches_formula(kind, in_dim, width, depth, out_dim, n):
    net = build_trunk(NetConfig(kind=kind, width=width, depth=depth), in_dim, out_dim, n=n)
    assert count_parameters(net) == n * formula_params(kind, in_dim, width, depth, out_dim)


@pytest.mark.parametrize("kind,expansion", [("modern", 2), ("simba", 1), ("bronet", 3)])
def test_parameter_count_with_explicit_expansion(kind, expansion):
    net = build_trunk(NetConfig(kind=kind, width=10, depth=3, expansion=expansion), 7, 2)
    assert count_parameters(net) == formula_params(kind, 7, 10, 3, 2, expansion)
    inner = {m.out_features for m in linears(net)[1:-1:2]}  # first linear of each block
    assert inner == {10 * expansion}


def test_parameter_count_known_values():
    # A few numbers worked out on paper, so a formula shared by test and code cannot hide an error.
    assert count_parameters(build_trunk(NetConfig(kind="mlp", width=4, depth=2), 3, 2)) == 16 + 20 + 10
    # densenet 3 -> 3+4 -> 3+8: (3+1)*4 + (7+1)*4 + (11+1)*2
    assert count_parameters(build_trunk(NetConfig(kind="densenet", width=4, depth=2), 3, 2)) == 16 + 32 + 24
    # d2rl: (3+1)*4 + (4+3+1)*4 + (4+1)*2
    assert count_parameters(build_trunk(NetConfig(kind="d2rl", width=4, depth=2), 3, 2)) == 16 + 32 + 10
    # simba, e=4: 4*4 embed + (8 LN + 5*16 + 17*4) block + 8 final LN + 5*2 head
    assert count_parameters(build_trunk(NetConfig(kind="simba", width=4, depth=1), 3, 2)) == 16 + 156 + 8 + 10


# ---- layouts ------------------------------------------------------------------------------------
def test_densenet_concatenation_sizes():
    in_dim, w, d = 6, 5, 4
    net = build_trunk(NetConfig(kind="densenet", width=w, depth=d), in_dim, 2)
    layers = linears(net)
    assert [m.in_features for m in layers[:-1]] == [in_dim + k * w for k in range(d)]
    assert all(m.out_features == w for m in layers[:-1])
    assert net.feature_dim == in_dim + d * w
    assert layers[-1] is net.head and net.head.in_features == in_dim + d * w
    # The raw input is carried through to the features unchanged (it sits at the end: [new, input]).
    x = torch.randn(3, in_dim)
    torch.testing.assert_close(net.features(x)[0, :, -in_dim:], x)


def test_densenet_ota_table2_widths():
    # Ota et al. 2021 Table 2: the SAC actor on OFENet features reads 2159 -> 4207 -> 6255.
    net = build_trunk(NetConfig(kind="densenet", width=2048, depth=2), 2159, 16)
    assert [m.in_features for m in linears(net)] == [2159, 4207, 6255]


def test_d2rl_layout():
    in_dim, w, d = 6, 5, 4
    net = build_trunk(NetConfig(kind="d2rl", width=w, depth=d), in_dim, 2)
    layers = linears(net)
    assert layers[0].in_features == in_dim
    assert [m.in_features for m in layers[1:-1]] == [w + in_dim] * (d - 1)
    assert all(m.out_features == w for m in layers[:-1])
    assert layers[-1] is net.head and net.head.in_features == w and net.feature_dim == w


def test_d2rl_hidden_layers_read_the_raw_input():
    """Changing the input changes layer k's pre-activation also through its direct input slice."""
    torch.manual_seed(0)
    net = build_trunk(NetConfig(kind="d2rl", width=4, depth=2), 3, 1)
    second = linears(net)[1]
    with torch.no_grad():
        second.weight[:, :4].zero_()  # cut the path from the first hidden layer
    x = torch.randn(5, 3)
    features = net.features(x)
    expected = torch.relu(x @ second.weight[0, 4:] + second.bias[0])
    torch.testing.assert_close(features[0], expected)


@pytest.mark.parametrize("in_dim,width", [(20, 8), (3, 8), (8, 8)])
def test_resnet_zero_padding(in_dim, width):
    torch.manual_seed(0)
    net = build_trunk(NetConfig(kind="resnet", width=width, depth=4), in_dim, 2)
    wide = max(in_dim, width)
    assert net.feature_dim == wide and net.head.in_features == wide
    layers = linears(net)
    assert [(m.in_features, m.out_features) for m in layers[:-1]] == [(in_dim, width), (width, width),
                                                                       (wide, width), (width, width)]
    # Block 1 by hand: relu(pad(h) + pad(x)), h = W2 relu(W1 x); the narrower one gets zeros on the right.
    x = torch.randn(5, in_dim)
    block = net.body[0]
    h = torch.relu(x @ block.linear1.weight[0] + block.linear1.bias[0]) @ block.linear2.weight[0] + block.linear2.bias[0]
    padded_h = torch.cat([h, torch.zeros(5, wide - width)], dim=-1)
    padded_x = torch.cat([x, torch.zeros(5, wide - in_dim)], dim=-1)
    torch.testing.assert_close(block(x.unsqueeze(0))[0], torch.relu(padded_h + padded_x))


def test_resnet_rejects_odd_depth():
    with pytest.raises(ConfigError) as info:
        build_trunk(NetConfig(kind="resnet", width=8, depth=3), 4, 2)
    assert info.value.field_name == "depth" and "even" in str(info.value)
    with pytest.raises(ConfigError) as info:
        NetConfig(kind="resnet", depth=3).validate("agent.critic")
    assert info.value.field_name == "agent.critic.depth"
    NetConfig(kind="mlp", depth=3).validate("agent.critic")  # odd depth is fine elsewhere


def test_unknown_kind_names_field_and_options():
    with pytest.raises(ConfigError) as info:
        build_trunk(NetConfig(kind="transformer"), 4, 2)
    assert info.value.field_name == "kind"
    message = str(info.value)
    assert "'transformer'" in message
    for kind in NET_KINDS:
        assert repr(kind) in message


@pytest.mark.parametrize("kind", NET_KINDS)
def test_norm_auto_resolution(kind):
    pre_norm = kind in ("modern", "simba", "bronet")
    assert resolved_norm(NetConfig(kind=kind)) == ("layernorm" if pre_norm else "none")
    net = build_trunk(NetConfig(kind=kind, width=8, depth=2), 4, 2)
    layer_norms = [m for m in net.modules() if isinstance(m, EnsembleLayerNorm)]
    assert bool(layer_norms) == pre_norm
    assert not any(isinstance(m, EnsembleBatchNorm) for m in net.modules())
    # Explicit choices are kept as given.
    for norm in ("none", "batchnorm", "layernorm"):
        assert resolved_norm(NetConfig(kind=kind, norm=norm)) == norm
    explicit_none = build_trunk(NetConfig(kind=kind, width=8, depth=2, norm="none"), 4, 2)
    assert not any(isinstance(m, (EnsembleLayerNorm, EnsembleBatchNorm)) for m in explicit_none.modules())
    bn = build_trunk(NetConfig(kind=kind, width=8, depth=2, norm="batchnorm"), 4, 2)
    assert any(isinstance(m, EnsembleBatchNorm) for m in bn.modules())


def test_norm_module_counts():
    # modern: one pre-norm per block; simba: plus a final one; bronet: embedding + two per block
    counts = {kind: sum(isinstance(m, EnsembleLayerNorm)
                        for m in build_trunk(NetConfig(kind=kind, width=8, depth=3), 4, 2).modules())
              for kind in ("modern", "simba", "bronet")}
    assert counts == {"modern": 3, "simba": 4, "bronet": 7}


# ---- ensemble independence ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", NET_KINDS)
@pytest.mark.parametrize("norm", ["auto", "batchnorm"])
def test_perturbing_member0_changes_only_output0(kind, norm):
    torch.manual_seed(0)
    net = build_trunk(NetConfig(kind=kind, width=8, depth=2, norm=norm), 5, 3, n=2)
    x = torch.randn(2, 16, 5)
    before = net(x).detach()
    with torch.no_grad():
        for p in net.parameters():
            if isinstance(p, nn.Parameter) and p.dim() == 3:  # stacked (n, ...) member tensors
                p[0].add_(0.5 * torch.randn_like(p[0]))
            else:  # EnsembleBatchNorm's flat (n * f,) affine parameters: member 0 owns the first half
                p.view(2, -1)[0].add_(0.5)
    after = net(x).detach()
    assert not torch.allclose(after[0], before[0])
    torch.testing.assert_close(after[1], before[1], rtol=0, atol=0)


# ---- short SAC runs on Pendulum, one per trunk (plus OFENet and spectral norm) ---------------------
RUNS = [pytest.param({"agent.actor.kind": k, "agent.critic.kind": k}, id=k) for k in NET_KINDS] + [
    pytest.param({"agent.ofenet": dict(enabled=True, layers=2, total_units=8, pretrain_steps=10)}, id="ofenet"),
    pytest.param({"agent.critic.spectral_norm": True, "agent.actor.spectral_norm": True,
                  "agent.critic.depth": 3, "agent.actor.depth": 3}, id="spectral_norm"),
]


@pytest.mark.parametrize("overrides", RUNS)
def test_short_sac_run(tmp_path, tiny_config, overrides):
    cfg = tiny_config("sac", width=16, depth=2, total_steps=400, warmup_steps=200, eval_every=400,
                      log_every=100, td_targets_samples=64)
    cfg = cfg.replace(**overrides)
    status = train(cfg, tmp_path, progress=False)
    assert status["state"] == "finished" and status["step"] == 400, status
    metrics = pd.read_csv(RunStore(tmp_path, cfg).path("metrics.csv"))
    b = cfg.budget
    # Updates ran: a critic loss row at every logging step from the end of the warm-up on.
    log_steps = list(range(b.warmup_steps, b.total_steps + 1, b.log_every))
    assert log_steps == [200, 300, 400]
    for name in ("train_critic_loss", "train_q_mean"):
        rows = metrics[metrics["metric"] == name]
        assert sorted(rows["step"]) == log_steps, name
        assert rows["value"].map(math.isfinite).all(), name
    # Pendulum's rewards lie in [-16.3, 0], so no return (and no sane Q estimate) exceeds 16.3 / (1 - gamma).
    q_mean = metrics[metrics["metric"] == "train_q_mean"]["value"]
    assert (q_mean.abs() <= 16.3 / (1 - cfg.agent.gamma)).all(), q_mean
    # The saved agent is the architecture asked for.
    agent = load_agent(tmp_path / cfg.run_id)
    assert isinstance(agent.critic, TRUNKS[cfg.agent.critic.kind])
    assert bool(spectral_layers(agent.critic)) == cfg.agent.critic.spectral_norm
    assert agent.learns_features == cfg.agent.ofenet.enabled


@pytest.mark.parametrize("kind", NET_KINDS)
@pytest.mark.parametrize("norm,spectral_norm", [("auto", False), ("batchnorm", True)])
def test_member_reproduces_its_slice_of_the_ensemble(kind, norm, spectral_norm):
    torch.manual_seed(0)
    net = build_trunk(NetConfig(kind=kind, width=8, depth=2, norm=norm, spectral_norm=spectral_norm), 5, 3, n=2)
    x = torch.randn(6, 5)
    net(x)  # a training pass moves BatchNorm statistics and spectral-norm vectors away from init
    net.eval()
    y = net(x)
    for i in range(2):
        single = net.member(i)
        assert single.n == 1 and not single.training
        torch.testing.assert_close(single(x)[0], y[i])
    with pytest.raises(IndexError):
        net.member(2)
