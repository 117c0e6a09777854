"""Notebook and experiment parameters: papermill's strings parse, bad grids, profiles and
environments fail at once with a ConfigError naming the parameter, before anything is written."""

from __future__ import annotations

import inspect

import json
import os
from pathlib import Path

import pytest

from rlcore import nbparams
from rlcore.cli import main
from rlcore.config import ConfigError
from rlcore.experiments import EXPERIMENTS, get_experiment, ota_size_sweep

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def results_base(tmp_path, monkeypatch) -> Path:
    """The isolated $RLCORE_RESULTS (and $RLCORE_FIGURES), which must stay empty."""
    monkeypatch.setenv("RLCORE_FIGURES", str(tmp_path / "figures"))
    return Path(os.environ["RLCORE_RESULTS"])


# ---- parsing rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, None), ([0, 1, 2], (0, 1, 2)), ((64, 128), (64, 128)), (64, (64,)),
    ("[0, 1, 2]", (0, 1, 2)), ("64", (64,)), ("null", None),
])
def test_int_list_accepts_lists_numbers_and_json_text(value, expected):
    assert nbparams.int_list(value, "seeds", minimum=0) == expected


@pytest.mark.parametrize("value", [[], "[]", "[0, 1", "0,1", "abc", [1.5], [True], True, 64.0, [1, 1], [0],
                                   {"a": 1}, "[1, \"x\"]"])
def test_int_list_rejects_empty_malformed_and_non_integer(value):
    with pytest.raises(ConfigError, match=r"^units=.* a non-empty list of distinct integers >= 1") as err:
        nbparams.int_list(value, "units")
    assert err.value.field_name == "units"


def test_integer_str_list_choice_boolean_env_id():
    assert nbparams.integer("1000", "total_steps") == 1000 and nbparams.integer(None, "total_steps") is None
    for bad in ("[1000]", 0, 1.5, True, "x"):
        with pytest.raises(ConfigError, match="^total_steps="):
            nbparams.integer(bad, "total_steps")
    assert nbparams.str_list('["swish", "relu"]', "activations", ("relu", "swish")) == ("swish", "relu")
    assert nbparams.str_list("relu", "activations", ("relu", "swish")) == ("relu",)
    for bad in ([], "[]", ["tanh"], ["relu", "relu"], [1]):
        with pytest.raises(ConfigError, match="^activations="):
            nbparams.str_list(bad, "activations", ("relu", "swish"))
    assert nbparams.choice("ray", "backend", ("local", "ray")) == "ray"
    with pytest.raises(ConfigError, match=r"^backend='nosuch' is invalid: expected one of 'local', 'ray'"):
        nbparams.choice("nosuch", "backend", ("local", "ray"))
    assert nbparams.boolean("False", "run_missing") is False and nbparams.boolean(True, "run_missing") is True
    with pytest.raises(ConfigError, match="^run_missing="):
        nbparams.boolean("maybe", "run_missing")
    assert nbparams.env_id(None) is None and nbparams.env_id("None") is None
    assert nbparams.env_id("Hopper-v4") == "Hopper-v4"
    for bad in ("", 3, ["Hopper-v4"]):
        with pytest.raises(ConfigError, match="^env_id="):
            nbparams.env_id(bad)
    assert nbparams.int_map('{"S": 16}', "sizes") == {"S": 16}
    with pytest.raises(ConfigError, match="^sizes="):
        nbparams.int_map({}, "sizes")


def test_profile_is_checked_against_the_profile_names():
    assert nbparams.profile("quick") == "quick"
    for bad in ("nosuch", None, ["smoke"]):
        with pytest.raises(ConfigError, match=r"^profile=.* expected one of 'paper', 'quick', 'smoke'"):
            nbparams.profile(bad)


# ---- experiments validate up front -----------------------------------------------------------

# Each of these was accepted by the old code (an empty grid silently became the preset's, or no
# runs at all) or failed with a TypeError, naming no parameter.
BAD_GRIDS = [
    ("ota_size_sweep", {"units": []}, "units"),
    ("ota_size_sweep", {"layers": []}, "layers"),
    ("ota_size_sweep", {"seeds": []}, "seeds"),
    ("ota_size_sweep", {"seeds": "[0, 1"}, "seeds"),
    ("ota_activation_sweep", {"activations": []}, "activations"),
    ("ota_activation_sweep", {"seeds": []}, "seeds"),
    ("ota_fig14_runs", {"total_steps": "[1000]"}, "total_steps"),
    ("ota_connectivity_sweep", {"kinds": []}, "kinds"),
    ("ota_connectivity_sweep", {"sizes": {}}, "sizes"),
    ("ota_ofenet_grid", {"sac_units": []}, "sac_units"),
    ("ota_ofenet_grid", {"ofenet_units": []}, "ofenet_units"),
    ("ota_apex_grid", {"sac_units": []}, "sac_units"),
]


@pytest.mark.parametrize("name, kwargs, field", BAD_GRIDS, ids=[f"{n}-{f}-{v[f]!r}" for n, v, f in BAD_GRIDS])
def test_experiment_rejects_empty_or_malformed_grid(results_base, name, kwargs, field):
    with pytest.raises(ConfigError) as err:
        get_experiment(name)("smoke", **kwargs)
    assert err.value.field_name == field
    assert not results_base.exists()


# Experiments over one environment take `env`; Fig 9's takes task names (tests/test_ota_tasks.py).
WITH_ENV = sorted(n for n in EXPERIMENTS if "env" in inspect.signature(EXPERIMENTS[n]).parameters)


@pytest.mark.parametrize("name", WITH_ENV)
def test_experiment_rejects_unknown_env_before_any_run(results_base, name):
    with pytest.raises(ConfigError, match=r"^env.id='NoSuchEnv-v0' is invalid"):
        get_experiment(name)("smoke", env="NoSuchEnv-v0")
    assert not results_base.exists()


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_rejects_unknown_parameter_naming_the_valid_ones(name):
    with pytest.raises(ConfigError, match=r"^nosuch=1 is invalid: expected a parameter of") as err:
        get_experiment(name)("smoke", nosuch=1)
    assert err.value.field_name == "nosuch"
    assert "seeds" in str(err.value) or "seed" in str(err.value)
    assert "eval_every" in str(err.value)  # budget fields are parameters too


def test_experiment_accepts_papermill_strings():
    sweep = ota_size_sweep("smoke", units="64", layers="[1, 2]", seeds="[0, 1, 2]", total_steps="1000")
    assert sweep.axes["agent.critic.width"] == (64,)
    assert sweep.axes["agent.critic.depth"] == (1, 2)
    assert sweep.axes["seed"] == (0, 1, 2)
    assert len(sweep) == 6 and sweep.configs[0].budget.total_steps == 1000


def test_cli_sweep_unknown_param_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "x"
    code = main(["sweep", "--experiment", "ota_size_sweep", "--param", "nosuch=1", "--results-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: nosuch=1 is invalid") and len(err.strip().splitlines()) == 1
    assert "units" in err and not out.exists()


# ---- notebooks through papermill -------------------------------------------------------------

def _execute(notebook: Path, tmp_path: Path, parameters: dict):
    pm = pytest.importorskip("papermill")
    return pm.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), parameters=parameters,
                               kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False)


def test_table2_notebook_rejects_unknown_profile_and_writes_nothing(results_base, tmp_path):
    pm = pytest.importorskip("papermill")
    with pytest.raises(pm.PapermillExecutionError) as err:
        _execute(NOTEBOOKS / "ota2021_table2_parameters.ipynb", tmp_path, {"profile": "nosuch"})
    assert err.value.ename == "ConfigError"
    assert "profile='nosuch' is invalid: expected one of 'paper', 'quick', 'smoke'" in err.value.evalue
    assert not (results_base / "nosuch").exists() and not (tmp_path / "figures" / "nosuch").exists()


@pytest.fixture
def size_sweep_head(tmp_path) -> Path:
    """The size-sweep notebook up to the cell that builds the sweep (nothing trains)."""
    nb = json.loads((NOTEBOOKS / "ota2021_size_sweep.ipynb").read_text())
    last = next(i for i, c in enumerate(nb["cells"]) if "ota_size_sweep(" in "".join(c["source"]))
    nb["cells"] = nb["cells"][:last + 1]
    path = tmp_path / "size_sweep_head.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_size_sweep_notebook_takes_the_readme_strings(results_base, tmp_path, size_sweep_head):
    # README: papermill ... -p seeds "[0, 1, 2]"; and -p units 64 (an int, not a list).
    nb = _execute(size_sweep_head, tmp_path, {"seeds": "[0, 1, 2]", "units": 64})
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "6 runs" in printed and "3 seeds" in printed
    assert not results_base.exists()


def test_size_sweep_notebook_rejects_an_empty_grid(results_base, tmp_path, size_sweep_head):
    pm = pytest.importorskip("papermill")
    with pytest.raises(pm.PapermillExecutionError) as err:  # -y "units: []"
        _execute(size_sweep_head, tmp_path, {"units": []})
    assert err.value.ename == "ConfigError" and err.value.evalue.startswith("units=[] is invalid")
    assert not results_base.exists()


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_source_notebooks_are_valid_nbformat_with_cell_ids_and_no_outputs(path):
    """nbformat 4.5 requires an id on every cell (a missing one is a warning today, an error later)."""
    import warnings

    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
