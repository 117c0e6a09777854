"""DrQ-v2 (Yarats et al. 2021): DDPG from pixels with random-shift augmentation and n-step returns.

One encoder (`nets.PixelEncoder`, inputs scaled to [-0.5, 0.5]) is trained by the critic only. The
actor and the critic each read its output through their own projection (Linear(repr, 50) ->
LayerNorm -> tanh), then a head from the architecture zoo (`agent.actor` / `agent.critic`: DrQ-v2's
two hidden layers of 1024, or Bjorck et al.'s heads). The policy is deterministic, mu = tanh(head);
exploration adds N(0, std(step)) noise with std on a linear schedule over agent steps; the target
and the actor loss use noise clipped at `std_clip`. There is no target actor; the target critic
(projection and Q heads) is Polyak-averaged, and reads the online encoder's features of s' (no
gradient). Every update augments s and s' with an independent random shift per sample.

The critic loss is the configured TD loss summed over the two Q heads: with `critic_loss="mse"`
that is 1/2 of DrQ-v2's F.mse_loss(Q1) + F.mse_loss(Q2), the same gradient direction up to a factor
Adam's normalization absorbs. n-step returns and their discounts come from the replay (`Batch`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import AgentConfig
from ..envs import ObsSpec
from ..nets import Projection, build_trunk, random_shift
from ..replay import Batch
from .base import UpdateResult, global_grad_norm, make_adam, requires_grad, soft_update
from .pixel import PixelAgent


def linear_schedule(start: float, end: float, steps: int, step: int) -> float:
    """start -> end linearly over `steps` agent steps, then end (DrQ-v2's `linear(start, end, steps)`)."""
    mix = min(max(step / steps, 0.0), 1.0)
    return (1.0 - mix) * start + mix * end


class PixelActor(nn.Module):
    """Encoder features -> projection -> head -> tanh: the deterministic action."""

    def __init__(self, cfg: AgentConfig, repr_dim: int, action_dim: int):
        super().__init__()
        self.projection = Projection(repr_dim, cfg.drqv2.feature_dim)
        self.head = build_trunk(cfg.actor, cfg.drqv2.feature_dim, action_dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.head(self.projection(h)))


class DrQV2(PixelAgent):
    def __init__(self, cfg: AgentConfig, spec: ObsSpec, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        super().__init__(cfg, spec, action_dim, device, env_id)
        own = cfg.drqv2
        self.build_networks("centered", lambda repr_dim: PixelActor(cfg, repr_dim, action_dim),
                            own.feature_dim, own.head_init, target_encoder=False)
        critic_params = [*self.critic_projection.parameters(), *self.critic.parameters()]
        self.optimizers.update(encoder=make_adam(self.encoder.parameters(), cfg.critic_lr),
                               actor=make_adam(self.actor.parameters(), cfg.actor_lr),
                               critic=make_adam(critic_params, cfg.critic_lr))
        self.step = 0  # the agent step of the latest update: the schedule's clock

    def std(self, step: int) -> float:
        own = self.cfg.drqv2
        return linear_schedule(own.std_start, own.std_end, own.std_steps, step)

    def target_state_features(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.state_features(obs)  # no target encoder in DrQ-v2

    def _smoothed(self, mu: torch.Tensor, std: float) -> torch.Tensor:
        """mu + clipped noise, clamped to the action box with a straight-through gradient (DrQ-v2's
        TruncatedNormal sample): the actor keeps its gradient where the sum leaves [-1, 1], as it
        does near saturation, where a plain clamp would zero it."""
        clip = self.cfg.drqv2.std_clip
        action = mu + (std * torch.randn_like(mu)).clamp(-clip, clip)
        return action + (action.clamp(-1.0, 1.0) - action).detach()

    # ---- acting -----------------------------------------------------------------------------
    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, step: int, explore: bool) -> np.ndarray:
        self._train_mode(False)
        mu = self.actor(self.state_features(self.observations(obs)))
        if explore:  # unclipped noise while acting, as DrQ-v2 samples its policy without clip
            mu = (mu + self.std(step) * torch.randn_like(mu)).clamp(-1.0, 1.0)
        return mu.cpu().numpy()

    # ---- learning ---------------------------------------------------------------------------
    def next_value(self, b: Batch) -> torch.Tensor:
        """min_j Q'_j(s', clip(mu(s') + clip(noise))), noise std at the latest update's step."""
        h_next = self.target_state_features(b.next_obs)
        return self.target_q_values(h_next, self._smoothed(self.actor(h_next), self.std(self.step)))

    def augment(self, b: Batch) -> Batch:
        pad = self.cfg.drqv2.shift_pad
        return b._replace(obs=random_shift(b.obs, pad), next_obs=random_shift(b.next_obs, pad))

    def update(self, batch: Batch, step: int, grad_norms: bool = False) -> UpdateResult:
        """Critic and encoder on augmented s, s'; then the actor on the detached features."""
        self._train_mode(True)
        self.step = step
        b = self.augment(batch)
        result = UpdateResult()
        h = self.encoder(self.observations(b.obs))
        result.td_errors = self.update_critic(b, h, result.metrics, grad_norms)
        self.updates += 1
        self.update_actor(b, h.detach(), result.metrics, grad_norms)
        return result

    def update_critic(self, b: Batch, h: torch.Tensor, metrics: dict, grad_norms: bool) -> torch.Tensor:
        self.advance_target_spectral_norms()
        with torch.no_grad():
            target = b.reward + b.discount * self.next_value(b)
        q = self.critic(self.critic_features(b.obs, b.action, h))
        loss = self.critic_loss(q, target, b.weights)
        for name in ("encoder", "critic"):
            self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        if grad_norms:
            metrics["critic_grad_norm"] = global_grad_norm(self.critic)
            metrics["encoder_grad_norm"] = global_grad_norm(self.encoder)
        self.optimizers["critic"].step()
        self.optimizers["encoder"].step()
        metrics.update(critic_loss=loss.detach(), q_mean=q.detach().mean())
        return (q.detach() - target).abs().mean(0).squeeze(-1)

    def update_actor(self, b: Batch, h: torch.Tensor, metrics: dict, grad_norms: bool) -> None:
        """Deterministic policy gradient through min(Q1, Q2) with clipped noise; critic frozen. `h`
        is detached: the actor loss never reaches the encoder. Then the target critic."""
        requires_grad(self.critic, False)
        requires_grad(self.critic_projection, False)
        mu = self.actor(h)
        action = self._smoothed(mu, self.std(self.step))
        q = self.critic(self.critic_features(b.obs, action, h)).min(dim=0).values
        loss = -q.mean()
        self.optimizers["actor"].zero_grad(set_to_none=True)
        loss.backward()
        if grad_norms:
            metrics["actor_grad_norm"] = global_grad_norm(self.actor)
        self.optimizers["actor"].step()
        requires_grad(self.critic, True)
        requires_grad(self.critic_projection, True)
        soft_update(self.critic_target, self.critic, self.cfg.tau)
        soft_update(self.critic_projection_target, self.critic_projection, self.cfg.tau)
        # Where tanh has saturated in float32 (|mu| rounds to 1) its derivative is exactly 0: no policy
        # gradient reaches the head through that action. All of them saturated = the actor has stopped.
        metrics.update(actor_loss=loss.detach(), exploration_std=torch.tensor(self.std(self.step)),
                       actor_saturated=(mu.detach().abs() >= 1.0).float().mean())

    def extra_state(self) -> dict:
        return {**super().extra_state(), "step": self.step}

    def load_extra_state(self, extra: dict) -> None:
        super().load_extra_state(extra)
        self.step = extra.get("step", 0)
