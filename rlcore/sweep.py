"""Run a list of configs: skip the finished, resume the interrupted, record failures and go on."""

from __future__ import annotations

import traceback
from itertools import product
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .config import RunConfig
from .results import RunStore, default_results_dir
from .train import train


def grid(base: RunConfig, axes: Mapping[str, Iterable[Any]]) -> list[RunConfig]:
    """Cartesian product of dotted-path overrides, e.g. {"agent.critic.width": [128, 256], "seed": [0, 1]}."""
    names = list(axes)
    return [base.replace(**dict(zip(names, values))) for values in product(*(list(axes[n]) for n in names))]


def run_sweep(configs: Sequence[RunConfig], results_dir=None, progress: bool = True) -> pd.DataFrame:
    """Train every config in order; returns one row per run with its final state.

    A run that raises is recorded as state "error" (traceback in its status.json) and the sweep
    continues; a diverged run is recorded as "crashed" by the trainer itself.
    """
    rows = []
    for i, cfg in enumerate(configs):
        root = results_dir or default_results_dir(cfg.profile)
        if progress:
            print(f"[{i + 1}/{len(configs)}] {cfg.run_id}", flush=True)
        try:
            status = train(cfg, root, progress=progress)
        except KeyboardInterrupt:
            raise
        except Exception as err:  # noqa: BLE001 - one broken run must not stop the sweep
            status = {"state": "error", "reason": f"{type(err).__name__}: {err}",
                      "traceback": traceback.format_exc()}
            store = RunStore(root, cfg)
            if store.dir.exists():
                store.write_status(**status)
        rows.append({"run": cfg.run_id, "state": status["state"], "step": status.get("step"),
                     "reason": status.get("reason")})
    return pd.DataFrame(rows)
