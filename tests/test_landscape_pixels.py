"""Loss landscapes and srank of pixel agents: filter-normalized directions for convolutions (one
output channel's kernel per filter, Li et al. 2018), the landscape over a DrQ-v2 critic's encoder,
projection and head together on raw uint8 frames (DrQ's too), srank of its critic features, and
the training hooks (srank, frozen TD targets) on a pixel run.

Agents are DrQ-v2 with 32-wide heads on 9 x 84 x 84 frames (the run at the end: 32 x 32), datasets a
few frames, grids 3 x 3: each test takes seconds on one CPU thread."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import rlcore.analysis.landscape as landscape_module
from rlcore.agents import make_agent
from rlcore.analysis import (Landscape, PixelCritic, TDData, TDTargets, critic_feature_rank,
                             critic_penultimate_features, directions, evaluate_pointwise, evaluate_points,
                             frozen_td_targets, grid_coords, is_pixel_agent, loss_landscape, q_network_data,
                             random_direction, run_landscape, srank)
from rlcore.config import NetConfig, RunConfig
from rlcore.envs import ObsSpec
from rlcore.experiments import pixel_agent
from rlcore.hooks import EffectiveRank
from rlcore.nets import EnsembleLinear, build_trunk
from rlcore.replay import ReplayBuffer
from rlcore.results import load_agent
from rlcore.train import Trainer

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SPEC = ObsSpec((9, 84, 84), np.dtype(np.uint8), 3)
ACT, WIDTH = 2, 32


# ---- helpers ------------------------------------------------------------------------------------------
def drqv2(seed: int = 0, algo: str = "drqv2", **overrides):
    torch.manual_seed(seed)
    return make_agent(pixel_agent(algo, "mlp2", width=WIDTH, batch_size=8, **overrides), SPEC, ACT, "cpu")


def frames(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 256, (n, *SPEC.shape), generator=generator, dtype=torch.uint8)


def pixel_replay(n: int = 10, seed: int = 0) -> ReplayBuffer:
    """n random pixel transitions, a few of them terminal."""
    g = torch.Generator().manual_seed(seed)
    replay = ReplayBuffer(SPEC._replace(frame_stack=1), ACT, 2 * n)
    terminated = np.zeros(n, dtype=bool)
    terminated[::4] = True
    replay.add(frames(n, g).numpy(), (torch.rand(n, ACT, generator=g) * 2 - 1).numpy(),
               torch.randn(n, generator=g).numpy(), frames(n, g).numpy(), terminated)
    return replay


def filter_norms(w: torch.Tensor) -> torch.Tensor:
    """Norm of each output channel's kernel w[i] of a (out, in, *kernel) convolution weight."""
    return w.detach().double().flatten(1).norm(dim=1)


def hand_td_loss(agent, targets: TDTargets, member: int) -> float:
    """J_Q of critic `member`: the agent's own critic loss of Q(s, a) against the frozen Q_hat."""
    with torch.no_grad():
        q = agent.critic(agent.critic_features(targets.obs, targets.action))[member:member + 1]
        return float(agent.critic_loss(q, targets.q_hat.view(-1, 1)))


# ---- directions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("conv", [nn.Conv1d(3, 6, 3), nn.Conv2d(3, 6, 3, stride=2), nn.Conv3d(2, 4, 2),
                                  nn.Conv2d(4, 6, 3, groups=2)])
def test_each_convolution_filter_gets_a_direction_of_its_own_norm(conv):
    torch.manual_seed(0)
    with torch.no_grad():  # filters of very different norms: a per-filter rescaling, not a global one
        conv.weight.mul_(torch.arange(1, conv.out_channels + 1).view(-1, *[1] * (conv.weight.dim() - 1)))
    module = nn.Sequential(conv, nn.ReLU())
    d = random_direction(module, torch.Generator().manual_seed(0))
    assert set(d) == {"0.weight", "0.bias"}
    torch.testing.assert_close(filter_norms(d["0.weight"]), filter_norms(conv.weight), rtol=1e-5, atol=0)
    assert (d["0.weight"] != 0).double().mean() > 0.99
    assert not torch.allclose(d["0.weight"].abs(), conv.weight.detach().abs())  # random, not a copy
    assert d["0.weight"].shape == conv.weight.shape and d["0.weight"].dtype == conv.weight.dtype
    assert torch.count_nonzero(d["0.bias"]) == 0  # biases: zero, as for linear layers (ignore_biasbn)


def test_pixel_critic_directions_cover_conv_projection_and_head():
    """In a DrQ-v2 critic every conv weight and the projection's Linear are filter-normalized, the
    head's EnsembleLinear as before; biases and the projection's LayerNorm get zero directions."""
    agent = drqv2()
    with torch.no_grad():  # orthogonal init gives every filter the same norm: make them differ
        for m in agent.encoder.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(torch.linspace(0.5, 2.0, m.out_channels).view(-1, 1, 1, 1))
    g = torch.Generator().manual_seed(0)
    targets = TDTargets(frames(2, g), torch.zeros(2, ACT), torch.zeros(2))
    module, _ = q_network_data(agent, targets)
    convs = [f"{name}.weight" for name, m in module.named_modules() if isinstance(m, nn.Conv2d)]
    heads = [f"{name}.weight" for name, m in module.named_modules() if isinstance(m, EnsembleLinear)]
    assert len(convs) == 4 and len(heads) == 3
    params = dict(module.named_parameters())
    for d in directions(module, seed=1):
        assert set(d) == set(params)
        for name in convs:
            torch.testing.assert_close(filter_norms(d[name]), filter_norms(params[name]), rtol=1e-5, atol=0)
            assert (d[name] != 0).double().mean() > 0.999  # torch.randn itself returns an exact 0 now and then
        linear = d["projection.linear.weight"]  # (out, in): one row per output unit
        torch.testing.assert_close(linear.norm(dim=-1), params["projection.linear.weight"].detach().norm(dim=-1),
                                   rtol=1e-5, atol=1e-7)
        assert (linear != 0).double().mean() > 0.999
        for name in heads:  # (n, in, out): each unit's incoming weights along dim -2
            torch.testing.assert_close(d[name].norm(dim=-2), params[name].detach().norm(dim=-2), rtol=1e-5, atol=1e-7)
        zeros = {name for name in params if name not in set(convs) | set(heads) | {"projection.linear.weight"}}
        assert {"projection.norm.weight", "projection.norm.bias", "projection.linear.bias",
                "encoder.convs.0.bias"} <= zeros
        assert all(torch.count_nonzero(d[name]) == 0 for name in zeros)


def test_directions_of_modules_without_convolutions_draw_as_before():
    """A state critic's directions are the ones drawn before convolutions were filter-normalized:
    one Gaussian draw per linear weight in parameter order, (n, in, out) normalized along dim -2,
    (out, in) along dim -1."""
    torch.manual_seed(0)
    trunk = build_trunk(NetConfig(kind="mlp", width=8, depth=2, norm="layernorm", spectral_norm=True), 5, 1, n=2)
    for module in (trunk.member(1), nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7), nn.Linear(7, 1))):
        linear = {f"{name}.weight" for name, m in module.named_modules() if isinstance(m, (EnsembleLinear, nn.Linear))}
        g = torch.Generator().manual_seed(4)
        expected = {}
        for _ in range(2):
            for name, p in module.named_parameters():
                if name in linear:
                    d = torch.randn(p.shape, generator=g, dtype=p.dtype)
                    dim = -2 if p.dim() == 3 else -1
                    expected.setdefault(name, []).append(
                        d * (p.detach().norm(dim=dim, keepdim=True) / d.norm(dim=dim, keepdim=True).clamp_min(1e-12)))
        d1, d2 = directions(module, seed=4)
        for name in expected:
            assert torch.equal(d1[name], expected[name][0]) and torch.equal(d2[name], expected[name][1]), name
        assert all(torch.count_nonzero(d1[name]) == 0 for name in d1 if name not in expected)


# ---- the landscape over the whole critic --------------------------------------------------------------
@pytest.mark.parametrize("algo,loss", [("drqv2", "mse"), ("drqv2", "huber"), ("drq", "mse")])
def test_pixel_landscape_center_is_the_critics_td_loss(algo, loss):
    agent = drqv2(algo=algo, critic_loss=loss)
    replay = pixel_replay(10)
    targets = frozen_td_targets(agent, replay, max_transitions=None, seed=0)
    if loss == "huber":  # targets far enough for |error| > 1 somewhere
        targets = TDTargets(targets.obs, targets.action, 3.0 * targets.q_hat, targets.loss)
    assert targets.obs.dtype == torch.uint8 and targets.obs.shape == (10, *SPEC.shape)
    assert targets.loss == loss
    state = {k: v.clone() for k, v in agent.encoder.state_dict().items()}
    assert is_pixel_agent(agent)
    for member in (0, 1):
        module, data = q_network_data(agent, targets, member=member)
        assert isinstance(module, PixelCritic) and not module.training and data.loss == loss
        obs, action = data.inputs  # the raw frames and actions: no precomputed features
        assert obs is targets.obs and torch.equal(action, targets.action) and obs.dtype == torch.uint8
        expected = hand_td_loss(agent, targets, member)
        center = evaluate_points(module, data, *directions(module), torch.zeros(1, 2), batch_size=4)
        assert float(center[0]) == pytest.approx(expected, rel=1e-5)
        surface = loss_landscape(module, data, dims=1, span=0.5, points=3, radii=(), hessian_iterations=0,
                                 batch_size=4)
        assert surface.center_loss == pytest.approx(expected, rel=1e-5)
        assert surface.losses[1] == pytest.approx(expected, rel=1e-5)
    # the agent's own networks are left as they were
    assert all(torch.equal(v, agent.encoder.state_dict()[k]) for k, v in state.items())
    if loss == "huber":
        error = agent.critic(agent.critic_features(targets.obs, targets.action))[0, :, 0] - targets.q_hat
        assert (error.abs() > 1).any()


def test_pixel_grid_changes_with_the_direction_and_perturbs_every_part():
    agent = drqv2()
    targets = frozen_td_targets(agent, pixel_replay(6), max_transitions=None, seed=1)
    module, data = q_network_data(agent, targets, member=1)
    surface = loss_landscape(module, data, dims=2, span=1.0, points=3, seed=2, radii=(0.5,), hessian_iterations=0,
                             batch_size=4)
    grid = np.array(surface.losses)
    assert grid.shape == (3, 3) and np.isfinite(grid).all()
    assert len(np.unique(grid.round(9))) == 9  # non-constant: every point a different network
    assert grid[1, 1] == pytest.approx(hand_td_loss(agent, targets, 1), rel=1e-5)
    assert surface.loss_rise[0.5] != 0.0
    # the grid is J_Q at theta* + a d1 + b d2, as copying the weights in computes it
    d1, d2 = directions(module, seed=2)
    _, coords = grid_coords(1.0, 3, 2)
    reference = evaluate_pointwise(module, data, d1, d2, coords, batch_size=4)
    torch.testing.assert_close(torch.tensor(grid).reshape(-1), reference, rtol=2e-5, atol=1e-6)
    # conv, projection and head weights each move the loss
    for part in ("encoder.", "projection.", "critic."):
        only = {k: v if k.startswith(part) else torch.zeros_like(v) for k, v in d1.items()}
        assert any(torch.count_nonzero(v) for k, v in only.items() if k.startswith(part))
        line = evaluate_points(module, data, only, None, torch.tensor([[0.0, 0.0], [0.5, 0.0]]))
        assert abs(float(line[1] - line[0])) > 1e-6, part


def test_pixel_critic_methods_agree_and_ensemble_is_refused():
    """"auto" picks the serial path for convolutions; vmap over points gives the same numbers."""
    agent = drqv2()
    targets = frozen_td_targets(agent, pixel_replay(5), max_transitions=None, seed=0)
    module, data = q_network_data(agent, targets)
    d1, d2 = directions(module, seed=0)
    coords = torch.tensor([[0.0, 0.0], [0.4, -0.3], [-0.8, 0.6]])
    serial = evaluate_points(module, data, d1, d2, coords, batch_size=2, method="serial")
    torch.testing.assert_close(evaluate_points(module, data, d1, d2, coords, batch_size=2), serial, rtol=0, atol=0)
    torch.testing.assert_close(evaluate_points(module, data, d1, d2, coords, chunk=2, batch_size=3, method="vmap"),
                               serial, rtol=2e-5, atol=1e-6)
    torch.testing.assert_close(evaluate_pointwise(module, data, d1, None, coords, batch_size=5),
                               evaluate_points(module, data, d1, None, coords, batch_size=5), rtol=2e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ensemble"):
        evaluate_points(module, data, d1, d2, coords, method="ensemble")
    # a trunk on plain inputs still takes the serial path when asked
    trunk = build_trunk(NetConfig(width=6, depth=2), 4, 1, n=1)
    plain = TDData(torch.randn(9, 4), torch.randn(9))
    t1, t2 = directions(trunk)
    torch.testing.assert_close(evaluate_points(trunk, plain, t1, t2, coords, method="serial"),
                               evaluate_points(trunk, plain, t1, t2, coords), rtol=2e-5, atol=1e-6)


def test_pixel_critic_must_reproduce_the_agents_critic():
    agent = drqv2()
    targets = frozen_td_targets(agent, pixel_replay(4), max_transitions=None, seed=0)
    agent.critic_features = lambda obs, action, z_s=None: torch.zeros(obs.shape[0], agent.critic.in_dim)
    with pytest.raises(ValueError, match="critic_features"):
        q_network_data(agent, targets)


# ---- srank ------------------------------------------------------------------------------------------
def test_srank_of_a_pixel_agents_critic_features():
    agent = drqv2()
    g = torch.Generator().manual_seed(3)
    obs, action = frames(40, g), torch.rand(40, ACT, generator=g) * 2 - 1
    features = critic_penultimate_features(agent, obs, action, batch_size=16)  # 3 batches, the last short
    assert features.shape == (2, 40, WIDTH)
    with torch.no_grad():
        whole = agent.critic.features(agent.critic_features(obs, action))
    torch.testing.assert_close(features, whole, rtol=1e-5, atol=1e-6)
    ranks = critic_feature_rank(agent, obs, action)
    assert ranks == srank(whole).tolist() == critic_feature_rank(agent, obs, action, batch_size=7)
    assert len(ranks) == 2 and all(type(r) is int and 1 <= r <= WIDTH for r in ranks)
    # what the trainer's hook logs at an evaluation: the srank of its fixed set of stored frames
    replay = pixel_replay(12)
    hook = EffectiveRank(samples=8)
    logged = hook.on_evaluate(types.SimpleNamespace(replay=replay, agent=agent), step=0)
    fixed_obs, fixed_action = hook.fixed_set
    assert fixed_obs.dtype == torch.uint8 and fixed_obs.shape == (8, *SPEC.shape)
    assert logged == {f"srank_critic{i}": float(r)
                      for i, r in enumerate(critic_feature_rank(agent, fixed_obs, fixed_action), 1)}
    assert all(1 <= v <= 8 for v in logged.values())


# ---- a pixel run --------------------------------------------------------------------------------------
def test_a_pixel_run_logs_srank_and_its_landscape_covers_the_whole_critic(tmp_path, monkeypatch):
    agent_cfg = pixel_agent("drqv2", "mlp2", width=WIDTH, batch_size=8)
    cfg = dataclasses.replace(RunConfig(), agent=agent_cfg).replace(**{
        "env.id": "dmc:cartpole-balance", "env.kwargs": {"pixels": True, "height": 32, "width": 32},
        "env.frame_stack": 3, "env.action_repeat": 8, "env.max_episode_steps": 160, "budget.total_steps": 40,
        "budget.warmup_steps": 20, "budget.update_every": 2, "budget.eval_every": 20, "budget.eval_episodes": 1,
        "budget.log_every": 10, "budget.replay_size": 100, "budget.srank_samples": 16,
        "budget.td_targets_samples": 12, "device": "cpu"})
    trainer = Trainer(cfg, tmp_path, progress=False)
    assert trainer.run()["state"] == "finished"
    run_dir = tmp_path / cfg.run_id
    agent = load_agent(run_dir)

    evals = pd.read_csv(run_dir / "evaluations.csv")
    final = evals[(evals["step"] == 40) & evals["metric"].str.startswith("srank")].sort_values("metric")
    assert final["metric"].tolist() == ["srank_critic1", "srank_critic2"]
    (rank_hook,) = [h for h in trainer.hooks if isinstance(h, EffectiveRank)]
    assert final["value"].astype(int).tolist() == critic_feature_rank(agent, *rank_hook.fixed_set)
    assert final["value"].between(1, WIDTH).all()

    saved = TDTargets.load(run_dir / "td_targets.pt")
    assert saved.obs.dtype == torch.uint8 and saved.obs.shape == (12, 9, 32, 32) and saved.q_hat.shape == (12,)

    settings = dict(dims=2, points=3, hessian_iterations=2, device="cpu")
    surface = run_landscape(run_dir, **settings)
    assert surface.meta["network"] == "pixel_critic" and surface.meta["transitions"] == 12
    assert surface.center_loss == pytest.approx(hand_td_loss(agent, saved, 0), rel=1e-5)
    assert len(np.unique(np.round(surface.losses, 9))) > 1
    assert np.isfinite(surface.hessian_top_eigenvalue)
    # a cached landscape of the trunk alone (from before pixel landscapes covered the encoder) is redone
    cached = run_dir / "landscape_2d_p3_r1_s0_m0_nall_h2.json"
    assert Landscape.load(cached) == surface
    dataclasses.replace(surface, meta={k: v for k, v in surface.meta.items() if k != "network"}).save(cached)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(landscape_module, "loss_landscape", fail)
    with pytest.raises(AssertionError, match="recomputed"):
        run_landscape(run_dir, **settings)
    surface.save(cached)
    assert run_landscape(run_dir, **settings) == surface
