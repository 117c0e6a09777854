"""rlcore.replay: single and batched adds, wraparound, sampling, checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlcore.envs import ObsSpec
from rlcore.replay import Batch, ReplayBuffer

SPEC = ObsSpec.flat(3)


def _transition(k: int, obs_dim=3, action_dim=2):
    """A transition whose every entry encodes its index k, so a sampled row can be traced back."""
    return (np.full(obs_dim, k, np.float32), np.full(action_dim, -k, np.float32), float(k),
            np.full(obs_dim, k + 0.5, np.float32), k % 3 == 0)


def test_add_single_transitions():
    rb = ReplayBuffer(SPEC, 2, capacity=10)
    assert len(rb) == 0
    for k in range(4):
        rb.add(*_transition(k))
    assert len(rb) == 4 and rb.ptr == 4
    np.testing.assert_array_equal(rb.obs[:4, 0].numpy(), [0, 1, 2, 3])
    np.testing.assert_array_equal(rb.action[:4, 1].numpy(), [0, -1, -2, -3])
    np.testing.assert_array_equal(rb.reward[:4, 0].numpy(), [0, 1, 2, 3])
    np.testing.assert_array_equal(rb.next_obs[:4, 2].numpy(), [0.5, 1.5, 2.5, 3.5])
    # not_terminal = 1 - terminated: 0 exactly where terminated
    np.testing.assert_array_equal(rb.not_terminal[:4, 0].numpy(), [0, 1, 1, 0])
    assert rb.reward.shape == (10, 1) and rb.not_terminal.shape == (10, 1)
    assert all(t.dtype == torch.float32 for t in (rb.obs, rb.action, rb.reward, rb.next_obs, rb.not_terminal))


def test_add_batch_equals_single_adds():
    ks = np.arange(5)
    batch = [np.stack(x) for x in zip(*(_transition(k) for k in ks))]
    a = ReplayBuffer(SPEC, 2, capacity=8)
    a.add(*batch)
    b = ReplayBuffer(SPEC, 2, capacity=8)
    for k in ks:
        b.add(*_transition(k))
    assert len(a) == len(b) == 5 and a.ptr == b.ptr == 5
    for name in ("obs", "action", "reward", "next_obs", "not_terminal"):
        torch.testing.assert_close(getattr(a, name)[:5], getattr(b, name)[:5])


def test_wraparound_overwrites_oldest():
    rb = ReplayBuffer(SPEC, 2, capacity=4)
    for k in range(6):
        rb.add(*_transition(k))
    assert len(rb) == 4 and rb.ptr == 2
    np.testing.assert_array_equal(rb.obs[:, 0].numpy(), [4, 5, 2, 3])
    # A batch that wraps around the end in one add.
    batch = [np.stack(x) for x in zip(*(_transition(k) for k in (10, 11, 12)))]
    rb.add(*batch)
    assert len(rb) == 4 and rb.ptr == 1
    np.testing.assert_array_equal(rb.obs[:, 0].numpy(), [12, 5, 10, 11])
    np.testing.assert_array_equal(rb.reward[:, 0].numpy(), [12, 5, 10, 11])


def test_sample_shapes_device_and_contents():
    rb = ReplayBuffer(SPEC, 2, capacity=100)
    for k in range(20):
        rb.add(*_transition(k))
    g = torch.Generator().manual_seed(0)
    b = rb.sample(64, generator=g)
    assert isinstance(b, Batch)
    assert b.obs.shape == (64, 3) and b.action.shape == (64, 2) and b.reward.shape == (64, 1)
    assert b.next_obs.shape == (64, 3) and b.discount.shape == (64, 1)
    assert b.weights is None and b.indices is None  # uniform replay: no importance weights
    assert all(t.device == torch.device("cpu") for t in b if t is not None)
    k = b.obs[:, 0]
    assert ((k >= 0) & (k < 20)).all()  # only filled slots are sampled
    # Rows stay aligned: every field of a sampled row belongs to the same transition.
    torch.testing.assert_close(b.action[:, 0], -k)
    torch.testing.assert_close(b.reward[:, 0], k)
    torch.testing.assert_close(b.next_obs[:, 0], k + 0.5)
    # discount = gamma * not_terminal (n = 1): 0 exactly for terminal transitions
    torch.testing.assert_close(b.discount[:, 0], rb.gamma * (k.long() % 3 != 0).float())
    # Same generator seed -> same batch.
    again = rb.sample(64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.obs, b.obs)
    # A large sample covers all of the filled part.
    assert set(rb.sample(2000).obs[:, 0].long().tolist()) == set(range(20))


def test_sample_from_empty_raises():
    with pytest.raises(RuntimeError, match="empty"):
        ReplayBuffer(SPEC, 2, capacity=10).sample(4)


def test_bad_capacity():
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(SPEC, 2, capacity=0)
    # capacity must be >= n_step + frame_stack + 1 (here 1 + 1 + 1 = 3)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(SPEC, 2, capacity=2)
    assert ReplayBuffer(SPEC, 2, capacity=3).capacity == 3


def test_spec_must_be_an_obs_spec():
    with pytest.raises(TypeError, match="ObsSpec"):
        ReplayBuffer(3, 2, capacity=10)


@pytest.mark.parametrize("n_added", [3, 7])  # partly filled, and wrapped around
def test_state_dict_round_trip(n_added):
    rb = ReplayBuffer(SPEC, 2, capacity=5)
    for k in range(n_added):
        rb.add(*_transition(k))
    state = rb.state_dict()
    assert state["size"] == min(n_added, 5) and state["obs"].shape == (min(n_added, 5), 3)
    fresh = ReplayBuffer(SPEC, 2, capacity=5)
    fresh.load_state_dict(state)
    assert (len(fresh), fresh.ptr) == (len(rb), rb.ptr)
    n = len(rb)
    for name in ("obs", "action", "reward", "next_obs", "not_terminal"):
        torch.testing.assert_close(getattr(fresh, name)[:n], getattr(rb, name)[:n])
    # Same sampling afterwards, and adds continue at the same slot.
    torch.testing.assert_close(fresh.sample(16, torch.Generator().manual_seed(1)).obs,
                               rb.sample(16, torch.Generator().manual_seed(1)).obs)
    rb.add(*_transition(99))
    fresh.add(*_transition(99))
    torch.testing.assert_close(fresh.obs[: len(fresh)], rb.obs[: len(rb)])


def test_state_dict_capacity_mismatch():
    rb = ReplayBuffer(SPEC, 2, capacity=5)
    rb.add(*_transition(1))
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(SPEC, 2, capacity=6).load_state_dict(rb.state_dict())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.gpu
def test_cuda_storage():
    rb = ReplayBuffer(SPEC, 2, capacity=10, device="cuda")
    rb.add(*_transition(1))
    b = rb.sample(4)
    assert all(t.is_cuda for t in b if t is not None)
    assert rb.state_dict()["obs"].device.type == "cpu"
