"""Feature extractors an agent reads its inputs through: raw inputs, or OFENet.

OFENet (Ota et al. 2020; Ota et al. 2021 section 3.1, A.1-A.4), following MERL's reference code
(`teflon/ofe/network.py`, `blocks.py`, `util/misc.py`):
  z_s  = state stack(s)              -- DenseNet blocks: linear -> BatchNorm -> Swish -> [new, input]
  z_sa = state-action stack([z_s, a])
  s'_hat[:k] = W z_sa + b            -- linear predictor of the next state's first k dimensions
trained with the mean-squared error of eq. (1) by its own Adam. BatchNorm runs in training mode
only inside that auxiliary loss; every feature the agent reads uses the running statistics.
The agent's losses never update OFENet (its parameters are not in the agent's optimizers and do
not require gradients outside the auxiliary step), but the actor's gradient still flows through
the state-action stack to the action, as in the reference code.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError, OFENetConfig
from .layers import EnsembleBatchNorm, EnsembleLinear, make_activation
from .trunks import dense_stack

# Which leading dimensions of the next observation the auxiliary task predicts, from the OFENet
# code's `get_target_dim` (MuJoCo v2 layouts, identical in v4). Ant and Humanoid leave out their
# trailing contact forces: Ant 27 = qpos[2:] 13 + qvel 14; Humanoid 292 = qpos[2:] 22 + qvel 23 +
# cinert 140 + cvel 84 + qfrc_actuator 23. Humanoid-v5 drops the world body's cinert/cvel rows,
# so the same quantities take 270 dims there (our derivation, not in the OFENet code).
# Any environment not listed predicts its whole observation.
TARGET_DIMS = {"Ant": 27, "HalfCheetah": 17, "Walker2d": 17, "Hopper": 11, "Reacher": 11, "Humanoid": 292}
TARGET_DIMS_V5 = {"Humanoid": 270}


def target_dims_for(env_id: str | None, obs_dim: int) -> int:
    match = re.fullmatch(r"(\w+)-v(\d+)", env_id or "")
    if not match:
        return obs_dim
    name, version = match.group(1), int(match.group(2))
    table = {**TARGET_DIMS, **TARGET_DIMS_V5} if version >= 5 else TARGET_DIMS
    return min(table.get(name, obs_dim), obs_dim)


class RawInputs(nn.Module):
    """No extractor: z_s = s and z_sa = [s, a]."""

    learns = False

    def __init__(self, obs_dim: int, action_dim: int):
        super().__init__()
        self.state_dim, self.state_action_dim = obs_dim, obs_dim + action_dim

    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        return obs

    def state_action_features(self, z_s: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.cat([z_s, action], dim=-1)


def _glorot_(linear: EnsembleLinear) -> None:
    # Keras Dense defaults, as in the OFENet code: Glorot-uniform weights, zero biases.
    bound = (6.0 / (linear.in_features + linear.out_features)) ** 0.5
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.zeros_(linear.bias)


class OFENet(nn.Module):
    learns = True

    def __init__(self, cfg: OFENetConfig, obs_dim: int, action_dim: int, target_dims: int):
        super().__init__()
        self.cfg, self.target_dims = cfg, target_dims
        units = cfg.total_units // cfg.layers
        linear = lambda d_in, d_out: EnsembleLinear(1, d_in, d_out)
        norm = (lambda f: EnsembleBatchNorm(1, f)) if cfg.batchnorm else (lambda f: nn.Identity())
        act = lambda: make_activation(cfg.activation)
        self.state_dim = obs_dim + cfg.total_units
        self.state_action_dim = self.state_dim + action_dim + cfg.total_units
        self.state_stack = dense_stack(linear, norm, act, obs_dim, units, cfg.layers)
        self.state_action_stack = dense_stack(linear, norm, act, self.state_dim + action_dim, units, cfg.layers)
        self.predictor = EnsembleLinear(1, self.state_action_dim, target_dims)
        for m in self.modules():
            if isinstance(m, EnsembleLinear):
                _glorot_(m)
        nn.Module.train(self, False)

    def train(self, mode: bool = True) -> "OFENet":
        # The agent's train/eval switches do not reach OFENet: its BatchNorm is in training mode
        # only inside `auxiliary_loss`.
        return self

    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.state_stack(obs.unsqueeze(0)).squeeze(0)

    def state_action_features(self, z_s: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.state_action_stack(torch.cat([z_s, action], dim=-1).unsqueeze(0)).squeeze(0)

    def predict_next_state(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        z_sa = self.state_action_features(self.state_features(obs), action)
        return self.predictor(z_sa.unsqueeze(0)).squeeze(0)

    def auxiliary_loss(self, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Eq. (1): mean over batch and predicted dimensions of (s'_hat - s'[:k])^2, BatchNorm in training mode."""
        nn.Module.train(self, True)
        try:
            prediction = self.predict_next_state(obs, action)
        finally:
            nn.Module.train(self, False)
        return F.mse_loss(prediction, next_obs[:, : self.target_dims])


def make_extractor(cfg: OFENetConfig, obs_dim: int, action_dim: int, env_id: str | None = None) -> nn.Module:
    if not cfg.enabled:
        return RawInputs(obs_dim, action_dim)
    target_dims = cfg.target_dims if cfg.target_dims is not None else target_dims_for(env_id, obs_dim)
    if target_dims > obs_dim:
        raise ConfigError("agent.ofenet.target_dims", target_dims, f"at most the observation size {obs_dim}")
    return OFENet(cfg, obs_dim, action_dim, target_dims)
