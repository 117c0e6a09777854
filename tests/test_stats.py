"""rlcore.stats (rliable wrappers on (runs, tasks) matrices) and the per-seed statistics of
rlcore.aggregate (seed_scores, normalize, score_matrices, estimates, compare, curves' CI band)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rliable import library as rly
from rliable import metrics as rly_metrics

from rlcore import aggregate, stats
from rlcore.config import ConfigError

REPS = 300  # enough for the properties checked here, fast on a small CPU


@pytest.fixture
def matrices():
    rng = np.random.default_rng(7)
    return {"a": rng.normal(0.0, 1.0, size=(6, 3)), "b": rng.normal(1.0, 2.0, size=(4, 3))}


# ---- interval_estimates ---------------------------------------------------------------------------

@pytest.mark.parametrize("metric, func", [("iqm", rly_metrics.aggregate_iqm), ("mean", rly_metrics.aggregate_mean)])
def test_interval_estimates_equal_rliable_called_directly(matrices, metric, func):
    ours = stats.interval_estimates(matrices, metrics=("iqm", "mean"), reps=REPS, seed=11)
    np.random.seed(11)
    points, intervals = rly.get_interval_estimates(matrices, lambda x: np.array([func(x)]), reps=REPS,
                                                   confidence_interval_size=0.95)
    for method, matrix in matrices.items():
        row = ours[(ours["method"] == method) & (ours["metric"] == metric)].iloc[0]
        assert row["estimate"] == pytest.approx(points[method][0], rel=1e-12, abs=1e-12)
        assert row["ci_low"] == pytest.approx(intervals[method][0, 0], rel=1e-12, abs=1e-12)
        assert row["ci_high"] == pytest.approx(intervals[method][1, 0], rel=1e-12, abs=1e-12)
        assert row["runs"] == matrix.shape[0] and row["tasks"] == matrix.shape[1]


def test_interval_estimates_layout_and_point_values(matrices):
    out = stats.interval_estimates(matrices, reps=REPS)
    assert list(out.columns) == ["method", "metric", "estimate", "ci_low", "ci_high", "runs", "tasks"]
    assert len(out) == 4 and set(out["metric"]) == {"iqm", "mean"}
    mean_a = out[(out["method"] == "a") & (out["metric"] == "mean")].iloc[0]
    assert mean_a["estimate"] == pytest.approx(matrices["a"].mean())
    assert (out["ci_low"] <= out["estimate"] + 1e-12).all() and (out["estimate"] <= out["ci_high"] + 1e-12).all()


def test_a_call_leaves_the_global_numpy_random_state_as_it_was(matrices):
    np.random.seed(1234)
    expected = np.random.random(5)
    np.random.seed(1234)
    stats.interval_estimates(matrices, reps=50, seed=99)
    stats.probability_of_improvement(matrices["a"], matrices["b"], reps=50, seed=5)
    stats.difference(matrices["a"], matrices["b"], reps=50, seed=5)
    stats.performance_profile(matrices, [0.0, 1.0], reps=50, seed=5)
    stats.column_mean_intervals(matrices["a"], reps=50, seed=5)
    assert np.array_equal(np.random.random(5), expected)


def test_same_seed_same_interval_other_seed_other_interval(matrices):
    one = stats.interval_estimates(matrices, reps=REPS, seed=3)
    again = stats.interval_estimates(matrices, reps=REPS, seed=3)
    other = stats.interval_estimates(matrices, reps=REPS, seed=4)
    pd.testing.assert_frame_equal(one, again)
    assert not np.allclose(one["ci_low"], other["ci_low"])
    # ... and the draws do not depend on the global state the caller left behind
    np.random.seed(0)
    pd.testing.assert_frame_equal(stats.interval_estimates(matrices, reps=REPS, seed=3), one)


def test_one_run_has_a_zero_width_interval():
    out = stats.interval_estimates({"solo": np.array([[3.0, 5.0, 7.0]])}, reps=REPS)
    assert (out["ci_low"] == out["estimate"]).all() and (out["ci_high"] == out["estimate"]).all()
    assert (out["runs"] == 1).all()
    assert out.set_index("metric").loc["mean", "estimate"] == pytest.approx(5.0)


# ---- probability of improvement -------------------------------------------------------------------

def _col(*values):
    return np.array(values, dtype=float).reshape(-1, 1)


@pytest.mark.parametrize("x, y, expected", [
    (_col(5, 6, 7), _col(1, 2), 1.0),          # every run of X above every run of Y
    (_col(1, 2, 3), _col(1, 2, 3), 0.5),       # identical
    (_col(0, 1), _col(5, 6, 7), 0.0),          # every run below
    (_col(1, 3), _col(2, 2), 0.5),             # (1<2, 1<2, 3>2, 3>2): 2 of 4
    (_col(1, 2, 3), _col(0, 2), 4.5 / 6),      # 1>0, 1<2, 2>0, 2=2 (half), 3>0, 3>2: 4.5 of 6
    (_col(2, 2), _col(2, 1), 0.75),            # 2=2 (half), 2>1, 2=2 (half), 2>1: 3 of 4
])
def test_probability_of_improvement_on_hand_counted_cases(x, y, expected):
    out = stats.probability_of_improvement(x, y, reps=REPS)
    assert out["estimate"] == pytest.approx(expected)
    assert out["ci_low"] <= out["estimate"] + 1e-12 <= out["ci_high"] + 2e-12
    assert (out["runs_x"], out["runs_y"], out["tasks"]) == (x.shape[0], y.shape[0], 1)


def test_probability_of_improvement_averages_over_tasks():
    x = np.array([[5.0, 1.0, 1.0], [6.0, 2.0, 2.0], [7.0, 3.0, 3.0]])
    y = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 2.0], [3.0, 3.0, 2.0]])
    # task 0: (5,6,7) vs (1,2,3): 1.0; task 1: (1,2,3) vs (1,2,3): 0.5;
    # task 2: (1,2,3) vs (0,2,2): 1>0, 2>0, 3>0, 3>2 twice (5 wins), 2=2 twice (half each) -> 6 / 9
    expected = np.mean([1.0, 0.5, 6.0 / 9])
    assert stats.probability_of_improvement(x, y, reps=REPS)["estimate"] == pytest.approx(expected)


# ---- difference ---------------------------------------------------------------------------------

def test_difference_estimate_is_the_difference_of_means_inside_its_interval(matrices):
    x, y = matrices["b"], matrices["a"]
    out = stats.difference(x, y, reps=REPS)
    assert out["estimate"] == pytest.approx(x.mean() - y.mean())
    assert out["ci_low"] <= out["estimate"] <= out["ci_high"]
    assert (out["runs_x"], out["runs_y"], out["tasks"]) == (4, 6, 3)


def test_difference_of_iqm_and_a_clear_gap_excludes_zero():
    x, y = _col(10, 11, 12, 13), _col(0, 1, 2, 3)
    iqm = stats.difference(x, y, metric="iqm", reps=REPS)
    assert iqm["estimate"] == pytest.approx(rly_metrics.aggregate_iqm(x) - rly_metrics.aggregate_iqm(y))
    mean = stats.difference(x, y, reps=REPS)
    assert mean["estimate"] == pytest.approx(10.0) and mean["ci_low"] > 0


# ---- performance profile ------------------------------------------------------------------------

def test_performance_profile_fractions_are_hand_counts():
    scores = {"m": np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])}  # 6 run x task scores
    taus = [-1.0, 0.0, 2.5, 5.0]
    out = stats.performance_profile(scores, taus, reps=REPS)
    # strictly above tau: 6, 5 (not 0 itself), 3 (3, 4, 5), 0
    assert out["fraction"].tolist() == pytest.approx([6 / 6, 5 / 6, 3 / 6, 0 / 6])
    assert out["tau"].tolist() == taus and (out["method"] == "m").all()
    assert ((out["ci_low"] <= out["fraction"] + 1e-12) & (out["fraction"] <= out["ci_high"] + 1e-12)).all()


# ---- bad input ----------------------------------------------------------------------------------

def _field(call):
    with pytest.raises(ConfigError) as info:
        call()
    return info.value.field_name


def test_bad_input_raises_config_error_naming_the_field():
    good = np.ones((3, 2))
    nan = good.copy()
    nan[1, 1] = np.nan
    assert _field(lambda: stats.interval_estimates({"a": nan}, reps=10)) == "scores['a']"
    assert _field(lambda: stats.interval_estimates({"a": np.ones(3)}, reps=10)) == "scores['a']"
    assert _field(lambda: stats.interval_estimates({"a": np.ones((2, 2, 2))}, reps=10)) == "scores['a']"
    assert _field(lambda: stats.interval_estimates({"a": np.ones((0, 2))}, reps=10)) == "scores['a']"
    assert _field(lambda: stats.interval_estimates({"a": good}, metrics=("mode",), reps=10)) == "metrics"
    assert _field(lambda: stats.probability_of_improvement(nan, good, reps=10)) == "x"
    assert _field(lambda: stats.probability_of_improvement(good, np.ones(3), reps=10)) == "y"
    assert _field(lambda: stats.probability_of_improvement(good, np.ones((3, 3)), reps=10)) == "y"
    assert _field(lambda: stats.difference(good, np.ones((2, 5)), reps=10)) == "y"
    assert _field(lambda: stats.difference(good, good, metric="max", reps=10)) == "metrics"
    assert _field(lambda: stats.performance_profile({"a": nan}, [0.0], reps=10)) == "scores['a']"
    assert _field(lambda: stats.performance_profile({"a": good}, [], reps=10)) == "taus"
    assert _field(lambda: stats.column_mean_intervals(np.array([[1.0, np.inf]]), reps=10)) == "samples"


# ---- aggregate.curves(band="ci") ----------------------------------------------------------------

def curve_rows(spec, group="g"):
    """spec: seed -> list of (step, value)."""
    return pd.DataFrame([{"run": f"{group}{seed}", "env": "Pendulum-v1", "algo": "sac", "seed": seed, "group": group,
                          "step": step, "metric": "eval_return", "value": float(v), "frames": step}
                         for seed, points in spec.items() for step, v in points])


def _random_curves(n_seeds=5, steps=(0, 100, 200, 300), group="g", offset=0.0):
    rng = np.random.default_rng(len(group) + n_seeds)
    return curve_rows({s: [(t, offset + t / 10 + rng.normal(0, 5)) for t in steps] for s in range(n_seeds)}, group)


def test_curves_ci_band_brackets_the_mean():
    frame = pd.concat([_random_curves(group="a"), _random_curves(group="bb", offset=50.0)], ignore_index=True)
    out = aggregate.curves(frame, by=["group"])
    assert {"step", "mean", "std", "n", "ci_low", "ci_high"} <= set(out.columns)
    assert out[["ci_low", "ci_high"]].notna().all().all()
    assert (out["ci_low"] <= out["mean"] + 1e-9).all() and (out["mean"] <= out["ci_high"] + 1e-9).all()
    assert (out["ci_high"] > out["ci_low"]).all()  # five different seeds: some spread at every step
    assert (out["n"] == 5).all() and len(out) == 8


def test_curves_band_of_a_group_does_not_depend_on_the_other_groups():
    a = _random_curves(group="a")
    both = pd.concat([a, _random_curves(group="bb", offset=50.0)], ignore_index=True)
    alone = aggregate.curves(a, by=["group"])
    together = aggregate.curves(both, by=["group"])
    together = together[together["group"] == "a"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, together)


def test_curves_one_seed_has_a_zero_width_band():
    out = aggregate.curves(curve_rows({0: [(0, 1.0), (10, 4.0), (20, -2.0)]}), by=["group"])
    assert (out["ci_low"] == out["mean"]).all() and (out["ci_high"] == out["mean"]).all()
    assert (out["std"] == 0).all() and (out["n"] == 1).all()


def test_curves_std_band_has_no_ci_columns_and_same_mean():
    frame = _random_curves()
    std = aggregate.curves(frame, by=["group"], band="std")
    ci = aggregate.curves(frame, by=["group"])
    assert "ci_low" not in std.columns and "ci_high" not in std.columns
    pd.testing.assert_frame_equal(std, ci[std.columns.tolist()])


def test_curves_rejects_an_unknown_band():
    with pytest.raises(ConfigError) as info:
        aggregate.curves(_random_curves(), by=["group"], band="sem")
    assert info.value.field_name == "band"


def test_curves_band_at_every_step_when_one_seed_is_still_running():
    # seeds 0 and 1 reached step 300, seed 2 (still running) only step 100
    frame = curve_rows({0: [(0, 0.0), (100, 10.0), (200, 20.0), (300, 30.0)],
                        1: [(0, 2.0), (100, 14.0), (200, 22.0), (300, 34.0)],
                        2: [(0, 4.0), (100, 30.0)]})
    out = aggregate.curves(frame, by=["group"]).set_index("step")
    assert out.index.tolist() == [0, 100, 200, 300]
    assert out["n"].tolist() == [3, 3, 2, 2]
    assert out[["ci_low", "ci_high"]].notna().all().all()
    assert (out["ci_low"] <= out["mean"]).all() and (out["mean"] <= out["ci_high"]).all()
    # the late steps read the two seeds present: the mean's bootstrap lies within their range
    assert out.loc[300, "mean"] == pytest.approx(32.0)
    assert 30.0 <= out.loc[300, "ci_low"] < out.loc[300, "ci_high"] <= 34.0
    # the early steps read all three: step 100's band reaches above the two finished seeds' max mean
    assert out.loc[100, "mean"] == pytest.approx(18.0) and out.loc[100, "ci_high"] > 14.0


def test_curves_ci_without_groups():
    out = aggregate.curves(_random_curves(), by=[])
    assert list(out["step"]) == [0, 100, 200, 300] and out[["ci_low", "ci_high"]].notna().all().all()


# ---- seed_scores --------------------------------------------------------------------------------

def score_rows():
    """Group a: seed 0 peaks at step 1 (10) and ends at 2; seed 1 rises to the end (8). One other metric."""
    rows = [("a", 0, 0, 1.0), ("a", 0, 1, 10.0), ("a", 0, 2, 2.0),
            ("a", 1, 0, 0.0), ("a", 1, 1, 5.0), ("a", 1, 2, 8.0),
            ("b", 0, 0, -1.0), ("b", 0, 5, -3.0)]
    frame = pd.DataFrame([{"run": f"{g}{s}", "env": "Hopper-v4", "algo": "sac", "seed": s, "group": g, "step": t,
                           "metric": "eval_return", "value": v, "frames": t} for g, s, t, v in rows])
    other = frame.assign(metric="srank_critic1", value=1000.0)
    return pd.concat([frame, other], ignore_index=True)


def test_seed_scores_max_and_final():
    best = aggregate.seed_scores(score_rows(), by=["group"]).set_index(["group", "seed"])
    assert list(best.columns) == ["score", "step"]
    assert best.loc[("a", 0)].tolist() == [10.0, 1] and best.loc[("a", 1)].tolist() == [8.0, 2]
    assert best.loc[("b", 0)].tolist() == [-3.0, 5]  # its -1 is the untrained policy's, at step 0
    assert aggregate.seed_scores(score_rows(), by=["group"], initial=True).set_index(["group", "seed"]).loc[("b", 0)].tolist() == [-1.0, 0]
    final = aggregate.seed_scores(score_rows(), by=["group"], score="final").set_index(["group", "seed"])
    assert final.loc[("a", 0)].tolist() == [2.0, 2] and final.loc[("a", 1)].tolist() == [8.0, 2]
    assert final.loc[("b", 0)].tolist() == [-3.0, 5]
    assert len(best) == len(final) == 3  # the other metric's rows are not scores


def test_seed_scores_other_metric_empty_and_unknown_score():
    srank = aggregate.seed_scores(score_rows(), by=["group"], metric="srank_critic1")
    assert (srank["score"] == 1000.0).all() and len(srank) == 3
    empty = aggregate.seed_scores(score_rows(), by=["group"], metric="nothing")
    assert empty.empty and list(empty.columns) == ["group", "seed", "score", "step"]
    with pytest.raises(ConfigError) as info:
        aggregate.seed_scores(score_rows(), by=["group"], score="mean")
    assert info.value.field_name == "score"


def test_seed_scores_do_not_depend_on_the_frames_index():
    """Two runs' tables concatenated without ignore_index (both indexed 0, 1, ...) are still one
    frame of evaluations: one score per seed, read from that seed's rows."""
    frame = score_rows()
    a = frame[(frame["group"] == "a") & (frame["seed"] == 0)].reset_index(drop=True)
    b = frame[(frame["group"] == "a") & (frame["seed"] == 1)].reset_index(drop=True)
    stacked = pd.concat([a, b])  # index 0..5, 0..5
    for score, expected in (("max", {0: 10.0, 1: 8.0}), ("final", {0: 2.0, 1: 8.0})):
        out = aggregate.seed_scores(stacked, by=["group"], score=score)
        assert len(out) == 2, score
        assert out.set_index("seed")["score"].to_dict() == expected, score


# ---- normalize ----------------------------------------------------------------------------------

def test_normalize_divides_by_the_task_family_entry():
    scores = pd.DataFrame({"env": ["Hopper-v4", "Hopper-v4", "Ant-v4"], "seed": [0, 1, 0], "score": [100.0, 50.0, 30.0]})
    out = aggregate.normalize(scores, "env", {"Hopper": 200.0, "Ant": 10.0, "Humanoid": 1.0})
    assert out["score"].tolist() == pytest.approx([0.5, 0.25, 3.0])
    assert scores["score"].tolist() == [100.0, 50.0, 30.0]  # input not modified
    assert out["env"].tolist() == ["Hopper-v4", "Hopper-v4", "Ant-v4"]


def test_normalize_names_the_missing_tasks():
    scores = pd.DataFrame({"env": ["Hopper-v4", "Swimmer-v4", "Reacher-v4"], "score": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError) as info:
        aggregate.normalize(scores, "env", {"Hopper": 1.0})
    assert info.value.field_name == "normalizer"
    assert "Swimmer" in str(info.value) and "Reacher" in str(info.value) and "Hopper" in str(info.value)


# ---- score_matrices, estimates, compare -----------------------------------------------------------

def scores_frame(rows):
    """rows: (method, task, seed, score)."""
    return pd.DataFrame([{"method": m, "task": t, "seed": s, "score": float(v)} for m, t, s, v in rows])


def test_score_matrices_keep_the_seeds_present_on_every_task():
    scores = scores_frame([("a", "T1", 0, 1), ("a", "T2", 0, 2), ("a", "T1", 1, 3), ("a", "T2", 1, 4),
                           ("a", "T1", 2, 5),  # seed 2 has not reached T2: left out
                           ("b", "T1", 0, 7),  # b has no seed on both tasks: no matrix at all
                           ("b", "T2", 1, 8)])
    matrices, tasks = aggregate.score_matrices(scores, "method", "task")
    assert tasks == ["T1", "T2"]
    assert set(matrices) == {"a"}
    np.testing.assert_array_equal(matrices["a"], [[1.0, 2.0], [3.0, 4.0]])
    one, tasks = aggregate.score_matrices(scores[scores["task"] == "T1"], "method")
    assert tasks == [None]
    np.testing.assert_array_equal(one["a"], [[1.0], [3.0], [5.0]])
    np.testing.assert_array_equal(one["b"], [[7.0]])


def test_estimates_per_task_and_over_all_tasks():
    scores = scores_frame([("a", "T1", s, v) for s, v in enumerate([1, 2, 3, 4])]
                          + [("a", "T2", s, v) for s, v in enumerate([10, 20, 30, 40])]
                          + [("b", "T1", s, v) for s, v in enumerate([5, 5, 5])]
                          + [("b", "T2", s, v) for s, v in enumerate([6, 6, 6])])
    out = aggregate.estimates(scores, "method", task="task", reps=REPS)
    assert list(out.columns) == ["method", "task", "metric", "estimate", "ci_low", "ci_high", "runs", "tasks"]
    assert sorted(set(out["task"])) == ["T1", "T2", "all"]
    assert len(out) == 2 * 3 * 2  # methods x (T1, T2, all) x (iqm, mean)
    mean = out[out["metric"] == "mean"].set_index(["method", "task"])
    assert mean.loc[("a", "T1"), "estimate"] == pytest.approx(2.5)
    assert mean.loc[("a", "T2"), "estimate"] == pytest.approx(25.0)
    assert mean.loc[("a", "all"), "estimate"] == pytest.approx(13.75)
    assert mean.loc[("b", "all"), "estimate"] == pytest.approx(5.5)
    assert mean.loc[("a", "T1"), "runs"] == 4 and mean.loc[("b", "T2"), "runs"] == 3
    assert mean.loc[("a", "all"), "tasks"] == 2 and mean.loc[("a", "T1"), "tasks"] == 1
    b = mean.loc[("b", "T1")]
    assert b["ci_low"] == b["ci_high"] == 5.0  # identical seeds: no spread


def test_estimates_without_task_column_and_with_one_task():
    scores = scores_frame([("a", "T1", s, v) for s, v in enumerate([1, 2, 3])])
    none = aggregate.estimates(scores, "method", reps=REPS)
    assert len(none) == 2 and none["task"].isna().all()
    one = aggregate.estimates(scores, "method", task="task", reps=REPS)
    assert set(one["task"]) == {"T1"}  # no pooled "all" row over a single task
    empty = aggregate.estimates(scores.iloc[:0], "method", task="task", reps=REPS)
    assert empty.empty and "estimate" in empty.columns


def test_compare_reports_effect_probability_and_runs():
    scores = scores_frame([("good", "T", s, v) for s, v in enumerate([10, 11, 12])]
                          + [("bad", "T", s, v) for s, v in enumerate([1, 2, 3, 4])])
    out = aggregate.compare(scores, "method", "good", "bad", reps=REPS)
    assert out["better"] == "good" and out["worse"] == "bad"
    assert (out["runs_better"], out["runs_worse"], out["tasks"]) == (3, 4, 1)
    assert out["effect"] == pytest.approx(11.0 - 2.5)
    assert 0 < out["effect_low"] <= out["effect"] <= out["effect_high"]
    assert out["p_improvement"] == pytest.approx(1.0)
    assert out["p_low"] <= out["p_improvement"] <= out["p_high"]


def test_compare_with_a_side_missing_has_runs_and_no_effect():
    scores = scores_frame([("good", "T", s, v) for s, v in enumerate([10, 11, 12])])
    out = aggregate.compare(scores, "method", "good", "bad", reps=REPS)
    assert (out["runs_better"], out["runs_worse"]) == (3, 0)
    assert not {"effect", "effect_low", "effect_high", "p_improvement", "p_low", "p_high"} & set(out)
    reverse = aggregate.compare(scores, "method", "bad", "good", reps=REPS)
    assert (reverse["runs_better"], reverse["runs_worse"]) == (0, 3) and "effect" not in reverse
    nothing = aggregate.compare(scores.iloc[:0], "method", "good", "bad", task="task", reps=REPS)
    assert (nothing["runs_better"], nothing["runs_worse"]) == (0, 0) and "effect" not in nothing


def test_compare_pools_tasks_with_the_seeds_both_tasks_have():
    scores = scores_frame([("good", "T1", 0, 3), ("good", "T2", 0, 5), ("good", "T1", 1, 4), ("good", "T2", 1, 6),
                           ("bad", "T1", 0, 1), ("bad", "T2", 0, 1), ("bad", "T1", 1, 2), ("bad", "T2", 1, 2),
                           ("bad", "T1", 2, 100)])  # bad's seed 2 only on T1: left out
    out = aggregate.compare(scores, "method", "good", "bad", task="task", reps=REPS)
    assert (out["runs_better"], out["runs_worse"], out["tasks"]) == (2, 2, 2)
    assert out["effect"] == pytest.approx(4.5 - 1.5)
    assert out["p_improvement"] == pytest.approx(1.0)


def test_compare_reads_the_tasks_both_sides_have():
    """compare's docstring: the statistics are computed "over the tasks both have". Here `bad` has
    runs on T1 only, `good` on T1 and T2: the comparison should be over T1."""
    scores = scores_frame([("good", "T1", s, 10 + s) for s in range(3)] + [("good", "T2", s, 50) for s in range(3)]
                          + [("bad", "T1", s, 1 + s) for s in range(3)])
    out = aggregate.compare(scores, "method", "good", "bad", task="task", reps=REPS)
    assert (out["runs_better"], out["runs_worse"], out["tasks"]) == (3, 3, 1)
    assert out["effect"] == pytest.approx(9.0)


def test_vectorized_improvement_probability_equals_rliables_metric():
    """stats.improvement_probability replaces rliable's per-task scipy call inside the bootstrap;
    it must be the same statistic, ties included."""
    from rliable import metrics as rly_metrics

    rng = np.random.default_rng(3)
    for _ in range(100):
        x = rng.integers(0, 4, (rng.integers(1, 6), 3)).astype(float)
        y = rng.integers(0, 4, (rng.integers(1, 6), 3)).astype(float)
        assert stats.improvement_probability(x, y) == pytest.approx(rly_metrics.probability_of_improvement(x, y), abs=1e-12)
