"""Parameter counts per layer, read from the modules themselves (never from formulas).

One row per linear layer. A normalization layer is counted with the linear layer that precedes it
in the module (linear -> norm -> act for MLP/DenseNet/ResNet; for pre-norm blocks that is the
previous block's output layer). Counts are per ensemble member (`members` says how many):

  weights      W and b of the linear layer
  norm_params  learned affine parameters of its normalization (gamma, beta)
  norm_stats   BatchNorm running mean and variance (buffers, not trained; counted by Keras and by
               Ota et al. 2021 Table 2, whose rows include them)
  parameters   weights + norm_params + norm_stats: the number Table 2 publishes

An actor whose output layer holds several heads side by side (SAC's mean and log-std) gets one
row per head, as the OFENet code builds them as separate layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from .layers import EnsembleBatchNorm, EnsembleLayerNorm, EnsembleLinear

if TYPE_CHECKING:  # pandas is imported by the table functions only: acting processes never load it
    import pandas as pd

COLUMNS = ["network", "layer", "input_units", "output_units", "members", "weights", "norm_params",
           "norm_stats", "parameters"]


def _ordinal(i: int) -> str:
    suffix = "th" if 10 <= i % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(i % 10, "th")
    return f"{i}{suffix} layer"


def layer_rows(module: nn.Module, network: str, output_heads: tuple[str, ...] = (),
               last_is_output: bool = True) -> list[dict]:
    rows: list[dict] = []
    for m in module.modules():
        if isinstance(m, EnsembleLinear):
            rows.append(dict(network=network, input_units=m.in_features, output_units=m.out_features,
                             members=m.n, weights=(m.in_features + 1) * m.out_features,
                             norm_params=0, norm_stats=0))
        elif isinstance(m, (EnsembleBatchNorm, EnsembleLayerNorm)) and rows:
            n = rows[-1]["members"]
            if isinstance(m, EnsembleBatchNorm):
                rows[-1]["norm_params"] += (m.bn.weight.numel() + m.bn.bias.numel()) // n
                rows[-1]["norm_stats"] += (m.bn.running_mean.numel() + m.bn.running_var.numel()) // n
            else:
                rows[-1]["norm_params"] += (m.weight.numel() + m.bias.numel()) // n
    for i, row in enumerate(rows, 1):
        row["layer"] = "output layer" if (last_is_output and i == len(rows)) else _ordinal(i)
    if output_heads and rows:
        out = rows.pop()
        width = out["output_units"] // len(output_heads)
        for head in output_heads:
            rows.append({**out, "layer": f"output layer ({head})", "output_units": width,
                         "weights": (out["input_units"] + 1) * width})
    for row in rows:
        row["parameters"] = row["weights"] + row["norm_params"] + row["norm_stats"]
    return rows


def parameter_table(agent) -> pd.DataFrame:
    """Per-layer parameter counts of an agent's trained networks (targets are copies, left out)."""
    rows: list[dict] = []
    extractor = agent.extractor
    if getattr(extractor, "learns", False):
        rows += layer_rows(extractor.state_stack, "OFENet z_s", last_is_output=False)
        rows += layer_rows(extractor.state_action_stack, "OFENet z_sa", last_is_output=False)
        rows += layer_rows(extractor.predictor, "OFENet predictor")
    actor = agent.actor
    rows += layer_rows(actor.trunk, "actor", output_heads=getattr(actor, "output_heads", ()))
    rows += layer_rows(agent.critic, "critic")
    import pandas as pd

    return pd.DataFrame(rows, columns=COLUMNS)


def totals(table: pd.DataFrame) -> pd.DataFrame:
    """Per network: parameters per member, members, and all members together."""
    g = table.groupby("network", sort=False).agg(parameters=("parameters", "sum"), members=("members", "max"))
    g["all_members"] = g["parameters"] * g["members"]
    return g.reset_index()
