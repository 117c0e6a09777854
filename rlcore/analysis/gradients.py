"""Global gradient norms (Bjorck et al. 2021 section 3.4, Fig 3): the L2 norm over all parameters of
a network's gradient, before any clipping, kept on the device (no host sync)."""

from __future__ import annotations

import torch
from torch import nn


def global_grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
