"""rlcore.claims: verdicts, and evaluation against synthetic run directories whose answers are known."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter

import pandas as pd
import pytest

from rlcore import aggregate, claims, experiments, reference
from rlcore.claims import Claim, Comparison, CostComparison, Group, combine, evaluate, evaluate_claims, verdict
from rlcore.config import AgentConfig, BudgetConfig, ConfigError, EnvConfig, NetConfig, RunConfig
from rlcore.results import RunStore, default_results_dir, load_runs, load_sweep

PROFILES = ("smoke", "quick", "paper")


# ---- synthetic runs ------------------------------------------------------------------------------

def config(width: int, seed: int, env: str = "Pendulum-v1") -> RunConfig:
    net = NetConfig(width=width)
    return RunConfig(env=EnvConfig(env), agent=AgentConfig(actor=net, critic=net, critic_loss="huber"),
                     budget=BudgetConfig(total_steps=300, warmup_steps=100, eval_every=100), seed=seed,
                     profile="smoke")


def group(label: str, width: int, seeds=(0, 1, 2), env: str = "Pendulum-v1") -> Group:
    return Group(label, tuple(config(width, s, env) for s in seeds))


def write_run(root, cfg: RunConfig, values, state: str = "finished", metric: str = "eval_return", every: int = 100):
    """A run directory as the trainer leaves it: config.json, status.json, evaluations.csv (the
    untrained policy's at step 0, then one per `every` steps after the warm-up)."""
    store = RunStore(root, cfg)
    store.prepare()
    start = cfg.budget.warmup_steps if cfg.collect.mode == "serial" else 0
    steps = [0] + [start + i * every for i in range(1, len(values))]
    store.write_rows("evaluations", [store.row(step, metric, v) for step, v in zip(steps, values)])
    store.write_status(state, step=steps[-1])
    return store


def write_group(root, g: Group, finals, state: str = "finished"):
    """Each seed's run rises linearly to its value in `finals` (so its max is its final score)."""
    for cfg, final in zip(g.configs, finals):
        write_run(root, cfg, [final / 4, final / 2, final], state)


# ---- verdict and combine -------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, nb, nw, expected", [
    (0.5, 2.0, 3, 3, "supported"),
    (-2.0, -0.5, 3, 3, "not supported"),
    (-1.0, 1.0, 3, 3, "inconclusive"),       # the CI straddles 0
    (0.0, 1.0, 3, 3, "inconclusive"),        # touching 0 is not above it
    (-1.0, 0.0, 3, 3, "inconclusive"),
    (0.5, 2.0, 1, 3, "inconclusive"),        # fewer than min_runs on one side
    (-2.0, -0.5, 3, 1, "inconclusive"),
    (None, None, 0, 3, "no results"),
    (None, None, 3, 0, "no results"),
    (None, None, 0, 0, "no results"),
])
def test_verdict_branches(low, high, nb, nw, expected):
    assert verdict(low, high, nb, nw) == expected


def test_verdict_min_runs_is_a_parameter():
    assert verdict(0.5, 2.0, 1, 1, min_runs=1) == "supported"
    assert verdict(0.5, 2.0, 2, 2, min_runs=3) == "inconclusive"
    assert claims.MIN_RUNS == 2 and verdict(0.5, 2.0, 2, 2) == "supported"


@pytest.mark.parametrize("verdicts, expected", [
    (["supported", "supported"], "supported"),
    (["supported", "no results"], "supported"),
    (["supported", "inconclusive"], "inconclusive"),
    (["inconclusive", "no results"], "inconclusive"),
    (["supported", "not supported", "inconclusive"], "not supported"),
    (["not supported", "no results"], "not supported"),
    (["no results", "no results"], "no results"),
    ([], "no results"),
])
def test_combine_branches(verdicts, expected):
    assert combine(verdicts) == expected
    assert expected in claims.VERDICTS


# ---- evaluate on known answers -------------------------------------------------------------------

def test_clearly_better_group_is_supported(tmp_path):
    wide, narrow = group("wide", 64), group("narrow", 32)
    write_group(tmp_path, wide, [100.0, 104.0, 108.0])
    write_group(tmp_path, narrow, [10.0, 12.0, 14.0])
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert row["verdict"] == "supported"
    assert row["comparison"] == "wide > narrow"
    assert (row["runs_better"], row["runs_worse"], row["tasks"]) == (3, 3, 1)
    assert row["effect"] == pytest.approx(104.0 - 12.0)
    assert 0 < row["effect_low"] <= row["effect"] <= row["effect_high"]
    assert row["p_improvement"] == pytest.approx(1.0)
    assert row["metric"] == "eval_return" and row["score"] == "max" and row["normalized"] is False
    assert row["total_steps"] == 300


def test_clearly_worse_group_is_not_supported(tmp_path):
    wide, narrow = group("wide", 64), group("narrow", 32)
    write_group(tmp_path, wide, [10.0, 12.0, 14.0])
    write_group(tmp_path, narrow, [100.0, 104.0, 108.0])
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert row["verdict"] == "not supported"
    assert row["effect"] == pytest.approx(-92.0) and row["effect_high"] < 0
    assert row["p_improvement"] == pytest.approx(0.0)


def test_overlapping_groups_are_inconclusive(tmp_path):
    wide, narrow = group("wide", 64), group("narrow", 32)
    write_group(tmp_path, wide, [10.0, 50.0, 90.0])
    write_group(tmp_path, narrow, [20.0, 45.0, 80.0])
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert row["verdict"] == "inconclusive"
    assert row["effect"] == pytest.approx(5.0 / 3)
    assert row["effect_low"] < 0 < row["effect_high"]


def test_running_runs_are_left_out(tmp_path):
    wide, narrow = group("wide", 64, seeds=(0, 1, 2, 3)), group("narrow", 32)
    write_group(tmp_path, Group("wide", wide.configs[:3]), [100.0, 104.0, 108.0])
    # a fourth seed still running, at a score that would make the comparison inconclusive if counted
    write_run(tmp_path, wide.configs[3], [-500.0, -1000.0], state="running")
    write_group(tmp_path, narrow, [10.0, 12.0, 14.0])
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert row["runs_better"] == 3 and row["verdict"] == "supported"
    assert row["effect"] == pytest.approx(92.0)
    # the same run counted once it has ended (crashed runs keep their evaluations)
    write_run(tmp_path, wide.configs[3], [-500.0, -1000.0], state="crashed")
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert row["runs_better"] == 4 and row["verdict"] == "inconclusive"
    # its best is -1000: the -500 is its evaluation at step 0, before any training
    assert row["effect"] == pytest.approx((100 + 104 + 108 - 1000) / 4 - 12.0)


@pytest.mark.parametrize("state", ["running", "interrupted", "error", "new"])
def test_only_finished_or_crashed_runs_count(tmp_path, state):
    wide, narrow = group("wide", 64), group("narrow", 32)
    write_group(tmp_path, wide, [100.0, 104.0, 108.0], state=state)
    write_group(tmp_path, narrow, [10.0, 12.0, 14.0])
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert (row["runs_better"], row["runs_worse"]) == (0, 3)
    assert row["verdict"] == "no results" and "effect" not in row


def test_absent_group_has_no_results(tmp_path):
    wide, narrow = group("wide", 64), group("narrow", 32)
    write_group(tmp_path, narrow, [10.0, 12.0, 14.0])
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert row["verdict"] == "no results"
    assert (row["runs_better"], row["runs_worse"]) == (0, 3)
    assert not {"effect", "effect_low", "effect_high", "p_improvement"} & set(row)
    empty = evaluate(Comparison(wide, narrow), tmp_path / "nothing-here")
    assert empty["verdict"] == "no results" and (empty["runs_better"], empty["runs_worse"]) == (0, 0)


def test_one_finished_seed_is_inconclusive_however_large_the_gap(tmp_path):
    wide, narrow = group("wide", 64), group("narrow", 32)
    write_group(tmp_path, Group("wide", wide.configs[:1]), [1000.0])
    write_group(tmp_path, Group("wide", wide.configs[1:]), [1000.0, 1000.0], state="running")
    write_group(tmp_path, narrow, [10.0, 12.0, 14.0])
    row = evaluate(Comparison(wide, narrow), tmp_path)
    assert row["runs_better"] == 1 and row["verdict"] == "inconclusive"
    assert evaluate(Comparison(wide, narrow), tmp_path, min_runs=1)["verdict"] == "supported"


def test_score_max_and_final_read_different_evaluations(tmp_path):
    peaky, steady = group("peaky", 64), group("steady", 32)
    for cfg in peaky.configs:  # peaks at 100, collapses to 0
        write_run(tmp_path, cfg, [0.0, 100.0 + cfg.seed, 0.0 + cfg.seed])
    for cfg in steady.configs:  # ends at its best, 50
        write_run(tmp_path, cfg, [0.0, 25.0, 50.0 + cfg.seed])
    best = evaluate(Comparison(peaky, steady, score="max"), tmp_path)
    final = evaluate(Comparison(peaky, steady, score="final"), tmp_path)
    assert best["verdict"] == "supported" and best["effect"] == pytest.approx(50.0)
    assert final["verdict"] == "not supported" and final["effect"] == pytest.approx(-50.0)
    assert final["score"] == "final"


def test_another_metric_is_read_from_its_own_rows(tmp_path):
    a, b = group("a", 64), group("b", 32)
    for g, rank, ret in ((a, 40.0, 0.0), (b, 10.0, 100.0)):
        for cfg in g.configs:
            store = RunStore(tmp_path, cfg)
            store.prepare()
            # step 200: after the 100-step warm-up (the step-0 rows are the untrained policy's)
            store.write_rows("evaluations", [store.row(t, "eval_return", ret + cfg.seed) for t in (0, 200)]
                             + [store.row(t, "srank_critic1", rank + cfg.seed) for t in (0, 200)])
            store.write_status("finished", step=200)
    assert evaluate(Comparison(a, b, metric="srank_critic1", score="final"), tmp_path)["verdict"] == "supported"
    assert evaluate(Comparison(a, b), tmp_path)["verdict"] == "not supported"


def test_pooled_tasks_are_normalized_before_the_effect(tmp_path):
    """Two tasks of very different scale: raw, the small task would not count; normalized by the
    reference scores, better is 1.5x the reference on both and worse 1.0x: effect 0.5."""
    norm = {"Hopper": 1000.0, "Humanoid": 10.0}
    better = Group("ours", tuple(config(64, s, env) for env in ("Hopper-v4", "Humanoid-v4") for s in range(3)))
    worse = Group("base", tuple(config(32, s, env) for env in ("Hopper-v4", "Humanoid-v4") for s in range(3)))
    for g, factor in ((better, 1.5), (worse, 1.0)):
        for cfg in g.configs:
            ref = norm[cfg.env.id.split("-")[0]]
            write_run(tmp_path, cfg, [0.0, factor * ref * (1 + 0.01 * cfg.seed)])
    row = evaluate(Comparison(better, worse, normalizer=norm), tmp_path)
    assert row["normalized"] is True and row["tasks"] == 2
    assert (row["runs_better"], row["runs_worse"]) == (3, 3)
    assert row["effect"] == pytest.approx(0.5 * 1.01)
    assert row["verdict"] == "supported"
    # a task missing from the normalizer is named
    with pytest.raises(ConfigError) as info:
        evaluate(Comparison(better, worse, normalizer={"Hopper": 1000.0}), tmp_path)
    assert info.value.field_name == "normalizer" and "Humanoid" in str(info.value)


def test_scores_are_per_seed_and_group(tmp_path):
    wide, narrow = group("wide", 64), group("narrow", 32)
    write_group(tmp_path, wide, [100.0, 104.0, 108.0])
    write_run(tmp_path, narrow.configs[0], [3.0, 9.0, 5.0], state="crashed")
    scores = claims.comparison_scores(Comparison(wide, narrow), tmp_path)
    assert sorted(scores.columns) == ["env", "group", "score", "seed", "step"]
    by = scores.set_index(["group", "seed"])
    assert by.loc[("wide", 2), "score"] == 108.0 and by.loc[("narrow", 0), "score"] == 9.0
    assert by.loc[("narrow", 0), "step"] == 200  # the first evaluation after the 100-step warm-up


# ---- evaluate_claims ---------------------------------------------------------------------------

def _claim(cid, *comparisons):
    return Claim(cid, "Test et al.", "Fig 0", f"{cid} holds", "max return", lambda profile: tuple(comparisons))


def _world(root):
    """wide > narrow holds clearly, tiny > narrow is reversed, huge has no runs, lonely one finished seed."""
    wide, narrow, tiny, huge = group("wide", 64), group("narrow", 32), group("tiny", 8), group("huge", 512)
    write_group(root, wide, [100.0, 104.0, 108.0])
    write_group(root, narrow, [10.0, 12.0, 14.0])
    write_group(root, tiny, [0.0, 1.0, 2.0])
    lonely = group("lonely", 128)
    write_group(root, Group("lonely", lonely.configs[:1]), [0.0])
    return wide, narrow, tiny, huge, lonely


def test_evaluate_claims_summary_and_detail(tmp_path):
    wide, narrow, tiny, huge, lonely = _world(tmp_path)
    claim_list = [_claim("holds", Comparison(wide, narrow), Comparison(huge, narrow)),
                  _claim("reversed", Comparison(wide, narrow), Comparison(tiny, narrow)),
                  _claim("nothing", Comparison(huge, wide)),
                  _claim("mixed", Comparison(wide, narrow), Comparison(wide, lonely))]
    summary, detail = evaluate_claims(claim_list, "smoke", tmp_path)
    s = summary.set_index("claim")
    assert s["verdict"].to_dict() == {"holds": "supported", "reversed": "not supported", "nothing": "no results",
                                      "mixed": "inconclusive"}
    assert s.loc["holds", "comparisons"] == "1 of 2 with results"
    assert s.loc["nothing", "comparisons"] == "0 of 1 with results" and s.loc["nothing", "effects"] == ""
    assert s.loc["holds", "seeds"] == "3v3" and s.loc["mixed", "seeds"] == "3v1/3v3"
    assert s.loc["holds", "effects"].startswith("wide > narrow: +92 [")
    assert s.loc["holds", "budget"] == "300 steps" and (s["profile"] == "smoke").all()
    assert s.loc["holds", "statement"] == "holds holds" and s.loc["holds", "paper"] == "Test et al."
    assert list(detail.columns)[:4] == ["claim", "figure", "comparison", "verdict"]
    assert len(detail) == 7
    d = detail.set_index(["claim", "comparison"])
    assert d.loc[("reversed", "tiny > narrow"), "verdict"] == "not supported"
    assert d.loc[("holds", "huge > narrow"), "verdict"] == "no results"
    assert pd.isna(d.loc[("holds", "huge > narrow"), "effect"])
    assert d.loc[("holds", "wide > narrow"), "effect"] == pytest.approx(92.0)


def test_evaluate_claims_reads_the_profiles_default_results_dir(tmp_path):
    # conftest points RLCORE_RESULTS at tmp_path / "default-results"
    root = default_results_dir("smoke")
    assert str(root).startswith(str(tmp_path))
    wide, narrow, *_ = _world(root)
    summary, _ = evaluate_claims([_claim("holds", Comparison(wide, narrow))], "smoke")
    assert summary.loc[0, "verdict"] == "supported"
    summary, _ = evaluate_claims([_claim("holds", Comparison(wide, narrow))], "quick")  # another profile's dir
    assert summary.loc[0, "verdict"] == "no results"


def test_evaluate_claims_rejects_an_unknown_profile(tmp_path):
    with pytest.raises(ConfigError) as info:
        evaluate_claims([], "huge", tmp_path)
    assert info.value.field_name == "profile"


def test_a_claim_without_comparisons_has_no_results(tmp_path):
    summary, detail = evaluate_claims([_claim("empty")], "smoke", tmp_path)
    assert summary.loc[0, "verdict"] == "no results" and summary.loc[0, "comparisons"] == "0 of 0 with results"
    assert detail.empty and "verdict" in detail.columns


# ---- Ota's claims on synthetic runs of their own grids ----------------------------------------------

def _claim_by_id(cid):
    return next(c for c in claims.OTA_CLAIMS if c.id == cid)


def test_ota_size_claim_at_smoke_reads_the_sweeps_runs(tmp_path):
    claim = _claim_by_id("ota-wider-helps")
    (comp,) = claim.comparisons("smoke")
    assert comp.label == "64x2 > 32x2"
    # the untrained policies' evaluations at step 0 (0.0, the highest) are no run's best
    for cfg in comp.better.configs:
        write_run(tmp_path, cfg, [0.0, -150.0])
    for cfg in comp.worse.configs:
        write_run(tmp_path, cfg, [0.0, -900.0, -400.0])
    # smoke has one seed: a zero-width CI, never enough for the default min_runs
    summary, detail = evaluate_claims([claim], "smoke", tmp_path)
    assert summary.loc[0, "verdict"] == "inconclusive" and detail.loc[0, "effect"] == pytest.approx(-150.0 - (-400.0))
    summary, detail = evaluate_claims([claim], "smoke", tmp_path, min_runs=1)
    assert summary.loc[0, "verdict"] == "supported"
    assert detail.loc[0, "effect"] == pytest.approx(-150.0 - (-400.0))


def test_ota_table1_claim_pools_normalized_tasks_at_smoke(tmp_path):
    claim = _claim_by_id("ota-ours-beats-original")
    comps = {c.label: c for c in claim.comparisons("smoke")}
    assert set(comps) == {"SAC ours > SAC original", "TD3 ours > TD3 original"}
    sac = comps["SAC ours > SAC original"]
    assert sac.normalizer == reference.ota2021_normalizer()
    norm = reference.ota2021_normalizer()
    for g, factor in ((sac.better, 2.0), (sac.worse, 1.0)):
        for cfg in g.configs:
            write_run(tmp_path, cfg, [0.0, factor * norm[cfg.env.id.split("-")[0]]])
    summary, detail = evaluate_claims([claim], "smoke", tmp_path, min_runs=1)
    d = detail.set_index("comparison")
    assert d.loc["SAC ours > SAC original", "verdict"] == "supported"
    assert d.loc["SAC ours > SAC original", "effect"] == pytest.approx(1.0)  # 2x vs 1x the reference, both tasks
    assert d.loc["SAC ours > SAC original", "tasks"] == 2
    assert d.loc["TD3 ours > TD3 original", "verdict"] == "no results"
    assert summary.loc[0, "verdict"] == "supported" and summary.loc[0, "comparisons"] == "1 of 2 with results"


def test_ota_ablation_claim_on_synthetic_runs(tmp_path):
    claim = _claim_by_id("ota-each-element-contributes")
    comps = claim.comparisons("smoke")
    assert [c.label for c in comps] == [f"Full > {v}" for v in experiments.ABLATION_VARIANTS if v != "Full"]
    full = comps[0].better
    for cfg in full.configs:
        write_run(tmp_path, cfg, [0.0, 300.0])
    for comp, value in zip(comps, [100.0, 200.0, 400.0, 250.0, 50.0]):  # w/o larger NN beats Full here
        for cfg in comp.worse.configs:
            write_run(tmp_path, cfg, [0.0, value])
    summary, detail = evaluate_claims([claim], "smoke", tmp_path, min_runs=1)
    assert detail.set_index("comparison")["verdict"].to_dict() == {
        "Full > w/o Ape-X": "supported", "Full > w/o OFENet": "supported", "Full > w/o larger NN": "not supported",
        "Full > w/o DenseNet": "supported", "Full > sac": "supported"}
    assert summary.loc[0, "verdict"] == "not supported"


# ---- Ota's claims: structure at every profile ---------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_every_claim_builds_its_comparisons(profile):
    for claim in claims.all_claims():
        comps = claim.comparisons(profile)
        assert isinstance(comps, tuple)
        for comp in comps:
            if isinstance(comp, CostComparison):  # a measurement, not runs (Table 3)
                assert comp.metric in ("train_mem", "train_time") and 0 < comp.max_increase
                continue
            assert isinstance(comp, Comparison)
            for g in (comp.better, comp.worse):
                assert isinstance(g, Group) and len(g.configs) >= 1, (claim.id, comp.label)
                assert all(isinstance(c, RunConfig) and c.profile == profile for c in g.configs)
                # one group is one configuration over seeds (per task): no seed twice on a task
                counts = Counter((c.env.id, c.seed) for c in g.configs)
                assert max(counts.values()) == 1, (claim.id, g.label)
            assert comp.score in aggregate.SCORES


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_claim_has_comparisons(profile):
    assert all(claim.comparisons(profile) for claim in claims.all_claims())


@pytest.mark.parametrize("profile", PROFILES)
def test_comparisons_never_put_one_run_on_both_sides(profile):
    """A run in both groups (or one label for both) compares a configuration with itself."""
    bad = []
    for claim in claims.all_claims():
        for comp in claim.comparisons(profile):
            if isinstance(comp, CostComparison):
                continue
            shared = {c.run_id for c in comp.better.configs} & {c.run_id for c in comp.worse.configs}
            if shared or comp.better.label == comp.worse.label:
                bad.append(f"{claim.id}: {comp.label}")
    assert not bad, f"at {profile}: {bad}"


def test_ota_claim_ids_are_unique_and_all_claims_lists_them():
    ids = [c.id for c in claims.OTA_CLAIMS]
    assert len(ids) == len(set(ids)) == 12
    assert claims.OTA_CLAIMS == claims.all_claims(["ota2021"])
    assert claims.all_claims() == claims.OTA_CLAIMS + claims.BJORCK_CLAIMS
    bjorck = [c.id for c in claims.BJORCK_CLAIMS]
    assert len(bjorck) == len(set(bjorck) - set(ids)) == 8
    with pytest.raises(ConfigError) as info:
        claims.all_claims(["nope2099"])
    assert info.value.field_name == "papers"
    with pytest.raises(ConfigError):
        claims.OTA_CLAIMS[0].comparisons("huge")


def _cell(g: Group) -> set[tuple[int, int]]:
    return {(c.agent.critic.width, c.agent.critic.depth) for c in g.configs}


@pytest.mark.parametrize("cid, better, worse", [
    ("ota-deeper-hurts", (256, 2), (256, 16)),        # Fig 1a
    ("ota-wider-helps", (2048, 2), (256, 2)),         # Fig 3a
    ("ota-wider-beats-deeper", (2048, 2), (256, 16)),  # Fig 4
])
def test_paper_size_claims_compare_the_papers_cells(cid, better, worse):
    (comp,) = _claim_by_id(cid).comparisons("paper")
    assert _cell(comp.better) == {better} and _cell(comp.worse) == {worse}
    for g in (comp.better, comp.worse):
        assert sorted(c.seed for c in g.configs) == [0, 1, 2, 3, 4]
        assert {c.env for c in g.configs} == {experiments.OTA_ANT}
        assert {(c.agent.actor.width, c.agent.actor.depth) for c in g.configs} == _cell(g)  # actor as critic
        assert all(c.budget.total_steps == 1_000_000 for c in g.configs)
    assert comp.label == f"{better[0]}x{better[1]} > {worse[0]}x{worse[1]}"


def test_paper_table1_claims_pool_the_five_tasks_per_algorithm():
    for cid, baseline in (("ota-ours-beats-original", "original"), ("ota-ours-beats-ofenet", "ofenet")):
        comps = _claim_by_id(cid).comparisons("paper")
        assert [c.label for c in comps] == [f"SAC ours > SAC {baseline}", f"TD3 ours > TD3 {baseline}"]
        for comp, algo in zip(comps, ("sac", "td3")):
            assert comp.normalizer == reference.ota2021_normalizer()
            for g, method in ((comp.better, "ours"), (comp.worse, baseline)):
                assert len(g.configs) == 25
                assert {experiments.task_method(c) for c in g.configs} == {
                    (t, algo, method) for t in experiments.OTA_TASKS}


def test_paper_ablation_claim_compares_full_with_each_variant():
    comps = _claim_by_id("ota-each-element-contributes").comparisons("paper")
    assert len(comps) == 5
    for comp in comps:
        assert {experiments.ablation_variant(c, 2048, 256) for c in comp.better.configs} == {"Full"}
        assert {experiments.ablation_variant(c, 2048, 256) for c in comp.worse.configs} == {comp.worse.label}
        assert len(comp.better.configs) == len(comp.worse.configs) == 5


def test_synthetic_runs_read_back_through_the_store(tmp_path):
    """The helper writes what load_runs / load_sweep read (the format evaluate relies on)."""
    cfg = config(64, 0)
    write_run(tmp_path, cfg, [1.0, 2.0, 3.0], state="running")
    runs = load_runs(tmp_path)
    assert runs.loc[0, "run"] == cfg.run_id and runs.loc[0, "state"] == "running" and runs.loc[0, "final_step"] == 300
    evals = load_sweep([cfg], tmp_path)
    assert evals["step"].tolist() == [0, 200, 300] and evals["value"].tolist() == [1.0, 2.0, 3.0]
    assert evals["untrained"].tolist() == [True, False, False]
    assert (evals["env"] == "Pendulum-v1").all() and (evals["seed"] == 0).all()


# ---- Bjorck's claims ---------------------------------------------------------------------------------

def _bjorck(cid):
    return next(c for c in claims.BJORCK_CLAIMS if c.id == cid)


def test_bjorck_claims_compare_the_papers_heads_on_their_grids():
    sides = {c.id: [(comp.better.label, comp.worse.label) for comp in c.comparisons("paper")]
             for c in claims.BJORCK_CLAIMS if c.id != "bjorck-larger-heads-cheap"}
    assert sides["bjorck-modern-heads-degrade"] == [("DRQ mlp2", "DRQ modern4")]
    assert sides["bjorck-sn-rescues-modern"] == [("DRQ modern4_sn", "DRQ modern4")]
    assert sides["bjorck-modern-sn-beats-mlp"] == [("DRQ modern4_sn", "DRQ mlp2")]
    assert sides["bjorck-drqv2-same-story"] == [("DRQV2 mlp2", "DRQV2 modern4"), ("DRQV2 modern4_sn", "DRQV2 modern4")]
    assert sides["bjorck-sn-helps-deep-mlp"] == [("DRQ mlp4_sn", "DRQ mlp4")]
    table2 = _bjorck("bjorck-modern-sn-beats-mlp").comparisons("paper")[0]
    assert len(table2.better.configs) == 150 and table2.score == "final"  # 15 tasks x 10 seeds, at 500k frames
    assert {c.agent.critic.spectral_norm for c in table2.better.configs} == {True}


def test_bjorck_return_claims_score_the_final_evaluation():
    # Bjorck's tables and curves report the return at the budget, not Ota's highest evaluation
    for claim in claims.BJORCK_CLAIMS:
        for comp in claim.comparisons("smoke"):
            if comp.metric == "eval_return":
                assert comp.score == "final", claim.id


def test_the_gradient_norm_claim_reads_the_training_metrics(tmp_path):
    actor, critic = _bjorck("bjorck-gradients-grow-without-sn").comparisons("smoke")
    assert (critic.metric, critic.score, critic.table) == ("train_critic_grad_norm", "max", "metrics")
    assert (critic.better.label, critic.worse.label) == (actor.better.label, actor.worse.label)
    comp = actor
    assert (comp.metric, comp.score, comp.table) == ("train_actor_grad_norm", "max", "metrics")
    wide, narrow = group("modern", 64), group("modern + SN", 32)
    for g, peaks in ((wide, [50.0, 80.0, 65.0]), (narrow, [1.0, 1.2, 0.9])):
        for cfg, peak in zip(g.configs, peaks):
            store = write_run(tmp_path, cfg, [0.0, 1.0, 2.0])  # returns: no difference
            store.write_rows("metrics", [store.row(step, "train_actor_grad_norm", v)
                                         for step, v in zip((100, 200, 300), (peak / 3, peak, peak / 2))])
    row = evaluate(dataclasses.replace(comp, better=wide, worse=narrow), tmp_path)
    assert row["verdict"] == "supported" and row["effect"] == pytest.approx((50 + 80 + 65) / 3 - (1 + 1.2 + 0.9) / 3)
    assert evaluate(Comparison(wide, narrow), tmp_path)["verdict"] == "inconclusive"  # on returns


# ---- the cost claim (Table 3): a saved measurement, not runs ----------------------------------------

def write_cost(root, values: dict[str, list[float]], metric: str = "train_mem"):
    """The Table 3 notebook's saved measurement (one row per head, run and metric) beside `root`
    (a profile's runs directory): results/<profile>/tables/bjorck2021_table3_cost_runs.csv."""
    rows = [dict(heads=h, algo="drq", run=r, metric=metric, unit="GB", value=v, device="cpu", device_name="test CPU",
                 batch_size=512, iterations=10) for h, vs in values.items() for r, v in enumerate(vs)]
    tables = root.parent / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(tables / "bjorck2021_table3_cost_runs.csv", index=False)


@pytest.mark.parametrize("modern4, expected", [
    ([4.7, 4.75, 4.72], "supported"),        # +17 %, as Table 3
    ([9.0, 9.2, 9.1], "not supported"),      # +125 %: the heads dominate
    ([4.0, 8.0, 4.1], "inconclusive"),       # the CI straddles +50 %
])
def test_cost_claim_verdicts_from_a_saved_measurement(tmp_path, modern4, expected):
    runs = tmp_path / "smoke" / "runs"
    write_cost(runs, {"mlp2": [4.0, 4.05, 4.1], "modern4": modern4})
    row = evaluate(CostComparison("train_mem"), runs)
    assert row["verdict"] == expected and (row["runs_better"], row["runs_worse"]) == (3, 3)
    mean = sum(modern4) / 3 / 4.05 - 1
    assert row["effect"] == pytest.approx(mean) and row["effect_low"] <= mean <= row["effect_high"]
    assert "batch 512" in row["budget"] and "test CPU" in row["budget"]


def test_cost_claim_without_a_measurement_or_with_one_run(tmp_path):
    runs = tmp_path / "smoke" / "runs"
    assert evaluate(CostComparison("train_mem"), runs)["verdict"] == "no results"
    write_cost(runs, {"mlp2": [4.0], "modern4": [4.1]})
    assert evaluate(CostComparison("train_mem"), runs)["verdict"] == "inconclusive"  # one run: no spread
    assert evaluate(CostComparison("train_time"), runs)["verdict"] == "no results"   # another metric


def test_cost_claim_in_the_claims_table(tmp_path):
    runs = tmp_path / "smoke" / "runs"
    claim = _bjorck("bjorck-larger-heads-cheap")
    write_cost(runs, {"mlp2": [4.0, 4.1], "modern4": [4.6, 4.7]})
    summary, detail = evaluate_claims([claim], "smoke", runs)
    assert detail["verdict"].tolist() == ["supported", "no results"]   # memory measured, time not
    assert summary.loc[0, "verdict"] == "supported" and summary.loc[0, "figure"] == "Table 3"
    assert summary.loc[0, "effects"].startswith("train_mem modern4 vs mlp2: +15% [")
