"""Notebook and experiment parameters, parsed and checked before anything runs.

Papermill's `-p NAME VALUE` passes numbers, `True`/`False`/`None` typed and everything else as a
string (`-p seeds "[0, 1, 2]"` arrives as the text "[0, 1, 2]"); `-y "NAME: VALUE"` passes YAML
values (lists, numbers, strings). Each parser takes either form and returns the typed value, or
raises `ConfigError` naming the parameter and what it accepts. `None` always means "the preset's
default" and comes back as `None`.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from . import profiles
from .config import ConfigError


def _decode(value: Any) -> Any:
    """A string holding JSON ("[0, 1]", "64", "null") as its value; any other string unchanged."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(value: Any, name: str, minimum: int = 1) -> int | None:
    """An integer >= `minimum` (or a string holding one); None stays None."""
    value = _decode(value)
    if value is None:
        return None
    if not _is_int(value) or value < minimum:
        raise ConfigError(name, value, f"an integer >= {minimum}, or None for the preset's default")
    return value


def int_list(value: Any, name: str, minimum: int = 1) -> tuple[int, ...] | None:
    """A non-empty list of distinct integers >= `minimum`: a list or tuple, one integer, or a JSON
    string of either ("[0, 1, 2]", "64"). None stays None (the preset's grid)."""
    value = _decode(value)
    if value is None:
        return None
    items = [value] if _is_int(value) else value
    if (not isinstance(items, (list, tuple)) or not items
            or any(not _is_int(v) or v < minimum for v in items) or len(set(items)) != len(items)):
        raise ConfigError(name, value, f"a non-empty list of distinct integers >= {minimum} "
                                       f"(e.g. [64, 128] or \"[64, 128]\"), one integer, or None for the preset's grid")
    return tuple(items)


def str_list(value: Any, name: str, options: Sequence[str]) -> tuple[str, ...] | None:
    """A non-empty list of distinct names out of `options`: a list or tuple, one name, or a JSON
    string of either ('["swish", "relu"]', "relu"). None stays None."""
    value = _decode(value)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if (not isinstance(items, (list, tuple)) or not items or any(v not in options for v in items)
            or len(set(items)) != len(items)):
        raise ConfigError(name, value, f"a non-empty list of distinct names out of {', '.join(map(repr, options))}")
    return tuple(items)


def choice(value: Any, name: str, options: Sequence[Any]) -> Any:
    """One of `options` (compared after decoding JSON text, so "null" matches None)."""
    if value not in options:
        value = _decode(value)
    if value not in options:
        raise ConfigError(name, value, f"one of {', '.join(map(repr, options))}")
    return value


def boolean(value: Any, name: str) -> bool:
    """True or False (papermill's -p types them; "true"/"false" text is accepted too)."""
    value = _decode(value.lower()) if isinstance(value, str) else value
    if not isinstance(value, bool):
        raise ConfigError(name, value, "True or False")
    return value


def int_map(value: Any, name: str, minimum: int = 1) -> dict[str, int] | None:
    """A non-empty mapping of names to integers >= `minimum` (or a JSON string of one, e.g.
    '{"S": 128, "L": 2048}'). None stays None."""
    value = _decode(value)
    if value is None:
        return None
    if (not isinstance(value, dict) or not value
            or any(not isinstance(k, str) or not _is_int(v) or v < minimum for k, v in value.items())):
        raise ConfigError(name, value, f"a non-empty mapping of names to integers >= {minimum}, "
                                       "e.g. {\"S\": 128, \"L\": 2048}, or None for the preset's")
    return dict(value)


def env_id(value: Any, name: str = "env_id") -> str | None:
    """A gymnasium id such as "Hopper-v4", or None (also "None"/"null") for the experiment's own.
    Whether it can be built is checked by the experiment (`rlcore.experiments`) before any run."""
    if isinstance(value, str) and value.strip() in ("None", "null"):
        return None
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(name, value, "a gymnasium id such as 'Hopper-v4', or None for the experiment's default")
    return value.strip()


def profile(value: Any) -> str:
    """A budget profile: one of `rlcore.profiles.PROFILE_NAMES`."""
    if not isinstance(value, str):
        raise ConfigError("profile", value, f"one of {', '.join(map(repr, profiles.PROFILE_NAMES))}")
    return profiles.check_profile(value)
