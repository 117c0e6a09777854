"""DrQ-v2: its settings, what each loss trains, the n-step target, the exploration schedule, a run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rlcore import profiles
from rlcore.agents import make_agent
from rlcore.agents.drqv2 import linear_schedule
from rlcore.config import AgentConfig, ConfigError, DrQV2Config, NetConfig, OFENetConfig, RunConfig
from rlcore.envs import ObsSpec
from rlcore.replay import Batch

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SPEC = ObsSpec((9, 32, 32), np.dtype(np.uint8), 3)  # small frames keep these tests fast


def agent(**overrides):
    cfg = AgentConfig.for_algorithm("drqv2", **{"batch_size": 8, **overrides})
    torch.manual_seed(0)
    return make_agent(cfg, SPEC, 2)


def batch(n=8, seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    frames = lambda: torch.randint(0, 256, (n, *SPEC.shape), generator=g, dtype=torch.uint8)
    return Batch(obs=frames(), action=torch.rand(n, 2, generator=g) * 2 - 1, reward=torch.rand(n, 1, generator=g),
                 next_obs=frames(), discount=torch.full((n, 1), 0.99**3))


def test_for_algorithm_gives_drqv2_its_paper_settings():
    cfg = AgentConfig.for_algorithm("drqv2")
    assert (cfg.actor_lr, cfg.critic_lr, cfg.batch_size, cfg.tau, cfg.n_step, cfg.n_step_partial) == \
        (1e-4, 1e-4, 256, 0.01, 3, False)
    assert cfg.actor.width == cfg.critic.width == 1024 and cfg.actor.depth == cfg.critic.depth == 2
    assert (cfg.drqv2.std_start, cfg.drqv2.std_end, cfg.drqv2.std_steps, cfg.drqv2.std_clip) == (1.0, 0.1, 500_000, 0.3)
    b = profiles.budget("paper", "drqv2")
    assert b.update_every == 2 and b.warmup_steps == 2_000  # 4,000 seed frames at action repeat 2
    assert AgentConfig.for_algorithm("sac") == AgentConfig()


def test_drqv2_refuses_flat_observations_and_ofenet():
    with pytest.raises(ConfigError, match="uint8 images"):
        make_agent(AgentConfig.for_algorithm("drqv2"), ObsSpec.flat(5), 1)
    cfg = AgentConfig.for_algorithm("drqv2", ofenet=OFENetConfig(enabled=True))
    with pytest.raises(ConfigError, match="ofenet.enabled"):
        cfg.validate()


@pytest.mark.parametrize("step, std", [(0, 1.0), (250_000, 0.55), (500_000, 0.1), (2_000_000, 0.1)])
def test_exploration_std_follows_the_linear_schedule(step, std):
    assert agent().std(step) == pytest.approx(std)
    assert linear_schedule(1.0, 0.1, 100_000, 50_000) == pytest.approx(0.55)  # easy tasks: 100k steps


def test_the_actor_loss_leaves_the_encoder_alone_and_the_critic_loss_trains_it():
    a = agent()
    b = a.augment(batch())
    h = a.encoder(a.observations(b.obs))
    a.update_actor(b, h.detach(), {}, False)
    assert all(p.grad is None or not p.grad.any() for p in a.encoder.parameters())
    assert all(p.grad is None or not p.grad.any() for p in a.critic.parameters())  # the critic is frozen there
    assert any(p.grad is not None and p.grad.any() for p in a.actor.parameters())
    h = a.encoder(a.observations(b.obs))
    a.update_critic(b, h, {}, False)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in a.encoder.parameters())


def test_target_is_the_n_step_return_plus_the_discounted_clipped_target_q():
    a = agent(drqv2=DrQV2Config(std_start=0.0, std_end=0.0))  # no noise: deterministic
    b = batch()
    with torch.no_grad():
        h_next = a.encoder(b.next_obs)
        next_action = a.actor(h_next).clamp(-1, 1)
        z = torch.cat([a.critic_projection_target(h_next), next_action], dim=-1)
        expected = b.reward + b.discount * a.critic_target(z).min(dim=0).values
        assert torch.allclose(a.td_target(b), expected, atol=1e-6)


def test_target_noise_is_clipped_at_std_clip():
    a = agent()
    mu = torch.zeros(10_000, 2)
    noisy = a._smoothed(mu, std=5.0)
    assert noisy.abs().max() <= a.cfg.drqv2.std_clip + 1e-6


def test_the_clamp_to_the_action_box_passes_the_gradient_straight_through():
    """As DrQ-v2's TruncatedNormal: values inside [-1, 1], and d action / d mu = 1 everywhere, also
    where mu + noise left the box (a plain clamp would give 0 there and freeze a saturated actor)."""
    a = agent()
    mu = torch.tensor([[0.0, 0.95], [-0.99, 2.0]], requires_grad=True)
    action = a._smoothed(mu, std=0.3)
    assert action.abs().max() <= 1.0
    assert action[1, 1].item() == 1.0  # mu + noise >= 1.7 there: clamped in value
    action.sum().backward()
    assert torch.equal(mu.grad, torch.ones_like(mu))


def test_acting_explores_only_when_asked():
    a = agent()
    obs = batch(1).obs.numpy()
    assert np.array_equal(a.act_batch(obs, 0, explore=False), a.act_batch(obs, 0, explore=False))
    assert not np.array_equal(a.act_batch(obs, 0, explore=True), a.act_batch(obs, 0, explore=False))
    assert np.abs(a.act_batch(obs, 0, explore=True)).max() <= 1.0


def test_an_update_moves_the_target_critic_by_tau_and_reports_its_metrics():
    a = agent()
    before = [p.clone() for p in a.critic_target.parameters()]
    result = a.update(batch(), step=10)
    assert {"critic_loss", "q_mean", "actor_loss", "exploration_std"} <= set(result.metrics)
    assert result.td_errors.shape == (8,)
    moved = [not torch.equal(p, q) for p, q in zip(a.critic_target.parameters(), before)]
    assert all(moved)
    assert a.step == 10 and a.updates == 1


def test_a_pixel_run_on_dmc_finishes_and_writes_its_run_directory(tmp_path):
    from rlcore.train import train

    pixel_agent = AgentConfig.for_algorithm("drqv2", batch_size=8, actor=NetConfig(width=32), critic=NetConfig(width=32))
    cfg = dataclasses.replace(RunConfig(), agent=pixel_agent).replace(**{
        "env.id": "dmc:cartpole-balance", "env.kwargs": {"pixels": True, "height": 32, "width": 32},
        "env.frame_stack": 3, "env.action_repeat": 8, "budget.total_steps": 40, "budget.warmup_steps": 20,
        "budget.update_every": 2, "budget.eval_every": 20, "budget.eval_episodes": 1, "budget.log_every": 10,
        "budget.replay_size": 100, "budget.srank_samples": 16, "budget.td_targets_samples": 16,
        "env.max_episode_steps": 160})
    status = train(cfg, tmp_path, progress=False)
    assert status["state"] == "finished" and status["frames"] == 40 * 8
    run = tmp_path / cfg.run_id
    assert (run / "agent.pt").exists() and "train_critic_loss" in (run / "metrics.csv").read_text()


@pytest.mark.parametrize("name, kind, actor_depth, critic_depth, sn", [
    ("mlp2", "mlp", 2, 2, False), ("mlp4", "mlp", 4, 4, False), ("modern2", "modern", 2, 2, False),
    ("modern4", "modern", 2, 4, False), ("modern4_sn", "modern", 2, 4, True), ("mlp4_sn", "mlp", 4, 4, True)])
def test_bjorck_head_presets(name, kind, actor_depth, critic_depth, sn):
    from rlcore.experiments import bjorck_heads, pixel_agent

    actor, critic = bjorck_heads(name)
    assert (actor.kind, critic.kind, actor.depth, critic.depth) == (kind, kind, actor_depth, critic_depth)
    assert actor.width == critic.width == 1024 and actor.spectral_norm == critic.spectral_norm == sn
    cfg = pixel_agent("drqv2", name)
    assert cfg.critic == critic and cfg.actor == actor and cfg.actor_lr == 1e-4
    make_agent(pixel_agent("drqv2", name, width=16), SPEC, 2)  # builds


def test_unknown_head_preset_names_the_valid_ones():
    from rlcore.experiments import bjorck_heads

    with pytest.raises(ConfigError, match="mlp2"):
        bjorck_heads("resnet8")


@pytest.mark.parametrize("env_id, std_steps, n_step, batch_size", [
    ("dmc:cartpole-swingup", 100_000, 3, 256), ("dmc:cheetah-run", 500_000, 3, 256),
    ("dmc:walker-walk", 100_000, 1, 512), ("dmc:walker-run", 500_000, 1, 512), ("dmc:reacher-easy", 500_000, 3, 256)])
def test_drqv2_takes_its_per_task_settings(env_id, std_steps, n_step, batch_size):
    from rlcore.cli import _base_config, build_parser
    from rlcore.experiments import pixel_agent

    cfg = pixel_agent("drqv2", "mlp2", env_id=env_id)
    assert (cfg.drqv2.std_steps, cfg.n_step, cfg.batch_size) == (std_steps, n_step, batch_size)
    run = _base_config(build_parser().parse_args(["train", "--env", env_id, "--algo", "drqv2", "--profile", "paper"]))
    assert (run.agent.drqv2.std_steps, run.agent.n_step, run.agent.batch_size) == (std_steps, n_step, batch_size)
    humanoid = pixel_agent("drqv2", "mlp2", env_id="dmc:humanoid-run")
    assert (humanoid.actor_lr, humanoid.drqv2.feature_dim, humanoid.drqv2.std_steps) == (8e-5, 100, 2_000_000)


def test_actor_saturated_reports_the_share_of_actions_whose_tanh_has_no_gradient_left():
    a = agent()
    assert a.update(batch(), step=10).metrics["actor_saturated"] == 0.0  # a fresh head: |u| well below 9
    with torch.no_grad():  # push the head's output far into tanh's flat tail: tanh(u) rounds to 1 in float32
        a.actor.head.head.bias.fill_(50.0)
    result = a.update(batch(), step=11, grad_norms=True)
    assert result.metrics["actor_saturated"] == 1.0
    assert result.metrics["actor_grad_norm"] == 0.0  # and so no policy gradient reaches the actor at all
