"""Replay of stacked uint8 frames (each frame stored once) with n-step returns, checked against a
hand computation of the stacks, rewards and discounts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlcore.envs import ObsSpec
from rlcore.replay import PrioritizedReplayBuffer, ReplayBuffer

K, C, H, W = 3, 3, 84, 84
GAMMA, N = 0.99, 3
PIXELS = ObsSpec((K * C, H, W), np.dtype(np.uint8), frame_stack=K)


def frame(t: int) -> np.ndarray:
    """A frame whose every pixel says which time step it is (t < 256)."""
    return np.full((C, H, W), t, dtype=np.uint8)


def stack(frames: list[int]) -> np.ndarray:
    return np.concatenate([frame(t) for t in frames], axis=0)


def episode(replay, start: int, length: int, terminal: bool, rewards) -> list[int]:
    """Feed one episode of frames start, start+1, ..., as an env with FrameStack(K) would stack
    them (the first frame repeated); returns the replay slots of its transitions."""
    history = [start] * K
    slots = []
    for i in range(length):
        t = start + i
        nxt = history[1:] + [t + 1]
        last = i == length - 1
        slots.append(int(replay.add(stack(history), np.full(2, i, np.float32), rewards[t], stack(nxt),
                                    terminated=last and terminal, truncated=last and not terminal)))
        history = nxt
    return slots


def expected(rewards, t: int, end: int, terminal: bool):
    """Hand-computed n-step reward, discount and the time step of the bootstrap state from t, in an
    episode whose transitions are t0..end-1 (end = index of its final observation)."""
    m = min(N, end - t)
    reward = sum(GAMMA ** j * rewards[t + j] for j in range(m))
    ends_in_terminal = terminal and t + m == end
    return reward, (0.0 if ends_in_terminal else GAMMA ** m), t + m


@pytest.mark.parametrize("cls", [ReplayBuffer, PrioritizedReplayBuffer])
def test_stacks_n_step_rewards_and_discounts(cls):
    replay = cls(PIXELS, 2, capacity=64, gamma=GAMMA, n_step=N)
    rewards = {t: float(t) / 10 + 1 for t in range(200)}
    # Episode A: frames 0..6 (6 transitions), ends in a terminal. Episode B: frames 10..14, time limit.
    slots_a = episode(replay, 0, 6, terminal=True, rewards=rewards)
    slots_b = episode(replay, 10, 4, terminal=False, rewards=rewards)
    assert replay.frames.dtype == torch.uint8
    # 6 + 1 and 4 + 1 frames, each stored once: no copy for next observations.
    assert len(replay) == 7 + 5 and replay.frames.shape == (64, C, H, W)

    cases = [(s, t, 6, True, 0) for t, s in enumerate(slots_a)] + \
            [(s, 10 + t, 14, False, 10) for t, s in enumerate(slots_b)]
    idx = torch.tensor([c[0] for c in cases])
    assert replay.ready[idx].all()
    b = replay.gather(idx)
    assert b.obs.dtype == torch.uint8 and b.obs.shape == (len(cases), K * C, H, W)
    for row, (slot, t, end, terminal, first) in enumerate(cases):
        hist = [max(first, t - j) for j in (2, 1, 0)]
        np.testing.assert_array_equal(b.obs[row].numpy(), stack(hist))
        reward, discount, boot = expected(rewards, t, end, terminal)
        assert b.reward[row, 0].item() == pytest.approx(reward, rel=1e-6)
        assert b.discount[row, 0].item() == pytest.approx(discount, rel=1e-6)
        np.testing.assert_array_equal(b.next_obs[row].numpy(), stack([max(first, boot - j) for j in (2, 1, 0)]))
        np.testing.assert_array_equal(b.action[row].numpy(), [t - first, t - first])
    # The final observations' slots start no transition.
    ready = set(replay.ready_indices().tolist())
    assert ready == {c[0] for c in cases}


def test_open_windows_wait_until_n_transitions_or_the_end():
    replay = ReplayBuffer(PIXELS, 2, capacity=32, gamma=GAMMA, n_step=N)
    rewards = {t: 1.0 for t in range(10)}
    history = [0] * K
    for t in range(4):  # an episode still running: 4 transitions
        nxt = history[1:] + [t + 1]
        replay.add(stack(history), np.zeros(2), 1.0, stack(nxt), False)
        history = nxt
    # Windows of 3 are complete for the transitions from t = 0 and t = 1 only.
    assert replay.ready_indices().tolist() == [0, 1]
    b = replay.sample(16)
    assert torch.allclose(b.reward, torch.full((16, 1), 1 + GAMMA + GAMMA ** 2))
    assert torch.allclose(b.discount, torch.full((16, 1), GAMMA ** 3))
    del rewards


def test_overwritten_frames_invalidate_the_stacks_that_read_them():
    replay = ReplayBuffer(PIXELS, 2, capacity=10, gamma=GAMMA, n_step=1)
    rewards = {t: 0.0 for t in range(100)}
    episode(replay, 0, 8, terminal=False, rewards=rewards)  # slots 0..8 (9 frames)
    episode(replay, 50, 3, terminal=False, rewards=rewards)  # wraps: frames 50..53 -> slots 9, 0, 1, 2
    for _ in range(20):
        b = replay.sample(32)
        # Every sampled stack is one episode's frames in order, never a mix across the overwrite.
        first = b.obs[:, 0, 0, 0].long()
        newest = b.obs[:, -1, 0, 0].long()
        nxt = b.next_obs[:, -1, 0, 0].long()
        assert ((newest - first) <= K - 1).all() and (newest >= first).all()
        assert (nxt == newest + 1).all()
    # Slots 3 and 4 hold frames 3 and 4 of the first episode, whose stacks read slots 1 and 2 (overwritten).
    assert not replay.ready[3] and not replay.ready[4] and replay.ready[5]


def test_n_step_with_flat_pairs_matches_hand_computation():
    spec = ObsSpec.flat(2)
    replay = ReplayBuffer(spec, 1, capacity=20, gamma=0.5, n_step=2)
    obs = [np.array([t, -t], np.float32) for t in range(6)]
    for t in range(5):  # one episode of 5 transitions, the last terminal
        replay.add(obs[t], [0.0], float(t + 1), obs[t + 1], terminated=t == 4)
    b = replay.gather(replay.ready_indices())
    assert b.reward[:, 0].tolist() == [1 + 0.5 * 2, 2 + 0.5 * 3, 3 + 0.5 * 4, 4 + 0.5 * 5, 5]
    assert b.discount[:, 0].tolist() == [0.25, 0.25, 0.25, 0.0, 0.0]
    np.testing.assert_array_equal(b.next_obs[:, 0].numpy(), [2, 3, 4, 5, 5])


def test_n1_pairs_sample_exactly_as_stored():
    replay = ReplayBuffer(ObsSpec.flat(3), 1, capacity=8, gamma=0.9)
    for t in range(5):
        replay.add(np.full(3, t), [t], t, np.full(3, t + 1), terminated=t == 2)
    b = replay.gather(torch.arange(5))
    assert b.discount[:, 0].tolist() == pytest.approx([0.9, 0.9, 0.0, 0.9, 0.9])
    assert b.reward[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_memory_per_step_of_stacked_frames():
    """One 3x84x84 uint8 frame per step: ~21 KB, so 100k steps fit in the 2.5 GB target."""
    replay = ReplayBuffer(PIXELS, 6, capacity=100, gamma=GAMMA, n_step=N)
    per_slot = sum(t.element_size() * t[0].numel() for t in
                   (replay.frames, replay.position, replay.action, replay.reward, replay.not_terminal,
                    replay.ends, replay.ready))
    assert 21_168 <= per_slot < 21_300
    assert per_slot * 100_000 < 2.5e9


def test_checkpoint_round_trip_keeps_open_episode():
    rewards = {t: float(t) for t in range(20)}
    a = ReplayBuffer(PIXELS, 2, capacity=16, gamma=GAMMA, n_step=N)
    b = ReplayBuffer(PIXELS, 2, capacity=16, gamma=GAMMA, n_step=N)
    history = [0] * K
    for t in range(2):
        nxt = history[1:] + [t + 1]
        a.add(stack(history), np.zeros(2), rewards[t], stack(nxt), False)
        history = nxt
    b.load_state_dict(a.state_dict())
    for r in (a, b):  # the episode goes on in both
        h = history
        for t in range(2, 5):
            nxt = h[1:] + [t + 1]
            r.add(stack(h), np.zeros(2), rewards[t], stack(nxt), t == 4)
            h = nxt
    ia, ib = a.ready_indices(), b.ready_indices()
    assert torch.equal(ia, ib) and len(ia) == 5
    ga, gb = a.gather(ia), b.gather(ib)
    for x, y in zip(ga[:5], gb[:5]):
        assert torch.equal(x, y)


@pytest.mark.parametrize("spec", [ObsSpec((9, 84, 84), np.dtype(np.uint8), 3), ObsSpec((3, 84, 84), np.dtype(np.uint8), 1),
                                  ObsSpec.flat(17)])
def test_replay_bytes_is_what_the_buffers_take(spec):
    from rlcore.replay import ReplayBuffer, replay_bytes

    replay = ReplayBuffer(spec, 6, 500)
    held = sum(t.nbytes for t in vars(replay).values() if isinstance(t, torch.Tensor))
    assert replay_bytes(spec, 6, 500) == held


def test_a_replay_that_cannot_fit_is_one_error_naming_the_bytes(monkeypatch):
    from rlcore import replay as replay_module
    from rlcore.config import ConfigError

    monkeypatch.setattr(replay_module, "available_bytes", lambda device: 2**30)  # 1 GiB free
    spec = ObsSpec((9, 84, 84), np.dtype(np.uint8), 3)
    with pytest.raises(ConfigError, match=r"^budget.replay_size=1000000 is invalid: .* need 19\.\d\d GiB, 1\.00 GiB free"):
        replay_module.make_replay(spec, 6, 1_000_000, "cpu", gamma=0.99, n_step=3)
    replay_module.make_replay(spec, 6, 1_000, "cpu", gamma=0.99, n_step=3)  # 21 MB fits
