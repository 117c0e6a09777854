"""What the pixel agents (DrQ, DrQ-v2) share: the observation check, the critic path from frames
(encoder -> projection -> [features, action] -> twin Q heads), and uint8 inputs kept uint8 until
the encoder scales them.

    h = encoder(obs)                       conv features (DrQ's 4 x 32 filters, 3x3)
    z_sa = [critic_projection(h), action]  what the Q heads read
    q = critic(z_sa)                       (2, B, 1)

Attribute names are the contract the analysis tools read (`encoder`, `critic_projection`,
`critic`): loss landscapes over the whole critic and srank of its features.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ..config import AgentConfig, ConfigError
from ..envs import ObsSpec
from ..nets import PixelEncoder, Projection, build_trunk
from ..nets.encoders import orthogonal_init
from .base import Agent, make_target


def pixel_observations(algo: str, spec: ObsSpec) -> None:
    if len(spec.shape) != 3 or spec.dtype != np.uint8:
        raise ConfigError("env.id", spec, f"an environment with (channels, height, width) uint8 images for "
                                          f"agent.algo={algo!r}, e.g. dmc:cartpole-swingup with env.kwargs "
                                          '{"pixels": true}')


class PixelAgent(Agent):
    """An actor-critic agent on frames; subclasses call `build_networks` first in their constructor."""

    def __init__(self, cfg: AgentConfig, spec: ObsSpec, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        pixel_observations(cfg.algo, spec)
        super().__init__(cfg, spec, action_dim, device, env_id)

    def build_networks(self, scale: str, make_actor: Callable[[int], nn.Module], feature_dim: int,
                       head_init: str, target_encoder: bool) -> None:
        """The conv encoder (inputs scaled to [0, 1], "unit", DrQ; or [-0.5, 0.5], "centered",
        DrQ-v2), the actor (`make_actor(encoder.repr_dim)`), the critic's projection and twin Q heads
        (`agent.critic` from the zoo), in the order the original code draws their initial weights;
        then every head Linear initialised orthogonally as DrQ and DrQ-v2 do (`head_init="zoo"`: the
        zoo's init); then the targets: projection and heads, plus the encoder with
        `target_encoder` (DrQ's target critic has its own; DrQ-v2's reads the online encoder)."""
        self.encoder = PixelEncoder(self.spec.shape, scale=scale).to(self.device)
        self.actor = make_actor(self.encoder.repr_dim).to(self.device)
        self.critic_projection = Projection(self.encoder.repr_dim, feature_dim).to(self.device)
        self.critic = build_trunk(self.cfg.critic, feature_dim + self.action_dim, 1, n=2).to(self.device)
        if head_init == "orthogonal":
            self.actor.head.apply(orthogonal_init)
            self.critic.apply(orthogonal_init)
        self.modules.update(encoder=self.encoder, actor=self.actor, critic_projection=self.critic_projection,
                            critic=self.critic)
        if target_encoder:
            self.encoder_target = make_target(self.encoder, self.cfg.sn_target)
            self.modules["encoder_target"] = self.encoder_target
        self.critic_projection_target = make_target(self.critic_projection, self.cfg.sn_target)
        self.critic_target = make_target(self.critic, self.cfg.sn_target)
        self.modules.update(critic_projection_target=self.critic_projection_target, critic_target=self.critic_target)

    def acting_modules(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder, "actor": self.actor}

    def observations(self, obs) -> torch.Tensor:
        """uint8 frames stay uint8 until the encoder scales them."""
        if isinstance(obs, torch.Tensor):
            return obs.to(self.device)
        return torch.as_tensor(np.asarray(obs), device=self.device)

    # ---- what the networks read -------------------------------------------------------------
    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        """h: the encoder's conv features (the actor reads them through its own projection)."""
        return self.encoder(self.observations(obs))

    def critic_features(self, obs: torch.Tensor, action: torch.Tensor, z_s: torch.Tensor | None = None) -> torch.Tensor:
        h = self.state_features(obs) if z_s is None else z_s
        return torch.cat([self.critic_projection(h), action], dim=-1)

    def target_q_values(self, h_next: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """min over the target Q heads, reading the target projection of `h_next`."""
        z = torch.cat([self.critic_projection_target(h_next), action], dim=-1)
        return self.critic_target(z).min(dim=0).values
