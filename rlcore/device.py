"""Where tensors live: the one place that turns a config's `device` ("auto", "cpu", "cuda") into a
torch device."""

from __future__ import annotations

import torch

from .config import ConfigError


def resolve_device(name: str | torch.device) -> torch.device:
    """"auto" is CUDA when torch sees a GPU, else the CPU; "cuda" without a GPU is a ConfigError."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", name, "'auto' or 'cpu': torch sees no CUDA device on this machine")
    if name not in ("cpu", "cuda"):
        raise ConfigError("device", name, "one of 'auto', 'cpu', 'cuda'")
    return torch.device(name)
