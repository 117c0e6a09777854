"""Summaries of long-format result frames: curves over seeds, the papers' scalar scores, and the
statistics of Agarwal et al. 2021 over per-seed scores (interval estimates from `rlcore.stats`)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import stats
from .config import ConfigError

MAX_RETURN_MODES = ("mean_of_max", "max_of_mean")
X_AXES = ("step", "frames")


BANDS = ("ci", "std")
CURVE_REPS = 1000  # bootstrap replications per curve band (one bootstrap per group covers all its steps)
COUNTED_STATES = ("finished", "crashed")  # runs that ended; a run still going or one that failed does not count


def curves(frame: pd.DataFrame, by: Sequence[str], metric: str = "eval_return", x: str = "step",
           band: str = "ci", confidence: float = stats.DEFAULT_CONFIDENCE, seed: int = 0) -> pd.DataFrame:
    """Mean over seeds per (group, x), with the seed count n, the std (0 for one seed) and, with
    `band="ci"`, the `confidence` stratified-bootstrap CI of the mean (`ci_low`, `ci_high`; zero
    width for one seed). `band="std"` skips the bootstrap (the papers' +-1 std band).
    `x="frames"` puts the curve on environment frames (agent steps x action repeat), the DMC papers'
    axis; the column is still called `step` so the plotting functions read either."""
    if x not in X_AXES:
        raise ConfigError("x", x, f"one of {', '.join(map(repr, X_AXES))}")
    if band not in BANDS:
        raise ConfigError("band", band, f"one of {', '.join(map(repr, BANDS))}")
    if x == "frames" and "frames" not in frame.columns:
        raise ConfigError("x", x, "'step': these rows have no frames column (written before it existed)")
    sel = frame[frame["metric"] == metric]
    out = (sel.groupby([*by, x])["value"].agg(mean="mean", std="std", n="count").reset_index())
    out["std"] = out["std"].fillna(0.0)
    if band == "ci" and len(out):
        out = out.merge(_mean_bands(sel, list(by), x, confidence, seed), on=[*by, x], how="left")
    return out.rename(columns={x: "step"})


def _mean_bands(sel: pd.DataFrame, by: list[str], x: str, confidence: float, seed: int) -> pd.DataFrame:
    """ci_low / ci_high of the seed mean at every (group, x): one bootstrap per group and set of
    seeds present (a seed still running has fewer steps), the steps as columns."""
    parts = []
    for key, rows in (sel.groupby(by) if by else [((), sel)]):
        table = rows.pivot_table(index="seed", columns=x, values="value", aggfunc="mean")
        present = table.notna()
        for _, cols in present.T.groupby(list(present.index)).groups.items():
            cols = list(cols)
            matrix = table[cols].dropna().to_numpy(dtype=float)
            low, high = stats.column_mean_intervals(matrix, CURVE_REPS, confidence, seed)
            keys = dict(zip(by, key if isinstance(key, tuple) else (key,)))
            parts.append(pd.DataFrame({**keys, x: cols, "ci_low": low, "ci_high": high}))
    return pd.concat(parts, ignore_index=True)


def serial_in_gradient_steps(frame: pd.DataFrame, warmup_steps: int, updates_per_step: int = 1) -> pd.DataFrame:
    """A serial run's rows with `step` in gradient steps, to share an axis with Ape-X runs (Ota A.1).

    A serial run logs environment steps and updates `updates_per_step` times per step once the
    random warm-up is over, so gradient steps = (step - warmup_steps) x updates_per_step.
    Evaluations inside the warm-up other than the first are dropped (they would pile up at 0)."""
    out = frame[(frame["step"] == 0) | (frame["step"] >= warmup_steps)].copy()
    out["step"] = ((out["step"] - warmup_steps).clip(lower=0) * updates_per_step).astype(out["step"].dtype)
    return out


def max_average_return(frame: pd.DataFrame, by: Sequence[str], metric: str = "eval_return",
                       mode: str = "mean_of_max", initial: bool = False) -> pd.DataFrame:
    """The papers' "maximum average return" per group (Ota Fig 4, Fig 7, Table 1).

    Each evaluation is already an average over episodes. The paper does not say whether the max
    over time is taken per seed or of the seed-mean curve:
      "mean_of_max" (default): max over evaluations per seed, then mean and std over seeds;
      "max_of_mean": max over evaluations of the seed-mean curve (std is that step's std).
    With a "state" column (`load_sweep(..., config_columns=...)`) only runs that ended count
    (`COUNTED_STATES`): a run still going, interrupted or failed has not seen its whole budget.
    `initial`: whether the untrained policy's evaluations count (see `trained_evaluations`).
    """
    if mode not in MAX_RETURN_MODES:
        raise ConfigError("mode", mode, f"one of {', '.join(map(repr, MAX_RETURN_MODES))}")
    frame = ended_runs(frame)
    frame = frame if initial else trained_evaluations(frame)
    sel = frame[frame["metric"] == metric]
    if mode == "mean_of_max":
        per_seed = sel.groupby([*by, "seed"])["value"].max().reset_index()
        out = per_seed.groupby(list(by))["value"].agg(mean="mean", std="std", n="count").reset_index()
        out["std"] = out["std"].fillna(0.0)
        return out
    c = curves(frame, by, metric, band="std")
    best = c.loc[c.groupby(list(by))["mean"].idxmax()]
    return best[[*by, "mean", "std", "n"]].reset_index(drop=True)


def ended_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that ended (`COUNTED_STATES`); a frame without a "state" column as it is."""
    return frame[frame["state"].isin(COUNTED_STATES)] if "state" in frame.columns else frame


def trained_evaluations(frame: pd.DataFrame) -> pd.DataFrame:
    """The evaluations of trained policies: without the rows marked `untrained` (`load_table`:
    a serial run's evaluations up to the end of its random warm-up, step 0 included; an Ape-X
    run's at gradient step 0), or, in a frame without that column, without step 0. The untrained
    policy is no architecture's result, and on Ant it scores high: near-zero actions keep the body
    standing and earn the healthy reward, 800-1000 over 1000 steps, which short budgets never beat,
    so a maximum over all evaluations would rank the initial policies. Ota et al.'s agents build on
    Ota 2020's OFENet code (their A.4), which first evaluates after its random warm-up and 5k
    trained steps; the TD3 paper's evaluations include step 0 (`initial=True` reads them so)."""
    if "untrained" in frame.columns:
        return frame[~frame["untrained"].astype(bool)]
    return frame[frame["step"] > 0]


# ---- per-seed scores and the statistics of Agarwal et al. 2021 (rliable, via rlcore.stats) ------------

SCORES = ("max", "final")


def seed_scores(frame: pd.DataFrame, by: Sequence[str], metric: str = "eval_return", score: str = "max",
                initial: bool = False) -> pd.DataFrame:
    """One score per seed and group: "max" = the highest evaluation (the papers' "highest average
    return" of one run; each evaluation already averages its episodes), "final" = the last one.
    `initial`: whether "max" may read the untrained policy's evaluations (`trained_evaluations`). With a
    "state" column only runs that ended count (`COUNTED_STATES`), as in `max_average_return`.
    Columns: *by, seed, score, step (where the score was read)."""
    if score not in SCORES:
        raise ConfigError("score", score, f"one of {', '.join(map(repr, SCORES))}")
    frame = ended_runs(frame)
    if score == "max" and not initial:
        frame = trained_evaluations(frame)
    sel = frame[frame["metric"] == metric].reset_index(drop=True)  # idxmax returns labels: make them unique
    if sel.empty:
        return pd.DataFrame(columns=[*by, "seed", "score", "step"])
    keys = [*by, "seed"]
    idx = (sel.groupby(keys)["value"].idxmax() if score == "max" else sel.groupby(keys)["step"].idxmax())
    out = sel.loc[idx, [*keys, "value", "step"]].rename(columns={"value": "score"})
    return out.reset_index(drop=True)


def normalize(scores: pd.DataFrame, task: str, normalizer: Mapping[str, float], value: str = "score") -> pd.DataFrame:
    """Divide each task's scores by `normalizer[task family]` (the part of the id before '-', so
    "Hopper-v4" reads the entry "Hopper"): 1.0 = the reference score, 0 = a return of 0."""
    out = scores.copy()
    family = out[task].astype(str).str.split("-").str[0]
    missing = sorted(set(family) - set(normalizer))
    if missing:
        raise ConfigError("normalizer", missing, f"tasks with a reference score: {', '.join(sorted(normalizer))}")
    out[value] = out[value] / family.map(normalizer)
    return out


def score_matrices(scores: pd.DataFrame, method: str, task: str | None = None,
                   value: str = "score") -> tuple[dict[str, np.ndarray], list]:
    """Method -> (runs, tasks) matrix, as rliable takes it; returns (matrices, task order).

    Runs are seeds. A method's matrix keeps the seeds it has on every task (rliable needs a
    rectangle), so a seed still running on one task is left out of that method's aggregate."""
    tasks = sorted(scores[task].unique()) if task else [None]
    matrices = {}
    for name, rows in scores.groupby(method, sort=True):
        table = (rows.pivot_table(index="seed", columns=task, values=value, aggfunc="first") if task
                 else rows.set_index("seed")[[value]])
        table = table.reindex(columns=tasks if task else [value]).dropna()
        if len(table):
            matrices[name] = table.to_numpy(dtype=float)
    return matrices, tasks


def estimates(scores: pd.DataFrame, method: str, task: str | None = None, per_task: bool = True,
              metrics: Sequence[str] = ("iqm", "mean"), reps: int = stats.DEFAULT_REPS,
              confidence: float = stats.DEFAULT_CONFIDENCE, seed: int = 0) -> pd.DataFrame:
    """IQM and mean with stratified-bootstrap CIs per method: per task (`task` column set, one row
    per method x task x metric) and over all tasks (task "all"; the scores should be normalized
    first when tasks differ in scale). Columns: method, task, metric, estimate, ci_low, ci_high, runs."""
    parts = []
    if task is not None and per_task:
        for name, rows in scores.groupby(task, sort=True):
            matrices, _ = score_matrices(rows, method)
            if matrices:
                parts.append(stats.interval_estimates(matrices, metrics, reps, confidence, seed).assign(task=name))
    matrices, tasks = score_matrices(scores, method, task)
    if matrices and (task is None or len(tasks) > 1 or not per_task):
        parts.append(stats.interval_estimates(matrices, metrics, reps, confidence, seed)
                     .assign(task="all" if task else None))
    if not parts:
        return pd.DataFrame(columns=["method", "task", "metric", "estimate", "ci_low", "ci_high", "runs", "tasks"])
    out = pd.concat(parts, ignore_index=True)
    return out[["method", "task", "metric", "estimate", "ci_low", "ci_high", "runs", "tasks"]]


def compare(scores: pd.DataFrame, method: str, better: Any, worse: Any, task: str | None = None,
            metric: str = "mean", reps: int = stats.DEFAULT_REPS, confidence: float = stats.DEFAULT_CONFIDENCE,
            seed: int = 0) -> dict[str, Any]:
    """`better` vs `worse` (two values of the `method` column): the difference of `metric` and the
    probability of improvement P(better > worse), each with its stratified-bootstrap CI, over the
    tasks both have results on. Seeds need not match (the two sets of runs are independent)."""
    pair = scores[scores[method].isin([better, worse])]
    if task is not None:  # only the tasks both sides have results on
        common = set(pair.loc[pair[method] == better, task]) & set(pair.loc[pair[method] == worse, task])
        pair = pair[pair[task].isin(common)]
    matrices, tasks = score_matrices(pair, method, task)
    out = {"better": better, "worse": worse, "runs_better": 0, "runs_worse": 0, "tasks": len(tasks)}
    if better not in matrices or worse not in matrices:
        out["runs_better"] = len(matrices.get(better, ()))
        out["runs_worse"] = len(matrices.get(worse, ()))
        return out
    x, y = matrices[better], matrices[worse]
    diff = stats.difference(x, y, metric, reps, confidence, seed)
    poi = stats.probability_of_improvement(x, y, reps, confidence, seed)
    out.update(runs_better=x.shape[0], runs_worse=y.shape[0], effect=diff["estimate"], effect_low=diff["ci_low"],
               effect_high=diff["ci_high"], p_improvement=poi["estimate"], p_low=poi["ci_low"], p_high=poi["ci_high"])
    return out


def carry_crashed(frame: pd.DataFrame, configs: Sequence[Any], metric: str = "eval_return") -> pd.DataFrame:
    """Bjorck et al.'s crash rule: a run that crashed (diverged) keeps its last evaluation of
    `metric` at every later evaluation step of its budget (every `eval_every` up to `total_steps`),
    so averages over seeds are not taken over survivors only. Needs the "state" column
    (`load_sweep(..., config_columns=[...])` adds it). Added rows have `carried=True`; the others
    False. Frames are filled in too (steps x action repeat)."""
    if "state" not in frame.columns:
        raise ConfigError("frame", "rows without a state column", "rows loaded with config_columns (they carry each run's state)")
    out = frame.assign(carried=False)
    by_id = {c.run_id: c for c in configs}
    extra = []
    for run, rows in out[(out["state"] == "crashed") & (out["metric"] == metric)].groupby("run"):
        cfg = by_id.get(run)
        if cfg is None:
            continue
        last = rows.loc[rows["step"].idxmax()]
        b = cfg.budget
        steps = sorted({*range(0, b.total_steps + 1, b.eval_every), b.total_steps})
        for step in (s for s in steps if s > last["step"]):
            row = last.copy()
            row["step"], row["carried"] = step, True
            if "frames" in row:
                row["frames"] = step * cfg.env.action_repeat
            extra.append(row)
    if extra:
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    return out


def crash_counts(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Runs and crashed runs per group (Bjorck et al. count and show them)."""
    runs = frame.drop_duplicates("run")
    out = runs.groupby(list(by))["state"].agg(runs="count", crashed=lambda s: int((s == "crashed").sum()))
    return out.reset_index()


# ---- Bjorck et al.'s final scores: the crash rule first, then each seed's last evaluation ---------------

def head_preset(cfg: Any) -> str:
    """The head preset a pixel agent's config runs, in Bjorck et al.'s names (`experiments.HEAD_PRESETS`):
    the critic's kind and depth, `_sn` with spectral normalization ("mlp2", "modern4", "modern4_sn",
    "mlp4_sn"). Read from the critic: the modern presets' actor has 2 blocks whatever the critic has."""
    critic = cfg.agent.critic
    return f"{critic.kind}{critic.depth}" + ("_sn" if critic.spectral_norm else "")


def crash_ruled(frame: pd.DataFrame, configs: Sequence[Any], metric: str = "eval_return") -> pd.DataFrame:
    """The runs that ended (`COUNTED_STATES`), with Bjorck et al.'s crash rule applied (`carry_crashed`):
    a crashed run keeps its last evaluation at every later step of its budget. Needs the "state"
    column (`load_sweep(..., config_columns=[...])`)."""
    if "state" not in frame.columns:
        raise ConfigError("frame", "rows without a state column", "rows loaded with config_columns (they carry each run's state)")
    return carry_crashed(ended_runs(frame), configs, metric)


def final_scores(frame: pd.DataFrame, configs: Sequence[Any], by: Sequence[str],
                 metric: str = "eval_return") -> pd.DataFrame:
    """Bjorck et al.'s score of a run: its last evaluation once the crash rule is applied (Sec. 3.1:
    "if learning crashes before 500,000 steps ... we report the performance before the crash"), so
    a crashed run scores its last evaluation before the crash, read at its budget's last step.
    Only runs that ended count (`crash_ruled`). One row per seed and group: *by, seed, score, step
    (always the budget's last evaluation step), crashed (whether that run crashed)."""
    ruled = crash_ruled(frame, configs, metric)
    scores = seed_scores(ruled, by, metric, score="final")
    crashed = set(ruled.loc[ruled["state"] == "crashed", [*by, "seed"]].itertuples(index=False, name=None))
    return scores.assign(crashed=[key in crashed for key in scores[[*by, "seed"]].itertuples(index=False, name=None)])


def score_summary(scores: pd.DataFrame, by: Sequence[str], value: str = "score",
                  confidence: float = stats.DEFAULT_CONFIDENCE, reps: int = stats.DEFAULT_REPS,
                  seed: int = 0) -> pd.DataFrame:
    """Per group, what the papers print of per-seed scores (e.g. `final_scores`): mean, std (sample
    standard deviation over seeds, ddof 1; 0 for one seed), sem (std / sqrt(n), Bjorck Figs 1-2's
    "one standard error"), the `confidence` stratified-bootstrap CI of the mean (ci_low, ci_high;
    zero width for one seed), n (seeds) and, when the scores have a "crashed" column, crashed
    (how many of those seeds crashed)."""
    columns = [*by, "mean", "std", "sem", "ci_low", "ci_high", "n", *(["crashed"] if "crashed" in scores else [])]
    rows = []
    for key, group in scores.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        values = group[value].to_numpy(dtype=float)
        n = len(values)
        std = float(np.std(values, ddof=1)) if n > 1 else 0.0
        ci = stats.interval_estimates({"g": values[:, None]}, ("mean",), reps, confidence, seed).iloc[0]
        row = dict(zip(by, key), mean=float(values.mean()), std=std, sem=std / np.sqrt(n),
                   ci_low=ci["ci_low"], ci_high=ci["ci_high"], n=n)
        if "crashed" in scores:
            row["crashed"] = int(group["crashed"].sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# ---- Bjorck Fig 3: the logged critic loss on eq. 2's scale ----------------------------------------------

def squared_td_error(frame: pd.DataFrame, configs: Sequence[Any], metric: str = "train_critic_loss",
                     name: str = "squared_td_error") -> pd.DataFrame:
    """The rows of the logged critic loss (`metric`, metrics.csv) of the runs in `configs`, rescaled
    to the mean squared TD error (Q - y)^2 that Bjorck et al.'s eq. 2 takes the expectation of, and
    renamed `name`. A run logs the batch mean of its training loss averaged over the updates of a
    log window: with `critic_loss="mse"` that loss is the sum over the twin Q heads (and, for DrQ,
    over its M = `agent.drq.loss_augmentations` shifts of s) of 1/2 (Q - y)^2, so it is divided by
    2 x M / 2 = M (DrQ) or 2 / 2 = 1 (the others). Each batch is drawn from the replay buffer, so
    the value estimates eq. 2's expectation over the buffer at that point of training (on the
    sampled batches, each before its own update, and DrQ's y averages K shifts of s'). A run with
    the Huber loss has no such reading: ConfigError."""
    by_id = {c.run_id: c for c in configs}
    rows = frame[(frame["metric"] == metric) & frame["run"].isin(list(by_id))].copy()
    divisor = {}
    for run in rows["run"].unique():
        agent = by_id[run].agent
        if agent.critic_loss != "mse":
            raise ConfigError("critic_loss", agent.critic_loss, "'mse' (a Huber loss is not eq. 2's squared residual)")
        shifts = agent.drq.loss_augmentations if agent.algo == "drq" else 1
        divisor[run] = 2 * shifts / 2  # twin Q heads x shifts, times the loss's 1/2
    rows["value"] = rows["value"] / rows["run"].map(divisor)
    rows["metric"] = name
    return rows.reset_index(drop=True)


def dynamics_summary(frame: pd.DataFrame, by: Sequence[str], x: str = "frames", share: float = 0.25) -> pd.DataFrame:
    """Bjorck Fig 3's statements in numbers, per group and metric of per-seed curves (rows: *by, seed,
    x, metric, value): early = the mean over seeds of each seed's mean over the first `share` of the
    metric's x range, late = the same over the last `share` (the same frames for every seed), peak =
    the mean over seeds of each seed's maximum, seeds = how many. "The losses initially start on the
    same scale, but the modern network later has losses that increase dramatically" reads as early
    alike, late and peak higher."""
    if not 0 < share <= 1:
        raise ConfigError("share", share, "a number in (0, 1]")
    columns = [*by, "metric", "early", "late", "peak", "seeds"]
    parts = []
    for metric, rows in frame.groupby("metric", sort=True):
        lo, hi = rows[x].min(), rows[x].max()
        span = share * (hi - lo)
        per_seed = rows.groupby([*by, "seed"])
        seeds = pd.DataFrame({
            "early": rows[rows[x] <= lo + span].groupby([*by, "seed"])["value"].mean(),
            "late": rows[rows[x] >= hi - span].groupby([*by, "seed"])["value"].mean(),
            "peak": per_seed["value"].max()}).reset_index()
        out = seeds.groupby(list(by)).agg(early=("early", "mean"), late=("late", "mean"), peak=("peak", "mean"),
                                          seeds=("peak", "count")).reset_index()
        parts.append(out.assign(metric=metric))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def vanished_from(frame: pd.DataFrame, by: Sequence[str], metric: str = "train_actor_grad_norm",
                  x: str = "frames") -> pd.DataFrame:
    """When a logged quantity fell to exactly 0 for good, per run: rows of `metric` (columns *by,
    seed, x, value) -> one row per (*by, seed) with `logged` (points), `zeros` (points exactly 0) and
    `zero_from` (the first x from which every later point is 0; NaN if the last point is not). A DrQ-v2
    actor gradient norm of exactly 0 means tanh has saturated at every action of the batch: the
    policy no longer learns, and stays where it is."""
    keys = [*by, "seed"]
    rows = frame[frame["metric"] == metric].sort_values(x)
    out = []
    for key, run in rows.groupby(keys, sort=True):
        zero = (run["value"] == 0).to_numpy()
        nonzero = np.flatnonzero(~zero)
        first = nonzero[-1] + 1 if len(nonzero) else 0  # the point after the last nonzero one
        zero_from = run[x].iloc[first] if first < len(zero) else np.nan
        out.append(dict(zip(keys, key if isinstance(key, tuple) else (key,)), logged=len(zero), zeros=int(zero.sum()),
                        zero_from=zero_from))
    return pd.DataFrame(out, columns=[*keys, "logged", "zeros", "zero_from"])
