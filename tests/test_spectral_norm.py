"""Spectral normalization (Bjorck et al. 2021): which layers, the exact initialization, convergence of
power iteration, when it iterates, gradients through sigma (checked against torch's own
implementation), and target networks (their u, v advance once per update, never when read)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from rlcore.agents import make_agent
from rlcore.agents.base import make_target, soft_update
from rlcore.analysis import frozen_td_targets
from rlcore.config import NET_KINDS, AgentConfig, NetConfig, TD3Config
from rlcore.envs import ObsSpec
from rlcore.nets import EnsembleBatchNorm, EnsembleLinear, SpectralLinear, build_trunk, spectral_layers
from rlcore.replay import Batch, ReplayBuffer

OBS, ACT = 5, 2


def linears(module: nn.Module) -> list[EnsembleLinear]:
    return [m for m in module.modules() if isinstance(m, EnsembleLinear)]


def spectral_norms(weight: torch.Tensor) -> torch.Tensor:
    """Largest singular value of each member's (in, out) matrix."""
    return torch.linalg.matrix_norm(weight.detach().double(), ord=2)


def sn_net(kind: str, n: int = 2, width: int = 12, depth: int = 4, **kw) -> nn.Module:
    torch.manual_seed(0)
    return build_trunk(NetConfig(kind=kind, width=width, depth=depth, spectral_norm=True, **kw), 6, 3, n=n)


# ---- which layers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", NET_KINDS)
@pytest.mark.parametrize("depth", [2, 4])
def test_every_linear_but_first_and_last_is_spectral(kind, depth):
    net = sn_net(kind, depth=depth)
    layers = linears(net)
    expected_count = 2 * depth + 2 if kind in ("modern", "simba", "bronet") else depth + 1
    assert len(layers) == expected_count
    first, *middle, last = layers
    assert type(first) is EnsembleLinear and first.in_features == 6
    assert type(last) is EnsembleLinear and last is net.head and last.out_features == 3
    assert middle and all(type(m) is SpectralLinear for m in middle)
    assert spectral_layers(net) == middle
    assert all(m.power_iterations == 1 for m in middle)
    assert all(m.power_iterations == 3 for m in spectral_layers(sn_net(kind, depth=depth, sn_power_iterations=3)))


@pytest.mark.parametrize("kind", NET_KINDS)
def test_no_spectral_layers_without_spectral_norm(kind):
    net = build_trunk(NetConfig(kind=kind, width=8, depth=4), 6, 3, n=2)
    assert spectral_layers(net) == []
    assert all(type(m) is EnsembleLinear for m in linears(net))


# ---- initialization ------------------------------------------------------------------------------
@pytest.mark.parametrize("n,in_features,out_features", [(1, 7, 5), (2, 5, 9), (2, 256, 256), (3, 64, 32)])
def test_construction_starts_at_unit_spectral_norm(n, in_features, out_features):
    """u, v start at the exact top singular vectors (an SVD), so sigma is sigma_max from the first pass."""
    torch.manual_seed(0)
    layer = SpectralLinear(n, in_features, out_features)
    with torch.no_grad():
        norms = torch.linalg.matrix_norm(layer.effective_weight(), ord=2)
        assert norms.shape == (n,)
        assert (norms - 1).abs().max() <= 1e-5, norms
        torch.testing.assert_close(layer.sigma().double(), spectral_norms(layer.weight), rtol=1e-5, atol=0)
    assert torch.allclose(layer.sn_u.norm(dim=-1), torch.ones(n)) and torch.allclose(layer.sn_v.norm(dim=-1), torch.ones(n))
    # already converged: a power-iteration step barely moves the estimate
    sigma0 = layer.sigma().clone()
    layer.power_iterate(1)
    torch.testing.assert_close(layer.sigma(), sigma0, rtol=1e-5, atol=0)


# ---- convergence ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", NET_KINDS)
def test_power_iteration_converges_to_unit_spectral_norm(kind):
    net = sn_net(kind)
    first, last = linears(net)[0], net.head
    with torch.no_grad():  # make the unnormalized layers clearly larger than 1
        first.weight.mul_(10.0)
        last.weight.mul_(10.0)
        for layer in spectral_layers(net):  # and the normalized ones too, before normalization
            layer.weight.mul_(10.0)
    first_w, last_w = first.weight.detach().clone(), last.weight.detach().clone()
    for layer in spectral_layers(net):
        assert (spectral_norms(layer.weight) > 1.5).all()
        layer.power_iterate(200)
        norms = spectral_norms(layer.effective_weight())
        assert norms.shape == (2,)
        assert (norms <= 1 + 1e-4).all() and (norms >= 1 - 1e-3).all(), norms
        # sigma estimates the largest singular value of the raw weight
        torch.testing.assert_close(layer.sigma().double(), spectral_norms(layer.weight), rtol=1e-4, atol=0)
    net(torch.randn(4, 6))  # a training-mode pass
    assert torch.equal(first.weight, first_w) and torch.equal(last.weight, last_w)
    assert torch.equal(first.effective_weight(), first.weight)  # never divided by anything
    assert (spectral_norms(first.effective_weight()) > 1.5).all()
    assert (spectral_norms(last.effective_weight()) > 1.5).all()


def test_training_forwards_converge_without_explicit_iteration():
    torch.manual_seed(3)
    net = build_trunk(NetConfig(kind="mlp", width=16, depth=3, spectral_norm=True), 6, 2, n=2)
    layers = spectral_layers(net)
    with torch.no_grad():
        for layer in layers:  # start far from converged: random vectors, scaled weights
            layer.weight.mul_(5.0)
            layer.sn_u.copy_(nn.functional.normalize(torch.randn_like(layer.sn_u), dim=-1))
            layer.sn_v.copy_(nn.functional.normalize(torch.randn_like(layer.sn_v), dim=-1))
    x = torch.randn(8, 6)
    for _ in range(300):
        net(x)
    for layer in layers:
        norms = spectral_norms(layer.effective_weight())
        assert (norms <= 1 + 1e-4).all() and (norms >= 1 - 1e-3).all(), norms


def test_forward_uses_normalized_middle_layers():
    """An MLP's output, recomputed by hand: raw first layer, W / sigma in the middle, raw head."""
    torch.manual_seed(0)
    net = build_trunk(NetConfig(kind="mlp", width=8, depth=3, spectral_norm=True), 4, 2, n=2).eval()
    with torch.no_grad():
        for layer in linears(net):
            layer.weight.mul_(4.0)
    first, mid1, mid2, head = linears(net)
    x = torch.randn(5, 4)
    with torch.no_grad():
        for i in range(2):
            h = torch.relu(x @ first.weight[i] + first.bias[i])
            for layer in (mid1, mid2):
                sigma = layer.sn_v[i] @ layer.weight[i] @ layer.sn_u[i]
                h = torch.relu(h @ (layer.weight[i] / sigma) + layer.bias[i])
            expected = h @ head.weight[i] + head.bias[i]
            torch.testing.assert_close(net(x)[i], expected)
    assert spectral_norms(mid1.weight).min() > 1.5  # the division matters for this check


# ---- when it iterates -----------------------------------------------------------------------------
def test_power_iteration_in_training_mode_only():
    net = sn_net("mlp")
    x = torch.randn(4, 6)
    layers = spectral_layers(net)
    with torch.no_grad():
        for layer in layers:  # unconverged vectors, so one iteration visibly moves them
            layer.sn_u.copy_(nn.functional.normalize(torch.randn_like(layer.sn_u), dim=-1))
            layer.sn_v.copy_(nn.functional.normalize(torch.randn_like(layer.sn_v), dim=-1))
    snapshot = lambda: [(m.sn_u.clone(), m.sn_v.clone()) for m in layers]

    net.eval()
    before = snapshot()
    for _ in range(3):
        net(x)
    for (u0, v0), m in zip(before, layers):
        assert torch.equal(m.sn_u, u0) and torch.equal(m.sn_v, v0)

    net.train()
    net(x)
    for (u0, v0), m in zip(before, layers):
        assert not torch.allclose(m.sn_u, u0) and not torch.allclose(m.sn_v, v0)
    assert all(not b.requires_grad for m in layers for b in (m.sn_u, m.sn_v))
    assert all(name not in dict(m.named_parameters()) for m in layers for name in ("sn_u", "sn_v"))


def test_power_iteration_count_per_forward():
    torch.manual_seed(0)
    layer = SpectralLinear(2, 7, 5, power_iterations=3)
    with torch.no_grad():
        layer.sn_u.copy_(nn.functional.normalize(torch.randn(2, 5), dim=-1))
        layer.sn_v.copy_(nn.functional.normalize(torch.randn(2, 7), dim=-1))
    reference = SpectralLinear(2, 7, 5, power_iterations=1)
    reference.load_state_dict(layer.state_dict())
    layer(torch.randn(2, 3, 7))
    reference.power_iterate(3)
    torch.testing.assert_close(layer.sn_u, reference.sn_u)
    torch.testing.assert_close(layer.sn_v, reference.sn_v)


# ---- gradients through sigma --------------------------------------------------------------------
def _torch_reference(layer: SpectralLinear) -> nn.Linear:
    """torch's spectral_norm on the same single-member weight, with the same u and v.

    `torch.nn.utils.spectral_norm` iterates as Miyato et al.'s Algorithm 1 does (v from u, then u
    from v), as SpectralLinear does; the newer `parametrizations.spectral_norm` updates u first, so
    one training step of it lands on different vectors (same fixed point).
    """
    ref = nn.Linear(layer.in_features, layer.out_features)
    with torch.no_grad():
        ref.weight.copy_(layer.weight[0].T)  # torch stores (out, in); ours is (in, out)
        ref.bias.copy_(layer.bias[0, 0])
    ref = torch.nn.utils.spectral_norm(ref, n_power_iterations=1)
    with torch.no_grad():  # torch's u lives in the output space and v in the input space, like ours
        ref.weight_u.copy_(layer.sn_u[0])
        ref.weight_v.copy_(layer.sn_v[0])
    return ref


@pytest.mark.parametrize("training", [False, True])
def test_gradient_matches_torch_spectral_norm(training):
    torch.manual_seed(0)
    layer = SpectralLinear(1, 6, 4, power_iterations=1)
    with torch.no_grad():  # vectors away from convergence, so a training step iterates visibly
        layer.sn_u.copy_(nn.functional.normalize(torch.randn(1, 4), dim=-1))
        layer.sn_v.copy_(nn.functional.normalize(torch.randn(1, 6), dim=-1))
    ref = _torch_reference(layer)
    u0 = layer.sn_u.clone()
    layer.train(training)
    ref.train(training)
    x = torch.randn(9, 6)
    r = torch.randn(9, 4)
    ours = layer(x.unsqueeze(0))[0]
    theirs = ref(x)
    torch.testing.assert_close(ours, theirs)
    (ours * r).sum().backward()
    (theirs * r).sum().backward()
    assert torch.equal(layer.sn_u, u0) != training  # one power-iteration step in training mode only
    torch.testing.assert_close(layer.sn_u[0], ref.weight_u)
    torch.testing.assert_close(layer.sn_v[0], ref.weight_v)
    torch.testing.assert_close(layer.weight.grad[0], ref.weight_orig.grad.T)
    torch.testing.assert_close(layer.bias.grad[0, 0], ref.bias.grad)

    # The check has teeth: a sigma treated as a constant gives a clearly different gradient.
    w = layer.weight.detach().clone().requires_grad_(True)
    sigma = (layer.sn_v[0] @ w[0] @ layer.sn_u[0]).detach()
    ((x @ (w[0] / sigma) + layer.bias[0].detach()) * r).sum().backward()
    assert (w.grad[0] - layer.weight.grad[0]).abs().max() > 1e-3


def test_gradient_matches_finite_differences():
    torch.manual_seed(1)
    layer = SpectralLinear(2, 5, 3).double().eval()  # eval: u and v stay fixed during the check
    x = torch.randn(2, 4, 5, dtype=torch.double)

    def f(weight):
        return torch.func.functional_call(layer, {"weight": weight, "bias": layer.bias}, (x,))

    assert torch.autograd.gradcheck(f, (layer.weight.detach().clone().requires_grad_(True),))


# ---- target networks ------------------------------------------------------------------------------
def sn_agent(algo: str, sn_target: str, norm: str = "auto"):
    torch.manual_seed(0)
    net = NetConfig(width=16, depth=3, spectral_norm=True, norm=norm)
    cfg = AgentConfig(algo=algo, actor=net, critic=net, batch_size=16, sn_target=sn_target,
                      td3=TD3Config(policy_delay=1))
    return make_agent(cfg, ObsSpec.flat(OBS), ACT)


def random_batch(seed=0, n=16):
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, OBS, generator=g), torch.rand(n, ACT, generator=g) * 2 - 1,
                 torch.randn(n, 1, generator=g), torch.randn(n, OBS, generator=g), 0.99 * torch.ones(n, 1))


def vectors(module):
    return [(m.sn_u.clone(), m.sn_v.clone()) for m in spectral_layers(module)]


def scramble_(module) -> None:
    """Random unit u, v: far from converged, so one power-iteration step visibly moves them."""
    with torch.no_grad():
        for m in spectral_layers(module):
            m.sn_u.copy_(nn.functional.normalize(torch.randn_like(m.sn_u), dim=-1))
            m.sn_v.copy_(nn.functional.normalize(torch.randn_like(m.sn_v), dim=-1))


def run(target: nn.Module) -> None:
    """One forward pass of a target: a critic reads (s, a) features, an actor reads s."""
    width = target.in_dim if hasattr(target, "in_dim") else OBS
    target(torch.randn(4, width))


def targets(agent):
    pairs = [(agent.critic_target, agent.critic)]
    if hasattr(agent, "actor_target"):
        pairs.append((agent.actor_target, agent.actor))
    return pairs


def same_state(a, b) -> bool:
    """Nested state dicts (tensors, numbers, lists) are equal, every tensor bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return a == b


def snapshot(agent):
    state = agent.state_dict()
    return {k: copy.deepcopy(v) for k, v in state.items()}


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_own_mode_target_advances_only_when_told_and_is_not_overwritten(algo):
    agent = sn_agent(algo, "own")
    for target, online in targets(agent):
        layers = spectral_layers(target)
        assert layers and all(m.owns_vectors for m in layers)
        assert not any(m.owns_vectors for m in spectral_layers(online))
        assert not target.training
        scramble_(online)  # online vectors the target must not receive
        scramble_(target)
        before = vectors(target)
        soft_update(target, online, 0.5)
        for (u, v), m, src in zip(before, layers, spectral_layers(online)):
            assert torch.equal(m.sn_u, u) and torch.equal(m.sn_v, v)
            assert not torch.allclose(m.sn_u, src.sn_u)
        # reading the target (eval mode) never iterates
        with torch.no_grad():
            for _ in range(3):
                run(target)
        for (u, v), m in zip(before, layers):
            assert torch.equal(m.sn_u, u) and torch.equal(m.sn_v, v)
    # advance_target_spectral_norms: exactly one power-iteration step of every target layer ...
    online_before = [vectors(online) for _, online in targets(agent)]
    target_before = [vectors(target) for target, _ in targets(agent)]
    expected = []
    for target, _ in targets(agent):
        reference = copy.deepcopy(target)
        for m in spectral_layers(reference):
            m.power_iterate(1)
        expected.append(vectors(reference))
    agent.advance_target_spectral_norms()
    for (target, online), exp, t0, on0 in zip(targets(agent), expected, target_before, online_before):
        for (u, v), (u0, v0), m in zip(exp, t0, spectral_layers(target)):
            assert torch.equal(m.sn_u, u) and torch.equal(m.sn_v, v)
            assert not torch.allclose(m.sn_u, u0) and not torch.allclose(m.sn_v, v0)
        # ... and nothing of the online networks
        for (u0, v0), (u1, v1) in zip(on0, vectors(online)):
            assert torch.equal(u0, u1) and torch.equal(v0, v1)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_own_mode_update_advances_target_vectors_once(algo):
    agent = sn_agent(algo, "own")
    for i in range(3):
        scramble_(agent.critic_target)  # so one step of power iteration is visible
        reference = {name: copy.deepcopy(t) for name, t in (("critic", agent.critic_target),)}
        if algo == "td3":
            scramble_(agent.actor_target)
            reference["actor"] = copy.deepcopy(agent.actor_target)
        before = {name: vectors(t) for name, t in reference.items()}
        for t in reference.values():  # one step on the pre-update target weights
            for m in spectral_layers(t):
                m.power_iterate(1)
        agent.update(random_batch(seed=i), i)
        for name, ref in reference.items():
            live = getattr(agent, f"{name}_target")
            for m, r, (u0, _) in zip(spectral_layers(live), spectral_layers(ref), before[name]):
                torch.testing.assert_close(m.sn_u, r.sn_u, rtol=1e-6, atol=1e-7)
                torch.testing.assert_close(m.sn_v, r.sn_v, rtol=1e-6, atol=1e-7)
                assert not torch.allclose(m.sn_u, u0)  # it did move, once
    diffs = [not torch.allclose(t.sn_u, o.sn_u, atol=1e-7)
             for t, o in zip(spectral_layers(agent.critic_target), spectral_layers(agent.critic))]
    assert any(diffs)
    # the target's estimate matches its own (Polyak-averaged) weights
    for m in spectral_layers(agent.critic_target):
        m.power_iterate(300)
        assert (spectral_norms(m.effective_weight()) <= 1 + 1e-4).all()


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_copy_mode_copies_vectors_and_target_never_iterates(algo):
    agent = sn_agent(algo, "copy")
    for target, online in targets(agent):
        assert all(not m.owns_vectors for m in spectral_layers(target))
        scramble_(online)
        soft_update(target, online, 0.5)
        for m, src in zip(spectral_layers(target), spectral_layers(online)):
            assert torch.equal(m.sn_u, src.sn_u) and torch.equal(m.sn_v, src.sn_v)
        before = vectors(target)
        with torch.no_grad():
            for _ in range(3):
                run(target)
        agent.advance_target_spectral_norms()  # nothing to advance: the target owns no vectors
        for (u, v), m in zip(before, spectral_layers(target)):
            assert torch.equal(m.sn_u, u) and torch.equal(m.sn_v, v)
    # Through the agent's own update: after every soft update the vectors are the online ones.
    for i in range(3):
        agent.update(random_batch(seed=i), i)
        for target, online in targets(agent):
            for m, src in zip(spectral_layers(target), spectral_layers(online)):
                assert torch.equal(m.sn_u, src.sn_u) and torch.equal(m.sn_v, src.sn_v)


@pytest.mark.parametrize("sn_target", ["own", "copy"])
def test_soft_update_still_copies_batchnorm_statistics(sn_target):
    agent = sn_agent("sac", sn_target, norm="batchnorm")
    for i in range(2):
        agent.update(random_batch(seed=i), i)
    online_bns = [m for m in agent.critic.modules() if isinstance(m, EnsembleBatchNorm)]
    target_bns = [m for m in agent.critic_target.modules() if isinstance(m, EnsembleBatchNorm)]
    assert online_bns and len(online_bns) == len(target_bns)
    for o, t in zip(online_bns, target_bns):
        assert not torch.equal(o.bn.running_mean, torch.zeros_like(o.bn.running_mean))
        assert torch.equal(o.bn.running_mean, t.bn.running_mean)
        assert torch.equal(o.bn.running_var, t.bn.running_var)
        assert torch.equal(o.bn.num_batches_tracked, t.bn.num_batches_tracked)


def test_make_target_flags_follow_mode():
    net = sn_net("bronet")
    own, copy_ = make_target(net, "own"), make_target(net, "copy")
    assert all(m.owns_vectors for m in spectral_layers(own))
    assert not any(m.owns_vectors for m in spectral_layers(copy_))
    assert not any(m.owns_vectors for m in spectral_layers(net))
    assert not own.training and not copy_.training
    assert all(not p.requires_grad for p in own.parameters())


def test_sn_agent_acts_without_touching_vectors():
    agent = sn_agent("sac", "own")
    scramble_(agent.actor)
    before = vectors(agent.actor) + vectors(agent.critic) + vectors(agent.critic_target)
    agent.act(np.zeros(OBS, np.float32), 0, explore=True)
    after = vectors(agent.actor) + vectors(agent.critic) + vectors(agent.critic_target)
    for (u0, v0), (u1, v1) in zip(before, after):
        assert torch.equal(u0, u1) and torch.equal(v0, v1)


@pytest.mark.parametrize("algo,norm", [("sac", "auto"), ("td3", "auto"), ("sac", "batchnorm")])
def test_td_target_changes_no_state(algo, norm):
    """Reading the Bellman target (eval mode) twice under one seed: the same numbers, and no buffer
    or parameter of any module moved (own-mode target vectors included)."""
    agent = sn_agent(algo, "own", norm=norm)
    for i in range(2):
        agent.update(random_batch(seed=i), i)
    for target, _ in targets(agent):
        scramble_(target)  # so a hidden power-iteration step could not go unnoticed
    agent.eval_mode()
    batch = random_batch(seed=5)
    state = snapshot(agent)
    torch.manual_seed(3)
    first = agent.td_target(batch)
    torch.manual_seed(3)
    second = agent.td_target(batch)
    assert torch.equal(first, second)
    assert same_state(agent.state_dict(), state)
    # the check has teeth: advancing the target's vectors changes both the state and the target
    agent.advance_target_spectral_norms()
    assert not same_state(agent.state_dict(), state)
    torch.manual_seed(3)
    assert not torch.equal(agent.td_target(batch), first)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_frozen_td_targets_are_repeatable_and_change_no_state(algo):
    """The reported bug: two calls differed by 6e-5 because the target's u, v advanced when read."""
    agent = sn_agent(algo, "own")
    for i in range(2):
        agent.update(random_batch(seed=i), i)
    for target, _ in targets(agent):
        scramble_(target)
    replay = ReplayBuffer(ObsSpec.flat(OBS), ACT, 64)
    b = random_batch(seed=7, n=40)
    terminated = (torch.arange(40) % 5 == 0).float()
    replay.add(b.obs.numpy(), b.action.numpy(), b.reward.numpy(), b.next_obs.numpy(), terminated.numpy())
    state = snapshot(agent)
    first = frozen_td_targets(agent, replay, max_transitions=None, seed=2)
    second = frozen_td_targets(agent, replay, max_transitions=None, seed=2)
    assert torch.equal(first.q_hat, second.q_hat)
    assert same_state(agent.state_dict(), state)
    torch.testing.assert_close(first.q_hat[terminated == 1], b.reward[terminated == 1, 0])
    # the targets do depend on the target's vectors: one step of them gives other numbers
    agent.advance_target_spectral_norms()
    assert not torch.equal(frozen_td_targets(agent, replay, max_transitions=None, seed=2).q_hat, first.q_hat)
