"""Run a list of configs: skip the finished, resume the interrupted, record failures and go on."""

from __future__ import annotations

import logging
import traceback
from itertools import product
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .config import RunConfig
from .results import RunLocked, default_results_dir
from .train import RunInterrupted, train

log = logging.getLogger(__name__)


def grid(base: RunConfig, axes: Mapping[str, Iterable[Any]]) -> list[RunConfig]:
    """Cartesian product of dotted-path overrides, e.g. {"agent.critic.width": [128, 256], "seed": [0, 1]}."""
    names = list(axes)
    return [base.replace(**dict(zip(names, values))) for values in product(*(list(axes[n]) for n in names))]


def run_sweep(configs: Sequence[RunConfig], results_dir=None, progress: bool = True, force: bool = False,
              wait: float = 0.0) -> pd.DataFrame:
    """Train every config in order; returns one row per run with its final state.

    A run that raises is recorded by the trainer itself as state "error" (traceback in its
    status.json) and the sweep continues; a diverged run is "crashed"; a run another process holds
    is reported as "locked" and left alone. Ctrl-C stops the sweep (the run in progress checkpoints
    and can be resumed by rerunning the sweep). A rejected config (e.g. an environment that cannot be
    built) is an "error" row too, and nothing is written for it.
    """
    rows = []
    for i, cfg in enumerate(configs):
        root = results_dir or default_results_dir(cfg.profile)
        if progress:
            print(f"[{i + 1}/{len(configs)}] {cfg.run_id}", flush=True)
        try:
            status = train(cfg, root, progress=progress, force=force, wait=wait)
        except (KeyboardInterrupt, RunInterrupted):
            raise
        except RunLocked as err:
            status = {"state": "locked", "reason": str(err)}
        except Exception as err:  # noqa: BLE001 - one broken run must not stop the sweep
            log.debug("run %s failed:\n%s", cfg.run_id, traceback.format_exc())
            status = {"state": "error", "reason": f"{type(err).__name__}: {err}"}
        rows.append({"run": cfg.run_id, "state": status["state"], "step": status.get("step"),
                     "reason": status.get("reason")})
    return pd.DataFrame(rows)
