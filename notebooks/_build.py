"""Writes the source notebooks from the cell texts below (kept as code so diffs stay readable).

    .venv/bin/python notebooks/_build.py

Source notebooks are committed without outputs; executed copies go to results/<profile>/notebooks/.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent


def notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[])
    for kind, text, *tags in cells:
        cell = new_markdown_cell(text.strip()) if kind == "md" else new_code_cell(text.strip())
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


SIZE_SWEEP = [
    ("md", r"""
# Ota et al. 2021 — Fig 1a, Fig 3a, Fig 4: deeper vs wider SAC networks on Ant

Reproduces the network-size study of *Training Larger Networks for Deep Reinforcement Learning*
(Ota, Jha, Kanezaki 2021, Sec. 4.1): SAC whose actor and critic are plain MLPs of
$N^{unit}$ units $\times$ $N^{layer}$ layers.

* **Fig 1a** — depth sweep at 256 units: the paper finds deeper is *worse*.
* **Fig 3a** — width sweep at 2 layers: the paper finds wider is consistently *better*.
* **Fig 4** — the grid $N^{unit} \in \{128,\dots,2048\} \times N^{layer} \in \{1,\dots,16\}$ of maximum
  average return at 1M steps.

**Paper settings** (Ota Sec. 4, A.1, A.4): Ant-v2 (111-dim observation, 8-dim action; here Ant-v4 with
`use_contact_forces=True`, which has the same dimensions), SAC with the original hyperparameters
(Haarnoja et al. 2018b) and Huber critic loss (A.1), 10k random warm-up steps, 1M steps,
evaluation every 5k steps over 10 episodes, 5 seeds, mean $\pm$ 1 std.

**Profiles.** `smoke` (default) runs the whole pipeline in about a minute with tiny networks and
budgets: its numbers mean nothing. `quick` shows the trends at reduced scale (a few CPU hours).
`paper` is the paper's experiment (GPU days). Run another profile with
`make reproduce PROFILE=quick NOTEBOOK=ota2021_size_sweep`, or
`papermill notebooks/ota2021_size_sweep.ipynb out.ipynb -p profile quick`.
Every figure states the profile and budget it came from.
"""),
    ("code", r"""
profile = "smoke"      # smoke | quick | paper
env_id = None          # None -> Ant-v4(use_contact_forces=True), the paper-sized 111-dim Ant observation
units = None           # None -> the profile's grid (paper: [128, 256, 512, 1024, 2048])
layers = None          # None -> the profile's grid (paper: [1, 2, 4, 8, 16])
seeds = None           # None -> the profile's seeds (paper: [0, 1, 2, 3, 4])
total_steps = None     # None -> the profile's budget (paper: 1_000_000)
run_missing = True     # False: plot only runs already in results/ (no training)
""", "parameters"),
    ("code", r"""
%matplotlib inline
import matplotlib.pyplot as plt

from rlcore import aggregate, plots, reference
from rlcore.experiments import ota_size_sweep
from rlcore.plots import default_figures_dir
from rlcore.results import default_results_dir, load_sweep, save_table
from rlcore.sweep import run_sweep

sweep = ota_size_sweep(profile, env=env_id, units=units, layers=layers, seeds=seeds, total_steps=total_steps)
results_dir, figures_dir = default_results_dir(profile), default_figures_dir(profile)
fixed_units, fixed_layers = sweep.axes["fixed_units"], sweep.axes["fixed_layers"]
footer = f"{sweep.budget_line}; env {sweep.configs[0].env.id}"
print(f"{len(sweep)} runs ({sweep.description})\n{footer}\nresults: {results_dir}\nfigures: {figures_dir}")
"""),
    ("code", r"""
# Cached by config hash: finished runs are skipped, interrupted ones resume from their checkpoint.
if run_missing:
    status = run_sweep(sweep.configs, results_dir, progress=True)
    display(status)
"""),
    ("code", r"""
width, depth = "agent.critic.width", "agent.critic.depth"
evals = load_sweep(sweep.configs, results_dir, config_columns=[width, depth])
evals = evals.rename(columns={width: "units", depth: "layers"})
print(evals.groupby("state")["run"].nunique().to_string())
"""),
    ("md", r"""
## Fig 1a — deeper networks at fixed width
Paper: performance drops as layers grow at 256 units (curves published as an image only).
"""),
    ("code", r"""
curves = aggregate.curves(evals, by=["units", "layers"])
fig = plots.learning_curves(curves[curves["units"] == fixed_units], hue="layers", hue_label="layers",
                            title=f"Fig 1a: SAC on Ant, {fixed_units} units, varying depth")
plots.stamp(fig, f"{footer}. Paper: {reference.OTA2021_CLAIMS['fig1a']}")
plots.save(fig, "ota2021_fig01a_depth_sweep", figures_dir); plt.show()
"""),
    ("md", r"""
## Fig 3a — wider networks at fixed depth
Paper: wider is consistently better; the dashed line is the paper's original SAC (256 x 2) on Ant-v2,
5953.1 (Table 1, maximum average return over 1M steps).
"""),
    ("code", r"""
ref = {"paper: SAC 256x2, Ant-v2, 1M steps (Table 1)": reference.OTA2021_SAC_ANT_256x2} if profile == "paper" else None
fig = plots.learning_curves(curves[curves["layers"] == fixed_layers], hue="units", hue_label="units",
                            title=f"Fig 3a: SAC on Ant, {fixed_layers} layers, varying width", reference=ref)
plots.stamp(fig, f"{footer}. Paper: {reference.OTA2021_CLAIMS['fig3a']} "
                 f"Paper's SAC 256x2 on Ant-v2: {reference.OTA2021_SAC_ANT_256x2} (Table 1).")
plots.save(fig, "ota2021_fig03a_width_sweep", figures_dir); plt.show()
"""),
    ("md", r"""
## Fig 4 — units x layers grid of maximum average return
Each cell: the maximum over evaluations of the average return, per seed, then averaged over seeds
(`aggregate.max_average_return(mode="mean_of_max")`; `"max_of_mean"` is the other reading of the
paper's wording). The paper publishes the grid only as an image; the one printed number for a cell is
the original SAC (256 units x 2 layers) on Ant-v2 at 1M steps, 5953.1 (Table 1), shown in that cell.
"""),
    ("code", r"""
scores = aggregate.max_average_return(evals, by=["units", "layers"])
paper_cell = {(256, 2): f"paper: {reference.OTA2021_SAC_ANT_256x2:.0f}"}
fig = plots.grid_heatmap(scores, rows="units", cols="layers", row_label="units per layer",
                         col_label="number of layers", title="Fig 4: max average return, SAC on Ant",
                         annotate_cells=paper_cell)
plots.stamp(fig, f"{footer}. Paper: {reference.OTA2021_CLAIMS['fig4']}")
plots.save(fig, "ota2021_fig04_units_layers_grid", figures_dir); plt.show()
table = scores.assign(profile=profile, total_steps=sweep.configs[0].budget.total_steps)
print("table ->", save_table(table, "ota2021_fig04_units_layers_grid", profile))
table
"""),
    ("md", r"""
## Fig 1b and Fig 3b — loss surfaces of the deepest and the widest Q-networks

*Placeholder, filled by the analysis-tools issue:* the TD loss $J_Q$ of eq. (2)-(3) around the trained
weights of the deepest (16 x 256) and widest (2 x 2048) critics of this sweep, along two
filter-normalized random directions (Li et al. 2018; Ota A.3). Each finished run saves its final
weights to `agent.pt` in its run directory for this purpose.
"""),
]

NOTEBOOKS = {"ota2021_size_sweep": SIZE_SWEEP}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")
