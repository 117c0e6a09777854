"""NetConfig.skip_raw_input_grads: DenseNet / D2RL layers skip the input-gradient products of the
raw-input columns when the raw input needs no gradient, and nothing else changes."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from rlcore.agents import make_agent
from rlcore.config import AgentConfig, ConfigError, NetConfig, RunConfig
from rlcore.envs import ObsSpec
from rlcore.nets import build_trunk
from rlcore.replay import Batch

IN, WIDTH, DEPTH, B = 13, 32, 3, 64


def trunk_pair(kind: str, n: int = 2, **spec):
    torch.manual_seed(0)
    plain = build_trunk(NetConfig(kind=kind, width=WIDTH, depth=DEPTH, **spec), IN, 1, n=n)
    skipping = build_trunk(NetConfig(kind=kind, width=WIDTH, depth=DEPTH, skip_raw_input_grads=True, **spec), IN, 1, n=n)
    skipping.load_state_dict(plain.state_dict())
    return plain, skipping


def grads_of(net, x):
    net.zero_grad(set_to_none=True)
    y = net(x)
    y.square().mean().backward()
    return y.detach(), {k: p.grad.clone() for k, p in net.named_parameters()}


@pytest.mark.parametrize("kind", ["densenet", "d2rl"])
def test_same_outputs_and_weight_gradients_when_the_input_is_data(kind):
    plain, skipping = trunk_pair(kind)
    x = torch.randn(B, IN)
    y0, g0 = grads_of(plain, x)
    y1, g1 = grads_of(skipping, x)
    assert torch.equal(y0, y1)  # the forward pass is baddbmm's, unchanged
    assert g0.keys() == g1.keys()
    for k in g0:
        torch.testing.assert_close(g1[k], g0[k], rtol=1e-5, atol=1e-6, msg=k)


@pytest.mark.parametrize("kind", ["densenet", "d2rl"])
def test_inactive_when_the_input_needs_its_gradient(kind):
    """The actor's loss reads dQ/da through the critic: every input column keeps its gradient."""
    plain, skipping = trunk_pair(kind)
    x0 = torch.randn(B, IN, requires_grad=True)
    x1 = x0.detach().clone().requires_grad_(True)
    plain(x0).sum().backward()
    skipping(x1).sum().backward()
    assert torch.equal(x0.grad, x1.grad)


def test_spectrally_normalized_layers_take_the_plain_path():
    plain, skipping = trunk_pair("densenet", spectral_norm=True)
    x = torch.randn(B, IN)
    y0, g0 = grads_of(plain, x)
    y1, g1 = grads_of(skipping, x)
    assert torch.equal(y0, y1) and all(torch.equal(g0[k], g1[k]) for k in g0)


def backward_flops(net, x) -> int:
    y = net(x)
    with FlopCounterMode(display=False) as counter:
        y.square().mean().backward()
    return counter.get_total_flops()


def test_the_skipped_flops_are_the_raw_input_columns_of_every_later_layer():
    n = 2
    plain, skipping = trunk_pair("densenet", n=n)
    x = torch.randn(B, IN)
    saved = backward_flops(plain, x) - backward_flops(skipping, x)
    # dense layers 2..DEPTH each read the raw input again (IN columns, WIDTH outputs); the output
    # layer reads it too but keeps its plain product (1 or 2|A| outputs: negligible)
    expected = n * 2 * B * IN * WIDTH * (DEPTH - 1)
    assert saved == expected


def test_one_sac_update_matches_the_plain_one():
    net = NetConfig(kind="densenet", width=32, depth=2, activation="swish")
    skip = NetConfig(kind="densenet", width=32, depth=2, activation="swish", skip_raw_input_grads=True)
    spec = ObsSpec.flat(11)
    agents = []
    for cfg in (AgentConfig(actor=net, critic=net), AgentConfig(actor=skip, critic=skip)):
        torch.manual_seed(3)
        agents.append(make_agent(cfg, spec, 3, "cpu"))
    agents[1].load_state_dict(copy.deepcopy(agents[0].state_dict()))
    g = torch.Generator().manual_seed(1)
    batch = Batch(torch.randn(B, 11, generator=g), torch.rand(B, 3, generator=g) * 2 - 1,
                  torch.randn(B, 1, generator=g), torch.randn(B, 11, generator=g), torch.full((B, 1), 0.99))
    for agent in agents:
        torch.manual_seed(5)  # the same policy noise
        agent.update(batch, 0)
    for (k, a), (_, b) in zip(agents[0].actor.named_parameters(), agents[1].actor.named_parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=f"actor {k}")
    for (k, a), (_, b) in zip(agents[0].critic.named_parameters(), agents[1].critic.named_parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=f"critic {k}")


def test_the_switch_is_validated_and_off_by_default():
    assert NetConfig().skip_raw_input_grads is False
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{"agent.critic.skip_raw_input_grads": "yes"})
    assert info.value.field_name == "agent.critic.skip_raw_input_grads"
    # off (the default) leaves every run id as it was; on is a different run
    base = RunConfig()
    assert base.replace(**{"agent.critic.skip_raw_input_grads": False}).run_id == base.run_id
    assert base.replace(**{"agent.critic.skip_raw_input_grads": True}).run_id != base.run_id
