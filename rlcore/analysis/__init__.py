"""The papers' instruments: effective rank, gradient norms, loss landscapes, the heads' compute and memory cost."""

from .cost import (TABLE3_HEADS, TABLE3_PROFILES, MeasurementFailed, cost_summary, machine_info, measure_cost,
                   table3_comparison, table3_settings)
from .gradients import global_grad_norm
from .landscape import (Landscape, PixelCritic, TDData, directions, evaluate_points, evaluate_pointwise, grid_coords,
                        hessian_top_eigenvalue, is_pixel_agent, loss_landscape, loss_rise_at_radii, orthogonalize,
                        pixel_q_network_data, q_network_data, random_direction, run_landscape, td_loss)
from .td_targets import TDTargets, frozen_td_targets
from .rank import DELTA, critic_feature_rank, critic_penultimate_features, srank, srank_from_singular_values

__all__ = ["global_grad_norm", "Landscape", "PixelCritic", "TDData", "TDTargets", "directions", "evaluate_points",
           "evaluate_pointwise", "run_landscape", "frozen_td_targets", "grid_coords", "hessian_top_eigenvalue",
           "is_pixel_agent", "loss_landscape", "loss_rise_at_radii", "orthogonalize", "pixel_q_network_data",
           "q_network_data", "random_direction", "DELTA", "critic_feature_rank", "critic_penultimate_features",
           "srank", "srank_from_singular_values", "td_loss", "TABLE3_HEADS", "TABLE3_PROFILES", "MeasurementFailed",
           "cost_summary", "machine_info", "measure_cost", "table3_comparison", "table3_settings"]
