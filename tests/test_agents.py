"""rlcore.agents: SAC and TD3 updates, target tracking, log-probabilities, policy delay, losses, state."""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

import rlcore.agents.sac
import rlcore.agents.td3
from rlcore.agents import SAC, TD3, make_agent
from rlcore.agents.base import critic_loss, soft_update
from rlcore.agents.sac import LOG_STD_MAX, LOG_STD_MIN
from rlcore.config import AgentConfig, ConfigError, NetConfig
from rlcore.replay import Batch

OBS, ACT = 5, 2


def agent_config(algo, **kw):
    net = NetConfig(width=32, depth=2)
    return AgentConfig(algo=algo, actor=kw.pop("actor", net), critic=kw.pop("critic", net), batch_size=16, **kw)


def make(algo, seed=0, **kw):
    torch.manual_seed(seed)
    return make_agent(agent_config(algo, **kw), OBS, ACT, "cpu")


def random_batch(n=16, seed=0, not_done=None):
    g = torch.Generator().manual_seed(seed)
    nd = torch.ones(n, 1) if not_done is None else torch.full((n, 1), float(not_done))
    return Batch(torch.randn(n, OBS, generator=g), torch.rand(n, ACT, generator=g) * 2 - 1,
                 torch.randn(n, 1, generator=g), torch.randn(n, OBS, generator=g), nd)


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module) -> bool:
    return any(not torch.equal(b, a) for b, a in zip(before, module.parameters()))


# ---- construction -----------------------------------------------------------------------------------
def test_make_agent_picks_algorithm():
    assert isinstance(make("sac"), SAC)
    assert isinstance(make("td3"), TD3)


def test_make_agent_unknown_algo():
    # AgentConfig alone is not validated (RunConfig is), so the factory must refuse by itself.
    with pytest.raises(ConfigError) as info:
        make_agent(AgentConfig(algo="ppo"), OBS, ACT)
    assert info.value.field_name == "agent.algo" and "'sac'" in str(info.value)


def test_sac_defaults():
    sac = make("sac", init_alpha=0.5)
    assert sac.target_entropy == -ACT
    assert math.exp(sac.log_alpha.item()) == pytest.approx(0.5)
    assert make("sac", target_entropy=-0.3).target_entropy == pytest.approx(-0.3)
    # twin critic as one ensemble of 2 over (obs, action)
    assert sac.critic(torch.randn(4, OBS + ACT)).shape == (2, 4, 1)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_act_shapes_bounds_and_determinism(algo):
    agent = make(algo)
    obs = np.random.default_rng(0).normal(size=OBS).astype(np.float32)
    a = agent.act(obs, explore=False)
    assert a.shape == (ACT,) and a.dtype == np.float32
    assert np.all(np.abs(a) <= 1)
    np.testing.assert_array_equal(agent.act(obs, explore=False), a)
    explored = np.stack([agent.act(obs, explore=True) for _ in range(20)])
    assert np.all(np.abs(explored) <= 1)
    assert explored.std(axis=0).min() > 0  # exploration is stochastic


def test_td3_exploration_noise_scale():
    td3 = make("td3", exploration_noise=0.1)
    obs = np.zeros(OBS, np.float32)
    mean = td3.act(obs, explore=False)
    noisy = np.stack([td3.act(obs, explore=True) for _ in range(2000)])
    inside = np.abs(mean) < 0.6  # away from the clamp
    assert inside.any()
    np.testing.assert_allclose(noisy.std(axis=0)[inside], 0.1, rtol=0.1)
    np.testing.assert_allclose(noisy.mean(axis=0)[inside], mean[inside], atol=0.02)


# ---- updates ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo,keys", [
    ("sac", {"critic_loss", "actor_loss", "alpha", "alpha_loss", "q_mean", "entropy"}),
    ("td3", {"critic_loss", "q_mean", "actor_loss"}),
])
def test_update_returns_finite_metrics_and_changes_params(algo, keys):
    agent = make(algo)
    actor0, critic0 = params(agent.actor), params(agent.critic)
    alpha0 = agent.log_alpha.item() if algo == "sac" else None
    metrics = {}
    for i in range(2):
        metrics = agent.update(random_batch(seed=i))
    assert set(metrics) == keys
    for k, v in metrics.items():
        assert isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad, k
        assert math.isfinite(v.item()), k
    assert changed(actor0, agent.actor) and changed(critic0, agent.critic)
    if algo == "sac":
        assert agent.log_alpha.item() != alpha0
    assert agent.updates == 2


def test_soft_update_exact():
    torch.manual_seed(0)
    src = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    tgt = copy.deepcopy(src)
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p))
    src.train()(torch.randn(8, 3))  # moves BN running statistics of the source
    before = params(tgt)
    soft_update(tgt, src, 0.1)
    for b, s, t in zip(before, src.parameters(), tgt.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * s, rtol=1e-6, atol=1e-7)
    for sb, tb in zip(src.buffers(), tgt.buffers()):
        assert torch.equal(sb, tb)  # statistics are copied, not averaged
    soft_update(tgt, src, 1.0)
    for s, t in zip(src.parameters(), tgt.parameters()):
        torch.testing.assert_close(t, s)


def test_sac_target_critic_moves_by_tau():
    tau = 0.05
    sac = make("sac", tau=tau)
    for i in range(2):
        target_before = params(sac.critic_target)
        sac.update(random_batch(seed=i))
        for b, c, t in zip(target_before, sac.critic.parameters(), sac.critic_target.parameters()):
            torch.testing.assert_close(t, b + tau * (c.detach() - b), rtol=1e-6, atol=1e-7)
            assert not torch.equal(t, b)
    assert all(not p.requires_grad for p in sac.critic_target.parameters())


@pytest.mark.parametrize("delay", [2, 3])
def test_td3_actor_and_targets_update_every_policy_delay(delay):
    tau = 0.05
    td3 = make("td3", policy_delay=delay, tau=tau)
    for i in range(1, 2 * delay + 1):
        actor0, critic0 = params(td3.actor), params(td3.critic)
        actor_t0, critic_t0 = params(td3.actor_target), params(td3.critic_target)
        metrics = td3.update(random_batch(seed=i))
        assert changed(critic0, td3.critic), "the critic learns every update"
        if i % delay:
            assert "actor_loss" not in metrics
            assert not changed(actor0, td3.actor)
            assert not changed(actor_t0, td3.actor_target)
            assert not changed(critic_t0, td3.critic_target)
        else:
            assert "actor_loss" in metrics
            assert changed(actor0, td3.actor)
            for before, src, tgt in ((actor_t0, td3.actor, td3.actor_target),
                                     (critic_t0, td3.critic, td3.critic_target)):
                for b, s, t in zip(before, src.parameters(), tgt.parameters()):
                    torch.testing.assert_close(t, b + tau * (s.detach() - b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("algo,module", [("sac", rlcore.agents.sac), ("td3", rlcore.agents.td3)])
def test_bootstrap_respects_not_done(monkeypatch, algo, module):
    """target = r + gamma * not_done * (...): a terminal batch has target exactly r."""
    seen = []
    real = module.critic_loss

    def spy(q, target, kind, weights=None):
        seen.append((target.detach().clone(), kind))
        return real(q, target, kind, weights)

    monkeypatch.setattr(module, "critic_loss", spy)
    agent = make(algo, critic_loss="huber")
    terminal = random_batch(seed=3, not_done=0.0)
    agent.update(terminal)
    target, kind = seen[-1]
    assert kind == "huber"
    torch.testing.assert_close(target, terminal.reward)
    ongoing = random_batch(seed=3, not_done=1.0)
    agent.update(ongoing)
    assert not torch.allclose(seen[-1][0], ongoing.reward)


def test_sac_log_prob_matches_torch_distributions():
    sac = make("sac")
    actor = sac.actor
    obs = torch.randn(64, OBS)
    with torch.no_grad():
        # Scale the output layer so some pre-tanh samples saturate (|u| > 5) and some are clamped.
        actor.trunk.head.weight.mul_(30.0)
        torch.manual_seed(123)
        action, log_prob = actor(obs)
        mean, log_std = actor.trunk(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        torch.manual_seed(123)
        eps = torch.randn_like(mean)
        u = mean + log_std.exp() * eps
        tanh = TanhTransform(cache_size=1)
        dist = TransformedDistribution(Normal(mean, log_std.exp()), [tanh])
        y = tanh(u)
        reference = dist.log_prob(y).sum(-1, keepdim=True)
    assert (u.abs() > 5).any(), "the test should cover saturated samples"
    assert log_prob.shape == (64, 1) and action.shape == (64, ACT)
    torch.testing.assert_close(action, y)
    assert torch.isfinite(log_prob).all()
    torch.testing.assert_close(log_prob, reference, rtol=1e-4, atol=1e-4)
    # Deterministic mode returns tanh(mean) and no log-probability.
    det, none = actor(obs, deterministic=True)
    assert none is None
    torch.testing.assert_close(det, torch.tanh(mean))


def test_sac_log_prob_against_float64_formula_unsaturated():
    """Independent check in float64: log N(u) - sum log(1 - tanh(u)^2)."""
    sac = make("sac")
    obs = torch.randn(32, OBS)
    with torch.no_grad():
        torch.manual_seed(7)
        action, log_prob = sac.actor(obs)
        mean, log_std = sac.actor.trunk(obs).double().chunk(2, dim=-1)
        torch.manual_seed(7)
        u = mean + log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp() * torch.randn_like(mean.float()).double()
        ref = (Normal(mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()).log_prob(u)
               - torch.log1p(-torch.tanh(u) ** 2)).sum(-1, keepdim=True)
    torch.testing.assert_close(log_prob.double(), ref, rtol=1e-4, atol=1e-4)


# ---- losses -------------------------------------------------------------------------------------------
def test_critic_loss_known_values():
    q = torch.tensor([[[0.0], [1.0], [3.0]], [[2.0], [2.0], [2.0]]])  # (2 members, 3, 1)
    target = torch.zeros(3, 1)
    # mse: member 0: mean(0.5*[0, 1, 9]) = 5/3, member 1: mean(0.5*[4, 4, 4]) = 2 -> sum 11/3
    assert critic_loss(q, target, "mse").item() == pytest.approx(11 / 3)
    # huber (delta 1): member 0: mean([0, 0.5, 2.5]) = 1, member 1: mean([1.5]*3) = 1.5 -> 2.5
    assert critic_loss(q, target, "huber").item() == pytest.approx(2.5)


def test_huber_equals_mse_for_small_errors_and_bounds_gradient():
    q = torch.tensor([[[0.3], [-0.9]], [[0.5], [0.0]]], requires_grad=True)
    target = torch.zeros(2, 1)
    assert critic_loss(q, target, "huber").item() == pytest.approx(critic_loss(q, target, "mse").item())
    big = torch.tensor([[[100.0]], [[-50.0]]], requires_grad=True)
    critic_loss(big, torch.zeros(1, 1), "huber").backward()
    torch.testing.assert_close(big.grad, torch.tensor([[[1.0]], [[-1.0]]]))  # |grad| = 1, not the error
    big.grad = None
    critic_loss(big, torch.zeros(1, 1), "mse").backward()
    torch.testing.assert_close(big.grad, torch.tensor([[[100.0]], [[-50.0]]]))


def test_critic_loss_unknown_kind():
    with pytest.raises(ValueError, match="critic_loss"):
        critic_loss(torch.zeros(2, 1, 1), torch.zeros(1, 1), "l1")


# ---- state ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_state_dict_round_trip_reproduces_outputs_and_training(algo):
    a = make(algo, seed=0)
    for i in range(3):
        a.update(random_batch(seed=i))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)  # what a checkpoint does
    buf.seek(0)
    b = make(algo, seed=1)
    obs = np.random.default_rng(1).normal(size=OBS).astype(np.float32)
    assert not np.array_equal(a.act(obs, explore=False), b.act(obs, explore=False))
    b.load_state_dict(torch.load(buf, weights_only=False))
    assert b.updates == a.updates == 3
    np.testing.assert_array_equal(a.act(obs, explore=False), b.act(obs, explore=False))
    batch = random_batch(seed=9)
    torch.testing.assert_close(a.q_values(batch.obs, batch.action), b.q_values(batch.obs, batch.action))
    if algo == "sac":
        assert b.log_alpha.item() == a.log_alpha.item()
    # Optimiser state travels too: the next update is identical, not a fresh Adam step.
    torch.manual_seed(42)
    ma = a.update(batch)
    torch.manual_seed(42)
    mb = b.update(batch)
    for k in ma:
        torch.testing.assert_close(ma[k], mb[k])
    for name in a.modules:
        for pa, pb in zip(a.modules[name].parameters(), b.modules[name].parameters()):
            torch.testing.assert_close(pa, pb)


def test_loading_state_without_optimizer_state_would_differ():
    """Guard for the test above: a fresh optimiser gives a different step, so the check has teeth."""
    a = make("sac", seed=0)
    for i in range(3):
        a.update(random_batch(seed=i))
    b = make("sac", seed=1)
    state = a.state_dict()
    for k, m in b.modules.items():
        m.load_state_dict(state[f"module/{k}"])
    b._load_extra_state(state["extra"])
    batch = random_batch(seed=9)
    torch.manual_seed(42)
    a.update(batch)
    torch.manual_seed(42)
    b.update(batch)
    assert any(not torch.allclose(pa, pb) for pa, pb in zip(a.critic.parameters(), b.critic.parameters()))


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_batchnorm_modes(algo):
    net = NetConfig(width=16, depth=2, norm="batchnorm")
    agent = make(algo, actor=net, critic=net)
    agent.update(random_batch())
    assert agent.critic.training and agent.actor.training
    assert not agent.critic_target.training
    a = agent.act(np.zeros(OBS, np.float32), explore=False)  # a single observation needs eval mode
    assert np.all(np.isfinite(a))
    assert not agent.actor.training and not agent.critic.training
    metrics = agent.update(random_batch(seed=1))
    assert agent.actor.training and math.isfinite(metrics["critic_loss"].item())
    assert not agent.critic_target.training
