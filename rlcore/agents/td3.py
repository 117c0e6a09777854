"""Twin Delayed DDPG (Fujimoto et al. 2018): clipped double Q, target policy smoothing, delayed
actor and target updates. Its own settings are `AgentConfig.td3`."""

from __future__ import annotations

import numpy as np
import torch

from ..config import AgentConfig
from ..envs import ObsSpec
from ..nets import build_trunk
from ..replay import Batch
from .base import Agent, global_grad_norm, make_adam, make_target, requires_grad, soft_update
from .sac import flat_observations


class DeterministicActor(torch.nn.Module):
    def __init__(self, cfg: AgentConfig, in_dim: int, action_dim: int):
        super().__init__()
        self.trunk = build_trunk(cfg.actor, in_dim, action_dim)

    def forward(self, z_s: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.trunk(z_s))


class TD3(Agent):
    def __init__(self, cfg: AgentConfig, spec: ObsSpec, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        flat_observations("td3", spec)
        super().__init__(cfg, spec, action_dim, device, env_id)
        features = self.extractor
        self.actor = DeterministicActor(cfg, features.state_dim, action_dim).to(self.device)
        self.actor_target = make_target(self.actor, cfg.sn_target)
        self.critic = build_trunk(cfg.critic, features.state_action_dim, 1, n=2).to(self.device)
        self.critic_target = make_target(self.critic, cfg.sn_target)
        self.modules.update(actor=self.actor, actor_target=self.actor_target,
                            critic=self.critic, critic_target=self.critic_target)
        self.optimizers.update(actor=make_adam(self.actor.parameters(), cfg.actor_lr),
                               critic=make_adam(self.critic.parameters(), cfg.critic_lr))
        self._measure_actor = False

    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, step: int, explore: bool) -> np.ndarray:
        self._train_mode(False)
        action = self.actor(self.state_features(self.observations(obs)))
        if explore:  # Gaussian exploration noise N(0, sigma) in the [-1, 1] action scale
            action = (action + self.cfg.td3.exploration_noise * torch.randn_like(action)).clamp(-1.0, 1.0)
        return action.cpu().numpy()

    def next_value(self, b: Batch) -> torch.Tensor:
        """min_j Q'_j(s', mu'(s') + clip(noise)): target policy smoothing, as in training."""
        own = self.cfg.td3
        z_next = self.target_state_features(b.next_obs)
        noise = (own.policy_noise * torch.randn_like(b.action)).clamp(-own.noise_clip, own.noise_clip)
        next_action = (self.actor_target(z_next) + noise).clamp(-1.0, 1.0)
        return self.target_q_values(z_next, next_action)

    def update_critic(self, b: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> torch.Tensor:
        if grad_norms:
            self._measure_actor = True  # at this or the next delayed actor update
        return self.critic_step(b, z_s, metrics, grad_norms)

    def update_actor(self, b: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> None:
        """Every `policy_delay` updates: deterministic policy gradient through Q1, then both targets."""
        if self.updates % self.cfg.td3.policy_delay:
            return
        requires_grad(self.critic, False)
        loss_pi = -self.critic(self.critic_features(b.obs, self.actor(z_s), z_s))[0].mean()  # Q1, as in TD3
        self.optimizers["actor"].zero_grad(set_to_none=True)
        loss_pi.backward()
        if self._measure_actor:
            metrics["actor_grad_norm"] = global_grad_norm(self.actor)
            self._measure_actor = False
        self.optimizers["actor"].step()
        requires_grad(self.critic, True)
        soft_update(self.actor_target, self.actor, self.cfg.tau)
        soft_update(self.critic_target, self.critic, self.cfg.tau)
        metrics["actor_loss"] = loss_pi.detach()

    def extra_state(self) -> dict:
        return {**super().extra_state(), "measure_actor": self._measure_actor}

    def load_extra_state(self, extra: dict) -> None:
        super().load_extra_state(extra)
        self._measure_actor = extra.get("measure_actor", False)  # agent.pt files from before it was kept
