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

    def add(self, obs, action, reward, next_obs, terminated) -> None:
        """Add one transition, or a batch of them (leading dimension = number of transitions)."""
        obs = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device).reshape(-1, self.obs.shape[1])
        n = obs.shape[0]
        idx = (self.ptr + torch.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.action[idx] = torch.as_tensor(np.asarray(action, dtype=np.float32), device=self.device).reshape(n, -1)
        self.reward[idx] = torch.as_tensor(np.asarray(reward, dtype=np.float32), device=self.device).reshape(n, 1)
        self.next_obs[idx] = torch.as_tensor(np.asarray(next_obs, dtype=np.float32),
                                             device=self.device).reshape(n, -1)
        done = torch.as_tensor(np.asarray(terminated, dtype=np.float32), device=self.device).reshape(n, 1)
        self.not_done[idx] = 1.0 - done
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

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
