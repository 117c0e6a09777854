"""The papers' claims as data, each with the comparison that tests it and a verdict from the results.

A claim quotes (or closely paraphrases) the paper, names its figure, and lists comparisons built
from the same experiment grids the notebooks run (`rlcore.experiments`) at a profile: a "better"
group of runs against a "worse" one, each group one configuration over its seeds (and over tasks,
for Table 1, with scores normalized before pooling). The effect of a comparison is the difference of
the mean per-seed score (better - worse) with its 95 % stratified-bootstrap CI (rliable, through
`aggregate.compare`); the probability of improvement is reported beside it.

Verdict of one comparison:
  supported      the CI of the effect lies above 0
  not supported  the CI lies below 0 (the reverse holds)
  inconclusive   the CI contains 0, or a side has fewer than `min_runs` finished seeds (a
                 bootstrap over one seed has no spread, so it would look certain)
  no results     a side has no finished run at this profile
A claim with several comparisons (e.g. "at S, M and L") is supported only if every comparison
with results is, not supported if any is not, inconclusive otherwise.

One claim is about cost, not returns (Bjorck's Table 3): its `CostComparison`s read the measurement
the Table 3 notebook saved at the profile and test each relative increase against a stated bound.

Only runs whose status is `finished` or `crashed` count (a crashed run keeps its evaluations up to
the crash, Bjorck et al.'s rule); runs still going are left out, so a partial sweep never passes
its best-so-far as a final score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd

from . import aggregate, experiments, profiles, reference
from .config import ConfigError, RunConfig
from .results import default_results_dir, load_runs, load_sweep

VERDICTS = ("supported", "not supported", "inconclusive", "no results")
MIN_RUNS = 2


@dataclass(frozen=True)
class Group:
    """One configuration over its seeds (and tasks): the runs one side of a comparison reads."""

    label: str
    configs: tuple[RunConfig, ...]


@dataclass(frozen=True)
class Comparison:
    """`better` should score above `worse`. `score`: "max" (highest evaluation per seed, the papers'
    "highest average return") or "final" (last evaluation). `normalizer`: task family -> reference
    score dividing each task's scores before they are pooled (None: raw scores, one task)."""

    better: Group
    worse: Group
    metric: str = "eval_return"
    score: str = "max"
    normalizer: Mapping[str, float] | None = None
    table: str = "evaluations"  # "metrics" for training metrics (e.g. gradient norms)

    @property
    def label(self) -> str:
        return f"{self.better.label} > {self.worse.label}"


@dataclass(frozen=True)
class CostComparison:
    """A measured cost instead of trained runs (Bjorck et al.'s Table 3): the relative increase of
    `metric` from the `baseline` head to `heads`, mean over the measured runs with a 95 % bootstrap
    CI (runs resampled within each head), from the table the Table 3 notebook saves
    (`<results>/<profile>/tables/<table>.csv`, one row per head, run and metric). The claim holds
    when the increase stays under `max_increase`: supported if the CI lies below it, not supported
    if above, inconclusive if it straddles it or a head has fewer than `min_runs` runs."""

    metric: str
    heads: str = "modern4"
    baseline: str = "mlp2"
    max_increase: float = 0.5
    table: str = "bjorck2021_table3_cost_runs"

    @property
    def label(self) -> str:
        return f"{self.metric}: {self.heads} vs {self.baseline} < +{self.max_increase:.0%}"

    def evaluate(self, results_dir: str | Path, min_runs: int = MIN_RUNS, seed: int = 0) -> dict:
        import numpy as np

        row = dict(comparison=self.label, metric=self.metric, score="relative increase", normalized=False,
                   tasks=0, total_steps=None, runs_better=0, runs_worse=0, verdict="no results",
                   budget="not measured")
        path = Path(results_dir).parent / "tables" / f"{self.table}.csv"
        if not path.exists():
            return row
        frame = pd.read_csv(path)
        frame = frame[frame["metric"] == self.metric]
        new, base = (frame.loc[frame["heads"] == h, "value"].dropna().to_numpy() for h in (self.heads, self.baseline))
        row.update(runs_better=len(new), runs_worse=len(base))
        if not len(new) or not len(base):
            return row
        first = frame.iloc[0]
        row["budget"] = (f"batch {int(first['batch_size'])}, {int(first['iterations'])} timed updates x "
                         f"{int(frame['run'].nunique())} runs per head on {first['device_name']}")
        rng = np.random.default_rng(seed)
        draws = (rng.choice(new, (10_000, len(new))).mean(1) / rng.choice(base, (10_000, len(base))).mean(1) - 1.0)
        effect, low, high = new.mean() / base.mean() - 1.0, *np.percentile(draws, [2.5, 97.5])
        if len(new) < min_runs or len(base) < min_runs:
            result = "inconclusive"
        else:
            result = ("supported" if high < self.max_increase else
                      "not supported" if low > self.max_increase else "inconclusive")
        row.update(effect=float(effect), effect_low=float(low), effect_high=float(high), verdict=result,
                   effect_text=f"{self.metric} {self.heads} vs {self.baseline}: {effect:+.0%} "
                               f"[{low:+.0%}, {high:+.0%}] (bound +{self.max_increase:.0%})")
        return row


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    figure: str
    statement: str  # what the paper says
    test: str  # how the comparisons test it, in words
    build: Callable[[str], tuple[Comparison, ...]] = field(repr=False)  # profile -> comparisons

    def comparisons(self, profile: str) -> tuple[Comparison, ...]:
        return self.build(profiles.check_profile(profile))


# ---- verdicts ---------------------------------------------------------------------------------

def verdict(effect_low: float | None, effect_high: float | None, runs_better: int, runs_worse: int,
            min_runs: int = MIN_RUNS) -> str:
    """The verdict of one comparison from its effect's CI and the finished seeds on each side."""
    if runs_better == 0 or runs_worse == 0:
        return "no results"
    if runs_better < min_runs or runs_worse < min_runs:
        return "inconclusive"
    if effect_low > 0:
        return "supported"
    if effect_high < 0:
        return "not supported"
    return "inconclusive"


def combine(verdicts: Sequence[str]) -> str:
    """A claim's verdict from its comparisons' (those with results)."""
    present = [v for v in verdicts if v != "no results"]
    if not present:
        return "no results"
    if "not supported" in present:
        return "not supported"
    if all(v == "supported" for v in present):
        return "supported"
    return "inconclusive"


# ---- evaluation -------------------------------------------------------------------------------

def comparison_scores(comparison: Comparison, results_dir: str | Path) -> pd.DataFrame:
    """Per-seed scores of both groups (columns group, env, seed, score, step), counted runs only."""
    labels = {c.run_id: g.label for g in (comparison.better, comparison.worse) for c in g.configs}
    runs = load_runs(results_dir, list(labels))
    counted = set(runs.loc[runs["state"].isin(aggregate.COUNTED_STATES), "run"]) if len(runs) else set()
    frame = load_sweep([c for g in (comparison.better, comparison.worse) for c in g.configs], results_dir,
                       table=comparison.table)
    frame = frame[frame["run"].isin(counted)].copy()
    frame["group"] = frame["run"].map(labels)
    scores = aggregate.seed_scores(frame, ["group", "env"], comparison.metric, comparison.score)
    if comparison.normalizer is not None and len(scores):
        scores = aggregate.normalize(scores, "env", comparison.normalizer)
    return scores


def evaluate(comparison: Comparison, results_dir: str | Path, min_runs: int = MIN_RUNS, seed: int = 0) -> dict:
    """One row: the comparison, its effect with CI, P(improvement) with CI, runs, verdict."""
    if isinstance(comparison, CostComparison):
        return comparison.evaluate(results_dir, min_runs, seed)
    scores = comparison_scores(comparison, results_dir)
    tasks = sorted({c.env.id for c in comparison.better.configs})
    row = aggregate.compare(scores, "group", comparison.better.label, comparison.worse.label,
                            task="env" if len(tasks) > 1 else None, seed=seed)
    b = comparison.better.configs[0].budget
    row.update(comparison=comparison.label, metric=comparison.metric, score=comparison.score,
               normalized=comparison.normalizer is not None, tasks=len(tasks), total_steps=b.total_steps,
               verdict=verdict(row.get("effect_low"), row.get("effect_high"), row["runs_better"],
                               row["runs_worse"], min_runs))
    return row


def evaluate_claims(claims: Sequence[Claim], profile: str, results_dir: str | Path | None = None,
                    min_runs: int = MIN_RUNS, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per claim with its verdict, one row per comparison) at `profile`."""
    profile = profiles.check_profile(profile)
    results_dir = results_dir or default_results_dir(profile)
    details, summary = [], []
    for claim in claims:
        rows = [evaluate(c, results_dir, min_runs, seed) for c in claim.comparisons(profile)]
        for r in rows:
            details.append({"claim": claim.id, "figure": claim.figure, **r})
        with_results = [r for r in rows if r["verdict"] != "no results"]
        summary.append({"claim": claim.id, "paper": claim.paper, "figure": claim.figure,
                        "statement": claim.statement, "test": claim.test,
                        "verdict": combine([r["verdict"] for r in rows]),
                        "comparisons": f"{len(with_results)} of {len(rows)} with results",
                        "effects": "; ".join(_effect_text(r) for r in with_results),
                        "seeds": "/".join(sorted({f"{r['runs_better']}v{r['runs_worse']}" for r in with_results})),
                        "budget": _budget_text(rows[0]) if rows else "",
                        "profile": profile})
    columns = ["claim", "figure", "comparison", "verdict", "effect", "effect_low", "effect_high", "p_improvement",
               "p_low", "p_high", "runs_better", "runs_worse", "tasks", "metric", "score", "normalized", "total_steps"]
    detail = pd.DataFrame(details)
    detail = detail.reindex(columns=columns) if len(detail) else pd.DataFrame(columns=columns)
    return pd.DataFrame(summary), detail


def _budget_text(row: dict) -> str:
    return row["budget"] if "budget" in row else f"{row['total_steps']:,} steps"


def _effect_text(row: dict) -> str:
    if "effect_text" in row:
        return row["effect_text"]
    if "effect" not in row:
        return f"{row['comparison']}: n={row['runs_better']}v{row['runs_worse']}"
    return (f"{row['comparison']}: {row['effect']:+.3g} [{row['effect_low']:+.3g}, {row['effect_high']:+.3g}], "
            f"P(imp.) {row['p_improvement']:.2f}")


# ---- Ota et al. 2021 ---------------------------------------------------------------------------

def _where(configs: Sequence[RunConfig], **fields) -> tuple[RunConfig, ...]:
    """The configs whose dotted fields (underscores for dots: agent_critic_width) equal the values."""
    def value(cfg, path):
        for part in path.split("__"):
            cfg = getattr(cfg, part)
        return cfg
    out = tuple(c for c in configs if all(value(c, k) == v for k, v in fields.items()))
    if not out:
        raise ConfigError("claim group", fields, "fields matching at least one config of the experiment")
    return out


def _size_sweep(profile):
    sweep = experiments.ota_size_sweep(profile)
    units, layers = sweep.axes["agent.critic.width"], sweep.axes["agent.critic.depth"]
    fu, fl = sweep.axes["fixed_units"], sweep.axes["fixed_layers"]
    cell = lambda w, d: Group(f"{w}x{d}", _where(sweep.configs, agent__critic__width=w, agent__critic__depth=d))
    return cell, units, layers, fu, fl


def _fig1a(profile):
    cell, _, layers, fu, fl = _size_sweep(profile)
    shallow = fl if fl != max(layers) else min(layers)  # smoke's grid tops out at the fixed depth
    return (Comparison(cell(fu, shallow), cell(fu, max(layers))),)


def _fig3a(profile):
    cell, units, _, fu, fl = _size_sweep(profile)
    return (Comparison(cell(max(units), fl), cell(fu, fl)),)


def _fig4(profile):
    cell, units, layers, fu, fl = _size_sweep(profile)
    return (Comparison(cell(max(units), fl), cell(fu, max(layers))),)


def _fig5(profile):
    sweep = experiments.ota_connectivity_sweep(profile)
    out = []
    for size, width in sweep.axes["sizes"].items():
        group = lambda kind: Group(f"{kind} {size}", _where(sweep.configs, agent__critic__kind=kind,
                                                            agent__critic__width=width))
        out += [Comparison(group("densenet"), group(k)) for k in sweep.axes["agent.critic.kind"] if k != "densenet"]
    return tuple(out)


def _ofenet_pairs(profile, metric="eval_return", score="max"):
    sweep = experiments.ota_ofenet_grid(profile)
    out = []
    for size, width in sweep.axes["sizes"].items():
        with_ = Group(f"OFENet {size}", _where(sweep.configs, agent__critic__width=width,
                                               agent__ofenet__enabled=True, agent__ofenet__total_units=width))
        without = Group(f"no OFENet {size}", _where(sweep.configs, agent__critic__width=width,
                                                    agent__ofenet__enabled=False))
        out.append(Comparison(with_, without, metric=metric, score=score))
    return tuple(out)


def _fig6_rank(profile):
    return _ofenet_pairs(profile, metric="srank_critic1", score="final")


def _fig8(profile):
    sweep = experiments.ota_apex_grid(profile)
    sac, ofe = sweep.axes["agent.critic.width"], [u for u in sweep.axes["agent.ofenet.total_units"] if u]
    cell = lambda w, u: Group(f"SAC {w} / OFENet {u}", _where(sweep.configs, agent__critic__width=w,
                                                              agent__ofenet__enabled=True,
                                                              agent__ofenet__total_units=u))
    sac, ofe = sorted(sac), sorted(ofe)
    out = [Comparison(cell(b, max(ofe)), cell(a, max(ofe))) for a, b in zip(sac, sac[1:])]
    out += [Comparison(cell(max(sac), b), cell(max(sac), a)) for a, b in zip(ofe, ofe[1:])]
    return tuple(out)


def _fig12(profile):
    apex, serial = experiments.ota_apex_grid(profile), experiments.ota_apex_grid(profile, apex=False)
    out = []
    for width in apex.axes["agent.critic.width"]:
        if width not in apex.axes["agent.ofenet.total_units"]:
            continue
        pick = lambda s: _where(s.configs, agent__critic__width=width, agent__ofenet__enabled=True,
                                agent__ofenet__total_units=width)
        out.append(Comparison(Group(f"{width} w/ Ape-X", pick(apex)), Group(f"{width} w/o Ape-X", pick(serial))))
    return tuple(out)


def _fig13(profile):
    sweep = experiments.ota_activation_sweep(profile)
    act = lambda a: Group(a, _where(sweep.configs, agent__critic__activation=a))
    return (Comparison(act("swish"), act("relu")),)


def _table1(baseline):
    def build(profile):
        sweep = experiments.ota_fig09_table1_tasks(profile)
        by = {}
        for cfg in sweep.configs:
            _, algo, method = experiments.task_method(cfg)
            by.setdefault((algo, method), []).append(cfg)
        norm = reference.ota2021_normalizer()
        return tuple(Comparison(Group(f"{algo.upper()} ours", tuple(by[(algo, "ours")])),
                                Group(f"{algo.upper()} {baseline}", tuple(by[(algo, baseline)])), normalizer=norm)
                     for algo in sweep.axes["algo"] if (algo, "ours") in by and (algo, baseline) in by)
    return build


def _fig10(profile):
    sweep = experiments.ota_fig10_ablation(profile)
    width, small = sweep.axes["width"], sweep.axes["small"]
    by = {}
    for cfg in sweep.configs:
        by.setdefault(experiments.ablation_variant(cfg, width, small), []).append(cfg)
    full = Group("Full", tuple(by["Full"]))
    return tuple(Comparison(full, Group(v, tuple(by[v]))) for v in experiments.ABLATION_VARIANTS
                 if v != "Full" and v in by)


OTA = "Ota et al. 2021"
OTA_CLAIMS: tuple[Claim, ...] = (
    Claim("ota-deeper-hurts", OTA, "Fig 1a",
          "At 256 units, performance becomes worse as the network becomes deeper (Sec. 4.1).",
          "max average return: 2 layers > the deepest, at the fixed width", _fig1a),
    Claim("ota-wider-helps", OTA, "Fig 3a",
          "Consistent improvement when making the 2-layer network wider (Sec. 4.1).",
          "max average return: widest x 2 > fixed width x 2", _fig3a),
    Claim("ota-wider-beats-deeper", OTA, "Fig 4",
          "Widening, not deepening, improves performance: 2048x2 beats 256x16 (Sec. 4.1, Fig 4).",
          "max average return: widest x 2 > fixed width x deepest", _fig4),
    Claim("ota-densenet-best", OTA, "Fig 5a",
          "MLP-DenseNet achieves the highest return on both small and large networks (Sec. 4.2).",
          "max average return: DenseNet > MLP, ResNet, D2RL, at S and at L", _fig5),
    Claim("ota-ofenet-raises-return", OTA, "Fig 6a",
          "Separating representation learning from RL (OFENet) improves control performance regardless "
          "of network size (Sec. 4.2).",
          "max average return: with OFENet > without, at S, M and L", _ofenet_pairs),
    Claim("ota-ofenet-mitigates-rank-collapse", OTA, "Fig 6b",
          "OFENet mitigates rank collapse of the Q-networks regardless of network size (Sec. 4.2).",
          "final effective rank of critic 1 (srank, delta 0.01): with OFENet > without, at S, M and L", _fig6_rank),
    Claim("ota-apex-width-pays-monotonically", OTA, "Fig 8",
          "With Ape-X-like distributed training, performance improves monotonically when widening either "
          "SAC or OFENet (Sec. 4.2).",
          "max average return with Ape-X: each wider SAC (at the widest OFENet) and each wider OFENet "
          "(at the widest SAC) > the next narrower", _fig8),
    Claim("ota-apex-improves-every-size", OTA, "Fig 12",
          "Using Ape-X improves performance on all network sizes (B.1).",
          "max average return: w/ Ape-X > w/o, at each size with OFENet of the same width", _fig12),
    Claim("ota-swish-over-relu", OTA, "Fig 13",
          "A slight performance gain from replacing ReLU with Swish (B.1).",
          "max average return: Swish > ReLU in the DenseNet actor and critic", _fig13),
    Claim("ota-ours-beats-original", OTA, "Table 1 / Fig 9",
          "Our method achieves the best performance on almost all environments, with SAC and with TD3 (Sec. 4.2).",
          "highest average return normalized per task by Ota's published SAC (Original) score, pooled over "
          "the five tasks: Ours > Original, for SAC and for TD3", _table1("original")),
    Claim("ota-ours-beats-ofenet", OTA, "Table 1 / Fig 9",
          "Our method outperforms OFENet (Ota et al. 2020) in most environments (Table 1).",
          "as above: Ours > OFENet (2020 setting), for SAC and for TD3", _table1("ofenet")),
    Claim("ota-each-element-contributes", OTA, "Fig 10",
          "Each element (Ape-X, OFENet, larger networks, DenseNet) contributes to the performance gain; "
          "Full is significantly better than SAC (Sec. 4.3).",
          "max average return: Full > w/o Ape-X, w/o OFENet, w/o larger NN, w/o DenseNet, sac", _fig10),
)

# ---- Bjorck et al. 2021 ------------------------------------------------------------------------

def _heads_group(sweep, heads: str, label: str | None = None) -> Group:
    """The runs of one head preset (all tasks and seeds of the experiment)."""
    actor, critic = experiments.bjorck_heads(heads)
    configs = _where(sweep.configs, agent__actor=actor, agent__critic=critic)
    return Group(label or f"{sweep.axes['algo'].upper()} {heads}", configs)


def _bjorck(experiment: str, better: str, worse: str, metric: str = "eval_return", score: str = "final",
            table: str = "evaluations"):
    """better > worse on one Bjorck grid, per-seed final scores (crashed runs keep their last
    evaluation) pooled over the grid's tasks (DMC returns share the [0, 1000] scale)."""
    def build(profile):
        sweep = experiments.get_experiment(experiment)(profile)
        return (Comparison(_heads_group(sweep, better), _heads_group(sweep, worse), metric=metric, score=score,
                           table=table),)
    return build


def _bjorck_grad_norms(profile):
    """modern > modern + SN in the largest logged gradient norm, of the actor and of the critic's Q heads."""
    return tuple(_bjorck("bjorck_fig4_sn", "modern4", "modern4_sn", metric=f"train_{net}_grad_norm", score="max",
                         table="metrics")(profile)[0] for net in ("actor", "critic"))


def _bjorck_table1(profile):
    """Table 1 reports each head's final return, as Table 2 and Fig 1 do: score the last evaluation."""
    return (_bjorck("bjorck_table1_drqv2", "mlp2", "modern4")(profile)
            + _bjorck("bjorck_table1_drqv2", "modern4_sn", "modern4")(profile))


BJORCK = "Bjorck et al. 2021"
BJORCK_CLAIMS: tuple[Claim, ...] = (
    Claim("bjorck-modern-heads-degrade", BJORCK, "Fig 1",
          "Naively adopting modern networks (residual blocks, LayerNorm) for the heads leads to poor performance "
          "(Sec. 3.2).",
          "final return (crash rule), DrQ: MLP (2 layers) > modern (4 blocks), pooled over tasks",
          _bjorck("bjorck_fig1_modern", "mlp2", "modern4")),
    Claim("bjorck-deeper-mlp-no-better", BJORCK, "Fig 2",
          "Making the MLP heads deeper (2 -> 4 hidden layers) does not improve performance (Sec. 3.3).",
          "final return, DrQ: MLP 2 layers > MLP 4 layers (supported = deeper is worse; inconclusive = no gain)",
          _bjorck("bjorck_fig2_depth", "mlp2", "mlp4")),
    Claim("bjorck-gradients-grow-without-sn", BJORCK, "Fig 3 / Sec. 4",
          "Without smoothing, the deeper network's gradients are large, growing and spiky; spectral "
          "normalization bounds the actor's and the critic's (Sec. 3.4, 4).",
          "largest gradient norm logged (training metrics), DrQ: modern > modern + SN, for the actor and for "
          "the critic's Q heads",
          _bjorck_grad_norms),
    Claim("bjorck-sn-rescues-modern", BJORCK, "Fig 4",
          "After smoothing with spectral normalization, deep modern heads train stably and perform well, "
          "unlike without it (Sec. 5.1).",
          "final return (crash rule), DrQ: modern + SN > modern, pooled over tasks",
          _bjorck("bjorck_fig4_sn", "modern4_sn", "modern4")),
    Claim("bjorck-modern-sn-beats-mlp", BJORCK, "Table 2",
          "The modern network with spectral normalization outperforms DrQ's default MLP (Sec. 5.2, Table 2).",
          "final return at the budget (crash rule), DrQ: modern + SN > MLP, pooled over tasks",
          _bjorck("bjorck_table2", "modern4_sn", "mlp2")),
    Claim("bjorck-drqv2-same-story", BJORCK, "Table 1",
          "For DrQ-v2 too, the larger modern network is detrimental, but with spectral normalization it is "
          "often beneficial (Sec. 5.3, Table 1).",
          "final return, DrQ-v2: MLP > modern, and modern + SN > modern", _bjorck_table1),
    Claim("bjorck-larger-heads-cheap", BJORCK, "Table 3",
          "For training, increasing the capacity of the head incurs a relatively small cost in both memory and "
          "compute since convolutional processing is the bottleneck (Sec. 5.4, Table 3: memory +17 %, time +28 % "
          "from mlp2 to modern4 on a V100).",
          "measured training memory and time per update (batch 512) of DrQ with modern4 heads vs mlp2: each "
          "increase below +50 % (the Table 3 notebook's measurement at this profile)",
          lambda profile: (CostComparison("train_mem"), CostComparison("train_time"))),
    Claim("bjorck-sn-helps-deep-mlp", BJORCK, "Appendix A",
          "Spectral normalization also improves performance with the 4-hidden-layer MLP heads (Sec. 5.1, App. A).",
          "final return, DrQ: MLP 4 layers + SN > MLP 4 layers", _bjorck("bjorck_appendix_a", "mlp4_sn", "mlp4")),
)

CLAIMS: dict[str, tuple[Claim, ...]] = {"ota2021": OTA_CLAIMS, "bjorck2021": BJORCK_CLAIMS}


def all_claims(papers: Sequence[str] | None = None) -> tuple[Claim, ...]:
    papers = list(papers) if papers else list(CLAIMS)
    for p in papers:
        if p not in CLAIMS:
            raise ConfigError("papers", p, f"one of {', '.join(map(repr, CLAIMS))}")
    return tuple(c for p in papers for c in CLAIMS[p])
