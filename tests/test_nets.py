"""rlcore.nets: ensemble MLP shapes, parameter counts, member independence, norm layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlcore.config import ConfigError, NetConfig
from rlcore.nets import (MLP, EnsembleBatchNorm, EnsembleLayerNorm, EnsembleLinear, build_trunk,
                         count_parameters)


def analytic_mlp_params(in_dim, out_dim, width, depth, n=1, norm="none"):
    per_member = in_dim * width + width + (depth - 1) * (width * width + width) + width * out_dim + out_dim
    if norm in ("layernorm", "batchnorm"):
        per_member += depth * 2 * width  # affine scale and shift per hidden layer
    return n * per_member


def test_actor_shape_n1_squeezed():
    net = build_trunk(NetConfig(width=32, depth=2), 5, 4)
    assert net.n == 1 and net.squeeze
    assert net(torch.randn(7, 5)).shape == (7, 4)
    assert net.features(torch.randn(7, 5)).shape == (1, 7, 32)


def test_critic_shape_n2():
    net = build_trunk(NetConfig(width=32, depth=3), 6, 1, n=2)
    assert not net.squeeze
    assert net(torch.randn(9, 6)).shape == (2, 9, 1)
    assert net(torch.randn(2, 9, 6)).shape == (2, 9, 1)  # per-member inputs
    assert net.features(torch.randn(9, 6)).shape == (2, 9, 32)
    assert build_trunk(NetConfig(width=8, depth=1), 6, 1, n=1, squeeze=False)(torch.randn(3, 6)).shape == (1, 3, 1)


@pytest.mark.parametrize("width,depth", [(1, 1), (16, 1), (32, 2), (64, 4), (256, 2), (100, 3)])
@pytest.mark.parametrize("n", [1, 2])
def test_parameter_count_matches_formula(width, depth, n):
    in_dim, out_dim = 17, 6
    net = build_trunk(NetConfig(width=width, depth=depth), in_dim, out_dim, n=n)
    assert count_parameters(net) == analytic_mlp_params(in_dim, out_dim, width, depth, n)


def test_parameter_count_known_value():
    # SAC critic on Ant-v4 (111 obs + 8 action, 256x2, twin): 2 * (119*256+256 + 256*256+256 + 256+1)
    net = build_trunk(NetConfig(), 119, 1, n=2)
    assert count_parameters(net) == 2 * (30_720 + 65_792 + 257) == 193_538


@pytest.mark.parametrize("norm", ["layernorm", "batchnorm"])
def test_parameter_count_with_norms(norm):
    net = build_trunk(NetConfig(width=24, depth=3, norm=norm), 5, 2, n=2)
    assert count_parameters(net) == analytic_mlp_params(5, 2, 24, 3, n=2, norm=norm)


def test_depth_and_activation_layout():
    net = build_trunk(NetConfig(width=8, depth=3, activation="swish"), 4, 2)
    linears = [m for m in net.body if isinstance(m, EnsembleLinear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 8), (8, 8), (8, 8)]
    assert sum(isinstance(m, nn.SiLU) for m in net.body) == 3
    assert (net.head.in_features, net.head.out_features) == (8, 2)
    relu = build_trunk(NetConfig(width=8, depth=2), 4, 2)
    assert sum(isinstance(m, nn.ReLU) for m in relu.body) == 2


def test_ensemble_linear_matches_per_member_linear():
    layer = EnsembleLinear(3, 5, 4)
    x = torch.randn(3, 6, 5)
    y = layer(x)
    for i in range(3):
        torch.testing.assert_close(y[i], x[i] @ layer.weight[i] + layer.bias[i])
    bound = 1 / 5 ** 0.5
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound


@pytest.mark.parametrize("norm", ["none", "layernorm", "batchnorm"])
def test_ensemble_members_are_independent(norm):
    torch.manual_seed(0)
    net = build_trunk(NetConfig(width=16, depth=2, norm=norm), 4, 1, n=2)
    x = torch.randn(10, 4)
    out = net(x)
    out[0].sum().backward()
    member_params = [p for p in net.parameters() if p.dim() >= 2 and p.shape[0] == 2]
    assert member_params, "ensemble parameters are stacked along dim 0"
    for p in member_params:
        assert p.grad is not None
        assert p.grad[0].abs().sum() > 0, "member 0 gets gradient"
        assert torch.count_nonzero(p.grad[1]) == 0, "member 1 untouched by member 0's output"
    # EnsembleBatchNorm keeps its affine parameters flat, (n * width,): member 1 owns the second half.
    for bn in (m for m in net.modules() if isinstance(m, EnsembleBatchNorm)):
        for p in (bn.bn.weight, bn.bn.bias):
            assert p.grad.view(2, 16)[0].abs().sum() > 0
            assert torch.count_nonzero(p.grad.view(2, 16)[1]) == 0
    # And changing member 1's weights leaves member 0's output alone (batchnorm: batch statistics
    # are per member too, so this holds in training mode).
    with torch.no_grad():
        for p in member_params:
            p[1].add_(1.0)
    torch.testing.assert_close(net(x)[0], out[0].detach())


def test_members_differ_at_init():
    net = build_trunk(NetConfig(width=16, depth=2), 4, 1, n=2)
    y = net(torch.randn(10, 4))
    assert not torch.allclose(y[0], y[1])


@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("n", [1, 2])
def test_norm_variants_run_and_backprop(norm, n):
    net = build_trunk(NetConfig(width=16, depth=2, norm=norm), 4, 3, n=n)
    x = torch.randn(12, 4)
    y = net(x)
    assert y.shape == ((12, 3) if n == 1 else (n, 12, 3))
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    net.eval()
    assert torch.isfinite(net(x[:1])).all()  # eval mode works with a single sample


def test_layernorm_normalises_each_member():
    ln = EnsembleLayerNorm(2, 6)
    with torch.no_grad():
        ln.weight[1].fill_(2.0)
        ln.bias[1].fill_(1.0)
    x = torch.randn(2, 5, 6) * 3 + 4
    y = ln(x)
    torch.testing.assert_close(y[0], nn.functional.layer_norm(x[0], (6,)))
    torch.testing.assert_close(y[1], 2 * nn.functional.layer_norm(x[1], (6,)) + 1)


def test_batchnorm_keeps_per_member_statistics():
    torch.manual_seed(0)
    n, f = 2, 5
    ebn = EnsembleBatchNorm(n, f)
    separate = [nn.BatchNorm1d(f, momentum=0.01, eps=1e-3) for _ in range(n)]  # Keras defaults
    for _ in range(3):  # members see very different distributions
        x = torch.stack([torch.randn(16, f) * 0.5 - 3, torch.randn(16, f) * 4 + 10])
        y = ebn(x)
        for i in range(n):
            torch.testing.assert_close(y[i], separate[i](x[i]))
    for i in range(n):
        torch.testing.assert_close(ebn.bn.running_mean.view(n, f)[i], separate[i].running_mean)
        torch.testing.assert_close(ebn.bn.running_var.view(n, f)[i], separate[i].running_var)
    assert not torch.allclose(ebn.bn.running_mean.view(n, f)[0], ebn.bn.running_mean.view(n, f)[1])
    ebn.eval()
    for m in separate:
        m.eval()
    x = torch.randn(n, 4, f)
    y = ebn(x)
    for i in range(n):
        torch.testing.assert_close(y[i], separate[i](x[i]))


def test_build_trunk_rejects_unknown_kind():
    # NetConfig alone does not validate (RunConfig does); the builder still refuses.
    with pytest.raises(ConfigError, match="kind"):
        build_trunk(NetConfig(kind="transformer"), 4, 2)


def test_mlp_is_the_builder_output():
    net = build_trunk(NetConfig(width=8, depth=1), 3, 2)
    assert isinstance(net, MLP) and net.feature_dim == 8 and (net.in_dim, net.out_dim) == (3, 2)
