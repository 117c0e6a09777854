"""rlcore.profiles: the budget of every profile and algorithm, with the paper's numbers (Ota et al. 2021, A.4)."""

from __future__ import annotations

import pytest

from rlcore import profiles
from rlcore.config import ALGORITHMS, BudgetConfig, ConfigError, RunConfig


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
    assert (b.total_steps, b.warmup_steps, b.eval_every, b.eval_episodes) == (1_000, 250, 500, 2)
    assert profiles.EPISODE_CAP["smoke"] == 200


@pytest.mark.parametrize("profile", profiles.PROFILE_NAMES)
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_every_budget_is_consistent(profile, algo):
    b = profiles.budget(profile, algo)
    assert isinstance(b, BudgetConfig)
    assert 0 < b.warmup_steps < b.total_steps
    assert b.total_steps % b.eval_every == 0
    assert b.replay_size <= b.total_steps
    RunConfig(budget=b, profile=profile)  # a valid run config


def test_profile_names():
    assert set(profiles.PROFILE_NAMES) == {"smoke", "quick", "paper"}


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
