"""One training run: serial collection (one env step, one update), evaluation, checkpoint/resume,
divergence detection. Everything it produces goes through the RunStore.

Step counting: `step` is the number of environment steps taken so far. An evaluation "at step s"
runs after s steps (the first at s = 0, the untrained policy); a checkpoint at step s holds the
learner after s steps, and resuming from it drops any table row written after s, so a killed and
resumed run has exactly the rows of an uninterrupted one.
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict

import numpy as np
import torch
from tqdm import tqdm

from .agents import Agent, make_agent
from .analysis.landscape import frozen_td_targets
from .analysis.rank import critic_feature_rank
from .config import RunConfig
from .envs import env_dims, make_env
from .replay import PrioritizedBatch, PrioritizedReplayBuffer, ReplayBuffer
from .results import RunStore, atomic_torch_save, default_results_dir, environment_manifest

EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use their own, fixed start states


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but torch sees no CUDA device")
    return torch.device(name)


def evaluate(agent: Agent, env, episodes: int, seed: int) -> tuple[list[float], list[int]]:
    """Deterministic-policy returns over `episodes` episodes, each from a fixed seed."""
    returns, lengths = [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, explore=False))
            total += float(reward)
            length += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    return returns, lengths


class Diverged(Exception):
    pass


class Trainer:
    def __init__(self, cfg: RunConfig, results_dir=None, progress: bool = True):
        self.cfg = cfg
        self.store = RunStore(results_dir or default_results_dir(cfg.profile), cfg)
        self.progress = progress

    # ---- helpers --------------------------------------------------------------------------
    def _log_eval(self, step: int) -> float:
        b = self.cfg.budget
        returns, lengths = evaluate(self.agent, self.eval_env, b.eval_episodes,
                                    EVAL_SEED_OFFSET + 1000 * self.cfg.seed)
        mean = float(np.mean(returns))
        row = self.store.row
        self.evals += [row(step, "eval_return", mean), row(step, "eval_return_std", float(np.std(returns))),
                       row(step, "eval_length", float(np.mean(lengths)))]
        for i, rank in enumerate(self._feature_ranks(), 1):
            self.evals.append(row(step, f"srank_critic{i}", float(rank)))
        self.store.write_rows("evaluations", self.evals)
        return mean

    def _flush_metrics(self, step: int, sums: dict, counts: dict, steps_per_s: float) -> None:
        """Average the accumulated update metrics (the only host sync of the update loop) and check them."""
        values = {k: (sums[k] / counts[k]).item() for k in sums}
        threshold = self.cfg.budget.divergence_threshold
        for k, v in values.items():
            if not math.isfinite(v) or (k in ("critic_loss", "q_mean") and abs(v) > threshold):
                raise Diverged(f"{k}={v:.4g} at step {step}")
        values["steps_per_s"] = steps_per_s
        self.metrics += [self.store.row(step, f"train_{k}", v) for k, v in values.items()]
        sums.clear()
        counts.clear()

    def _feature_ranks(self) -> list[int]:
        """srank (delta 0.01) of each critic's penultimate features on a fixed set of transitions:
        the first `srank_samples` ever stored, snapshotted once the replay holds that many."""
        n = self.cfg.budget.srank_samples
        if n == 0:
            return []
        if self.srank_set is None:
            if len(self.replay) < n:
                return []
            batch = self.replay.gather(torch.arange(n, device=self.replay.device))
            self.srank_set = (batch.obs.clone(), batch.action.clone())
        return critic_feature_rank(self.agent, *self.srank_set)

    def _sample(self):
        batch = self.replay.sample(self.cfg.agent.batch_size)
        return batch.batch if isinstance(batch, PrioritizedBatch) else batch

    def _update(self, step: int, sums: dict, counts: dict) -> None:
        """One learner step: OFENet (first, on its own batch, as the OFENet code), then the agent."""
        b = self.cfg.budget
        if not self.agent.features_pretrained:
            self._pretrain_features(step)
        if self.agent.learns_features:
            self._accumulate(sums, counts, self.agent.update_features(self._sample()))
        diagnostics = b.grad_norm_every > 0 and (self.agent.updates + 1) % b.grad_norm_every == 0
        if isinstance(self.replay, PrioritizedReplayBuffer):  # beta annealed linearly to 1 over the run
            beta0 = self.cfg.collect.priority_beta
            self.replay.set_beta(beta0 + (1.0 - beta0) * min(1.0, step / b.total_steps))
        batch = self.replay.sample(self.cfg.agent.batch_size)
        if isinstance(batch, PrioritizedBatch):
            metrics = self.agent.update(batch.batch, diagnostics=diagnostics, weights=batch.weights)
            self.replay.update_priorities(batch.indices, self.agent.td_errors)
        else:
            metrics = self.agent.update(batch, diagnostics=diagnostics)
        self._accumulate(sums, counts, metrics)

    @staticmethod
    def _accumulate(sums: dict, counts: dict, metrics: dict) -> None:
        for k, v in metrics.items():
            sums[k] = sums[k] + v if k in sums else v.clone()
            counts[k] += 1

    def _pretrain_features(self, step: int) -> None:
        """OFENet-only updates after the random warm-up, before the agent's first update."""
        steps = self.cfg.agent.ofenet.pretrain_steps
        losses = [self.agent.update_features(self._sample())["ofenet_loss"] for _ in range(steps)]
        if losses:
            self.metrics += [self.store.row(step, "pretrain_ofenet_loss_first", losses[0].item()),
                             self.store.row(step, "pretrain_ofenet_loss_last", losses[-1].item())]
        self.agent.features_pretrained = True

    def _checkpoint(self, step: int) -> None:
        self.store.write_rows("metrics", self.metrics)
        self.store.save_checkpoint({
            "step": step, "agent": self.agent.state_dict(), "replay": self.replay.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "action_space_rng": self.env.action_space.np_random.bit_generator.state,
            "wall_time_s": self.wall_time_s + (time.time() - self.t_start),
            "srank_set": self.srank_set,
            "env_steps": getattr(self, "env_steps", step),
        })

    # ---- the run --------------------------------------------------------------------------
    def run(self) -> dict:
        cfg, b, store = self.cfg, self.cfg.budget, self.store
        if cfg.collect.mode == "apex":  # bad worker settings or an unreachable cluster: fail before any work
            from .collect import check_settings
            check_settings(cfg, connect=False)  # the Collector connects (and owns a Ray it starts)
        store.prepare()
        status = store.status()
        if status and status["state"] in ("finished", "crashed"):
            return status

        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.env = make_env(cfg.env, seed=cfg.seed)
        self.eval_env = make_env(cfg.env)
        obs_dim, action_dim = env_dims(self.env)
        self.agent = make_agent(cfg.agent, obs_dim, action_dim, self.device, env_id=cfg.env.id)
        if cfg.collect.replay == "prioritized":
            self.replay = PrioritizedReplayBuffer(obs_dim, action_dim, b.replay_size, self.device,
                                                  alpha=cfg.collect.priority_alpha, beta=cfg.collect.priority_beta)
        else:
            self.replay = ReplayBuffer(obs_dim, action_dim, b.replay_size, self.device)
        self.evals, self.metrics = store.read_rows("evaluations"), store.read_rows("metrics")
        self.wall_time_s, self.t_start = 0.0, time.time()
        self.srank_set = None
        store.write_manifest(environment_manifest(self.device))

        step = 0
        ckpt = store.load_checkpoint(self.device)
        if ckpt is not None:
            step = ckpt["step"]
            self.agent.load_state_dict(ckpt["agent"])
            self.replay.load_state_dict(ckpt["replay"])
            torch.set_rng_state(ckpt["torch_rng"].cpu())
            if ckpt["cuda_rng"] is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
            self.env.action_space.np_random.bit_generator.state = ckpt["action_space_rng"]
            self.wall_time_s = ckpt["wall_time_s"]
            self.srank_set = ckpt.get("srank_set")
        else:
            self.evals, self.metrics = [], []  # rows without a checkpoint belong to no resumable state
        # Rows written after the checkpoint are recomputed by this run: drop them (no duplicates).
        self.evals = [r for r in self.evals if r["step"] <= step]
        self.metrics = [r for r in self.metrics if r["step"] <= step]
        store.write_status("running", step=step)

        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = defaultdict(int)
        bar = tqdm(total=b.total_steps, initial=step, desc=cfg.run_id, disable=not self.progress,
                   mininterval=5.0, file=sys.stderr, ascii=True, dynamic_ncols=False)
        self.last_eval = self._log_eval(0) if step == 0 else None
        self.step = step
        try:
            if cfg.collect.mode == "apex":
                step = self._apex_loop(step, ckpt, sums, counts, bar)
            else:
                step = self._serial_loop(step, sums, counts, bar)
        except Diverged as err:
            # The run is over but the sweep goes on: keep every evaluation made before the divergence.
            store.write_rows("metrics", self.metrics)
            store.write_rows("evaluations", self.evals)
            store.remove_checkpoint()
            status = {"state": "crashed", "step": self.step, "reason": str(err),
                      "last_good_eval_return": self._last_eval_return()}
            store.write_status(**status)
            return status
        finally:
            bar.close()

        wall = self.wall_time_s + (time.time() - self.t_start)
        store.write_rows("metrics", self.metrics)
        store.write_rows("evaluations", self.evals)
        atomic_torch_save({"modules": {k: m.state_dict() for k, m in self.agent.modules.items()},
                           "extra": self.agent._extra_state()}, store.path("agent.pt"))
        if b.td_targets_samples:  # (s, a, Q_hat) for loss landscapes of the final critic (Ota A.3)
            frozen_td_targets(self.agent, self.replay, b.td_targets_samples, seed=self.cfg.seed).save(
                store.path("td_targets.pt"))
        store.write_manifest({**environment_manifest(self.device), "wall_time_s": wall})
        status = {"state": "finished", "step": step, "final_eval_return": self.last_eval, "wall_time_s": wall}
        store.write_status(**status)
        store.remove_checkpoint()
        return status

    # ---- the two ways experience arrives ---------------------------------------------------
    def _serial_loop(self, step: int, sums: dict, counts: dict, bar) -> int:
        """One environment step, then `updates_per_step` updates; `step` counts environment steps."""
        cfg, b, store = self.cfg, self.cfg.budget, self.store
        # A resumed run starts a fresh episode; the interrupted partial episode is not replayed.
        obs, _ = self.env.reset(seed=cfg.seed + step)
        episode_return, episode_length = 0.0, 0
        self.window = (step, time.time())
        while step < b.total_steps:
            if step < b.warmup_steps:
                action = self.env.action_space.sample()
            else:
                action = self.agent.act(obs, explore=True)
                if not np.all(np.isfinite(action)):
                    raise Diverged(f"non-finite action at step {step}")
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            # Only a true terminal stops bootstrapping; time-limit truncation does not.
            self.replay.add(obs, action, reward, next_obs, terminated)
            episode_return += float(reward)
            episode_length += 1
            obs = next_obs
            step = self.step = step + 1
            if terminated or truncated:
                self.metrics += [store.row(step, "train_episode_return", episode_return),
                                 store.row(step, "train_episode_length", episode_length)]
                obs, _ = self.env.reset()
                episode_return, episode_length = 0.0, 0
            if step >= b.warmup_steps and len(self.replay) >= cfg.agent.batch_size:
                for _ in range(b.updates_per_step):
                    self._update(step, sums, counts)
            self._periodic(step, sums, counts, bar)
            bar.update(1)
        return step

    def _apex_loop(self, step: int, ckpt, sums: dict, counts: dict, bar) -> int:
        """Ape-X-like: workers collect asynchronously, the learner updates continuously; `step`
        counts gradient steps (Ota A.1: the x-axis of the curves)."""
        from .collect import Collector

        cfg, b, store = self.cfg, self.cfg.budget, self.store
        self.env_steps = ckpt.get("env_steps", 0) if ckpt else 0
        self.collect_window = {"transitions": 0, "staleness": 0.0, "stale_n": 0, "t": time.time()}
        self.window = (step, time.time())
        acting = lambda: {k: m.state_dict() for k, m in self.agent.acting_modules().items()}
        collector = Collector(cfg, acting())
        self.collector = collector
        try:
            collector.start()
            warmed_up = len(self.replay) >= max(b.warmup_steps, cfg.agent.batch_size)
            if warmed_up:
                collector.publish(acting, step)
            cap, start_env_steps = cfg.collect.max_env_per_grad, self.env_steps
            while step < b.total_steps:
                if cap:  # workers wait before collecting beyond warm-up + cap x gradient steps
                    collector.allow(max(b.warmup_steps, cfg.agent.batch_size) + cap * step - start_env_steps)
                for chunk in collector.drain(timeout=0.0 if warmed_up else 0.2):
                    self._receive(chunk, step)
                if collector.check_workers():
                    self.metrics.append(store.row(step, "collect_worker_restarts", collector.restarts))
                if not warmed_up:
                    if len(self.replay) < max(b.warmup_steps, cfg.agent.batch_size):
                        continue
                    warmed_up = True
                self._update(step, sums, counts)
                step = self.step = step + 1
                collector.publish(acting, step)  # copied out once workers took the previous copy
                self._periodic(step, sums, counts, bar)
                bar.update(1)
        finally:
            collector.shutdown()
        return step

    def _receive(self, chunk, step: int) -> None:
        self.replay.add(chunk.obs, chunk.action, chunk.reward, chunk.next_obs, chunk.terminated)
        n = len(chunk.reward)
        self.env_steps += n
        w = self.collect_window
        w["transitions"] += n
        if chunk.version > 0:
            w["staleness"] += (step - chunk.version) * n  # gradient steps behind the learner
            w["stale_n"] += n
        self.metrics += [self.store.row(step, "train_episode_return", r) for r in chunk.episode_returns]

    def _periodic(self, step: int, sums: dict, counts: dict, bar) -> None:
        """Logging, evaluation and checkpoints at their intervals of `step`."""
        b, store = self.cfg.budget, self.store
        if step % b.log_every == 0 and sums:
            now = time.time()
            start, t = self.window
            self._flush_metrics(step, sums, counts, (step - start) / max(now - t, 1e-9))
            if self.cfg.collect.mode == "apex":
                self._flush_collect_metrics(step, now)
            self.window = (step, now)
        if step % b.eval_every == 0 or step == b.total_steps:
            self.last_eval = self._log_eval(step)
            bar.set_postfix_str(f"eval_return={self.last_eval:.1f}", refresh=False)
        if step % b.checkpoint_every == 0 and step < b.total_steps:
            self._checkpoint(step)
            store.write_status("running", step=step)

    def _flush_collect_metrics(self, step: int, now: float) -> None:
        w, row = self.collect_window, self.store.row
        self.metrics += [row(step, "collect_env_steps", self.env_steps), row(step, "collect_grad_steps", step),
                         row(step, "collect_env_per_grad", self.env_steps / max(step, 1)),
                         row(step, "collect_transitions_per_s", w["transitions"] / max(now - w["t"], 1e-9)),
                         row(step, "collect_worker_restarts", self.collector.restarts)]
        if w["stale_n"]:
            self.metrics.append(row(step, "collect_weight_staleness", w["staleness"] / w["stale_n"]))
        self.collect_window = {"transitions": 0, "staleness": 0.0, "stale_n": 0, "t": now}

    def _last_eval_return(self) -> float | None:
        rows = [r for r in self.evals if r["metric"] == "eval_return"]
        return rows[-1]["value"] if rows else None


def train(cfg: RunConfig, results_dir=None, progress: bool = True) -> dict:
    """Train one run (or resume it, or return at once if it already ended). Returns its status."""
    return Trainer(cfg, results_dir, progress).run()
