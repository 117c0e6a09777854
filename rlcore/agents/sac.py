"""Soft Actor-Critic with automatic temperature (Haarnoja et al. 2018b, "SAC: algorithms and applications").

Twin Q critics (one fused ensemble module), Polyak-averaged target critic, tanh-squashed Gaussian
policy, temperature alpha tuned towards the target entropy -|A|. Inputs pass through the agent's
feature extractor: the actor reads z_s, the critics read z_sa (raw [s, a] without OFENet); the
bootstrapped target reads the target extractor's features of s'.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..config import AgentConfig
from ..nets import build_trunk
from ..replay import Batch
from ..analysis.gradients import global_grad_norm
from .common import Agent, critic_loss, make_adam, make_target, requires_grad, soft_update

# Bounds of the policy's log standard deviation, as in the SAC reference code.
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class SquashedGaussianActor(torch.nn.Module):
    """One trunk whose output layer holds the mean and the log-std heads side by side
    (equivalent to two separate `action_dim`-wide output layers, as in the SAC and OFENet code)."""

    output_heads = ("mean", "log_std")

    def __init__(self, cfg: AgentConfig, in_dim: int, action_dim: int):
        super().__init__()
        self.trunk = build_trunk(cfg.actor, in_dim, 2 * action_dim)

    def forward(self, z_s: torch.Tensor, deterministic: bool = False):
        """Returns (action in [-1, 1], log-probability of that action, shape (B, 1))."""
        mean, log_std = self.trunk(z_s).chunk(2, dim=-1)
        if deterministic:
            return torch.tanh(mean), None
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        eps = torch.randn_like(mean)
        u = mean + log_std.exp() * eps
        # log N(u; mean, std) minus the tanh Jacobian, log(1 - tanh(u)^2) written stably.
        log_prob = (-0.5 * eps.square() - log_std - _HALF_LOG_2PI).sum(-1, keepdim=True)
        log_prob = log_prob - (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1, keepdim=True)
        return torch.tanh(u), log_prob


class SAC(Agent):
    def __init__(self, cfg: AgentConfig, obs_dim: int, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        self.cfg, self.device = cfg, torch.device(device)
        self.modules, self.optimizers = {}, {}
        self._attach_extractor(cfg, obs_dim, action_dim, env_id)
        features = self.extractor
        self.actor = SquashedGaussianActor(cfg, features.state_dim, action_dim).to(self.device)
        self.critic = build_trunk(cfg.critic, features.state_action_dim, 1, n=2).to(self.device)
        self.critic_target = make_target(self.critic, cfg.sn_target)
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), device=self.device, requires_grad=True)
        self.target_entropy = -float(action_dim) if cfg.target_entropy is None else float(cfg.target_entropy)

        self.modules.update(actor=self.actor, critic=self.critic, critic_target=self.critic_target)
        self.optimizers.update(actor=make_adam(self.actor.parameters(), cfg.actor_lr),
                               critic=make_adam(self.critic.parameters(), cfg.critic_lr),
                               alpha=make_adam([self.log_alpha], cfg.alpha_lr))
        self.updates = 0

    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        """Actions for a batch of observations (N, obs_dim) -> (N, action_dim)."""
        self._train_mode(False)
        obs = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        action, _ = self.actor(self.extractor.state_features(obs), deterministic=not explore)
        return action.cpu().numpy()

    def q_values(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(2, B, 1) Q estimates of both critics."""
        features = self.extractor
        return self.critic(features.state_action_features(features.state_features(obs), action))

    def update(self, b: Batch, diagnostics: bool = False, weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One gradient step on critics, actor and temperature. Returns detached tensors (no host sync)."""
        self._train_mode(True)
        cfg, features, target_features = self.cfg, self.extractor, self.extractor_target
        alpha = self.log_alpha.detach().exp()

        with torch.no_grad():
            z_s = features.state_features(b.obs)
            z_sa = features.state_action_features(z_s, b.action)
            z_next = target_features.state_features(b.next_obs)
            next_action, next_log_prob = self.actor(z_next)
            next_q = self.critic_target(target_features.state_action_features(z_next, next_action)).min(dim=0).values
            target_q = b.reward + cfg.gamma * b.not_done * (next_q - alpha * next_log_prob)
        q = self.critic(z_sa)
        loss_q = critic_loss(q, target_q, cfg.critic_loss, weights)
        # |TD error| per transition, averaged over the critics: the new priorities under prioritized replay.
        self.td_errors = (q.detach() - target_q).abs().mean(0).squeeze(-1)
        self.optimizers["critic"].zero_grad(set_to_none=True)
        loss_q.backward()
        if diagnostics:
            critic_grad_norm = global_grad_norm(self.critic)
        self.optimizers["critic"].step()

        # Policy step through a frozen critic: no weight gradients are computed for it.
        requires_grad(self.critic, False)
        action, log_prob = self.actor(z_s)
        q_pi = self.critic(features.state_action_features(z_s, action)).min(dim=0).values
        loss_pi = (alpha * log_prob - q_pi).mean()
        self.optimizers["actor"].zero_grad(set_to_none=True)
        loss_pi.backward()
        if diagnostics:
            actor_grad_norm = global_grad_norm(self.actor)
        self.optimizers["actor"].step()
        requires_grad(self.critic, True)

        loss_alpha = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.optimizers["alpha"].zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.optimizers["alpha"].step()

        soft_update(self.critic_target, self.critic, cfg.tau)
        self.updates += 1
        metrics = {"critic_loss": loss_q.detach(), "actor_loss": loss_pi.detach(), "alpha": alpha,
                   "alpha_loss": loss_alpha.detach(), "q_mean": q.detach().mean(),
                   "entropy": -log_prob.detach().mean()}
        if diagnostics:  # global L2 norms before the optimiser step (no clipping anywhere)
            metrics.update(critic_grad_norm=critic_grad_norm, actor_grad_norm=actor_grad_norm)
        return metrics

    def _extra_state(self) -> dict:
        return {"log_alpha": self.log_alpha.detach().cpu(), "updates": self.updates}

    def _load_extra_state(self, extra: dict) -> None:
        with torch.no_grad():
            self.log_alpha.copy_(extra["log_alpha"])
        self.updates = extra["updates"]
