"""Summaries of long-format result frames: curves over seeds and the papers' scalar scores."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from .config import ConfigError

MAX_RETURN_MODES = ("mean_of_max", "max_of_mean")
X_AXES = ("step", "frames")


def curves(frame: pd.DataFrame, by: Sequence[str], metric: str = "eval_return", x: str = "step") -> pd.DataFrame:
    """Mean, std (over seeds; 0 for one seed) and seed count per (group, x). `x="frames"` puts the
    curve on environment frames (agent steps x action repeat), the DMC papers' axis; the column
    is still called `step` so the plotting functions read either."""
    if x not in X_AXES:
        raise ConfigError("x", x, f"one of {', '.join(map(repr, X_AXES))}")
    if x == "frames" and "frames" not in frame.columns:
        raise ConfigError("x", x, "'step': these rows have no frames column (written before it existed)")
    sel = frame[frame["metric"] == metric]
    out = (sel.groupby([*by, x])["value"].agg(mean="mean", std="std", n="count").reset_index())
    out = out.rename(columns={x: "step"})
    out["std"] = out["std"].fillna(0.0)
    return out


def serial_in_gradient_steps(frame: pd.DataFrame, warmup_steps: int, updates_per_step: int = 1) -> pd.DataFrame:
    """A serial run's rows with `step` in gradient steps, to share an axis with Ape-X runs (Ota A.1).

    A serial run logs environment steps and updates `updates_per_step` times per step once the
    random warm-up is over, so gradient steps = (step - warmup_steps) x updates_per_step.
    Evaluations inside the warm-up other than the first are dropped (they would pile up at 0)."""
    out = frame[(frame["step"] == 0) | (frame["step"] >= warmup_steps)].copy()
    out["step"] = ((out["step"] - warmup_steps).clip(lower=0) * updates_per_step).astype(out["step"].dtype)
    return out


def max_average_return(frame: pd.DataFrame, by: Sequence[str], metric: str = "eval_return",
                       mode: str = "mean_of_max") -> pd.DataFrame:
    """The papers' "maximum average return" per group (Ota Fig 4, Fig 7, Table 1).

    Each evaluation is already an average over episodes. The paper does not say whether the max
    over time is taken per seed or of the seed-mean curve:
      "mean_of_max" (default): max over evaluations per seed, then mean and std over seeds;
      "max_of_mean": max over evaluations of the seed-mean curve (std is that step's std).
    """
    if mode not in MAX_RETURN_MODES:
        raise ConfigError("mode", mode, f"one of {', '.join(map(repr, MAX_RETURN_MODES))}")
    sel = frame[frame["metric"] == metric]
    if mode == "mean_of_max":
        per_seed = sel.groupby([*by, "seed"])["value"].max().reset_index()
        out = per_seed.groupby(list(by))["value"].agg(mean="mean", std="std", n="count").reset_index()
        out["std"] = out["std"].fillna(0.0)
        return out
    c = curves(frame, by, metric)
    best = c.loc[c.groupby(list(by))["mean"].idxmax()]
    return best[[*by, "mean", "std", "n"]].reset_index(drop=True)
