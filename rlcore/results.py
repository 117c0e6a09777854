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

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
import torch

from .agents import load_agent  # noqa: F401 - re-exported: results.load_agent(run_dir)
from .config import ConfigError, RunConfig, flatten
from .io import atomic_torch_save, atomic_write, write_json as _write_json

# `step` is what the run counts (agent steps, or gradient steps under Ape-X); `frames` the
# environment frames behind it (agent steps x action repeat), the DMC papers' x-axis.
COLUMNS = ["run", "env", "algo", "seed", "step", "metric", "value", "frames"]


class StoreError(RuntimeError):
    """A run store problem a user can act on (reported in one line, never as a traceback)."""


class RunLocked(StoreError):
    """Another process holds the run directory's lock."""


class DamagedFile(StoreError):
    """A file of a run directory cannot be read as what it should be."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason
FINAL_STATES = ("finished", "crashed")
TABLES = ("evaluations", "metrics")


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_results_dir(profile: str) -> Path:
    """results/<profile>/runs, or $RLCORE_RESULTS/<profile>/runs (tests point this elsewhere)."""
    base = Path(os.environ.get("RLCORE_RESULTS", repo_root() / "results"))
    return base / profile / "runs"


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


class RunStore:
    """Reads and writes the files of one run directory."""

    def __init__(self, results_dir: str | Path, cfg: RunConfig):
        self.cfg = cfg
        self.root = Path(results_dir)
        self.dir = self.root / cfg.run_id

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
            stored = RunConfig.from_dict(json.loads(cfg_path.read_text()))
            if stored.hash() != self.cfg.hash():
                raise RuntimeError(f"{self.dir} holds a different config (hash {stored.hash()})")
        else:
            _write_json(cfg_path, self.cfg.to_dict())

    # ---- status and manifest --------------------------------------------------------------
    def status(self) -> dict[str, Any] | None:
        p = self.path("status.json")
        return json.loads(p.read_text()) if p.exists() else None

    def write_status(self, state: str, **info: Any) -> None:
        _write_json(self.path("status.json"), {"state": state, **info})

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        _write_json(self.path("manifest.json"), manifest)

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
        return pd.read_csv(p).to_dict("records")

    def write_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        frame = pd.DataFrame(list(rows), columns=COLUMNS)
        atomic_write(self.path(f"{table}.csv"), frame.to_csv(index=False))

    # ---- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_torch_save(state, self.path("checkpoint.pt"))

    def load_checkpoint(self, device: torch.device | str = "cpu") -> dict[str, Any] | None:
        p = self.path("checkpoint.pt")
        return torch.load(p, map_location=device, weights_only=False) if p.exists() else None

    def remove_checkpoint(self) -> None:
        self.path("checkpoint.pt").unlink(missing_ok=True)


# ---- loading many runs ----------------------------------------------------------------------
def _run_dirs(results_dir: str | Path, run_ids: Iterable[str] | None) -> list[Path]:
    root = Path(results_dir)
    if run_ids is None:
        return sorted(p for p in root.iterdir() if (p / "config.json").exists()) if root.exists() else []
    return [root / r for r in run_ids if (root / r / "config.json").exists()]


def load_runs(results_dir: str | Path, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per run: run id, state, final step, and every config field flattened ("agent.critic.width")."""
    records = []
    for d in _run_dirs(results_dir, run_ids):
        cfg = json.loads((d / "config.json").read_text())
        status = json.loads((d / "status.json").read_text()) if (d / "status.json").exists() else {}
        records.append({"run": d.name, "state": status.get("state", "new"), "final_step": status.get("step"),
                        "reason": status.get("reason"), **flatten(cfg)})
    return pd.DataFrame.from_records(records)


def load_table(results_dir: str | Path, table: str = "evaluations", run_ids: Iterable[str] | None = None,
               config_columns: Sequence[str] = ()) -> pd.DataFrame:
    """All rows of `table` over the runs, long format, joined with the chosen flattened config columns."""
    if table not in TABLES:
        raise ConfigError("table", table, f"one of {', '.join(map(repr, TABLES))}")
    frames = [pd.read_csv(d / f"{table}.csv") for d in _run_dirs(results_dir, run_ids)
              if (d / f"{table}.csv").exists()]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    if config_columns:
        runs = load_runs(results_dir, run_ids)
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
    return base / profile / "tables"


def save_table(frame: pd.DataFrame, name: str, profile: str, tables_dir: str | Path | None = None) -> Path:
    """Write a tidy summary table (CSV) atomically; returns its path."""
    out = Path(tables_dir) if tables_dir else default_tables_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    atomic_write(path, frame.to_csv(index=False))
    return path
