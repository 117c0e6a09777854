"""Twin Delayed DDPG (Fujimoto et al. 2018): clipped double Q, target policy smoothing, delayed
actor and target updates."""

from __future__ import annotations

import numpy as np
import torch

from ..config import AgentConfig
from ..nets import build_trunk
from ..replay import Batch
from ..analysis.gradients import global_grad_norm
from .common import Agent, critic_loss, make_adam, make_target, requires_grad, soft_update


class DeterministicActor(torch.nn.Module):
    def __init__(self, cfg: AgentConfig, in_dim: int, action_dim: int):
        super().__init__()
        self.trunk = build_trunk(cfg.actor, in_dim, action_dim)

    def forward(self, z_s: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.trunk(z_s))


class TD3(Agent):
    def __init__(self, cfg: AgentConfig, obs_dim: int, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        self.cfg, self.device = cfg, torch.device(device)
        self.modules, self.optimizers = {}, {}
        self._attach_extractor(cfg, obs_dim, action_dim, env_id)
        features = self.extractor
        self.actor = DeterministicActor(cfg, features.state_dim, action_dim).to(self.device)
        self.actor_target = make_target(self.actor, cfg.sn_target)
        self.critic = build_trunk(cfg.critic, features.state_action_dim, 1, n=2).to(self.device)
        self.critic_target = make_target(self.critic, cfg.sn_target)
        self.modules.update(actor=self.actor, actor_target=self.actor_target,
                            critic=self.critic, critic_target=self.critic_target)
        self.optimizers.update(actor=make_adam(self.actor.parameters(), cfg.actor_lr),
                               critic=make_adam(self.critic.parameters(), cfg.critic_lr))
        self.updates = 0
        self._measure_actor = False

    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        """Actions for a batch of observations (N, obs_dim) -> (N, action_dim)."""
        self._train_mode(False)
        obs = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        action = self.actor(self.extractor.state_features(obs))
        if explore:  # Gaussian exploration noise N(0, 0.1) in the [-1, 1] action scale
            action = (action + self.cfg.exploration_noise * torch.randn_like(action)).clamp(-1.0, 1.0)
        return action.cpu().numpy()

    def q_values(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(2, B, 1) Q estimates of both critics."""
        features = self.extractor
        return self.critic(features.state_action_features(features.state_features(obs), action))

    def update(self, b: Batch, diagnostics: bool = False, weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        self._train_mode(True)
        cfg, features, target_features = self.cfg, self.extractor, self.extractor_target
        with torch.no_grad():
            z_s = features.state_features(b.obs)
            z_sa = features.state_action_features(z_s, b.action)
            z_next = target_features.state_features(b.next_obs)
            noise = (cfg.policy_noise * torch.randn_like(b.action)).clamp(-cfg.noise_clip, cfg.noise_clip)
            next_action = (self.actor_target(z_next) + noise).clamp(-1.0, 1.0)
            next_q = self.critic_target(target_features.state_action_features(z_next, next_action)).min(dim=0).values
            target_q = b.reward + cfg.gamma * b.not_done * next_q
        q = self.critic(z_sa)
        loss_q = critic_loss(q, target_q, cfg.critic_loss, weights)
        # |TD error| per transition, averaged over the critics: the new priorities under prioritized replay.
        self.td_errors = (q.detach() - target_q).abs().mean(0).squeeze(-1)
        self.optimizers["critic"].zero_grad(set_to_none=True)
        loss_q.backward()
        if diagnostics:
            critic_grad_norm = global_grad_norm(self.critic)
        self.optimizers["critic"].step()
        self.updates += 1
        metrics = {"critic_loss": loss_q.detach(), "q_mean": q.detach().mean()}
        if diagnostics:
            metrics["critic_grad_norm"] = critic_grad_norm
            self._measure_actor = True  # at this or the next delayed actor update

        if self.updates % cfg.policy_delay == 0:
            requires_grad(self.critic, False)
            loss_pi = -self.critic(features.state_action_features(z_s, self.actor(z_s)))[0].mean()  # Q1, as in TD3
            self.optimizers["actor"].zero_grad(set_to_none=True)
            loss_pi.backward()
            if self._measure_actor:
                metrics["actor_grad_norm"] = global_grad_norm(self.actor)
                self._measure_actor = False
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
