"""One training run: a collection strategy (`loops`) feeding a replay, agent updates, periodic
evaluation, hooks (`hooks`), checkpoint/resume, divergence detection. Everything it produces goes
through the RunStore.

Step counting: `step` is what the strategy counts (agent steps for serial collection, gradient
steps for Ape-X); every row also records the environment frames behind it. An evaluation "at step
s" runs after s steps (the first at s = 0, the untrained policy); a checkpoint at step s holds the
learner after s steps, and resuming from it drops any table row written after s, so a killed and
resumed run has exactly the rows of an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections import defaultdict
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from .agents import Agent, make_agent
from .config import ConfigError, RunConfig
from .device import heap_allocator, resolve_device
from .envs import env_spec, env_spec_of, make_env
from .hooks import Hook, UpdateRequest, hooks_for
from .io import DamagedFile, StoreError, atomic_torch_save
from .loops import STRATEGIES, Diverged
from .replay import PrioritizedReplayBuffer, make_replay
from .results import FINAL_STATES, RunStore, default_results_dir, environment_manifest

log = logging.getLogger(__name__)

EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use their own, fixed start states
# `budget.checkpoint_every` counts steps, and a CPU pixel run may never reach it (a quick DrQ run is
# 6,250 agent steps in 1-2 hours); a checkpoint by the clock as well bounds what a killed process loses.
DEFAULT_CHECKPOINT_MINUTES = 20.0


def checkpoint_minutes() -> float:
    """$RLCORE_CHECKPOINT_MINUTES (default 20): also checkpoint a run once this much wall time has
    passed since its last checkpoint; 0 turns it off. When a run checkpoints is not what it computes,
    so this is not part of the config or the run id."""
    value = os.environ.get("RLCORE_CHECKPOINT_MINUTES", "") or str(DEFAULT_CHECKPOINT_MINUTES)
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if not math.isfinite(minutes) or minutes < 0:
        raise ConfigError("RLCORE_CHECKPOINT_MINUTES", value, "minutes >= 0 (0: checkpoint by steps only)")
    return minutes


class RunInterrupted(Exception):
    """Ctrl-C or SIGTERM: the run checkpointed at `step` and can be resumed by rerunning it."""

    def __init__(self, step: int):
        super().__init__(f"interrupted at step {step}; rerun the same command to resume")
        self.step = step

__all__ = ["Diverged", "Interrupt", "Interrupts", "RunInterrupted", "Trainer", "evaluate", "resolve_device", "train"]


def evaluate(agent: Agent, env, episodes: int, seed: int, step: int = 0) -> tuple[list[float], list[int]]:
    """Deterministic-policy returns over `episodes` episodes, each from a fixed seed."""
    returns, lengths = [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, step, explore=False))
            total += float(reward)
            length += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    return returns, lengths


class Trainer:
    """Runs one config: the config's hooks (`hooks.hooks_for`), then any extra `hooks` (e.g. a test's
    measurement), each with a distinct `name` (their checkpoint state is keyed by it)."""

    def __init__(self, cfg: RunConfig, results_dir=None, progress: bool = True, hooks: Sequence[Hook] | None = None):
        self.cfg = cfg
        self.store = RunStore(results_dir or default_results_dir(cfg.profile), cfg)
        self.progress = progress
        self._custom_hooks = hooks
        self.checkpoint_s = 60.0 * checkpoint_minutes()  # a bad value stops here, before anything is written

    # ---- what strategies and hooks call ------------------------------------------------------
    def make_env(self, seed: int | None = None):
        return make_env(self.cfg.env, seed=seed)

    def log(self, step: int, metric: str, value: float) -> None:
        """A row of metrics.csv at `step`."""
        self.metrics.append(self._row(step, metric, value))

    def _row(self, step: int, metric: str, value: float) -> dict:
        return self.store.row(step, metric, value, frames=self.cfg.frames(self.strategy.env_steps))

    def sample(self):
        return self.replay.sample(self.cfg.agent.batch_size)

    def learner_step(self, step: int) -> None:
        """One learner step: the hooks' pre-update work (OFENet's auxiliary step first, as the OFENet
        code does), then one agent update on its own batch, then new priorities."""
        request = UpdateRequest()
        for hook in self.hooks:
            self._accumulate(hook.before_update(self, step, request))
        if isinstance(self.replay, PrioritizedReplayBuffer):  # beta annealed linearly to 1 over the run
            beta0 = self.cfg.collect.priority_beta
            self.replay.set_beta(beta0 + (1.0 - beta0) * min(1.0, step / self.cfg.budget.total_steps))
        batch = self.sample()
        result = self.agent.update(batch, step, grad_norms=request.grad_norms)
        if batch.indices is not None:
            self.replay.update_priorities(batch.indices, result.td_errors)
        self._accumulate(result.metrics)

    def checkpoint_due(self, step: int) -> bool:
        """Every `budget.checkpoint_every` steps, and whenever `checkpoint_minutes()` have passed since
        the last checkpoint (or the start); never at the last step, which writes the final files."""
        if step >= self.cfg.budget.total_steps:
            return False
        by_clock = self.checkpoint_s > 0 and time.time() - self.last_checkpoint_t >= self.checkpoint_s
        return step % self.cfg.budget.checkpoint_every == 0 or by_clock

    def periodic(self, step: int, checkpoint: bool | None = None) -> None:
        """Logging, evaluation and checkpoints at their intervals of `step` (`checkpoint`: decided by
        the caller, as a population does once for all its members; None: `checkpoint_due`)."""
        b = self.cfg.budget
        if step % b.log_every == 0 and self.sums:
            now = time.time()
            start, t = self.window
            self._flush_metrics(step, (step - start) / max(now - t, 1e-9))
            self.strategy.metrics(step, now)
            self.window = (step, now)
        if step % b.eval_every == 0 or step == b.total_steps:
            self.last_eval = self._log_eval(step)
            self.bar.set_postfix_str(f"eval_return={self.last_eval:.1f}", refresh=False)
        if checkpoint is None:
            checkpoint = self.checkpoint_due(step)
        if checkpoint:
            self._checkpoint(step)
            self.store.write_status("running", step=step)
        self.bar.update(1)
        if step < b.total_steps:
            self.interrupts.check()

    # ---- helpers --------------------------------------------------------------------------
    def _accumulate(self, metrics: dict | None) -> None:
        for k, v in (metrics or {}).items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
            self.counts[k] += 1

    def _log_eval(self, step: int) -> float:
        b = self.cfg.budget
        returns, lengths = evaluate(self.agent, self.eval_env, b.eval_episodes,
                                    EVAL_SEED_OFFSET + 1000 * self.cfg.seed, step)
        mean = float(np.mean(returns))
        values = {"eval_return": mean, "eval_return_std": float(np.std(returns)),
                  "eval_length": float(np.mean(lengths))}
        for hook in self.hooks:
            values.update(hook.on_evaluate(self, step))
        self.evals += [self._row(step, k, v) for k, v in values.items()]
        self.store.write_rows("evaluations", self.evals)
        return mean

    def _flush_metrics(self, step: int, steps_per_s: float) -> None:
        """Average the accumulated update metrics (the only host sync of the update loop) and check them."""
        values = {k: (self.sums[k] / self.counts[k]).item() for k in self.sums}
        threshold = self.cfg.budget.divergence_threshold
        for k, v in values.items():
            if not math.isfinite(v) or (k in ("critic_loss", "q_mean") and abs(v) > threshold):
                raise Diverged(f"{k}={v:.4g} at step {step}")
        values["steps_per_s"] = steps_per_s
        for k, v in values.items():
            self.log(step, f"train_{k}", v)
        self.sums.clear()
        self.counts.clear()

    def _checkpoint(self, step: int) -> None:
        self.store.write_rows("metrics", self.metrics)
        self.store.save_checkpoint({
            "step": step, "agent": self.agent.state_dict(), "replay": self.replay.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "strategy": self.strategy.state_dict(),
            "hooks": {h.name: h.state_dict() for h in self.hooks},
            # The metrics accumulated since the last log: a resumed run's next row averages them too.
            "metric_window": {"sums": dict(self.sums), "counts": dict(self.counts)},
            "wall_time_s": self.wall_time_s + (time.time() - self.t_start),
        })
        self.last_checkpoint_t = time.time()

    def _restore(self, ckpt: dict) -> int:
        self.agent.load_state_dict(ckpt["agent"])
        self.replay.load_state_dict(ckpt["replay"])
        torch.set_rng_state(ckpt["torch_rng"].cpu())
        if ckpt["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        self.strategy.load_state_dict(ckpt["strategy"])
        for hook in self.hooks:
            if hook.name in ckpt["hooks"]:
                hook.load_state_dict(ckpt["hooks"][hook.name])
        self.sums = dict(ckpt["metric_window"]["sums"])
        self.counts = defaultdict(int, ckpt["metric_window"]["counts"])
        self.wall_time_s = ckpt["wall_time_s"]
        return ckpt["step"]

    def _setup(self) -> None:
        cfg, b = self.cfg, self.cfg.budget
        self.device = resolve_device(cfg.device)
        heap_allocator()  # no page faults for re-allocated activation tensors (pixel batches above all)
        torch.manual_seed(cfg.seed)
        self.strategy = STRATEGIES[cfg.collect.mode](self)
        self.eval_env = self.make_env()
        spec, action_dim = env_spec(self.eval_env)
        self.agent = make_agent(cfg.agent, spec, action_dim, self.device, env_id=cfg.env.id)
        self.replay = make_replay(spec, action_dim, b.replay_size, self.device, gamma=cfg.agent.gamma,
                                  n_step=cfg.agent.n_step, partial_windows=cfg.agent.n_step_partial,
                                  prioritized=cfg.collect.replay == "prioritized",
                                  alpha=cfg.collect.priority_alpha, beta=cfg.collect.priority_beta,
                                  storage=b.replay_storage)
        self.hooks = hooks_for(cfg, self.agent.learns_features) + list(self._custom_hooks or ())
        names = [h.name for h in self.hooks]
        if len(set(names)) != len(names):
            raise ValueError(f"hook names must be distinct (checkpoints key hook state by name): {names}")
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.wall_time_s, self.t_start = 0.0, time.time()
        self.last_checkpoint_t = self.t_start

    # ---- the run --------------------------------------------------------------------------
    def run(self, force: bool = False, wait: float = 0.0) -> dict:
        """Train (or resume, or return the status of a run that already ended). The run directory
        is locked for the whole call (`wait` seconds for another process to release it, else
        RunLocked); a finished run is recomputed only with `force` (its old files are set aside)."""
        cfg, store = self.cfg, self.store
        if cfg.collect.mode == "apex":  # bad worker settings or an unreachable cluster: fail before any work
            from .collect import check_settings
            check_settings(cfg, connect=False)  # the Collector connects (and owns a Ray it starts)
            if len(env_spec_of(cfg.env)[0].shape) > 1:
                raise ConfigError("collect.mode", "apex", "'serial' for image observations (Ape-X-like "
                                                          "collection of pixels is not built yet)")
        env_spec_of(cfg.env)  # an environment that cannot be built is rejected before anything is written
        try:
            store.acquire(wait)
        except PermissionError:  # a read-only store: an ended run can still be reported
            status = store.verified_final_status() if store.path("status.json").exists() else None
            if status is None:
                raise StoreError(f"{store.dir} is not writable and holds no finished run") from None
            return status
        try:
            return self._run_locked(force)
        finally:
            store.release()

    def _ended_status(self) -> dict | None:
        """A verified ended run's status; damaged files are set aside (to be recomputed), never
        overwritten."""
        store = self.store
        try:
            status = store.status()
        except DamagedFile as err:
            store.set_aside(f"unreadable status ({err})", ["status.json"])
            return None
        if not status or status.get("state") not in FINAL_STATES:
            return None
        try:
            return store.verified_final_status()
        except DamagedFile as err:
            store.set_aside(f"the ended run is damaged ({err}); recomputing it")
            return None

    def _run_locked(self, force: bool) -> dict:
        ended, step = self.begin(force)
        if ended is not None:
            return ended
        return self.run_from(step)

    def run_from(self, step: int) -> dict:
        """Train from `step` to the end after `begin`: evaluation at 0, the strategy, the last files."""
        try:
            with Interrupts() as self.interrupts:
                self.first_evaluation(step)
                step = self.strategy.run(step)
        except Diverged as err:
            return self.crashed(err)
        except Interrupt as stop:
            self.interrupted(stop.signal_name)
            raise RunInterrupted(self.step) from None
        except BaseException as err:
            self.failed(err)
            raise
        finally:
            self.bar.close()
        return self.finish(step)

    # ---- the run's phases (also driven by `rlcore.population` for each member) --------------------
    def begin(self, force: bool) -> tuple[dict | None, int]:
        """(the status of an ended run, 0) if there is one to return; else (None, the step to start
        from) with everything set up and any checkpoint restored. The run lock must be held."""
        cfg, b, store = self.cfg, self.cfg.budget, self.store
        store.prepare()
        for stale in store.remove_stale_temporaries():
            log.warning("removed %s, left by a writer that died", stale)
        ended = self._ended_status()
        if ended is not None:
            if not force:
                return ended, 0
            store.set_aside("recomputed with --force", prefix="replaced")

        self._setup()
        self.evals, self.metrics = store.read_rows("evaluations"), store.read_rows("metrics")
        store.write_manifest(environment_manifest(self.device))
        step = 0
        ckpt = store.load_checkpoint(self.device)
        if ckpt is not None:
            step = self._restore(ckpt)
        else:
            self.evals, self.metrics = [], []  # rows without a checkpoint belong to no resumable state
        # Rows written after the checkpoint are recomputed by this run: drop them (no duplicates).
        self.evals = [r for r in self.evals if r["step"] <= step]
        self.metrics = [r for r in self.metrics if r["step"] <= step]
        store.write_status("running", step=step)

        if callable(self.progress):  # a bar factory, e.g. a sweep's worker reporting to its driver
            self.bar = self.progress(total=b.total_steps, initial=step, desc=cfg.run_id)
        else:
            self.bar = tqdm(total=b.total_steps, initial=step, desc=cfg.run_id, disable=not self.progress,
                            mininterval=5.0, file=sys.stderr, ascii=True, dynamic_ncols=False)
        self.step, self.window = step, (step, time.time())
        return None, step

    def first_evaluation(self, step: int) -> None:
        """The untrained policy's evaluation, for a run starting at step 0."""
        self.last_eval = self._log_eval(0) if step == 0 else None

    def crashed(self, err: Diverged) -> dict:
        """The run is over but the sweep goes on: keep every evaluation made before the divergence."""
        store = self.store
        store.write_rows("metrics", self.metrics)
        store.write_rows("evaluations", self.evals)
        store.remove_checkpoint()
        status = {"state": "crashed", "step": self.step, "reason": str(err),
                  "last_good_eval_return": self._last_eval_return()}
        store.write_status(**status)
        return status

    def interrupted(self, signal_name: str) -> None:
        """At a step boundary: checkpoint exactly there, so the rerun resumes with nothing lost."""
        self._checkpoint(self.step)
        self.store.write_rows("evaluations", self.evals)
        self.store.write_status("interrupted", step=self.step, signal=signal_name)

    def failed(self, err: BaseException) -> None:
        if not isinstance(err, KeyboardInterrupt):  # a second Ctrl-C: the last checkpoint stands
            self.store.write_status("error", step=self.step, reason=f"{type(err).__name__}: {err}",
                                    traceback=traceback.format_exc())

    def finish(self, step: int) -> dict:
        """The run's last files and its finished status."""
        cfg, store = self.cfg, self.store
        wall = self.wall_time_s + (time.time() - self.t_start)
        store.write_rows("metrics", self.metrics)
        store.write_rows("evaluations", self.evals)
        atomic_torch_save(self.agent.weights(), store.path("agent.pt"))
        for hook in self.hooks:
            hook.on_end(self)
        store.write_manifest({**environment_manifest(self.device), "wall_time_s": wall})
        status = {"state": "finished", "step": step, "final_eval_return": self.last_eval, "wall_time_s": wall,
                  "frames": cfg.frames(self.strategy.env_steps)}
        store.write_status(**status)
        store.remove_checkpoint()
        return status

    def _last_eval_return(self) -> float | None:
        rows = [r for r in self.evals if r["metric"] == "eval_return"]
        return rows[-1]["value"] if rows else None


def train(cfg: RunConfig, results_dir=None, progress: bool = True, hooks: Sequence[Hook] | None = None,
          force: bool = False, wait: float = 0.0) -> dict:
    """Train one run (or resume it, or return at once if it already ended). Returns its status.
    `hooks` run in addition to the config's own; `force` recomputes a finished run; `wait` is how
    long to wait for another process that holds the run. `progress`: True (a tqdm bar on stderr),
    False, or a factory `progress(total=, initial=, desc=)` returning an object with tqdm's
    `update`, `set_postfix_str` and `close`."""
    return Trainer(cfg, results_dir, progress, hooks).run(force=force, wait=wait)


class Interrupt(Exception):
    """A signal noted by `Interrupts`, raised at the next step boundary (inside a run)."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


class Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM during a run: the first one is noted and acted on at the next step
    boundary (`check`, called by `Trainer.periodic`); a second one interrupts at once. Only the main
    thread can install handlers; elsewhere the defaults stay."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self) -> "Interrupts":
        self.received: str | None = None
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def check(self) -> None:
        if self.received is not None:
            raise Interrupt(self.received)

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
