"""rlcore.analysis.cost: Bjorck et al. 2021's Table 3 measured here (a small real measurement,
one fresh process per head, then the summaries on synthetic frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rlcore.analysis import cost
from rlcore.config import ConfigError

COLUMNS = {"heads", "algo", "run", "metric", "unit", "value", "device", "device_name", "batch_size", "iterations",
           "act_iterations", "warmup", "width", "image", "threads", "heap_malloc", "time_statistic", "peak_reset",
           "memory"}


@pytest.fixture(scope="module")
def measured() -> pd.DataFrame:
    # Width 1024 (the presets'), so the heads differ as in Table 3: modern4's 4-block critic (x2 heads,
    # x2 with its target) holds ~130 MB more weights than mlp2's; batch 4 and one DrQ cycle keep it short.
    return cost.measure_cost(["mlp2", "modern4"], "drq", "cpu", batch_size=4, iterations=2, warmup=0,
                             act_iterations=3, threads=1)


def test_frame_is_tidy_with_positive_times(measured):
    assert set(measured.columns) == COLUMNS
    assert len(measured) == 2 * 1 * len(cost.METRICS)  # heads x runs x metrics
    assert list(dict.fromkeys(measured["heads"])) == ["mlp2", "modern4"]
    assert set(measured["metric"]) == set(cost.METRICS)
    assert measured.groupby("metric")["unit"].first().to_dict() == cost.METRICS
    values = measured.pivot(index="heads", columns="metric", values="value")
    assert (values[["train_time", "act_time"]] > 0).all().all()
    assert (measured["iterations"] == 2).all() and (measured["act_iterations"] == 3).all()
    assert (measured["device"] == "cpu").all() and (measured["threads"] == 1).all()
    assert (measured["width"] == 1024).all() and (measured["memory"] == "peak RSS - baseline").all()


def test_memory_grows_with_the_head(measured):
    v = measured.pivot(index="heads", columns="metric", values="value")
    assert v.loc["modern4", "weights"] - v.loc["mlp2", "weights"] > 100  # MB of parameters
    assert measured["peak_reset"].all()  # Linux: VmHWM can be reset, so act and train peaks are separate
    # Acting memory is mostly the agent's weights (Table 3: 50 MB for mlp2, 247 MB for modern4): most
    # of the weights' difference shows, well above the RSS noise of a few MB.
    extra_weights = v.loc["modern4", "weights"] - v.loc["mlp2", "weights"]
    assert v.loc["mlp2", "act_mem"] < v.loc["modern4", "act_mem"]
    assert v.loc["modern4", "act_mem"] - v.loc["mlp2", "act_mem"] > 0.5 * extra_weights
    assert v.loc["mlp2", "train_mem"] < v.loc["modern4", "train_mem"]  # GB: Adam's state grows with them


def test_bad_head_or_setting_is_a_config_error_before_any_process(monkeypatch):
    def no_process(spec):
        raise AssertionError("a measuring process started")

    monkeypatch.setattr(cost, "_measure_isolated", no_process)
    with pytest.raises(ConfigError, match="heads"):
        cost.measure_cost(["mlp2", "modern9"], device="cpu")
    with pytest.raises(ConfigError, match="algo"):
        cost.measure_cost(["mlp2"], algo="sac", device="cpu")
    with pytest.raises(ConfigError, match="batch_size"):
        cost.measure_cost(["mlp2"], device="cpu", batch_size=0)
    with pytest.raises(ConfigError, match="time_statistic"):
        cost.measure_cost(["mlp2"], device="cpu", time_statistic="max")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device"):
            cost.measure_cost(["mlp2"], device="cuda")


def _synthetic() -> pd.DataFrame:
    rows = []
    for heads, scale in (("mlp2", 1.0), ("modern4", 2.0)):
        for run, noise in enumerate((-0.1, 0.1)):
            for metric, unit in cost.METRICS.items():
                rows.append(dict(heads=heads, run=run, metric=metric, unit=unit, value=scale * (1.0 + noise)))
    return pd.DataFrame(rows)


def test_summary_means_runs_and_relative_increase():
    s = cost.cost_summary(_synthetic())
    assert list(s.columns) == ["heads", "metric", "unit", "mean", "std", "runs", "relative"]
    assert list(s["heads"].unique()) == ["mlp2", "modern4"] and list(s["metric"][:6]) == list(cost.METRICS)
    m4 = s[(s["heads"] == "modern4") & (s["metric"] == "train_time")].iloc[0]
    assert m4["mean"] == pytest.approx(2.0) and m4["std"] == pytest.approx(np.std([1.8, 2.2], ddof=1))
    assert m4["runs"] == 2 and m4["relative"] == pytest.approx(1.0)
    assert (s.loc[s["heads"] == "mlp2", "relative"] == 0).all()
    one = cost.cost_summary(_synthetic().query("run == 0"))
    assert (one["std"] == 0).all() and (one["runs"] == 1).all()
    assert cost.cost_summary(_synthetic(), baseline="mlp4")["relative"].isna().all()


def test_comparison_puts_table3_beside_ours():
    c = cost.table3_comparison(cost.cost_summary(_synthetic()))
    assert set(c["metric"]) == set(cost.TABLE3_METRICS)  # weights are ours only
    row = c[(c["heads"] == "modern4") & (c["metric"] == "train_mem")].iloc[0]
    assert row["paper_mean"] == 4.73 and row["paper_pm"] == 0.0
    assert row["paper_relative"] == pytest.approx(4.73 / 4.05 - 1)  # the text's "roughly 17 %"
    assert row["relative"] == pytest.approx(1.0)


def test_profile_settings():
    assert cost.table3_settings("paper") == dict(batch_size=512, iterations=500, warmup=20, act_iterations=500, runs=5)
    assert cost.table3_settings("smoke", runs=2, batch_size=None)["runs"] == 2
    assert cost.table3_settings("quick", warmup=0)["warmup"] == 0
    with pytest.raises(ConfigError):
        cost.table3_settings("smoke", iterations=0)
    with pytest.raises(ConfigError):
        cost.table3_settings("smoke", depth=3)
    with pytest.raises(ConfigError):
        cost.table3_settings("nosuch")
