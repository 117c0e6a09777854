"""The papers' published numbers, typed in from the texts in shared/papers, for side-by-side display.

Only numbers printed in the papers' text and tables are here. Figures whose values exist only as
images (e.g. Ota Fig 1a, 3a, 4) have no numeric entry; their claims are quoted instead.
"""

from __future__ import annotations

import pandas as pd

# Ota et al. 2021, Table 1: highest average return (1M steps, 5 seeds), MuJoCo -v2 tasks.
_OTA_TABLE1 = {
    # env:          (SAC ours, SAC OFENet, SAC original, TD3 ours, TD3 OFENet, TD3 original)
    "Hopper-v2":      (3467.3, 3511.6, 3316.6, 3206.7, 3488.3, 3613.0),
    "Walker2d-v2":    (8802.4, 5237.0, 3401.5, 7645.8, 4915.1, 4515.6),
    "HalfCheetah-v2": (19209.9, 16964.1, 14116.1, 18147.5, 16259.5, 13319.9),
    "Ant-v2":         (14021.0, 8086.2, 5953.1, 12811.3, 8472.4, 6148.6),
    "Humanoid-v2":    (14858.2, 9560.5, 6092.6, 13282.0, 120.6, 340.5),
}


def ota2021_table1() -> pd.DataFrame:
    """Long format: env, algo, method, max_average_return."""
    rows = []
    for env, values in _OTA_TABLE1.items():
        for (algo, method), v in zip([(a, m) for a in ("sac", "td3") for m in ("ours", "ofenet", "original")],
                                     values):
            rows.append({"env": env, "algo": algo, "method": method, "max_average_return": v})
    return pd.DataFrame(rows)


# Original SAC (256x2 MLP) on Ant-v2 from Table 1: the one cell of Fig 4's grid with a printed number.
OTA2021_SAC_ANT_256x2 = _OTA_TABLE1["Ant-v2"][2]

OTA2021_CLAIMS = {
    "fig1a": "Deeper MLPs at 256 units do not improve SAC on Ant-v2; performance drops as layers grow "
             "(Ota et al. 2021, Sec. 4.1, Fig 1a; curves published as an image only).",
    "fig3a": "Wider 2-layer MLPs improve SAC on Ant-v2 consistently, about 1.5x from 256 to 2048 units "
             "(Sec. 4.1, Fig 3a; Li 2022 slides).",
    "fig4": "Max average return at 1M steps grows monotonically with width at almost every depth, "
            "not with depth (Sec. 4.1, Fig 4; grid values published as an image only).",
}
