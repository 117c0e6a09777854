"""rlcore.config: validation (ConfigError names the field and its valid options), hashing, round trips."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest

from rlcore.config import (ACTIVATIONS, ALGORITHMS, NORMS, PROFILES, SCHEMA_VERSION, AgentConfig, BudgetConfig,
                           CollectConfig, ConfigError, EnvConfig, NetConfig, OFENetConfig, RunConfig, SACConfig,
                           TD3Config, flatten)


def with_field(cfg, path: str, value):
    """Rebuild `cfg` with one dotted field changed, through the dataclass constructors (so validation runs)."""
    head, *rest = path.split(".")
    if not rest:
        return dataclasses.replace(cfg, **{head: value})
    return dataclasses.replace(cfg, **{head: with_field(getattr(cfg, head), ".".join(rest), value)})


def test_defaults_are_valid_and_follow_the_papers():
    cfg = RunConfig()
    assert cfg.agent.algo == "sac"
    assert (cfg.agent.critic.width, cfg.agent.critic.depth) == (256, 2)
    assert (cfg.agent.gamma, cfg.agent.tau, cfg.agent.batch_size) == (0.99, 0.005, 256)
    assert cfg.budget.total_steps == 1_000_000
    assert issubclass(ConfigError, ValueError)


# (dotted field, bad value, fragments the message must contain besides the field name)
BAD_FIELDS = [
    ("agent.algo", "ppo", ["'sac'", "'td3'"]),
    ("agent.algo", "SAC", ["'sac'", "'td3'"]),
    ("agent.critic.width", 0, [">= 1"]),
    ("agent.critic.width", -256, [">= 1"]),
    ("agent.actor.width", -1, [">= 1"]),
    ("agent.critic.width", 2.5, ["integer"]),
    ("agent.critic.width", True, ["integer"]),
    ("agent.critic.depth", 0, [">= 1"]),
    ("agent.actor.depth", -3, [">= 1"]),
    ("agent.critic.activation", "tanh", ["'relu'", "'swish'"]),
    ("agent.actor.activation", "ReLU", ["'relu'", "'swish'"]),
    ("agent.critic.norm", "groupnorm", ["'none'", "'batchnorm'", "'layernorm'"]),
    ("agent.critic.kind", "transformer", ["'mlp'", "'densenet'", "'modern'"]),
    ("agent.critic_loss", "l1", ["'mse'", "'huber'"]),
    ("agent.gamma", 1.0, ["[0.0, 1.0)"]),
    ("agent.gamma", -0.1, ["[0.0, 1.0)"]),
    ("agent.tau", 0.0, ["(0.0, 1.0]"]),
    ("agent.actor_lr", 0, ["(0.0, 1.0]"]),
    ("agent.batch_size", 0, [">= 1"]),
    ("agent.td3.policy_delay", 0, [">= 1"]),
    ("agent.sac.init_alpha", 0.0, ["(0.0, inf]"]),
    ("agent.td3.exploration_noise", -0.1, ["[0.0, inf]"]),
    ("agent.sac.alpha_lr", 0.0, ["(0.0, 1.0]"]),
    ("agent.td3.noise_clip", -1.0, ["[0.0, inf]"]),
    ("agent.n_step", 0, [">= 1"]),
    ("agent.sn_target", "shared", ["'own'", "'copy'"]),
    ("budget.total_steps", 0, [">= 1"]),
    ("budget.eval_every", -5, [">= 1"]),
    ("budget.warmup_steps", -1, [">= 0"]),
    ("budget.divergence_threshold", 0.0, ["(0.0, inf]"]),
    ("env.id", "", ["gymnasium environment id"]),
    ("env.max_episode_steps", 0, [">= 1"]),
    ("env.action_repeat", 0, [">= 1"]),
    ("env.frame_stack", 0, [">= 1"]),
    ("budget.update_every", 0, [">= 1"]),
    ("profile", "huge", ["'smoke'", "'quick'", "'paper'", "'custom'"]),
    ("device", "tpu", ["'auto'", "'cpu'", "'cuda'"]),
    ("seed", -1, [">= 0"]),
]


@pytest.mark.parametrize("path,value,fragments", BAD_FIELDS, ids=[f"{p}={v!r}" for p, v, _ in BAD_FIELDS])
def test_bad_field_raises_config_error_naming_field_and_options(path, value, fragments):
    with pytest.raises(ConfigError) as info:
        with_field(RunConfig(), path, value)
    err = info.value
    assert err.field_name == path
    message = str(err)
    assert message.startswith(f"{path}={value!r}")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("path,value,fragments", BAD_FIELDS[:12], ids=[f"{p}={v!r}" for p, v, _ in BAD_FIELDS[:12]])
def test_replace_validates_too(path, value, fragments):
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{path: value})
    assert info.value.field_name == path
    assert all(f in str(info.value) for f in fragments)


def test_option_tuples_are_the_ones_in_messages():
    # The messages list every option of the tuples; a new option must show up in the error text.
    msg = str(pytest.raises(ConfigError, with_field, RunConfig(), "agent.algo", "x").value)
    assert all(repr(a) in msg for a in ALGORITHMS)
    msg = str(pytest.raises(ConfigError, with_field, RunConfig(), "agent.critic.activation", "x").value)
    assert all(repr(a) in msg for a in ACTIVATIONS)
    msg = str(pytest.raises(ConfigError, with_field, RunConfig(), "agent.critic.norm", "x").value)
    assert all(repr(a) in msg for a in NORMS)
    msg = str(pytest.raises(ConfigError, with_field, RunConfig(), "profile", "x").value)
    assert all(repr(a) in msg for a in PROFILES)


def test_valid_alternatives_are_accepted():
    cfg = RunConfig(agent=AgentConfig(algo="td3", critic=NetConfig(width=2048, depth=16, activation="swish",
                                                                    norm="layernorm"),
                                      critic_loss="huber"),
                    budget=BudgetConfig(warmup_steps=0), profile="paper", device="cpu", seed=7)
    assert cfg.agent.critic.norm == "layernorm"
    assert cfg.budget.warmup_steps == 0


# ---- replace / from_dict ------------------------------------------------------------------------
def test_replace_applies_dotted_overrides_and_leaves_original_alone():
    base = RunConfig()
    new = base.replace(**{"agent.critic.width": 512, "seed": 3, "env.id": "Hopper-v4",
                          "env.kwargs": {"terminate_when_unhealthy": False}})
    assert new.agent.critic.width == 512 and new.seed == 3 and new.env.id == "Hopper-v4"
    assert new.env.kwargs_dict == {"terminate_when_unhealthy": False}
    assert new.agent.actor.width == 256  # only the named member changed
    assert base.agent.critic.width == 256 and base.seed == 0


@pytest.mark.parametrize("path,named", [
    ("agent.critic.widht", "width"),    # typo in a leaf
    ("agent.learning_rate", "actor_lr"),
    ("budget.steps", "total_steps"),
    ("sede", "seed"),
])
def test_replace_unknown_leaf_names_path_and_valid_fields(path, named):
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{path: 1})
    assert info.value.field_name == path
    assert path in str(info.value)
    assert named in str(info.value)


@pytest.mark.parametrize("path", ["model.width", "agent.critic.width.units", "seed.value"])
def test_replace_unknown_section_names_path(path):
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{path: 1})
    assert info.value.field_name == path
    assert "not a section" in str(info.value)


@pytest.mark.parametrize("path,value", [("agent.critic", 64), ("agent.sac", 0.5), ("agent.td3", None),
                                        ("budget", 100), ("agent.ofenet", True)])
def test_replace_a_section_by_a_scalar_is_an_error(path, value):
    """`--set agent.critic=64` must not silently replace the critic's section by a number."""
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{path: value})
    assert info.value.field_name == path
    assert "section" in str(info.value) and f"{path}.<field>" in str(info.value)


def test_replace_a_section_by_a_mapping():
    cfg = RunConfig().replace(**{"agent.td3": {"policy_delay": 3}, "agent.critic": {"width": 64}})
    assert cfg.agent.td3 == TD3Config(policy_delay=3) and cfg.agent.critic == NetConfig(width=64)


def test_algorithm_settings_live_in_their_sections():
    cfg = RunConfig().replace(**{"agent.td3.policy_delay": 1, "agent.sac.init_alpha": 0.1})
    assert cfg.agent.td3 == TD3Config(policy_delay=1) and cfg.agent.sac == SACConfig(init_alpha=0.1)
    assert cfg == RunConfig(agent=AgentConfig(sac=SACConfig(init_alpha=0.1), td3=TD3Config(policy_delay=1)))
    assert cfg.agent.section is cfg.agent.sac and cfg.replace(**{"agent.algo": "td3"}).agent.section.policy_delay == 1
    # The old flat paths are gone: the error lists the sections.
    with pytest.raises(ConfigError) as info:
        RunConfig().replace(**{"agent.policy_delay": 1})
    assert info.value.field_name == "agent.policy_delay" and "td3" in str(info.value)
    with pytest.raises(ConfigError) as info:  # a section given as something else than a section
        RunConfig(agent=AgentConfig(td3={"policy_delay": 1}))
    assert info.value.field_name == "agent.td3"


@pytest.mark.parametrize("mutate,field_name", [
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d["agent"].update(lr=1e-3), "agent.lr"),
    (lambda d: d["agent"]["critic"].update(units=64), "agent.critic.units"),
    (lambda d: d["agent"]["actor"].update(layers=3), "agent.actor.layers"),
    (lambda d: d["env"].update(name="Ant-v4"), "env.name"),
    (lambda d: d["budget"].update(steps=10), "budget.steps"),
])
def test_from_dict_rejects_unknown_keys(mutate, field_name):
    d = RunConfig().to_dict()
    mutate(d)
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict(d)
    assert info.value.field_name == field_name
    assert str(info.value).startswith(field_name)
    assert "one of" in str(info.value)  # lists the valid fields


def test_from_dict_accepts_partial_dicts():
    cfg = RunConfig.from_dict({"agent": {"algo": "td3", "critic": {"width": 64}}, "seed": 2})
    assert cfg.agent.algo == "td3" and cfg.agent.critic.width == 64 and cfg.agent.critic.depth == 2
    assert cfg.seed == 2 and cfg.env == EnvConfig()


# ---- identity -------------------------------------------------------------------------------------
def _cfg(**kw) -> RunConfig:
    return RunConfig(env=EnvConfig("Hopper-v4", {"terminate_when_unhealthy": True, "ctrl_cost_weight": 1e-3}),
                     agent=AgentConfig(algo="td3", critic=NetConfig(width=512)), seed=1, **kw)


def test_hash_is_stable_for_equal_configs():
    a, b = _cfg(), _cfg()
    assert a is not b and a == b
    assert a.hash() == b.hash() and a.run_id == b.run_id
    assert re.fullmatch("[0-9a-f]{12}", a.hash()), a.hash()
    assert a.run_id == f"td3-Hopper-v4-s1-{a.hash()}"


def test_hash_is_stable_across_processes():
    """The hash names directories on disk: it must not depend on PYTHONHASHSEED or the process."""
    code = ("from rlcore.config import *; print(RunConfig(env=EnvConfig('Hopper-v4', {'terminate_when_unhealthy': "
            "True, 'ctrl_cost_weight': 1e-3}), agent=AgentConfig(algo='td3', critic=NetConfig(width=512)), "
            "seed=1).hash())")
    hashes = set()
    for hashseed in ("1", "12345"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": hashseed})
        hashes.add(out.stdout.strip())
    assert hashes == {_cfg().hash()}


def test_device_is_not_hashed():
    hashes = {_cfg(device=d).hash() for d in ("auto", "cpu", "cuda")}
    assert len(hashes) == 1
    assert _cfg(device="cpu").run_id == _cfg(device="cuda").run_id


def test_only_non_default_fields_and_the_schema_version_are_hashed():
    assert RunConfig().hash_fields() == {"schema": SCHEMA_VERSION}
    assert RunConfig(device="cpu", seed=0).hash_fields() == {"schema": SCHEMA_VERSION}  # defaults, device
    assert _cfg().hash_fields() == {
        "schema": SCHEMA_VERSION, "seed": 1,
        "env": {"id": "Hopper-v4", "kwargs": {"terminate_when_unhealthy": True, "ctrl_cost_weight": 1e-3}},
        "agent": {"algo": "td3", "critic": {"width": 512}}}
    # A field set to its default value explicitly is not a change.
    explicit = _cfg().replace(**{"agent.gamma": 0.99, "agent.td3.policy_delay": 2, "budget.update_every": 1})
    assert explicit.hash_fields() == _cfg().hash_fields() and explicit.run_id == _cfg().run_id


# Changes to what a td3 run (_cfg) computes: every one renames the run.
SEMANTIC_CHANGES = [
    ("agent.algo", "sac"), ("agent.critic.width", 1024), ("agent.actor.width", 128), ("agent.critic.depth", 4),
    ("agent.critic.activation", "swish"), ("agent.critic.norm", "batchnorm"), ("agent.gamma", 0.98),
    ("agent.tau", 0.01), ("agent.batch_size", 128), ("agent.critic_lr", 1e-3), ("agent.critic_loss", "huber"),
    ("agent.n_step", 3), ("agent.sn_target", "copy"), ("agent.critic.spectral_norm", True),
    ("agent.td3.policy_noise", 0.3), ("agent.td3.noise_clip", 0.4), ("agent.td3.policy_delay", 3),
    ("agent.td3.exploration_noise", 0.2), ("agent.ofenet.enabled", True),
    ("budget.total_steps", 500_000), ("budget.warmup_steps", 1_000), ("budget.eval_every", 10_000),
    ("budget.eval_episodes", 5), ("budget.replay_size", 100_000), ("budget.updates_per_step", 2),
    ("budget.update_every", 2), ("budget.checkpoint_every", 1_000), ("budget.divergence_threshold", 1e6),
    ("budget.srank_samples", 0), ("env.id", "Hopper-v5"),
    ("env.kwargs", {"terminate_when_unhealthy": False, "ctrl_cost_weight": 1e-3}), ("env.max_episode_steps", 500),
    ("env.action_repeat", 2), ("env.frame_stack", 3), ("collect.mode", "apex"), ("collect.replay", "prioritized"),
    ("seed", 2), ("profile", "paper"),
]

# Changes that leave what a serial td3 run without OFENet (_cfg) computes alone: the run id stays.
NON_SEMANTIC_CHANGES = [
    ("device", "cpu"), ("device", "cuda"),
    # SAC's section: a td3 run never reads it
    ("agent.sac.init_alpha", 0.5), ("agent.sac.target_entropy", -2.0), ("agent.sac.alpha_lr", 1e-3),
    # a switched-off OFENet's settings
    ("agent.ofenet.layers", 4), ("agent.ofenet.total_units", 64), ("agent.ofenet.pretrain_steps", 5),
    # where workers run, and (serial collection has none) the worker layout
    ("collect.backend", "ray"), ("collect.ray_address", "auto"), ("collect.workers", 4),
    ("collect.envs_per_worker", 8), ("collect.sync_every", 2),
]


@pytest.mark.parametrize("path,value", NON_SEMANTIC_CHANGES, ids=[f"{p}={v!r}" for p, v in NON_SEMANTIC_CHANGES])
def test_changes_that_compute_the_same_run_keep_the_hash(path, value):
    base = _cfg()
    changed = base.replace(**{path: value})
    assert changed != base  # a different config ...
    assert changed.hash() == base.hash() and changed.run_id == base.run_id  # ... naming the same run


def test_hashed_sections_follow_the_algorithm_ofenet_and_collection_mode():
    # The running algorithm's section is hashed, the other one is not.
    sac = _cfg().replace(**{"agent.algo": "sac"})
    assert sac.replace(**{"agent.sac.init_alpha": 0.5}).hash() != sac.hash()
    assert sac.replace(**{"agent.td3.policy_delay": 3}).hash() == sac.hash()
    # An enabled OFENet's settings are hashed.
    ofenet = _cfg().replace(**{"agent.ofenet.enabled": True})
    assert ofenet.replace(**{"agent.ofenet.layers": 4}).hash() != ofenet.hash()
    # Under Ape-X the worker layout changes what is collected; where the workers run still does not.
    apex = _cfg().replace(**{"collect.mode": "apex"})
    for path, value in [("collect.workers", 4), ("collect.envs_per_worker", 8), ("collect.sync_every", 2)]:
        assert apex.replace(**{path: value}).hash() != apex.hash(), path
    for path, value in [("collect.backend", "ray"), ("collect.ray_address", "auto")]:
        assert apex.replace(**{path: value}).hash() == apex.hash(), path
    assert RunConfig(collect=CollectConfig(mode="apex")).hash_fields() == {"schema": SCHEMA_VERSION,
                                                                           "collect": {"mode": "apex"}}
    assert RunConfig(agent=AgentConfig(ofenet=OFENetConfig(layers=4))).hash() == RunConfig().hash()


@pytest.mark.parametrize("path,value", SEMANTIC_CHANGES, ids=[p for p, _ in SEMANTIC_CHANGES])
def test_any_semantic_change_changes_hash(path, value):
    base = _cfg()
    changed = base.replace(**{path: value})
    assert changed != base
    assert changed.hash() != base.hash()
    assert changed.run_id != base.run_id


def test_all_semantic_hashes_distinct():
    base = _cfg()
    hashes = [base.replace(**{p: v}).hash() for p, v in SEMANTIC_CHANGES]
    assert len(set(hashes + [base.hash()])) == len(hashes) + 1


def test_to_dict_from_dict_round_trip_including_json():
    cfg = _cfg(device="cpu", profile="quick").replace(**{"agent.actor.norm": "layernorm", "env.max_episode_steps": 7})
    d = cfg.to_dict()
    assert d["env"]["kwargs"] == {"terminate_when_unhealthy": True, "ctrl_cost_weight": 1e-3}
    assert d["device"] == "cpu"
    back = RunConfig.from_dict(d)
    assert back == cfg and back.hash() == cfg.hash()
    via_json = RunConfig.from_dict(json.loads(json.dumps(d)))
    assert via_json == cfg and via_json.hash() == cfg.hash() and via_json.device == "cpu"


def test_env_kwargs_order_does_not_matter():
    a = EnvConfig("Ant-v4", {"use_contact_forces": True, "ctrl_cost_weight": 0.5})
    b = EnvConfig("Ant-v4", {"ctrl_cost_weight": 0.5, "use_contact_forces": True})
    assert a == b and hash(a) == hash(b)
    assert RunConfig(env=a).hash() == RunConfig(env=b).hash()
    assert a.kwargs_dict == {"use_contact_forces": True, "ctrl_cost_weight": 0.5}
    # Pairs are accepted as well as a mapping.
    assert EnvConfig("Ant-v4", [("use_contact_forces", True), ("ctrl_cost_weight", 0.5)]) == a


def test_run_id_sanitises_env_ids():
    cfg = RunConfig(env=EnvConfig("dmc:cartpole-swingup"))
    assert cfg.run_id.startswith("sac-dmc_cartpole-swingup-s0-")
    assert "/" not in RunConfig(env=EnvConfig("ns/Env-v0")).run_id


def test_flatten():
    flat = flatten(RunConfig(env=EnvConfig("Ant-v4", {"use_contact_forces": True})).to_dict())
    assert flat["agent.critic.width"] == 256
    assert flat["budget.total_steps"] == 1_000_000
    assert flat["env.kwargs.use_contact_forces"] is True
    assert flat["seed"] == 0
    assert flatten({"env": {"kwargs": {}}}) == {"env.kwargs": "{}"}
