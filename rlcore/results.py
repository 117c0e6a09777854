"""The run store: one directory per run, named by the config hash, written atomically.

    <results>/<run_id>/
        config.json        the RunConfig (to_dict)
        manifest.json      package versions, git commit, device, wall time
        status.json        {"state": running|finished|crashed|error, "step": ..., ...}
        evaluations.csv    long format: run, env, algo, seed, step, metric, value
        metrics.csv        training metrics, same columns
        checkpoint.pt      learner state for resuming (deleted when the run finishes)
        agent.pt           final weights of every network (+ SAC's temperature): `load_agent`
        td_targets.pt      (s, a, Q_hat) of stored training transitions, frozen at the end (Ota A.3)

Every file is replaced atomically (write a temporary file, fsync, rename), so a killed run never
leaves a half-written table. The tables are small and rewritten whole.
"""

from __future__ import annotations

import io
import logging
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Sequence

import filelock
import pandas as pd
import torch

from .agents import load_agent  # noqa: F401 - re-exported: results.load_agent(run_dir)
from .config import PROFILES, ConfigError, RunConfig, flatten
from .io import (DamagedFile, StoreError, atomic_torch_save, atomic_write, load_torch, read_json,
                 write_json as _write_json)

# `step` is what the run counts (agent steps, or gradient steps under Ape-X); `frames` the
# environment frames behind it (agent steps x action repeat), the DMC papers' x-axis.
COLUMNS = ["run", "env", "algo", "seed", "step", "metric", "value", "frames"]


class RunLocked(StoreError):
    """Another process holds the run directory's lock."""
FINAL_STATES = ("finished", "crashed")
TABLES = ("evaluations", "metrics")

log = logging.getLogger(__name__)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def profile_dir_name(profile: str) -> str:
    """A profile as a directory name: one of config.PROFILES, never an arbitrary path part."""
    if profile not in PROFILES:
        raise ConfigError("profile", profile, f"one of {', '.join(map(repr, PROFILES))}")
    return profile


def default_results_dir(profile: str) -> Path:
    """results/<profile>/runs, or $RLCORE_RESULTS/<profile>/runs (tests point this elsewhere)."""
    base = Path(os.environ.get("RLCORE_RESULTS", repo_root() / "results"))
    return base / profile_dir_name(profile) / "runs"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo_root(),
                               capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment_manifest(device: torch.device | str) -> dict[str, Any]:
    versions = {}
    for pkg in ("rlcore", "torch", "numpy", "gymnasium", "mujoco", "dm_control", "pandas"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    device = torch.device(device)
    return {"packages": versions, "python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.node(), "git_commit": _git_commit(), "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
            "torch_threads": torch.get_num_threads()}


def read_table(path: str | Path, run: str | None = None) -> pd.DataFrame:
    """A long-format table of the store (evaluations.csv, metrics.csv), checked: it parses, has the
    expected columns, ends with a complete line, has no missing values, and (given `run`) every row
    belongs to that run. Any problem is a DamagedFile naming it."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as err:
        raise DamagedFile(path, f"not readable ({type(err).__name__}: {err})") from err
    if not text.strip():
        raise DamagedFile(path, "empty (not even a header)")
    if not text.endswith("\n"):
        raise DamagedFile(path, "cut off mid-line (no final newline)")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, ValueError) as err:
        raise DamagedFile(path, f"not a valid CSV table ({err})") from err
    legacy = COLUMNS[:-1]  # tables written before the frames column existed
    if list(frame.columns) not in (COLUMNS, legacy):
        raise DamagedFile(path, f"columns {list(frame.columns)}, expected {COLUMNS}")
    if frame.isna().any().any():
        raise DamagedFile(path, "rows with missing values")
    if run is not None and len(frame) and not (frame["run"] == run).all():
        raise DamagedFile(path, f"rows of another run than {run}")
    return frame


class RunStore:
    """Reads and writes the files of one run directory.

    `open()` takes the directory's lock (held for a whole run, so two processes never work on one
    run), removes temporary files that dead writers left, and checks what is there; every read of a
    table or JSON file goes through `read_table` / `read_json`, which name the file on any problem.
    """

    LOCK, OWNER = ".lock", ".lock.owner"

    def __init__(self, results_dir: str | Path, cfg: RunConfig):
        self.cfg = cfg
        self.root = Path(results_dir)
        self.dir = self.root / cfg.run_id
        self._lock: filelock.BaseFileLock | None = None

    # ---- layout ---------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.dir / name

    def prepare(self) -> None:
        """Create the directory (or check the existing one belongs to this config)."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as err:
            raise ConfigError("results_dir", str(self.root), f"a writable directory ({err.strerror})") from err
        cfg_path = self.path("config.json")
        if cfg_path.exists():
            try:
                stored = RunConfig.from_dict(read_json(cfg_path))
            except (DamagedFile, ConfigError) as err:
                # The directory's name is the config's hash: the config is known, so rewrite it.
                log.warning("%s is damaged (%s): rewriting it from the run's config", cfg_path, err)
                _write_json(cfg_path, self.cfg.to_dict())
                return
            if stored.hash() != self.cfg.hash():
                raise StoreError(f"{self.dir} holds a different config (hash {stored.hash()})")
        else:
            _write_json(cfg_path, self.cfg.to_dict())

    # ---- the lock -------------------------------------------------------------------------
    def acquire(self, wait: float = 0.0) -> None:
        """Take the run's lock, waiting up to `wait` seconds for another process to release it. The
        (empty) lock file stays: removing it on release would let two processes lock two files."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as err:
            raise ConfigError("results_dir", str(self.root), f"a directory ({err.strerror})") from err
        lock = filelock.FileLock(self.path(self.LOCK), timeout=wait if wait > 0 else 0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise RunLocked(f"{self.dir} is in use by {self._owner()}: wait for it to end, or pass "
                            f"--wait SECONDS") from None
        self._lock = lock
        _write_json(self.path(self.OWNER), {"pid": os.getpid(), "host": platform.node(), "since": time.time()})

    def release(self) -> None:
        if self._lock is not None:
            self.path(self.OWNER).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None

    def _owner(self) -> str:
        try:
            owner = read_json(self.path(self.OWNER))
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner["since"]))
            return f"pid {owner['pid']} on {owner['host']} (since {since})"
        except (FileNotFoundError, DamagedFile, KeyError, TypeError):
            return "another process"

    def remove_stale_temporaries(self) -> list[Path]:
        """Temporary files of atomic writes whose writer died (call with the lock held)."""
        stale = [p for p in self.dir.glob(".*.tmp") if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    # ---- status and manifest --------------------------------------------------------------
    def status(self) -> dict[str, Any] | None:
        p = self.path("status.json")
        return read_json(p) if p.exists() else None

    def write_status(self, state: str, **info: Any) -> None:
        _write_json(self.path("status.json"), {"state": state, **info})

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        _write_json(self.path("manifest.json"), manifest)

    def verified_final_status(self) -> dict[str, Any] | None:
        """The status of a run that ended (finished or crashed) and whose files say so: tables
        parse, have the expected columns, and the evaluations reach the final step. None for a run
        that has not ended. A damaged ended run raises DamagedFile. A finished run's weights
        (agent.pt, td_targets.pt) are not required: committed results keep the tables only, and a
        run that is complete in its tables is not retrained for want of them (`load_agent` says so)."""
        status = self.status()
        if not status or status.get("state") not in FINAL_STATES:
            return None
        evals = read_table(self.path("evaluations.csv"), self.cfg.run_id) \
            if self.path("evaluations.csv").exists() else None
        if evals is None:
            raise DamagedFile(self.path("evaluations.csv"), "missing from an ended run")
        if self.path("metrics.csv").exists():
            read_table(self.path("metrics.csv"), self.cfg.run_id)
        if status["state"] == "finished":
            last = int(evals["step"].max()) if len(evals) else None
            if last != status.get("step"):
                raise DamagedFile(self.path("evaluations.csv"),
                                  f"ends at step {last}, the finished run at {status.get('step')}")
        return status

    def set_aside(self, reason: str, names: Sequence[str] | None = None, prefix: str = "damaged") -> Path:
        """Move the run's result files (or `names`) into <prefix>-<time>/ so the run can be
        recomputed; nothing is deleted."""
        keep = {"config.json", self.LOCK, self.OWNER}
        target = self.dir / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        target.mkdir()
        moved = [p for p in self.dir.iterdir()
                 if p.is_file() and p.name not in keep and (names is None or p.name in names)]
        for p in moved:
            os.replace(p, target / p.name)
        (target / "REASON").write_text(reason + "\n")
        log.warning("%s: %s; moved %s to %s", self.dir, reason, ", ".join(p.name for p in moved) or "nothing",
                    target.name)
        return target

    # ---- tables ---------------------------------------------------------------------------
    def row(self, step: int, metric: str, value: float, frames: int | None = None) -> dict[str, Any]:
        """One table row; `frames` defaults to the frames of `step` agent steps."""
        return {"run": self.cfg.run_id, "env": self.cfg.env.id, "algo": self.cfg.agent.algo,
                "seed": self.cfg.seed, "step": int(step), "metric": metric, "value": float(value),
                "frames": int(self.cfg.frames(step) if frames is None else frames)}

    def read_rows(self, table: str) -> list[dict[str, Any]]:
        p = self.path(f"{table}.csv")
        if not p.exists():
            return []
        return read_table(p, self.cfg.run_id).to_dict("records")

    def write_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        frame = pd.DataFrame(list(rows), columns=COLUMNS)
        atomic_write(self.path(f"{table}.csv"), frame.to_csv(index=False))

    # ---- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_torch_save(state, self.path("checkpoint.pt"))

    def load_checkpoint(self, device: torch.device | str = "cpu") -> dict[str, Any] | None:
        """The checkpoint, or None; one that does not load is set aside (with a warning) and the run
        restarts from scratch."""
        p = self.path("checkpoint.pt")
        if not p.exists():
            return None
        try:
            return load_torch(p, device, weights_only=False)
        except DamagedFile as err:
            self.set_aside(f"checkpoint.pt {err.reason}; restarting from scratch",
                           ["checkpoint.pt", "status.json", "evaluations.csv", "metrics.csv"])
            return None

    def remove_checkpoint(self) -> None:
        self.path("checkpoint.pt").unlink(missing_ok=True)


# ---- loading many runs ----------------------------------------------------------------------
def _run_dirs(results_dir: str | Path, run_ids: Iterable[str] | None) -> list[Path]:
    root = Path(results_dir)
    if root.exists() and not root.is_dir():
        raise StoreError(f"results dir {root} is a file, not a directory of runs")
    if run_ids is None:
        return sorted(p for p in root.iterdir() if (p / "config.json").exists()) if root.exists() else []
    return [root / r for r in run_ids if (root / r / "config.json").exists()]


def load_runs(results_dir: str | Path, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per run: run id, state, final step, and every config field flattened ("agent.critic.width").
    A run whose config.json or status.json does not read has state "damaged: <file>: <reason>"."""
    records = []
    for d in _run_dirs(results_dir, run_ids):
        try:
            cfg = read_json(d / "config.json")
            status = read_json(d / "status.json") if (d / "status.json").exists() else {}
        except DamagedFile as err:
            records.append({"run": d.name, "state": f"damaged: {err.path.name}: {err.reason}", "final_step": None,
                            "reason": None})
            continue
        records.append({"run": d.name, "state": status.get("state", "new"), "final_step": status.get("step"),
                        "reason": status.get("reason"), **flatten(cfg)})
    return pd.DataFrame.from_records(records)


def untrained_steps(run_dir: Path) -> int:
    """The last `step` at which a run's policy had no update yet: a serial run's warm-up
    (`budget.warmup_steps` environment steps of random actions before the first update); 0 for
    Ape-X, whose steps count gradient steps. 0 when the config does not read."""
    try:
        cfg = read_json(run_dir / "config.json")
    except (FileNotFoundError, DamagedFile):
        return 0
    if cfg.get("collect", {}).get("mode", "serial") != "serial":
        return 0
    return int(cfg.get("budget", {}).get("warmup_steps", 0))


def load_table(results_dir: str | Path, table: str = "evaluations", run_ids: Iterable[str] | None = None,
               config_columns: Sequence[str] = ()) -> pd.DataFrame:
    """All rows of `table` over the runs, long format, joined with the chosen flattened config columns.
    Evaluation rows also get `untrained` (see `untrained_steps`)."""
    if table not in TABLES:
        raise ConfigError("table", table, f"one of {', '.join(map(repr, TABLES))}")
    frames = []
    for d in _run_dirs(results_dir, run_ids):
        if (d / f"{table}.csv").exists():
            rows = read_table(d / f"{table}.csv", d.name)
            if rows.empty:  # a run that has not logged yet (pandas warns when concatenating empty frames)
                continue
            if table == "evaluations":
                rows["untrained"] = rows["step"] <= untrained_steps(d)
            frames.append(rows)
    frame = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=COLUMNS + (["untrained"] if table == "evaluations" else [])))
    if config_columns:
        runs = load_runs(results_dir, run_ids)
        if runs.empty:  # no run yet: the same columns, no rows
            return frame.assign(**{c: pd.Series(dtype=object) for c in dict.fromkeys(["state", *config_columns])
                                   if c not in frame.columns})
        missing = [c for c in config_columns if c not in runs.columns]
        if missing:
            raise ConfigError("config_columns", missing, f"flattened config fields such as {list(runs.columns)[5:12]}")
        # Columns the table already has (e.g. "seed") are the same values: merging them again would
        # rename both copies to seed_x / seed_y.
        extra = [c for c in dict.fromkeys(["state", *config_columns]) if c not in frame.columns]
        frame = frame.merge(runs[["run", *extra]], on="run", how="left")
    return frame


def load_sweep(configs: Sequence[RunConfig], results_dir: str | Path, table: str = "evaluations",
               config_columns: Sequence[str] = ()) -> pd.DataFrame:
    """`load_table` restricted to the runs of one sweep."""
    return load_table(results_dir, table, [c.run_id for c in configs], config_columns)


def default_tables_dir(profile: str) -> Path:
    base = Path(os.environ.get("RLCORE_RESULTS", repo_root() / "results"))
    return base / profile_dir_name(profile) / "tables"


def save_table(frame: pd.DataFrame, name: str, profile: str, tables_dir: str | Path | None = None) -> Path:
    """Write a tidy summary table (CSV) atomically; returns its path."""
    out = Path(tables_dir) if tables_dir else default_tables_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    atomic_write(path, frame.to_csv(index=False))
    return path
