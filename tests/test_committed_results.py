"""The committed quick-profile evidence: every run directory is what its name says, and complete.

A committed run holds config.json, status.json, manifest.json, evaluations.csv and metrics.csv (no
checkpoints or weights). Its config must hash to its directory name under today's code (else a
notebook would not find it and would retrain), it must have ended, and its evaluations must reach
the final step, so `make reproduce PROFILE=quick` re-plots it without training.
"""

from __future__ import annotations

import subprocess

import pytest

from rlcore.config import RunConfig
from rlcore.io import read_json
from rlcore.results import read_table, repo_root

RUNS = repo_root() / "results" / "quick" / "runs"
TIDY_FILES = ("config.json", "status.json", "manifest.json", "evaluations.csv", "metrics.csv")


def committed_runs() -> list[str]:
    """Run directories tracked by git (a working copy may hold runs still in progress)."""
    try:
        out = subprocess.run(["git", "ls-files", str(RUNS)], cwd=repo_root(), capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return sorted({line.split("/")[3] for line in out.splitlines() if line.startswith("results/quick/runs/")})


RUN_IDS = committed_runs() if (repo_root() / ".git").exists() else []


def test_quick_evidence_is_committed():
    assert RUN_IDS, "no committed quick runs under results/quick/runs"


@pytest.mark.parametrize("run", RUN_IDS)
def test_committed_run_hashes_to_its_name_and_is_complete(run):
    run_dir = RUNS / run
    missing = [f for f in TIDY_FILES if not (run_dir / f).exists()]
    assert not missing, f"{run}: missing {missing}"
    cfg = RunConfig.from_dict(read_json(run_dir / "config.json"))
    assert cfg.run_id == run, f"config.json hashes to {cfg.run_id}"
    assert cfg.profile == "quick"
    status = read_json(run_dir / "status.json")
    assert status["state"] in ("finished", "crashed"), status
    evals = read_table(run_dir / "evaluations.csv", run)
    returns = evals[evals["metric"] == "eval_return"]
    assert len(returns) and (returns["run"] == run).all()
    if status["state"] == "finished":
        assert returns["step"].max() == cfg.budget.total_steps
        assert status["step"] == cfg.budget.total_steps
    assert len(read_table(run_dir / "metrics.csv", run))
    assert not (run_dir / "checkpoint.pt").exists() or not _tracked(run_dir / "checkpoint.pt")


def _tracked(path) -> bool:
    out = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=repo_root(), capture_output=True)
    return out.returncode == 0
