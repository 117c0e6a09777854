"""rlcore.plots: every figure function renders the input it is given and saves a real PNG.

The frames are synthetic but have the notebooks' shapes: `aggregate.curves` / `max_average_return`
output for the learning curves and heatmaps, `analysis.Landscape` for the loss surfaces.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rlcore import aggregate, plots  # noqa: E402
from rlcore.analysis.landscape import Landscape  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def figures_dir(tmp_path, monkeypatch):
    """$RLCORE_FIGURES points into tmp_path; the module's own default_figures_dir resolves it."""
    monkeypatch.setenv("RLCORE_FIGURES", str(tmp_path / "figures"))
    out = plots.default_figures_dir("smoke")
    assert out == tmp_path / "figures" / "smoke"
    return out


def assert_saved_png(fig: Figure, name: str, figures_dir) -> None:
    path = plots.save(fig, name, figures_dir)
    assert path == figures_dir / f"{name}.png"
    assert path.is_file() and path.stat().st_size > 100
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert not list(figures_dir.glob(".*.tmp.png"))  # the atomic write left no temporary behind


def _evals(levels, seeds=(0, 1), steps=(0, 100, 200)) -> pd.DataFrame:
    """Long-format evaluations as `results.load_runs` gives them: one row per (run, step, metric)."""
    rows = []
    for li, level in enumerate(levels):
        for seed in seeds:
            for step in steps:
                value = -100.0 + 10 * li + step / 10 + seed
                rows.append({"units": level, "layers": 2, "seed": seed, "step": step, "metric": "eval_return",
                             "value": value})
    return pd.DataFrame(rows)


# ---- learning curves -----------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [[64, 256], [64, 128, 256, 512]])
def test_learning_curves_one_line_per_level(levels, figures_dir):
    curves = aggregate.curves(_evals(levels), by=["units"])
    fig = plots.learning_curves(curves, hue="units", hue_label="width", title="Fig 3a: width sweep")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.lines) == len(levels)
    assert len(ax.collections) == len(levels)  # one std band per line
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"width={lvl} (n=2)" for lvl in sorted(levels)]
    assert ax.get_title() == "Fig 3a: width sweep"
    assert ax.get_xlabel() == "environment steps" and ax.get_ylabel().startswith("average return")
    # Each line is the seed mean, sorted by step.
    first = ax.lines[0]
    np.testing.assert_array_equal(first.get_xdata(), [0, 100, 200])
    np.testing.assert_allclose(first.get_ydata(), [-99.5, -89.5, -79.5])
    plots.stamp(fig, "profile=smoke (reduced budget: not the paper's experiment): 1,000 env steps, 2 seeds")
    assert any("profile=smoke" in t.get_text() for t in fig.texts)
    assert_saved_png(fig, "learning_curves", figures_dir)


def test_learning_curves_reference_lines_and_given_axes(figures_dir):
    fig, axes = plt.subplots(1, 2)
    curves = aggregate.curves(_evals([64, 256, 512], seeds=(0,)), by=["units"])
    ref = {"paper: SAC 256x2": -50.0, "paper: other": -20.0}
    out = plots.learning_curves(curves, hue="units", title="a", ax=axes[1], reference=ref, ylabel="srank")
    assert out is fig  # drawn into the given axes, not a new figure
    assert len(axes[0].lines) == 0
    assert len(axes[1].lines) == 3 + len(ref)  # three curves and two dashed reference lines
    dashed = [line for line in axes[1].lines if line.get_linestyle() == "--"]
    assert sorted(line.get_ydata()[0] for line in dashed) == [-50.0, -20.0]
    assert {t.get_text() for t in axes[1].texts} == set(ref)
    assert [t.get_text() for t in axes[1].get_legend().get_texts()][0] == "units=64 (n=1)"
    assert axes[1].get_ylabel() == "srank\n(mean, band: 95 % CI)"
    assert_saved_png(fig, "learning_curves_panel", figures_dir)


def test_learning_curves_band_is_the_bootstrap_ci_or_one_std():
    import numpy as np

    ci = aggregate.curves(_evals([64]), by=["units"])
    fig = plots.learning_curves(ci, hue="units", title="ci")
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), ci["ci_low"].min()) and np.isclose(band.max(), ci["ci_high"].max())
    std = aggregate.curves(_evals([64]), by=["units"], band="std")
    fig = plots.learning_curves(std, hue="units", title="std")
    assert fig.axes[0].get_ylabel().endswith("band: +-1 std)")
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), (std["mean"] - std["std"]).min())


# ---- heatmaps ------------------------------------------------------------------------------------

def test_grid_heatmap_cells_and_annotations(figures_dir):
    units, layers = [64, 128, 256], [1, 2, 4, 8]
    frame = pd.concat([_evals(units).assign(layers=d, value=lambda f, d=d: f["value"] - d) for d in layers])
    scores = aggregate.max_average_return(frame, by=["units", "layers"])
    assert len(scores) == len(units) * len(layers)
    fig = plots.grid_heatmap(scores, rows="units", cols="layers", row_label="units per layer",
                             col_label="number of layers", title="Fig 4",
                             annotate_cells={(256, 2): "paper: 3000", (999, 2): "not a cell"})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    assert fig.axes[1].get_ylabel() == "max average return"
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(u) for u in units]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(d) for d in layers]
    texts = [t.get_text() for t in ax.texts]
    # One number per cell, plus only the annotation whose cell exists.
    assert len(texts) == len(units) * len(layers) + 1
    assert "paper: 3000" in texts and "not a cell" not in texts
    best = scores.loc[(scores["units"] == 256) & (scores["layers"] == 1), "mean"].item()
    assert f"{best:.0f}" in texts
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("number of layers", "units per layer", "Fig 4")
    assert_saved_png(fig, "grid_heatmap", figures_dir)


def test_grid_heatmap_of_a_grid_with_no_ended_run_is_a_note(figures_dir):
    frame = _evals([64]).assign(layers=1, state="running")
    scores = aggregate.max_average_return(frame, by=["units", "layers"])
    assert scores.empty
    fig = plots.grid_heatmap(scores, rows="units", cols="layers", row_label="units", col_label="layers", title="Fig 4")
    assert "No run of this grid has ended yet" in fig.axes[0].texts[0].get_text()
    assert_saved_png(fig, "grid_heatmap_empty", figures_dir)


# ---- loss landscapes -----------------------------------------------------------------------------

def _landscape(dims: int, points: int = 7, hessian: float | None = 12.5) -> Landscape:
    axis = np.linspace(-1.0, 1.0, points)
    if dims == 1:
        losses = (1.0 + axis ** 2).tolist()
    else:
        a, b = np.meshgrid(axis, axis, indexing="ij")
        losses = (1.0 + a ** 2 + 3 * b ** 2).tolist()
    return Landscape(axis=axis.tolist(), losses=losses, center_loss=1.0, loss_rise={0.1: 0.02, 0.5: 0.4},
                     hessian_top_eigenvalue=hessian, meta={"transitions": 123, "seed": 4})


def _panel_text(ax) -> str:
    return "\n".join(t.get_text() for t in ax.texts)


def test_loss_surface_2d(figures_dir):
    fig = plots.loss_surface(_landscape(2), "Fig 1b: deepest")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3  # contour, 3-D surface, notes
    contour, surface, notes = fig.axes
    assert surface.name == "3d"
    assert contour.get_title().startswith("Fig 1b: deepest") and "log10 J_Q" in contour.get_title()
    assert surface.get_zlabel() == "log10 J_Q"
    text = _panel_text(notes)
    assert "J_Q at the trained weights: 1" in text
    assert "r=0.1: +0.02" in text and "r=0.5: +0.4" in text
    assert "Hessian top eigenvalue: 12.5" in text
    assert "123 transitions, seed 4" in text
    assert_saved_png(fig, "loss_surface_2d", figures_dir)


def test_loss_surface_1d_linear_scale(figures_dir):
    fig = plots.loss_surface(_landscape(1, points=9, hessian=None), "Fig 14 1-D", log_scale=False)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # the line and the notes
    ax, notes = fig.axes
    assert len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1.0 + np.linspace(-1, 1, 9) ** 2)
    assert ax.get_ylabel() == "J_Q"
    assert "Hessian" not in _panel_text(notes)  # no eigenvalue computed: no line for it
    assert_saved_png(fig, "loss_surface_1d", figures_dir)


def test_loss_lines_one_line_per_network(figures_dir):
    lines = {"deeper (8 x 64)": _landscape(1), "wider (2 x 512)": _landscape(1, points=11),
             "middle": _landscape(1, points=5)}
    fig = plots.loss_lines(lines, "Fig 14 (1-D)")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    assert [len(line.get_xdata()) for line in ax.lines] == [7, 11, 5]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.log10(1.0 + np.linspace(-1, 1, 7) ** 2))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"{k}: J_Q(0) = 1" for k in lines]
    assert ax.get_ylabel() == "log10 J_Q (1/2 squared TD error (mse))"  # older landscapes: mse
    assert_saved_png(fig, "loss_lines", figures_dir)


def test_landscape_figures_name_the_runs_td_loss(figures_dir):
    huber = _landscape(1)
    huber.meta["loss"] = "huber"
    fig = plots.loss_surface(huber, "Huber run")
    assert "J_Q: Huber TD loss, delta 1" in _panel_text(fig.axes[1])
    fig = plots.loss_lines({"a": huber, "b": _landscape(1)}, "mixed")
    assert "Huber TD loss" in fig.axes[0].get_ylabel() and "mse" in fig.axes[0].get_ylabel()


def test_loss_lines_rejects_2d():
    with pytest.raises(ValueError, match="dims=1"):
        plots.loss_lines({"surface": _landscape(2)}, "t")


# ---- Ape-X schematic -----------------------------------------------------------------------------

@pytest.mark.parametrize("n_core,n_env,rows,env_boxes", [(2, 3, 2, 3), (2, 32, 2, 4), (8, 2, 4, 2)])
def test_apex_schematic_follows_the_configuration(n_core, n_env, rows, env_boxes, figures_dir):
    fig = plots.apex_schematic(n_core, n_env, sync_every=5, replay="uniform")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert sum(t.endswith("envs, one vector env") for t in texts) == rows  # at most 4 cores drawn
    assert all(f"{n_env} envs" in t for t in texts if t.endswith("one vector env"))
    assert sum(t.startswith("env ") for t in texts) == rows * env_boxes
    assert f"env {n_env}" in texts  # the last environment is always drawn
    assert "shared replay\n(uniform)" in texts
    assert (f"... {n_core} cores in all" in texts) == (n_core > 4)
    assert f"N_core = {n_core} x N_env = {n_env}" in ax.get_title() and "every 5 vector steps" in ax.get_title()
    assert_saved_png(fig, f"apex_{n_core}x{n_env}", figures_dir)


# ---- stamp and save ------------------------------------------------------------------------------

def test_stamp_wraps_long_footers_and_save_replaces(figures_dir):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    footer = "profile=smoke: " + " ".join(["word"] * 80)
    plots.stamp(fig, footer)
    (text,) = fig.texts
    assert text.get_text().count("\n") >= 2  # wrapped to the figure's width
    assert text.get_text().replace("\n", " ") == footer
    # The axes were laid out above the footer.
    assert ax.get_position().y0 > 0.1
    first = plots.save(fig, "stamped", figures_dir)
    size = first.stat().st_size
    fig.set_size_inches(8, 6)
    second = plots.save(fig, "stamped", figures_dir)
    assert second == first and second.stat().st_size != size  # replaced, not appended to
    assert sorted(p.name for p in figures_dir.iterdir()) == ["stamped.png"]


# ---- per-task panels (Bjorck et al.) -------------------------------------------------------------

def _task_evals() -> pd.DataFrame:
    rows = []
    for ti, task in enumerate(["dmc:cartpole-swingup", "dmc:walker-walk", "dmc:finger-spin"]):
        for hi, heads in enumerate(["modern4", "modern4_sn"]):
            for seed in (0, 1):
                for frames in (0, 200, 400):
                    rows.append({"run": f"{task}-{heads}-{seed}", "task": task, "heads": heads, "seed": seed,
                                 "step": frames // 2, "frames": frames, "metric": "eval_return",
                                 "value": 100.0 * ti + 10 * hi + frames / 10 + seed,
                                 "state": "crashed" if (ti, hi, seed) == (0, 0, 1) else "finished"})
    return pd.DataFrame(rows)


def test_task_learning_curves_one_panel_per_task_on_frames_with_crashes(figures_dir):
    frame = _task_evals()
    curves = aggregate.curves(frame, by=["task", "heads"], x="frames")
    crashes = aggregate.crash_counts(frame, ["task", "heads"])
    order = ["dmc:walker-walk", "dmc:cartpole-swingup", "dmc:finger-spin"]
    ref = {"dmc:walker-walk": {"paper": 250.0}}
    fig = plots.task_learning_curves(curves, "heads", "Fig 4", tasks=order, crashes=crashes, reference=ref, ncols=2)
    axes = fig.axes
    assert len(axes) == 4 and not axes[3].axison  # 3 tasks in a 2 x 2 grid, the spare panel blank
    assert axes[0].get_title().startswith("dmc:walker-walk") and axes[1].get_title().startswith("dmc:cartpole-swingup")
    assert "modern4 1/2" in axes[1].get_title() and "modern4_sn 0/2" in axes[1].get_title()
    assert all(ax.get_xlabel() == "environment frames" for ax in axes[:3])
    np.testing.assert_array_equal(axes[0].lines[0].get_xdata(), [0, 200, 400])  # frames, not agent steps
    assert [line.get_ydata()[0] for line in axes[0].lines if line.get_linestyle() == "--"] == [250.0]
    assert fig._suptitle.get_text() == "Fig 4"
    assert_saved_png(fig, "task_learning_curves", figures_dir)


def test_task_intervals_one_row_per_task_with_published_markers(figures_dir):
    frame = _task_evals()
    scores = aggregate.seed_scores(frame, ["task", "heads"], score="final").assign(crashed=False)
    summary = aggregate.score_summary(scores, ["task", "heads"], reps=200)
    ref = pd.DataFrame({"task": ["dmc:finger-spin"], "heads": ["modern4_sn"], "value": [882.5]})
    fig = plots.task_intervals(summary, "heads", "Fig 1", reference=ref, reference_label="Table 2")
    ax = fig.axes[0]
    # rows in the summary's order (score_summary sorts its groups) unless `tasks` orders them
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dmc:cartpole-swingup", "dmc:finger-spin", "dmc:walker-walk"]
    ordered = plots.task_intervals(summary, "heads", "Fig 1", tasks=["dmc:walker-walk", "dmc:finger-spin",
                                                                     "dmc:cartpole-swingup"]).axes[0]
    assert [t.get_text() for t in ordered.get_yticklabels()][0] == "dmc:walker-walk"
    diamonds = [line for line in ax.lines if line.get_marker() == "D"]
    assert len(diamonds) == 1 and diamonds[0].get_xdata()[0] == 882.5
    points = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(points) == 6 and sorted(p.get_xdata()[0] for p in points)[0] == pytest.approx(40.5)
    assert "Table 2" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.get_text() == "n=2, 0 crashed" for t in ax.texts)
    assert "95 % bootstrap CI" in ax.get_xlabel()
    assert_saved_png(fig, "task_intervals", figures_dir)


def test_departures_name_what_a_reduced_grid_changes():
    from rlcore.experiments import BJORCK, bjorck_fig4_sn

    paper = bjorck_fig4_sn("paper")
    assert plots.departures(paper, paper) == ""
    smoke = plots.departures(bjorck_fig4_sn("smoke"), paper)
    for part in ("1 task of the paper's 15", "1 seed (paper 10)", "400 frames (paper 500,000)",
                 "32x32 frames (paper 84x84)", "batch 32 (paper 512)", "episodes capped at 200 frames"):
        assert part in smoke
    quick = plots.departures(bjorck_fig4_sn("quick"), paper)
    batch = BJORCK["quick"]["batch_size"]
    assert "action repeat 8 (paper 2)" in quick and f"batch {batch} (paper 512)" in quick and "32x32" not in quick


def test_training_dynamics_draws_each_seed_thin_and_the_mean_thick(figures_dir):
    rows = [dict(heads=h, seed=s, frames=f, metric=m, value=(1 + s) * (10 if h == "modern4" else 1) * f)
            for h in ("mlp2", "modern4") for s in (0, 1) for f in (100, 200, 300)
            for m in ("squared_td_error", "eval_return")]
    panels = [("squared_td_error", "critic loss", True), ("eval_return", "return", False),
              ("train_actor_grad_norm", "actor gradient norm", True)]
    fig = plots.training_dynamics(pd.DataFrame(rows), panels, "heads", "Fig 3", crashed=[("modern4", 1)])
    loss, ret, empty = fig.axes[:3]
    assert loss.get_yscale() == "log" and ret.get_yscale() == "linear"
    thick = [line for line in loss.lines if line.get_linewidth() > 2]
    assert len(thick) == 2 and len([line for line in loss.lines if line.get_linewidth() < 1]) == 4
    mean_m4 = next(line for line in thick if "modern4" in line.get_label())
    assert list(mean_m4.get_ydata()) == pytest.approx([1500.0, 3000.0, 4500.0])  # (1 + 2) / 2 x 10 x frames
    assert [line.get_marker() for line in loss.lines].count("x") == 1
    assert "no train_actor_grad_norm rows" in [t.get_text() for t in empty.texts]
    assert not fig.axes[3].axison  # the fourth slot of the 2 x 2 grid is unused
    assert_saved_png(fig, "training_dynamics", figures_dir)


def test_relative_cost_shows_ours_and_the_papers_increase(figures_dir):
    from rlcore.analysis import cost

    summary = pd.DataFrame([dict(heads=h, metric=m, unit=u, mean=v * (1 + 0.5 * i), std=0.0, runs=1)
                            for i, h in enumerate(("mlp2", "modern4"))
                            for (m, u), v in zip(cost.METRICS.items(), (2.0, 50.0, 900.0, 1.0, 40.0, 10.0))])
    summary["relative"] = summary.groupby("metric")["mean"].transform(lambda s: s / s.iloc[0] - 1)
    fig = plots.relative_cost(cost.table3_comparison(summary), "Table 3")
    assert len(fig.axes) == 4
    train_mem = fig.axes[0]
    assert "train memory" in train_mem.get_title() and "2 GB" in train_mem.get_title()
    heights = sorted(round(p.get_height(), 1) for p in train_mem.patches)
    assert heights == [16.8, 50.0]  # paper 4.73 / 4.05 - 1; ours +50 %
    assert "+17%" in [t.get_text() for t in train_mem.texts]
    assert_saved_png(fig, "relative_cost", figures_dir)
