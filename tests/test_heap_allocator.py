"""The host allocator switch: on glibc large blocks stay in the heap (no page faults per pixel batch)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

SCRIPT = "from rlcore.device import heap_allocator; print(heap_allocator(), heap_allocator())"


def run(env_value: str | None) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if k != "RLCORE_HEAP_MALLOC"}
    if env_value is not None:
        env["RLCORE_HEAP_MALLOC"] = env_value
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_switches_to_the_heap_once_and_the_switch_can_be_refused():
    assert run(None) == ["True", "True"]
    assert run("0") == ["False", "False"]

