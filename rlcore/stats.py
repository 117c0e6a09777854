"""Statistics of Agarwal et al. 2021 ("Deep RL at the edge of the statistical precipice"), via rliable.

Everything here works on score matrices of shape (runs, tasks): one row per seed, one column per
task (environment), as rliable expects. Interval estimates are rliable's stratified bootstrap
(runs resampled with replacement within each task), percentile method, 95 % by default.

rliable draws its bootstrap indices from NumPy's *global* random state (its `random_state`
argument only reaches arch's base class), so every function here takes a `seed`, seeds the global
state for the call and restores it afterwards: the same arrays and seed give the same intervals,
and the caller's random stream is left as it was.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from rliable import library as rly
from rliable import metrics as rly_metrics

from .config import ConfigError

# Aggregate metrics over a (runs, tasks) matrix. IQM: the mean of the middle 50 % of all run x task
# scores (25 % trimmed each side), Agarwal et al.'s recommended point estimate.
AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "iqm": rly_metrics.aggregate_iqm,
    "mean": rly_metrics.aggregate_mean,
    "median": rly_metrics.aggregate_median,
}
DEFAULT_REPS = 2000  # bootstrap replications: rliable's default for profiles; CIs move < 1 % beyond it here
DEFAULT_CONFIDENCE = 0.95


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed NumPy's global random state (which rliable's bootstrap reads) and restore it after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _check_matrix(name: str, scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ConfigError(name, f"array of shape {scores.shape}", "a (runs, tasks) matrix with at least one run and one task")
    if not np.isfinite(scores).all():
        raise ConfigError(name, "scores with NaN or inf", "finite scores (a missing run is left out, not NaN)")
    return scores


def _check_aggregates(names: Sequence[str]) -> list[str]:
    names = list(names)
    for n in names:
        if n not in AGGREGATES:
            raise ConfigError("metrics", n, f"one of {', '.join(map(repr, AGGREGATES))}")
    return names


def interval_estimates(scores: Mapping[str, np.ndarray], metrics: Sequence[str] = ("iqm", "mean"),
                       reps: int = DEFAULT_REPS, confidence: float = DEFAULT_CONFIDENCE,
                       seed: int = 0) -> pd.DataFrame:
    """Point estimate and stratified-bootstrap CI of each aggregate metric, per method.

    `scores`: method -> (runs, tasks) matrix. Returns one row per (method, metric) with columns
    method, metric, estimate, ci_low, ci_high, runs, tasks. A single run has a zero-width interval
    (every resample is that run): `runs` says how far to trust it.
    """
    names = _check_aggregates(metrics)
    matrices = {m: _check_matrix(f"scores[{m!r}]", s) for m, s in scores.items()}

    def aggregate(x: np.ndarray) -> np.ndarray:
        return np.array([AGGREGATES[n](x) for n in names])

    with seeded(seed):
        points, intervals = rly.get_interval_estimates(matrices, aggregate, reps=reps,
                                                       confidence_interval_size=confidence)
    rows = []
    for method, matrix in matrices.items():
        for i, name in enumerate(names):
            rows.append({"method": method, "metric": name, "estimate": float(points[method][i]),
                         "ci_low": float(intervals[method][0, i]), "ci_high": float(intervals[method][1, i]),
                         "runs": matrix.shape[0], "tasks": matrix.shape[1]})
    return pd.DataFrame(rows)


def _paired_estimate(x: np.ndarray, y: np.ndarray, func: Callable[[np.ndarray, np.ndarray], float],
                     reps: int, confidence: float, seed: int) -> dict[str, float]:
    """A statistic of two independent samples (x, y: (runs, tasks), same tasks) with its CI: x and y
    are resampled independently, each stratified by task (rliable's StratifiedIndependentBootstrap)."""
    x, y = _check_matrix("x", x), _check_matrix("y", y)
    if x.shape[1] != y.shape[1]:
        raise ConfigError("y", f"{y.shape[1]} tasks", f"the same tasks as x ({x.shape[1]})")
    with seeded(seed):
        points, intervals = rly.get_interval_estimates({"pair": (x, y)}, lambda a, b: np.array([func(a, b)]),
                                                       reps=reps, confidence_interval_size=confidence)
    return {"estimate": float(points["pair"][0]), "ci_low": float(intervals["pair"][0, 0]),
            "ci_high": float(intervals["pair"][1, 0]), "runs_x": x.shape[0], "runs_y": y.shape[0],
            "tasks": x.shape[1]}


def improvement_probability(x: np.ndarray, y: np.ndarray) -> float:
    """The statistic of `rliable.metrics.probability_of_improvement` (Mann-Whitney U / (n_x n_y) per
    task, ties half, averaged over tasks), computed over all run pairs at once: rliable's calls
    scipy's mannwhitneyu per task, ~1.7 ms, which made 2,000 bootstrap replications take seconds
    per task. tests/test_stats.py checks the two agree."""
    greater = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    ties = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float(np.mean(greater + 0.5 * ties))


def probability_of_improvement(x: np.ndarray, y: np.ndarray, reps: int = DEFAULT_REPS,
                               confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> dict[str, float]:
    """P(X > Y): per task, the probability that a random run of X scores above a random run of Y
    (ties count half; the Mann-Whitney U statistic over runs_x x runs_y), averaged over tasks.
    0.5 = no difference. With its stratified-bootstrap CI (rliable's bootstrap)."""
    return _paired_estimate(x, y, improvement_probability, reps, confidence, seed)


def difference(x: np.ndarray, y: np.ndarray, metric: str = "mean", reps: int = DEFAULT_REPS,
               confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> dict[str, float]:
    """aggregate(X) - aggregate(Y) for one of AGGREGATES, with its stratified-bootstrap CI."""
    (name,) = _check_aggregates([metric])
    agg = AGGREGATES[name]
    return _paired_estimate(x, y, lambda a, b: agg(a) - agg(b), reps, confidence, seed)


def performance_profile(scores: Mapping[str, np.ndarray], taus: Sequence[float] | np.ndarray,
                        reps: int = DEFAULT_REPS, confidence: float = DEFAULT_CONFIDENCE,
                        seed: int = 0) -> pd.DataFrame:
    """Run-score distributions (Agarwal et al. Fig 5): for each tau, the fraction of all runs x
    tasks whose score exceeds tau, with its stratified-bootstrap CI. Columns: method, tau,
    fraction, ci_low, ci_high."""
    taus = np.asarray(taus, dtype=float)
    if taus.ndim != 1 or len(taus) == 0:
        raise ConfigError("taus", taus.tolist(), "a non-empty list of thresholds")
    matrices = {m: _check_matrix(f"scores[{m!r}]", s) for m, s in scores.items()}
    with seeded(seed):
        profiles, cis = rly.create_performance_profile(matrices, taus, reps=reps, confidence_interval_size=confidence)
    return pd.DataFrame([{"method": m, "tau": float(t), "fraction": float(profiles[m][i]),
                          "ci_low": float(cis[m][0, i]), "ci_high": float(cis[m][1, i])}
                         for m in matrices for i, t in enumerate(taus)])


def column_mean_intervals(samples: np.ndarray, reps: int = DEFAULT_REPS, confidence: float = DEFAULT_CONFIDENCE,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CI of the mean of each column of a (runs, columns) matrix, each column resampled on its own:
    the band of a learning curve, one column per evaluation step, in one bootstrap."""
    x = _check_matrix("samples", samples)
    with seeded(seed):
        _, intervals = rly.get_interval_estimates({"x": x}, lambda a: a.mean(axis=0), reps=reps,
                                                  confidence_interval_size=confidence)
    return intervals["x"][0], intervals["x"][1]
