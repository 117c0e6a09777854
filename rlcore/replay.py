"""Uniform replay stored as tensors on the learner's device (no host->device copy per batch)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class Batch(NamedTuple):
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor  # (B, 1)
    next_obs: torch.Tensor
    not_done: torch.Tensor  # (B, 1): 0 only for true terminals, never for time-limit truncation


class ReplayBuffer:
    def __init__(self, obs_dim: int, action_dim: int, capacity: int, device: torch.device | str = "cpu"):
        if capacity < 1:
            raise ValueError(f"capacity={capacity!r} is invalid: expected an integer >= 1")
        self.capacity = int(capacity)
        self.device = torch.device(device)
        f32 = dict(dtype=torch.float32, device=self.device)
        self.obs = torch.empty((capacity, obs_dim), **f32)
        self.action = torch.empty((capacity, action_dim), **f32)
        self.reward = torch.empty((capacity, 1), **f32)
        self.next_obs = torch.empty((capacity, obs_dim), **f32)
        self.not_done = torch.empty((capacity, 1), **f32)
        self.ptr = 0  # next slot to write
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminated) -> torch.Tensor:
        """Add one transition, or a batch of them (leading dimension = number of transitions).
        Returns the slots written."""
        # np.array copies: arrays from other processes (e.g. Ray's zero-copy buffers) may be read-only,
        # which torch.as_tensor warns about.
        tensor = lambda x: torch.as_tensor(np.array(x, dtype=np.float32), device=self.device)
        obs = tensor(obs).reshape(-1, self.obs.shape[1])
        n = obs.shape[0]
        idx = (self.ptr + torch.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.action[idx] = tensor(action).reshape(n, -1)
        self.reward[idx] = tensor(reward).reshape(n, 1)
        self.next_obs[idx] = tensor(next_obs).reshape(n, -1)
        self.not_done[idx] = 1.0 - tensor(terminated).reshape(n, 1)
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        return idx

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return Batch(self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.not_done[idx])

    def gather(self, idx: torch.Tensor) -> Batch:
        """The transitions at the given slots (e.g. a fixed evaluation set)."""
        return Batch(self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.not_done[idx])

    # Checkpointing: only the filled part travels.
    def state_dict(self) -> dict:
        n = self.size
        return {"obs": self.obs[:n].cpu(), "action": self.action[:n].cpu(), "reward": self.reward[:n].cpu(),
                "next_obs": self.next_obs[:n].cpu(), "not_done": self.not_done[:n].cpu(),
                "ptr": self.ptr, "size": self.size, "capacity": self.capacity}

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"replay capacity {state['capacity']} in checkpoint != configured {self.capacity}")
        n = state["size"]
        for name in ("obs", "action", "reward", "next_obs", "not_done"):
            getattr(self, name)[:n] = state[name].to(self.device)
        self.ptr, self.size = state["ptr"], n


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


class PrioritizedBatch(NamedTuple):
    batch: Batch
    indices: torch.Tensor  # replay slots, for the priority update
    weights: torch.Tensor  # (B, 1) importance-sampling weights, max 1


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016), as Ape-X uses it.

    P(i) = p_i^alpha / sum_k p_k^alpha with p_i = |TD error| + eps; new transitions get the largest
    priority seen so far, so each is replayed at least once with high probability. Importance
    weights w_i = (N P(i))^-beta, divided by their maximum over the batch (Schaul et al.'s
    normalization), correct the bias; beta is annealed from `beta` to 1 by the caller
    (`set_beta`). Sampling is stratified: one draw from each of B equal slices of the total mass.
    """

    def __init__(self, obs_dim: int, action_dim: int, capacity: int, device: torch.device | str = "cpu",
                 alpha: float = 0.6, beta: float = 0.4, eps: float = 1e-6):
        super().__init__(obs_dim, action_dim, capacity, device)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha={alpha!r} is invalid: expected a number in [0, 1]")
        self.alpha, self.beta, self.eps = alpha, beta, eps
        self.tree = SumTree(self.capacity, self.device)
        # Kept on the device, so that neither adding nor updating priorities waits for it.
        self._max_priority = torch.ones((), dtype=torch.float64, device=self.device)

    @property
    def max_priority(self) -> float:
        return float(self._max_priority)

    def set_beta(self, beta: float) -> None:
        self.beta = float(min(1.0, max(0.0, beta)))

    def add(self, obs, action, reward, next_obs, terminated) -> torch.Tensor:
        idx = super().add(obs, action, reward, next_obs, terminated)
        self.tree.update(idx, self._max_priority.pow(self.alpha).expand(len(idx)))
        return idx

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> PrioritizedBatch:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        total = self.tree.total
        edges = torch.arange(batch_size, device=self.device, dtype=torch.float64)
        u = torch.rand(batch_size, device=self.device, dtype=torch.float64, generator=generator)
        idx = self.tree.find((edges + u) / batch_size * total)
        idx = idx.clamp_max(self.size - 1)
        prob = self.tree.priorities(idx) / total
        weights = (self.size * prob).pow(-self.beta)
        weights = (weights / weights.max()).to(torch.float32).unsqueeze(1)
        return PrioritizedBatch(self.gather(idx), idx, weights)

    def update_priorities(self, indices: torch.Tensor, td_errors: torch.Tensor) -> None:
        priority = td_errors.detach().abs().to(torch.float64).reshape(-1) + self.eps
        self._max_priority = torch.maximum(self._max_priority, priority.max().to(self._max_priority))
        self.tree.update(indices, priority.pow(self.alpha))

    def state_dict(self) -> dict:
        return {**super().state_dict(), "tree": self.tree.tree.cpu(), "max_priority": self.max_priority,
                "beta": self.beta}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tree.tree.copy_(state["tree"].to(self.device))
        self._max_priority = torch.as_tensor(state["max_priority"], dtype=torch.float64).to(self.device)
        self.beta = state["beta"]
