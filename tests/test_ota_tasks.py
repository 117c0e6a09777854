"""Ota et al. 2021 Fig 9 / Table 1 (five tasks x SAC/TD3 x ours/OFENet/original) and Fig 10 (the
ablation): the grids as the paper defines them, read back, and Table 1 laid out as printed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlcore import experiments, reference, tables
from rlcore.config import ConfigError, EnvConfig
from rlcore.experiments import (ABLATION_VARIANTS, OTA_ANT, OTA_TASKS, ablation_variant, ota_ablation_variant,
                                ota_fig09_table1_tasks, ota_fig10_ablation, ota_task_method, task_method)
from rlcore.nets.trunks import resolved_norm
from rlcore import profiles

TASK_IDS = {"Hopper": "Hopper-v4", "Walker2d": "Walker2d-v4", "HalfCheetah": "HalfCheetah-v4", "Ant": "Ant-v4",
            "Humanoid": "Humanoid-v4"}
OFENET_2020_LAYERS = {"Hopper": 6, "Walker2d": 6, "HalfCheetah": 8, "Ant": 6, "Humanoid": 8}


@pytest.fixture(scope="module")
def table1_grid():
    return ota_fig09_table1_tasks("paper")


@pytest.fixture(scope="module")
def ablation_grid():
    return ota_fig10_ablation("paper")


def _by_cell(sweep):
    out = {}
    for cfg in sweep.configs:
        out.setdefault(task_method(cfg), []).append(cfg)
    return out


# ---- Fig 9 / Table 1 grid -------------------------------------------------------------------------

def test_table1_tasks_are_the_papers_five_in_v4():
    assert list(OTA_TASKS) == ["Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid"]
    assert {name: env.id for name, env in OTA_TASKS.items()} == TASK_IDS
    assert OTA_TASKS["Ant"] == OTA_ANT and OTA_ANT.kwargs_dict == {"use_contact_forces": True}
    assert all(env.kwargs_dict == {} for name, env in OTA_TASKS.items() if name != "Ant")


def test_paper_table1_grid_has_150_configs_in_30_cells_of_5_seeds(table1_grid):
    assert len(table1_grid) == 5 * 2 * 3 * 5 == 150
    cells = _by_cell(table1_grid)
    assert set(cells) == {(t, a, m) for t in OTA_TASKS for a in ("sac", "td3") for m in ("ours", "ofenet", "original")}
    for cell, cfgs in cells.items():
        assert sorted(c.seed for c in cfgs) == [0, 1, 2, 3, 4], cell
    assert table1_grid.axes["task"] == tuple(OTA_TASKS) and table1_grid.axes["seed"] == (0, 1, 2, 3, 4)
    assert all(c.profile == "paper" for c in table1_grid.configs)


def test_paper_table1_grid_environments(table1_grid):
    for cfg in table1_grid.configs:
        task, _, _ = task_method(cfg)
        assert cfg.env.id == TASK_IDS[task]
        assert cfg.env.max_episode_steps is None  # paper: the registered 1000-step limit
        if task == "Ant":
            assert cfg.env.kwargs_dict == {"use_contact_forces": True}


def test_paper_ours_is_ofenet_2048_densenet_2x2048_and_apex(table1_grid):
    for (task, algo, method), cfgs in _by_cell(table1_grid).items():
        if method != "ours":
            continue
        for cfg in cfgs:
            a = cfg.agent
            assert a.ofenet.enabled and a.ofenet.total_units == 2048 and a.ofenet.layers == 8
            assert a.ofenet.target_network is True
            assert a.actor == a.critic
            assert (a.critic.kind, a.critic.width, a.critic.depth, a.critic.activation) == ("densenet", 2048, 2, "swish")
            # BatchNorm in the DenseNet for TD3 only ("we omit BN for SAC", Sec. 3.3)
            assert resolved_norm(a.critic) == ("batchnorm" if algo == "td3" else "none")
            c = cfg.collect
            assert (c.mode, c.workers, c.envs_per_worker, c.replay) == ("apex", 2, 32, "prioritized")
            assert c.max_env_per_grad == 0.0  # no cap on environment steps per gradient step


def test_paper_ofenet_baseline_is_the_2020_setting(table1_grid):
    for (task, algo, method), cfgs in _by_cell(table1_grid).items():
        if method != "ofenet":
            continue
        for cfg in cfgs:
            a = cfg.agent
            assert a.ofenet.enabled and a.ofenet.total_units == 240
            assert a.ofenet.layers == OFENET_2020_LAYERS[task], task
            assert a.ofenet.target_network is False
            for net in (a.actor, a.critic):
                assert (net.kind, net.width, net.depth, net.activation) == ("mlp", 256, 2, "relu")
                assert resolved_norm(net) == "none"
            assert cfg.collect.mode == "serial"


def test_paper_original_is_256x2_relu_without_ofenet(table1_grid):
    for (task, algo, method), cfgs in _by_cell(table1_grid).items():
        if method != "original":
            continue
        for cfg in cfgs:
            a = cfg.agent
            assert not a.ofenet.enabled
            for net in (a.actor, a.critic):
                assert (net.kind, net.width, net.depth, net.activation) == ("mlp", 256, 2, "relu")
            assert cfg.collect.mode == "serial"


def test_paper_table1_budget_loss_and_warmup(table1_grid):
    for cfg in table1_grid.configs:
        assert cfg.agent.critic_loss == "huber"  # Ota A.1, every method
        assert cfg.agent.batch_size == 256        # A.4: TD3 256 instead of 100, SAC's own
        assert cfg.budget.total_steps == 1_000_000
        # A.4: random warm-up of 10k steps for SAC and 100k for TD3
        assert cfg.budget.warmup_steps == {"sac": 10_000, "td3": 100_000}[cfg.agent.algo]
        assert cfg.budget.eval_every == 5_000 and cfg.budget.eval_episodes == 10


def test_task_method_reads_back_every_config_built(table1_grid):
    for task in ("Hopper", "Ant"):
        for algo in ("sac", "td3"):
            for method in ("ours", "ofenet", "original"):
                sweep = ota_fig09_table1_tasks("paper", tasks=[task], algos=[algo], methods=[method], seeds=[3])
                (cfg,) = sweep.configs
                assert task_method(cfg) == (task, algo, method)
    smoke = ota_fig09_table1_tasks("smoke")
    assert {task_method(c) for c in smoke.configs} == {
        (t, a, m) for t in ("Hopper", "HalfCheetah") for a in ("sac", "td3") for m in ("ours", "ofenet", "original")}


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_table1_grid_run_ids_are_distinct(profile):
    sweep = ota_fig09_table1_tasks(profile)
    ids = [c.run_id for c in sweep.configs]
    assert len(ids) == len(set(ids))
    assert len(sweep) == len(sweep.axes["task"]) * 2 * 3 * len(sweep.axes["seed"])


def test_table1_grid_rejects_unknown_names():
    for kwargs, field in ((dict(tasks=["Swimmer"]), "tasks"), (dict(algos=["ppo"]), "algos"),
                          (dict(methods=["ours", "bigger"]), "methods"), (dict(methods=["ours", "ours"]), "methods")):
        with pytest.raises(ConfigError) as info:
            ota_fig09_table1_tasks("smoke", **kwargs)
        assert info.value.field_name == field
    budget = profiles.budget("smoke", "sac")
    with pytest.raises(ConfigError) as info:
        ota_task_method("bigger", "sac", EnvConfig("Hopper-v4"), "smoke", 32, 32, 24, 32, budget)
    assert info.value.field_name == "methods"
    with pytest.raises(ConfigError):
        ota_fig09_table1_tasks("huge")


# ---- Fig 10 ablation grid -------------------------------------------------------------------------

def _variants(sweep):
    width, small = sweep.axes["width"], sweep.axes["small"]
    out = {}
    for cfg in sweep.configs:
        out.setdefault(ablation_variant(cfg, width, small), []).append(cfg)
    return out


def test_paper_ablation_grid_has_six_variants_of_five_seeds_on_ant(ablation_grid):
    assert ABLATION_VARIANTS == ("Full", "w/o Ape-X", "w/o OFENet", "w/o larger NN", "w/o DenseNet", "sac")
    assert len(ablation_grid) == 30
    assert (ablation_grid.axes["width"], ablation_grid.axes["small"]) == (2048, 256)
    variants = _variants(ablation_grid)
    assert list(variants) == list(ABLATION_VARIANTS)  # built in the paper's order
    for name, cfgs in variants.items():
        assert sorted(c.seed for c in cfgs) == [0, 1, 2, 3, 4], name
    for cfg in ablation_grid.configs:
        assert cfg.env == OTA_ANT and cfg.agent.algo == "sac" and cfg.agent.critic_loss == "huber"
        assert cfg.budget.total_steps == 1_000_000 and cfg.budget.warmup_steps == 10_000


def _net(net):
    return (net.kind, net.width, net.depth, net.activation)


def test_paper_ablation_variants_as_ota_section_4_3_defines_them(ablation_grid):
    v = {name: cfgs[0] for name, cfgs in _variants(ablation_grid).items()}
    apex = ("apex", 2, 32, "prioritized")
    collect = lambda c: (c.collect.mode, c.collect.workers, c.collect.envs_per_worker, c.collect.replay)

    full = v["Full"]  # OFENet 2048 + DenseNet 2 x 2048 + Ape-X
    assert full.agent.ofenet.enabled and full.agent.ofenet.total_units == 2048 and full.agent.ofenet.layers == 8
    assert _net(full.agent.actor) == _net(full.agent.critic) == ("densenet", 2048, 2, "swish")
    assert resolved_norm(full.agent.critic) == "none"  # SAC: no BatchNorm in the DenseNet
    assert collect(full) == apex

    no_apex = v["w/o Ape-X"]  # the same agent, serial collection
    assert no_apex.agent == full.agent and no_apex.collect.mode == "serial"

    no_ofenet = v["w/o OFENet"]
    assert not no_ofenet.agent.ofenet.enabled
    assert _net(no_ofenet.agent.actor) == _net(no_ofenet.agent.critic) == ("densenet", 2048, 2, "swish")
    assert collect(no_ofenet) == apex

    small = v["w/o larger NN"]  # 256 units for both OFENet and SAC
    assert small.agent.ofenet.enabled and small.agent.ofenet.total_units == 256 and small.agent.ofenet.layers == 8
    assert _net(small.agent.actor) == _net(small.agent.critic) == ("densenet", 256, 2, "swish")
    assert collect(small) == apex

    mlp = v["w/o DenseNet"]  # a plain 2 x 2048 MLP on OFENet's features
    assert mlp.agent.ofenet == full.agent.ofenet
    assert _net(mlp.agent.actor) == _net(mlp.agent.critic) == ("mlp", 2048, 2, "swish")
    assert collect(mlp) == apex

    sac = v["sac"]  # the original SAC
    assert not sac.agent.ofenet.enabled
    assert _net(sac.agent.actor) == _net(sac.agent.critic) == ("mlp", 256, 2, "relu")
    assert sac.collect.mode == "serial"


def test_ablation_variant_reads_back_each_variant():
    for profile in ("smoke", "quick", "paper"):
        for name in ABLATION_VARIANTS:
            sweep = ota_fig10_ablation(profile, variants=[name], seeds=[1])
            (cfg,) = sweep.configs
            assert ablation_variant(cfg, sweep.axes["width"], sweep.axes["small"]) == name, (profile, name)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_ablation_grid_run_ids_are_distinct(profile):
    sweep = ota_fig10_ablation(profile)
    ids = [c.run_id for c in sweep.configs]
    assert len(ids) == len(set(ids)) == len(ABLATION_VARIANTS) * len(sweep.axes["seed"])


def test_ablation_grid_rejects_unknown_variants():
    with pytest.raises(ConfigError) as info:
        ota_fig10_ablation("smoke", variants=["Full", "w/o everything"])
    assert info.value.field_name == "variants"
    with pytest.raises(ConfigError) as info:
        ota_ablation_variant("w/o everything", "smoke", 32, 16, profiles.budget("smoke", "sac"))
    assert info.value.field_name == "variants"


# ---- Table 1 layout -------------------------------------------------------------------------------

PUBLISHED = reference.ota2021_table1()


def synthetic_scores(cells, seeds=(0, 1, 2)):
    """cells: (task, algo, method) -> base score; seed s scores base + 10 s."""
    return pd.DataFrame([{"task": t, "algo": a, "method": m, "seed": s, "score": base + 10.0 * s}
                         for (t, a, m), base in cells.items() for s in seeds],
                        columns=["task", "algo", "method", "seed", "score"])


def cell(table, task, algo, method):
    return {f: table.loc[task, (algo, method, f)] for f in tables.TABLE1_FIELDS}


def test_table1_rows_and_published_cells():
    table = tables.ota2021_table1(synthetic_scores({}).iloc[:0], PUBLISHED)
    assert list(table.index) == ["Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid"]
    assert table.columns.names == ["algo", "method", "field"]
    for _, row in PUBLISHED.iterrows():
        task = row["env"].split("-")[0]
        assert table.loc[task, (row["algo"], row["method"], "paper")] == row["max_average_return"]
    assert len(PUBLISHED) == 30
    assert table.xs("ours", axis=1, level="field").isna().all().all()  # nothing run


def test_table1_published_numbers_are_the_papers():
    p = PUBLISHED.set_index(["env", "algo", "method"])["max_average_return"]
    assert p[("Hopper-v2", "sac", "ofenet")] == 3511.6 and p[("Hopper-v2", "td3", "original")] == 3613.0
    assert p[("Humanoid-v2", "td3", "ofenet")] == 120.6 and p[("Ant-v2", "sac", "ours")] == 14021.0
    assert reference.ota2021_normalizer() == {"Hopper": 3316.6, "Walker2d": 3401.5, "HalfCheetah": 14116.1,
                                              "Ant": 5953.1, "Humanoid": 6092.6}


def test_table1_ours_is_the_seed_mean_with_its_interval():
    cells = {("Hopper", "sac", "ours"): 3000.0, ("Ant", "td3", "original"): 5000.0, ("Ant", "sac", "ours"): 9000.0}
    table = tables.ota2021_table1(synthetic_scores(cells), PUBLISHED)
    for (task, algo, method), base in cells.items():
        c = cell(table, task, algo, method)
        assert c["ours"] == pytest.approx(base + 10.0)  # mean of base, base + 10, base + 20
        assert c["ci_low"] <= c["ours"] <= c["ci_high"]
        assert base <= c["ci_low"] < c["ci_high"] <= base + 20
        assert c["runs"] == 3
        assert c["paper"] == PUBLISHED.set_index(["env", "algo", "method"]).loc[
            (f"{task}-v2", algo, method), "max_average_return"]
    # cells not run stay NaN
    assert np.isnan(table.loc["Walker2d", ("sac", "ours", "ours")])
    assert all(np.isnan(v) for f, v in cell(table, "Hopper", "td3", "ours").items() if f != "paper")
    assert list(table.index) == list(tables.TABLE1_TASKS)  # no extra rows


def test_table1_runs_count_the_seeds_per_cell():
    scores = pd.concat([synthetic_scores({("Hopper", "sac", "ours"): 1.0}, seeds=(0,)),
                        synthetic_scores({("Walker2d", "sac", "ours"): 1.0}, seeds=(0, 1, 2, 3, 4))])
    table = tables.ota2021_table1(scores, PUBLISHED)
    assert table.loc["Hopper", ("sac", "ours", "runs")] == 1
    assert table.loc["Hopper", ("sac", "ours", "ci_low")] == table.loc["Hopper", ("sac", "ours", "ci_high")] == 1.0
    assert table.loc["Walker2d", ("sac", "ours", "runs")] == 5
    assert table.loc["Walker2d", ("sac", "ours", "ours")] == pytest.approx(21.0)


def test_table1_needs_its_columns():
    with pytest.raises(ConfigError) as info:
        tables.ota2021_table1(pd.DataFrame({"task": ["Hopper"], "score": [1.0]}), PUBLISHED)
    assert info.value.field_name == "scores"


def test_best_per_row_of_the_paper_field_is_the_papers_bold():
    table = tables.ota2021_table1(synthetic_scores({}).iloc[:0], PUBLISHED)
    best = tables.best_per_row(table, "paper")
    expected = {(task, "sac", "ofenet" if task == "Hopper" else "ours") for task in tables.TABLE1_TASKS}
    expected |= {(task, "td3", "original" if task == "Hopper" else "ours") for task in tables.TABLE1_TASKS}
    marked = {(task, algo, method) for task in best.index for (algo, method, field) in best.columns
              if best.loc[task, (algo, method, field)]}
    assert marked == expected
    assert not best.xs("ours", axis=1, level="field").any().any()
    assert not tables.best_per_row(table, "ours").any().any()  # no numbers of ours: nothing bold
    with pytest.raises(ConfigError):
        tables.best_per_row(table, "runs")


def test_best_per_row_of_ours_and_the_display():
    cells = {("Hopper", "sac", "ours"): 100.0, ("Hopper", "sac", "original"): 200.0,
             ("Ant", "td3", "ours"): 900.0}
    table = tables.ota2021_table1(synthetic_scores(cells), PUBLISHED)
    best = tables.best_per_row(table, "ours")
    assert best.loc["Hopper", ("sac", "original", "ours")] and not best.loc["Hopper", ("sac", "ours", "ours")]
    assert best.loc["Ant", ("td3", "ours", "ours")]
    assert best.values.sum() == 2  # rows and algorithms without numbers have no best
    shown = tables.table1_display(table)
    assert list(shown.index) == list(tables.TABLE1_TASKS)
    assert shown.loc["Hopper", ("SAC", "original", "here")].startswith("**210.0** [")
    assert shown.loc["Hopper", ("SAC", "original", "here")].endswith("(n=3)")
    assert shown.loc["Hopper", ("SAC", "ours", "here")].startswith("110.0 [")
    assert shown.loc["Walker2d", ("SAC", "ours", "here")] == "not run"
    assert shown.loc["Hopper", ("TD3", "ours", "here")] == "not run"
    assert shown.loc["Hopper", ("SAC", "ofenet", "published")] == "**3511.6**"
    assert shown.loc["Hopper", ("SAC", "ours", "published")] == "3467.3"
    assert shown.loc["Hopper", ("TD3", "original", "published")] == "**3613.0**"


def test_to_markdown_has_a_header_a_separator_and_one_line_per_row():
    table = tables.ota2021_table1(synthetic_scores({("Ant", "sac", "ours"): 1.0}), PUBLISHED)
    shown = tables.table1_display(table)
    text = tables.to_markdown(shown)
    lines = text.split("\n")
    assert len(lines) == 2 + len(shown)
    n_cols = 1 + shown.shape[1]
    assert lines[0].startswith("| task | SAC ours published | SAC ours here |")
    assert lines[1] == "|" + "---|" * n_cols
    for line, task in zip(lines[2:], shown.index):
        assert line.startswith(f"| {task} | ") and line.endswith(" |")
        assert line.count(" | ") == n_cols - 1
    assert "**14021.0**" in lines[2 + list(shown.index).index("Ant")]


def test_table1_rejects_task_names_with_a_version_suffix():
    scores = pd.DataFrame([dict(task="Hopper-v4", algo="sac", method="ours", seed=0, score=1.0)])
    with pytest.raises(ConfigError, match="scores.task"):
        tables.ota2021_table1(scores, reference.ota2021_table1())
