"""Figure functions with one house style. Each returns a matplotlib Figure; `save` writes it.

Every figure carries a footer saying which profile and budget produced it, so a smoke or quick
run is never mistaken for the paper's experiment.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .io import atomic_path
from .results import profile_dir_name, repo_root


def house_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="viridis")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titlesize": 11, "legend.fontsize": 8})


def default_figures_dir(profile: str) -> Path:
    """figures/<profile>, or $RLCORE_FIGURES/<profile>."""
    return Path(os.environ.get("RLCORE_FIGURES", repo_root() / "figures")) / profile_dir_name(profile)


def stamp(fig: plt.Figure, text: str, fontsize: float = 7.0) -> plt.Figure:
    """Footer with the profile and budget (and anything else the reader must know).

    The text is wrapped to the figure's width and the axes are laid out above it, so a long
    footer never overlaps the x-axis label.
    """
    width_in, height_in = fig.get_size_inches()
    chars_per_line = max(40, int(width_in * 72 / (0.55 * fontsize)))
    lines = textwrap.wrap(text, chars_per_line)
    footer_in = (len(lines) * 1.35 * fontsize + 6) / 72
    fig.text(0.01, 0.005, "\n".join(lines), fontsize=fontsize, color="0.35", ha="left", va="bottom")
    fig.tight_layout(rect=(0, min(0.6, footer_in / height_in), 1, 1))
    return fig


def save(fig: plt.Figure, name: str, figures_dir: str | Path) -> Path:
    path = Path(figures_dir) / f"{name}.png"
    with atomic_path(path) as tmp:  # a reader never sees half a PNG
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path


def learning_curves(curves: pd.DataFrame, hue: str, title: str, hue_label: str | None = None,
                    ylabel: str = "average return", ax: plt.Axes | None = None,
                    reference: dict[str, float] | None = None) -> plt.Figure:
    """Seed mean against steps, one line per value of `hue` (columns from `aggregate.curves`), with
    the 95 % bootstrap CI of the mean as the band when the curves carry one (ci_low / ci_high),
    else +- 1 std; the y label says which.

    `reference`: published numbers drawn as dashed horizontal lines, label -> value.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
    else:
        fig = ax.figure
    levels = sorted(curves[hue].unique())
    colors = sns.color_palette("viridis", len(levels))
    for color, level in zip(colors, levels):
        c = curves[curves[hue] == level].sort_values("step")
        n = int(c["n"].max()) if len(c) else 0
        ax.plot(c["step"], c["mean"], color=color, label=f"{hue_label or hue}={level} (n={n})")
        low, high = ((c["ci_low"], c["ci_high"]) if "ci_low" in c else (c["mean"] - c["std"], c["mean"] + c["std"]))
        ax.fill_between(c["step"], low, high, color=color, alpha=0.2, lw=0)
    for label, value in (reference or {}).items():
        ax.axhline(value, color="0.3", ls="--", lw=1)
        ax.annotate(label, (0.01, value), xycoords=("axes fraction", "data"), fontsize=7, color="0.3",
                    va="bottom")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"{ylabel}\n(mean, band: {'95 % CI' if 'ci_low' in curves else '+-1 std'})", fontsize=8)
    ax.set_title(title)
    ax.legend(loc="best")
    return fig


def grid_heatmap(scores: pd.DataFrame, rows: str, cols: str, title: str, row_label: str, col_label: str,
                 value: str = "mean", annotate_cells: dict[tuple, str] | None = None,
                 ax: plt.Axes | None = None) -> plt.Figure:
    """Heatmap of a score over two grid axes (Ota Fig 4, 7, 8). Rows grow downwards like the paper.

    `annotate_cells`: {(row value, col value): text} shown under the cell's own number, e.g. the
    published number for that cell. No scores (no run of the grid has ended): a note, not a failure.
    """
    if scores.empty:
        fig, ax = plt.subplots(figsize=(5, 1.6)) if ax is None else (ax.figure, ax)
        note_panel(ax, [title, "No run of this grid has ended yet: nothing to show."])
        return fig
    table = scores.pivot(index=rows, columns=cols, values=value).sort_index().sort_index(axis=1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.1 * len(table.columns) + 2.4, 0.8 * len(table.index) + 1.6))
    else:
        fig = ax.figure
    sns.heatmap(table, annot=True, fmt=".0f", cmap="viridis", cbar_kws={"label": "max average return"}, ax=ax)
    for (r, c), text in (annotate_cells or {}).items():
        if r in table.index and c in table.columns:
            i, j = list(table.index).index(r), list(table.columns).index(c)
            ax.text(j + 0.5, i + 0.85, text, ha="center", va="center", fontsize=6, color="white")
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_title(title)
    return fig


def note_panel(ax: plt.Axes, lines: Sequence[str]) -> None:
    """A text-only panel, e.g. the paper's claim beside our numbers."""
    ax.axis("off")
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=8, wrap=True, transform=ax.transAxes)


house_style()


_LOSS_NAMES = {"mse": "1/2 squared TD error (mse)", "huber": "Huber TD loss, delta 1"}


def loss_name(landscape) -> str:
    """Which TD loss a landscape's J_Q is: the run's own critic loss (older landscapes: mse)."""
    return _LOSS_NAMES.get(landscape.meta.get("loss", "mse"), landscape.meta.get("loss", "mse"))


def loss_surface(landscape, title: str, log_scale: bool = True) -> plt.Figure:
    """A loss landscape (`analysis.Landscape`): contour and 3-D surface for 2-D, a line for 1-D,
    with the sharpness numbers beside it."""
    import numpy as np

    axis = np.asarray(landscape.axis)
    losses = np.asarray(landscape.losses)
    shown = np.log10(np.maximum(losses, 1e-12)) if log_scale else losses
    label = "log10 J_Q" if log_scale else "J_Q"
    rise = ", ".join(f"r={r:g}: +{v:.3g}" for r, v in sorted(landscape.loss_rise.items()))
    eig = landscape.hessian_top_eigenvalue
    notes = [f"J_Q: {loss_name(landscape)}",
             f"J_Q at the trained weights: {landscape.center_loss:.4g}",
             f"mean loss rise at radius {rise}" if rise else "",
             f"Hessian top eigenvalue: {eig:.4g}" if eig is not None else "",
             f"{landscape.meta.get('transitions', '?')} transitions, seed {landscape.meta.get('seed')}"]
    if losses.ndim == 1:
        fig, (ax, text) = plt.subplots(1, 2, figsize=(8, 3.4), gridspec_kw={"width_ratios": [2, 1]})
        ax.plot(axis, shown)
        ax.set_xlabel("alpha (filter-normalized direction)")
        ax.set_ylabel(label)
        ax.set_title(title)
        note_panel(text, [n for n in notes if n])
        return fig
    fig = plt.figure(figsize=(10, 3.8))
    a, b = np.meshgrid(axis, axis, indexing="ij")
    ax1 = fig.add_subplot(1, 3, 1)
    contour = ax1.contour(a, b, shown, levels=20, cmap="viridis")
    ax1.clabel(contour, fontsize=6)
    ax1.plot([0], [0], "k+")
    ax1.set_xlabel("alpha")
    ax1.set_ylabel("beta")
    ax1.set_title(f"{title}\n({label}, contours)", fontsize=9)
    ax2 = fig.add_subplot(1, 3, 2, projection="3d")
    ax2.plot_surface(a, b, shown, cmap="viridis", linewidth=0, antialiased=True)
    ax2.set_xlabel("alpha")
    ax2.set_ylabel("beta")
    ax2.set_zlabel(label)
    note_panel(fig.add_subplot(1, 3, 3), [n for n in notes if n])
    return fig


def loss_lines(landscapes: dict, title: str, log_scale: bool = True) -> plt.Figure:
    """1-D landscapes (`analysis.Landscape`, dims=1) of several networks on one axis, label -> landscape
    (Li et al. 2018's comparison of flat and sharp minima), with J_Q at each network's trained weights."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, landscape in landscapes.items():
        losses = np.asarray(landscape.losses)
        if losses.ndim != 1:
            raise ValueError(f"landscapes[{label!r}] is {losses.ndim}-D: loss_lines draws 1-D landscapes (dims=1)")
        ax.plot(landscape.axis, np.log10(np.maximum(losses, 1e-12)) if log_scale else losses,
                label=f"{label}: J_Q(0) = {landscape.center_loss:.3g}")
    ax.set_xlabel("alpha (filter-normalized direction)")
    losses_used = sorted({loss_name(landscape) for landscape in landscapes.values()})
    ax.set_ylabel(("log10 J_Q" if log_scale else "J_Q") + f" ({'; '.join(losses_used)})", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return fig


def apex_schematic(n_core: int, n_env: int, sync_every: int = 1, replay: str = "prioritized",
                   max_envs_drawn: int = 4) -> plt.Figure:
    """Ota Fig 11, drawn from the configuration: N_core worker processes of N_env environments each
    send transitions to a shared replay; one learner samples it and publishes its latest weights."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(8.5, 1.6 + 1.3 * min(n_core, 4)))
    ax.set_xlim(0, 10)
    rows = min(n_core, 4)
    ax.set_ylim(0, 1.3 * rows + 0.6)
    ax.axis("off")

    def box(x, y, w, h, text, color):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=color, ec="0.3", lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)

    def arrow(a, b, text="", curve=0.0):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="0.3",
                                     connectionstyle=f"arc3,rad={curve}"))
        if text:
            ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.12, text, ha="center", fontsize=7, color="0.25")

    mid = (1.3 * rows + 0.6) / 2
    box(5.0, mid - 0.45, 1.8, 0.9, f"shared replay\n({replay})", "#d9ead3")
    box(7.8, mid - 0.45, 1.8, 0.9, "learner\n(gradient steps)", "#cfe2f3")
    arrow((6.85, mid), (7.75, mid), "sample")
    for i in range(rows):
        y = 0.4 + 1.3 * (rows - 1 - i)
        label = f"core {i + 1}" if i < rows - 1 or n_core <= 4 else f"core {n_core}"
        box(0.2, y, 3.8, 0.9, "", "#fff2cc")
        ax.text(0.35, y + 0.75, f"{label}: {n_env} envs, one vector env", fontsize=7, va="center")
        if n_env <= max_envs_drawn:
            slots = [(j, f"env {j + 1}") for j in range(n_env)]
        else:  # the first few, an ellipsis, the last
            slots = [(j, f"env {j + 1}") for j in range(max_envs_drawn - 1)] + [(max_envs_drawn, f"env {n_env}")]
            ax.text(0.4 + (max_envs_drawn - 1) * 0.7 + 0.12, y + 0.28, "...", fontsize=9)
        for j, text in slots:
            box(0.4 + j * 0.7, y + 0.12, 0.55, 0.4, text, "white")
        arrow((4.05, y + 0.45), (4.95, mid), "transitions" if i == 0 else "")
        arrow((8.7, mid + 0.5), (2.1, y + 0.95), "latest weights" if i == 0 else "", curve=0.25 if i == 0 else 0.15)
    if n_core > 4:
        ax.text(2.1, 0.4 + 1.3 * (rows - 1) - 0.2, f"... {n_core} cores in all", fontsize=7, ha="center")
    ax.set_title(f"Fig 11: asynchronous training, N_core = {n_core} x N_env = {n_env} "
                 f"(weights pulled every {sync_every} vector step{'s' if sync_every != 1 else ''})", fontsize=9)
    return fig


def architecture_diagram(agent, collect, obs_dim: int, action_dim: int, table: pd.DataFrame) -> plt.Figure:
    """Ota Fig 2 drawn from a configuration: OFENet's z_s and z_sa stacks (with the next-state
    predictor of its auxiliary task), the actor and the twin critics, and how experience arrives.
    Widths, depths and parameter counts come from `agent` (an AgentConfig), `collect` (a
    CollectConfig) and `table` (`rlcore.nets.parameter_table` of the built agent)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    params = table.groupby("network")["parameters"].sum()
    dims = table.groupby("network").agg(first_in=("input_units", "first"), last_in=("input_units", "last"))
    fig, ax = plt.subplots(figsize=(11, 4.6))
    ax.set_xlim(0, 12.4)
    ax.set_ylim(0, 6)
    ax.axis("off")

    def box(x, y, w, h, text, color, size=7.5):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=color, ec="0.3", lw=1))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)

    def arrow(a, b, text="", curve=0.0):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=11, color="0.3",
                                     connectionstyle=f"arc3,rad={curve}"))
        if text:
            ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.1, text, ha="center", fontsize=6.5, color="0.25")

    def trunk(net) -> str:
        norm = {"auto": "", "none": ""}.get(net.norm, f" -> {net.norm}")
        layer = {"densenet": f"[FC {net.width}{norm} -> {net.activation}, concat input]",
                 "mlp": f"[FC {net.width}{norm} -> {net.activation}]"}.get(net.kind, f"{net.kind} {net.width}")
        return f"{net.kind}: {net.depth} x {layer}"

    ofe = agent.ofenet
    box(0.1, 3.9, 1.3, 0.8, f"state s_t\n({obs_dim})", "white")
    box(0.1, 1.2, 1.3, 0.8, f"action a_t\n({action_dim})", "white")
    if ofe.enabled:
        per = ofe.total_units // ofe.layers
        stack = f"{ofe.layers} x [FC {per} -> BN -> {ofe.activation}, concat]" if ofe.batchnorm else \
            f"{ofe.layers} x [FC {per} -> {ofe.activation}, concat]"
        zs, zsa = int(dims.loc["actor", "first_in"]), int(dims.loc["critic", "first_in"]) - 0
        box(2.0, 3.6, 3.0, 1.4, f"OFENet z_s\n{stack}\n{obs_dim} -> {zs} features\n"
                                f"{params.get('OFENet z_s', 0):,} parameters", "#fce5cd")
        box(2.0, 0.9, 3.0, 1.4, f"OFENet z_sa\n{stack}\n{zs} + {action_dim} -> {zsa} features\n"
                                f"{params.get('OFENet z_sa', 0):,} parameters", "#fce5cd")
        box(2.0, 0.05, 3.0, 0.55, f"FC -> s_(t+1) prediction ({params.get('OFENet predictor', 0):,} p.):"
                                   " auxiliary loss", "#f4cccc", size=6.5)
        arrow((1.45, 4.3), (1.95, 4.3))
        arrow((3.5, 3.55), (3.5, 2.35), "z_s")
        arrow((1.45, 1.6), (1.95, 1.6))
        arrow((3.5, 0.85), (3.5, 0.62))
        actor_from, critic_from = (5.05, 4.3), (5.05, 1.6)
        actor_in, critic_in = zs, zsa
    else:
        actor_from, critic_from = (1.45, 4.3), (1.45, 1.6)
        actor_in, critic_in = obs_dim, obs_dim + action_dim
        arrow((0.75, 3.85), (1.45, 1.9), "s_t", curve=0.2)
    a_head = "mean, log-std" if agent.algo == "sac" else "action"
    box(5.6, 3.6, 3.0, 1.4, f"actor pi\n{trunk(agent.actor)}\n{actor_in} -> {action_dim} ({a_head})\n"
                            f"{params.get('actor', 0):,} parameters", "#cfe2f3")
    box(5.6, 0.9, 3.0, 1.4, f"critics Q1, Q2 (one ensemble)\n{trunk(agent.critic)}\n{critic_in} -> 1 each\n"
                            f"{params.get('critic', 0):,} parameters (both)", "#cfe2f3")
    arrow(actor_from, (5.55, 4.3), "z_s" if ofe.enabled else "s_t")
    arrow(critic_from, (5.55, 1.6), "z_sa" if ofe.enabled else "(s_t, a_t)")
    if collect.mode == "apex":
        text = (f"Ape-X-like collection\nN_core = {collect.workers} processes\nx N_env = {collect.envs_per_worker}"
                f" envs each,\nlatest weights every {collect.sync_every} step(s)\n-> {collect.replay} replay\n"
                f"-> one learner")
    else:
        text = f"serial collection\none env step per update\n-> {collect.replay} replay"
    box(9.3, 1.6, 2.9, 2.8, text, "#fff2cc")
    arrow((8.65, 4.3), (9.25, 3.6), "weights")
    arrow((9.25, 2.2), (8.65, 1.6), "samples")
    total = int(params.sum())
    ax.set_title(f"Fig 2 as configured: {agent.algo.upper()}, {obs_dim}-dim state, {action_dim}-dim action; "
                 f"{total:,} trainable parameters in all (targets not counted)", fontsize=9)
    return fig


def interval_estimates(est: pd.DataFrame, title: str, xlabel: str = "score") -> plt.Figure:
    """Aggregate metrics with their CIs (columns of `aggregate.estimates` / `stats.interval_estimates`:
    method, metric, estimate, ci_low, ci_high, runs), one panel per metric, one bar per method, as
    Agarwal et al. 2021 draw them."""
    metrics = list(dict.fromkeys(est["metric"]))
    methods = list(dict.fromkeys(est["method"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics) + 1.2, 0.45 * len(methods) + 1.4),
                             sharey=True, squeeze=False)
    colors = dict(zip(methods, sns.color_palette("viridis", len(methods))))
    for ax, metric in zip(axes[0], metrics):
        rows = est[est["metric"] == metric].set_index("method").reindex(methods)
        for i, (method, r) in enumerate(rows.iterrows()):
            if pd.isna(r["estimate"]):
                continue
            ax.barh(i, r["ci_high"] - r["ci_low"], left=r["ci_low"], height=0.6, color=colors[method], alpha=0.6)
            ax.plot([r["estimate"]], [i], "k|", markersize=14, mew=2)
        lo, hi = rows["ci_low"].min(), rows["ci_high"].max()
        if pd.notna(lo):  # pad, so that a zero-width interval at either end stays visible
            pad = 0.08 * (hi - lo) if hi > lo else max(1e-6, 0.05 * abs(hi) or 1.0)
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_yticks(range(len(methods)))
        ax.set_yticklabels([f"{m} (n={int(rows.loc[m, 'runs'])})" if pd.notna(rows.loc[m, "runs"]) else m
                            for m in methods], fontsize=8)
        ax.set_title(metric.upper() if metric == "iqm" else metric.capitalize(), fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
    axes[0][0].invert_yaxis()  # the first method on top (the y axis is shared)
    fig.suptitle(title, fontsize=10)
    return fig


def probability_of_improvement(rows: pd.DataFrame, title: str) -> plt.Figure:
    """P(X > Y) with its CI per pair (columns better, worse, p_improvement, p_low, p_high), with
    the no-difference line at 0.5."""
    fig, ax = plt.subplots(figsize=(5.5, 0.45 * len(rows) + 1.3))
    for i, (_, r) in enumerate(rows.reset_index(drop=True).iterrows()):
        if pd.isna(r.get("p_improvement")):
            continue
        ax.barh(i, r["p_high"] - r["p_low"], left=r["p_low"], height=0.6, color="#6fa8dc", alpha=0.7)
        ax.plot([r["p_improvement"]], [i], "k|", markersize=14, mew=2)
    ax.axvline(0.5, color="0.4", ls="--", lw=1)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"P({r['better']} > {r['worse']})" for _, r in rows.iterrows()], fontsize=8)
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("probability of improvement (95 % CI)", fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def performance_profiles(profile: pd.DataFrame, title: str, xlabel: str = "normalized score tau") -> plt.Figure:
    """Run-score distributions with CI bands (columns method, tau, fraction, ci_low, ci_high)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    methods = list(dict.fromkeys(profile["method"]))
    for color, method in zip(sns.color_palette("viridis", len(methods)), methods):
        p = profile[profile["method"] == method].sort_values("tau")
        ax.plot(p["tau"], p["fraction"], color=color, label=method)
        ax.fill_between(p["tau"], p["ci_low"], p["ci_high"], color=color, alpha=0.2, lw=0)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("fraction of runs with score > tau", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return fig


# ---- per-task panels (Bjorck et al. 2021: 15 DMC tasks, one panel or one row each) ---------------------

def _crash_note(crashes: pd.DataFrame | None, task_col: str, task, hue: str) -> str:
    if crashes is None or crashes.empty:
        return ""
    rows = crashes[crashes[task_col] == task]
    return ", ".join(f"{r[hue]} {int(r['crashed'])}/{int(r['runs'])}" for _, r in rows.iterrows())


def task_learning_curves(curves: pd.DataFrame, hue: str, title: str, task: str = "task",
                         hue_label: str | None = None, tasks: Sequence | None = None,
                         crashes: pd.DataFrame | None = None, reference: dict | None = None, ncols: int = 5,
                         xlabel: str = "environment frames", ylabel: str = "average return") -> plt.Figure:
    """One `learning_curves` panel per task (Bjorck Fig 4), one line per value of `hue`: `curves` from
    `aggregate.curves(frame, by=[task, hue], x="frames")`, the seed mean with its band. `tasks` sets
    the panels' order (default: as they come). `crashes` (`aggregate.crash_counts(frame, [task, hue])`)
    puts "crashed runs / runs" per line in each panel's title; `reference`: task -> {label: value},
    published numbers drawn as dashed lines in that task's panel."""
    tasks = list(tasks) if tasks is not None else list(dict.fromkeys(curves[task]))
    tasks = [t for t in tasks if t in set(curves[task])] or tasks[:1]
    ncols = max(1, min(ncols, len(tasks)))
    nrows = -(-len(tasks) // ncols)
    # at least 7.5 x 4 inches: a figure of one task still leaves room for a long footer
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(7.5, 3.6 * ncols), max(4.0, 2.9 * nrows + 0.6)), squeeze=False)
    for ax, name in zip(axes.flat, tasks):
        rows = curves[curves[task] == name]
        if rows.empty:
            ax.axis("off")
            continue
        note = _crash_note(crashes, task, name, hue)
        learning_curves(rows, hue=hue, hue_label=hue_label, ylabel=ylabel, ax=ax, title=str(name),
                        reference=(reference or {}).get(name))
        if note:
            ax.set_title(f"{name}\ncrashed/runs: {note}", fontsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def task_intervals(summary: pd.DataFrame, hue: str, title: str, task: str = "task", tasks: Sequence | None = None,
                   reference: pd.DataFrame | None = None, reference_label: str = "published",
                   xlabel: str = "final return", interval: str = "95 % bootstrap CI") -> plt.Figure:
    """Per task (one row each, Bjorck Figs 1-2), each value of `hue`'s seed mean as a point with its
    interval as a bar: `summary` from `aggregate.score_summary(scores, [task, hue])` (mean, ci_low,
    ci_high, n, optionally crashed), the seed count and crashes written beside each bar.
    `reference`: rows (task, hue, value) of published numbers, drawn as open diamonds."""
    tasks = list(tasks) if tasks is not None else list(dict.fromkeys(summary[task]))
    tasks = [t for t in tasks if t in set(summary[task])] or tasks
    levels = list(dict.fromkeys(summary[hue]))
    colors = dict(zip(levels, sns.color_palette("viridis", max(1, len(levels)))))
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * max(1, len(tasks)) * max(1, len(levels)) + 2.6))
    span = 0.8 / max(1, len(levels))
    published_drawn = False
    for i, name in enumerate(tasks):
        for j, level in enumerate(levels):
            y = i - 0.4 + span * (j + 0.5)
            row = summary[(summary[task] == name) & (summary[hue] == level)]
            if len(row):
                r = row.iloc[0]
                ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colors[level], lw=4, alpha=0.55,
                        solid_capstyle="butt")
                ax.plot([r["mean"]], [y], "o", color=colors[level], ms=4, mec="k", mew=0.5)
                crashed = f", {int(r['crashed'])} crashed" if "crashed" in r and pd.notna(r["crashed"]) else ""
                ax.annotate(f"n={int(r['n'])}{crashed}", (r["ci_high"], y), xytext=(4, 0), textcoords="offset points",
                            fontsize=6, va="center", color="0.3")
            if reference is not None and len(reference):
                ref = reference[(reference[task] == name) & (reference[hue] == level)]
                if len(ref):
                    ax.plot([float(ref["value"].iloc[0])], [y], "D", mfc="none", mec=colors[level], ms=6, mew=1.2)
                    published_drawn = True
    ax.set_yticks(range(len(tasks)))
    ax.set_yticklabels([str(t) for t in tasks], fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.margins(x=0.12)  # room for the "n=..." notes, and zero-width intervals off the frame
    ax.set_ylim(len(tasks) - 0.5, -0.5)  # the first task on top
    ax.grid(axis="y", visible=False)
    for i in range(1, len(tasks)):
        ax.axhline(i - 0.5, color="0.85", lw=0.8)
    handles = [plt.Line2D([], [], color=colors[lv], lw=4, alpha=0.55, marker="o", mfc=colors[lv], mec="k",
                          label=f"{hue}={lv}") for lv in levels]
    if published_drawn:
        handles.append(plt.Line2D([], [], ls="none", marker="D", mfc="none", mec="0.3", label=reference_label))
    # outside the axes: inside, "best" still lands on the n=... notes of bars that reach the edge
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_xlabel(f"{xlabel} (seed mean, bar: {interval})", fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def departures(sweep, paper) -> str:
    """What a reduced grid changes from the paper's, for a figure's footer: `sweep` and `paper` are the
    same experiment (`rlcore.experiments.Sweep`) at a profile and at "paper". Compares the tasks,
    seeds and frames (axes) and, on the first config of each, frame size, action repeat, episode cap,
    batch, warm-up, replay, evaluation episodes and the shadow map. Empty when nothing differs."""
    out = []
    ours_tasks, paper_tasks = sweep.axes.get("task", ()), paper.axes.get("task", ())
    if tuple(ours_tasks) != tuple(paper_tasks):
        out.append(f"{len(ours_tasks)} task{'s' if len(ours_tasks) != 1 else ''} of the paper's {len(paper_tasks)}")
    if tuple(sweep.axes.get("seed", ())) != tuple(paper.axes.get("seed", ())):
        out.append(f"{len(sweep.axes['seed'])} seed{'s' if len(sweep.axes['seed']) != 1 else ''} "
                   f"(paper {len(paper.axes['seed'])})")
    if sweep.axes.get("frames") != paper.axes.get("frames"):
        out.append(f"{sweep.axes['frames']:,} frames (paper {paper.axes['frames']:,})")
    a, p = sweep.configs[0], paper.configs[0]
    ka, kp = a.env.kwargs_dict, p.env.kwargs_dict
    if (ka.get("height"), ka.get("width")) != (kp.get("height"), kp.get("width")):
        out.append(f"{ka.get('height')}x{ka.get('width')} frames (paper {kp.get('height')}x{kp.get('width')})")
    if a.env.action_repeat != p.env.action_repeat:
        out.append(f"action repeat {a.env.action_repeat} (paper {p.env.action_repeat})")
    if a.env.max_episode_steps != p.env.max_episode_steps:
        out.append(f"episodes capped at {a.env.max_episode_steps:,} frames (paper: the suite's 1,000)")
    if a.agent.batch_size != p.agent.batch_size:
        out.append(f"batch {a.agent.batch_size} (paper {p.agent.batch_size})")
    for name, label in (("warmup_steps", "warm-up"), ("replay_size", "replay"), ("eval_episodes", "eval episodes")):
        if getattr(a.budget, name) != getattr(p.budget, name):
            out.append(f"{label} {getattr(a.budget, name):,} (paper {getattr(p.budget, name):,})")
    if a.agent.algo == "drqv2" and a.agent.drqv2.std_steps != p.agent.drqv2.std_steps:
        out.append(f"exploration std 1.0 -> 0.1 over {a.agent.drqv2.std_steps:,} agent steps "
                   f"(paper {p.agent.drqv2.std_steps:,}: the same share of the run)")
    if "shadow_size" in ka and ka.get("shadow_size") != kp.get("shadow_size"):
        out.append(f"shadow map {ka['shadow_size']} px (rendering only)")
    return "; ".join(out)


# ---- Bjorck Fig 3 (training dynamics) and Table 3 (what the heads cost) ---------------------------------

def training_dynamics(frame: pd.DataFrame, panels: Sequence[tuple[str, str, bool]], hue: str, title: str,
                      x: str = "frames", xlabel: str = "environment frames", crashed: Sequence[tuple] = (),
                      ncols: int = 2) -> plt.Figure:
    """Bjorck Fig 3: one panel per (metric, title, log y) of `panels`, each seed a thin line and the
    mean over seeds at each `x` a thick one, one colour per value of `hue`. `frame`: long rows with
    columns hue, seed, x, metric, value (evaluations and metrics.csv rows alike). `crashed`: (hue
    value, seed) pairs drawn with an x at their last point. A panel without rows says so."""
    levels = sorted(frame[hue].unique()) if len(frame) else []
    colors = dict(zip(levels, sns.color_palette("viridis", max(1, len(levels)))))
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.3 * nrows + 0.4), squeeze=False)
    crashed = set(crashed)
    for ax, (metric, name, log) in zip(axes.flat, panels):
        rows = frame[frame["metric"] == metric]
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        if rows.empty:
            ax.text(0.5, 0.5, f"no {metric} rows", ha="center", va="center", transform=ax.transAxes, fontsize=8)
            continue
        for level in levels:
            mine = rows[rows[hue] == level]
            if mine.empty:
                continue
            seeds = sorted(mine["seed"].unique())
            for seed in seeds:
                line = mine[mine["seed"] == seed].sort_values(x)
                ax.plot(line[x], line["value"], color=colors[level], lw=0.8, alpha=0.45)
                if (level, seed) in crashed:
                    ax.plot(line[x].iloc[-1:], line["value"].iloc[-1:], "x", color=colors[level], ms=7, mew=1.5)
            mean = mine.groupby(x)["value"].mean()
            ax.plot(mean.index, mean.to_numpy(), color=colors[level], lw=2.4, label=f"{hue}={level} (n={len(seeds)})")
        if log and (rows["value"] > 0).any():
            ax.set_yscale("log")
        ax.set_ylabel(metric + (" (log scale)" if log else ""), fontsize=8)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title + "\n(thin: each seed; thick: mean over seeds)", fontsize=10)
    fig.tight_layout()
    return fig


def relative_cost(comparison: pd.DataFrame, title: str, baseline: str = "mlp2",
                  labels: tuple[str, str] = ("ours", "paper (V100)")) -> plt.Figure:
    """Bjorck Table 3 as increases over the `baseline` head: one panel per metric (train memory, train
    time, act memory, act time), per head two bars, ours (`relative`) and the published
    (`paper_relative`), in %; ours' absolute mean and unit under each head's name. `comparison`:
    `analysis.cost.table3_comparison` (heads, metric, unit, mean, relative, paper_relative)."""
    names = {"train_mem": "train memory", "train_time": "train time", "act_mem": "act memory", "act_time": "act time"}
    metrics = [m for m in names if m in set(comparison["metric"])]
    heads = [h for h in dict.fromkeys(comparison["heads"]) if h != baseline]
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(3.3 * max(1, len(metrics)), 3.4), squeeze=False)
    colors = sns.color_palette("viridis", 2)
    for ax, metric in zip(axes.flat, metrics):
        rows = comparison[comparison["metric"] == metric].set_index("heads")
        xs = range(len(heads))
        for k, (column, label) in enumerate((("relative", labels[0]), ("paper_relative", labels[1]))):
            values = [100 * rows[column].get(h, float("nan")) for h in heads]
            bars = ax.bar([i + (k - 0.5) * 0.38 for i in xs], values, width=0.38, color=colors[k], label=label)
            for bar, v in zip(bars, values):
                if pd.notna(v):
                    ax.annotate(f"{v:+.0f}%", (bar.get_x() + bar.get_width() / 2, max(v, 0)), ha="center",
                                va="bottom", fontsize=6)
        unit = rows["unit"].iloc[0] if len(rows) else ""
        ax.set_xticks(list(xs))
        ax.set_xticklabels([f"{h}\n{rows['mean'].get(h, float('nan')):,.4g} {unit}" for h in heads], fontsize=7)
        ax.axhline(0, color="0.3", lw=0.8)
        base = rows["mean"].get(baseline, float("nan"))
        ax.set_title(f"{names[metric]}\n({baseline}: {base:,.4g} {unit} here)", fontsize=8)
        ax.set_ylabel(f"increase over {baseline} (%)", fontsize=8)
        ax.legend(fontsize=6, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
