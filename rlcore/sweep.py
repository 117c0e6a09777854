"""Run a list of configs: skip the finished, resume the interrupted, record failures and go on.

Three ways to run them, one result store:
  serial        one run after another in this process (jobs=1, the default);
  local jobs    `jobs` runs at once in spawned processes, `threads` torch threads each (1 by default,
                so N jobs use N cores rather than fighting over them);
  ray           each run a Ray task (`cpus_per_run`, `gpus_per_run`) on $RAY_ADDRESS or a local Ray.
                A worker that sees the driver's results directory trains into it directly (so an
                interrupted run resumes from its checkpoint); one that does not (a cluster without a
                shared filesystem) trains into its own temporary directory and returns the run's files,
                which the driver writes into the store atomically. Such a run restarts from scratch if
                interrupted.
Every run takes its own run lock (`results.RunStore.acquire`), so two sweeps over the same store never
train one run twice: the second reports it as "locked" and goes on.

Progress: one bar for the sweep (runs done / total, elapsed and ETA) whose postfix shows each active
run's own progress; with jobs=1 each run also draws its own bar as before. Both are plain text lines
(`ascii`, at most one refresh every few seconds), readable inside papermill.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue as queue_module
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait as wait_futures
from itertools import product
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from tqdm import tqdm

from .config import ConfigError, RunConfig
from .io import atomic_write
from .results import RunLocked, default_results_dir
from .train import RunInterrupted, train

log = logging.getLogger(__name__)

SWEEP_BACKENDS = ("local", "ray")
# Files of a finished run that a Ray worker without the driver's filesystem sends back (no checkpoint).
RETURNED_FILES = ("config.json", "status.json", "manifest.json", "evaluations.csv", "metrics.csv", "agent.pt",
                  "td_targets.pt")
PROGRESS_EVERY_S = 2.0


def grid(base: RunConfig, axes: Mapping[str, Iterable[Any]]) -> list[RunConfig]:
    """Cartesian product of dotted-path overrides, e.g. {"agent.critic.width": [128, 256], "seed": [0, 1]}."""
    names = list(axes)
    return [base.replace(**dict(zip(names, values))) for values in product(*(list(axes[n]) for n in names))]


def default_population() -> bool:
    """$RLCORE_POPULATION (what `make reproduce POPULATION=1` sets): "1" trains seeds as populations."""
    value = os.environ.get("RLCORE_POPULATION", "0") or "0"
    if value not in ("0", "1"):
        raise ConfigError("RLCORE_POPULATION", value, "0 or 1")
    return value == "1"


def default_jobs() -> int:
    """$RLCORE_JOBS (what `make reproduce JOBS=N` sets), else 1."""
    value = os.environ.get("RLCORE_JOBS", "1")
    try:
        jobs = int(value)
    except ValueError:
        raise ConfigError("RLCORE_JOBS", value, "a positive integer") from None
    if jobs < 1:
        raise ConfigError("RLCORE_JOBS", value, "a positive integer")
    return jobs


def run_sweep(configs: Sequence[RunConfig], results_dir=None, progress: bool = True, force: bool = False,
              wait: float = 0.0, jobs: int | None = None, backend: str | None = None, threads: int = 1,
              cpus_per_run: float = 1.0, gpus_per_run: float = 0.0, population: bool | None = None) -> pd.DataFrame:
    """Train every config; returns one row per run (in the configs' order) with its final state.

    A run that raises is recorded by the trainer itself as state "error" (traceback in its
    status.json) and the sweep continues; a diverged run is "crashed"; a run another process holds
    is reported as "locked" and left alone. Ctrl-C stops the sweep (runs in progress checkpoint and
    resume when the sweep is rerun). `jobs` (default $RLCORE_JOBS or 1) runs that many at once;
    `backend` (default $RLCORE_SWEEP_BACKEND or "local") "ray" submits runs as Ray tasks.
    `population` (default $RLCORE_POPULATION) trains the seeds of each configuration as one
    vectorized population (`rlcore.population`: same run ids and results as alone), in this
    process (jobs 1, local).
    """
    jobs = default_jobs() if jobs is None else jobs
    population = default_population() if population is None else population
    backend = backend or os.environ.get("RLCORE_SWEEP_BACKEND", "local")
    if backend not in SWEEP_BACKENDS:
        raise ConfigError("backend", backend, f"one of {', '.join(map(repr, SWEEP_BACKENDS))}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError("jobs", jobs, "a positive integer")
    if not isinstance(threads, int) or threads < 1:
        raise ConfigError("threads", threads, "a positive integer")
    roots = [Path(results_dir or default_results_dir(c.profile)) for c in configs]
    if population:
        if backend != "local" or jobs != 1:
            raise ConfigError("population", True, "jobs=1 and backend='local' (a population trains in one process)")
        rows = _run_populations(configs, roots, progress, force, wait)
    elif backend == "ray":
        rows = _run_ray(configs, roots, progress, force, wait, jobs, threads, cpus_per_run, gpus_per_run)
    elif jobs == 1:
        rows = _run_serial(configs, roots, progress, force, wait)
    else:
        rows = _run_local_jobs(configs, roots, progress, force, wait, jobs, threads)
    return pd.DataFrame(rows, columns=["run", "state", "step", "reason"])


# ---- one run, wherever it executes --------------------------------------------------------------

def _row(cfg: RunConfig, status: Mapping[str, Any]) -> dict[str, Any]:
    return {"run": cfg.run_id, "state": status["state"], "step": status.get("step"), "reason": status.get("reason")}


def _train_row(cfg: RunConfig, root: Path, progress, force: bool, wait: float) -> dict[str, Any]:
    """Train one config; every failure but an interrupt becomes a row."""
    try:
        status = train(cfg, root, progress=progress, force=force, wait=wait)
    except (KeyboardInterrupt, RunInterrupted):
        raise
    except RunLocked as err:
        status = {"state": "locked", "reason": str(err)}
    except Exception as err:  # noqa: BLE001 - one broken run must not stop the sweep
        log.debug("run %s failed:\n%s", cfg.run_id, traceback.format_exc())
        status = {"state": "error", "reason": f"{type(err).__name__}: {err}"}
    return _row(cfg, status)


class _ReportingBar:
    """A tqdm stand-in for a run in another process: sends (run id, step, total) to the driver's
    queue at most every PROGRESS_EVERY_S seconds."""

    def __init__(self, queue, total: int, initial: int, desc: str):
        self.queue, self.total, self.n, self.desc, self.sent = queue, total, initial, desc, 0.0
        self._send()

    def _send(self) -> None:
        self.sent = time.monotonic()
        try:
            self.queue.put_nowait((self.desc, self.n, self.total))
        except Exception:  # noqa: BLE001 - progress is best effort; training must not fail for it
            pass

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.sent >= PROGRESS_EVERY_S:
            self._send()

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        self._send()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_sweep_pid: int | None = None  # the process that started this worker (set by `_die_with_sweep`)
# Set once a run of this worker was interrupted (Ctrl-C, SIGTERM): the pool has already queued this
# worker's next call, and the signal that stopped the run will not come again to stop that one.
_worker_interrupted = False


def _die_with_sweep(sweep_pid: int) -> None:
    """Worker initializer. A worker must not outlive its sweep: killed with SIGKILL, the sweep process
    cannot stop its workers, and the pool has already handed them their next run. On Linux the
    kernel sends this worker SIGTERM when the sweep dies, and it stops (a rerun resumes from the
    run's last complete checkpoint); everywhere, `_worker_run` starts no run once the sweep is gone."""
    global _sweep_pid
    _sweep_pid = sweep_pid
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):  # no prctl: the check in _worker_run remains
            pass


def _sweep_gone() -> bool:
    return _sweep_pid is not None and os.getppid() != _sweep_pid


def _worker_run(cfg_dict: dict, root: str, force: bool, wait: float, threads: int, queue) -> dict[str, Any]:
    """A local job: one run in a spawned process with `threads` torch threads."""
    import torch

    global _worker_interrupted
    cfg = RunConfig.from_dict(cfg_dict)
    if _sweep_gone():
        return {"run": cfg.run_id, "state": "interrupted", "step": None, "reason": "the sweep process has ended"}
    if _worker_interrupted:
        return {"run": cfg.run_id, "state": "interrupted", "step": None, "reason": "the sweep was interrupted"}
    torch.set_num_threads(threads)
    bar = (lambda total, initial, desc: _ReportingBar(queue, total, initial, desc)) if queue is not None else False
    try:
        return _train_row(cfg, Path(root), bar, force, wait)
    except RunInterrupted as err:
        _worker_interrupted = True
        return {"run": cfg.run_id, "state": "interrupted", "step": err.args[0] if err.args else None,
                "reason": "interrupted; rerun the sweep to resume"}


# ---- serial -------------------------------------------------------------------------------------

def _run_serial(configs, roots, progress, force, wait) -> list[dict]:
    rows, trained_s, trained = [], 0.0, 0
    start = time.monotonic()
    for i, (cfg, root) in enumerate(zip(configs, roots)):
        if progress:
            eta = (f", ETA {_clock(trained_s / trained * (len(configs) - i))}" if trained else "")
            print(f"[{i + 1}/{len(configs)}] {cfg.run_id} (sweep: {i} done in {_clock(time.monotonic() - start)}"
                  f"{eta})", flush=True)
        t0 = time.monotonic()
        row = _train_row(cfg, root, progress, force, wait)
        if time.monotonic() - t0 > 1.0:  # runs returned from the store at once do not count for the ETA
            trained_s, trained = trained_s + time.monotonic() - t0, trained + 1
        rows.append(row)
    return rows


def _run_populations(configs, roots, progress, force, wait) -> list[dict]:
    """Each group of seeds of one configuration as one population; a group population training
    does not cover (it says why) and single seeds train one run after another."""
    from .population import check_population, population_groups, train_population

    root_of = {c.run_id: r for c, r in zip(configs, roots)}
    rows: dict[str, dict] = {}
    for group in population_groups(configs):
        root = root_of[group[0].run_id]
        reason = None
        try:
            check_population(group)
        except ConfigError as err:
            reason = str(err)
        if len(group) < 2 or reason is not None:
            if len(group) > 1:
                print(f"population: {reason}; these {len(group)} seeds train one after another", flush=True)
            rows.update({c.run_id: _train_row(c, root, progress, force, wait) for c in group})
            continue
        if progress:
            print(f"population of {len(group)} seeds ({', '.join(str(c.seed) for c in group)}): "
                  f"{', '.join(c.run_id for c in group)}", flush=True)
        try:
            statuses = train_population(group, root, progress=progress, force=force, wait=wait)
        except (KeyboardInterrupt, RunInterrupted):
            raise
        except RunLocked as err:
            statuses = [{"state": "locked", "reason": str(err)}] * len(group)
        except Exception as err:  # noqa: BLE001 - one broken population must not stop the sweep
            log.debug("population %s failed:\n%s", group[0].run_id, traceback.format_exc())
            statuses = [{"state": "error", "reason": f"{type(err).__name__}: {err}"}] * len(group)
        rows.update({c.run_id: _row(c, st) for c, st in zip(group, statuses)})
    return [rows[c.run_id] for c in configs]


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# ---- progress of parallel sweeps ------------------------------------------------------------------

class _SweepBar:
    """One bar for the sweep; the postfix lists the active runs' own progress."""

    def __init__(self, total: int, enabled: bool):
        self.bar = tqdm(total=total, desc="sweep", unit="run", disable=not enabled, mininterval=PROGRESS_EVERY_S,
                        file=sys.stderr, ascii=True, dynamic_ncols=False)
        self.active: dict[str, tuple[int, int]] = {}
        self.refreshed = 0.0

    def report(self, run: str, step: int, total: int) -> None:
        self.active[run] = (step, total)
        self._postfix()

    def done(self, row: dict) -> None:
        self.active.pop(row["run"], None)
        self.bar.update(1)
        if row["state"] not in ("finished", "crashed"):
            self.bar.write(f"{row['run']}: {row['state']}" + (f" ({row['reason']})" if row.get("reason") else ""))
        self._postfix()

    def _postfix(self) -> None:
        self.bar.set_postfix_str(", ".join(f"{r.split('-')[-1]} {100 * s // max(t, 1)}%"
                                           for r, (s, t) in sorted(self.active.items())), refresh=False)
        if time.monotonic() - self.refreshed >= PROGRESS_EVERY_S:  # a line every few seconds, not per report
            self.refreshed = time.monotonic()
            self.bar.refresh()

    def drain(self, queue) -> None:
        if queue is None:
            return
        while True:
            try:
                run, step, total = queue.get_nowait()
            except (queue_module.Empty, EOFError, OSError):
                return
            except Exception:  # noqa: BLE001 - ray.util.queue.Empty is its own class
                return
            self.report(run, step, total)

    def close(self) -> None:
        self.bar.close()


# ---- local jobs ---------------------------------------------------------------------------------

def _run_local_jobs(configs, roots, progress, force, wait, jobs, threads) -> list[dict]:
    ctx = mp.get_context("spawn")  # fork would copy torch's thread pools and any open env
    manager = ctx.Manager() if progress else None
    queue = manager.Queue() if manager else None
    bar = _SweepBar(len(configs), progress)
    rows: dict[int, dict] = {}
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_die_with_sweep,
                                 initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(_worker_run, cfg.to_dict(), str(root), force, wait, threads, queue): i
                       for i, (cfg, root) in enumerate(zip(configs, roots))}
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait_futures(pending, timeout=PROGRESS_EVERY_S, return_when=FIRST_COMPLETED)
                    bar.drain(queue)
                    for f in done:
                        i = futures[f]
                        try:
                            rows[i] = f.result()
                        except Exception as err:  # noqa: BLE001 - a worker process that died
                            rows[i] = {"run": configs[i].run_id, "state": "error",
                                       "reason": f"{type(err).__name__}: {err}", "step": None}
                        bar.done(rows[i])
            except KeyboardInterrupt:
                # The workers got the same Ctrl-C and checkpoint at their next step; queued runs are dropped.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        bar.close()
        if manager is not None:
            manager.shutdown()
    interrupted = [r for r in rows.values() if r["state"] == "interrupted"]
    if interrupted:  # the step of a run that was interrupted, not of one that never started
        raise RunInterrupted(next((r["step"] for r in interrupted if r["step"] is not None), None))
    return [rows[i] for i in range(len(configs))]


# ---- Ray ----------------------------------------------------------------------------------------

def _ray_run(cfg_dict: dict, root: str, marker: str, force: bool, wait: float, threads: int, queue) -> dict:
    """A Ray task: train in the driver's store if this node sees it, else in a temporary directory
    and return the run's files."""
    import torch

    torch.set_num_threads(threads)
    cfg = RunConfig.from_dict(cfg_dict)
    bar = (lambda total, initial, desc: _ReportingBar(queue, total, initial, desc)) if queue is not None else False
    if (Path(root) / marker).exists():
        return {"row": _train_row(cfg, Path(root), bar, force, wait), "files": None}
    scratch = Path(tempfile.mkdtemp(prefix="rlcore-ray-"))
    try:
        row = _train_row(cfg, scratch, bar, force, wait)
        run_dir = scratch / cfg.run_id
        files = {name: (run_dir / name).read_bytes() for name in RETURNED_FILES if (run_dir / name).exists()}
        return {"row": row, "files": files}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _store_returned(root: Path, run: str, files: Mapping[str, bytes]) -> None:
    """Write a run's files sent back by a Ray worker; status.json last, so a reader never sees a
    finished status before its tables."""
    run_dir = root / run
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n == "status.json"):
        atomic_write(run_dir / name, files[name])


def _run_ray(configs, roots, progress, force, wait, jobs, threads, cpus_per_run, gpus_per_run) -> list[dict]:
    try:
        import ray
        from ray.util.queue import Queue as RayQueue
    except ImportError as err:
        raise ConfigError("backend", "ray", "installed Ray (pip install -e '.[ray]')") from err
    started_here = not ray.is_initialized()
    if started_here:
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 **({} if address else {"num_cpus": max(jobs, int(cpus_per_run))}))
    marker = f".sweep-{secrets.token_hex(6)}"  # a worker that can read this file shares our filesystem
    for root in set(roots):
        root.mkdir(parents=True, exist_ok=True)
        atomic_write(root / marker, b"rlcore sweep\n")
    task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)(_ray_run)
    queue = RayQueue() if progress else None
    bar = _SweepBar(len(configs), progress)
    rows: dict[int, dict] = {}
    try:
        # At most `jobs` tasks in flight (Ray would otherwise queue all of them at once; the cap also
        # bounds the driver's memory for returned files).
        waiting = list(enumerate(zip(configs, roots)))
        running: dict[Any, int] = {}
        while waiting or running:
            while waiting and len(running) < jobs:
                i, (cfg, root) = waiting.pop(0)
                running[task.remote(cfg.to_dict(), str(root), marker, force, wait, threads, queue)] = i
            done, _ = ray.wait(list(running), num_returns=1, timeout=PROGRESS_EVERY_S)
            bar.drain(queue)
            for ref in done:
                i = running.pop(ref)
                try:
                    out = ray.get(ref)
                    if out["files"] is not None:
                        _store_returned(roots[i], configs[i].run_id, out["files"])
                    rows[i] = out["row"]
                except Exception as err:  # noqa: BLE001 - a task that failed outside train()
                    rows[i] = {"run": configs[i].run_id, "state": "error", "step": None,
                               "reason": f"{type(err).__name__}: {err}"}
                bar.done(rows[i])
    finally:
        bar.close()
        for root in set(roots):
            (root / marker).unlink(missing_ok=True)
        if started_here:
            ray.shutdown()
    return [rows[i] for i in range(len(configs))]
