"""Named budget presets. A profile only picks numbers; every profile runs the same code.

| profile | purpose                                              |
|---------|------------------------------------------------------|
| smoke   | the whole pipeline end to end in minutes on a laptop CPU (numbers mean nothing) |
| quick   | the papers' trends at reduced scale, hours on a CPU |
| paper   | the papers' settings: 1M steps, eval every 5k over 10 episodes (Ota 4, A.4) |
"""

from __future__ import annotations

from .config import PIXEL_ALGORITHMS, BudgetConfig, ConfigError

# Random warm-up before the first update (Ota A.4): 10k steps for SAC, 100k for TD3.
# DrQ-v2: 4,000 seed frames = 2,000 agent steps at its action repeat of 2, and one update every 2 steps.
# DrQ: 1,000 seed steps (agent steps, its `num_seed_steps`), an update every step.
_PAPER_WARMUP = {"sac": 10_000, "td3": 100_000, "drq": 1_000, "drqv2": 2_000}
_ALGO_BUDGET = {"drqv2": dict(update_every=2)}
# The paper's replay for DrQ holds 100k transitions (its `replay_buffer_capacity`); DrQ-v2's 1M.
_PAPER_ALGO_BUDGET = {"drq": dict(replay_size=100_000)}
# Pixel agents at `smoke` (a departure from the papers, for the pipeline only): 200 agent steps,
# an evaluation every 100, and a batch of 32 (`agent_overrides`): one DrQ update at batch 512 takes
# seconds on a CPU (`benchmarks/pixel_speed.py`).
_SMOKE_PIXELS = dict(total_steps=200, replay_size=200, eval_every=100, log_every=50, checkpoint_every=100,
                     srank_samples=64, td_targets_samples=64)
_SMOKE_PIXEL_AGENT = dict(batch_size=32)

_BUDGETS = {
    "paper": dict(total_steps=1_000_000, replay_size=1_000_000, eval_every=5_000, eval_episodes=10,
                  log_every=1_000, checkpoint_every=50_000),
    "quick": dict(total_steps=100_000, replay_size=100_000, eval_every=5_000, eval_episodes=5,
                  log_every=1_000, checkpoint_every=10_000),
    "smoke": dict(total_steps=1_000, replay_size=1_000, eval_every=500, eval_episodes=2,
                  log_every=100, checkpoint_every=500, srank_samples=256, td_targets_samples=500),
}
_WARMUP_FRACTION = {"quick": 0.05, "smoke": 0.25}  # of total_steps, same for both algorithms

# Smoke caps episodes so that an evaluation takes a second, not a minute; quick and paper keep
# the registered time limit (1000 steps for the MuJoCo locomotion tasks).
EPISODE_CAP = {"smoke": 200, "quick": None, "paper": None}

PROFILE_NAMES = tuple(_BUDGETS)


def check_profile(profile: str) -> str:
    if profile not in _BUDGETS:
        raise ConfigError("profile", profile, f"one of {', '.join(map(repr, PROFILE_NAMES))}")
    return profile


def budget(profile: str, algo: str = "sac", **overrides) -> BudgetConfig:
    """The BudgetConfig of `profile` for `algo`, with optional field overrides.

    Overriding `total_steps` alone rescales what depends on it: the warm-up (outside `paper`) and
    the replay size (every transition of the run fits, as with the paper's 1M buffer and 1M steps).
    """
    check_profile(profile)
    if algo not in _PAPER_WARMUP:  # in every profile: an unknown algorithm must not pass silently
        raise ConfigError("algo", algo, f"one of {', '.join(map(repr, _PAPER_WARMUP))}")
    values = {**_BUDGETS[profile], **_ALGO_BUDGET.get(algo, {})}
    if profile == "paper":
        values.update(_PAPER_ALGO_BUDGET.get(algo, {}))
    if profile == "smoke" and algo in PIXEL_ALGORITHMS:
        values.update(_SMOKE_PIXELS)
    values.update(overrides)
    if "warmup_steps" not in overrides:
        if profile == "paper":
            values["warmup_steps"] = _PAPER_WARMUP[algo]
        else:
            values["warmup_steps"] = int(values["total_steps"] * _WARMUP_FRACTION[profile])
    if "replay_size" not in overrides and "total_steps" in overrides:
        values["replay_size"] = values["total_steps"]
    return BudgetConfig(**values)


def agent_overrides(profile: str, algo: str) -> dict:
    """AgentConfig fields a profile changes from the algorithm's paper settings (only `smoke`, for
    pixel agents: a small batch)."""
    check_profile(profile)
    return dict(_SMOKE_PIXEL_AGENT) if profile == "smoke" and algo in PIXEL_ALGORITHMS else {}


def describe(profile: str, b: BudgetConfig, seeds, action_repeat: int = 1) -> str:
    """One line stating the budget a figure came from; with an action repeat, in frames too."""
    n = len(list(seeds))
    scale = "" if profile == "paper" else " (reduced budget: not the paper's experiment)"
    steps = (f"{b.total_steps:,} env steps" if action_repeat == 1 else
             f"{b.total_steps:,} agent steps = {b.total_steps * action_repeat:,} frames (action repeat {action_repeat})")
    return (f"profile={profile}{scale}: {steps}, {n} seed{'s' if n != 1 else ''}, "
            f"eval every {b.eval_every:,} steps x {b.eval_episodes} episodes")
