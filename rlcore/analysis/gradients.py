"""Global gradient norms (Bjorck et al. 2021 section 3.4, Fig 3). Agents measure them inside their
update, between backward and the optimizer step, so the function lives with them."""

from ..agents.base import global_grad_norm

__all__ = ["global_grad_norm"]
