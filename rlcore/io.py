"""Atomic file writes: the one way rlcore writes a file (run tables, checkpoints, landscapes, figures).

A write goes to a temporary file in the same directory, is flushed to disk, then renamed over the
target, so a reader (or a run killed mid-write) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


class StoreError(RuntimeError):
    """A problem with stored results a user can act on (reported in one line, never as a traceback)."""


class DamagedFile(StoreError):
    """A stored file cannot be read as what it should be."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def read_json(path: str | Path) -> Any:
    """A stored JSON file; a missing one raises FileNotFoundError, any other problem DamagedFile."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedFile(path, f"not readable as JSON ({type(err).__name__}: {err})") from err


def load_torch(path: str | Path, device="cpu", weights_only: bool = True) -> Any:
    """A stored torch file; a missing one raises FileNotFoundError, any other problem DamagedFile."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    try:
        return torch.load(path, map_location=device, weights_only=weights_only)
    except Exception as err:  # noqa: BLE001 - truncated zip, unpickling errors, ...: all mean "damaged"
        raise DamagedFile(path, f"does not load ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path next to `path` to write to (hidden, ending in .tmp); renamed to `path`
    when the block succeeds, removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600: files follow the umask like open() does
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
