"""Learning tests: SAC and TD3 with the papers' default networks (256x2 ReLU, batch 256, Adam 3e-4)
must learn Pendulum-v1 within about a minute of CPU time each.

A uniformly random policy scores about -1200 to -1500 on Pendulum-v1 (200-step episodes); the
untrained deterministic policy at step 0 scores in the same range. Thresholds: the final greedy
return over 10 episodes must exceed -600 and improve on the step-0 evaluation by at least 500.

Measured on the 2-core CPU development machine (torch 2.13.0+cpu, one torch thread, another job
busy on the other core), eval_return every 1000 steps over 10 episodes, warm-up 1000 steps:

    SAC, 5000 steps   seed 0: -1224 -> -148  (61 s)   seed 1: -1169 -> -141 (56 s)   seed 2: -1372 -> -329 (64 s)
    TD3, 6000 steps   seed 0: -1331 -> -252  (52 s)   seed 1: -1140 -> -346 (57 s)   seed 2: -1573 -> -238 (53 s)

The tests run seed 0 and evaluate only at step 0 and at the end.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

from rlcore.config import AgentConfig, BudgetConfig, EnvConfig, RunConfig
from rlcore.results import RunStore
from rlcore.train import train

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

FINAL_THRESHOLD = -600.0
MIN_IMPROVEMENT = 500.0


@pytest.mark.parametrize("algo,total_steps", [("sac", 5000), ("td3", 6000)])
def test_learns_pendulum(tmp_path, algo, total_steps):
    cfg = RunConfig(
        env=EnvConfig("Pendulum-v1"), agent=AgentConfig(algo=algo), seed=0, device="cpu",
        budget=BudgetConfig(total_steps=total_steps, warmup_steps=1000, eval_every=total_steps, eval_episodes=10,
                            log_every=1000, checkpoint_every=100_000, replay_size=total_steps))
    assert (cfg.agent.critic.width, cfg.agent.critic.depth, cfg.agent.batch_size) == (256, 2, 256)
    t0 = time.time()
    status = train(cfg, tmp_path, progress=False)
    elapsed = time.time() - t0
    assert status["state"] == "finished", status
    evals = pd.read_csv(RunStore(tmp_path, cfg).path("evaluations.csv"))
    returns = evals[evals["metric"] == "eval_return"].set_index("step")["value"]
    start, final = returns[0], returns[total_steps]
    print(f"{algo}: eval_return {start:.0f} -> {final:.0f} in {elapsed:.0f} s")
    assert start < -900, "the untrained policy should be about as bad as a random one"
    assert final > FINAL_THRESHOLD, f"{algo} did not learn: {start:.0f} -> {final:.0f}"
    assert final - start >= MIN_IMPROVEMENT
