"""Where tensors live: the one place that turns a config's `device` ("auto", "cpu", "cuda") into a
torch device; and how the host allocates them (`heap_allocator`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

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


_HEAP_ALLOCATOR: bool | None = None


def heap_allocator() -> bool:
    """glibc only, once per process: serve large blocks from the heap and never give them back
    (mallopt M_MMAP_MAX = 0, M_TRIM_THRESHOLD = -1; what the env vars MALLOC_MMAP_MAX_=0 and
    MALLOC_TRIM_THRESHOLD_=<huge> do at start-up). By default glibc maps every block over 32 MB
    afresh and unmaps it on free, so each activation tensor of a pixel batch faults its pages in
    again: measured here (benchmarks/pixel_speed.py), a DrQ update at batch 128 spent ~1.1 s of its
    2.2 s in the kernel. The heap keeps the process's peak; `RLCORE_HEAP_MALLOC=0` opts out.
    Returns whether the heap allocator is in force."""
    global _HEAP_ALLOCATOR
    if _HEAP_ALLOCATOR is None:
        _HEAP_ALLOCATOR = False
        if os.environ.get("RLCORE_HEAP_MALLOC", "1") != "0" and sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                m_trim_threshold, m_mmap_max = -1, -4  # glibc's <malloc.h> parameter numbers
                _HEAP_ALLOCATOR = bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, -1))
            except (OSError, AttributeError):  # not glibc (musl, ...): the default allocator stays
                pass
    return _HEAP_ALLOCATOR
