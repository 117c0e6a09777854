"""rlcore.replay: the sum tree and proportional prioritized replay (Schaul et al. 2016), checked against
numpy references: tree sums, prefix-sum search, sampling frequencies, new-transition priorities, TD-error
priorities, importance-sampling weights, the trainer's beta schedule, wraparound, checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlcore.envs import ObsSpec
from rlcore.hooks import Hook
from rlcore.replay import Batch, PrioritizedReplayBuffer, ReplayBuffer, SumTree
from rlcore.train import Trainer, train

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPEC = ObsSpec.flat(3)


def _tree_with(priorities, capacity=None) -> SumTree:
    priorities = torch.as_tensor(priorities, dtype=torch.float64)
    tree = SumTree(capacity or len(priorities))
    tree.update(torch.arange(len(priorities)), priorities)
    return tree


def _reference_find(priorities: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """The leaf whose interval [cum_{i-1}, cum_i) contains each mass."""
    return np.searchsorted(np.cumsum(priorities), mass, side="right")


def _assert_internal_sums(tree: SumTree) -> None:
    t = tree.tree.numpy()
    for i in range(1, tree.size):
        assert t[i] == pytest.approx(t[2 * i] + t[2 * i + 1], rel=1e-12, abs=1e-12), f"node {i}"


def _assert_frequencies(counts: np.ndarray, probs: np.ndarray, n: int, sigmas: float = 5.0) -> None:
    """Each bin's frequency within `sigmas` binomial standard deviations of its probability."""
    freq = counts / n
    sd = np.sqrt(probs * (1 - probs) / n)
    bad = np.abs(freq - probs) > sigmas * sd + 1e-12
    assert not bad.any(), f"frequencies {freq[bad]} vs probabilities {probs[bad]}"


# ---- SumTree -----------------------------------------------------------------------------------
@pytest.mark.parametrize("capacity", [1, 2, 5, 8, 13])
def test_sum_tree_total_and_leaves(capacity):
    rng = np.random.default_rng(capacity)
    p = rng.uniform(0.1, 5.0, capacity)
    tree = _tree_with(p)
    assert tree.size >= capacity and tree.size & (tree.size - 1) == 0  # a power of two
    assert tree.total.item() == pytest.approx(p.sum(), rel=1e-12)
    np.testing.assert_allclose(tree.priorities(torch.arange(capacity)).numpy(), p, rtol=0, atol=0)
    # Padding leaves beyond the capacity hold nothing.
    assert (tree.tree[tree.size + capacity:] == 0).all()
    _assert_internal_sums(tree)


def test_sum_tree_updates_keep_every_sum_right():
    rng = np.random.default_rng(0)
    capacity = 37
    p = rng.uniform(0.0, 3.0, capacity)
    tree = _tree_with(p)
    for _ in range(20):  # batched updates of random subsets (no duplicates)
        idx = rng.choice(capacity, size=rng.integers(1, 10), replace=False)
        new = rng.uniform(0.0, 3.0, len(idx))
        tree.update(torch.as_tensor(idx), torch.as_tensor(new))
        p[idx] = new
        assert tree.total.item() == pytest.approx(p.sum(), rel=1e-12)
        np.testing.assert_allclose(tree.priorities(torch.arange(capacity)).numpy(), p, rtol=0, atol=0)
    _assert_internal_sums(tree)
    # Single-leaf update, then a float32 priority tensor (converted to the tree's float64).
    tree.update(torch.tensor([3]), torch.tensor([10.0], dtype=torch.float32))
    p[3] = 10.0
    assert tree.total.item() == pytest.approx(p.sum(), rel=1e-12)
    assert tree.priorities(torch.tensor([3])).item() == 10.0
    _assert_internal_sums(tree)


def test_sum_tree_repeated_index_last_write_wins():
    tree = _tree_with([1.0, 1.0, 1.0, 1.0])
    tree.update(torch.tensor([2, 2, 2]), torch.tensor([5.0, 7.0, 3.0], dtype=torch.float64))
    assert tree.priorities(torch.tensor([2])).item() == 3.0
    assert tree.total.item() == 6.0
    _assert_internal_sums(tree)


def test_sum_tree_find_boundaries():
    # cumulative sums 1, 3, 6, 10: leaf i owns [cum_{i-1}, cum_i)
    tree = _tree_with([1.0, 2.0, 3.0, 4.0], capacity=6)
    mass = torch.tensor([0.0, 0.5, np.nextafter(1.0, 0), 1.0, 2.999, 3.0, 5.999, 6.0, 9.0, np.nextafter(10.0, 0)],
                        dtype=torch.float64)
    assert tree.find(mass).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def test_sum_tree_find_skips_zero_priority_leaves():
    p = np.array([0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 1.0, 0.0])
    tree = _tree_with(p)
    mass = torch.tensor([0.0, 1.999, 2.0, 4.999, 5.0, np.nextafter(6.0, 0)], dtype=torch.float64)
    assert tree.find(mass).tolist() == [1, 1, 4, 4, 6, 6]


@pytest.mark.parametrize("capacity", [7, 16, 100])
def test_sum_tree_find_matches_prefix_sum_reference(capacity):
    rng = np.random.default_rng(capacity)
    p = rng.uniform(0.0, 2.0, capacity)
    p[rng.choice(capacity, capacity // 3, replace=False)] = 0.0
    tree = _tree_with(p)
    mass = rng.uniform(0.0, p.sum(), 5000)
    np.testing.assert_array_equal(tree.find(torch.as_tensor(mass)).numpy(), _reference_find(p, mass))


def test_sum_tree_sampling_frequencies_match_priorities():
    p = np.array([5.0, 0.0, 1.0, 3.0, 0.0, 0.5, 2.5, 0.0, 8.0, 0.0, 0.0])
    tree = _tree_with(p)
    n = 200_000
    gen = torch.Generator().manual_seed(0)
    idx = tree.find(torch.rand(n, dtype=torch.float64, generator=gen) * tree.total).numpy()
    counts = np.bincount(idx, minlength=len(p))
    assert counts[p == 0].sum() == 0, "a zero-priority leaf was sampled"
    _assert_frequencies(counts, p / p.sum(), n)
    # A chi-square test over the positive bins as well (fixed seed, 0.1% level).
    from scipy import stats

    pos = p > 0
    expected = n * p[pos] / p.sum()
    chi2 = ((counts[pos] - expected) ** 2 / expected).sum()
    assert chi2 < stats.chi2.ppf(0.999, df=pos.sum() - 1), chi2


# ---- PrioritizedReplayBuffer -------------------------------------------------------------------
def _transitions(ks, obs_dim=3, action_dim=1):
    ks = np.asarray(ks, dtype=np.float32)
    return (np.repeat(ks[:, None], obs_dim, 1), np.repeat(-ks[:, None], action_dim, 1), ks,
            np.repeat(ks[:, None] + 0.5, obs_dim, 1), np.zeros(len(ks), np.float32))


def _leaves(rb: PrioritizedReplayBuffer, n=None) -> np.ndarray:
    return rb.tree.priorities(torch.arange(n if n is not None else rb.capacity)).numpy()


def test_new_transitions_get_the_current_max_priority():
    alpha, eps = 0.6, 1e-6
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=16, alpha=alpha, eps=eps)
    rb.add(*_transitions([0, 1, 2]))
    np.testing.assert_allclose(_leaves(rb, 3), [1.0, 1.0, 1.0])  # max priority starts at 1
    rb.update_priorities(torch.tensor([0, 1, 2]), torch.tensor([4.0, -0.5, 0.0]))
    assert rb.max_priority == pytest.approx(4.0 + eps)
    rb.add(*_transitions([3, 4]))  # a batch add
    np.testing.assert_allclose(_leaves(rb, 5)[3:], [(4.0 + eps) ** alpha] * 2, rtol=1e-12)
    # The max never decreases: lowering every priority leaves new transitions at the old max.
    rb.update_priorities(torch.arange(5), torch.full((5,), 0.1))
    assert rb.max_priority == pytest.approx(4.0 + eps)
    rb.add(*_transitions([5])[:4], False)  # a single transition
    assert _leaves(rb, 6)[5] == pytest.approx((4.0 + eps) ** alpha, rel=1e-12)
    assert rb.tree.total.item() == pytest.approx(_leaves(rb).sum(), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_priorities_are_abs_td_plus_eps_to_the_alpha(alpha):
    eps = 1e-3
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=8, alpha=alpha, eps=eps)
    rb.add(*_transitions(range(6)))
    td = torch.tensor([-2.0, 0.0, 0.3, 1.5, -0.01], dtype=torch.float32)
    idx = torch.tensor([0, 1, 2, 3, 5])
    rb.update_priorities(idx, td)
    expected = (np.abs(td.numpy().astype(np.float64)) + eps) ** alpha
    np.testing.assert_allclose(_leaves(rb)[idx.numpy()], expected, rtol=1e-6)
    assert _leaves(rb)[4] == pytest.approx(1.0)  # untouched: still the initial max priority
    assert rb.tree.total.item() == pytest.approx(_leaves(rb).sum(), rel=1e-12)
    # td errors with a trailing dimension (B, 1) are accepted too
    rb.update_priorities(torch.tensor([4]), torch.tensor([[0.7]]))
    assert _leaves(rb)[4] == pytest.approx((0.7 + eps) ** alpha, rel=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.4, 1.0])
def test_importance_weights_match_numpy_reference(beta):
    alpha, eps = 0.7, 1e-6
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=10, alpha=alpha, beta=beta, eps=eps)
    rb.add(*_transitions(range(6)))  # N = 6 of 10 slots filled
    td = np.array([0.1, 2.0, 0.5, 0.0, 5.0, 1.0])
    rb.update_priorities(torch.arange(6), torch.as_tensor(td))
    batch_size = 8
    out = rb.sample(batch_size, generator=torch.Generator().manual_seed(3))
    assert isinstance(out, Batch) and out.indices is not None

    # Reference: stratified draws (one per equal slice of the mass), then w = (N P(i))^-beta / max_batch w.
    p = (np.abs(td) + eps) ** alpha
    u = torch.rand(batch_size, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).numpy()
    mass = (np.arange(batch_size) + u) / batch_size * p.sum()
    idx = _reference_find(p, mass)
    np.testing.assert_array_equal(out.indices.numpy(), idx)
    P = p / p.sum()
    w = (6 * P[idx]) ** (-beta)
    w = w / w.max()
    assert out.weights.shape == (batch_size, 1) and out.weights.dtype == torch.float32
    np.testing.assert_allclose(out.weights.numpy()[:, 0], w, rtol=1e-6)
    assert out.weights.max().item() == pytest.approx(1.0)
    # The batch holds exactly the transitions at those slots.
    np.testing.assert_array_equal(out.reward[:, 0].numpy(), idx.astype(np.float32))
    np.testing.assert_array_equal(out.obs[:, 0].numpy(), idx.astype(np.float32))


def test_sampling_frequencies_follow_priorities_and_stay_in_the_filled_part():
    alpha = 0.6
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=12, alpha=alpha)  # 12 slots, tree of 16 leaves
    rb.add(*_transitions(range(7)))
    td = torch.tensor([0.0, 1.0, 4.0, 0.2, 9.0, 0.5, 2.0])
    rb.update_priorities(torch.arange(7), td)
    gen = torch.Generator().manual_seed(0)
    counts = np.zeros(rb.capacity, dtype=np.int64)
    n_batches, batch_size = 1000, 64
    for _ in range(n_batches):
        counts += np.bincount(rb.sample(batch_size, generator=gen).indices.numpy(), minlength=rb.capacity)
    assert counts[7:].sum() == 0, "sampled an empty slot"
    p = (td.double().abs().numpy() + rb.eps) ** alpha
    _assert_frequencies(counts[:7], p / p.sum(), n_batches * batch_size)


def test_alpha_zero_samples_uniformly_with_unit_weights():
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=8, alpha=0.0, beta=0.4)
    rb.add(*_transitions(range(5)))
    rb.update_priorities(torch.arange(5), torch.tensor([0.0, 100.0, 0.01, 3.0, 1e4]))
    np.testing.assert_allclose(_leaves(rb, 5), 1.0)
    gen = torch.Generator().manual_seed(1)
    counts = np.zeros(5, dtype=np.int64)
    for _ in range(500):
        out = rb.sample(32, generator=gen)
        counts += np.bincount(out.indices.numpy(), minlength=5)
        assert torch.equal(out.weights, torch.ones(32, 1))
    _assert_frequencies(counts, np.full(5, 0.2), 500 * 32)


def test_set_beta_clamps_and_changes_the_weights():
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=8, alpha=1.0, beta=0.4)
    rb.add(*_transitions(range(4)))
    rb.update_priorities(torch.arange(4), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    rb.set_beta(1.7)
    assert rb.beta == 1.0
    rb.set_beta(-0.2)
    assert rb.beta == 0.0
    rb.set_beta(0.0)
    assert torch.equal(rb.sample(16, generator=torch.Generator().manual_seed(0)).weights, torch.ones(16, 1))
    rb.set_beta(1.0)
    out = rb.sample(16, generator=torch.Generator().manual_seed(0))
    p = rb.tree.priorities(out.indices).numpy()
    # beta = 1: w proportional to 1 / P(i), normalized by the batch maximum (the lowest priority sampled).
    np.testing.assert_allclose(out.weights.numpy()[:, 0], p.min() / p, rtol=1e-6)


def test_wraparound_overwrites_the_oldest_with_max_priority():
    alpha, eps = 0.5, 1e-6
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=5, alpha=alpha, eps=eps)  # 5 slots, tree of 8 leaves
    rb.add(*_transitions(range(5)))
    rb.update_priorities(torch.arange(5), torch.tensor([0.01, 0.02, 3.0, 0.03, 0.04]))
    top = (3.0 + eps) ** alpha
    rb.add(*_transitions([10, 11]))  # overwrites slots 0 and 1
    assert len(rb) == 5 and rb.ptr == 2
    np.testing.assert_array_equal(rb.reward[:, 0].numpy(), [10, 11, 2, 3, 4])
    leaves = _leaves(rb)
    np.testing.assert_allclose(leaves[:2], [top, top], rtol=1e-12)  # not the stale low priorities
    np.testing.assert_allclose(leaves[2:], (np.array([3.0, 0.03, 0.04]) + eps) ** alpha, rtol=1e-6)
    # A batch that wraps around the end in one add: slots 2, 3, 4, 0.
    rb.add(*_transitions([20, 21, 22, 23]))
    assert rb.ptr == 1
    np.testing.assert_array_equal(rb.reward[:, 0].numpy(), [23, 11, 20, 21, 22])
    np.testing.assert_allclose(_leaves(rb), top, rtol=1e-12)
    assert (rb.tree.tree[rb.tree.size + rb.capacity:] == 0).all()
    assert rb.tree.total.item() == pytest.approx(5 * top, rel=1e-12)
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        assert rb.sample(16, generator=gen).indices.max().item() < rb.capacity


def test_state_dict_round_trip_reproduces_sampling():
    rb = PrioritizedReplayBuffer(SPEC, 1, capacity=9, alpha=0.6, beta=0.5)
    rb.add(*_transitions(range(7)))
    rb.update_priorities(torch.arange(7), torch.tensor([0.1, 5.0, 0.3, 2.0, 0.0, 1.0, 7.0]))
    rb.set_beta(0.8)
    other = PrioritizedReplayBuffer(SPEC, 1, capacity=9, alpha=0.6, beta=0.4)
    other.load_state_dict(rb.state_dict())
    assert other.max_priority == rb.max_priority and other.beta == 0.8 and len(other) == 7
    a = rb.sample(32, generator=torch.Generator().manual_seed(5))
    b = other.sample(32, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.indices, b.indices) and torch.equal(a.weights, b.weights)
    assert torch.equal(a.obs, b.obs)


def test_empty_buffer_and_bad_alpha_are_rejected():
    with pytest.raises(RuntimeError, match="empty"):
        PrioritizedReplayBuffer(SPEC, 1, capacity=4).sample(2)
    with pytest.raises(ValueError, match="alpha"):
        PrioritizedReplayBuffer(SPEC, 1, capacity=4, alpha=1.5)


# ---- the trainer's use of it -------------------------------------------------------------------
def test_trainer_anneals_beta_linearly_to_one_and_updates_priorities(tmp_path, tiny_config, monkeypatch):
    """Serial SAC with prioritized replay: the trainer sets beta = beta0 + (1 - beta0) * min(1, step / total)
    (step = environment steps, counted after the step), feeds the importance weights to the agent's update
    and writes |TD error| priorities back for the sampled slots."""
    beta0, total = 0.3, 200
    cfg = tiny_config("sac", total_steps=total, warmup_steps=64, eval_every=200, log_every=50).replace(
        **{"collect.replay": "prioritized", "collect.priority_beta": beta0, "collect.priority_alpha": 0.6})
    steps, betas, updates, weighted = [], [], [], []
    real_set_beta, real_sample = PrioritizedReplayBuffer.set_beta, Trainer.sample
    real_priorities = PrioritizedReplayBuffer.update_priorities

    class StepSpy(Hook):
        name = "step_spy"

        def before_update(self, trainer, step, request):
            steps.append(step)

    def spy_set_beta(self, beta):
        betas.append(beta)
        return real_set_beta(self, beta)

    def spy_sample(self):
        batch = real_sample(self)
        # The batch the agent's update gets carries the importance weights and the sampled slots.
        assert batch.weights.shape == (cfg.agent.batch_size, 1) and batch.indices.shape == (cfg.agent.batch_size,)
        assert (batch.weights > 0).all() and batch.weights.max().item() == pytest.approx(1.0)
        weighted.append(len(batch.indices))
        return batch

    def spy_priorities(self, indices, td_errors):
        assert indices.shape == (cfg.agent.batch_size,) and td_errors.shape == (cfg.agent.batch_size,)
        assert torch.isfinite(td_errors).all()
        real_priorities(self, indices, td_errors)
        last = {int(i): float(t) for i, t in zip(indices, td_errors)}  # repeated slots: the last write wins
        expected = [(abs(last[int(i)]) + self.eps) ** self.alpha for i in indices]
        np.testing.assert_allclose(self.tree.priorities(indices).numpy(), expected, rtol=1e-5)
        updates.append(len(indices))

    monkeypatch.setattr(PrioritizedReplayBuffer, "set_beta", spy_set_beta)
    monkeypatch.setattr(PrioritizedReplayBuffer, "update_priorities", spy_priorities)
    monkeypatch.setattr(Trainer, "sample", spy_sample)
    status = train(cfg, tmp_path, progress=False, hooks=[StepSpy()])
    assert status["state"] == "finished"
    assert steps == list(range(64, total + 1))  # one update per env step once the warm-up is over
    assert len(betas) == len(steps) == len(updates) == len(weighted)
    np.testing.assert_allclose(betas, [beta0 + (1 - beta0) * min(1.0, s / total) for s in steps], rtol=1e-12)
    assert betas[0] < betas[-1] == 1.0
    assert all(b1 <= b2 for b1, b2 in zip(betas, betas[1:]))


def test_uniform_replay_stays_uniform(tmp_path, tiny_config, monkeypatch):
    """replay="uniform" (the default) builds a plain ReplayBuffer; the prioritized one only when asked."""
    built = []
    real_init = ReplayBuffer.__init__

    def spy(self, *args, **kwargs):
        built.append(type(self))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(ReplayBuffer, "__init__", spy)
    cfg = tiny_config("td3", total_steps=120, warmup_steps=64, eval_every=120)
    assert train(cfg, tmp_path / "u", progress=False)["state"] == "finished"
    assert built == [ReplayBuffer]
    built.clear()
    cfg = cfg.replace(**{"collect.replay": "prioritized"})
    assert train(cfg, tmp_path / "p", progress=False)["state"] == "finished"
    assert built == [PrioritizedReplayBuffer]
