"""Command line: `python -m rlcore {train,sweep,reproduce,runs} ...`.

    python -m rlcore train --env Pendulum-v1 --algo td3 --profile smoke --set agent.critic.width=512
    python -m rlcore sweep --experiment ota_size_sweep --profile quick
    python -m rlcore sweep --env Hopper-v4 --profile smoke --grid agent.critic.width=64,256 --grid seed=0,1
    python -m rlcore reproduce --profile smoke [--notebook ota2021_size_sweep]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import profiles
from .config import AgentConfig, ConfigError, EnvConfig, RunConfig
from .experiments import EXPERIMENTS, get_experiment
from .results import default_results_dir, default_tables_dir, load_runs, repo_root
from .sweep import grid, run_sweep
from .train import train


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


def _base_config(args) -> RunConfig:
    if args.config:
        cfg = RunConfig.from_dict(json.loads(Path(args.config).read_text()))
    else:
        env = EnvConfig(args.env, json.loads(args.env_kwargs) if args.env_kwargs else {})
        agent = AgentConfig(algo=args.algo)
        # Validated before the budget (which also needs a known algorithm) so that a bad --algo is
        # reported under its config field, agent.algo, as a bad --set agent.algo is.
        agent.validate("agent")
        cfg = RunConfig(env=env, agent=agent, budget=profiles.budget(args.profile, args.algo), seed=args.seed,
                        profile=args.profile)
        cap = profiles.EPISODE_CAP[args.profile]
        if cap is not None:
            cfg = cfg.replace(**{"env.max_episode_steps": cap})
    overrides = {k: _value(v) for k, v in _pairs(args.set, "--set")}
    return cfg.replace(**overrides) if overrides else cfg


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="Pendulum-v1", help="gymnasium id, e.g. Ant-v4, Hopper-v5, Pendulum-v1")
    p.add_argument("--env-kwargs", default=None, help='JSON, e.g. \'{"use_contact_forces": true}\'')
    p.add_argument("--algo", default="sac", help="sac or td3")
    p.add_argument("--profile", default="smoke", help="budget preset: smoke, quick or paper")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", default=None, help="a config.json to start from (e.g. from a run directory)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override, repeatable: --set agent.critic.width=512 --set budget.total_steps=5000")
    p.add_argument("--results-dir", default=None, help="default: results/<profile>/runs")
    p.add_argument("--no-progress", action="store_true")


def cmd_train(args) -> int:
    cfg = _base_config(args)
    status = train(cfg, args.results_dir, progress=not args.no_progress)
    print(json.dumps({"run": cfg.run_id, **status}, indent=2, default=str))
    return 0 if status["state"] in ("finished", "crashed") else 1


def cmd_sweep(args) -> int:
    if args.experiment:
        kwargs = {k: _value(v) for k, v in _pairs(args.param, "--param")}
        configs = list(get_experiment(args.experiment)(args.profile, **kwargs).configs)
    else:
        axes = {k: [_value(x) for x in v.split(",")] for k, v in _pairs(args.grid, "--grid")}
        configs = grid(_base_config(args), axes)
    print(f"{len(configs)} runs -> {args.results_dir or default_results_dir(args.profile)}")
    summary = run_sweep(configs, args.results_dir, progress=not args.no_progress)
    print(summary.to_string(index=False))
    return 0 if summary["state"].isin(["finished", "crashed"]).all() else 1


def cmd_reproduce(args) -> int:
    import papermill as pm

    notebooks_dir = repo_root() / "notebooks"
    names = [args.notebook] if args.notebook else sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
