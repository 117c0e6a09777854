"""Aggregation of evaluations: the papers' maximum average return and the gradient-step axis."""

from __future__ import annotations

import pandas as pd
import pytest

from rlcore import aggregate
from rlcore.config import ConfigError


def evals(rows):
    """Rows of evaluations.csv's shape (serial, no action repeat: frames = step)."""
    return pd.DataFrame([{"run": f"r{seed}", "seed": seed, "group": g, "step": step, "metric": "eval_return",
                          "value": v, "frames": step} for g, seed, step, v in rows])


def test_max_average_return_mean_of_max_and_max_of_mean_differ_as_defined():
    # seed 0 peaks at step 1, seed 1 at step 2: mean of the maxima (10 + 8) / 2 = 9; the mean curve is 5 at both steps
    frame = evals([("a", 0, 1, 10.0), ("a", 0, 2, 2.0), ("a", 1, 1, 0.0), ("a", 1, 2, 8.0)])
    mom = aggregate.max_average_return(frame, by=["group"])
    assert mom.loc[0, "mean"] == pytest.approx(9.0) and mom.loc[0, "n"] == 2
    mam = aggregate.max_average_return(frame, by=["group"], mode="max_of_mean")
    assert mam.loc[0, "mean"] == pytest.approx(5.0)


def test_max_average_return_rejects_unknown_mode():
    with pytest.raises(ConfigError, match="mode"):
        aggregate.max_average_return(evals([("a", 0, 1, 1.0)]), by=["group"], mode="median")


def test_serial_runs_move_onto_the_gradient_step_axis():
    frame = evals([("a", 0, 0, -5.0), ("a", 0, 500, -4.0), ("a", 0, 1000, -3.0), ("a", 0, 3000, 7.0)])
    out = aggregate.serial_in_gradient_steps(frame, warmup_steps=1000, updates_per_step=2)
    # the evaluation inside the warm-up (step 500) is dropped; the rest shift by the warm-up, times 2
    assert out["step"].tolist() == [0, 0, 4000]
    assert out["value"].tolist() == [-5.0, -3.0, 7.0]
    assert out["frames"].tolist() == [0, 1000, 3000]  # frames still count the environment frames behind a row
    assert frame["step"].tolist() == [0, 500, 1000, 3000]  # the input is not modified


def test_load_sweep_with_no_runs_yet_has_the_columns_and_no_rows(tmp_path):
    """A notebook with run_missing=False before anything ran: an empty frame, not an error."""
    from rlcore.experiments import ota_size_sweep
    from rlcore.results import load_sweep

    frame = load_sweep(ota_size_sweep("smoke").configs, tmp_path, config_columns=["agent.critic.width"])
    assert len(frame) == 0 and {"state", "agent.critic.width", "value"} <= set(frame.columns)
    assert aggregate.seed_scores(frame, ["agent.critic.width"]).empty


def test_crash_rule_carries_the_last_evaluation_to_every_later_step():
    from rlcore.config import BudgetConfig, RunConfig

    cfg = {s: RunConfig(seed=s, budget=BudgetConfig(total_steps=30, eval_every=10)) for s in (0, 1)}
    rows = [(0, 0, 1.0), (0, 10, 2.0), (0, 20, 3.0), (0, 30, 4.0), (1, 0, 1.0), (1, 10, 5.0)]
    frame = pd.DataFrame([{"run": cfg[s].run_id, "seed": s, "group": "a", "step": st, "metric": "eval_return",
                           "value": v, "frames": st, "state": "finished" if s == 0 else "crashed"}
                          for s, st, v in rows])
    out = aggregate.carry_crashed(frame, list(cfg.values()))
    crashed = out[out["seed"] == 1].sort_values("step")
    assert list(crashed["step"]) == [0, 10, 20, 30] and list(crashed["value"]) == [1.0, 5.0, 5.0, 5.0]
    assert list(crashed["carried"]) == [False, False, True, True]
    assert not out[out["seed"] == 0]["carried"].any()
    # The seed mean at step 30 counts the crashed seed: (4 + 5) / 2, not 4 from the survivor alone.
    curves = aggregate.curves(out, by=["group"], band="std")
    assert curves.set_index("step").loc[30, "mean"] == pytest.approx(4.5)
    counts = aggregate.crash_counts(out, ["group"])
    assert counts.loc[0, "runs"] == 2 and counts.loc[0, "crashed"] == 1
    with pytest.raises(ConfigError, match="frame"):
        aggregate.carry_crashed(frame.drop(columns="state"), list(cfg.values()))
