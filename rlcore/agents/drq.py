"""DrQ (Kostrikov, Yarats, Fergus 2020): SAC from pixels, regularized by random-shift augmentation.

The critic owns an encoder: DrQ's conv stack (`nets.PixelEncoder`, inputs scaled to [0, 1]) and a
projection (Linear(39200, 50) -> LayerNorm -> tanh), then the twin Q heads (`agent.critic`, from
the architecture zoo: DrQ's 2 x 1024 MLP, or Bjorck et al.'s heads). The actor shares the critic's
conv layers with their output detached (the actor loss never reaches them) and trains its own
projection and head (`agent.actor`), which outputs the mean and a log-std squashed by tanh into
[log_std_min, log_std_max]; actions are tanh-squashed Gaussian samples. The target critic is a
Polyak-averaged copy of the whole critic, its encoder included.

Augmentation (DrQ's K = M = 2, `agent.drq.target_augmentations` / `loss_augmentations`): each update
draws K independent random shifts of s' and M of s. The target is the mean over the K shifts of
r + discount * (min_j Q'_j(s'_k, a'_k) - alpha log pi(a'_k | s'_k)); the critic loss is the sum over
the M shifts of s of the TD loss against that one target. The actor and the temperature read the
first shift of s (DrQ's `obs`), after the critic's step, every `actor_update_every` updates; the target
critic follows every `target_update_every` updates.

DrQ's critic loss is F.mse_loss(Q1, y) + F.mse_loss(Q2, y) per shift; `critic_loss="mse"` here is
half of that (SAC's 1/2 (Q - y)^2), a constant factor Adam's normalization absorbs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import AgentConfig
from ..envs import ObsSpec
from ..nets import Projection, build_trunk, random_shift
from ..replay import Batch
from .base import LearnedTemperature, UpdateResult, global_grad_norm, make_adam, requires_grad, soft_update
from .pixel import PixelAgent
from .sac import squashed_gaussian


class PixelGaussianActor(nn.Module):
    """Conv features -> own projection -> head -> (mean, log-std in [min, max] via tanh) -> tanh-Gaussian."""

    def __init__(self, cfg: AgentConfig, repr_dim: int, action_dim: int):
        super().__init__()
        own = cfg.drq
        self.projection = Projection(repr_dim, own.feature_dim)
        self.head = build_trunk(cfg.actor, own.feature_dim, 2 * action_dim)
        self.log_std_min, self.log_std_max = own.log_std_min, own.log_std_max

    def forward(self, h: torch.Tensor, deterministic: bool = False):
        mean, log_std = self.head(self.projection(h)).chunk(2, dim=-1)
        # DrQ's bound: an affine map of tanh onto [min, max] (smooth, unlike SAC's clamp).
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (torch.tanh(log_std) + 1.0)
        return squashed_gaussian(mean, log_std, deterministic)


class DrQ(LearnedTemperature, PixelAgent):
    def __init__(self, cfg: AgentConfig, spec: ObsSpec, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        super().__init__(cfg, spec, action_dim, device, env_id)
        own = cfg.drq
        self.build_networks("unit", lambda repr_dim: PixelGaussianActor(cfg, repr_dim, action_dim),
                            own.feature_dim, own.head_init, target_encoder=True)
        self._measure_actor = False  # a gradient-norm request waits for the next (delayed) actor update
        # One optimizer over the whole critic, encoder included, as DrQ's; the actor's covers its own
        # projection and head (the shared conv weights never receive an actor gradient).
        critic_params = [*self.encoder.parameters(), *self.critic_projection.parameters(), *self.critic.parameters()]
        self.optimizers.update(critic=make_adam(critic_params, cfg.critic_lr),
                               actor=make_adam(self.actor.parameters(), cfg.actor_lr))
        self.init_temperature(own.init_alpha, own.target_entropy, own.alpha_lr)

    # ---- what the networks read -------------------------------------------------------------
    def target_state_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder_target(self.observations(obs))

    # ---- acting -----------------------------------------------------------------------------
    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, step: int, explore: bool) -> np.ndarray:
        self._train_mode(False)
        action, _ = self.actor(self.state_features(obs), deterministic=not explore)
        return action.cpu().numpy()

    # ---- learning ---------------------------------------------------------------------------
    def next_value(self, b: Batch) -> torch.Tensor:
        """min_j Q'_j(s', a') - alpha log pi(a'|s'), a' ~ pi(.|s') from the online actor (on the shared
        conv features) and Q' from the target critic with its own encoder."""
        next_obs = self.observations(b.next_obs)
        action, log_prob = self.actor(self.encoder(next_obs))
        return self.target_q_values(self.target_state_features(next_obs), action) - self.alpha * log_prob

    def shifted(self, obs: torch.Tensor, views: int) -> torch.Tensor:
        """`views` independent random shifts of every image, stacked on the batch axis: (views * B, ...)."""
        obs = self.observations(obs)
        return random_shift(obs.repeat(views, *([1] * (obs.dim() - 1))), self.cfg.drq.shift_pad)

    def update(self, batch: Batch, step: int, grad_norms: bool = False) -> UpdateResult:
        own = self.cfg.drq
        self._train_mode(True)
        result = UpdateResult()
        obs_views = self.shifted(batch.obs, own.loss_augmentations)
        next_views = self.shifted(batch.next_obs, own.target_augmentations)
        result.td_errors = self.update_critic_views(batch, obs_views, next_views, result.metrics, grad_norms)
        count, self.updates = self.updates, self.updates + 1
        self._measure_actor = self._measure_actor or grad_norms  # at this or the next actor update
        if count % own.actor_update_every == 0:  # DrQ's `step % actor_update_frequency == 0`
            self.update_actor(batch, obs_views[:len(batch.action)], result.metrics, self._measure_actor)
            self._measure_actor = False
        if count % own.target_update_every == 0:
            soft_update(self.encoder_target, self.encoder, self.cfg.tau)
            soft_update(self.critic_projection_target, self.critic_projection, self.cfg.tau)
            soft_update(self.critic_target, self.critic, self.cfg.tau)
        return result

    def augmented_target(self, b: Batch, next_views: torch.Tensor) -> torch.Tensor:
        """(B, 1): the mean over the K shifts of s' of r + discount * V'(s'_k)."""
        k = next_views.shape[0] // b.reward.shape[0]
        with torch.no_grad():
            value = self.next_value(b._replace(next_obs=next_views))
            return b.reward + b.discount * value.view(k, -1, 1).mean(0)

    def update_critic_views(self, b: Batch, obs_views: torch.Tensor, next_views: torch.Tensor, metrics: dict,
                            grad_norms: bool) -> torch.Tensor:
        """The critic and its encoder on the M shifts of s against the K-shift target."""
        self.advance_target_spectral_norms()
        target = self.augmented_target(b, next_views)
        m = obs_views.shape[0] // b.action.shape[0]
        q = self.critic(self.critic_features(obs_views, b.action.repeat(m, 1)))  # (2, M * B, 1)
        views = q.view(q.shape[0], m, -1, 1)
        loss = sum(self.critic_loss(views[:, i], target, b.weights) for i in range(m))
        self.optimizers["critic"].zero_grad(set_to_none=True)
        loss.backward()
        if grad_norms:
            metrics["critic_grad_norm"] = global_grad_norm(self.critic)
            metrics["encoder_grad_norm"] = global_grad_norm(self.encoder)
        self.optimizers["critic"].step()
        metrics.update(critic_loss=loss.detach(), q_mean=q.detach().mean())
        return (views[:, 0].detach() - target).abs().mean(0).squeeze(-1)

    def update_critic(self, b: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> torch.Tensor:
        """The protocol's critic step on an already augmented batch (one shift of s and of s')."""
        return self.update_critic_views(b, self.observations(b.obs), self.observations(b.next_obs), metrics, grad_norms)

    def update_actor(self, b: Batch, obs: torch.Tensor, metrics: dict, grad_norms: bool) -> None:
        """Policy and temperature on one shift of s. The conv features are recomputed after the
        critic's step and detached (DrQ's `detach_encoder=True`), for the actor and the critic alike."""
        with torch.no_grad():
            h = self.encoder(self.observations(obs))
        alpha = self.alpha
        requires_grad(self.critic, False)
        requires_grad(self.critic_projection, False)
        action, log_prob = self.actor(h)
        q = self.critic(self.critic_features(obs, action, h)).min(dim=0).values
        loss = (alpha * log_prob - q).mean()
        self.optimizers["actor"].zero_grad(set_to_none=True)
        loss.backward()
        if grad_norms:
            metrics["actor_grad_norm"] = global_grad_norm(self.actor)
        self.optimizers["actor"].step()
        requires_grad(self.critic, True)
        requires_grad(self.critic_projection, True)

        gap = (-log_prob.detach() - self.target_entropy).mean()
        weight = self.log_alpha.exp() if self.cfg.drq.alpha_loss == "alpha" else self.log_alpha
        loss_alpha = weight * gap
        self.optimizers["alpha"].zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.optimizers["alpha"].step()
        metrics.update(actor_loss=loss.detach(), alpha=alpha, alpha_loss=loss_alpha.detach(),
                       entropy=-log_prob.detach().mean())

    def extra_state(self) -> dict:
        # A gradient-norm request still waiting for its actor update survives a resume.
        return {**super().extra_state(), "measure_actor": self._measure_actor}

    def load_extra_state(self, extra: dict) -> None:
        super().load_extra_state(extra)
        self._measure_actor = extra.get("measure_actor", False)  # checkpoints from before it was kept
