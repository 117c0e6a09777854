"""Tables laid out as the papers print them, ours beside the published numbers."""

from __future__ import annotations

import pandas as pd

from . import aggregate
from .config import ConfigError

TABLE1_METHODS = ("ours", "ofenet", "original")
TABLE1_ALGOS = ("sac", "td3")
TABLE1_TASKS = ("Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid")
TABLE1_FIELDS = ("paper", "ours", "ci_low", "ci_high", "runs")


def ota2021_table1(scores: pd.DataFrame, published: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Ota Table 1 with our numbers in it.

    `scores`: per-seed highest average returns (columns task, algo, method, seed, score; e.g.
    `aggregate.seed_scores(..., score="max")`). `published`: `reference.ota2021_table1()`.
    Returns one row per task (Table 1's order) and columns (algo, method, field) with field in
    paper (published, 1M steps, 5 seeds), ours (mean over our seeds), ci_low / ci_high (95 %
    stratified-bootstrap CI of that mean) and runs (our seeds). Cells we have not run are NaN."""
    missing = {"task", "algo", "method", "seed", "score"} - set(scores.columns)
    if missing:
        raise ConfigError("scores", sorted(missing), "per-seed scores with columns task, algo, method, seed, score")
    unknown = sorted(set(scores["task"]) - set(TABLE1_TASKS))
    if unknown:
        raise ConfigError("scores.task", unknown, f"task names out of {', '.join(TABLE1_TASKS)} (no version suffix)")
    paper = published.assign(task=published["env"].str.split("-").str[0])
    columns = pd.MultiIndex.from_product([TABLE1_ALGOS, TABLE1_METHODS, TABLE1_FIELDS],
                                         names=["algo", "method", "field"])
    table = pd.DataFrame(index=pd.Index(TABLE1_TASKS, name="task"), columns=columns, dtype=float)
    for _, row in paper.iterrows():
        if row["task"] in table.index:
            table.loc[row["task"], (row["algo"], row["method"], "paper")] = row["max_average_return"]
    if len(scores):
        keyed = scores.assign(cell=scores["algo"] + "/" + scores["method"])
        est = aggregate.estimates(keyed, "cell", task="task", metrics=("mean",), seed=seed)
        for _, e in est[est["task"] != "all"].iterrows():
            algo, method = e["method"].split("/")
            for field, value in (("ours", e["estimate"]), ("ci_low", e["ci_low"]), ("ci_high", e["ci_high"]),
                                 ("runs", e["runs"])):
                table.loc[e["task"], (algo, method, field)] = value
    return table


def best_per_row(table: pd.DataFrame, field: str) -> pd.DataFrame:
    """True where a method has the highest `field` ("paper" or "ours") of its algorithm in a row,
    as Table 1 prints the best in bold. Rows without numbers have no best."""
    if field not in ("paper", "ours"):
        raise ConfigError("field", field, "'paper' or 'ours'")
    best = pd.DataFrame(False, index=table.index, columns=table.columns)
    for algo in table.columns.get_level_values("algo").unique():
        values = table.xs((algo, field), axis=1, level=("algo", "field"))
        for task in table.index:
            row = values.loc[task].dropna()
            if len(row):
                best.loc[task, (algo, row.idxmax(), field)] = True
    return best


def table1_display(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells for reading: per (algo, method) a "published" column and a "here" column (ours:
    "mean [CI] (n)"),
    the best per row and algorithm in **bold** (markdown-style), as the paper marks it."""
    bold_paper, bold_ours = best_per_row(table, "paper"), best_per_row(table, "ours")
    out = {}
    for algo in TABLE1_ALGOS:
        for method in TABLE1_METHODS:
            paper, ours = [], []
            for task in table.index:
                p = table.loc[task, (algo, method, "paper")]
                o = table.loc[task, (algo, method, "ours")]
                text = "" if pd.isna(p) else f"{p:.1f}"
                paper.append(f"**{text}**" if bold_paper.loc[task, (algo, method, "paper")] else text)
                if pd.isna(o):
                    ours.append("not run")
                else:
                    lo, hi = table.loc[task, (algo, method, "ci_low")], table.loc[task, (algo, method, "ci_high")]
                    n = int(table.loc[task, (algo, method, "runs")])
                    cell = f"{o:.1f}"
                    cell = f"**{cell}**" if bold_ours.loc[task, (algo, method, "ours")] else cell
                    ours.append(f"{cell} [{lo:.0f}, {hi:.0f}] (n={n})")
            out[(algo.upper(), method, "published")] = paper
            out[(algo.upper(), method, "here")] = ours
    return pd.DataFrame(out, index=table.index)


def to_markdown(frame: pd.DataFrame) -> str:
    """A pipe table (GitHub / Jupyter markdown) of `frame`, its index as the first column and
    multi-level column names joined with spaces; cells are written as they are (so **bold** stays)."""
    def name(col) -> str:
        return " ".join(str(c) for c in col) if isinstance(col, tuple) else str(col)

    header = [str(frame.index.name or ""), *map(name, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in frame.iterrows():
        lines.append("| " + " | ".join([str(idx), *("" if pd.isna(v) else str(v) for v in row)]) + " |")
    return "\n".join(lines)
