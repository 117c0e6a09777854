"""Replay buffers: uniform and prioritized, stored as tensors in the observation's own dtype
(float32 states, uint8 frames), with n-step returns as a sampling option.

Storage and output devices are separate: the buffers live on `storage_device` (the learner's device,
or the host when they do not fit there: `make_replay` chooses), every batch is assembled there and
moved to the learner's `device` in one transfer per batch (from a GPU learner's host storage the
batch's observations are gathered into pinned memory, so the copy runs asynchronously).

Two layouts, chosen by the observation spec:
  pairs   (frame_stack = 1) each slot holds one transition (s, a, r, s', terminal), s and s' whole;
  frames  (frame_stack = k > 1) each slot holds the newest frame of one time step, once; an
          episode's final observation gets a slot of its own (no transition starts there). A
          stack is assembled at sample time from the slot and its k-1 predecessors, the episode's
          first frame repeated before its start, as the environment's FrameStack does.
Either way the transitions of one episode must arrive in order when n > 1 or k > 1 (the serial
loop); with n = 1 and k = 1 any order works (the Ape-X collector's interleaved batches).

Every sample is a `Batch` whose `reward` is the n-step discounted sum and whose `discount` is
gamma^m times not-terminal, m <= n the steps actually taken, so every Bellman target is
`reward + discount * V(next_obs)`. A time-limit truncation ends the sum but is not terminal (its
`discount` stays gamma^m). Within n steps of an episode's end a window is shorter (m < n:
`partial_windows=True`, the Ape-X / Rainbow convention) or never sampled (`False`: DrQ-v2 samples
only starts with n steps left in their episode). A slot is sampled only once its window is
complete and, for frames, its whole stack is still stored.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .config import REPLAY_STORAGES, ConfigError
from .envs import ObsSpec


class Batch(NamedTuple):
    obs: torch.Tensor       # (B, *obs_shape), the observation's dtype
    action: torch.Tensor    # (B, action_dim)
    reward: torch.Tensor    # (B, 1): sum_{j<m} gamma^j r_{t+j}
    next_obs: torch.Tensor  # (B, *obs_shape): s_{t+m}
    discount: torch.Tensor  # (B, 1): gamma^m, 0 when s_{t+m} is a true terminal (never for a time limit)
    weights: torch.Tensor | None = None  # (B, 1) importance-sampling weights (prioritized replay)
    indices: torch.Tensor | None = None  # replay slots, for the priority update (prioritized replay)


def _torch_dtype(dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=np.dtype(dtype))).dtype


class ReplayBuffer:
    """Uniform replay. `add` takes one transition or a batch of them (leading dimension).

    The buffers live on `storage_device` (None: `device`); batches are returned on `device`."""

    def __init__(self, spec: ObsSpec, action_dim: int, capacity: int, device: torch.device | str = "cpu",
                 gamma: float = 0.99, n_step: int = 1, partial_windows: bool = True, *,
                 storage_device: torch.device | str | None = None):
        if not isinstance(spec, ObsSpec):
            raise TypeError(f"spec must be an ObsSpec (rlcore.envs.obs_spec(env)), got {type(spec).__name__}")
        if n_step < 1:
            raise ValueError(f"n_step={n_step!r} is invalid: expected an integer >= 1")
        if capacity < n_step + spec.frame_stack + 1:
            raise ValueError(f"capacity={capacity!r} is invalid: expected an integer >= n_step + frame_stack + 1")
        self.spec, self.capacity, self.gamma, self.n_step = spec, int(capacity), float(gamma), int(n_step)
        self.partial_windows = bool(partial_windows)
        self.device = torch.device(device)
        self.storage_device = dev = self.device if storage_device is None else torch.device(storage_device)
        # Host storage, GPU learner: batches are gathered into pinned memory and copied asynchronously.
        # (The storage itself is not pinned: a gathered batch is a new tensor anyway, and the pinned
        # allocator rounds a block up to a power of two, which for a large replay could be GiBs more.)
        self._pin = dev.type == "cpu" and self.device.type == "cuda"
        self.stacked = spec.frame_stack > 1
        dtype = _torch_dtype(spec.dtype)
        if self.stacked:
            self.frames = torch.empty((capacity, *spec.frame_shape), dtype=dtype, device=dev)
            # Position of each slot's frame in its episode, clamped at k: how far back its stack reaches.
            self.position = torch.zeros(capacity, dtype=torch.int64, device=dev)
        else:
            self.obs = torch.empty((capacity, *spec.shape), dtype=dtype, device=dev)
            self.next_obs = torch.empty((capacity, *spec.shape), dtype=dtype, device=dev)
        f32 = dict(dtype=torch.float32, device=dev)
        self.action = torch.empty((capacity, action_dim), **f32)
        # Zeros, not empty: an n-step window may read (and mask out) slots written by no transition.
        self.reward = torch.zeros((capacity, 1), **f32)
        self.not_terminal = torch.zeros((capacity, 1), **f32)
        self.ends = torch.zeros(capacity, dtype=torch.bool, device=dev)  # episode ends after it
        self.ready = torch.zeros(capacity, dtype=torch.bool, device=dev)
        self.ptr = 0  # next slot to write
        self.size = 0  # slots written (frames layout: incl. final-observation slots)
        self._pending: list[int] = []  # transitions of the open episode whose n-step window is open
        self._current: int | None = None  # frames layout: the slot holding the latest observation
        self._last: int | None = None  # the open episode's latest transition
        self._current_position = 0

    def __len__(self) -> int:
        return self.size

    # ---- writing ----------------------------------------------------------------------------
    def add(self, obs, action, reward, next_obs, terminated, truncated=False) -> torch.Tensor:
        """Add one transition or a batch (leading dimension); returns the slots of their start."""
        # np.array copies: arrays from other processes (e.g. Ray's zero-copy buffers) may be read-only,
        # which torch.as_tensor warns about.
        tensor = lambda x, dtype=np.float32: torch.as_tensor(np.array(x, dtype=dtype), device=self.storage_device)
        obs_dtype = np.dtype(self.spec.dtype)
        obs = tensor(obs, obs_dtype).reshape(-1, *self.spec.shape)
        m = obs.shape[0]
        next_obs = tensor(next_obs, obs_dtype).reshape(m, *self.spec.shape)
        action = tensor(action).reshape(m, -1)
        reward = tensor(reward).reshape(m, 1)
        not_terminal = 1.0 - tensor(terminated).reshape(m, 1)
        ends = tensor(np.logical_or(np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)),
                      bool).reshape(-1).expand(m)
        if self.stacked:
            return torch.tensor([self._add_stacked(obs[i], action[i], reward[i], next_obs[i], not_terminal[i],
                                                   bool(ends[i])) for i in range(m)], device=self.storage_device)
        idx = (self.ptr + torch.arange(m, device=self.storage_device)) % self.capacity
        if self.n_step > 1:  # with n = 1 the slots are ready again below
            self._unready(idx)
        self.obs[idx], self.next_obs[idx], self.action[idx] = obs, next_obs, action
        self.reward[idx], self.not_terminal[idx], self.ends[idx] = reward, not_terminal, ends
        self.ptr = (self.ptr + m) % self.capacity
        self.size = min(self.size + m, self.capacity)
        if self.n_step == 1:  # every transition is complete as it arrives
            self._make_ready(idx)
        else:
            for i, slot in enumerate(idx.tolist()):
                self._advance_window(slot, bool(ends[i]))
        return idx

    def _add_stacked(self, obs, action, reward, next_obs, not_terminal, ends: bool) -> int:
        if self._current is None:  # an episode starts: its first observation gets a slot
            self._current = self._write_frame(obs, 0)
        c = self._current
        self.action[c], self.reward[c], self.not_terminal[c], self.ends[c] = action, reward, not_terminal, ends
        nxt = self._write_frame(next_obs, min(self._current_position + 1, self.spec.frame_stack))
        self._current = nxt  # after an episode's end, `nxt` is its final observation (reset below)
        self._advance_window(c, ends)
        return c

    def _write_frame(self, obs: torch.Tensor, position: int) -> int:
        p, k = self.ptr, self.spec.frame_stack
        # Overwriting slot p breaks the stacks that read it: p itself and the k-1 slots after it.
        self._unready((p + torch.arange(k, device=self.storage_device)) % self.capacity)
        self.frames[p] = obs[-self.spec.frame_shape[0]:]  # the newest frame of the stack
        self.position[p] = position
        self._current_position = position  # kept on the host: no device sync per step
        self.ends[p] = False
        self.ptr = (p + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return p

    def _advance_window(self, slot: int, ends: bool) -> None:
        """Transition `slot` was written: windows of n transitions (or up to the episode's end) close."""
        self._pending.append(slot)
        self._last = slot
        if ends:
            self._close_episode()
        elif len(self._pending) == self.n_step:
            self._make_ready(torch.tensor(self._pending[:1], device=self.storage_device))
            self._pending = self._pending[1:]

    def _close_episode(self) -> None:
        closed = self._pending
        if not self.partial_windows:  # only a window that still holds n transitions
            closed = closed[: max(0, len(closed) - self.n_step + 1)]
        if closed:
            self._make_ready(torch.tensor(closed, device=self.storage_device))
        self._pending, self._current, self._last = [], None, None

    def end_episode(self) -> None:
        """End the open episode by truncation (not a terminal), e.g. when a resumed run starts a
        fresh one: its windows close, and the next `add` starts a new episode (frames layout: the
        slot after its last transition becomes its final observation)."""
        if self._last is not None:
            self.ends[self._last] = True
        self._close_episode()

    def _make_ready(self, idx: torch.Tensor) -> None:
        self.ready[idx] = True

    def _unready(self, idx: torch.Tensor) -> None:
        self.ready[idx] = False

    # ---- reading ----------------------------------------------------------------------------
    def ready_indices(self) -> torch.Tensor:
        """Slots a transition can be sampled from, in slot order (on the storage device)."""
        return torch.nonzero(self.ready[: self.size]).squeeze(-1)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        # Drawn where the buffers are (a `generator` must be on that device).
        idx = torch.randint(0, self.size, (batch_size,), device=self.storage_device, generator=generator)
        if not (self.n_step == 1 and not self.stacked):  # there, every written slot is ready
            for _ in range(1000):  # uniform over ready slots: redraw the others
                bad = ~self.ready[idx]
                if not bad.any():
                    break
                idx[bad] = torch.randint(0, self.size, (int(bad.sum()),), device=self.storage_device,
                                         generator=generator)
            else:
                raise RuntimeError("the replay holds no complete transition to sample yet")
        return self.gather(idx)

    def gather(self, idx: torch.Tensor) -> Batch:
        """The transitions starting at the given (ready) slots (indices on either device), on `device`."""
        return self._deliver(self._gather(idx))

    def _gather(self, idx: torch.Tensor) -> Batch:
        """The batch, assembled on the storage device."""
        idx = idx.to(self.storage_device)
        if self.n_step == 1:
            reward, discount, steps = self.reward[idx], self.gamma * self.not_terminal[idx], 1
            last = idx
        else:
            reward, steps, last, discount = self._n_step(idx)
        obs = self._stack(idx) if self.stacked else self._take(self.obs, idx)
        if self.stacked:
            next_obs = self._stack((idx + steps) % self.capacity)
        else:
            next_obs = self._take(self.next_obs, last)
        return Batch(obs, self.action[idx], reward, next_obs, discount)

    def _take(self, source: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """source[idx] for 1-d `idx`; into pinned memory when the batch goes from the host to a GPU."""
        if not self._pin:
            return source[idx]
        out = torch.empty((len(idx), *source.shape[1:]), dtype=source.dtype, pin_memory=True)
        return torch.index_select(source, 0, idx, out=out)

    def _deliver(self, batch: Batch) -> Batch:
        """The batch on `device`: one transfer per tensor, asynchronous from pinned memory."""
        if self.storage_device == self.device:
            return batch
        # The pinned allocator keeps a block until its copy is done, so the host tensors can go.
        return Batch(*(None if t is None else t.to(self.device, non_blocking=self._pin) for t in batch))

    def _n_step(self, idx: torch.Tensor):
        """Discounted reward sums over up to n transitions of the same episode from each slot."""
        offsets = torch.arange(self.n_step, device=self.storage_device)
        window = (idx.unsqueeze(1) + offsets) % self.capacity  # (B, n)
        ends = self.ends[window].float()
        # alive[:, j] = 1 while no transition before j ended the episode
        alive = torch.cumprod(torch.cat([torch.ones_like(ends[:, :1]), 1.0 - ends[:, :-1]], 1), 1)
        powers = self.gamma ** offsets.to(torch.float32)
        rewards = torch.where(alive.bool(), self.reward[window].squeeze(-1), 0.0)  # other episodes' slots
        reward = (powers * rewards).sum(1, keepdim=True)
        steps = alive.sum(1).long()  # m: transitions summed
        last = (idx + steps - 1) % self.capacity
        discount = (self.gamma ** steps.to(torch.float32)).unsqueeze(1) * self.not_terminal[last]
        return reward, steps, last, discount

    def _stack(self, slots: torch.Tensor) -> torch.Tensor:
        """(B, k*C, ...) stacks ending at `slots`, the episode's first frame repeated before it."""
        k = self.spec.frame_stack
        back = torch.arange(k - 1, -1, -1, device=self.storage_device)  # k-1, ..., 0 frames before the slot
        back = torch.minimum(back.unsqueeze(0), self.position[slots].unsqueeze(1))
        frames = self._take(self.frames, ((slots.unsqueeze(1) - back) % self.capacity).reshape(-1))  # (B k, C, ...)
        return frames.reshape(slots.shape[0], *self.spec.shape)

    # ---- checkpointing: only the written part travels ------------------------------------------
    def _arrays(self) -> tuple[str, ...]:
        obs = ("frames", "position") if self.stacked else ("obs", "next_obs")
        return obs + ("action", "reward", "not_terminal", "ends", "ready")

    def state_dict(self) -> dict:
        n = self.size
        return {**{name: getattr(self, name)[:n].cpu() for name in self._arrays()},
                "ptr": self.ptr, "size": self.size, "capacity": self.capacity, "pending": list(self._pending),
                "current": self._current, "last": self._last, "current_position": self._current_position}

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"replay capacity {state['capacity']} in checkpoint != configured {self.capacity}")
        n = state["size"]
        for name in self._arrays():
            getattr(self, name)[:n] = state[name].to(self.storage_device)
        self.ptr, self.size = state["ptr"], n
        self._pending, self._current, self._last = list(state["pending"]), state["current"], state["last"]
        self._current_position = state["current_position"]


class SumTree:
    """Binary sum tree over `capacity` leaf priorities, as tensors on one device (Schaul et al. 2016).

    Leaves live at [size, 2 * size) of a flat array (size = capacity rounded up to a power of two);
    node i holds the sum of nodes 2i and 2i+1. Updates and samples are vectorized over a batch:
    one pass per tree level, no Python loop over transitions."""

    def __init__(self, capacity: int, device: torch.device | str = "cpu"):
        self.capacity = int(capacity)
        self.size = 1 << max(0, (self.capacity - 1).bit_length())
        self.depth = self.size.bit_length() - 1
        self.tree = torch.zeros(2 * self.size, dtype=torch.float64, device=device)

    @property
    def total(self) -> torch.Tensor:
        return self.tree[1]

    def priorities(self, idx: torch.Tensor) -> torch.Tensor:
        return self.tree[idx + self.size]

    def update(self, idx: torch.Tensor, priority: torch.Tensor) -> None:
        """Set leaf priorities (the last write wins for repeated indices) and recompute the sums above."""
        node = idx.to(self.tree.device).long() + self.size
        self.tree[node] = priority.to(self.tree)
        for _ in range(self.depth):
            node = torch.unique(node // 2)
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]

    def find(self, mass: torch.Tensor) -> torch.Tensor:
        """For each value in [0, total), the leaf whose cumulative-priority interval contains it."""
        node = torch.ones_like(mass, dtype=torch.long)
        mass = mass.to(self.tree).clone()
        for _ in range(self.depth):
            left = self.tree[2 * node]
            right = mass >= left
            mass = torch.where(right, mass - left, mass)
            node = 2 * node + right.long()
        return (node - self.size).clamp_max(self.capacity - 1)


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016), as Ape-X uses it.

    P(i) = p_i^alpha / sum_k p_k^alpha with p_i = |TD error| + eps; a transition gets the largest
    priority seen so far once it can be sampled (zero before, and again once overwritten), so each
    is replayed at least once with high probability. Importance weights w_i = (N P(i))^-beta,
    divided by their maximum over the batch (Schaul et al.'s normalization), correct the bias; beta
    is annealed from `beta` to 1 by the caller (`set_beta`). Sampling is stratified: one draw from
    each of B equal slices of the total mass. A batch carries `weights` and `indices`. The sum tree
    lives with the buffers, on the storage device.
    """

    def __init__(self, spec: ObsSpec, action_dim: int, capacity: int, device: torch.device | str = "cpu",
                 gamma: float = 0.99, n_step: int = 1, partial_windows: bool = True, alpha: float = 0.6,
                 beta: float = 0.4, eps: float = 1e-6, *, storage_device: torch.device | str | None = None):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha={alpha!r} is invalid: expected a number in [0, 1]")
        self.alpha, self.beta, self.eps = alpha, beta, eps
        storage = torch.device(device if storage_device is None else storage_device)
        self.tree = SumTree(capacity, storage)
        # Kept on the device, so that neither adding nor updating priorities waits for it.
        self._max_priority = torch.ones((), dtype=torch.float64, device=storage)
        super().__init__(spec, action_dim, capacity, device, gamma, n_step, partial_windows, storage_device=storage)

    @property
    def max_priority(self) -> float:
        return float(self._max_priority)

    def set_beta(self, beta: float) -> None:
        self.beta = float(min(1.0, max(0.0, beta)))

    def _make_ready(self, idx: torch.Tensor) -> None:
        super()._make_ready(idx)
        self.tree.update(idx, self._max_priority.pow(self.alpha).expand(len(idx)))

    def _unready(self, idx: torch.Tensor) -> None:
        # Unconditionally (asking whether any was ready would wait for the device).
        self.tree.update(idx, torch.zeros(len(idx), dtype=torch.float64, device=self.storage_device))
        super()._unready(idx)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        total = self.tree.total
        if self.n_step > 1 or self.stacked:  # slots can be written but not ready yet (n = 1 pairs: never)
            if float(total) == 0.0:
                raise RuntimeError("the replay holds no complete transition to sample yet")
        edges = torch.arange(batch_size, device=self.storage_device, dtype=torch.float64)
        u = torch.rand(batch_size, device=self.storage_device, dtype=torch.float64, generator=generator)
        idx = self.tree.find((edges + u) / batch_size * total)
        idx = idx.clamp_max(self.size - 1)
        prob = self.tree.priorities(idx) / total
        weights = (self.size * prob).pow(-self.beta)
        weights = (weights / weights.max()).to(torch.float32).unsqueeze(1)
        return self._deliver(self._gather(idx)._replace(weights=weights, indices=idx))

    def update_priorities(self, indices: torch.Tensor, td_errors: torch.Tensor) -> None:
        """Priorities from the TD errors of the transitions at `indices` (both on either device)."""
        # Host storage, GPU learner: this copy waits for the update (the tree is on the host).
        td_errors = td_errors.detach().reshape(-1).to(self.storage_device)
        priority = td_errors.abs().to(torch.float64) + self.eps
        self._max_priority = torch.maximum(self._max_priority, priority.max().to(self._max_priority))
        self.tree.update(indices, priority.pow(self.alpha))

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tree": self.tree.tree.cpu(), "max_priority": self.max_priority,
                "beta": self.beta}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tree.tree.copy_(state["tree"].to(self.storage_device))
        self._max_priority = torch.as_tensor(state["max_priority"], dtype=torch.float64).to(self.storage_device)
        self.beta = state["beta"]


def replay_bytes(spec: ObsSpec, action_dim: int, capacity: int) -> int:
    """Bytes the buffers of a uniform ReplayBuffer take (a prioritized one adds its sum tree,
    16 bytes per slot rounded up to a power of two): observations (each frame once when stacked,
    else s and s' whole), float32 actions, rewards and terminal flags, positions and masks."""
    itemsize = np.dtype(spec.dtype).itemsize
    if spec.frame_stack > 1:
        obs = int(np.prod(spec.frame_shape)) * itemsize + 8  # one frame + its int64 position
    else:
        obs = 2 * int(np.prod(spec.shape)) * itemsize
    return capacity * (obs + 4 * action_dim + 4 + 4 + 1 + 1)


def available_bytes(device: torch.device | str) -> int | None:
    """Free memory on `device`: the GPU's free memory, or the host's available RAM (Linux); None
    when unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# A GPU learner needs room beside an automatically placed replay (activations, optimizer steps):
# "auto" stores the replay there only if this much stays free.
LEARNER_RESERVE = 1 << 30


def choose_storage(needed: int, learner: torch.device | str, free_on, storage: str = "auto",
                   reserve: int = LEARNER_RESERVE) -> tuple[torch.device | None, list[tuple[torch.device, int | None]]]:
    """Where a replay of `needed` bytes lives for a learner on `learner`: "device" on the learner's
    device, "host" on the CPU, "auto" on the learner's device if it fits there (keeping `reserve`
    bytes free when the host is left to fall back on), else on the host. A CPU learner's replay is on
    the CPU whatever `storage` says. `free_on(device)` is the free bytes (None: unknown, taken to
    fit). Returns the device (None when it fits on none) and (device, free bytes) of each tried."""
    if storage not in REPLAY_STORAGES:
        raise ValueError(f"storage={storage!r} is invalid: expected one of {', '.join(map(repr, REPLAY_STORAGES))}")
    learner, host = torch.device(learner), torch.device("cpu")
    candidates = {"device": [learner], "host": [host], "auto": [learner, host]}[storage]
    if learner.type == "cpu":
        candidates = [learner]
    tried = []
    for i, device in enumerate(candidates):
        free = free_on(device)
        tried.append((device, free))
        keep = reserve if i < len(candidates) - 1 else 0
        if free is None or needed + keep <= free:
            return device, tried
    return None, tried


def check_fits(spec: ObsSpec, action_dim: int, capacity: int, device: torch.device | str,
               storage: str = "device") -> torch.device:
    """The device a replay for a learner on `device` is stored on (`choose_storage`); a replay that
    fits on none is one clear error naming the bytes, before any is allocated."""
    needed = replay_bytes(spec, action_dim, capacity)
    chosen, tried = choose_storage(needed, device, available_bytes, storage)
    if chosen is None:
        free = ", ".join(f"{f / 2**30:.2f} GiB free on {d}" for d, f in tried)
        raise ConfigError("budget.replay_size", capacity,
                          f"a capacity whose replay fits: {capacity:,} slots of {spec.shape} {np.dtype(spec.dtype).name} "
                          f"need {needed / 2**30:.2f} GiB, {free}")
    return chosen


def make_replay(spec: ObsSpec, action_dim: int, capacity: int, device, *, gamma: float, n_step: int,
                partial_windows: bool = True, prioritized: bool = False, alpha: float = 0.6,
                beta: float = 0.4, storage: str = "auto") -> ReplayBuffer:
    """The replay a run's config asks for, returning batches on `device` and stored where
    `storage` says (`choose_storage`; "auto": the device's free memory, else the host's), checked to
    fit first. `replay.storage_device` says where it went."""
    storage_device = check_fits(spec, action_dim, capacity, device, storage)
    if prioritized:
        return PrioritizedReplayBuffer(spec, action_dim, capacity, device, gamma, n_step, partial_windows,
                                       alpha=alpha, beta=beta, storage_device=storage_device)
    return ReplayBuffer(spec, action_dim, capacity, device, gamma, n_step, partial_windows,
                        storage_device=storage_device)
