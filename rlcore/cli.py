"""Command line: `python -m rlcore {train,sweep,reproduce,runs} ...`.

    python -m rlcore train --env Pendulum-v1 --algo td3 --profile smoke --set agent.critic.width=512
    python -m rlcore sweep --experiment ota_size_sweep --profile quick
    python -m rlcore sweep --env Hopper-v4 --profile smoke --grid agent.critic.width=64,256 --grid seed=0,1
    python -m rlcore reproduce --profile smoke [--notebook ota2021_size_sweep]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from . import profiles
from .config import AgentConfig, ConfigError, EnvConfig, RunConfig
from .envs import env_spec_of, pixel_env
from .experiments import EXPERIMENTS, drqv2_task_settings, get_experiment
from .results import StoreError, default_results_dir, default_tables_dir, load_runs, repo_root
from .sweep import grid, run_sweep
from .train import RunInterrupted, train


def _value(text: str) -> Any:
    """Parse a command-line value as JSON when it is JSON (numbers, true, lists), else keep the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if "=" not in item:
            raise ConfigError(flag, item, "KEY=VALUE, e.g. agent.critic.width=512")
        key, value = item.split("=", 1)
        out.append((key.strip(), value))
    return out


_KWARGS_EXAMPLE = '{"use_contact_forces": true}'


def _env_kwargs(text: str | None) -> dict:
    """--env-kwargs: a JSON object (anything else is a one-line error naming the flag)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError("--env-kwargs", text, f"a JSON object, e.g. {_KWARGS_EXAMPLE} ({err})") from None
    if not isinstance(value, dict):
        raise ConfigError("--env-kwargs", text, f"a JSON object, e.g. {_KWARGS_EXAMPLE}")
    return value


def _read_config(path: str) -> RunConfig:
    """--config: a config.json; a missing, unreadable or non-JSON file is a one-line error naming it."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError("--config", path, "an existing config.json file (e.g. one from a run directory)") from None
    except OSError as err:
        raise ConfigError("--config", path, f"a readable config.json file ({err.strerror or err})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError("--config", path, f"a JSON file of RunConfig's fields ({err})") from None
    return RunConfig.from_dict(data)


def _check_results_dir(path: str | None) -> None:
    """A results directory that is (or lies under) a file is a one-line error naming it."""
    if path is None:
        return
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                where = "" if q == p else f" ({q} is a file)"
                raise ConfigError("--results-dir", path, f"a directory of runs, not a file{where}")
            return


def _check_envs(configs) -> None:
    """Build each distinct environment once, before anything is written: an unknown id or bad kwargs
    stops the command with its ConfigError rather than leaving a run directory behind."""
    seen: list[EnvConfig] = []
    for cfg in configs:
        if cfg.env not in seen:  # by equality: kwargs values may be unhashable (lists)
            seen.append(cfg.env)
            env_spec_of(cfg.env)


def _base_config(args) -> RunConfig:
    if args.config:
        cfg = _read_config(args.config)
    else:
        env = EnvConfig(args.env, _env_kwargs(args.env_kwargs))
        agent = AgentConfig.for_algorithm(args.algo)
        # Validated before the budget (which also needs a known algorithm) so that a bad --algo is
        # reported under its config field, agent.algo, as a bad --set agent.algo is.
        agent.validate("agent")
        if agent.pixels and args.env.startswith("dmc:") and env.kwargs_dict.get("pixels", True):
            # A pixel agent on a DMC task reads what its papers read (84x84 RGB, 3 frames, action
            # repeat 2) unless --env-kwargs / --set say otherwise.
            env = pixel_env(args.env, **env.kwargs_dict)
            if args.algo == "drqv2":  # its per-task settings (exploration schedule, walker, humanoid)
                agent = dataclasses.replace(agent, **drqv2_task_settings(args.env))
        agent = dataclasses.replace(agent, **profiles.agent_overrides(args.profile, args.algo))
        cfg = RunConfig(env=env, agent=agent, budget=profiles.budget(args.profile, args.algo), seed=args.seed,
                        profile=args.profile)
        cap = profiles.EPISODE_CAP[args.profile]
        if cap is not None:
            cfg = cfg.replace(**{"env.max_episode_steps": cap})
    overrides = {k: _value(v) for k, v in _pairs(args.set, "--set")}
    return cfg.replace(**overrides) if overrides else cfg


DEFAULT_ENV, DEFAULT_ALGO = "Pendulum-v1", "sac"


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default=DEFAULT_ENV, help="gymnasium id, e.g. Ant-v4, Hopper-v5, Pendulum-v1")
    p.add_argument("--env-kwargs", default=None, help='JSON, e.g. \'{"use_contact_forces": true}\'')
    p.add_argument("--algo", default=DEFAULT_ALGO, help="sac, td3, drq or drqv2 (drq/drqv2 on a dmc id: 84x84 pixels, 3 frames, action repeat 2)")
    p.add_argument("--profile", default="smoke", help="budget preset: smoke, quick or paper")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", default=None, help="a config.json to start from (e.g. from a run directory)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override, repeatable: --set agent.critic.width=512 --set budget.total_steps=5000")
    p.add_argument("--results-dir", default=None, help="default: results/<profile>/runs")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--force", action="store_true", help="recompute a finished run instead of returning it")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to SECONDS for a run another process holds (default 0: fail at once)")


def _check_wait(wait: float) -> None:
    if not wait >= 0:  # also NaN
        raise ConfigError("--wait", wait, "a number of seconds >= 0")


def cmd_train(args) -> int:
    _check_wait(args.wait)
    _check_results_dir(args.results_dir)
    cfg = _base_config(args)
    _check_envs([cfg])
    status = train(cfg, args.results_dir, progress=not args.no_progress, force=args.force, wait=args.wait)
    print(json.dumps({"run": cfg.run_id, **status}, indent=2, default=str))
    return 0 if status["state"] in ("finished", "crashed") else 1


# Flags that build a run from scratch; an experiment builds its own runs, so they would be ignored.
_RUN_FLAGS = (("--env", "env", DEFAULT_ENV), ("--env-kwargs", "env_kwargs", None), ("--algo", "algo", DEFAULT_ALGO),
              ("--seed", "seed", 0), ("--config", "config", None), ("--grid", "grid", []))


def _check_experiment_flags(args) -> None:
    for flag, name, default in _RUN_FLAGS:
        value = getattr(args, name)
        if value != default:
            raise ConfigError(flag, value, f"no {flag} with --experiment (the experiment defines its runs: choose "
                              "them with --param, change a field of every run with --set)")


def cmd_sweep(args) -> int:
    _check_wait(args.wait)
    _check_results_dir(args.results_dir)
    if args.experiment:
        _check_experiment_flags(args)
        kwargs = {k: _value(v) for k, v in _pairs(args.param, "--param")}
        overrides = {k: _value(v) for k, v in _pairs(args.set, "--set")}
        # --set changes one field of every run of the experiment (their run ids change with it).
        configs = [cfg.replace(**overrides) if overrides else cfg
                   for cfg in get_experiment(args.experiment)(args.profile, **kwargs).configs]
    else:
        axes = {k: [_value(x) for x in v.split(",")] for k, v in _pairs(args.grid, "--grid")}
        configs = grid(_base_config(args), axes)
    _check_envs(configs)
    print(f"{len(configs)} runs -> {args.results_dir or default_results_dir(args.profile)}")
    summary = run_sweep(configs, args.results_dir, progress=not args.no_progress, force=args.force, wait=args.wait,
                        jobs=args.jobs, backend=args.backend, threads=args.threads_per_run,
                        cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run,
                        population=args.population)
    print(summary.to_string(index=False))
    return 0 if summary["state"].isin(["finished", "crashed"]).all() else 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected a positive integer")
    return value


CLAIMS_NOTEBOOK = "claims"


def cmd_reproduce(args) -> int:
    import papermill as pm

    notebooks_dir = repo_root() / "notebooks"
    # The claims notebook reads the other notebooks' results, so it runs last.
    names = ([args.notebook] if args.notebook else
             sorted((p.stem for p in notebooks_dir.glob("*.ipynb")), key=lambda n: (n == CLAIMS_NOTEBOOK, n)))
    known = sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))
    for name in names:
        if name not in known:
            raise ConfigError("notebook", name, f"one of {', '.join(known)}")
    profiles.check_profile(args.profile)
    executed_dir = default_tables_dir(args.profile).parent / "notebooks"
    executed_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for name in names:
        out = executed_dir / f"{name}.ipynb"
        print(f"papermill {name} (profile={args.profile}) -> {out}", flush=True)
        try:
            pm.execute_notebook(str(notebooks_dir / f"{name}.ipynb"), str(out), parameters={"profile": args.profile},
                                cwd=str(notebooks_dir), progress_bar=False, kernel_name=args.kernel)
        except Exception as err:  # noqa: BLE001 - report every failing notebook, then fail
            failures.append(f"{name}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    from .plots import default_figures_dir

    print("\nOutputs:")
    print(f"  executed notebooks: {executed_dir}")
    print(f"  figures:            {default_figures_dir(args.profile)}")
    print(f"  result tables:      {default_tables_dir(args.profile)}")
    print(f"  runs:               {default_results_dir(args.profile)}")
    if failures:
        print("\nFailed notebooks:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def cmd_runs(args) -> int:
    profiles.check_profile(args.profile)
    _check_results_dir(args.results_dir)
    frame = load_runs(args.results_dir or default_results_dir(args.profile))
    cols = [c for c in ("run", "state", "final_step", "agent.critic.width", "agent.critic.depth", "reason")
            if c in frame.columns]
    print(frame[cols].to_string(index=False) if len(frame) else "no runs")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rlcore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train one run (resumes it if interrupted)")
    _add_run_arguments(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("sweep", help="train a grid of runs, skipping finished ones")
    _add_run_arguments(p)
    p.add_argument("--experiment", default=None, help=f"a paper experiment: {', '.join(EXPERIMENTS)}")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="experiment argument, e.g. --param units=[64,128] --param seeds=[0]")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="grid axis over a dotted config path, repeatable")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="runs at once (default $RLCORE_JOBS or 1): local processes, or Ray tasks in flight")
    p.add_argument("--backend", choices=("local", "ray"), default=None,
                   help="local processes (default) or Ray tasks on $RAY_ADDRESS / a local Ray")
    p.add_argument("--threads-per-run", type=_positive_int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="Ray: CPUs reserved per run")
    p.add_argument("--gpus-per-run", type=float, default=0.0, help="Ray: GPUs reserved per run (e.g. 0.25)")
    p.add_argument("--population", action="store_true", default=None,
                   help="train each configuration's seeds as one vectorized population (SAC or TD3, serial "
                        "collection; same run ids and results as alone; default $RLCORE_POPULATION)")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("reproduce", help="run notebooks through papermill at a profile")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--notebook", default=None, help="one notebook name (without .ipynb)")
    p.add_argument("--kernel", default="python3")
    p.set_defaults(func=cmd_reproduce)
    p = sub.add_parser("runs", help="list the runs of a profile and their states")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--results-dir", default=None)
    p.set_defaults(func=cmd_runs)
    return parser


def _one_line(err: BaseException) -> str:
    """The message of `err` on one line (a wrapped library message may span several)."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, StoreError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except RunInterrupted as err:
        print(_one_line(err), file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
