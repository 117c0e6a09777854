"""rlcore.profiles: the budget of every profile and algorithm, with the paper's numbers (Ota et al. 2021, A.4)."""

from __future__ import annotations

import pytest

from rlcore import profiles
from rlcore.config import ALGORITHMS, PIXEL_ALGORITHMS, ConfigError, RunConfig
from rlcore.experiments import ota_size_sweep


@pytest.mark.parametrize("algo,warmup", [("sac", 10_000), ("td3", 100_000)])
def test_paper_budget(algo, warmup):
    b = profiles.budget("paper", algo)
    assert b.warmup_steps == warmup
    assert b.total_steps == 1_000_000
    assert b.eval_every == 5_000 and b.eval_episodes == 10
    assert b.replay_size == 1_000_000
    assert b.updates_per_step == 1


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_quick_budget(algo):
    b = profiles.budget("quick", algo)
    assert (b.total_steps, b.warmup_steps, b.eval_every, b.eval_episodes) == (100_000, 5_000, 5_000, 5)
    assert b.replay_size == 100_000 and b.checkpoint_every == 10_000


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_smoke_budget(algo):
    b = profiles.budget("smoke", algo)
    if algo in PIXEL_ALGORITHMS:  # pixel updates take a second on a CPU: 200 steps, batch 32
        assert (b.total_steps, b.warmup_steps, b.eval_every, b.eval_episodes) == (200, 50, 100, 2)
        assert profiles.agent_overrides("smoke", algo) == {"batch_size": 32}
    else:
        assert (b.total_steps, b.warmup_steps, b.eval_every, b.eval_episodes) == (1_000, 250, 500, 2)
        assert profiles.agent_overrides("smoke", algo) == {}
    assert profiles.agent_overrides("paper", algo) == profiles.agent_overrides("quick", algo) == {}


def test_only_smoke_caps_episodes():
    """Smoke runs cap episodes at 200 steps (an evaluation takes a second); quick keeps the registered limit."""
    smoke = ota_size_sweep("smoke").configs
    quick = ota_size_sweep("quick").configs
    assert smoke and quick
    assert {c.env.max_episode_steps for c in smoke} == {200}
    assert {c.env.max_episode_steps for c in quick} == {None}


@pytest.mark.parametrize("profile", profiles.PROFILE_NAMES)
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_every_budget_is_consistent(profile, algo):
    b = profiles.budget(profile, algo)
    assert 0 < b.warmup_steps < b.total_steps
    assert b.total_steps % b.eval_every == 0
    assert b.replay_size <= b.total_steps
    RunConfig(budget=b, profile=profile)  # a valid run config


@pytest.mark.parametrize("profile", profiles.PROFILE_NAMES)
def test_every_profile_name_is_accepted(profile):
    assert RunConfig(profile=profile).profile == profile
    assert profiles.check_profile(profile) == profile
    assert profiles.budget(profile).total_steps > 0


def test_unknown_profile_name_is_rejected_by_config_and_profiles():
    for attempt in (lambda: RunConfig(profile="huge"), lambda: profiles.budget("huge"),
                    lambda: profiles.check_profile("huge")):
        with pytest.raises(ConfigError) as info:
            attempt()
        assert info.value.field_name == "profile" and "'huge'" in str(info.value)


def test_overrides():
    b = profiles.budget("paper", "td3", total_steps=200_000, eval_episodes=3)
    assert (b.total_steps, b.eval_episodes, b.warmup_steps) == (200_000, 3, 100_000)
    assert b.replay_size == 200_000  # every transition of the run fits, as in the paper
    assert profiles.budget("smoke", warmup_steps=0).warmup_steps == 0
    # Outside `paper`, the warm-up is a fraction of the (overridden) run length.
    q = profiles.budget("quick", "sac", total_steps=20_000)
    assert (q.warmup_steps, q.replay_size) == (1_000, 20_000)
    assert profiles.budget("quick", "sac", total_steps=20_000, replay_size=5_000).replay_size == 5_000


@pytest.mark.parametrize("bad", ["custom", "full", "", "Paper"])
def test_unknown_profile(bad):
    with pytest.raises(ConfigError) as info:
        profiles.budget(bad, "sac")
    assert info.value.field_name == "profile"
    assert all(repr(p) in str(info.value) for p in profiles.PROFILE_NAMES)
    with pytest.raises(ConfigError):
        profiles.check_profile(bad)


@pytest.mark.parametrize("profile", profiles.PROFILE_NAMES)
def test_unknown_algo(profile):
    with pytest.raises(ConfigError) as info:
        profiles.budget(profile, "ppo")
    assert info.value.field_name == "algo"
    assert "'sac'" in str(info.value) and "'td3'" in str(info.value)


def test_describe():
    line = profiles.describe("paper", profiles.budget("paper"), range(5))
    assert line == "profile=paper: 1,000,000 env steps, 5 seeds, eval every 5,000 steps x 10 episodes"
    assert "1 seed," in profiles.describe("smoke", profiles.budget("smoke"), [0])
    # Under an action repeat the line states agent steps and the frames behind them.
    line = profiles.describe("smoke", profiles.budget("smoke"), [0], action_repeat=4)
    assert "1,000 agent steps = 4,000 frames (action repeat 4)" in line
