"""Soft Actor-Critic with automatic temperature (Haarnoja et al. 2018b, "SAC: algorithms and applications").

Twin Q critics (one fused ensemble module), Polyak-averaged target critic, tanh-squashed Gaussian
policy, temperature alpha tuned towards the target entropy -|A|. Inputs pass through the agent's
feature extractor: the actor reads z_s, the critics read z_sa (raw [s, a] without OFENet); the
bootstrapped target reads the target extractor's features of s'. Its own settings are
`AgentConfig.sac` (temperature learning rate, initial value, target entropy).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..config import AgentConfig, ConfigError
from ..envs import ObsSpec
from ..nets import build_trunk
from ..replay import Batch
from .base import Agent, LearnedTemperature, global_grad_norm, make_adam, make_target, requires_grad, soft_update

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

    def forward(self, z_s: torch.Tensor, deterministic: bool = False, noise: torch.Tensor | None = None):
        """Returns (action in [-1, 1], log-probability of that action, shape (B, 1))."""
        mean, log_std = self.trunk(z_s).chunk(2, dim=-1)
        return squashed_gaussian(mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX), deterministic, noise)


def squashed_gaussian(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool = False,
                      noise: torch.Tensor | None = None):
    """a = tanh(u), u ~ N(mean, exp(log_std)^2) reparameterized: (a, log pi(a), shape (B, 1));
    deterministic -> (tanh(mean), None). `noise`: the standard normal draw (default: drawn here
    from the global generator; a population passes each member's own)."""
    if deterministic:
        return torch.tanh(mean), None
    eps = torch.randn_like(mean) if noise is None else noise
    u = mean + log_std.exp() * eps
    # log N(u; mean, std) minus the tanh Jacobian, log(1 - tanh(u)^2) written stably.
    log_prob = (-0.5 * eps.square() - log_std - _HALF_LOG_2PI).sum(-1, keepdim=True)
    log_prob = log_prob - (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1, keepdim=True)
    return torch.tanh(u), log_prob


def flat_observations(algo: str, spec: ObsSpec) -> None:
    """SAC and TD3 read flat state vectors (stacked frames of them included)."""
    if len(spec.shape) != 1 or spec.dtype.kind != "f":
        raise ConfigError("env.id", spec, f"an environment with flat float observations for agent.algo={algo!r} "
                          "(image observations need a pixel agent)")


class SAC(LearnedTemperature, Agent):
    def __init__(self, cfg: AgentConfig, spec: ObsSpec, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        flat_observations("sac", spec)
        super().__init__(cfg, spec, action_dim, device, env_id)
        own, features = cfg.sac, self.extractor
        self.actor = SquashedGaussianActor(cfg, features.state_dim, action_dim).to(self.device)
        self.critic = build_trunk(cfg.critic, features.state_action_dim, 1, n=2).to(self.device)
        self.critic_target = make_target(self.critic, cfg.sn_target)
        self.modules.update(actor=self.actor, critic=self.critic, critic_target=self.critic_target)
        self.optimizers.update(actor=make_adam(self.actor.parameters(), cfg.actor_lr),
                               critic=make_adam(self.critic.parameters(), cfg.critic_lr))
        self.init_temperature(own.init_alpha, own.target_entropy, own.alpha_lr)

    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, step: int, explore: bool) -> np.ndarray:
        self._train_mode(False)
        action, _ = self.actor(self.state_features(self.observations(obs)), deterministic=not explore)
        return action.cpu().numpy()

    def next_value(self, b: Batch) -> torch.Tensor:
        """min_j Q'_j(s', a') - alpha log pi(a'|s'), one a' ~ pi(.|s') (eq. 3's expectation, one sample)."""
        z_next = self.target_state_features(b.next_obs)
        next_action, next_log_prob = self.actor(z_next)
        return self.target_q_values(z_next, next_action) - self.alpha * next_log_prob

    def update_critic(self, b: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> torch.Tensor:
        return self.critic_step(b, z_s, metrics, grad_norms)

    def update_actor(self, b: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> None:
        """Policy step through a frozen critic (no weight gradients for it), then the temperature,
        then the target critic."""
        alpha = self.alpha
        requires_grad(self.critic, False)
        action, log_prob = self.actor(z_s)
        q_pi = self.critic(self.critic_features(b.obs, action, z_s)).min(dim=0).values
        loss_pi = (alpha * log_prob - q_pi).mean()
        self.optimizers["actor"].zero_grad(set_to_none=True)
        loss_pi.backward()
        if grad_norms:  # global L2 norm before the optimiser step (no clipping anywhere)
            metrics["actor_grad_norm"] = global_grad_norm(self.actor)
        self.optimizers["actor"].step()
        requires_grad(self.critic, True)

        loss_alpha = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.optimizers["alpha"].zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.optimizers["alpha"].step()

        soft_update(self.critic_target, self.critic, self.cfg.tau)
        metrics.update(actor_loss=loss_pi.detach(), alpha=alpha, alpha_loss=loss_alpha.detach(),
                       entropy=-log_prob.detach().mean())
