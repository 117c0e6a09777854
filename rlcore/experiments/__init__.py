"""The papers' experiments as config grids, scaled by profile. Notebooks and the CLI share these.

Each function returns a `Sweep`: the run configs plus what a figure needs to say about them.
`ota` holds Ota et al. 2021's grids, `bjorck` Bjorck et al. 2021's (and the pixel agents' head
presets); `EXPERIMENTS` names every grid the CLI's `sweep --experiment` runs.
"""

from __future__ import annotations

from ..config import ConfigError
from .base import Sweep
from .bjorck import (BJORCK, BJORCK_EXPERIMENTS, DRQV2_EASY, DRQV2_HARD, DRQV2_STD_STEPS, DRQV2_TASK_OVERRIDES, HEAD_PRESETS, HEAD_WIDTH,
                     FIG3_TASK, bjorck_appendix_a, bjorck_env, bjorck_fig1_modern, bjorck_fig2_depth,
                     bjorck_fig3_dynamics, bjorck_fig4_sn, bjorck_heads, bjorck_sweep, bjorck_table1_drqv2,
                     bjorck_table2, drqv2_difficulty, drqv2_task_settings, pixel_agent)
from .ota import (ABLATION, ABLATION_VARIANTS, ACTIVATION_SWEEP, APEX, CONNECTIVITY, FIG14, LANDSCAPE,
                  OFENET_2020_LAYERS, OFENET_GRID, OTA_ANT, OTA_TASKS, PAPER_ACTIVATION, SIZE_SWEEP,
                  TASKS_GRID, TASK_METHODS, ablation_variant, apex_collect, deepest_and_widest, ofenet_2020,
                  ota2021_table2, ota_ablation_variant, ota_activation_sweep, ota_agent, ota_apex_grid,
                  ota_connectivity_sweep, ota_env, ota_fig09_table1_tasks, ota_fig10_ablation,
                  ota_fig14_runs, ota_ofenet_grid, ota_ours_agent, ota_size_sweep, ota_task_method,
                  task_method)

EXPERIMENTS = {"ota_size_sweep": ota_size_sweep, "ota_activation_sweep": ota_activation_sweep,
               "ota_fig14_runs": ota_fig14_runs, "ota_connectivity_sweep": ota_connectivity_sweep,
               "ota_ofenet_grid": ota_ofenet_grid, "ota_apex_grid": ota_apex_grid,
               "ota_fig09_table1_tasks": ota_fig09_table1_tasks, "ota_fig10_ablation": ota_fig10_ablation,
               **BJORCK_EXPERIMENTS}


def get_experiment(name: str):
    if name not in EXPERIMENTS:
        raise ConfigError("experiment", name, f"one of {', '.join(map(repr, EXPERIMENTS))}")
    return EXPERIMENTS[name]


__all__ = ["BJORCK", "BJORCK_EXPERIMENTS", "FIG3_TASK", "bjorck_appendix_a", "bjorck_env", "bjorck_fig1_modern",
           "bjorck_fig2_depth", "bjorck_fig3_dynamics", "bjorck_fig4_sn", "bjorck_sweep", "bjorck_table1_drqv2",
           "bjorck_table2", "ABLATION", "ABLATION_VARIANTS", "ACTIVATION_SWEEP", "APEX", "CONNECTIVITY", "DRQV2_EASY",
           "DRQV2_HARD", "DRQV2_STD_STEPS", "DRQV2_TASK_OVERRIDES", "EXPERIMENTS", "FIG14", "HEAD_PRESETS",
           "HEAD_WIDTH", "LANDSCAPE", "OFENET_2020_LAYERS", "OFENET_GRID", "OTA_ANT", "OTA_TASKS",
           "PAPER_ACTIVATION", "SIZE_SWEEP", "Sweep", "TASKS_GRID", "TASK_METHODS", "ablation_variant",
           "apex_collect", "bjorck_heads", "deepest_and_widest", "drqv2_difficulty", "drqv2_task_settings",
           "get_experiment", "ofenet_2020", "ota2021_table2", "ota_ablation_variant", "ota_activation_sweep",
           "ota_agent", "ota_apex_grid", "ota_connectivity_sweep", "ota_env", "ota_fig09_table1_tasks",
           "ota_fig10_ablation", "ota_fig14_runs", "ota_ofenet_grid", "ota_ours_agent", "ota_size_sweep",
           "ota_task_method", "pixel_agent", "task_method"]
