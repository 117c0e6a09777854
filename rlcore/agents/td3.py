"""Twin Delayed DDPG (Fujimoto et al. 2018): clipped double Q, target policy smoothing, delayed
actor and target updates."""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..config import AgentConfig
from ..nets import build_trunk
from ..replay import Batch
from .common import Agent, critic_loss, make_adam, requires_grad, soft_update


class DeterministicActor(torch.nn.Module):
    def __init__(self, cfg: AgentConfig, obs_dim: int, action_dim: int):
        super().__init__()
        self.trunk = build_trunk(cfg.actor, obs_dim, action_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.trunk(obs))


class TD3(Agent):
    def __init__(self, cfg: AgentConfig, obs_dim: int, action_dim: int, device: torch.device | str = "cpu"):
        self.cfg, self.device = cfg, torch.device(device)
        self.actor = DeterministicActor(cfg, obs_dim, action_dim).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).eval()
        self.critic = build_trunk(cfg.critic, obs_dim + action_dim, 1, n=2).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).eval()
        requires_grad(self.actor_target, False)
        requires_grad(self.critic_target, False)
        self.modules = {"actor": self.actor, "actor_target": self.actor_target,
                        "critic": self.critic, "critic_target": self.critic_target}
        self.optimizers = {"actor": make_adam(self.actor.parameters(), cfg.actor_lr),
                           "critic": make_adam(self.critic.parameters(), cfg.critic_lr)}
        self.updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        self._train_mode(False)
        action = self.actor(self._obs_tensor(obs))[0]
        if explore:  # Gaussian exploration noise N(0, 0.1) in the [-1, 1] action scale
            action = (action + self.cfg.exploration_noise * torch.randn_like(action)).clamp(-1.0, 1.0)
        return action.cpu().numpy()

    def q_values(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.critic(torch.cat([obs, action], dim=-1))

    def update(self, b: Batch) -> dict[str, torch.Tensor]:
        self._train_mode(True)
        cfg = self.cfg
        with torch.no_grad():
            noise = (cfg.policy_noise * torch.randn_like(b.action)).clamp(-cfg.noise_clip, cfg.noise_clip)
            next_action = (self.actor_target(b.next_obs) + noise).clamp(-1.0, 1.0)
            next_q = self.critic_target(torch.cat([b.next_obs, next_action], -1)).min(dim=0).values
            target_q = b.reward + cfg.gamma * b.not_done * next_q
        q = self.q_values(b.obs, b.action)
        loss_q = critic_loss(q, target_q, cfg.critic_loss)
        self.optimizers["critic"].zero_grad(set_to_none=True)
        loss_q.backward()
        self.optimizers["critic"].step()
        self.updates += 1
        metrics = {"critic_loss": loss_q.detach(), "q_mean": q.detach().mean()}

        if self.updates % cfg.policy_delay == 0:
            requires_grad(self.critic, False)
            loss_pi = -self.q_values(b.obs, self.actor(b.obs))[0].mean()  # Q1 only, as in TD3
            self.optimizers["actor"].zero_grad(set_to_none=True)
            loss_pi.backward()
            self.optimizers["actor"].step()
            requires_grad(self.critic, True)
            soft_update(self.actor_target, self.actor, cfg.tau)
            soft_update(self.critic_target, self.critic, cfg.tau)
            metrics["actor_loss"] = loss_pi.detach()
        return metrics

    def _extra_state(self) -> dict:
        return {"updates": self.updates}

    def _load_extra_state(self, extra: dict) -> None:
        self.updates = extra["updates"]
