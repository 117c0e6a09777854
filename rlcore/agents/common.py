"""Pieces SAC and TD3 share: optimiser, target tracking, critic loss, mode switching."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def make_adam(params, lr: float) -> torch.optim.Optimizer:
    # The fused kernel updates all tensors of a group in one pass (CPU and CUDA): no per-tensor loop.
    return torch.optim.Adam(params, lr=lr, fused=True)


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """theta' <- tau * theta + (1 - tau) * theta' for parameters; buffers (BN statistics) are copied."""
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)
    for tb, sb in zip(target.buffers(), source.buffers()):
        tb.copy_(sb)


def critic_loss(q: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Sum over ensemble members of the mean per-member loss.

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

    def _obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device).reshape(1, -1)

    def state_dict(self) -> dict:
        state = {f"module/{k}": m.state_dict() for k, m in self.modules.items()}
        state.update({f"optim/{k}": o.state_dict() for k, o in self.optimizers.items()})
        state["extra"] = self._extra_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state[f"module/{k}"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state[f"optim/{k}"])
        self._load_extra_state(state["extra"])

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, extra: dict) -> None:
        pass


def requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)
