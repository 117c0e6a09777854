"""rlcore.agents: SAC and TD3 updates, target tracking, log-probabilities, policy delay, losses, the
Bellman target (`td_target`), state."""

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

from rlcore.agents import SAC, TD3, UpdateResult, make_agent
from rlcore.agents.base import critic_loss, soft_update
from rlcore.agents.sac import LOG_STD_MAX, LOG_STD_MIN
from rlcore.config import AgentConfig, ConfigError, NetConfig, SACConfig, TD3Config
from rlcore.envs import ObsSpec
from rlcore.replay import Batch

OBS, ACT = 5, 2
SPEC = ObsSpec.flat(OBS)
GAMMA = AgentConfig().gamma


def agent_config(algo, **kw):
    net = NetConfig(width=32, depth=2)
    return AgentConfig(algo=algo, actor=kw.pop("actor", net), critic=kw.pop("critic", net), batch_size=16, **kw)


def make(algo, seed=0, **kw):
    torch.manual_seed(seed)
    return make_agent(agent_config(algo, **kw), SPEC, ACT, "cpu")


def random_batch(n=16, seed=0, terminal=False):
    """A batch of random one-step transitions: discount = gamma, or 0 for terminal ones."""
    g = torch.Generator().manual_seed(seed)
    discount = torch.full((n, 1), 0.0 if terminal else GAMMA)
    return Batch(torch.randn(n, OBS, generator=g), torch.rand(n, ACT, generator=g) * 2 - 1,
                 torch.randn(n, 1, generator=g), torch.randn(n, OBS, generator=g), discount)


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module) -> bool:
    return any(not torch.equal(b, a) for b, a in zip(before, module.parameters()))


def with_discount(batch: Batch, discount: torch.Tensor) -> Batch:
    return batch._replace(discount=discount)


# ---- construction -----------------------------------------------------------------------------------
def test_make_agent_picks_algorithm():
    assert isinstance(make("sac"), SAC)
    assert isinstance(make("td3"), TD3)


def test_make_agent_unknown_algo():
    # AgentConfig alone is not validated (RunConfig is), so the factory must refuse by itself.
    with pytest.raises(ConfigError) as info:
        make_agent(AgentConfig(algo="ppo"), SPEC, ACT)
    assert info.value.field_name == "agent.algo" and "'sac'" in str(info.value)


def test_sac_defaults():
    sac = make("sac", sac=SACConfig(init_alpha=0.5))
    assert sac.target_entropy == -ACT
    assert math.exp(sac.log_alpha.item()) == pytest.approx(0.5)
    assert make("sac", sac=SACConfig(target_entropy=-0.3)).target_entropy == pytest.approx(-0.3)
    # twin critic as one ensemble of 2 over (obs, action)
    assert sac.critic(torch.randn(4, OBS + ACT)).shape == (2, 4, 1)
    assert not sac.learns_features and sac.updates == 0


# ---- acting -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_act_shapes_bounds_and_determinism(algo):
    agent = make(algo)
    obs = np.random.default_rng(0).normal(size=OBS).astype(np.float32)
    a = agent.act(obs, 0, explore=False)
    assert a.shape == (ACT,) and a.dtype == np.float32
    assert np.all(np.abs(a) <= 1)
    np.testing.assert_array_equal(agent.act(obs, 0, explore=False), a)
    explored = np.stack([agent.act(obs, 0, explore=True) for _ in range(20)])
    assert np.all(np.abs(explored) <= 1)
    assert explored.std(axis=0).min() > 0  # exploration is stochastic
    # act is act_batch of one observation
    others = np.random.default_rng(1).normal(size=(3, OBS)).astype(np.float32)
    batch = agent.act_batch(np.concatenate([obs[None], others]), 0, explore=False)
    assert batch.shape == (4, ACT)
    np.testing.assert_allclose(batch[0], a, rtol=1e-6, atol=1e-6)


def test_td3_exploration_noise_scale():
    td3 = make("td3", td3=TD3Config(exploration_noise=0.1))
    obs = np.zeros(OBS, np.float32)
    mean = td3.act(obs, 0, explore=False)
    noisy = np.stack([td3.act(obs, 0, explore=True) for _ in range(2000)])
    inside = np.abs(mean) < 0.6  # away from the clamp
    assert inside.any()
    np.testing.assert_allclose(noisy.std(axis=0)[inside], 0.1, rtol=0.1)
    np.testing.assert_allclose(noisy.mean(axis=0)[inside], mean[inside], atol=0.02)


# ---- updates ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo,keys", [
    ("sac", {"critic_loss", "actor_loss", "alpha", "alpha_loss", "q_mean", "entropy"}),
    ("td3", {"critic_loss", "q_mean", "actor_loss"}),
])
def test_update_returns_metrics_of_the_step_and_changes_params(algo, keys):
    agent = make(algo)
    actor0, critic0 = params(agent.actor), params(agent.critic)
    alpha0 = agent.log_alpha.item() if algo == "sac" else None
    agent.update(random_batch(seed=0), 0)
    batch = random_batch(seed=1)
    before = copy.deepcopy(agent)
    torch.manual_seed(11)
    result = agent.update(batch, 1)
    assert isinstance(result, UpdateResult)
    metrics = result.metrics
    assert set(metrics) == keys
    for k, v in metrics.items():
        assert isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad, k
    # The metrics are those of this step: the critic's loss against the Bellman target (the same
    # random draws), its mean Q, each sample's |TD error| averaged over the critics.
    torch.manual_seed(11)
    target = before.td_target(batch)
    with torch.no_grad():
        q = before.q_values(batch.obs, batch.action)
    torch.testing.assert_close(metrics["critic_loss"], critic_loss(q, target, "mse"), rtol=1e-6, atol=0)
    torch.testing.assert_close(metrics["q_mean"], q.mean(), rtol=1e-6, atol=1e-7)
    assert result.td_errors.shape == (16,)
    torch.testing.assert_close(result.td_errors, (q - target).abs().mean(0).squeeze(-1), rtol=1e-6, atol=1e-7)
    if algo == "sac":
        torch.testing.assert_close(metrics["alpha"], before.log_alpha.detach().exp())
    else:  # policy_delay=2: update 2 steps the actor, through Q1 of the critic after its step
        with torch.no_grad():
            loss_pi = -agent.critic(torch.cat([batch.obs, before.actor(batch.obs)], -1))[0].mean()
        torch.testing.assert_close(metrics["actor_loss"], loss_pi, rtol=1e-6, atol=1e-7)
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
        sac.update(random_batch(seed=i), i)
        for b, c, t in zip(target_before, sac.critic.parameters(), sac.critic_target.parameters()):
            torch.testing.assert_close(t, b + tau * (c.detach() - b), rtol=1e-6, atol=1e-7)
            assert not torch.equal(t, b)
    assert all(not p.requires_grad for p in sac.critic_target.parameters())


@pytest.mark.parametrize("delay", [2, 3])
def test_td3_actor_and_targets_update_every_policy_delay(delay):
    tau = 0.05
    td3 = make("td3", td3=TD3Config(policy_delay=delay), tau=tau)
    for i in range(1, 2 * delay + 1):
        actor0, critic0 = params(td3.actor), params(td3.critic)
        actor_t0, critic_t0 = params(td3.actor_target), params(td3.critic_target)
        metrics = td3.update(random_batch(seed=i), i).metrics
        assert changed(critic0, td3.critic), "the critic learns every update"
        assert td3.updates == i
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


# ---- the Bellman target -------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_td_target_bootstraps_with_the_batch_discount(algo):
    """td_target = r + discount * V'(s'): a terminal batch (discount 0) has target exactly r."""
    agent = make(algo)
    terminal = random_batch(seed=3, terminal=True)
    assert torch.equal(agent.td_target(terminal), terminal.reward)

    ongoing = random_batch(seed=3)
    torch.manual_seed(5)
    v = agent.next_value(ongoing)
    assert v.shape == (16, 1)
    torch.manual_seed(5)
    target = agent.td_target(ongoing)
    assert torch.equal(target, ongoing.reward + ongoing.discount * v)
    assert (target - ongoing.reward).abs().min() > 0
    # each row bootstraps with its own discount (n-step: gamma^m, 0 for a terminal m-th state)
    discount = torch.tensor([0.0, 1.0, GAMMA, GAMMA ** 3] * 4).unsqueeze(1)
    torch.manual_seed(5)
    mixed = agent.td_target(with_discount(ongoing, discount))
    torch.testing.assert_close(mixed, ongoing.reward + discount * v, rtol=1e-6, atol=1e-6)
    assert torch.equal(mixed[0::4], ongoing.reward[0::4])
    # V'(s') is random (SAC: a' ~ pi; TD3: target policy smoothing): another draw, another target
    assert not torch.equal(agent.td_target(ongoing), target)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_update_trains_the_critics_towards_td_target_with_the_configured_loss(monkeypatch, algo):
    agent = make(algo, critic_loss="huber")
    seen = []
    real = agent.critic_loss

    def spy(q, target, weights=None):
        seen.append(target.detach().clone())
        return real(q, target, weights)

    for i, batch in enumerate([random_batch(seed=3, terminal=True), random_batch(seed=4)]):
        before = copy.deepcopy(agent)
        monkeypatch.setattr(agent, "critic_loss", spy)
        torch.manual_seed(7)
        metrics = agent.update(batch, i).metrics
        monkeypatch.undo()
        torch.manual_seed(7)
        expected = before.td_target(batch)
        assert torch.equal(seen[-1], expected)
        if i == 0:
            assert torch.equal(seen[-1], batch.reward)  # terminal: nothing bootstrapped
        else:
            assert not torch.allclose(seen[-1], batch.reward)
        with torch.no_grad():
            q = before.q_values(batch.obs, batch.action)
        assert (q - expected).abs().max() > 1  # errors where huber and mse differ
        huber = critic_loss(q, expected, "huber")
        torch.testing.assert_close(metrics["critic_loss"], huber, rtol=1e-6, atol=0)
        torch.testing.assert_close(agent.critic_loss(q, expected), huber)
        assert not torch.allclose(huber, critic_loss(q, expected, "mse"))
    assert len(seen) == 2


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_importance_weights_travel_in_the_batch(algo):
    agent = make(algo)
    agent.update(random_batch(seed=0), 0)
    batch = random_batch(seed=1)
    weights = torch.linspace(0.1, 1.0, 16).unsqueeze(1)
    before = copy.deepcopy(agent)
    torch.manual_seed(3)
    metrics = agent.update(batch._replace(weights=weights), 1).metrics
    torch.manual_seed(3)
    target = before.td_target(batch)
    with torch.no_grad():
        q = before.q_values(batch.obs, batch.action)
    weighted = critic_loss(q, target, "mse", weights)
    torch.testing.assert_close(metrics["critic_loss"], weighted, rtol=1e-6, atol=0)
    assert not torch.allclose(weighted, critic_loss(q, target, "mse"))
    # zero weights: a zero loss and no gradient for the critics (p.grad keeps the critic step's)
    metrics = agent.update(batch._replace(weights=torch.zeros(16, 1)), 2).metrics
    assert metrics["critic_loss"].item() == 0.0
    assert all(p.grad is not None and torch.count_nonzero(p.grad) == 0 for p in agent.critic.parameters())


def test_td3_td_target_includes_target_policy_smoothing():
    td3 = make("td3", td3=TD3Config(policy_noise=0.3, noise_clip=0.4))
    with torch.no_grad():  # targets that differ from the online networks
        for p in list(td3.actor_target.parameters()) + list(td3.critic_target.parameters()):
            p.add_(0.2 * torch.randn_like(p))
    b = random_batch(seed=2)
    torch.manual_seed(9)
    target = td3.td_target(b)
    torch.manual_seed(9)
    with torch.no_grad():
        noise = (0.3 * torch.randn_like(b.action)).clamp(-0.4, 0.4)
        next_action = (td3.actor_target(b.next_obs) + noise).clamp(-1.0, 1.0)
        v = td3.critic_target(torch.cat([b.next_obs, next_action], -1)).min(0).values
        plain = td3.critic_target(torch.cat([b.next_obs, td3.actor_target(b.next_obs)], -1)).min(0).values
    torch.testing.assert_close(target, b.reward + b.discount * v, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(target, b.reward + b.discount * plain, atol=1e-4)
    # without noise the target is deterministic: the target actor's own action
    quiet = make("td3", td3=TD3Config(policy_noise=0.0))
    quiet.load_state_dict(td3.state_dict())
    torch.testing.assert_close(quiet.td_target(b), b.reward + b.discount * plain, rtol=1e-6, atol=1e-6)
    assert torch.equal(quiet.td_target(b), quiet.td_target(b))


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
    # importance weights scale each sample: w = [1, 0, 2] -> member 0: mean([0, 0, 9]), member 1: mean([2, 0, 4])
    w = torch.tensor([[1.0], [0.0], [2.0]])
    assert critic_loss(q, target, "mse", w).item() == pytest.approx(3 + 2)
    # an agent's critic_loss is the configured kind
    assert make("sac", critic_loss="huber").critic_loss(q, target).item() == pytest.approx(2.5)
    assert make("td3").critic_loss(q, target).item() == pytest.approx(11 / 3)


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
        a.update(random_batch(seed=i), i)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)  # what a checkpoint does
    buf.seek(0)
    b = make(algo, seed=1)
    obs = np.random.default_rng(1).normal(size=OBS).astype(np.float32)
    assert not np.array_equal(a.act(obs, 3, explore=False), b.act(obs, 3, explore=False))
    b.load_state_dict(torch.load(buf, weights_only=False))
    assert b.updates == a.updates == 3
    assert b.extra_state()["updates"] == 3
    np.testing.assert_array_equal(a.act(obs, 3, explore=False), b.act(obs, 3, explore=False))
    batch = random_batch(seed=9)
    torch.testing.assert_close(a.q_values(batch.obs, batch.action), b.q_values(batch.obs, batch.action))
    if algo == "sac":
        assert b.log_alpha.item() == a.log_alpha.item()
    # Optimiser state travels too: the next update is identical, not a fresh Adam step.
    torch.manual_seed(42)
    ma = a.update(batch, 3).metrics
    torch.manual_seed(42)
    mb = b.update(batch, 3).metrics
    assert set(ma) == set(mb)
    for k in ma:
        torch.testing.assert_close(ma[k], mb[k])
    for name in a.modules:
        for pa, pb in zip(a.modules[name].parameters(), b.modules[name].parameters()):
            torch.testing.assert_close(pa, pb)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_weights_round_trip_without_optimizers(algo):
    a = make(algo, seed=0)
    for i in range(2):
        a.update(random_batch(seed=i), i)
    saved = a.weights()
    assert set(saved) == {"modules", "extra"} and set(saved["modules"]) == set(a.modules)
    b = make(algo, seed=1)
    b.load_weights(saved)
    assert b.updates == 2
    batch = random_batch(seed=5)
    torch.manual_seed(1)
    ta = a.td_target(batch)
    torch.manual_seed(1)
    assert torch.equal(b.td_target(batch), ta)


def test_loading_state_without_optimizer_state_would_differ():
    """Guard for the test above: a fresh optimiser gives a different step, so the check has teeth."""
    a = make("sac", seed=0)
    for i in range(3):
        a.update(random_batch(seed=i), i)
    b = make("sac", seed=1)
    state = a.state_dict()
    for k, m in b.modules.items():
        m.load_state_dict(state[f"module/{k}"])
    b.load_extra_state(state["extra"])
    batch = random_batch(seed=9)
    torch.manual_seed(42)
    a.update(batch, 3)
    torch.manual_seed(42)
    b.update(batch, 3)
    assert any(not torch.allclose(pa, pb) for pa, pb in zip(a.critic.parameters(), b.critic.parameters()))


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_batchnorm_modes(algo):
    net = NetConfig(width=16, depth=2, norm="batchnorm")
    agent = make(algo, actor=net, critic=net)
    agent.update(random_batch(), 0)
    assert agent.critic.training and agent.actor.training
    assert not agent.critic_target.training
    obs = np.zeros(OBS, np.float32)
    a = agent.act(obs, 1, explore=False)  # a single observation needs eval mode
    assert not agent.actor.training and not agent.critic.training
    # eval mode reads running statistics: an observation's action does not depend on its batch
    others = np.random.default_rng(0).normal(size=(5, OBS)).astype(np.float32)
    np.testing.assert_allclose(agent.act_batch(np.concatenate([obs[None], others]), 1, explore=False)[0], a,
                               rtol=1e-5, atol=1e-6)
    stats = [b.clone() for b in agent.critic.buffers()]
    agent.update(random_batch(seed=1), 1)
    assert agent.actor.training
    # the update ran in training mode: batch statistics, running statistics moved
    assert any(not torch.equal(s, b) for s, b in zip(stats, agent.critic.buffers()))
    assert not agent.critic_target.training
