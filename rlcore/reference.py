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


def ota2021_normalizer() -> dict[str, float]:
    """Task family ("Hopper", ...) -> Ota Table 1's SAC (Original) highest average return at 1M steps:
    the reference score that normalizes returns before tasks are pooled (1.0 = the paper's original
    SAC on that task; 0 = a return of 0). One normalizer for SAC and TD3, so their pooled scores
    share a scale. The paper ran -v2 tasks; ours are -v4 (see experiments.OTA_TASKS)."""
    return {env.split("-")[0]: values[2] for env, values in _OTA_TABLE1.items()}


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

# Ota et al. 2021, Table 2 (Appendix A.2): parameters per layer on Ant-v2 (111-dim observation,
# 8-dim action). "SAC" rows are the policy network; its output layer is one 8-unit head.
# (network, layer, input units, output units, parameters); the published totals follow.
_OTA_TABLE2_OURS = [
    ("OFENet z_s", "1st layer", 111, 256, 29_696),
    ("OFENet z_s", "2nd layer", 367, 256, 95_232),
    ("OFENet z_s", "3rd layer", 623, 256, 160_768),
    ("OFENet z_s", "4th layer", 879, 256, 226_304),
    ("OFENet z_s", "5th layer", 1_135, 256, 291_840),
    ("OFENet z_s", "6th layer", 1_391, 256, 357_376),
    ("OFENet z_s", "7th layer", 1_647, 256, 422_912),
    ("OFENet z_s", "8th layer", 1_903, 256, 488_448),
    ("SAC", "1st layer", 2_159, 2_048, 4_423_680),
    ("SAC", "2nd layer", 4_207, 2_048, 8_617_984),
    ("SAC", "output layer", 6_255, 8, 50_048),
]
_OTA_TABLE2_ORIGINAL = [
    ("SAC", "1st layer", 111, 256, 28_672),
    ("SAC", "2nd layer", 256, 256, 65_792),
    ("SAC", "output layer", 256, 8, 2_056),
]
# Published TOTAL rows: OFENet z_s 2,072,576; SAC (ours) 13,091,712; SAC (original) 96,520; and
# an overall TOTAL of 10,709,000 for "ours", which is not the sum of its own rows (15,164,288).
OTA2021_TABLE2_TOTALS = {"ours": {"OFENet z_s": 2_072_576, "SAC": 13_091_712, "TOTAL": 10_709_000},
                         "original": {"SAC": 96_520, "TOTAL": 96_520}}


def ota2021_table2() -> pd.DataFrame:
    """Long format: agent ("ours" / "original"), network, layer, input_units, output_units, parameters."""
    rows = [dict(agent=agent, network=n, layer=l, input_units=i, output_units=o, parameters=p)
            for agent, table in (("ours", _OTA_TABLE2_OURS), ("original", _OTA_TABLE2_ORIGINAL))
            for n, l, i, o, p in table]
    return pd.DataFrame(rows)


# ---- Bjorck et al. 2021 (shared/papers/bjorck2021-spectral-normalization.md) -------------------------
#
# What the text's "±" is, it never says for any of its three tables. Its figures give "one standard
# error" (Figs 1, 2); Table 1's caption says only "averaged over 10 seeds", Table 2's text "averaged
# across 10 seeds", Table 3's "averaged across 5 runs". An inference, not the text's word: Table 2's
# ± cannot be a standard error over 10 seeds in several cells (e.g. 148.7 ± 299.3, walker walk
# 754.3 ± 356.7): DMC returns lie in [0, 1000], so the sample standard deviation of 10 of them is at
# most ~527 and its standard error at most ~167. Table 2's ± is therefore most likely a standard
# deviation across seeds. Table 1's and Table 3's ± fit either reading.

# The text's short task names (Tables 1 and 2) -> our dm_control ids. Table 2's "swingup", "balance",
# "balance sparse", "swingup sparse" are the cartpole tasks (the 15 tasks of Kostrikov et al., Sec 3.1;
# pendulum swingup is named in full). Table 1's "cartpole sparse" is resolved by `bjorck2021_table1`.
_BJORCK_PAPER_TASKS = {
    "ball in cup catch": "dmc:ball_in_cup-catch",
    "cup catch": "dmc:ball_in_cup-catch",  # Table 1's name
    "swingup": "dmc:cartpole-swingup",
    "cheetah run": "dmc:cheetah-run",
    "walker run": "dmc:walker-run",
    "finger spin": "dmc:finger-spin",
    "reacher hard": "dmc:reacher-hard",
    "pendulum swingup": "dmc:pendulum-swingup",
    "hopper hop": "dmc:hopper-hop",
    "hopper stand": "dmc:hopper-stand",
    "walker walk": "dmc:walker-walk",
    "balance": "dmc:cartpole-balance",
    "balance sparse": "dmc:cartpole-balance_sparse",
    "swingup sparse": "dmc:cartpole-swingup_sparse",
    "reacher easy": "dmc:reacher-easy",
    "walker stand": "dmc:walker-stand",
}

# Table 1 "cartpole sparse": which cartpole task it is (see `bjorck2021_table1`); the first is the default.
BJORCK_CARTPOLE_SPARSE = ("balance_sparse", "swingup_sparse")

# Table 1 (DrQ-v2, Yarats et al. 2021), 0.5M frames, 10 seeds. (mean, ±) per column:
# MLP, modern, modern + SN. "975.32 \pm 1.3" is printed with one decimal; typed as printed.
_BJORCK_TABLE1 = {
    "cup catch":       ((966.67, 2.32), (107.46, 21.43), (975.32, 1.3)),
    "walker walk":     ((477.40, 117.96), (6.10, 9.08), (739.94, 20.88)),
    "cartpole sparse": ((1000.00, 0.00), (11.27, 0.16), (1000.00, 0.00)),
    "hopper stand":    ((403.82, 123.85), (2.95, 0.99), (796.60, 85.04)),
    "reacher easy":    ((756.15, 70.48), (77.22, 19.95), (801.83, 66.31)),
}
# The text's column -> our head preset (experiments.HEAD_PRESETS). Sec 5.3: DrQ-v2 uses "the same modern
# and base networks as for the SAC-based agent"; Sec 3.2's modern net has four blocks in the critic and
# two in the actor (our modern4); the base net is DrQ's 2-hidden-layer MLP (Sec 3.1, our mlp2).
_BJORCK_TABLE1_HEADS = {"MLP": "mlp2", "modern": "modern4", "modern + SN": "modern4_sn"}

# Table 2 (DrQ and Dreamer, step 500,000, 10 seeds), in the text's order (four tasks per block, read
# left to right, block after block). (mean, ±) per row: MLP + DRQ, Modern+SN+DRQ, Dreamer.
# Dreamer's walker walk is printed "863." and typed 863.0.
_BJORCK_TABLE2 = {
    "ball in cup catch": ((884.6, 262.0), (968.9, 13.3), (767.1, 63.3)),
    "swingup":           ((805.7, 64.9), (862.3, 15.2), (592.4, 31.3)),
    "cheetah run":       ((502.8, 315.5), (708.9, 46.2), (630.7, 23.3)),
    "walker run":        ((419.2, 170.5), (501.0, 57.0), (466.2, 21.1)),
    "finger spin":       ((851.7, 156.8), (882.5, 149.0), (466.8, 42.1)),
    "reacher hard":      ((674.7, 332.0), (875.1, 75.5), (65.7, 16.5)),
    "pendulum swingup":  ((297.8, 352.6), (586.4, 381.3), (494.3, 98.9)),
    "hopper hop":        ((196.1, 72.0), (254.2, 67.7), (136.0, 28.5)),
    "hopper stand":      ((743.1, 280.5), (854.7, 63.5), (663.7, 70.3)),
    "walker walk":       ((754.3, 356.7), (902.2, 67.4), (863.0, 27.2)),
    "balance":           ((981.5, 39.6), (984.8, 29.4), (938.2, 13.0)),
    "balance sparse":    ((910.5, 268.6), (968.1, 72.3), (935.2, 22.5)),
    "swingup sparse":    ((148.7, 299.3), (620.8, 311.0), (267.8, 25.4)),
    "reacher easy":      ((753.9, 205.0), (814.0, 85.8), (830.4, 31.4)),
    "walker stand":      ((696.9, 329.4), (953.0, 19.8), (955.3, 8.7)),
}
# The text's row -> (method, our head preset). Modern+SN is Sec 3.2's modern net (Sec 5.1: "the modern
# network defined in Section 3.2"), i.e. our modern4_sn; Dreamer has no head preset and is not rerun here.
_BJORCK_TABLE2_ROWS = {"MLP + DRQ": ("drq", "mlp2"), "Modern+SN+DRQ": ("drq", "modern4_sn"),
                       "Dreamer": ("dreamer", None)}

# The 15 DMC tasks of Table 2 (Kostrikov et al.'s, Sec 3.1), in Table 2's order, and Table 1's 5 tasks
# in Table 1's order with "cartpole sparse" as our default reading (balance_sparse).
BJORCK_TASKS = tuple(_BJORCK_PAPER_TASKS[t] for t in _BJORCK_TABLE2)
BJORCK_TABLE1_TASKS = ("dmc:ball_in_cup-catch", "dmc:walker-walk", "dmc:cartpole-balance_sparse",
                       "dmc:hopper-stand", "dmc:reacher-easy")

# Table 3 (DrQ, Tesla V100, 5 runs): per row (metric, unit) the text's (mean, ±) for its columns
# mlp2, mlp4, "modern 2" (printed with a space), modern4. The table ends after "act time (ms)": four
# rows, all typed. Printed with "±" (the other tables print "\pm").
_BJORCK_TABLE3_HEADS = {"mlp2": "mlp2", "mlp4": "mlp4", "modern 2": "modern2", "modern4": "modern4"}
_BJORCK_TABLE3 = {
    ("train mem (GB)", "train_mem", "GB"): ((4.05, 0.0), (4.19, 0.0), (4.27, 0.0), (4.73, 0.0)),
    ("act mem (MB)", "act_mem", "MB"): ((50.16, 0.0), (93.26, 0.0), (112.66, 0.0), (247.04, 0.0)),
    ("train time (ms)", "train_time", "ms"): ((98.14, 0.15), (104.1, 0.14), (105.76, 0.23), (125.21, 0.1)),
    ("act time (ms)", "act_time", "ms"): ((1.19, 0.09), (1.26, 0.02), (1.4, 0.1), (1.35, 0.02)),
}
BJORCK2021_TABLE3_NOTE = (
    "Bjorck et al. 2021, Sec 5.4 / Table 3: the SAC-based agent of Kostrikov et al. (DrQ), heads only "
    "changed; Tesla V100 GPUs; training with batch size 512, acting models deployment; time measured "
    "with CUDA events, memory with PyTorch native tools; per run, time averaged across 500 iterations "
    "with warm-start; results averaged across 5 runs. What ± is, the text does not say.")


def bjorck2021_table1(cartpole_sparse: str = "balance_sparse") -> pd.DataFrame:
    """Bjorck et al. 2021, Table 1: the DDPG-based agent of Yarats et al. (DrQ-v2) with the text's
    MLP / modern / modern + SN heads (our mlp2 / modern4 / modern4_sn), after 0.5 million frames,
    averaged over 10 seeds (Sec 5.3). Long format: task (our id), paper_task, heads, paper_heads,
    agent ("drqv2"), mean, pm, frames (500_000), seeds (10). `pm` is the text's "±", which it does
    not define: its caption and Sec 5.3 say only "averaged over 10 seeds" / "over 10 seeds" (its figures
    give one standard error; see the note above `_BJORCK_PAPER_TASKS`).

    `cartpole_sparse` ("balance_sparse" or "swingup_sparse") is the task the row "cartpole sparse"
    stands for; the text names no cartpole task more precisely and its Appendix (where the 1M-frame
    table is) is not in our copy. We read it as balance_sparse, for three reasons:

    - MLP and modern + SN both score 1000.00 ± 0.00, i.e. every seed scored the maximum. In
      cartpole-swingup_sparse the pole starts hanging down and the reward is 0 until it is upright
      (cos(angle) > 0.995) with the cart centered, so at least the first steps of every episode earn
      0 and a return of 1000 is impossible (we checked: the first step's reward is 0 with any action).
      In balance_sparse the pole starts upright and a perfect controller earns 1 on every one of the
      1000 steps.
    - modern (no SN) scores 11.27 ± 0.16. A failed policy on swingup_sparse earns exactly 0 (we
      measured 0.00 with zero, random and saturated actions over 10 seeds); on balance_sparse a
      constant saturated action (what a diverged tanh policy outputs) lets the pole fall after 9-13
      steps: 11.2 ± 1.25 (std) per episode over 50 episodes. If each seed's score averages 10
      evaluation episodes (DrQ-v2's default), the standard error over 10 seeds of such a policy is
      ~0.13, near the printed 11.27 ± 0.16.
    - DrQ-v2's published curves (`curves/*.csv` of facebookresearch/drqv2, read at commit c0c650b):
      balance_sparse is at 1000 in all 10 seeds from 40k frames on, 500k included; swingup_sparse
      averages 383 (8 seeds, 0-777) at 500k frames and stays below 850 to 3M.

    The text could still mean swingup_sparse by a typo in the numbers; pass "swingup_sparse" to file
    the row under that task. Anything else is a ConfigError naming the options."""
    from .config import ConfigError

    if cartpole_sparse not in BJORCK_CARTPOLE_SPARSE:
        raise ConfigError("cartpole_sparse", cartpole_sparse,
                          f"one of {', '.join(map(repr, BJORCK_CARTPOLE_SPARSE))}")
    ids = dict(_BJORCK_PAPER_TASKS, **{"cartpole sparse": f"dmc:cartpole-{cartpole_sparse}"})
    rows = [dict(task=ids[paper_task], paper_task=paper_task, heads=heads, paper_heads=paper_heads,
                 agent="drqv2", mean=mean, pm=pm, frames=500_000, seeds=10)
            for paper_task, cells in _BJORCK_TABLE1.items()
            for (paper_heads, heads), (mean, pm) in zip(_BJORCK_TABLE1_HEADS.items(), cells)]
    return pd.DataFrame(rows)


# DrQ-v2's published evaluation curve on cartpole balance_sparse (Yarats et al. 2021; the repository's
# curves/dmc_cartpole_balance_sparse.csv at commit c0c650b, agent "DrQ-v2": action repeat 2, batch 256,
# its MLP heads = our mlp2), the frames a `quick` Table 1 run covers; one return per seed (1-10).
_DRQV2_BALANCE_SPARSE = {
    0: (92.3, 33.5, 31.6, 34.4, 82.2, 79.4, 38.2, 48.9, 31.2, 49.5),
    20_000: (159.6, 156.8, 235.5, 191.4, 305.8, 1000.0, 211.9, 1000.0, 171.1, 601.9),
    40_000: (1000.0,) * 10,
}


def drqv2_balance_sparse_curve() -> pd.DataFrame:
    """DrQ-v2's own published returns on cartpole balance_sparse at 0, 20k and 40k frames, 10 seeds
    (long format: task, heads, frames, seed, value). Table 1 reports only 500k frames; this is the
    published number at a `quick` budget."""
    return pd.DataFrame([dict(task="dmc:cartpole-balance_sparse", heads="mlp2", frames=f, seed=i + 1, value=v)
                         for f, values in _DRQV2_BALANCE_SPARSE.items() for i, v in enumerate(values)])


def bjorck2021_table2() -> pd.DataFrame:
    """Bjorck et al. 2021, Table 2: DrQ (Kostrikov et al.) with its default MLP heads (our mlp2) and with
    the modern net + SN (our modern4_sn), and Dreamer (Hafner et al.), on the 15 DMC tasks, "scores at
    step 500,000, averaged across 10 seeds" (Sec 5.2; Sec 3.1 says "evaluate after 500,000 samples");
    rows in the text's task order (BJORCK_TASKS). Long format: task (our id), paper_task, method ("drq"
    / "dreamer"), heads (None for Dreamer, which has no head preset and is not rerun here), paper_row
    (the text's row label), mean, pm, frames (500_000), seeds (10). `pm` is the text's "±", which it
    does not define; several cells (e.g. swingup sparse 148.7 ± 299.3) are too large for a standard
    error of 10 returns in [0, 1000], so it is most likely a standard deviation across seeds (our
    inference). Dreamer's walker walk, printed "863.", is 863.0."""
    rows = [dict(task=_BJORCK_PAPER_TASKS[paper_task], paper_task=paper_task, method=method, heads=heads,
                 paper_row=paper_row, mean=mean, pm=pm, frames=500_000, seeds=10)
            for paper_task, cells in _BJORCK_TABLE2.items()
            for (paper_row, (method, heads)), (mean, pm) in zip(_BJORCK_TABLE2_ROWS.items(), cells)]
    return pd.DataFrame(rows)


def bjorck2021_table3() -> pd.DataFrame:
    """Bjorck et al. 2021, Table 3: memory and compute of DrQ's heads mlp2, mlp4, modern2, modern4 (Sec
    5.4: "MLPs and modern networks (specified in Section 3.2) with two or four hidden layers"; the
    text does not give the modern nets' actor depth, ours has 2 blocks). Long format, one row per head
    and metric: heads, paper_heads, metric ("train_mem", "act_mem", "train_time", "act_time"),
    paper_metric (the text's row label), unit ("GB", "MB", "ms"), mean, pm, device ("Tesla V100"),
    batch_size (512 for the training rows; <NA> for acting, whose batch the text does not give), runs
    (5), agent ("drq"). All four rows of the table are here (it ends after "act time (ms)"). `pm` is
    the text's "±", undefined there; the results are "averaged across 5 runs" (BJORCK2021_TABLE3_NOTE)."""
    rows = [dict(heads=_BJORCK_TABLE3_HEADS[paper_heads], paper_heads=paper_heads, metric=metric,
                 paper_metric=paper_metric, unit=unit, mean=mean, pm=pm, device="Tesla V100",
                 batch_size=512 if metric.startswith("train") else None, runs=5, agent="drq")
            for (paper_metric, metric, unit), cells in _BJORCK_TABLE3.items()
            for paper_heads, (mean, pm) in zip(_BJORCK_TABLE3_HEADS, cells)]
    frame = pd.DataFrame(rows)
    frame["batch_size"] = frame["batch_size"].astype("Int64")
    return frame
