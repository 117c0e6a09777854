"""Parameter tables (rlcore.nets.params): Ota et al. 2021 Table 2 rebuilt row by row from the modules,
and the table's columns checked against the modules' real parameter and BatchNorm-statistic counts."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from rlcore.agents import make_agent
from rlcore.config import NET_KINDS, AgentConfig, NetConfig, OFENetConfig
from rlcore.envs import ObsSpec
from rlcore.nets import EnsembleBatchNorm, count_parameters, layer_rows, parameter_table, totals
from rlcore.reference import OTA2021_TABLE2_TOTALS, ota2021_table2

ANT_OBS, ANT_ACT = 111, 8  # Ant-v2 as Ota et al. use it (contact forces included)
COMPARED = ["layer", "input_units", "output_units", "parameters"]
OURS_NETWORKS = {"OFENet z_s": "OFENet z_s", "actor": "SAC"}  # our network name -> Table 2's


@pytest.fixture(scope="module")
def ota_agent():
    """Ota et al. 2021's SAC on Ant: OFENet (8 x 256) and 2048-unit, 2-layer DenseNet actor and
    critics with Swish. About 60M parameters with the target critic; built once for the module."""
    torch.manual_seed(0)
    net = NetConfig(kind="densenet", width=2048, depth=2, activation="swish")
    cfg = AgentConfig(algo="sac", actor=net, critic=net, ofenet=OFENetConfig(enabled=True))
    return make_agent(cfg, ObsSpec.flat(ANT_OBS), ANT_ACT, env_id="Ant-v4")


@pytest.fixture(scope="module")
def ota_table(ota_agent) -> pd.DataFrame:
    return parameter_table(ota_agent)


@pytest.fixture(scope="module")
def original_agent():
    torch.manual_seed(0)
    return make_agent(AgentConfig(), ObsSpec.flat(ANT_OBS), ANT_ACT)


def published(agent: str, network: str) -> pd.DataFrame:
    ref = ota2021_table2()
    rows = ref[(ref["agent"] == agent) & (ref["network"] == network)]
    assert len(rows), (agent, network)
    return rows[COMPARED].reset_index(drop=True)


def ours(table: pd.DataFrame, network: str) -> pd.DataFrame:
    """Our rows in Table 2's form: the policy's mean head is its "output layer" (the log-std head
    is a second layer of the same size that Table 2 does not list)."""
    rows = table[(table["network"] == network) & (table["layer"] != "output layer (log_std)")]
    rows = rows.assign(layer=rows["layer"].replace({"output layer (mean)": "output layer"}))
    return rows[COMPARED].reset_index(drop=True)


# ---- Table 2, row by row ------------------------------------------------------------------------
def test_ofenet_state_stack_rows_match_table2(ota_table):
    mine, theirs = ours(ota_table, "OFENet z_s"), published("ours", "OFENet z_s")
    assert list(mine["layer"]) == [f"{i}{s} layer" for i, s in
                                   zip(range(1, 9), ["st", "nd", "rd"] + ["th"] * 5)]
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)


def test_actor_rows_match_table2(ota_table):
    mine, theirs = ours(ota_table, "actor"), published("ours", "SAC")
    assert list(mine["layer"]) == ["1st layer", "2nd layer", "output layer"]
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)


def test_original_sac_rows_match_table2(original_agent):
    table = parameter_table(original_agent)
    assert not table["network"].str.startswith("OFENet").any()
    pd.testing.assert_frame_equal(ours(table, "actor"), published("original", "SAC"), check_dtype=False)


def test_row_counts_by_hand(ota_table):
    """A few rows worked out on paper: (in + 1) * units, plus BatchNorm's 2 * 256 affine parameters
    and 2 * 256 running statistics in OFENet's layers."""
    z_s = ota_table[ota_table["network"] == "OFENet z_s"].set_index("layer")
    assert z_s.loc["1st layer", "weights"] == 112 * 256 == 28_672
    assert z_s.loc["1st layer", "norm_params"] == 512 and z_s.loc["1st layer", "norm_stats"] == 512
    assert z_s.loc["8th layer", "parameters"] == (111 + 7 * 256 + 1) * 256 + 1024 == 488_448
    actor = ota_table[ota_table["network"] == "actor"].set_index("layer")
    assert actor.loc["output layer (log_std)", "parameters"] == 6256 * 8
    critic = ota_table[ota_table["network"] == "critic"]
    z_sa = 111 + 2048 + 8 + 2048
    assert list(critic["input_units"]) == [z_sa, z_sa + 2048, z_sa + 4096]
    assert (critic["members"] == 2).all()
    predictor = ota_table[ota_table["network"] == "OFENet predictor"]
    assert list(predictor["output_units"]) == [27]  # Ant: qpos[2:] and qvel


def test_published_network_totals_are_the_sums_of_their_rows(ota_table):
    ref = ota2021_table2()
    ours_ref = ref[ref["agent"] == "ours"]
    for network in ("OFENet z_s", "SAC"):
        row_sum = int(ours_ref.loc[ours_ref["network"] == network, "parameters"].sum())
        assert row_sum == OTA2021_TABLE2_TOTALS["ours"][network], network
    original_sum = int(ref.loc[ref["agent"] == "original", "parameters"].sum())
    assert original_sum == OTA2021_TABLE2_TOTALS["original"]["SAC"] == OTA2021_TABLE2_TOTALS["original"]["TOTAL"]
    # Our modules give the same network totals (the actor counted with one output head).
    for mine, theirs in OURS_NETWORKS.items():
        assert int(ours(ota_table, mine)["parameters"].sum()) == OTA2021_TABLE2_TOTALS["ours"][theirs]


def test_published_overall_total_is_not_the_sum_of_the_rows():
    ref = ota2021_table2()
    rows_sum = int(ref.loc[ref["agent"] == "ours", "parameters"].sum())
    assert rows_sum == 15_164_288
    assert OTA2021_TABLE2_TOTALS["ours"]["TOTAL"] == 10_709_000
    assert rows_sum != OTA2021_TABLE2_TOTALS["ours"]["TOTAL"]


# ---- the table's columns against the modules ----------------------------------------------------
def check_table_against_modules(agent, table: pd.DataFrame) -> None:
    networks = [agent.actor, agent.critic] + ([agent.extractor] if agent.learns_features else [])
    learned = (table["weights"] + table["norm_params"]) * table["members"]
    assert int(learned.sum()) == sum(count_parameters(m) for m in networks)
    running = [m.bn for net in networks for m in net.modules() if isinstance(m, EnsembleBatchNorm)]
    stats = sum(bn.running_mean.numel() + bn.running_var.numel() for bn in running)
    assert int((table["norm_stats"] * table["members"]).sum()) == stats
    assert (table["parameters"] == table["weights"] + table["norm_params"] + table["norm_stats"]).all()
    # per network, too
    per_network = {"actor": agent.actor, "critic": agent.critic}
    if agent.learns_features:
        per_network.update({"OFENet z_s": agent.extractor.state_stack,
                            "OFENet z_sa": agent.extractor.state_action_stack,
                            "OFENet predictor": agent.extractor.predictor})
    for name, module in per_network.items():
        rows = table[table["network"] == name]
        assert int(((rows["weights"] + rows["norm_params"]) * rows["members"]).sum()) == count_parameters(module), name


def test_ota_table_matches_module_counts(ota_agent, ota_table):
    check_table_against_modules(ota_agent, ota_table)
    assert int(ota_table["norm_stats"].sum()) == 16 * 512  # 16 BatchNorm layers of 256 units in OFENet
    t = totals(ota_table).set_index("network")
    assert t.loc["critic", "members"] == 2
    assert t.loc["critic", "all_members"] == 2 * t.loc["critic", "parameters"]
    assert t.loc["OFENet z_s", "parameters"] == OTA2021_TABLE2_TOTALS["ours"]["OFENet z_s"]
    # The actor's mean and log-std heads both count: Table 2's SAC total plus one more 8-unit head.
    assert t.loc["actor", "parameters"] == OTA2021_TABLE2_TOTALS["ours"]["SAC"] + 6256 * 8
    total = sum(count_parameters(m) for m in (ota_agent.actor, ota_agent.critic, ota_agent.extractor))
    assert int(t["all_members"].sum()) == total + 16 * 512


@pytest.mark.parametrize("kind", NET_KINDS)
@pytest.mark.parametrize("norm", ["auto", "batchnorm", "layernorm"])
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_small_tables_match_module_counts(kind, norm, algo):
    torch.manual_seed(0)
    net = NetConfig(kind=kind, width=8, depth=2, norm=norm)
    ofenet = OFENetConfig(enabled=True, layers=2, total_units=8) if kind == "mlp" else OFENetConfig()
    agent = make_agent(AgentConfig(algo=algo, actor=net, critic=net, ofenet=ofenet), ObsSpec.flat(5), 2)
    table = parameter_table(agent)
    check_table_against_modules(agent, table)
    actor_layers = list(table.loc[table["network"] == "actor", "layer"])
    if algo == "sac":
        assert actor_layers[-2:] == ["output layer (mean)", "output layer (log_std)"]
    else:
        assert actor_layers[-1] == "output layer"
    assert list(table.loc[table["network"] == "critic", "layer"])[-1] == "output layer"
    assert (table.loc[table["network"] == "critic", "members"] == 2).all()


def test_layer_rows_counts_norms_with_the_preceding_linear():
    torch.manual_seed(0)
    agent = make_agent(AgentConfig(actor=NetConfig(width=4, depth=2, norm="batchnorm"),
                                   critic=NetConfig(width=4, depth=2)), ObsSpec.flat(3), 1)
    rows = layer_rows(agent.actor.trunk, "actor")
    assert [(r["input_units"], r["output_units"], r["weights"], r["norm_params"], r["norm_stats"])
            for r in rows] == [(3, 4, 16, 8, 8), (4, 4, 20, 8, 8), (4, 2, 10, 0, 0)]
    assert [r["layer"] for r in rows] == ["1st layer", "2nd layer", "output layer"]
    assert isinstance(agent.actor.trunk.body[1], EnsembleBatchNorm)
