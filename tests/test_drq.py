"""DrQ: its settings, what each loss trains, the augmented target and summed loss by hand, the
update schedule, the log-std bound, the head init, a run on DMC, and the CLI's pixel defaults."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from rlcore import profiles
from rlcore.agents import make_agent
from rlcore.config import AgentConfig, ConfigError, DrQConfig, NetConfig, RunConfig
from rlcore.envs import ObsSpec
from rlcore.nets import EnsembleLinear
from rlcore.replay import Batch

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SPEC = ObsSpec((9, 32, 32), np.dtype(np.uint8), 3)  # small frames keep these tests fast
B, A = 6, 2


def agent(**overrides):
    cfg = AgentConfig.for_algorithm("drq", **{"batch_size": B, "actor": NetConfig(width=32),
                                              "critic": NetConfig(width=32), **overrides})
    torch.manual_seed(0)
    return make_agent(cfg, SPEC, A)


def batch(n=B, seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    frames = lambda: torch.randint(0, 256, (n, *SPEC.shape), generator=g, dtype=torch.uint8)
    return Batch(obs=frames(), action=torch.rand(n, A, generator=g) * 2 - 1, reward=torch.rand(n, 1, generator=g),
                 next_obs=frames(), discount=torch.full((n, 1), 0.99))


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return [not torch.equal(p, q) for p, q in zip(before, module.parameters())]


def test_for_algorithm_gives_drq_its_paper_settings():
    cfg = AgentConfig.for_algorithm("drq")
    assert (cfg.actor_lr, cfg.critic_lr, cfg.batch_size, cfg.tau, cfg.gamma, cfg.n_step) == (1e-3, 1e-3, 512, 0.01, 0.99, 1)
    assert cfg.actor.width == cfg.critic.width == 1024 and cfg.actor.depth == cfg.critic.depth == 2
    own = cfg.drq
    assert (own.init_alpha, own.alpha_lr, own.log_std_min, own.log_std_max) == (0.1, 1e-3, -10.0, 2.0)
    assert (own.actor_update_every, own.target_update_every, own.target_augmentations, own.loss_augmentations) == (2, 2, 2, 2)
    b = profiles.budget("paper", "drq")
    assert (b.warmup_steps, b.replay_size, b.update_every, b.eval_every, b.eval_episodes) == (1_000, 100_000, 1, 5_000, 10)
    assert make_agent(dataclasses.replace(cfg, actor=NetConfig(width=8), critic=NetConfig(width=8)), SPEC, A).target_entropy == -A


def test_bad_drq_fields_name_the_field():
    with pytest.raises(ConfigError, match="agent.drq.alpha_loss"):
        AgentConfig.for_algorithm("drq", drq=DrQConfig(alpha_loss="beta")).validate()
    with pytest.raises(ConfigError, match="agent.drq.log_std_max"):
        AgentConfig.for_algorithm("drq", drq=DrQConfig(log_std_min=2.0, log_std_max=-1.0)).validate()
    with pytest.raises(ConfigError, match="uint8 images"):
        make_agent(AgentConfig.for_algorithm("drq"), ObsSpec.flat(5), 1)


def test_log_std_is_squashed_into_its_bounds():
    a = agent()
    h = a.encoder(batch().obs)
    with torch.no_grad():
        for layer in a.actor.head.modules():  # huge pre-activations either way
            if isinstance(layer, EnsembleLinear):
                layer.weight.mul_(1e3)
        mean, raw = a.actor.head(a.actor.projection(h)).chunk(2, dim=-1)
        lo, hi = a.cfg.drq.log_std_min, a.cfg.drq.log_std_max
        log_std = lo + 0.5 * (hi - lo) * (torch.tanh(raw) + 1)
        assert log_std.min() >= lo and log_std.max() <= hi and raw.abs().max() > 10
        action, log_prob = a.actor(h)
        assert action.abs().max() <= 1.0 and torch.isfinite(log_prob).all()


def test_heads_start_orthogonal_with_zero_biases_or_as_the_zoo_does():
    a = agent()
    first = next(m for m in a.critic.modules() if isinstance(m, EnsembleLinear))
    w = first.weight[0]  # (in, out), in > out: orthonormal columns
    eye = torch.eye(min(w.shape))
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    assert torch.allclose(gram, eye, atol=1e-5) and not first.bias.any()
    zoo = agent(drq=DrQConfig(head_init="zoo"))
    first = next(m for m in zoo.critic.modules() if isinstance(m, EnsembleLinear))
    assert first.bias.abs().sum() > 0


def test_the_actor_loss_leaves_the_conv_weights_alone_and_the_critic_loss_trains_them():
    a = agent()
    b = batch()
    a.update_actor(b, b.obs, {}, False)
    assert all(p.grad is None or not p.grad.any() for p in a.encoder.parameters())
    assert all(p.grad is None or not p.grad.any() for p in [*a.critic.parameters(), *a.critic_projection.parameters()])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in a.actor.projection.parameters())
    a.update_critic(b, None, {}, False)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in a.encoder.parameters())


def _tanh_gaussian_log_prob(mean, log_std, eps):
    """(tanh(u), log pi(tanh(u))) with u = mean + std * eps, from torch.distributions (not the agent's formula)."""
    u = mean + log_std.exp() * eps
    base = torch.distributions.Normal(mean, log_std.exp()).log_prob(u).sum(-1, keepdim=True)
    jacobian = torch.distributions.transforms.TanhTransform().log_abs_det_jacobian(u, torch.tanh(u))
    return torch.tanh(u), base - jacobian.sum(-1, keepdim=True)


def test_target_is_the_mean_over_k_shifts_and_the_loss_the_sum_over_m_shifts_by_hand():
    a = agent()
    b = batch()
    next_views = torch.cat([torch.roll(b.next_obs, 1, dims=-1), torch.roll(b.next_obs, -2, dims=-2)])
    obs_views = torch.cat([torch.roll(b.obs, 3, dims=-1), b.obs])
    with torch.no_grad():  # by hand, with the normal draws the agent will make
        torch.manual_seed(7)
        eps = torch.randn(2 * B, A)
        lo, hi = a.cfg.drq.log_std_min, a.cfg.drq.log_std_max
        mean, raw = a.actor.head(a.actor.projection(a.encoder(next_views))).chunk(2, dim=-1)
        action, log_prob = _tanh_gaussian_log_prob(mean, lo + 0.5 * (hi - lo) * (torch.tanh(raw) + 1), eps)
        z = torch.cat([a.critic_projection_target(a.encoder_target(next_views)), action], dim=-1)
        v = a.critic_target(z).min(dim=0).values - a.alpha * log_prob
        y = [b.reward + b.discount * v[k * B:(k + 1) * B] for k in range(2)]
        target = (y[0] + y[1]) / 2
        loss = 0.0
        for m in range(2):
            view = obs_views[m * B:(m + 1) * B]
            q = a.critic(torch.cat([a.critic_projection(a.encoder(view)), b.action], dim=-1))  # (2, B, 1)
            loss += sum(0.5 * (q[j] - target).square().mean() for j in range(2))
    torch.manual_seed(7)
    assert torch.allclose(a.augmented_target(b, next_views), target, atol=1e-5)
    metrics = {}
    torch.manual_seed(7)
    a.update_critic_views(b, obs_views, next_views, metrics, False)
    assert float(metrics["critic_loss"]) == pytest.approx(float(loss), rel=1e-5)


def test_actor_temperature_and_target_follow_their_update_periods():
    a = agent()
    b = batch()
    actor0, target0, alpha0 = params(a.actor), params(a.critic_target), float(a.log_alpha)
    a.update(b, step=0)  # update 0: critic, actor, temperature, target
    assert all(changed(actor0, a.actor)) and all(changed(target0, a.critic_target)) and float(a.log_alpha) != alpha0
    actor1, target1, enc_target1, alpha1 = params(a.actor), params(a.critic_target), params(a.encoder_target), float(a.log_alpha)
    critic1 = params(a.critic)
    result = a.update(b, step=1)  # update 1: the critic only
    assert not any(changed(actor1, a.actor)) and not any(changed(target1, a.critic_target))
    assert not any(changed(enc_target1, a.encoder_target)) and float(a.log_alpha) == alpha1
    assert all(changed(critic1, a.critic)) and "actor_loss" not in result.metrics
    result = a.update(b, step=2)
    assert all(changed(actor1, a.actor)) and {"actor_loss", "alpha", "entropy"} <= set(result.metrics)
    assert a.updates == 3 and result.td_errors.shape == (B,)


def test_the_target_critic_and_its_encoder_are_polyak_averaged_with_tau():
    a = agent()
    enc, target = params(a.encoder), params(a.encoder_target)
    a.update(batch(), step=0)
    for t0, e0, t1, e1 in zip(target, enc, a.encoder_target.parameters(), a.encoder.parameters()):
        assert torch.allclose(t1, t0 + 0.01 * (e1 - t0), atol=1e-6)  # online weights after their step


@pytest.mark.parametrize("form", ["alpha", "log_alpha"])
def test_temperature_loss_forms(form):
    a = agent(drq=DrQConfig(alpha_loss=form, alpha_lr=0.1))
    b = batch()
    a.update_actor(b, b.obs, metrics := {}, False)
    entropy = float(metrics["entropy"])
    gap = entropy - a.target_entropy
    weight = 0.1 if form == "alpha" else math.log(0.1)
    assert float(metrics["alpha_loss"]) == pytest.approx(weight * gap, rel=1e-5)
    # Adam's first step moves log alpha by lr against the sign of the gap in both forms.
    assert float(a.log_alpha) == pytest.approx(math.log(0.1) - 0.1 * np.sign(gap), abs=1e-4)


def test_acting_samples_only_when_exploring_and_a_checkpoint_restores_the_agent():
    a = agent()
    obs = batch(1).obs.numpy()
    assert np.array_equal(a.act_batch(obs, 0, explore=False), a.act_batch(obs, 0, explore=False))
    assert not np.array_equal(a.act_batch(obs, 0, explore=True), a.act_batch(obs, 0, explore=False))
    a.update(batch(), step=0)
    state = a.state_dict()
    other = agent()
    other.load_state_dict(state)
    assert np.array_equal(other.act_batch(obs, 0, False), a.act_batch(obs, 0, False))
    assert float(other.log_alpha) == float(a.log_alpha) and other.updates == 1


def test_a_drq_run_on_dmc_finishes_and_writes_its_run_directory(tmp_path):
    from rlcore.train import train

    cfg = dataclasses.replace(RunConfig(), agent=AgentConfig.for_algorithm(
        "drq", batch_size=8, actor=NetConfig(width=32), critic=NetConfig(width=32))).replace(**{
        "env.id": "dmc:cartpole-balance", "env.kwargs": {"pixels": True, "height": 32, "width": 32},
        "env.frame_stack": 3, "env.action_repeat": 8, "budget.total_steps": 40, "budget.warmup_steps": 20,
        "budget.eval_every": 20, "budget.eval_episodes": 1, "budget.log_every": 10, "budget.replay_size": 100,
        "budget.srank_samples": 16, "budget.td_targets_samples": 16, "env.max_episode_steps": 160})
    status = train(cfg, tmp_path, progress=False)
    assert status["state"] == "finished" and status["frames"] == 40 * 8
    metrics = (tmp_path / cfg.run_id / "metrics.csv").read_text()
    assert "train_critic_loss" in metrics and "train_alpha" in metrics


def test_the_cli_gives_a_pixel_agent_on_dmc_its_papers_observations():
    from rlcore.cli import _base_config, build_parser

    args = build_parser().parse_args(["train", "--env", "dmc:cartpole-swingup", "--algo", "drq", "--profile", "smoke"])
    cfg = _base_config(args)
    assert cfg.env.kwargs_dict == {"pixels": True} and cfg.env.frame_stack == 3 and cfg.env.action_repeat == 2
    assert cfg.agent.batch_size == 32 and cfg.budget.total_steps == 200  # smoke's stated departures
    args = build_parser().parse_args(["train", "--env", "dmc:cartpole-swingup", "--algo", "drq", "--profile", "paper",
                                      "--set", "env.action_repeat=8"])
    cfg = _base_config(args)
    assert cfg.env.action_repeat == 8 and cfg.agent.batch_size == 512 and cfg.budget.replay_size == 100_000


def test_an_actor_gradient_norm_requested_between_actor_updates_is_measured_at_the_next_one():
    a = agent()
    b = batch()
    a.update(b, step=0)                                   # update 0: actor step, nothing asked
    result = a.update(b, step=1, grad_norms=True)         # update 1: no actor step
    assert "critic_grad_norm" in result.metrics and "actor_grad_norm" not in result.metrics
    result = a.update(b, step=2)                          # update 2: the pending request
    assert float(result.metrics["actor_grad_norm"]) > 0
    assert "actor_grad_norm" not in a.update(b, step=3).metrics and "actor_grad_norm" not in a.update(b, step=4).metrics


def test_a_pending_actor_gradient_norm_request_survives_a_checkpoint():
    a = agent()
    b = batch()
    a.update(b, step=0)
    a.update(b, step=1, grad_norms=True)                  # asked between actor updates: pending
    resumed = agent()
    resumed.load_state_dict(a.state_dict())
    assert float(resumed.update(b, step=2).metrics["actor_grad_norm"]) > 0
    old = a.state_dict()
    del old["extra"]["measure_actor"]                      # a checkpoint written before the flag was kept
    older = agent()
    older.load_state_dict(old)
    assert "actor_grad_norm" not in older.update(b, step=2).metrics
