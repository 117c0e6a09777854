"""rlcore.reference's Bjorck et al. 2021 tables against the text: every cell of Tables 1-3 is parsed from
tests/data/bjorck2021_tables.txt (the text's lines copied verbatim, so the test runs on a clean clone
without shared/papers) and compared with the typed frames."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from rlcore import reference
from rlcore.config import ConfigError
from rlcore.dmc import parse_id
from rlcore.experiments import HEAD_PRESETS

DATA = Path(__file__).parent / "data"
TABLES = DATA / "bjorck2021_tables.txt"
CELL = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:\\pm|±)\s*(\d+(?:\.\d*)?)\s*$")


def _blocks() -> dict[int, list[list[str]]]:
    """Table number -> its rows (caption dropped), each split on tabs."""
    blocks: dict[int, list[list[str]]] = {}
    current = None
    for line in TABLES.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"Table (\d+):", line)
        if m:
            current = blocks.setdefault(int(m.group(1)), [])
        else:
            current.append(line.split("\t"))
    return blocks


def _cell(text: str) -> tuple[float, float]:
    m = CELL.match(text)
    assert m, f"not a 'mean \\pm value' cell: {text!r}"
    return float(m.group(1)), float(m.group(2))


def _table1_cells() -> dict[tuple[str, str], tuple[float, float]]:
    header, *rows = _blocks()[1]
    assert header[0] == "task"
    return {(row[0], col): _cell(c) for row in rows for col, c in zip(header[1:], row[1:], strict=True)}


def _table2_cells() -> tuple[list[str], dict[tuple[str, str], tuple[float, float]]]:
    """(tasks in the text's order, (task, row label) -> cell); blocks of a task header + 3 method rows."""
    order, cells = [], {}
    header = None
    for row in _blocks()[2]:
        if row[0] == "":
            header = row[1:]
            order += [t for t in header if t]
            continue
        for task, c in zip(header, row[1:], strict=True):
            if task:
                cells[(task, row[0])] = _cell(c)
            else:
                assert c == ""
    return order, cells


def _table3_cells() -> dict[tuple[str, str], tuple[float, float]]:
    header, *rows = _blocks()[3]
    assert header[0] == ""
    return {(row[0], col): _cell(c) for row in rows for col, c in zip(header[1:], row[1:], strict=True)}


def test_fixture_holds_the_three_tables():
    blocks = _blocks()
    assert sorted(blocks) == [1, 2, 3]
    assert len(_table1_cells()) == 5 * 3
    order, cells = _table2_cells()
    assert len(order) == 15 and len(cells) == 15 * 3
    assert len(_table3_cells()) == 4 * 4


@pytest.mark.parametrize("cartpole_sparse", reference.BJORCK_CARTPOLE_SPARSE)
def test_table1_every_cell_matches_the_text(cartpole_sparse):
    frame = reference.bjorck2021_table1(cartpole_sparse)
    assert frame.shape[0] == 5 * 3
    assert not frame.duplicated(["task", "heads"]).any()
    text = _table1_cells()
    got = {(r.paper_task, r.paper_heads): (r.mean, r.pm) for r in frame.itertuples()}
    assert got == text  # exact: typed as printed, parsed from the same digits
    mapping = {r.paper_heads: r.heads for r in frame.itertuples()}
    assert mapping == {"MLP": "mlp2", "modern": "modern4", "modern + SN": "modern4_sn"}
    assert set(frame.heads) <= set(HEAD_PRESETS)
    assert (frame.agent == "drqv2").all() and (frame.frames == 500_000).all() and (frame.seeds == 10).all()
    for task in frame.task.unique():
        parse_id(task)


def test_table1_task_order_and_cartpole_parameter():
    default = reference.bjorck2021_table1()
    assert tuple(default.task.unique()) == reference.BJORCK_TABLE1_TASKS
    assert [r[0] for r in _blocks()[1][1:]] == list(default.paper_task.unique())
    swing = reference.bjorck2021_table1(cartpole_sparse="swingup_sparse")
    cart = lambda f: set(f.loc[f.paper_task == "cartpole sparse", "task"])  # noqa: E731
    assert cart(default) == {"dmc:cartpole-balance_sparse"}
    assert cart(swing) == {"dmc:cartpole-swingup_sparse"}
    # only the cartpole row's id changes
    assert (default.drop(columns="task") == swing.drop(columns="task")).all().all()
    assert (default.task != swing.task).sum() == 3


@pytest.mark.parametrize("bad", ["sparse", "balance", "cartpole-balance_sparse", None])
def test_table1_bad_cartpole_sparse_names_the_options(bad):
    with pytest.raises(ConfigError) as err:
        reference.bjorck2021_table1(cartpole_sparse=bad)
    assert err.value.field_name == "cartpole_sparse"
    assert "'balance_sparse'" in str(err.value) and "'swingup_sparse'" in str(err.value)


def test_table2_every_cell_matches_the_text():
    frame = reference.bjorck2021_table2()
    assert frame.shape[0] == 15 * 3
    assert not frame.duplicated(["task", "paper_row"]).any()
    order, text = _table2_cells()
    got = {(r.paper_task, r.paper_row): (r.mean, r.pm) for r in frame.itertuples()}
    assert got == text
    assert list(frame.paper_task.unique()) == order
    assert tuple(frame.task.unique()) == reference.BJORCK_TASKS
    assert len(set(reference.BJORCK_TASKS)) == 15
    for task in reference.BJORCK_TASKS:
        parse_id(task)
    assert got[("walker walk", "Dreamer")] == (863.0, 27.2)  # printed "863."
    rows = frame.drop_duplicates("paper_row").set_index("paper_row")
    assert rows.method.to_dict() == {"MLP + DRQ": "drq", "Modern+SN+DRQ": "drq", "Dreamer": "dreamer"}
    assert rows.heads.to_dict() == {"MLP + DRQ": "mlp2", "Modern+SN+DRQ": "modern4_sn", "Dreamer": None}
    assert (frame.frames == 500_000).all() and (frame.seeds == 10).all()


def test_table2_cartpole_names_and_table1_tasks_are_among_the_15():
    frame = reference.bjorck2021_table2()
    ids = dict(zip(frame.paper_task, frame.task))
    assert ids["swingup"] == "dmc:cartpole-swingup" and ids["balance"] == "dmc:cartpole-balance"
    assert ids["balance sparse"] == "dmc:cartpole-balance_sparse"
    assert ids["swingup sparse"] == "dmc:cartpole-swingup_sparse"
    assert ids["pendulum swingup"] == "dmc:pendulum-swingup"
    for choice in reference.BJORCK_CARTPOLE_SPARSE:
        assert set(reference.bjorck2021_table1(choice).task) <= set(reference.BJORCK_TASKS)


def test_table3_every_cell_matches_the_text():
    frame = reference.bjorck2021_table3()
    assert frame.shape[0] == 4 * 4
    assert sorted(frame.heads.unique()) == ["mlp2", "mlp4", "modern2", "modern4"]
    assert set(frame.heads) <= set(HEAD_PRESETS)
    got = {(r.paper_metric, r.paper_heads): (r.mean, r.pm) for r in frame.itertuples()}
    assert got == _table3_cells()
    units = dict(zip(frame.metric, frame.unit))
    assert units == {"train_mem": "GB", "act_mem": "MB", "train_time": "ms", "act_time": "ms"}
    for r in frame.itertuples():
        assert f"({r.unit})" in r.paper_metric
        assert r.device == "Tesla V100" and r.runs == 5 and r.agent == "drq"
        if r.metric.startswith("train"):
            assert r.batch_size == 512
        else:
            assert r.batch_size is frame.batch_size.dtype.na_value
    assert "averaged across 5 runs" in reference.BJORCK2021_TABLE3_NOTE
    assert "512" in reference.BJORCK2021_TABLE3_NOTE and "V100" in reference.BJORCK2021_TABLE3_NOTE


def test_drqv2_balance_sparse_curve_matches_its_published_csv():
    """Every typed return against the rows of DrQ-v2's curves/dmc_cartpole_balance_sparse.csv
    (facebookresearch/drqv2 at c0c650b) for frames 0, 20k and 40k, kept in tests/data."""
    published = pd.read_csv(DATA / "drqv2_curve_cartpole_balance_sparse_0-40k.csv")
    ours = reference.drqv2_balance_sparse_curve()
    merged = ours.merge(published, left_on=["frames", "seed"], right_on=["frame", "seed"], validate="one_to_one")
    assert len(merged) == len(published) == 30
    assert (merged["value"] == merged["episode_reward"]).all()
    assert (ours[ours["frames"] == 40_000]["value"] == 1000.0).all()
