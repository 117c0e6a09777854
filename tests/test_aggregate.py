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


def test_max_average_return_counts_only_runs_that_ended():
    # seed 1 is still running (its max so far is 50): the grid cell holds seed 0 (finished) and 2 (crashed)
    frame = evals([("a", 0, 1, 10.0), ("a", 1, 1, 50.0), ("a", 2, 1, 4.0)])
    frame["state"] = frame["seed"].map({0: "finished", 1: "running", 2: "crashed"})
    for mode in aggregate.MAX_RETURN_MODES:
        out = aggregate.max_average_return(frame, by=["group"], mode=mode)
        assert out.loc[0, "n"] == 2 and out.loc[0, "mean"] == pytest.approx(7.0)
    interrupted = frame.assign(state=frame["state"].replace("running", "interrupted"))
    assert aggregate.max_average_return(interrupted, by=["group"]).loc[0, "n"] == 2
    assert aggregate.max_average_return(frame.drop(columns="state"), by=["group"]).loc[0, "n"] == 3  # no states: all rows
    for score in aggregate.SCORES:  # per-seed scores (Table 1, Fig 10, the claims) count the same runs
        assert sorted(aggregate.seed_scores(frame, by=["group"], score=score)["seed"]) == [0, 2]


def test_the_untrained_policy_at_step_0_is_not_a_maximum_unless_asked():
    # Ant's untrained policy stands still (~1000); the trained one scores lower at a short budget
    frame = evals([("a", 0, 0, 988.0), ("a", 0, 5000, 420.0), ("a", 0, 10000, 130.0)])
    assert aggregate.max_average_return(frame, by=["group"]).loc[0, "mean"] == pytest.approx(420.0)
    assert aggregate.max_average_return(frame, by=["group"], mode="max_of_mean").loc[0, "mean"] == pytest.approx(420.0)
    assert aggregate.max_average_return(frame, by=["group"], initial=True).loc[0, "mean"] == pytest.approx(988.0)
    best = aggregate.seed_scores(frame, by=["group"])
    assert best.loc[0, "score"] == pytest.approx(420.0) and best.loc[0, "step"] == 5000
    assert aggregate.seed_scores(frame, by=["group"], initial=True).loc[0, "score"] == pytest.approx(988.0)
    assert aggregate.seed_scores(frame, by=["group"], score="final").loc[0, "score"] == pytest.approx(130.0)


def test_evaluations_marked_untrained_are_left_out_beyond_step_0():
    # a warm-up longer than the evaluation interval: the evaluation at 5k saw no update either
    frame = evals([("a", 0, 0, 988.0), ("a", 0, 5000, 990.0), ("a", 0, 10000, 130.0)])
    frame["untrained"] = frame["step"] <= 5000
    assert aggregate.max_average_return(frame, by=["group"]).loc[0, "mean"] == pytest.approx(130.0)
    assert aggregate.seed_scores(frame, by=["group"]).loc[0, "step"] == 10000
    assert aggregate.seed_scores(frame, by=["group"], initial=True).loc[0, "score"] == pytest.approx(990.0)


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


# ---- Bjorck et al.'s final scores ------------------------------------------------------------------

def test_head_preset_names_every_bjorck_preset():
    from rlcore.config import RunConfig
    from rlcore.experiments import HEAD_PRESETS, pixel_agent

    for name in HEAD_PRESETS:
        assert aggregate.head_preset(RunConfig(agent=pixel_agent("drq", name))) == name


def _bjorck_runs():
    """Two head presets x two seeds on one budget (total 30, eval every 10; frames = 2 x steps):
    a/seed 1 crashed after step 10, b/seed 1 is still running (it does not count)."""
    from rlcore.config import BudgetConfig, EnvConfig, RunConfig

    cfg = {(g, s): RunConfig(env=EnvConfig(action_repeat=2), seed=s + (10 if g == "b" else 0),
                             budget=BudgetConfig(total_steps=30, eval_every=10))
           for g in "ab" for s in (0, 1)}
    curves = {("a", 0): [1.0, 2.0, 3.0, 4.0], ("a", 1): [1.0, 5.0], ("b", 0): [0.0, 6.0, 7.0, 8.0],
              ("b", 1): [0.0, 1.0]}
    states = {("a", 0): "finished", ("a", 1): "crashed", ("b", 0): "finished", ("b", 1): "running"}
    rows = [{"run": cfg[k].run_id, "seed": s, "heads": k[0], "step": 10 * i, "metric": "eval_return", "value": v,
             "frames": 20 * i, "state": states[k]}
            for k, values in curves.items() for s in [k[1]] for i, v in enumerate(values)]
    return pd.DataFrame(rows), list(cfg.values())


def test_final_scores_apply_the_crash_rule_and_count_only_ended_runs():
    frame, configs = _bjorck_runs()
    scores = aggregate.final_scores(frame, configs, by=["heads"]).sort_values(["heads", "seed"])
    # a/1 crashed at step 10 with 5.0: that is its final score, read at the budget's last step (30);
    # b/1 is still running and is left out.
    assert scores[["heads", "seed", "score", "step", "crashed"]].values.tolist() == [
        ["a", 0, 4.0, 30, False], ["a", 1, 5.0, 30, True], ["b", 0, 8.0, 30, False]]
    ruled = aggregate.crash_ruled(frame, configs)
    assert set(ruled["state"]) == {"finished", "crashed"}
    assert ruled.loc[ruled["carried"], "frames"].tolist() == [40, 60]  # filled in: steps x action repeat 2
    empty = aggregate.final_scores(frame.iloc[:0], configs, by=["heads"])  # nothing ran yet: no rows, no error
    assert empty.empty and aggregate.score_summary(empty, ["heads"]).empty
    with pytest.raises(ConfigError, match="frame"):
        aggregate.final_scores(frame.drop(columns="state"), configs, by=["heads"])


def test_score_summary_prints_mean_std_sem_ci_and_crashes():
    frame, configs = _bjorck_runs()
    summary = aggregate.score_summary(aggregate.final_scores(frame, configs, by=["heads"]), ["heads"]).set_index("heads")
    a, b = summary.loc["a"], summary.loc["b"]
    assert a["mean"] == pytest.approx(4.5) and a["std"] == pytest.approx(0.5 ** 0.5)  # ddof 1 over 4.0, 5.0
    assert a["sem"] == pytest.approx(0.5) and (a["n"], a["crashed"]) == (2, 1)
    assert 4.0 <= a["ci_low"] <= a["mean"] <= a["ci_high"] <= 5.0
    assert (b["mean"], b["std"], b["sem"], b["ci_low"], b["ci_high"], b["n"], b["crashed"]) == (8.0, 0.0, 0.0, 8.0, 8.0, 1, 0)
    # Without a crashed column the summary has none; the same seed gives the same interval.
    plain = aggregate.score_summary(pd.DataFrame({"g": ["x"] * 3, "seed": [0, 1, 2], "score": [1.0, 2.0, 6.0]}), ["g"])
    assert "crashed" not in plain and plain.loc[0, "n"] == 3
    again = aggregate.score_summary(pd.DataFrame({"g": ["x"] * 3, "seed": [0, 1, 2], "score": [1.0, 2.0, 6.0]}), ["g"])
    assert plain.equals(again)


def test_squared_td_error_puts_the_logged_critic_loss_on_eq2s_scale():
    import dataclasses

    from rlcore.experiments import bjorck_fig3_dynamics, bjorck_table1_drqv2

    drq, drqv2 = bjorck_fig3_dynamics("smoke").configs[0], bjorck_table1_drqv2("smoke").configs[0]
    rows = [dict(run=c.run_id, seed=0, step=100, metric=m, value=v, frames=200)
            for c in (drq, drqv2) for m, v in (("train_critic_loss", 8.0), ("train_q_mean", 3.0))]
    out = aggregate.squared_td_error(pd.DataFrame(rows), [drq, drqv2]).set_index("run")
    assert set(out["metric"]) == {"squared_td_error"} and len(out) == 2  # only the critic loss rows
    # DrQ: sum over 2 Q heads x M = 2 shifts of 1/2 (Q - y)^2 -> / 2; DrQ-v2: 2 heads x 1/2 -> / 1
    assert out.loc[drq.run_id, "value"] == pytest.approx(4.0)
    assert out.loc[drqv2.run_id, "value"] == pytest.approx(8.0)
    huber = dataclasses.replace(drq, agent=dataclasses.replace(drq.agent, critic_loss="huber"))
    with pytest.raises(ConfigError, match="critic_loss"):
        aggregate.squared_td_error(pd.DataFrame(rows).assign(run=huber.run_id), [huber])


def test_dynamics_summary_early_late_and_peak_per_group():
    # two seeds of "a" over frames 0..400; seed 1 stops at 200 (a crash): late is over the seeds that reach it
    rows = [dict(heads="a", seed=0, frames=f, metric="loss", value=v) for f, v in zip((0, 100, 200, 300, 400), (1, 2, 3, 4, 9))]
    rows += [dict(heads="a", seed=1, frames=f, metric="loss", value=v) for f, v in zip((0, 100, 200), (3, 2, 8))]
    rows += [dict(heads="b", seed=0, frames=f, metric="loss", value=1.0) for f in (0, 100, 200, 300, 400)]
    out = aggregate.dynamics_summary(pd.DataFrame(rows), ["heads"]).set_index("heads")
    a, b = out.loc["a"], out.loc["b"]
    assert a["early"] == pytest.approx(((1 + 2) / 2 + (3 + 2) / 2) / 2)  # frames <= 100
    assert a["late"] == pytest.approx((4 + 9) / 2)  # frames >= 300: seed 0 only
    assert a["peak"] == pytest.approx((9 + 8) / 2) and a["seeds"] == 2
    assert (b["early"], b["late"], b["peak"], b["seeds"]) == (1.0, 1.0, 1.0, 1)
    assert aggregate.dynamics_summary(pd.DataFrame(rows).iloc[:0], ["heads"]).empty
    with pytest.raises(ConfigError, match="share"):
        aggregate.dynamics_summary(pd.DataFrame(rows), ["heads"], share=0)


def test_vanished_from_finds_where_a_norm_fell_to_zero_for_good():
    rows = pd.DataFrame(dict(
        heads=["a"] * 4 + ["b"] * 3 + ["c"] * 2, seed=[0] * 9, frames=[1, 2, 3, 4, 1, 2, 3, 1, 2],
        metric="train_actor_grad_norm", value=[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.5, 0.0, 0.0]))
    rows = pd.concat([rows, rows.assign(metric="eval_return", value=0.0)])  # other metrics are ignored
    out = aggregate.vanished_from(rows, ["heads"]).set_index("heads")
    assert out.loc["a", "zero_from"] == 2 and out.loc["a", "zeros"] == 3 and out.loc["a", "logged"] == 4
    assert pd.isna(out.loc["b", "zero_from"]) and out.loc["b", "zeros"] == 1  # a zero, then it recovered
    assert out.loc["c", "zero_from"] == 1  # zero from the first point on
