"""rlcore.cli through `main(argv)`: train (and its cache), runs, sweep --grid, and the one-line errors.

Every run is a few seconds of Pendulum-v1: 60 steps, 16-unit networks, 20-step episodes, no analysis.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
from pathlib import Path

import pytest

from rlcore.cli import main
from rlcore.config import RunConfig
from rlcore.results import repo_root

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TINY = {
    "budget.total_steps": 60, "budget.warmup_steps": 20, "budget.eval_every": 30, "budget.eval_episodes": 1,
    "budget.log_every": 10, "env.max_episode_steps": 20, "agent.batch_size": 16, "agent.actor.width": 16,
    "agent.critic.width": 16, "budget.replay_size": 100, "budget.srank_samples": 0,
    "budget.td_targets_samples": 0,
}
TINY_ARGS = [a for key, value in TINY.items() for a in ("--set", f"{key}={value}")]


def train_argv(results_dir, *extra: str) -> list[str]:
    return ["train", "--env", "Pendulum-v1", "--no-progress", "--results-dir", str(results_dir), *TINY_ARGS, *extra]


def call(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) with stdout and stderr captured (usable outside a function-scoped capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def snapshot(directory: Path) -> dict:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run trained through the CLI, shared by the tests below."""
    results_dir = tmp_path_factory.mktemp("cli-results")
    t0 = time.monotonic()
    rc, out, err = call(train_argv(results_dir))
    return {"dir": results_dir, "rc": rc, "out": out, "err": err, "elapsed": time.monotonic() - t0}


# ---- train ----------------------------------------------------------------------------------------------
def test_train_finishes_and_prints_its_status(trained):
    assert trained["rc"] == 0, trained["err"]
    status = json.loads(trained["out"])  # stdout is exactly one JSON document
    assert status["state"] == "finished" and status["step"] == 60
    run_dir = trained["dir"] / status["run"]
    assert sorted(p.name for p in trained["dir"].iterdir()) == [status["run"]]
    # The printed status is the stored one, and the run id is the stored config's.
    stored = json.loads((run_dir / "status.json").read_text())
    assert {k: v for k, v in status.items() if k != "run"} == stored
    cfg = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert cfg.run_id == status["run"] and status["run"].startswith("sac-Pendulum-v1-s0-")
    # Every --set reached the config, over the smoke profile's defaults (its 200-step episode cap included).
    flat = {"budget.total_steps": cfg.budget.total_steps, "budget.warmup_steps": cfg.budget.warmup_steps,
            "budget.eval_every": cfg.budget.eval_every, "budget.eval_episodes": cfg.budget.eval_episodes,
            "budget.log_every": cfg.budget.log_every, "env.max_episode_steps": cfg.env.max_episode_steps,
            "agent.batch_size": cfg.agent.batch_size, "agent.actor.width": cfg.agent.actor.width,
            "agent.critic.width": cfg.agent.critic.width, "budget.replay_size": cfg.budget.replay_size,
            "budget.srank_samples": cfg.budget.srank_samples,
            "budget.td_targets_samples": cfg.budget.td_targets_samples}
    assert flat == TINY
    assert (cfg.profile, cfg.env.id, cfg.agent.algo, cfg.seed) == ("smoke", "Pendulum-v1", "sac", 0)
    evals = (run_dir / "evaluations.csv").read_text().splitlines()
    assert {line.split(",")[4] for line in evals[1:]} == {"0", "30", "60"}  # step column


def test_second_identical_train_returns_the_cached_run(trained):
    assert trained["rc"] == 0
    status = json.loads(trained["out"])
    run_dir = trained["dir"] / status["run"]
    before = snapshot(run_dir)
    t0 = time.monotonic()
    rc, out, err = call(train_argv(trained["dir"]))
    elapsed = time.monotonic() - t0
    assert rc == 0, err
    assert json.loads(out) == status
    assert snapshot(run_dir) == before, "a finished run was computed again"
    assert elapsed < min(5.0, trained["elapsed"]), (elapsed, trained["elapsed"])


def test_another_seed_is_another_run(trained, tmp_path):
    rc, out, _ = call(train_argv(tmp_path, "--seed", "1", "--set", "budget.total_steps=30",
                                 "--set", "budget.eval_every=30"))
    assert rc == 0
    status = json.loads(out)
    assert status["run"].startswith("sac-Pendulum-v1-s1-") and status["step"] == 30
    assert status["run"] != json.loads(trained["out"])["run"]


# ---- runs -----------------------------------------------------------------------------------------------
def test_runs_lists_the_run(trained):
    run_id = json.loads(trained["out"])["run"]
    rc, out, err = call(["runs", "--results-dir", str(trained["dir"])])
    assert rc == 0 and err == ""
    header, *rows = out.strip().splitlines()
    assert header.split()[:4] == ["run", "state", "final_step", "agent.critic.width"]
    assert len(rows) == 1
    assert rows[0].split()[:4] == [run_id, "finished", "60", "16"]


def test_runs_of_an_empty_directory(tmp_path):
    rc, out, _ = call(["runs", "--results-dir", str(tmp_path / "nothing-here")])
    assert rc == 0 and out.strip() == "no runs"


# ---- sweep ----------------------------------------------------------------------------------------------
def test_sweep_grid_runs_one_run_per_value(tmp_path, capsys):
    argv = ["sweep", "--env", "Pendulum-v1", "--no-progress", "--results-dir", str(tmp_path), *TINY_ARGS,
            "--grid", "agent.critic.width=16,24"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"2 runs -> {tmp_path}"
    run_dirs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(run_dirs) == 2
    widths = {}
    for d in run_dirs:
        cfg = RunConfig.from_dict(json.loads((d / "config.json").read_text()))
        widths[cfg.agent.critic.width] = d.name
        assert cfg.agent.actor.width == 16 and cfg.budget.total_steps == 60
        assert json.loads((d / "status.json").read_text())["state"] == "finished"
    assert sorted(widths) == [16, 24]
    # The summary table names both runs as finished.
    for run_id in widths.values():
        line = next(line for line in out.splitlines() if run_id in line)
        assert "finished" in line
    # A second sweep finds both finished and recomputes nothing.
    before = {d.name: snapshot(d) for d in run_dirs}
    assert main(argv) == 0
    assert {d.name: snapshot(d) for d in run_dirs} == before
    assert capsys.readouterr().out.count("finished") == 2


# ---- errors: exit 2 and one line on stderr, before any work ------------------------------------------------
def readme_error_example() -> str:
    """The error line README.md shows under "Command line"."""
    text = (repo_root() / "README.md").read_text()
    found = re.findall(r"`(error: [^`]*)`", text)
    assert len(found) == 1, found
    return found[0]


def one_error_line(capsys, argv, tmp_path) -> str:
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert not os.listdir(tmp_path), "something was written although the command failed"
    return lines[0]


@pytest.mark.parametrize("argv", [
    ["train", "--algo", "ppo"],
    ["train", "--set", "agent.algo=ppo"],
    ["sweep", "--algo", "ppo", "--grid", "seed=0,1"],
], ids=["train --algo", "train --set", "sweep --algo"])
def test_unknown_algorithm_is_the_readme_example(capsys, tmp_path, argv):
    line = one_error_line(capsys, [*argv, "--results-dir", str(tmp_path), "--no-progress"], tmp_path)
    assert line == "error: agent.algo='ppo' is invalid: expected one of 'sac', 'td3', 'drq', 'drqv2'"
    assert line == readme_error_example()


def test_unknown_field_names_the_dotted_path(capsys, tmp_path):
    line = one_error_line(capsys, ["train", "--set", "agent.nosuch=1", "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith("error: agent.nosuch=1 is invalid")
    # ... and lists the fields that do exist there.
    assert "critic" in line and "batch_size" in line and "algo" in line


def test_unknown_section_names_the_dotted_path(capsys, tmp_path):
    line = one_error_line(capsys, ["train", "--set", "model.width=3", "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith("error: model.width=3 is invalid")


def test_bad_value_names_the_field_and_range(capsys, tmp_path):
    line = one_error_line(capsys, ["train", "--set", "agent.critic.width=0", "--results-dir", str(tmp_path)],
                          tmp_path)
    assert line == "error: agent.critic.width=0 is invalid: expected an integer >= 1"


@pytest.mark.parametrize("argv,flag", [
    (["train", "--set", "budget.total_steps"], "--set"),
    (["sweep", "--grid", "agent.critic.width"], "--grid"),
    (["sweep", "--experiment", "ota_size_sweep", "--param", "units"], "--param"),
])
def test_key_without_value_is_rejected(capsys, tmp_path, argv, flag):
    line = one_error_line(capsys, [*argv, "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith(f"error: {flag}=")
    assert "KEY=VALUE" in line


def test_unknown_profile_lists_the_profiles(capsys, tmp_path):
    line = one_error_line(capsys, ["train", "--profile", "huge", "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith("error: profile='huge' is invalid")
    assert all(f"'{p}'" in line for p in ("smoke", "quick", "paper"))


# ---- errors of issue 11: one line naming the field or file, never a traceback, nothing written -------------
@pytest.mark.parametrize("command", ["train", "sweep"])
def test_malformed_env_kwargs_names_the_flag(capsys, tmp_path, command):
    line = one_error_line(capsys, [command, "--env-kwargs", "{bad", "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith("error: --env-kwargs='{bad' is invalid: expected a JSON object")
    assert "use_contact_forces" in line  # an example of what is valid


@pytest.mark.parametrize("text", ["[1,2]", "null", '"use_contact_forces"', '[["nosuch", 1]]'])
def test_env_kwargs_must_be_a_json_object(capsys, tmp_path, text):
    line = one_error_line(capsys, ["train", "--env-kwargs", text, "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith(f"error: --env-kwargs={text!r} is invalid: expected a JSON object")


def test_section_replaced_by_a_scalar_names_the_section(capsys, tmp_path):
    line = one_error_line(capsys, ["train", "--set", "agent.critic=64", "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith("error: agent.critic=64 is invalid: expected a section")
    assert "width" in line and "agent.critic.<field>=" in line


@pytest.mark.parametrize("argv", [
    ["train", "--env", "dmc:cheetah-fly"],
    ["sweep", "--env", "dmc:cheetah-fly", "--grid", "seed=0,1"],
], ids=["train", "sweep"])
def test_unknown_dmc_task_lists_the_domains_tasks(capsys, tmp_path, argv):
    line = one_error_line(capsys, [*argv, "--no-progress", "--results-dir", str(tmp_path)], tmp_path)
    assert line == "error: env.id='dmc:cheetah-fly' is invalid: expected a task of cheetah: one of run"


def test_missing_config_file_is_named(capsys, tmp_path, tmp_path_factory):
    missing = tmp_path_factory.mktemp("configs") / "nosuch.json"
    line = one_error_line(capsys, ["train", "--config", str(missing), "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith(f"error: --config={str(missing)!r} is invalid: expected an existing config.json")


@pytest.mark.parametrize("content", ["not json at all", '{"env": {"id": "Pendu', ""], ids=["text", "cut", "empty"])
def test_config_file_that_is_not_json_is_named(capsys, tmp_path, tmp_path_factory, content):
    path = tmp_path_factory.mktemp("configs") / "config.json"
    path.write_text(content)
    line = one_error_line(capsys, ["train", "--config", str(path), "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith(f"error: --config={str(path)!r} is invalid: expected a JSON file")


def test_config_that_is_a_directory_is_named(capsys, tmp_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("configs")
    line = one_error_line(capsys, ["train", "--config", str(folder), "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith(f"error: --config={str(folder)!r} is invalid")


@pytest.mark.parametrize("argv", [["runs"], ["train", "--no-progress"], ["sweep", "--grid", "seed=0,1"]],
                         ids=["runs", "train", "sweep"])
@pytest.mark.parametrize("below", [False, True], ids=["the file", "below the file"])
def test_results_dir_that_is_a_file_is_named(capsys, tmp_path, argv, below):
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a directory\n")
    results_dir = a_file / "runs" if below else a_file
    rc = main([*argv, "--results-dir", str(results_dir)])
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: --results-dir={str(results_dir)!r} is invalid: expected a directory")
    assert sorted(os.listdir(tmp_path)) == ["results.txt"]
    assert a_file.read_text() == "not a directory\n"


@pytest.mark.parametrize("extra", [[], ["--results-dir", "RESULTS"]], ids=["default dir", "--results-dir"])
def test_runs_of_an_unknown_profile_lists_the_profiles(capsys, tmp_path, extra):
    argv = ["runs", "--profile", "nosuch", *[str(tmp_path) if a == "RESULTS" else a for a in extra]]
    line = one_error_line(capsys, argv, tmp_path)
    assert line.startswith("error: profile='nosuch' is invalid")
    assert all(f"'{p}'" in line for p in ("smoke", "quick", "paper"))


@pytest.mark.parametrize("argv,field", [
    (["train", "--env", "Hoper-v4"], "env.id"),
    (["train", "--env-kwargs", '{"nosuch": 1}'], "env.kwargs"),
    (["train", "--set", "env.kwargs={\"nosuch\": 1}"], "env.kwargs"),
    (["sweep", "--env", "Hoper-v4", "--grid", "seed=0,1"], "env.id"),
    (["sweep", "--env-kwargs", '{"nosuch": 1}', "--grid", "seed=0,1"], "env.kwargs"),
], ids=["train id", "train kwargs", "train --set kwargs", "sweep id", "sweep kwargs"])
def test_bad_environment_writes_no_run_directory(capsys, tmp_path, argv, field):
    """The environment is built once before anything is written (the default --env is Pendulum-v1)."""
    line = one_error_line(capsys, [*argv, "--no-progress", "--results-dir", str(tmp_path)], tmp_path)
    assert line.startswith(f"error: {field}=")


def test_negative_wait_is_rejected(capsys, tmp_path):
    line = one_error_line(capsys, ["train", "--wait", "-1", "--results-dir", str(tmp_path)], tmp_path)
    assert line == "error: --wait=-1.0 is invalid: expected a number of seconds >= 0"


# ---- store problems and interrupts reach the user as one line ---------------------------------------------
def _raise(exc: BaseException):
    def fake(*args, **kwargs):
        raise exc
    return fake


@pytest.mark.parametrize("command,target", [("train", "train"), ("sweep", "run_sweep")])
def test_store_error_is_one_line(capsys, tmp_path, monkeypatch, command, target):
    from rlcore.results import StoreError

    monkeypatch.setattr(f"rlcore.cli.{target}", _raise(StoreError(f"{tmp_path}/run: locked by process 123")))
    argv = [command, "--no-progress", "--results-dir", str(tmp_path), *(["--grid", "seed=0"] if command == "sweep" else [])]
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.err == f"error: {tmp_path}/run: locked by process 123\n"
    assert "Traceback" not in captured.out


@pytest.mark.parametrize("command,target", [("train", "train"), ("sweep", "run_sweep")])
def test_run_interrupted_is_one_line_and_exit_130(capsys, tmp_path, monkeypatch, command, target):
    from rlcore.train import RunInterrupted

    monkeypatch.setattr(f"rlcore.cli.{target}", _raise(RunInterrupted(30)))
    argv = [command, "--no-progress", "--results-dir", str(tmp_path), *(["--grid", "seed=0"] if command == "sweep" else [])]
    assert main(argv) == 130
    assert capsys.readouterr().err == "interrupted at step 30; rerun the same command to resume\n"


def test_bare_keyboard_interrupt_is_one_line_and_exit_130(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("rlcore.cli.train", _raise(KeyboardInterrupt()))
    try:
        rc = main(["train", "--no-progress", "--results-dir", str(tmp_path)])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main")
    captured = capsys.readouterr()
    assert rc == 130 and captured.err == "interrupted\n" and captured.out == ""


# ---- --force and --wait ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "sweep"])
def test_force_and_wait_parse(command):
    from rlcore.cli import build_parser

    parser = build_parser()
    defaults = parser.parse_args([command])
    assert defaults.force is False and defaults.wait == 0.0
    args = parser.parse_args([command, "--force", "--wait", "2.5"])
    assert args.force is True and args.wait == 2.5


def test_force_and_wait_reach_train(capsys, tmp_path, monkeypatch):
    seen = {}

    def fake_train(cfg, results_dir, progress=True, **kwargs):
        seen.update(kwargs)
        return {"state": "finished", "step": 0}

    monkeypatch.setattr("rlcore.cli.train", fake_train)
    assert main(["train", "--no-progress", "--results-dir", str(tmp_path), "--force", "--wait", "3"]) == 0
    assert seen == {"force": True, "wait": 3.0}
    assert not os.listdir(tmp_path)


def test_force_and_wait_reach_run_sweep(capsys, tmp_path, monkeypatch):
    import pandas as pd

    seen = {}

    def fake_sweep(configs, results_dir, progress=True, **kwargs):
        seen.update(kwargs)
        return pd.DataFrame({"run": [c.run_id for c in configs], "state": ["finished"] * len(configs)})

    monkeypatch.setattr("rlcore.cli.run_sweep", fake_sweep)
    assert main(["sweep", "--no-progress", "--results-dir", str(tmp_path), "--grid", "seed=0,1", "--force",
                 "--wait", "1.5"]) == 0
    assert seen == {"force": True, "wait": 1.5, "jobs": None, "backend": None, "threads": 1, "cpus_per_run": 1.0,
                    "gpus_per_run": 0.0, "population": None}
    seen.clear()
    assert main(["sweep", "--no-progress", "--results-dir", str(tmp_path), "--grid", "seed=0,1", "--population"]) == 0
    assert seen["population"] is True
    seen.clear()
    assert main(["sweep", "--no-progress", "--results-dir", str(tmp_path), "--grid", "seed=0,1", "--jobs", "2",
                 "--backend", "ray", "--threads-per-run", "2", "--cpus-per-run", "2", "--gpus-per-run", "0.5"]) == 0
    assert (seen["jobs"], seen["backend"], seen["threads"], seen["cpus_per_run"], seen["gpus_per_run"]) == (2, "ray", 2, 2.0, 0.5)


def test_set_changes_every_run_of_an_experiment(capsys, tmp_path, monkeypatch):
    import pandas as pd

    seen = []

    def fake_sweep(configs, results_dir, progress=True, **kwargs):
        seen.extend(configs)
        return pd.DataFrame({"run": [c.run_id for c in configs], "state": ["finished"] * len(configs)})

    monkeypatch.setattr("rlcore.cli.run_sweep", fake_sweep)
    argv = ["sweep", "--no-progress", "--results-dir", str(tmp_path), "--experiment", "ota_size_sweep",
            "--param", "units=[64]", "--param", "layers=[1,2]", "--param", "seeds=[0]"]
    assert main(argv) == 0
    plain = list(seen)
    seen.clear()
    assert main([*argv, "--set", "agent.actor_lr=0.001"]) == 0
    assert [c.agent.actor_lr for c in seen] == [0.001, 0.001] and [c.agent.actor_lr for c in plain] == [3e-4, 3e-4]
    assert [c.replace(**{"agent.actor_lr": 3e-4}).run_id for c in seen] == [c.run_id for c in plain]
    assert {c.run_id for c in seen}.isdisjoint(c.run_id for c in plain)


@pytest.mark.parametrize("extra,flag", [(["--seed", "3"], "--seed"), (["--grid", "seed=0,1"], "--grid"),
                                        (["--env", "Hopper-v4"], "--env"), (["--algo", "td3"], "--algo")])
def test_flags_an_experiment_would_ignore_are_refused(capsys, tmp_path, extra, flag):
    line = one_error_line(capsys, ["sweep", "--experiment", "ota_size_sweep", *extra, "--results-dir", str(tmp_path)],
                          tmp_path)
    assert line.startswith(f"error: {flag}=") and "--param" in line and "--set" in line
