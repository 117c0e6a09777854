"""OFENet (rlcore.nets.ofenet): dimensions and DenseNet layout, predicted dimensions per task, learning a
known linear system, BatchNorm modes, isolation from the agent's losses, its target, a tiny run."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from rlcore.agents import make_agent
from rlcore.config import AgentConfig, ConfigError, NetConfig, OFENetConfig, SACConfig, TD3Config
from rlcore.envs import ObsSpec
from rlcore.hooks import FeatureLearning, hooks_for
from rlcore.nets import (EnsembleBatchNorm, EnsembleLinear, OFENet, RawInputs, make_extractor,
                         target_dims_for)
from rlcore.replay import Batch
from rlcore.results import RunStore
from rlcore.train import train

OBS, ACT = 4, 2
SPEC = ObsSpec.flat(OBS)


def ofenet_cfg(**kw) -> OFENetConfig:
    base = dict(enabled=True, layers=2, total_units=16, lr=1e-3)
    base.update(kw)
    return OFENetConfig(**base)


def make(algo="sac", seed=0, **ofenet_kw):
    torch.manual_seed(seed)
    net = NetConfig(width=16, depth=2)
    cfg = AgentConfig(algo=algo, actor=net, critic=net, batch_size=32, td3=TD3Config(policy_delay=1),
                      ofenet=ofenet_cfg(**ofenet_kw))
    return make_agent(cfg, SPEC, ACT, "cpu")


class LinearSystem:
    """s' = A s + B a with a stable A (spectral radius 0.9) and a fixed seed."""

    def __init__(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        a = torch.randn(OBS, OBS, generator=g)
        self.A = 0.9 * a / torch.linalg.eigvals(a).abs().max()
        self.B = 0.5 * torch.randn(OBS, ACT, generator=g)
        self.g = g

    def batch(self, n=64) -> Batch:
        s = torch.randn(n, OBS, generator=self.g)
        a = torch.rand(n, ACT, generator=self.g) * 2 - 1
        s_next = s @ self.A.T + a @ self.B.T
        return Batch(s, a, torch.randn(n, 1, generator=self.g), s_next, 0.99 * torch.ones(n, 1))


def bn_stats(module: nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in module.modules() if isinstance(m, EnsembleBatchNorm)
            for t in (m.bn.running_mean, m.bn.running_var)]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


# ---- dimensions and layout ------------------------------------------------------------------------
@pytest.mark.parametrize("layers,total_units", [(2, 16), (4, 24), (8, 2048)])
def test_dimensions_and_dense_layout(layers, total_units):
    obs, act, k = 11, 3, 7
    net = OFENet(OFENetConfig(enabled=True, layers=layers, total_units=total_units), obs, act, k)
    units = total_units // layers
    assert net.state_dim == obs + total_units
    assert net.state_action_dim == obs + total_units + act + total_units
    state_linears = [m for m in net.state_stack.modules() if isinstance(m, EnsembleLinear)]
    sa_linears = [m for m in net.state_action_stack.modules() if isinstance(m, EnsembleLinear)]
    assert [(m.in_features, m.out_features) for m in state_linears] == [(obs + i * units, units) for i in range(layers)]
    assert [(m.in_features, m.out_features) for m in sa_linears] == [
        (net.state_dim + act + i * units, units) for i in range(layers)]
    assert (net.predictor.in_features, net.predictor.out_features) == (net.state_action_dim, k)
    # each block is linear -> BatchNorm -> Swish
    block = net.state_stack[0]
    assert isinstance(block.norm, EnsembleBatchNorm) and isinstance(block.act, nn.SiLU)
    if total_units > 100:
        return  # the big setting checks the layout only
    s, a = torch.randn(5, obs), torch.rand(5, act)
    z_s = net.state_features(s)
    z_sa = net.state_action_features(z_s, a)
    assert z_s.shape == (5, net.state_dim) and z_sa.shape == (5, net.state_action_dim)
    # new units first, the block's input after: the raw observation closes z_s, [z_s, a] closes z_sa
    torch.testing.assert_close(z_s[:, -obs:], s)
    torch.testing.assert_close(z_sa[:, -(net.state_dim + act):], torch.cat([z_s, a], dim=-1))
    assert net.predict_next_state(s, a).shape == (5, k)


def test_no_batchnorm_option_and_relu():
    net = OFENet(OFENetConfig(enabled=True, layers=2, total_units=8, batchnorm=False, activation="relu"), 3, 1, 3)
    assert not any(isinstance(m, EnsembleBatchNorm) for m in net.modules())
    assert isinstance(net.state_stack[0].act, nn.ReLU)


def test_raw_inputs_when_disabled():
    ex = make_extractor(OFENetConfig(enabled=False), 5, 2)
    assert isinstance(ex, RawInputs) and not ex.learns
    assert (ex.state_dim, ex.state_action_dim) == (5, 7)
    s, a = torch.randn(3, 5), torch.randn(3, 2)
    assert torch.equal(ex.state_features(s), s)
    assert torch.equal(ex.state_action_features(s, a), torch.cat([s, a], dim=-1))


# ---- predicted dimensions -------------------------------------------------------------------------
@pytest.mark.parametrize("env_id,obs_dim,expected", [
    ("Ant-v4", 111, 27), ("Ant-v2", 111, 27), ("Humanoid-v4", 376, 292), ("Humanoid-v5", 348, 270),
    ("HalfCheetah-v4", 17, 17), ("HalfCheetah-v5", 17, 17), ("Walker2d-v4", 17, 17), ("Hopper-v4", 11, 11),
    ("Pendulum-v1", 3, 3), ("Ant-v4", 27, 27),  # never more than the observation holds
    (None, 9, 9), ("dmc:cheetah-run", 17, 17),
])
def test_target_dims_for(env_id, obs_dim, expected):
    assert target_dims_for(env_id, obs_dim) == expected


def test_make_extractor_target_dims():
    assert make_extractor(ofenet_cfg(), 111, 8, env_id="Ant-v4").target_dims == 27
    assert make_extractor(ofenet_cfg(target_dims=5), 111, 8, env_id="Ant-v4").target_dims == 5
    assert make_extractor(ofenet_cfg(), 3, 1, env_id="Pendulum-v1").predictor.out_features == 3
    with pytest.raises(ConfigError, match="target_dims"):
        make_extractor(ofenet_cfg(target_dims=12), 11, 3)


def test_auxiliary_loss_predicts_only_the_leading_dimensions():
    torch.manual_seed(0)
    net = OFENet(ofenet_cfg(), OBS, ACT, target_dims=2)
    s, a, s2 = torch.randn(8, OBS), torch.randn(8, ACT), torch.randn(8, OBS)
    loss = net.auxiliary_loss(s, a, s2)
    s2_changed = s2.clone()
    s2_changed[:, 2:] += 100.0  # dimensions the task does not predict
    torch.testing.assert_close(net.auxiliary_loss(s, a, s2_changed), loss)
    # eq. (1): mean squared error against s'[:, :k], computed with batch statistics
    nn.Module.train(net, True)
    pred = net.predict_next_state(s, a)
    nn.Module.train(net, False)
    torch.testing.assert_close(loss, ((pred - s2[:, :2]) ** 2).mean())


# ---- learning --------------------------------------------------------------------------------------
def test_auxiliary_loss_learns_a_linear_system():
    agent = make("sac", seed=0)
    system = LinearSystem(seed=0)
    eval_batch = system.batch(256)

    def held_out_loss():
        with torch.no_grad():
            return agent.extractor.auxiliary_loss(eval_batch.obs, eval_batch.action, eval_batch.next_obs).item()

    initial = held_out_loss()
    losses = [agent.update_features(system.batch())["ofenet_loss"].item() for _ in range(300)]
    assert np.isfinite(losses).all()
    assert initial > 0.1
    assert np.mean(losses[-20:]) < 0.1 * losses[0]
    assert held_out_loss() < 0.1 * initial
    # With running statistics too (how the agent reads the features): predictions are close.
    with torch.no_grad():
        pred = agent.extractor.predict_next_state(eval_batch.obs, eval_batch.action)
    assert ((pred - eval_batch.next_obs) ** 2).mean().item() < 0.2 * initial


# ---- BatchNorm modes -----------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_batchnorm_trains_only_inside_auxiliary_loss(algo):
    agent = make(algo)
    ofenet, system = agent.extractor, LinearSystem()
    assert not ofenet.training
    stats0 = bn_stats(ofenet)
    assert stats0
    seen: list[bool] = []  # the mode of every BatchNorm call
    for m in ofenet.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.register_forward_pre_hook(lambda module, args: seen.append(module.training))

    agent.act(np.zeros(OBS, np.float32), 0, explore=True)
    agent.update(system.batch(), 0)
    assert same(stats0, bn_stats(ofenet)), "acting or the agent's update must not move OFENet's statistics"
    assert not ofenet.training and not any(m.training for m in ofenet.modules())
    assert agent.critic.training  # the agent's own networks are in training mode for updates
    assert seen and not any(seen)
    seen.clear()

    agent.update_features(system.batch())
    assert len(seen) == 4 and all(seen)  # 2 + 2 layers, each once, all with batch statistics
    seen.clear()
    stats1 = bn_stats(ofenet)
    assert not same(stats0, stats1)
    assert all(not torch.equal(a, b) for a, b in zip(stats0, stats1))  # every BatchNorm layer moved
    assert not any(m.training for m in ofenet.modules())  # back in eval mode after the loss
    ofenet.train(True)  # the agent's mode switches do not reach OFENet
    assert not ofenet.training
    agent.act(np.zeros(OBS, np.float32), 1, explore=False)
    agent.update(system.batch(), 1)
    assert same(stats1, bn_stats(ofenet))
    assert seen and not any(seen)


def test_auxiliary_loss_restores_eval_mode_on_error():
    net = OFENet(ofenet_cfg(), OBS, ACT, OBS)
    with pytest.raises(RuntimeError):
        net.auxiliary_loss(torch.randn(4, OBS + 1), torch.randn(4, ACT), torch.randn(4, OBS))
    assert not any(m.training for m in net.modules())


# ---- isolation from the agent's losses -----------------------------------------------------------
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_agent_update_never_trains_ofenet(algo):
    agent = make(algo)
    system = LinearSystem()
    ofenet = agent.extractor
    before = [p.detach().clone() for p in ofenet.parameters()]
    actor_before = [p.detach().clone() for p in agent.actor.parameters()]
    for i in range(3):
        agent.update(system.batch(), i)
    assert all(torch.equal(b, p) for b, p in zip(before, ofenet.parameters()))
    assert all(p.grad is None and not p.requires_grad for p in ofenet.parameters())
    assert all(id(p) not in {id(q) for g in agent.optimizers["actor"].param_groups for q in g["params"]}
               for p in ofenet.parameters())
    assert any(not torch.equal(b, p) for b, p in zip(actor_before, agent.actor.parameters()))
    # After an auxiliary step, the agent's update leaves OFENet's gradients as they were.
    agent.update_features(system.batch())
    grads = [p.grad.clone() for p in ofenet.parameters()]
    weights = [p.detach().clone() for p in ofenet.parameters()]
    agent.update(system.batch(), 3)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, ofenet.parameters()))
    assert all(torch.equal(w, p) for w, p in zip(weights, ofenet.parameters()))


def test_td3_actor_gradient_flows_through_the_state_action_stack():
    """TD3's actor loss is -Q(z_sa(z_s, pi(z_s))): its only path to the actor runs through OFENet's
    state-action stack, so non-zero actor gradients mean that path is open."""
    agent = make("td3")
    agent.update(LinearSystem().batch(), 0)  # policy_delay=1: the actor steps at every update
    grads = [p.grad for p in agent.actor.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0


def test_sac_actor_gradient_flows_through_the_state_action_stack():
    """With a negligible temperature SAC's actor gradient is all from Q(z_sa(z_s, a)), a ~ pi."""
    torch.manual_seed(0)
    net = NetConfig(width=16, depth=2)
    cfg = AgentConfig(actor=net, critic=net, sac=SACConfig(init_alpha=1e-9), ofenet=ofenet_cfg())
    agent = make_agent(cfg, SPEC, ACT)
    agent.update(LinearSystem().batch(), 0)
    norm = torch.sqrt(sum(p.grad.square().sum() for p in agent.actor.parameters())).item()
    assert norm > 1e-4

    # The same actor gradient, recomputed by hand through the state-action stack, agrees: it
    # depends on d z_sa / d a (the gradient of Q w.r.t. the action through OFENet is not zero).
    batch = LinearSystem(seed=1).batch(8)
    ofenet = agent.extractor
    with torch.no_grad():
        z_s = ofenet.state_features(batch.obs)
    action = torch.zeros(8, ACT, requires_grad=True)
    q = agent.critic(ofenet.state_action_features(z_s, action)).min(dim=0).values.sum()
    (grad_a,) = torch.autograd.grad(q, action)
    assert grad_a.abs().sum() > 0


# ---- the target extractor -----------------------------------------------------------------------
def test_ofenet_target_tracks_with_tau():
    tau = 0.1
    agent = make(target_network=True, target_tau=tau)
    online, target = agent.extractor, agent.extractor_target
    assert target is not online and agent.modules["ofenet_target"] is target
    assert all(not p.requires_grad for p in target.parameters())
    system = LinearSystem()
    for _ in range(3):
        before = [p.detach().clone() for p in target.parameters()]
        agent.update_features(system.batch())
        for b, o, t in zip(before, online.parameters(), target.parameters()):
            torch.testing.assert_close(t, b + tau * (o.detach() - b), rtol=1e-6, atol=1e-7)
        assert any(not torch.equal(b, t) for b, t in zip(before, target.parameters()))
        assert same(bn_stats(online), bn_stats(target))  # statistics are copied
    assert not any(torch.equal(o, t) for o, t in zip(online.parameters(), target.parameters()))


def sac_target_through(agent, extractor, b, seed=4):
    """The SAC Bellman target computed by hand, reading s' through `extractor`, and agent.td_target,
    both under the same seed."""
    agent.eval_mode()
    torch.manual_seed(seed)
    target = agent.td_target(b)
    torch.manual_seed(seed)
    with torch.no_grad():
        z_next = extractor.state_features(b.next_obs)
        a, log_prob = agent.actor(z_next)
        q = agent.critic_target(extractor.state_action_features(z_next, a)).min(0).values
    return target, b.reward + b.discount * (q - agent.alpha * log_prob), z_next


def test_ofenet_without_target_network_reads_the_online_one():
    agent = make(target_network=False)
    assert agent.extractor_target is agent.extractor
    assert "ofenet_target" not in agent.modules
    system = LinearSystem()
    agent.update_features(system.batch())
    agent.update(system.batch(), 0)
    # the Bellman target reads the online OFENet's features of s'
    b = system.batch(16)
    target, expected, _ = sac_target_through(agent, agent.extractor, b)
    torch.testing.assert_close(target, expected, rtol=1e-6, atol=1e-6)
    # so an auxiliary step (which moves the online OFENet) moves the target too
    agent.update_features(system.batch())
    agent.eval_mode()
    torch.manual_seed(4)
    assert not torch.allclose(agent.td_target(b), target)


def test_ofenet_target_network_feeds_the_bellman_target():
    agent = make(target_network=True, target_tau=0.5)
    system = LinearSystem()
    for _ in range(3):
        agent.update_features(system.batch())
    b = system.batch(16)
    target, expected, z_next = sac_target_through(agent, agent.extractor_target, b)
    with torch.no_grad():
        z_online = agent.extractor.state_features(b.next_obs)
    torch.testing.assert_close(target, expected, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(z_next, z_online)  # the two extractors differ, so the check has teeth


# ---- state and a tiny run ------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_state_dict_round_trip_keeps_ofenet_weights_and_statistics(algo):
    a = make(algo, seed=0)
    assert a.learns_features and {"ofenet", "ofenet_target"} <= set(a.modules) and "ofenet" in a.optimizers
    system = LinearSystem()
    for i in range(3):
        a.update_features(system.batch())
        a.update(system.batch(), i)
    assert not same(bn_stats(a.extractor), bn_stats(make(algo, seed=0).extractor))  # statistics have moved
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = make(algo, seed=1)
    assert any(not torch.equal(pa, pb) for pa, pb in zip(a.extractor.parameters(), b.extractor.parameters()))
    b.load_state_dict(torch.load(buf, weights_only=False))
    for pa, pb in zip(a.extractor.parameters(), b.extractor.parameters()):
        assert torch.equal(pa, pb)
    for pa, pb in zip(a.extractor_target.parameters(), b.extractor_target.parameters()):
        assert torch.equal(pa, pb)
    assert same(bn_stats(a.extractor), bn_stats(b.extractor))
    assert same(bn_stats(a.extractor_target), bn_stats(b.extractor_target))
    # OFENet's own Adam state travels too: the next auxiliary step is the same
    batch = system.batch()
    la, lb = a.update_features(batch)["ofenet_loss"], b.update_features(batch)["ofenet_loss"]
    assert torch.equal(la, lb)
    for pa, pb in zip(a.extractor.parameters(), b.extractor.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("pretrained", [True, False])
def test_feature_learning_hook_state_round_trip(pretrained):
    hook = FeatureLearning(pretrain_steps=7)
    assert hook.name == "feature_learning" and hook.state_dict() == {"pretrained": False}
    hook.pretrained = pretrained
    buf = io.BytesIO()
    torch.save(hook.state_dict(), buf)  # a checkpoint holds it under "hooks"
    buf.seek(0)
    other = FeatureLearning(pretrain_steps=7)
    other.pretrained = not pretrained
    other.load_state_dict(torch.load(buf, weights_only=False))
    assert other.pretrained is pretrained and other.state_dict() == {"pretrained": pretrained}


def test_feature_learning_hook_pretrains_once_then_one_step_per_update():
    agent = make(seed=0)
    system = LinearSystem()
    logged, sampled = [], []

    class FakeTrainer:  # what the hook reads of a Trainer
        def __init__(self):
            self.agent = agent

        def sample(self):
            sampled.append(1)
            return system.batch(32)

        def log(self, step, metric, value):
            logged.append((step, metric, value))

    trainer, hook = FakeTrainer(), FeatureLearning(pretrain_steps=3)
    first = [p.detach().clone() for p in agent.extractor.parameters()]
    metrics = hook.before_update(trainer, 100, None)
    assert len(sampled) == 4 and hook.pretrained  # 3 pretraining steps, then the update's own step
    assert set(metrics) == {"ofenet_loss"}
    assert [(s, m) for s, m, _ in logged] == [(100, "pretrain_ofenet_loss_first"), (100, "pretrain_ofenet_loss_last")]
    assert any(not torch.equal(a, b) for a, b in zip(first, agent.extractor.parameters()))
    hook.before_update(trainer, 101, None)
    assert len(sampled) == 5 and len(logged) == 2
    # a resumed run (state loaded) does not pretrain again
    resumed = FeatureLearning(pretrain_steps=3)
    resumed.load_state_dict(hook.state_dict())
    resumed.before_update(trainer, 102, None)
    assert len(sampled) == 6 and len(logged) == 2


def test_feature_learning_hook_only_for_agents_that_learn_features(tiny_config):
    # an agent without OFENet has nothing to pretrain: no FeatureLearning hook for it
    plain = make_agent(AgentConfig(actor=NetConfig(width=8), critic=NetConfig(width=8)), SPEC, ACT)
    assert plain.learns_features is False
    assert "ofenet" not in plain.modules and "ofenet" not in plain.optimizers
    cfg = tiny_config("sac", agent=dict(ofenet=ofenet_cfg(pretrain_steps=5)))
    assert not any(isinstance(h, FeatureLearning) for h in hooks_for(cfg, plain.learns_features))
    agent = make(seed=0)
    (hook,) = [h for h in hooks_for(cfg, agent.learns_features) if isinstance(h, FeatureLearning)]
    assert hook.pretrain_steps == 5 and hook.pretrained is False


def test_tiny_trainer_run_with_ofenet(tmp_path, tiny_config):
    ofenet = dict(enabled=True, layers=2, total_units=8, pretrain_steps=15, lr=1e-3)
    cfg = tiny_config("sac", width=16, total_steps=250, warmup_steps=100, eval_every=250, log_every=50,
                      td_targets_samples=32, agent=dict(ofenet=OFENetConfig(**ofenet)))
    status = train(cfg, tmp_path, progress=False)
    assert status["state"] == "finished" and status["step"] == 250
    metrics = pd.read_csv(RunStore(tmp_path, cfg).path("metrics.csv"))
    by_name = {name: frame for name, frame in metrics.groupby("metric")}
    for name in ("pretrain_ofenet_loss_first", "pretrain_ofenet_loss_last"):
        assert list(by_name[name]["step"]) == [100], name  # once, right after the warm-up
    first = by_name["pretrain_ofenet_loss_first"]["value"].item()
    last = by_name["pretrain_ofenet_loss_last"]["value"].item()
    assert 0 < last < first  # pretraining reduced the auxiliary loss
    train_loss = by_name["train_ofenet_loss"].sort_values("step")
    assert train_loss["step"].tolist() == [100, 150, 200, 250]
    assert 0 < train_loss["value"].iloc[-1] < first  # and the online auxiliary steps keep it lower
    assert "train_critic_loss" in by_name


@pytest.mark.parametrize("env_id, layers", [("Hopper-v4", 6), ("Walker2d-v4", 6), ("HalfCheetah-v4", 8),
                                            ("Humanoid-v4", 8), ("Ant-v4", 6)])
def test_ofenet_2020_preset_is_240_units_in_the_tasks_layers(env_id, layers):
    from rlcore.experiments import ofenet_2020

    cfg = ofenet_2020(env_id)
    assert (cfg.enabled, cfg.total_units, cfg.layers, cfg.target_network) == (True, 240, layers, False)
    net = OFENet(cfg, 11, 3, target_dims=11)
    blocks = [m for m in net.state_stack if type(m).__name__ == "DenseBlock"]
    assert [b.linear.out_features for b in blocks] == [240 // layers] * layers
