"""rlcore.analysis: effective rank, global gradient norms and loss landscapes, plus how training
records them (srank at evaluations, gradient norms in the metrics, frozen TD targets at the end).

Everything here is small: networks of a few units, datasets of a few dozen transitions, grids of a
few points, so the whole file runs in seconds on one CPU thread."""

from __future__ import annotations

import copy
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import rlcore.analysis.landscape as landscape_module
from rlcore.agents import make_agent
from rlcore.analysis import (Landscape, TDData, TDTargets, critic_feature_rank, directions, evaluate_pointwise,
                             evaluate_points, frozen_td_targets, global_grad_norm, grid_coords,
                             hessian_top_eigenvalue, loss_landscape, loss_rise_at_radii, orthogonalize,
                             q_network_data, random_direction, run_landscape, srank, srank_from_singular_values)
from rlcore.config import AgentConfig, NetConfig, SACConfig, TD3Config
from rlcore.envs import ObsSpec
from rlcore.hooks import EffectiveRank
from rlcore.nets import EnsembleBatchNorm, EnsembleLayerNorm, EnsembleLinear, build_trunk, spectral_layers
from rlcore.replay import Batch, ReplayBuffer
from rlcore.results import load_agent
from rlcore.train import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OBS, ACT = 4, 2
SPEC = ObsSpec.flat(OBS)
GAMMA = AgentConfig().gamma


# ---- helpers ------------------------------------------------------------------------------------------
def matrix_with_singular_values(values, rows: int = 12, cols: int | None = None, seed: int = 0,
                                dtype=torch.float64) -> torch.Tensor:
    """U diag(values) V^T with random orthonormal columns U (rows x k) and V (cols x k)."""
    s = torch.tensor(values, dtype=torch.float64)
    k = len(values)
    cols = cols or k
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(rows, k, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, k, generator=g, dtype=torch.float64))
    return ((u * s) @ v.T).to(dtype)


def tiny_agent(algo: str, seed: int = 0, width: int = 16, **kw):
    torch.manual_seed(seed)
    net = kw.pop("net", NetConfig(width=width, depth=2))
    return make_agent(AgentConfig(algo=algo, actor=net, critic=net, batch_size=16, **kw), SPEC, ACT, "cpu")


def random_batch(n: int = 16, seed: int = 0) -> Batch:
    """Random transitions, about a quarter of them terminal (discount = gamma * not_terminal)."""
    g = torch.Generator().manual_seed(seed)
    not_terminal = (torch.rand(n, 1, generator=g) > 0.25).float()
    return Batch(torch.randn(n, OBS, generator=g), torch.rand(n, ACT, generator=g) * 2 - 1,
                 torch.randn(n, 1, generator=g), torch.randn(n, OBS, generator=g), GAMMA * not_terminal)


def filled_replay(n: int = 40, seed: int = 0) -> ReplayBuffer:
    b = random_batch(n, seed)
    replay = ReplayBuffer(SPEC, ACT, 100, gamma=GAMMA)
    replay.add(b.obs.numpy(), b.action.numpy(), b.reward.numpy(), b.next_obs.numpy(), (b.discount == 0).numpy())
    return replay


def flat_norm(tensors) -> torch.Tensor:
    return torch.sqrt(sum(t.double().square().sum() for t in tensors))


def mse_critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """J_Q = sum over critics of mean 1/2 (Q - Q_hat)^2, written out by hand."""
    return (0.5 * (q - target.expand_as(q)).square()).mean(dim=(1, 2)).sum()


def perturb_(module: nn.Module, scale: float = 0.3, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))


def trained_member(kind: str, norm: str = "auto", spectral_norm: bool = False, in_dim: int = 5,
                   width: int = 6, depth: int = 2, member: int = 1) -> nn.Module:
    """Member `member` of a twin trunk after a few training-mode forward passes: BatchNorm running
    statistics and spectral-norm vectors have moved away from their initial values."""
    torch.manual_seed(0)
    spec = NetConfig(kind=kind, width=width, depth=depth, norm=norm, spectral_norm=spectral_norm)
    twin = build_trunk(spec, in_dim, 1, n=2).train()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(30):
            twin(2.0 * torch.randn(32, in_dim, generator=g) + 1.0)
    single = twin.member(member).eval()
    x = torch.randn(9, in_dim, generator=g)
    with torch.no_grad():  # the standalone member computes what member `member` of the twin does
        torch.testing.assert_close(single(x)[0], twin.eval()(x)[member])
    return single


def random_data(n: int = 23, in_dim: int = 5, seed: int = 0) -> TDData:
    g = torch.Generator().manual_seed(seed)
    return TDData(torch.randn(n, in_dim, generator=g), torch.randn(n, generator=g))


def direct_loss(module: nn.Module, data: TDData) -> float:
    with torch.no_grad():
        q = module(data.inputs).reshape(-1).double()
    return float(0.5 * (q - data.targets.double()).square().mean())


class LinearQ(nn.Module):
    """Q(x) = x w + c as a one-member ensemble layer: its TD loss is a convex quadratic in (w, c)."""

    def __init__(self, in_dim: int):
        super().__init__()
        self.linear = EnsembleLinear(1, in_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x if x.dim() == 3 else x.unsqueeze(0))


def linear_regression_data(n: int = 40, scales=(2.0, 1.0, 0.5, 0.3), seed: int = 0) -> TDData:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, len(scales), generator=g) * torch.tensor(scales) + 0.5
    y = x @ torch.randn(len(scales), generator=g) + 0.7 + 0.1 * torch.randn(n, generator=g)
    return TDData(x, y)


def augmented(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x.double(), torch.ones(x.shape[0], 1, dtype=torch.float64)], 1)


def set_least_squares_(model: LinearQ, data: TDData) -> None:
    solution = torch.linalg.lstsq(augmented(data.inputs), data.targets.double().unsqueeze(1)).solution
    with torch.no_grad():
        model.linear.weight.copy_(solution[:-1].view(1, -1, 1))
        model.linear.bias.copy_(solution[-1].view(1, 1, 1))


def second_differences(values: np.ndarray, axis: int) -> np.ndarray:
    return np.diff(values, n=2, axis=axis)


# ---- effective rank -----------------------------------------------------------------------------------
BOUNDARY_CASES = [
    # (singular values, delta, srank): the sum reaches 1 - delta exactly at k ...
    ([0.99, 0.01], 0.01, 1),
    ([0.5, 0.49, 0.01], 0.01, 2),
    ([0.9, 0.1], 0.1, 1),
    ([0.7, 0.2, 0.1], 0.1, 2),
    # ... or just misses it, which costs one more
    ([0.9899, 0.0101], 0.01, 2),
    ([0.5, 0.4899, 0.0101], 0.01, 3),
    ([0.7, 0.1999, 0.1001], 0.1, 3),
]


@pytest.mark.parametrize("values,delta,expected", BOUNDARY_CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_srank_at_and_just_below_the_threshold(values, delta, expected, dtype):
    assert int(srank_from_singular_values(torch.tensor(values, dtype=dtype), delta)) == expected
    for seed in range(6):  # the same spectrum in matrices of several shapes and orientations
        for rows, cols in [(12, None), (12, 5), (7, 9)]:
            features = matrix_with_singular_values(values, rows, cols, seed=seed, dtype=dtype)
            assert int(srank(features, delta)) == expected, (seed, rows, cols)


def test_srank_keeps_float64_precision():
    # misses 1 - delta by 2e-6 of the total: a float64 SVD tells this apart, a float32 one could not
    values = [0.99 - 2e-6, 0.01 + 2e-6]
    assert int(srank_from_singular_values(torch.tensor(values, dtype=torch.float64))) == 2
    for seed in range(4):
        assert int(srank(matrix_with_singular_values(values, cols=5, seed=seed))) == 2


def test_srank_counts_from_one():
    assert int(srank_from_singular_values(torch.tensor([3.0]))) == 1
    assert int(srank_from_singular_values(torch.tensor([2.0, 0.0, 0.0]))) == 1
    assert int(srank_from_singular_values(torch.tensor([1.0, 1.0, 1.0, 1.0]))) == 4
    # delta = 0: the smallest k whose sum is the whole sum
    assert int(srank_from_singular_values(torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64), 0.0)) == 2
    assert int(srank(torch.eye(5, dtype=torch.float64))) == 5
    assert srank(torch.eye(5)).dtype == torch.int64


def test_srank_uses_unsquared_singular_values():
    sigma = torch.tensor([0.98, 0.02], dtype=torch.float64)
    # squared: 0.9604 / 0.9608 > 0.99 would give 1; unsquared: 0.98 < 0.99 needs both
    assert int(srank_from_singular_values(sigma.square())) == 1
    assert int(srank_from_singular_values(sigma)) == 2
    assert int(srank(matrix_with_singular_values([0.98, 0.02], cols=6))) == 2
    assert int(srank(matrix_with_singular_values([0.98, 0.02], cols=6, dtype=torch.float32))) == 2


@pytest.mark.parametrize("delta", [-0.01, 1.0, 1.5, float("nan")])
def test_srank_rejects_invalid_delta(delta):
    with pytest.raises(ValueError, match="delta"):
        srank_from_singular_values(torch.tensor([1.0, 0.5]), delta)
    with pytest.raises(ValueError, match="delta"):
        srank(torch.randn(6, 3), delta)


def test_srank_of_rank_deficient_and_zero_features():
    g = torch.Generator().manual_seed(0)
    low_rank = torch.randn(50, 3, generator=g) @ torch.randn(3, 10, generator=g)  # rank 3 in 10 dims
    assert 1 <= int(srank(low_rank)) <= 3
    assert 1 <= int(srank(low_rank.double())) <= 3
    # a known spectrum padded with zero directions: 3 + 2 = 5 < 0.99 * 6, so all three count
    assert int(srank(matrix_with_singular_values([3.0, 2.0, 1.0], rows=20, cols=10))) == 3
    assert int(srank(torch.zeros(20, 10))) == 0
    assert int(srank_from_singular_values(torch.zeros(4))) == 0


def test_srank_of_a_batch_is_one_value_per_member():
    members = [matrix_with_singular_values([1.0], cols=6, seed=1),
               matrix_with_singular_values([0.5, 0.49, 0.01], cols=6, seed=2),
               matrix_with_singular_values([1.0, 1.0, 1.0], cols=6, seed=3),
               torch.zeros(12, 6, dtype=torch.float64)]
    batch = torch.stack(members)  # (n, N, d)
    ranks = srank(batch)
    assert ranks.shape == (4,)
    assert ranks.tolist() == [1, 2, 3, 0]
    assert ranks.tolist() == [int(srank(m)) for m in members]
    assert srank_from_singular_values(torch.tensor([[0.99, 0.01], [0.6, 0.4]], dtype=torch.float64)).tolist() == [1, 2]


def test_critic_feature_rank_reads_eval_mode_features_of_each_critic():
    agent = tiny_agent("sac", net=NetConfig(width=12, depth=2, norm="batchnorm"))
    agent._train_mode(True)
    with torch.no_grad():  # move the BatchNorm running statistics away from (0, 1)
        for i in range(20):
            agent.critic(2.0 * torch.randn(32, OBS + ACT) + 1.0)
    obs, action = torch.randn(40, OBS), torch.rand(40, ACT) * 2 - 1
    stats = {k: v.clone() for k, v in agent.critic.named_buffers()}

    ranks = critic_feature_rank(agent, obs, action)

    assert isinstance(ranks, list) and len(ranks) == 2 and all(type(r) is int for r in ranks)
    assert agent.critic.training, "the critic's mode is restored"
    for k, v in agent.critic.named_buffers():  # eval mode: running statistics were only read
        assert torch.equal(v, stats[k]), k
    with torch.no_grad():
        expected = srank(agent.critic.eval().features(torch.cat([obs, action], -1))).tolist()
    agent.critic.train()
    assert ranks == expected
    assert all(1 <= r <= 12 for r in ranks)
    assert all(a <= b for a, b in zip(critic_feature_rank(agent, obs, action, delta=0.5), ranks))


# ---- gradient norms -----------------------------------------------------------------------------------
def test_global_grad_norm_equals_clip_grad_norm_and_manual_formula():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    net[2].weight.requires_grad_(False)  # a parameter without a gradient is left out
    net(torch.randn(16, 4)).square().mean().backward()
    grads = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    assert len(grads) == 5

    norm = global_grad_norm(net)

    assert norm.dim() == 0
    torch.testing.assert_close(norm.double(), flat_norm(grads), rtol=1e-6, atol=0)
    copies = [p.detach().clone().requires_grad_(True) for p in net.parameters() if p.grad is not None]
    for c, g in zip(copies, grads):
        c.grad = g.clone()
    total = nn.utils.clip_grad_norm_(copies, max_norm=1e-3)  # returns the norm before clipping
    assert float(flat_norm([c.grad for c in copies])) == pytest.approx(1e-3, rel=1e-3)
    torch.testing.assert_close(norm, total, rtol=1e-6, atol=0)
    for g, p in zip(grads, (p for p in net.parameters() if p.grad is not None)):
        assert torch.equal(g, p.grad), "nothing is clipped"
    assert float(global_grad_norm(nn.Linear(3, 2))) == 0.0  # no gradients at all


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_update_reports_grad_norms_only_when_asked(algo):
    agent = tiny_agent(algo, td3=TD3Config(policy_delay=1)) if algo == "td3" else tiny_agent(algo)
    plain = agent.update(random_batch(seed=1), 0).metrics
    assert not {"critic_grad_norm", "actor_grad_norm"} & set(plain)
    measured = agent.update(random_batch(seed=2), 1, grad_norms=True).metrics
    for key, net in (("critic_grad_norm", agent.critic), ("actor_grad_norm", agent.actor)):
        value = measured[key]
        assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad
        # the norm of the gradient the step used (p.grad is kept until the next step zeroes it)
        torch.testing.assert_close(value, global_grad_norm(net), rtol=1e-6, atol=0)
        assert value.item() > 0
    assert not {"critic_grad_norm", "actor_grad_norm"} & set(agent.update(random_batch(seed=3), 2).metrics)


def test_sac_grad_norms_are_the_gradients_before_the_step():
    agent = tiny_agent("sac", sac=SACConfig(init_alpha=0.3))
    agent.update(random_batch(seed=0), 0)  # Adam state and targets are no longer at their start
    before = copy.deepcopy(agent)
    b = random_batch(seed=1)
    assert (b.discount == 0).any() and (b.discount > 0).any()
    torch.manual_seed(7)
    metrics = agent.update(b, 1, grad_norms=True).metrics

    alpha = before.log_alpha.detach().exp()
    torch.manual_seed(7)  # the same draws: a' ~ pi(.|s') first, then a ~ pi(.|s)
    with torch.no_grad():
        next_action, next_log_prob = before.actor(b.next_obs)
        next_q = before.critic_target(torch.cat([b.next_obs, next_action], -1)).min(0).values
        target = b.reward + b.discount * (next_q - alpha * next_log_prob)
    loss_q = mse_critic_loss(before.critic(torch.cat([b.obs, b.action], -1)), target)
    critic_grads = torch.autograd.grad(loss_q, list(before.critic.parameters()))
    torch.testing.assert_close(metrics["critic_grad_norm"].double(), flat_norm(critic_grads), rtol=1e-5, atol=0)
    torch.testing.assert_close(metrics["critic_loss"], loss_q.detach(), rtol=1e-6, atol=0)

    # The actor's loss reads the critic after its step and the actor before its own.
    action, log_prob = before.actor(b.obs)
    q_pi = agent.critic(torch.cat([b.obs, action], -1)).min(0).values
    loss_pi = (alpha * log_prob - q_pi).mean()
    actor_grads = torch.autograd.grad(loss_pi, list(before.actor.parameters()))
    torch.testing.assert_close(metrics["actor_grad_norm"].double(), flat_norm(actor_grads), rtol=1e-5, atol=0)
    # and the step did move the weights the norm was measured on
    assert any(not torch.equal(p, q) for p, q in zip(before.actor.parameters(), agent.actor.parameters()))


def test_td3_reports_the_actor_norm_at_the_next_delayed_update():
    agent = tiny_agent("td3", td3=TD3Config(policy_delay=2))
    before = copy.deepcopy(agent)
    b1 = random_batch(seed=1)
    torch.manual_seed(3)
    first = agent.update(b1, 0, grad_norms=True).metrics  # update 1: critic only
    assert "critic_grad_norm" in first and "actor_grad_norm" not in first and "actor_loss" not in first

    torch.manual_seed(3)  # target policy smoothing noise, as the update drew it
    with torch.no_grad():
        own = before.cfg.td3
        noise = (own.policy_noise * torch.randn_like(b1.action)).clamp(-own.noise_clip, own.noise_clip)
        next_action = (before.actor_target(b1.next_obs) + noise).clamp(-1.0, 1.0)
        next_q = before.critic_target(torch.cat([b1.next_obs, next_action], -1)).min(0).values
        target = b1.reward + b1.discount * next_q
    loss_q = mse_critic_loss(before.critic(torch.cat([b1.obs, b1.action], -1)), target)
    grads = torch.autograd.grad(loss_q, list(before.critic.parameters()))
    torch.testing.assert_close(first["critic_grad_norm"].double(), flat_norm(grads), rtol=1e-5, atol=0)

    before = copy.deepcopy(agent)
    b2 = random_batch(seed=2)
    second = agent.update(b2, 1).metrics  # update 2: the delayed actor update reports the pending measurement
    assert "actor_loss" in second and "actor_grad_norm" in second and "critic_grad_norm" not in second
    loss_pi = -agent.critic(torch.cat([b2.obs, before.actor(b2.obs)], -1))[0].mean()
    grads = torch.autograd.grad(loss_pi, list(before.actor.parameters()))
    torch.testing.assert_close(second["actor_grad_norm"].double(), flat_norm(grads), rtol=1e-5, atol=0)

    for seed in (3, 4):  # nothing pending: no norms, with or without an actor update
        assert not {"critic_grad_norm", "actor_grad_norm"} & set(agent.update(random_batch(seed=seed), seed).metrics)
    fifth = agent.update(random_batch(seed=5), 5, grad_norms=True).metrics
    assert set(fifth) >= {"critic_grad_norm"} and "actor_grad_norm" not in fifth
    sixth = agent.update(random_batch(seed=6), 6, grad_norms=True).metrics  # measured and reported at once
    assert {"critic_grad_norm", "actor_grad_norm", "actor_loss"} <= set(sixth)


# ---- frozen TD targets --------------------------------------------------------------------------------
def test_sac_frozen_targets_by_hand():
    agent = tiny_agent("sac", sac=SACConfig(init_alpha=0.2))
    perturb_(agent.critic_target, seed=1)  # the target critic differs from the online one
    replay = filled_replay(40)
    rng = torch.get_rng_state()
    state = copy.deepcopy(agent.state_dict())

    targets = frozen_td_targets(agent, replay, max_transitions=None, seed=5)

    assert torch.equal(torch.get_rng_state(), rng), "the global generator is left where it was"
    assert all(torch.equal(v, agent.state_dict()[name][k]) for name, module in state.items()
               if name.startswith("module/") for k, v in module.items()), "no network changed"
    assert torch.equal(targets.obs, replay.obs[:40]) and torch.equal(targets.action, replay.action[:40])
    assert targets.q_hat.shape == (40,) and targets.loss == "mse"
    torch.manual_seed(5)
    with torch.no_grad():
        next_action, log_prob = agent.actor(replay.next_obs[:40])
        v = agent.critic_target(torch.cat([replay.next_obs[:40], next_action], -1)).min(0).values
        expected = replay.reward[:40] + GAMMA * replay.not_terminal[:40] * (v - 0.2 * log_prob)
    torch.testing.assert_close(targets.q_hat, expected.squeeze(-1), rtol=1e-5, atol=1e-6)
    assert (replay.not_terminal[:40] == 0).any()
    terminal = replay.not_terminal[:40, 0] == 0
    assert torch.equal(targets.q_hat[terminal], replay.reward[:40, 0][terminal])
    # they are the agent's own Bellman target (training's td_target) under the seed
    torch.manual_seed(5)
    assert torch.equal(agent.td_target(replay.gather(replay.ready_indices())).squeeze(-1), targets.q_hat)
    # the same seed gives the same targets; another seed another a' ~ pi
    assert torch.equal(frozen_td_targets(agent, replay, None, seed=5).q_hat, targets.q_hat)
    assert not torch.allclose(frozen_td_targets(agent, replay, None, seed=6).q_hat, targets.q_hat)


def test_frozen_target_sample_is_seeded():
    agent = tiny_agent("sac")
    replay = filled_replay(40)
    first = frozen_td_targets(agent, replay, max_transitions=10, seed=3)
    again = frozen_td_targets(agent, replay, max_transitions=10, seed=3)
    other = frozen_td_targets(agent, replay, max_transitions=10, seed=4)
    assert first.obs.shape == (10, OBS) and first.action.shape == (10, ACT) and first.q_hat.shape == (10,)
    for name in ("obs", "action", "q_hat"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert not torch.equal(first.obs, other.obs)
    # the sample is 10 distinct stored transitions, in storage order, each with its own action
    rows = [int((replay.obs[:40] == o).all(1).nonzero()) for o in first.obs]
    assert rows == sorted(set(rows))
    assert torch.equal(first.action, replay.action[rows])
    torch.manual_seed(3)
    with torch.no_grad():
        next_obs = replay.next_obs[rows]
        a, log_prob = agent.actor(next_obs)
        v = agent.critic_target(torch.cat([next_obs, a], -1)).min(0).values - agent.log_alpha.exp() * log_prob
    torch.testing.assert_close(first.q_hat, (replay.reward[rows] + GAMMA * replay.not_terminal[rows] * v)
                               .squeeze(-1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="empty"):
        frozen_td_targets(agent, ReplayBuffer(SPEC, ACT, 10))


def test_td3_frozen_targets_use_the_target_actor_with_policy_smoothing():
    """TD3's frozen Q_hat is training's target: min_j Q'_j(s', mu'(s') + clipped noise), the noise
    drawn under the fixed seed."""
    agent = tiny_agent("td3")
    perturb_(agent.actor_target, seed=2)
    perturb_(agent.critic_target, seed=3)
    replay = filled_replay(40)
    targets = frozen_td_targets(agent, replay, max_transitions=None, seed=0)
    next_obs, action = replay.next_obs[:40], replay.action[:40]
    own = agent.cfg.td3
    torch.manual_seed(0)
    with torch.no_grad():
        noise = (own.policy_noise * torch.randn_like(action)).clamp(-own.noise_clip, own.noise_clip)
        smoothed = (agent.actor_target(next_obs) + noise).clamp(-1.0, 1.0)
        v = agent.critic_target(torch.cat([next_obs, smoothed], -1)).min(0).values
        plain = agent.critic_target(torch.cat([next_obs, agent.actor_target(next_obs)], -1)).min(0).values
        online = agent.critic_target(torch.cat([next_obs, (agent.actor(next_obs) + noise).clamp(-1, 1)], -1)).min(0).values
    bellman = lambda value: (replay.reward[:40] + GAMMA * replay.not_terminal[:40] * value).squeeze(-1)  # noqa: E731
    torch.testing.assert_close(targets.q_hat, bellman(v), rtol=1e-5, atol=1e-6)
    ongoing = replay.not_terminal[:40, 0] == 1
    assert not torch.allclose(targets.q_hat[ongoing], bellman(plain)[ongoing], atol=1e-4)  # the noise is in
    assert not torch.allclose(targets.q_hat[ongoing], bellman(online)[ongoing], atol=1e-3)  # the target actor
    # the agent's own td_target under the same seed, and repeatable under it
    torch.manual_seed(0)
    assert torch.equal(agent.td_target(replay.gather(replay.ready_indices())).squeeze(-1), targets.q_hat)
    assert torch.equal(frozen_td_targets(agent, replay, None, seed=0).q_hat, targets.q_hat)
    # another seed draws other noise (terminal transitions keep Q_hat = r)
    other = frozen_td_targets(agent, replay, None, seed=9).q_hat
    assert not torch.allclose(other[ongoing], targets.q_hat[ongoing])
    assert torch.equal(other[~ongoing], targets.q_hat[~ongoing])


def test_td_targets_save_and_load(tmp_path):
    t = TDTargets(torch.randn(5, OBS), torch.randn(5, ACT), torch.randn(5))
    assert t.loss == "mse"
    t.save(tmp_path / "td.pt")
    assert os.listdir(tmp_path) == ["td.pt"]
    back = TDTargets.load(tmp_path / "td.pt")
    for name in ("obs", "action", "q_hat"):
        assert torch.equal(getattr(back, name), getattr(t, name))
    assert back.loss == "mse"
    sub = back.subset(torch.tensor([0, 3]))
    assert torch.equal(sub.q_hat, t.q_hat[[0, 3]]) and sub.loss == "mse"


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_frozen_targets_carry_the_runs_critic_loss(tmp_path, algo):
    agent = tiny_agent(algo, critic_loss="huber")
    targets = frozen_td_targets(agent, filled_replay(20), max_transitions=None, seed=1)
    assert targets.loss == "huber"
    targets.save(tmp_path / "td_targets.pt")
    back = TDTargets.load(tmp_path / "td_targets.pt")
    assert back.loss == "huber" and torch.equal(back.q_hat, targets.q_hat)
    assert back.subset(torch.arange(5)).loss == "huber"
    _, data = q_network_data(agent, back)
    assert data.loss == "huber"
    # a file without the field (saved before it existed) reads as mse
    torch.save({"obs": back.obs, "action": back.action, "q_hat": back.q_hat}, tmp_path / "old.pt")
    assert TDTargets.load(tmp_path / "old.pt").loss == "mse"


def test_q_network_data_is_critic_member_on_its_inputs():
    agent = tiny_agent("sac", net=NetConfig(width=8, depth=2, norm="batchnorm"))
    agent._train_mode(True)
    with torch.no_grad():
        for _ in range(10):
            agent.critic(torch.randn(16, OBS + ACT) + 1.0)
    targets = TDTargets(torch.randn(30, OBS), torch.rand(30, ACT) * 2 - 1, torch.randn(30))
    for member in (0, 1):
        module, data = q_network_data(agent, targets, member=member, batch_size=7)
        assert not module.training and len(data) == 30
        assert torch.equal(data.inputs, torch.cat([targets.obs, targets.action], -1))
        with torch.no_grad():
            torch.testing.assert_close(module(data.inputs)[0], agent.critic.eval()(data.inputs)[member])
        assert all(p.requires_grad for p in module.parameters())


# ---- directions ---------------------------------------------------------------------------------------
TRUNK_CASES = [  # (kind, norm, spectral_norm)
    ("mlp", "batchnorm", False),
    ("resnet", "none", True),
    ("densenet", "none", False),
    ("d2rl", "layernorm", False),
    ("simba", "auto", False),
]


@pytest.mark.parametrize("kind,norm,sn", TRUNK_CASES)
def test_filter_normalized_directions_on_ensemble_layers(kind, norm, sn):
    module = trained_member(kind, norm, sn)
    weights = {f"{name}.weight" for name, m in module.named_modules() if isinstance(m, EnsembleLinear)}
    assert "head.weight" in weights and len(weights) >= 3
    for d in directions(module, seed=0):
        assert set(d) == {name for name, _ in module.named_parameters()}
        for name, p in module.named_parameters():
            assert d[name].shape == p.shape and d[name].dtype == p.dtype
            if name in weights:
                # (n, in, out): each output unit's incoming weights run along dim -2
                torch.testing.assert_close(d[name].norm(dim=-2), p.detach().norm(dim=-2), rtol=1e-5, atol=1e-7)
                assert not torch.allclose(d[name].abs(), p.detach().abs())  # random, not a copy
            else:  # biases, LayerNorm / BatchNorm affine parameters
                assert torch.count_nonzero(d[name]) == 0, name
    norm_params = [f"{name}.{leaf}" for name, m in module.named_modules()
                   if isinstance(m, (EnsembleLayerNorm, nn.BatchNorm1d)) for leaf, _ in m.named_parameters()]
    assert bool(norm_params) == (norm != "none")  # the zero directions above did cover them


def test_filter_normalized_directions_on_torch_linear_layers():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7), nn.ReLU(), nn.Linear(7, 6), nn.BatchNorm1d(6),
                           nn.ReLU(), nn.Linear(6, 1))
    d = random_direction(module, torch.Generator().manual_seed(0))
    for name, p in module.named_parameters():
        if name in ("0.weight", "3.weight", "6.weight"):
            # (out, in): each output unit's incoming weights run along dim -1
            torch.testing.assert_close(d[name].norm(dim=-1), p.detach().norm(dim=-1), rtol=1e-5, atol=1e-7)
            assert torch.count_nonzero(d[name]) == d[name].numel()
        else:
            assert torch.count_nonzero(d[name]) == 0, name


def test_directions_are_reproducible_per_seed():
    module = trained_member("mlp")
    a1, a2 = directions(module, seed=3)
    b1, b2 = directions(module, seed=3)
    c1, _ = directions(module, seed=4)
    for k in a1:
        assert torch.equal(a1[k], b1[k]) and torch.equal(a2[k], b2[k])
    weight = "head.weight"
    assert not torch.equal(a1[weight], c1[weight])
    assert not torch.equal(a1[weight], a2[weight])


def test_orthogonalize_removes_the_projection_and_keeps_the_norm():
    module = trained_member("mlp", width=8)
    d1, d2 = directions(module, seed=1)
    dot = lambda u, v: sum(float((u[k].double() * v[k].double()).sum()) for k in u)  # noqa: E731
    assert abs(dot(d1, d2)) > 1e-3  # random directions are not orthogonal to start with
    o = orthogonalize(d1, d2)
    assert abs(dot(d1, o)) <= 1e-5 * math.sqrt(dot(d1, d1) * dot(o, o))
    assert dot(o, o) == pytest.approx(dot(d2, d2), rel=1e-5)
    for k in d2:
        if torch.count_nonzero(d1[k]) == 0 and torch.count_nonzero(d2[k]) == 0:
            assert torch.count_nonzero(o[k]) == 0  # biases stay unmoved
    _, o2 = directions(module, seed=1, orthogonal=True)
    for k in o:
        assert torch.equal(o[k], o2[k])


# ---- evaluating J_Q over a grid -----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ensemble", "vmap"])
@pytest.mark.parametrize("kind,norm,sn", TRUNK_CASES)
def test_batched_grid_equals_pointwise_evaluation(kind, norm, sn, method):
    module = trained_member(kind, norm, sn)
    if norm == "batchnorm":
        bn = [m for m in module.modules() if isinstance(m, EnsembleBatchNorm)]
        assert bn and bn[0].bn.running_mean.abs().max() > 0.05  # statistics are not trivial
    if sn:
        assert spectral_layers(module)
    data = random_data(23)
    d1, d2 = directions(module, seed=2)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    coords = torch.tensor([[0.0, 0.0], [0.3, -0.2], [-1.0, 0.5], [0.75, 0.75], [-0.4, -0.9], [1.0, -1.0],
                           [0.1, 0.6]])  # 7 points: chunks of 3 do not divide them

    module.train()  # evaluate_points switches to eval mode itself (running statistics, no power iteration)
    grid = evaluate_points(module, data, d1, d2, coords, chunk=3, batch_size=10, method=method)
    assert not module.training
    reference = evaluate_pointwise(module, data, d1, d2, coords, batch_size=10)

    assert grid.shape == (7,) and grid.dtype == torch.float64
    torch.testing.assert_close(grid, reference, rtol=2e-5, atol=1e-6)
    assert float(grid[0]) == pytest.approx(direct_loss(module, data), rel=1e-5)
    assert len(set(grid.tolist())) == 7  # the points really are different networks
    # one batch, chunks of 1 and 5: the same numbers
    torch.testing.assert_close(evaluate_points(module, data, d1, d2, coords, chunk=5, batch_size=100,
                                               method=method), reference, rtol=2e-5, atol=1e-6)
    # 1-D line: d2=None
    line = torch.tensor([[-1.0, 0.0], [-0.25, 0.0], [0.5, 0.0], [0.9, 0.0]])
    torch.testing.assert_close(evaluate_points(module, data, d1, None, line, chunk=3, batch_size=10, method=method),
                               evaluate_pointwise(module, data, d1, None, line), rtol=2e-5, atol=1e-6)
    # nothing about the module changed (weights, running statistics, spectral-norm vectors, forward)
    for k, v in module.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert all("forward" not in vars(m) for m in module.modules())
    if method == "ensemble":  # "auto" picks it for trunks
        torch.testing.assert_close(evaluate_points(module, data, d1, d2, coords, chunk=3, batch_size=10), grid)


@pytest.mark.parametrize("method", ["ensemble", "vmap"])
def test_huber_landscape_uses_the_huber_loss(method):
    """TDData(loss="huber"): J_Q is the mean Huber loss (delta 1), which differs from 1/2 e^2 once
    errors exceed 1; the batched and the pointwise evaluations agree on it."""
    module = trained_member("mlp", norm="batchnorm")
    base = random_data(23)
    huber = TDData(base.inputs, 3.0 * base.targets, loss="huber")  # targets far enough for |error| > 1
    mse = TDData(huber.inputs, huber.targets)
    with torch.no_grad():
        q = module(huber.inputs).reshape(-1).double()
    error = q - huber.targets.double()
    assert (error.abs() > 1).any() and (error.abs() <= 1).any()
    expected = float(torch.nn.functional.huber_loss(q, huber.targets.double(), delta=1.0))
    d1, d2 = directions(module, seed=2)
    coords = torch.tensor([[0.0, 0.0], [0.3, -0.2], [-0.8, 0.5], [0.6, 0.6], [-0.4, -0.9]])
    grid = evaluate_points(module, huber, d1, d2, coords, chunk=2, batch_size=10, method=method)
    assert float(grid[0]) == pytest.approx(expected, rel=1e-5)
    assert float(grid[0]) == pytest.approx(float(landscape_module.td_loss(error, "huber").mean()), rel=1e-5)
    mse_grid = evaluate_points(module, mse, d1, d2, coords, chunk=2, batch_size=10, method=method)
    assert float(mse_grid[0]) == pytest.approx(direct_loss(module, mse), rel=1e-5)
    assert (grid < mse_grid).all()  # huber < 1/2 e^2 wherever some |error| > 1
    torch.testing.assert_close(grid, evaluate_pointwise(module, huber, d1, d2, coords, batch_size=10),
                               rtol=2e-5, atol=1e-6)
    # the sharpness numbers read the same loss: the surface's center, its Hessian
    surface = loss_landscape(module, huber, dims=1, span=0.5, points=3, radii=(), hessian_iterations=0)
    assert surface.center_loss == pytest.approx(expected, rel=1e-5) and surface.meta["loss"] == "huber"
    with pytest.raises(ValueError, match="loss"):
        evaluate_points(module, TDData(huber.inputs, huber.targets, loss="l1"), d1, d2, coords, method=method)


def test_evaluate_points_rejects_unknown_method():
    module = trained_member("mlp")
    d1, d2 = directions(module)
    with pytest.raises(ValueError, match="method"):
        evaluate_points(module, random_data(), d1, d2, torch.zeros(1, 2), method="loop")


def test_grid_coords_layout():
    axis, coords = grid_coords(span=2.0, points=5, dims=2)
    np.testing.assert_allclose(axis, [-2.0, -1.0, 0.0, 1.0, 2.0])
    assert coords.shape == (25, 2)
    for i in range(5):
        for j in range(5):
            assert coords[i * 5 + j].tolist() == [axis[i], axis[j]]
    axis, coords = grid_coords(span=1.0, points=3, dims=1)
    assert coords.tolist() == [[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]


@pytest.mark.parametrize("at_minimum", [True, False])
def test_quadratic_model_has_a_convex_surface(at_minimum):
    data = linear_regression_data()
    model = LinearQ(4)
    set_least_squares_(model, data)
    if not at_minimum:
        perturb_(model, 0.5, seed=4)
    surface = loss_landscape(model, data, dims=2, span=1.0, points=9, seed=1, radii=(0.25, 0.5),
                             hessian_iterations=0)
    grid = np.array(surface.losses)
    assert grid.shape == (9, 9)
    scale = grid.max()
    for axis in (0, 1):
        curvature = second_differences(grid, axis)
        assert (curvature >= -1e-6 * scale).all()
        # a quadratic: the same second difference everywhere along an axis
        np.testing.assert_allclose(curvature, np.full_like(curvature, curvature.mean()), rtol=1e-3,
                                   atol=1e-6 * scale)
    assert grid[4, 4] == pytest.approx(surface.center_loss, rel=1e-6)
    assert surface.center_loss == pytest.approx(direct_loss(model, data), rel=1e-5)
    assert surface.hessian_top_eigenvalue is None
    if at_minimum:  # the least-squares solution is the lowest point of the grid
        assert np.unravel_index(grid.argmin(), grid.shape) == (4, 4)
        assert (grid >= surface.center_loss - 1e-6 * scale).all()
        assert all(rise > 0 for rise in surface.loss_rise.values())
    else:
        assert np.unravel_index(grid.argmin(), grid.shape) != (4, 4)
    # the ensemble path on the same (non-trunk) module gives the same surface
    d1, d2 = directions(model, seed=1)
    _, coords = grid_coords(1.0, 9, 2)
    torch.testing.assert_close(evaluate_points(model, data, d1, d2, coords, chunk=7, method="ensemble"),
                               torch.tensor(grid).reshape(-1), rtol=1e-5, atol=1e-7)

    line = loss_landscape(model, data, dims=1, span=1.0, points=11, seed=1, radii=(), hessian_iterations=0)
    values = np.array(line.losses)
    assert values.shape == (11,) and line.loss_rise == {}
    assert (second_differences(values, 0) >= -1e-6 * values.max()).all()
    if at_minimum:
        assert values.argmin() == 5


def test_hessian_power_iteration_finds_the_top_eigenvalue_of_a_quadratic():
    data = linear_regression_data(n=50, scales=(3.0, 1.0, 0.5, 0.2), seed=1)
    torch.manual_seed(0)
    model = nn.Linear(4, 1)  # J = 1/2 mean (x w + c - y)^2: Hessian X_aug^T X_aug / N, wherever (w, c) is
    x_aug = augmented(data.inputs)
    expected = float(torch.linalg.eigvalsh(x_aug.T @ x_aug / len(data))[-1])
    top = hessian_top_eigenvalue(model, data, iterations=300, tol=1e-9, seed=0, batch_size=16)
    assert top == pytest.approx(expected, rel=1e-3)
    # the same for the ensemble-layer model, away from its minimum
    linear_q = LinearQ(4)
    perturb_(linear_q, 1.0)
    assert hessian_top_eigenvalue(linear_q, data, iterations=300, tol=1e-9) == pytest.approx(expected, rel=1e-3)


def test_loss_rise_of_a_quadratic_matches_its_curvature():
    data = linear_regression_data(seed=2)
    model = LinearQ(4)
    perturb_(model, 1.0, seed=5)  # not at the minimum: the gradient is not zero
    d1, d2 = directions(model, seed=3)
    for d in (d1, d2):
        assert torch.count_nonzero(d["linear.bias"]) == 0
    x = data.inputs.double()
    curvature = [float((x @ d["linear.weight"][0].double()).square().mean()) for d in (d1, d2)]  # d^T H d
    radii = (0.1, 0.5, 1.0)

    # J(theta + r u) - J(theta) = r g.u + r^2/2 u^T H u: the linear term averages out over the circle,
    # and the mean of cos^2 and of sin^2 over equally spaced angles is 1/2.
    rise = loss_rise_at_radii(model, data, d1, d2, radii, angles=16)
    assert list(rise) == list(radii)
    for r in radii:
        assert rise[r] == pytest.approx(r ** 2 / 4 * (curvature[0] + curvature[1]), rel=1e-3)
    ensemble = loss_rise_at_radii(model, data, d1, d2, radii, angles=16, method="ensemble", chunk=5)
    for r in radii:
        assert ensemble[r] == pytest.approx(rise[r], rel=1e-4)
    # 1-D: the two points at +-r
    line = loss_rise_at_radii(model, data, d1, None, radii)
    for r in radii:
        assert line[r] == pytest.approx(r ** 2 / 2 * curvature[0], rel=1e-3)
    # against a given center value the rise shifts by the difference
    shifted = loss_rise_at_radii(model, data, d1, d2, radii, center=direct_loss(model, data) - 1.0)
    for r in radii:
        assert shifted[r] == pytest.approx(rise[r] + 1.0, rel=1e-4)


def test_loss_landscape_grid_orientation_and_options():
    module = trained_member("mlp", width=5)
    data = random_data(15)
    surface = loss_landscape(module, data, dims=2, span=0.5, points=5, seed=2, radii=(0.1,), hessian_iterations=5)
    d1, d2 = directions(module, seed=2)
    point = torch.tensor([[surface.axis[1], surface.axis[3]]])
    assert surface.losses[1][3] == pytest.approx(float(evaluate_pointwise(module, data, d1, d2, point)[0]), rel=1e-5)
    assert surface.losses[1][3] != pytest.approx(surface.losses[3][1], rel=1e-6)
    assert surface.axis == [-0.5, -0.25, 0.0, 0.25, 0.5]
    assert surface.meta == {"dims": 2, "span": 0.5, "points": 5, "seed": 2, "orthogonal": False, "transitions": 15,
                            "loss": "mse"}
    assert surface.hessian_top_eigenvalue == pytest.approx(hessian_top_eigenvalue(module, data, 5, seed=2))
    assert list(surface.loss_rise) == [0.1]
    ortho = loss_landscape(module, data, dims=2, span=0.5, points=5, seed=2, orthogonal=True, radii=(),
                           hessian_iterations=0)
    assert ortho.meta["orthogonal"] and ortho.losses != surface.losses
    assert ortho.center_loss == pytest.approx(surface.center_loss)
    with pytest.raises(ValueError, match="dims"):
        loss_landscape(module, data, dims=3)


def test_landscape_save_load_round_trip(tmp_path):
    module = trained_member("mlp", width=5)
    data = random_data(15)
    for dims in (1, 2):
        surface = loss_landscape(module, data, dims=dims, points=5, radii=(0.1, 0.5), hessian_iterations=3)
        folder = tmp_path / f"d{dims}" / "nested"
        path = surface.save(folder / "surface.json")
        assert path == folder / "surface.json"
        assert os.listdir(folder) == ["surface.json"]  # atomic: no temporary file left behind
        back = Landscape.load(path)
        assert back == surface
        assert all(type(k) is float for k in back.loss_rise)
        surface.save(path)  # replacing an existing file
        assert os.listdir(folder) == ["surface.json"] and Landscape.load(path) == surface
    assert len(Landscape.load(tmp_path / "d1" / "nested" / "surface.json").losses) == 5


# ---- during and after training ------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_training_logs_srank_grad_norms_and_saves_td_targets(tmp_path, tiny_config, algo, monkeypatch):
    cfg = tiny_config(algo, width=16, total_steps=200, warmup_steps=50, eval_every=40, log_every=40,
                      srank_samples=64, grad_norm_every=5, td_targets_samples=120)
    trainer = Trainer(cfg, tmp_path, progress=False)
    assert trainer.run()["state"] == "finished"
    run_dir = tmp_path / cfg.run_id

    # srank of both critics at every evaluation from the first one after 64 transitions are stored
    evals = pd.read_csv(run_dir / "evaluations.csv")
    assert sorted(evals["step"].unique()) == [0, 40, 80, 120, 160, 200]
    for name in ("srank_critic1", "srank_critic2"):
        rows = evals[evals["metric"] == name].sort_values("step")
        assert rows["step"].tolist() == [80, 120, 160, 200], name
        assert (rows["value"] == rows["value"].round()).all() and rows["value"].between(1, 16).all()
    (rank_hook,) = [h for h in trainer.hooks if isinstance(h, EffectiveRank)]
    obs, action = rank_hook.fixed_set
    assert torch.equal(obs, trainer.replay.obs[:64]) and torch.equal(action, trainer.replay.action[:64])
    final = evals[(evals["step"] == 200) & evals["metric"].str.startswith("srank")].sort_values("metric")
    agent = load_agent(run_dir)
    assert final["value"].astype(int).tolist() == critic_feature_rank(agent, obs, action)

    # gradient norms every 5 updates (updates start at step 50), averaged into each logged window
    metrics = pd.read_csv(run_dir / "metrics.csv")
    for name in ("train_critic_grad_norm", "train_actor_grad_norm"):
        rows = metrics[metrics["metric"] == name]
        assert sorted(rows["step"]) == [80, 120, 160, 200], name
        assert np.isfinite(rows["value"]).all() and (rows["value"] > 0).all()

    # frozen TD targets of a seeded sample of 120 stored transitions, from the final networks
    saved = TDTargets.load(run_dir / "td_targets.pt")
    assert saved.obs.shape == (120, 3) and saved.action.shape == (120, 1) and saved.q_hat.shape == (120,)
    assert saved.loss == cfg.agent.critic_loss == "mse"
    again = frozen_td_targets(agent, trainer.replay, 120, seed=cfg.seed)
    for name in ("obs", "action", "q_hat"):
        torch.testing.assert_close(getattr(saved, name), getattr(again, name))

    # the landscape of the finished run: its center is J_Q of the saved critic on the saved targets
    settings = dict(dims=2, points=5, hessian_iterations=3, device="cpu")
    surface = run_landscape(run_dir, **settings)
    x = torch.cat([saved.obs, saved.action], -1)
    with torch.no_grad():
        q = agent.critic.eval()(x)
    for member in (0, 1):
        expected = float(0.5 * (q[member, :, 0].double() - saved.q_hat.double()).square().mean())
        center = surface.center_loss if member == 0 else run_landscape(run_dir, member=1, **settings).center_loss
        assert center == pytest.approx(expected, rel=1e-5)
    assert surface.losses[2][2] == pytest.approx(surface.center_loss, rel=1e-6)
    assert surface.meta["transitions"] == 120 and surface.meta["run"] == cfg.run_id
    cached = run_dir / "landscape_2d_p5_r1_s0_m0_nall_h3.json"
    assert cached.exists() and Landscape.load(cached) == surface
    assert run_landscape(run_dir, max_transitions=50, **settings).meta["transitions"] == 50

    # a second call reads the JSON; other options or recompute=True compute afresh
    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(landscape_module, "loss_landscape", fail)
    mtime = cached.stat().st_mtime_ns
    assert run_landscape(run_dir, **settings) == surface
    assert cached.stat().st_mtime_ns == mtime
    for changed in (dict(orthogonal=True), dict(radii=(0.2,)), dict(hessian_iterations=4), dict(recompute=True)):
        with pytest.raises(AssertionError, match="recomputed"):
            run_landscape(run_dir, **{**settings, **changed})


def test_training_without_analysis_logs_none_of_it(tmp_path, tiny_config):
    cfg = tiny_config("sac", width=8, total_steps=120, warmup_steps=50, eval_every=40, log_every=40,
                      srank_samples=0, grad_norm_every=0, td_targets_samples=0)
    assert Trainer(cfg, tmp_path, progress=False).run()["state"] == "finished"
    run_dir = tmp_path / cfg.run_id
    evals = pd.read_csv(run_dir / "evaluations.csv")
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert not evals["metric"].str.startswith("srank").any()
    assert not metrics["metric"].str.contains("grad_norm").any()
    assert "train_critic_loss" in set(metrics["metric"])
    assert not (run_dir / "td_targets.pt").exists()
