"""Pieces SAC and TD3 share: optimiser, target tracking, critic loss, mode switching."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import AgentConfig
from ..nets import SpectralLinear, make_extractor
from ..replay import Batch


def make_adam(params, lr: float) -> torch.optim.Optimizer:
    # The fused kernel updates all tensors of a group in one pass (CPU and CUDA): no per-tensor loop.
    return torch.optim.Adam(params, lr=lr, fused=True)


_SN_VECTORS = ("sn_u", "sn_v")


def make_target(module: nn.Module, sn_target: str = "own") -> nn.Module:
    """A frozen copy kept in eval mode (BatchNorm reads running statistics).

    Spectral norm: with sn_target="own" the copy refines its own u, v by power iteration at every
    forward pass (see `nets.SpectralLinear`); with "copy" it reuses the online u, v (`soft_update`).
    """
    target = copy.deepcopy(module).eval()
    requires_grad(target, False)
    for layer in target.modules():
        if isinstance(layer, SpectralLinear):
            layer.iterate_in_eval = sn_target == "own"
    return target


def _tracking_pairs(target: nn.Module, source: nn.Module):
    """(target params, source params, target buffers to overwrite, their sources), built once per
    pair and cached on the target: soft_update runs every step and must not walk modules each time."""
    cache = getattr(target, "_tracking_cache", None)
    if cache is not None and cache[0] is source:
        return cache[1]
    skip = {f"{name}.{leaf}" for name, m in target.named_modules()
            if isinstance(m, SpectralLinear) and m.iterate_in_eval for leaf in _SN_VECTORS}
    buffers = [(tb, sb) for (name, tb), sb in zip(target.named_buffers(), source.buffers()) if name not in skip]
    pairs = (list(target.parameters()), list(source.parameters()),
             [tb for tb, _ in buffers], [sb for _, sb in buffers])
    object.__setattr__(target, "_tracking_cache", (source, pairs))  # not a submodule, not in state_dict
    return pairs


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """theta' <- tau * theta + (1 - tau) * theta' for parameters; buffers (BN statistics) are copied,
    and so are spectral-norm vectors unless the target iterates its own."""
    t_params, s_params, t_buffers, s_buffers = _tracking_pairs(target, source)
    torch._foreach_lerp_(t_params, s_params, tau)
    if t_buffers:
        torch._foreach_copy_(t_buffers, s_buffers)


def critic_loss(q: torch.Tensor, target: torch.Tensor, kind: str, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over ensemble members of the mean per-member loss (each sample scaled by its
    importance weight (B, 1) under prioritized replay).

    "mse" is SAC's J_Q = E[1/2 (Q - Q_hat)^2]; "huber" (delta = 1, Ota A.1) equals it for
    |error| <= 1 and grows linearly beyond, which bounds the gradient of outlier targets.
    """
    target = target.expand_as(q)
    if kind == "mse":
        per_element = 0.5 * (q - target).square()
    elif kind == "huber":
        per_element = F.huber_loss(q, target, reduction="none", delta=1.0)
    else:
        raise ValueError(f"critic_loss={kind!r} is invalid: expected one of 'mse', 'huber'")
    if weights is not None:
        per_element = per_element * weights
    return per_element.mean(dim=(1, 2)).sum()


class Agent:
    """The small interface every agent offers: act, update, state_dict / load_state_dict."""

    device: torch.device
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def _train_mode(self, training: bool) -> None:
        # BatchNorm: training mode while updating, eval mode while acting (Ota A.1, after Liu et al. 2021).
        if getattr(self, "_training", None) is not training:
            for name, m in self.modules.items():
                if not name.endswith("_target"):  # targets always read running statistics
                    m.train(training)
            self._training = training

    # ---- feature extractor (raw inputs or OFENet) -----------------------------------------
    def _attach_extractor(self, cfg: AgentConfig, obs_dim: int, action_dim: int, env_id: str | None) -> None:
        """Build `extractor` and `extractor_target`; agents build their trunks on its output dims."""
        self.extractor = make_extractor(cfg.ofenet, obs_dim, action_dim, env_id).to(self.device)
        self.extractor_target = self.extractor
        self.features_pretrained = not self.extractor.learns
        if self.extractor.learns:
            requires_grad(self.extractor, False)  # only the auxiliary step trains OFENet
            if cfg.ofenet.target_network:
                self.extractor_target = make_target(self.extractor)
                self.modules["ofenet_target"] = self.extractor_target
            self.modules["ofenet"] = self.extractor
            self.optimizers["ofenet"] = make_adam(self.extractor.parameters(), cfg.ofenet.lr)

    @property
    def learns_features(self) -> bool:
        return self.extractor.learns

    def update_features(self, b: Batch) -> dict[str, torch.Tensor]:
        """One auxiliary (next-state prediction) step of OFENet on its own batch; then its target."""
        ofenet, optimizer = self.extractor, self.optimizers["ofenet"]
        requires_grad(ofenet, True)
        loss = ofenet.auxiliary_loss(b.obs, b.action, b.next_obs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        requires_grad(ofenet, False)
        if self.extractor_target is not ofenet:
            soft_update(self.extractor_target, ofenet, self.cfg.ofenet.target_tau)
        return {"ofenet_loss": loss.detach()}

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        """The action for one observation."""
        return self.act_batch(np.asarray(obs, dtype=np.float32).reshape(1, -1), explore)[0]

    # Weights a collector's workers need to act: the policy and the features it reads.
    def acting_modules(self) -> dict[str, nn.Module]:
        return {"actor": self.actor, **({"ofenet": self.extractor} if self.extractor.learns else {})}

    def state_dict(self) -> dict:
        state = {f"module/{k}": m.state_dict() for k, m in self.modules.items()}
        state.update({f"optim/{k}": o.state_dict() for k, o in self.optimizers.items()})
        state["extra"] = {**self._extra_state(), "features_pretrained": self.features_pretrained}
        return state

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state[f"module/{k}"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state[f"optim/{k}"])
        self._load_extra_state(state["extra"])
        self.features_pretrained = state["extra"]["features_pretrained"]

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, extra: dict) -> None:
        pass


def requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)
