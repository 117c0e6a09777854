"""Bjorck et al. 2021's experiments as grids: at `paper` the text's heads, tasks, seeds and frames;
quick and smoke only shrink them, and every grid builds and validates."""

from __future__ import annotations

import pytest

from rlcore.config import ConfigError, RunConfig
from rlcore.experiments import BJORCK_EXPERIMENTS, EXPERIMENTS, FIG3_TASK, get_experiment
from rlcore.reference import BJORCK_TASKS, bjorck2021_table1

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# (algo, heads, tasks) each experiment runs at `paper`, from the text.
PAPER = {
    "bjorck_fig1_modern": ("drq", {"mlp2", "modern4"}, set(BJORCK_TASKS)),        # Sec. 3.2, Fig 1
    "bjorck_fig2_depth": ("drq", {"mlp2", "mlp4"}, set(BJORCK_TASKS)),            # Sec. 3.3, Fig 2
    "bjorck_fig3_dynamics": ("drq", {"mlp2", "modern4"}, {FIG3_TASK}),            # Sec. 3.4, Fig 3
    "bjorck_fig4_sn": ("drq", {"modern4", "modern4_sn"}, set(BJORCK_TASKS)),      # Sec. 5.1, Fig 4
    "bjorck_table1_drqv2": ("drqv2", {"mlp2", "modern4", "modern4_sn"}, set(bjorck2021_table1()["task"])),  # Sec. 5.3
    "bjorck_table2": ("drq", {"mlp2", "modern4_sn"}, set(BJORCK_TASKS)),          # Sec. 5.2, Table 2
    "bjorck_appendix_a": ("drq", {"mlp4", "mlp4_sn"}, set(BJORCK_TASKS)),         # App. A
}


def heads_of(cfg) -> str:
    critic = cfg.agent.critic
    return f"{critic.kind}{critic.depth}" + ("_sn" if critic.spectral_norm else "")


def test_every_bjorck_experiment_is_registered():
    assert set(PAPER) == set(BJORCK_EXPERIMENTS) and set(BJORCK_EXPERIMENTS) <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_grids_are_the_texts(name):
    algo, heads, tasks = PAPER[name]
    sweep = get_experiment(name)("paper")
    assert len(sweep) == len(heads) * len(tasks) * 10
    assert {c.agent.algo for c in sweep.configs} == {algo}
    assert {heads_of(c) for c in sweep.configs} == heads
    assert {c.env.id for c in sweep.configs} == tasks and {c.seed for c in sweep.configs} == set(range(10))
    for c in sweep.configs:
        assert c.budget.total_steps * c.env.action_repeat == 500_000
        assert (c.env.action_repeat, c.env.frame_stack, c.env.kwargs_dict) == (2, 3, {"pixels": True, "height": 84, "width": 84})
        assert c.agent.critic.width == c.agent.actor.width == 1024
        assert c.budget.eval_every * c.env.action_repeat == 10_000 and c.budget.eval_episodes == 10
        assert c.env.max_episode_steps is None
        if algo == "drq":
            assert (c.agent.batch_size, c.budget.replay_size, c.budget.warmup_steps) == (512, 100_000, 1_000)
        else:  # DrQ-v2's defaults, walker's exception, 4,000 seed frames
            assert c.agent.batch_size == (512 if "walker" in c.env.id else 256) and c.budget.warmup_steps == 2_000
        assert RunConfig.from_dict(c.to_dict()) == c  # valid (checked on construction) and round-trips
    if "modern4" in heads:
        modern = next(c for c in sweep.configs if heads_of(c) == "modern4")
        assert modern.agent.actor.depth == 2  # Sec. 3.2: 4 blocks in the critic, 2 in the actor


@pytest.mark.parametrize("profile", ["smoke", "quick"])
@pytest.mark.parametrize("name", sorted(PAPER))
def test_smaller_profiles_shrink_the_grid_and_say_so(name, profile):
    algo, heads, _ = PAPER[name]
    sweep = get_experiment(name)(profile)
    assert {heads_of(c) for c in sweep.configs} == heads  # the comparison itself never shrinks
    assert len({c.env.id for c in sweep.configs}) == 1
    assert "reduced budget" in sweep.budget_line
    ids = [c.run_id for c in sweep.configs]
    assert len(set(ids)) == len(ids)
    for c in sweep.configs:
        assert RunConfig.from_dict(c.to_dict()) == c  # valid (checked on construction) and round-trips
        quick_frames = 40_000 if name == "bjorck_table1_drqv2" else 50_000  # BJORCK["quick"]["table1"]
        assert c.budget.total_steps * c.env.action_repeat == (400 if profile == "smoke" else quick_frames)


def test_figures_that_share_a_configuration_share_its_runs():
    fig1 = {c.run_id for c in get_experiment("bjorck_fig1_modern")("quick").configs}
    fig3 = {c.run_id for c in get_experiment("bjorck_fig3_dynamics")("quick").configs}
    fig4 = {c.run_id for c in get_experiment("bjorck_fig4_sn")("quick").configs}
    assert fig1 == fig3 and len(fig1 & fig4) == 2  # modern4's two seeds


def test_parameters_from_papermill_and_bad_ones():
    sweep = get_experiment("bjorck_fig4_sn")("smoke", tasks='["dmc:walker-walk"]', seeds="[0, 1]", frames="800")
    assert {c.env.id for c in sweep.configs} == {"dmc:walker-walk"} and {c.seed for c in sweep.configs} == {0, 1}
    assert {c.budget.total_steps for c in sweep.configs} == {400}
    with pytest.raises(ConfigError, match="^tasks="):
        get_experiment("bjorck_fig4_sn")("smoke", tasks=["dmc:walker-fly"])
    with pytest.raises(ConfigError, match="^heads="):
        get_experiment("bjorck_fig1_modern")("smoke", heads=["resnet8"])
    with pytest.raises(ConfigError, match="eval_evry"):
        get_experiment("bjorck_fig1_modern")("smoke", eval_evry=3)
    swingup = get_experiment("bjorck_table1_drqv2")("paper", cartpole_sparse="swingup_sparse")
    assert "dmc:cartpole-swingup_sparse" in {c.env.id for c in swingup.configs}


def test_drqv2_exploration_schedule_keeps_its_share_of_the_run_where_the_profile_scales_it():
    from rlcore.plots import departures

    paper = get_experiment("bjorck_table1_drqv2")("paper")
    schedule = {c.env.id: c.agent.drqv2.std_steps for c in paper.configs}
    assert schedule["dmc:cartpole-balance_sparse"] == 100_000 and schedule["dmc:reacher-easy"] == 500_000  # easy / medium
    smoke = get_experiment("bjorck_table1_drqv2")("smoke")
    for cfg in smoke.configs:  # 100k of the paper's 250k agent steps -> 40 % of 200
        assert cfg.budget.total_steps == 200 and cfg.agent.drqv2.std_steps == 80
    assert "exploration std 1.0 -> 0.1 over 80 agent steps (paper 100,000" in departures(smoke, paper)
    assert "exploration std" not in departures(paper, paper)
    # quick's Table 1 keeps the paper's action repeat, warm-up and schedule (BJORCK["quick"]["table1"])
    quick = get_experiment("bjorck_table1_drqv2")("quick")
    for cfg in quick.configs:
        assert (cfg.env.action_repeat, cfg.budget.total_steps, cfg.budget.warmup_steps, cfg.agent.drqv2.std_steps) \
            == (2, 20_000, 2_000, 100_000)
    assert "exploration std" not in departures(quick, paper) and "action repeat" not in departures(quick, paper)
    assert "40,000 frames (paper 500,000)" in departures(quick, paper)
    drq = get_experiment("bjorck_fig4_sn")("quick")  # DrQ has no schedule to scale
    assert "exploration std" not in departures(drq, get_experiment("bjorck_fig4_sn")("paper"))
