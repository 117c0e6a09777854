"""Experiment configuration: frozen dataclasses, validated on construction, hashed to name a run.

The run id hashes only the fields that differ from their defaults (plus `SCHEMA_VERSION`), so a new
field with a default never renames a run computed before it existed. Fields that do not change
what a run computes are left out: `device` (where, not what), a switched-off OFENet's settings, the
sections of algorithms the run does not use, and where Ape-X workers run. Changing a field's
*default* changes what older ids mean: bump `SCHEMA_VERSION` when you do (tests/test_config.py
checks the defaults against a recorded copy). Profiles (`smoke`, `quick`, `paper`) are presets for
the budget (see `rlcore.profiles`), never separate code paths.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

ALGORITHMS = ("sac", "td3", "drq", "drqv2")
NET_KINDS = ("mlp", "resnet", "densenet", "d2rl", "modern", "simba", "bronet")
ACTIVATIONS = ("relu", "swish")
NORMS = ("auto", "none", "batchnorm", "layernorm")  # auto: LayerNorm for modern/simba/bronet, else none
CRITIC_LOSSES = ("mse", "huber")
SN_TARGET_MODES = ("own", "copy")
PROFILES = ("smoke", "quick", "paper", "custom")
# Part of every run id's hash; bump it when a default value changes (never needed to add a field).
SCHEMA_VERSION = 1
DEVICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """A configuration field holds a value outside its valid options."""

    def __init__(self, field_name: str, value: Any, expected: str):
        super().__init__(f"{field_name}={value!r} is invalid: expected {expected}")
        self.field_name = field_name


def _choice(name: str, value: Any, options: tuple) -> None:
    if value not in options:
        raise ConfigError(name, value, f"one of {', '.join(map(repr, options))}")


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(name, value, "True or False")


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(name, value, f"an integer >= {minimum}")


def _number_in(name: str, value: Any, low: float, high: float, low_open=False, high_open=False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ConfigError(name, value, f"a number in {lo}{low}, {high}{hi}")


@dataclass(frozen=True)
class NetConfig:
    """One trunk of the architecture zoo (see `rlcore.nets.trunks` for what `depth` counts per kind).

    `spectral_norm` normalizes every linear layer but the first and the last (Bjorck et al. 2021),
    with `sn_power_iterations` power-iteration steps per training forward pass (Miyato et al.: 1).
    `expansion` is the inner width of a residual feed-forward block as a multiple of `width`
    (None: the kind's default, 4 for simba, 1 otherwise).
    `skip_raw_input_grads` (densenet, d2rl): where the trunk's raw input needs no gradient (the
    critic step, the actor reading OFENet's z_s), skip the input-gradient products of the raw-input
    columns that every later layer reads again; the same update up to float rounding in the other
    columns, ~6 % fewer FLOPs in Ota's large agent (benchmarks/update_speed.py --suite large).
    """

    kind: str = "mlp"
    width: int = 256
    depth: int = 2
    activation: str = "relu"
    norm: str = "auto"
    spectral_norm: bool = False
    sn_power_iterations: int = 1
    expansion: int | None = None
    skip_raw_input_grads: bool = False

    def validate(self, prefix: str) -> None:
        _choice(f"{prefix}.kind", self.kind, NET_KINDS)
        _positive_int(f"{prefix}.width", self.width)
        _positive_int(f"{prefix}.depth", self.depth)
        if self.kind == "resnet" and self.depth % 2:
            raise ConfigError(f"{prefix}.depth", self.depth, "an even number for kind='resnet' (two linear layers per block)")
        _choice(f"{prefix}.activation", self.activation, ACTIVATIONS)
        _choice(f"{prefix}.norm", self.norm, NORMS)
        _bool(f"{prefix}.spectral_norm", self.spectral_norm)
        _positive_int(f"{prefix}.sn_power_iterations", self.sn_power_iterations)
        if self.expansion is not None:
            _positive_int(f"{prefix}.expansion", self.expansion)
        _bool(f"{prefix}.skip_raw_input_grads", self.skip_raw_input_grads)


@dataclass(frozen=True)
class EnvConfig:
    """A gymnasium id (MuJoCo v4/v5, classic control) or a DeepMind Control task `dmc:domain-task`
    (`rlcore.dmc`; kwargs `pixels`, `height`, `width`, `camera_id`), plus constructor kwargs.
    `max_episode_steps=None` keeps the environment's registered time limit, counted in environment
    frames. `action_repeat` repeats each agent action that many frames (rewards summed), so one
    agent step is `action_repeat` frames (the papers' x-axis for DMC). `frame_stack` concatenates
    the last k observations along their first axis (k frames of C channels -> k*C channels), the
    first frame of an episode repeated to fill the stack; the replay stores each frame once.
    """

    id: str = "Ant-v4"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    action_repeat: int = 1
    frame_stack: int = 1

    def __post_init__(self):
        # Stored as sorted pairs so the dataclass stays immutable; `kwargs_dict` gives a dict back.
        pairs = self.kwargs.items() if isinstance(self.kwargs, Mapping) else self.kwargs
        if not isinstance(self.kwargs, Mapping) and not (
                isinstance(self.kwargs, (tuple, list)) and all(isinstance(p, (tuple, list)) and len(p) == 2
                                                                for p in self.kwargs)):
            raise ConfigError("env.kwargs", self.kwargs, 'a mapping of constructor arguments, e.g. {"use_contact_forces": true}')
        object.__setattr__(self, "kwargs", tuple(sorted((str(k), v) for k, v in pairs)))

    @property
    def kwargs_dict(self) -> dict[str, Any]:
        return dict(self.kwargs)

    def validate(self, prefix: str = "env") -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ConfigError(f"{prefix}.id", self.id, "a gymnasium environment id such as 'Ant-v4'")
        if self.max_episode_steps is not None:
            _positive_int(f"{prefix}.max_episode_steps", self.max_episode_steps)
        _positive_int(f"{prefix}.action_repeat", self.action_repeat)
        _positive_int(f"{prefix}.frame_stack", self.frame_stack)


@dataclass(frozen=True)
class OFENetConfig:
    """Online feature extractor (Ota et al. 2020; 2021 section 3.1 and A.1-A.4).

    A state stack and a state-action stack of `layers` DenseNet blocks each, `total_units //
    layers` new units per block (BatchNorm, Swish), so z_s has obs_dim + total_units dimensions and
    z_sa has dim(z_s) + action_dim + total_units. Trained to predict the next state's first
    `target_dims` dimensions (None: the OFENet code's per-task table, `nets.ofenet.TARGET_DIMS`)
    with its own Adam, after `pretrain_steps` OFENet-only updates following the random warm-up.
    Defaults are Ota et al. 2021 (8 x 256 = 2048 units, target network tau 0.005);
    `experiments.ofenet_2020(env_id)` gives the 2020 setting (240 units in 6 or 8 layers per task).
    """

    enabled: bool = False
    layers: int = 8
    total_units: int = 2048
    activation: str = "swish"
    batchnorm: bool = True
    lr: float = 3e-4
    pretrain_steps: int = 10_000
    target_network: bool = True  # Ota 2021 A.1; the 2020 code reads the online OFENet for targets
    target_tau: float = 0.005
    target_dims: int | None = None

    def validate(self, prefix: str = "agent.ofenet") -> None:
        _bool(f"{prefix}.enabled", self.enabled)
        _positive_int(f"{prefix}.layers", self.layers)
        _positive_int(f"{prefix}.total_units", self.total_units)
        if self.total_units % self.layers:
            raise ConfigError(f"{prefix}.total_units", self.total_units,
                              f"a multiple of {prefix}.layers={self.layers} (units are split evenly over layers)")
        _choice(f"{prefix}.activation", self.activation, ACTIVATIONS)
        _bool(f"{prefix}.batchnorm", self.batchnorm)
        _number_in(f"{prefix}.lr", self.lr, 0.0, 1.0, low_open=True)
        _positive_int(f"{prefix}.pretrain_steps", self.pretrain_steps, minimum=0)
        _bool(f"{prefix}.target_network", self.target_network)
        _number_in(f"{prefix}.target_tau", self.target_tau, 0.0, 1.0, low_open=True)
        if self.target_dims is not None:
            _positive_int(f"{prefix}.target_dims", self.target_dims)


@dataclass(frozen=True)
class SACConfig:
    """SAC's own fields (Haarnoja et al. 2018b, Table 1): temperature learned towards -|A|."""

    alpha_lr: float = 3e-4
    init_alpha: float = 1.0
    target_entropy: float | None = None  # None -> -action_dim (Haarnoja et al. 2018b)

    def validate(self, prefix: str = "agent.sac") -> None:
        _number_in(f"{prefix}.alpha_lr", self.alpha_lr, 0.0, 1.0, low_open=True)
        _number_in(f"{prefix}.init_alpha", self.init_alpha, 0.0, float("inf"), low_open=True)
        if self.target_entropy is not None:
            _number_in(f"{prefix}.target_entropy", self.target_entropy, -float("inf"), float("inf"))


@dataclass(frozen=True)
class TD3Config:
    """TD3's own fields (Fujimoto et al. 2018): target policy smoothing, delayed actor, exploration."""

    policy_noise: float = 0.2
    noise_clip: float = 0.5
    policy_delay: int = 2
    exploration_noise: float = 0.1

    def validate(self, prefix: str = "agent.td3") -> None:
        _number_in(f"{prefix}.policy_noise", self.policy_noise, 0.0, float("inf"))
        _number_in(f"{prefix}.noise_clip", self.noise_clip, 0.0, float("inf"))
        _positive_int(f"{prefix}.policy_delay", self.policy_delay)
        _number_in(f"{prefix}.exploration_noise", self.exploration_noise, 0.0, float("inf"))


# Each algorithm's own section of AgentConfig, by algorithm name (the section's field name).
@dataclass(frozen=True)
class DrQV2Config:
    """DrQ-v2's own fields (Yarats et al. 2021): exploration std on a linear schedule over agent
    steps (1.0 -> 0.1 over 500k for medium tasks; 100k for easy ones), clipped at `std_clip` in the
    target and the actor loss; the projection ("trunk") width; the random-shift padding."""

    std_start: float = 1.0
    std_end: float = 0.1
    std_steps: int = 500_000
    std_clip: float = 0.3
    feature_dim: int = 50
    shift_pad: int = 4
    head_init: str = "orthogonal"  # DrQ-v2's orthogonal init of the heads too ("zoo": the zoo's init)

    def validate(self, prefix: str = "agent.drqv2") -> None:
        _number_in(f"{prefix}.std_start", self.std_start, 0.0, float("inf"))
        _number_in(f"{prefix}.std_end", self.std_end, 0.0, float("inf"))
        _positive_int(f"{prefix}.std_steps", self.std_steps)
        _number_in(f"{prefix}.std_clip", self.std_clip, 0.0, float("inf"))
        _positive_int(f"{prefix}.feature_dim", self.feature_dim)
        if not isinstance(self.shift_pad, int) or isinstance(self.shift_pad, bool) or self.shift_pad < 0:
            raise ConfigError(f"{prefix}.shift_pad", self.shift_pad, "an integer >= 0")
        _choice(f"{prefix}.head_init", self.head_init, HEAD_INITS)


HEAD_INITS = ("orthogonal", "zoo")


@dataclass(frozen=True)
class DrQConfig:
    """DrQ's own fields (Kostrikov, Yarats, Fergus 2020; their public config): SAC with temperature
    starting at 0.1 and learned with Adam at `alpha_lr`; log-std squashed by tanh into
    [log_std_min, log_std_max]; actor and temperature updated every `actor_update_every` updates,
    the target critic (with its own encoder) every `target_update_every`; K = `target_augmentations`
    random shifts of s' averaged in the target, M = `loss_augmentations` shifts of s summed in the
    critic loss. `alpha_loss="alpha"` is DrQ's code, alpha * (-log pi - target entropy);
    "log_alpha" is SAC's, log alpha * (...): the same fixed point, a gradient alpha times smaller
    for DrQ's form. `head_init="orthogonal"`: DrQ's orthogonal init of the heads too ("zoo": the
    zoo's default init)."""

    init_alpha: float = 0.1
    alpha_lr: float = 1e-3
    target_entropy: float | None = None  # None -> -action_dim
    alpha_loss: str = "alpha"
    log_std_min: float = -10.0
    log_std_max: float = 2.0
    actor_update_every: int = 2
    target_update_every: int = 2
    target_augmentations: int = 2
    loss_augmentations: int = 2
    feature_dim: int = 50
    shift_pad: int = 4
    head_init: str = "orthogonal"

    def validate(self, prefix: str = "agent.drq") -> None:
        _number_in(f"{prefix}.init_alpha", self.init_alpha, 0.0, float("inf"), low_open=True)
        _number_in(f"{prefix}.alpha_lr", self.alpha_lr, 0.0, 1.0, low_open=True)
        if self.target_entropy is not None:
            _number_in(f"{prefix}.target_entropy", self.target_entropy, -float("inf"), float("inf"))
        _choice(f"{prefix}.alpha_loss", self.alpha_loss, ("alpha", "log_alpha"))
        _number_in(f"{prefix}.log_std_min", self.log_std_min, -float("inf"), float("inf"))
        if not (isinstance(self.log_std_max, (int, float)) and self.log_std_max > self.log_std_min):
            raise ConfigError(f"{prefix}.log_std_max", self.log_std_max, f"a number > log_std_min={self.log_std_min}")
        for name in ("actor_update_every", "target_update_every", "target_augmentations", "loss_augmentations",
                     "feature_dim"):
            _positive_int(f"{prefix}.{name}", getattr(self, name))
        _positive_int(f"{prefix}.shift_pad", self.shift_pad, minimum=0)
        _choice(f"{prefix}.head_init", self.head_init, HEAD_INITS)


ALGORITHM_SECTIONS = {"sac": SACConfig, "td3": TD3Config, "drq": DrQConfig, "drqv2": DrQV2Config}


@dataclass(frozen=True)
class AgentConfig:
    """Algorithm and its hyperparameters: the fields every actor-critic agent shares, plus one
    section per algorithm (`agent.sac`, `agent.td3`) read only by that algorithm.

    Defaults follow the original papers: SAC with automatic temperature (Haarnoja et al. 2018b,
    Table 1: Adam 3e-4, batch 256, gamma 0.99, tau 0.005, target entropy -|A|, 256x2 ReLU) and
    TD3 (Fujimoto et al. 2018: policy noise 0.2 clipped at 0.5, policy delay 2, exploration noise
    0.1) with batch 256 as Ota et al. 2021 A.4 state. TD3's learning rate and widths follow the
    authors' reference implementation (3e-4, 256x2) rather than the paper's 1e-3 and 400-300; both
    are fields here. `critic_loss="huber"` is Ota A.1's choice; "mse" is the original papers'.
    `n_step` > 1 bootstraps from the n-th next state with the discounted reward sum (DrQ-v2: 3); the
    replay computes it (`Batch.discount`), so every Bellman target reads r + discount * V(s').
    `n_step_partial`: within n steps of an episode's end, sum the rewards left (True, the Ape-X /
    Rainbow convention) or never sample those starts (False, as DrQ-v2's replay does).
    """

    algo: str = "sac"
    actor: NetConfig = field(default_factory=NetConfig)
    critic: NetConfig = field(default_factory=NetConfig)
    ofenet: OFENetConfig = field(default_factory=OFENetConfig)
    gamma: float = 0.99
    n_step: int = 1
    n_step_partial: bool = True
    tau: float = 0.005
    batch_size: int = 256
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    critic_loss: str = "mse"
    # Spectrally normalized target networks: "own" runs power iteration on the target's own weights
    # (a deep-copied torch spectral_norm target in DrQ, which Bjorck et al. build on); "copy" takes
    # the online network's u, v vectors at every soft update.
    sn_target: str = "own"
    sac: SACConfig = field(default_factory=SACConfig)
    td3: TD3Config = field(default_factory=TD3Config)
    drq: DrQConfig = field(default_factory=DrQConfig)
    drqv2: DrQV2Config = field(default_factory=DrQV2Config)

    @classmethod
    def for_algorithm(cls, algo: str, **overrides) -> "AgentConfig":
        """The agent with `algo`'s own paper settings for the shared fields (ALGORITHM_DEFAULTS:
        DrQ-v2's lr 1e-4, tau 0.01, n-step 3, 1024-wide heads), then `overrides`."""
        return cls(**{"algo": algo, **ALGORITHM_DEFAULTS.get(algo, {}), **overrides})

    @property
    def pixels(self) -> bool:
        """Whether the algorithm reads images (through its own encoder)."""
        return self.algo in PIXEL_ALGORITHMS

    @property
    def section(self):
        """The running algorithm's own section (e.g. `SACConfig` for algo='sac')."""
        return getattr(self, self.algo)

    def validate(self, prefix: str = "agent") -> None:
        _choice(f"{prefix}.algo", self.algo, ALGORITHMS)
        self.actor.validate(f"{prefix}.actor")
        self.critic.validate(f"{prefix}.critic")
        self.ofenet.validate(f"{prefix}.ofenet")
        _number_in(f"{prefix}.gamma", self.gamma, 0.0, 1.0, high_open=True)
        _positive_int(f"{prefix}.n_step", self.n_step)
        _bool(f"{prefix}.n_step_partial", self.n_step_partial)
        if self.pixels and self.ofenet.enabled:
            raise ConfigError(f"{prefix}.ofenet.enabled", True, f"false for agent.algo={self.algo!r} (a pixel agent "
                                                                 "learns its features with its own encoder)")
        if self.n_step > 1 and self.ofenet.enabled:
            raise ConfigError(f"{prefix}.n_step", self.n_step,
                              "1 with OFENet (its auxiliary task predicts the next state, not the n-th)")
        _number_in(f"{prefix}.tau", self.tau, 0.0, 1.0, low_open=True)
        _positive_int(f"{prefix}.batch_size", self.batch_size)
        for name in ("actor_lr", "critic_lr"):
            _number_in(f"{prefix}.{name}", getattr(self, name), 0.0, 1.0, low_open=True)
        _choice(f"{prefix}.critic_loss", self.critic_loss, CRITIC_LOSSES)
        _choice(f"{prefix}.sn_target", self.sn_target, SN_TARGET_MODES)
        for name, cls in ALGORITHM_SECTIONS.items():
            section = getattr(self, name)
            if not isinstance(section, cls):
                raise ConfigError(f"{prefix}.{name}", section, f"a {cls.__name__} section")
            section.validate(f"{prefix}.{name}")


# Shared AgentConfig fields an algorithm's paper sets differently from SAC's defaults; applied by
# `AgentConfig.for_algorithm` (and `--algo` on the command line). DrQ-v2 (Yarats et al. 2021, their
# public config): Adam 1e-4 for encoder, actor and critic, batch 256, tau 0.01, 3-step returns whose
# windows never cross an episode's end, 1024-wide 2-hidden-layer MLP heads, squared TD error.
# DrQ (Kostrikov et al. 2020, their public config): Adam 1e-3 for everything, batch 512 (the paper's
# setting, and the 15-task benchmark Bjorck et al. run; the repository's config file says 128),
# tau 0.01 for the critic and its encoder, 2 x 1024 heads.
PIXEL_ALGORITHMS = ("drq", "drqv2")
ALGORITHM_DEFAULTS: dict[str, dict] = {
    "drq": dict(actor_lr=1e-3, critic_lr=1e-3, batch_size=512, tau=0.01,
                actor=NetConfig(width=1024), critic=NetConfig(width=1024)),
    "drqv2": dict(actor_lr=1e-4, critic_lr=1e-4, batch_size=256, tau=0.01, n_step=3, n_step_partial=False,
                  actor=NetConfig(width=1024), critic=NetConfig(width=1024)),
}


REPLAY_STORAGES = ("auto", "device", "host")


@dataclass(frozen=True)
class BudgetConfig:
    """How long a run trains and how often it evaluates, logs and checkpoints.

    Serial collection counts agent steps (one action; `env.action_repeat` frames each, see
    `RunConfig.frames`); Ape-X counts gradient steps. After the warm-up, every `update_every`-th
    agent step runs `updates_per_step` updates (DrQ-v2: one update every 2 steps).
    `replay_storage` says where the `replay_size` slots live: "device" in the learner's memory,
    "host" in the CPU's (a GPU learner then gets each batch in one copy), "auto" on the device when
    they fit in its free memory (leaving `rlcore.replay.LEARNER_RESERVE` for training), else on the
    host. A replay that fits on neither is refused before anything is allocated.
    """

    total_steps: int = 1_000_000
    warmup_steps: int = 10_000  # uniform-random actions before the first update (Ota A.4)
    updates_per_step: int = 1
    update_every: int = 1
    replay_size: int = 1_000_000
    replay_storage: str = "auto"
    eval_every: int = 5_000
    eval_episodes: int = 10
    log_every: int = 1_000  # training metrics are averaged and written every this many steps
    checkpoint_every: int = 50_000
    # A run whose |Q| or loss exceeds this (or is NaN/inf) is marked crashed.
    divergence_threshold: float = 1e8
    # Analysis during training (0 switches each off):
    grad_norm_every: int = 10         # updates between global gradient-norm measurements (Bjorck Fig 3)
    srank_samples: int = 2048         # fixed replay transitions whose critic features' srank is logged
    td_targets_samples: int = 10_000  # transitions whose frozen TD targets are saved for loss landscapes

    def validate(self, prefix: str = "budget") -> None:
        for name in ("total_steps", "updates_per_step", "update_every", "replay_size", "eval_every",
                     "eval_episodes", "log_every", "checkpoint_every"):
            _positive_int(f"{prefix}.{name}", getattr(self, name))
        _positive_int(f"{prefix}.warmup_steps", self.warmup_steps, minimum=0)
        for name in ("grad_norm_every", "srank_samples", "td_targets_samples"):
            _positive_int(f"{prefix}.{name}", getattr(self, name), minimum=0)
        _number_in(f"{prefix}.divergence_threshold", self.divergence_threshold, 0.0, float("inf"),
                   low_open=True)
        _choice(f"{prefix}.replay_storage", self.replay_storage, REPLAY_STORAGES)


COLLECT_MODES = ("serial", "apex")
BACKENDS = ("local", "ray")
REPLAYS = ("uniform", "prioritized")


@dataclass(frozen=True)
class CollectConfig:
    """How experience arrives (Ota 3.2 and A.1).

    "serial": one environment step per update (the original algorithms). "apex": an Ape-X-like
    collector -- `workers` (N_core) processes each stepping `envs_per_worker` (N_env) environments
    with the latest policy weights, pulled every `sync_every` vector steps, streaming transitions to
    a learner that updates continuously; budget.total_steps then counts gradient steps, and
    budget.warmup_steps the random transitions collected before the first update. Paper: 2 x 32.
    `backend="ray"` runs the same workers as Ray actors (`ray_address`, or $RAY_ADDRESS, or a local
    Ray); setting `ray_address` alone selects the Ray backend too. `replay="prioritized"` is Schaul
    et al.'s proportional replay as in Ape-X.
    """

    mode: str = "serial"
    backend: str = "local"
    workers: int = 2
    envs_per_worker: int = 32
    sync_every: int = 1
    ray_address: str | None = None
    # Optional cap on environment steps per gradient step (after the warm-up): the learner stops
    # draining the workers' queue above it and they block. 0: no cap, as in Ape-X.
    max_env_per_grad: float = 0.0
    replay: str = "uniform"
    priority_alpha: float = 0.6
    priority_beta: float = 0.4  # annealed linearly to 1 over the run

    @property
    def effective_backend(self) -> str:
        """"ray" when asked for by name or by a configured cluster address, else "local"."""
        return "ray" if self.backend == "ray" or self.ray_address else "local"

    def validate(self, prefix: str = "collect") -> None:
        _choice(f"{prefix}.mode", self.mode, COLLECT_MODES)
        _choice(f"{prefix}.backend", self.backend, BACKENDS)
        _positive_int(f"{prefix}.workers", self.workers)
        _positive_int(f"{prefix}.envs_per_worker", self.envs_per_worker)
        _positive_int(f"{prefix}.sync_every", self.sync_every)
        if self.ray_address is not None and not isinstance(self.ray_address, str):
            raise ConfigError(f"{prefix}.ray_address", self.ray_address, "None or an address such as 'auto' or 'host:6379'")
        _number_in(f"{prefix}.max_env_per_grad", self.max_env_per_grad, 0.0, float("inf"))
        _choice(f"{prefix}.replay", self.replay, REPLAYS)
        _number_in(f"{prefix}.priority_alpha", self.priority_alpha, 0.0, 1.0)
        _number_in(f"{prefix}.priority_beta", self.priority_beta, 0.0, 1.0)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run; `run_id` is its stable name."""

    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    seed: int = 0
    profile: str = "custom"
    device: str = "auto"  # not hashed: where a run computes, not what

    def __post_init__(self):
        self.env.validate("env")
        self.agent.validate("agent")
        self.budget.validate("budget")
        self.collect.validate("collect")
        _positive_int("seed", self.seed, minimum=0)
        _choice("profile", self.profile, PROFILES)
        _choice("device", self.device, DEVICES)
        if self.collect.mode == "apex":
            # Workers send transitions of many environments interleaved: n-step sums and stored-once
            # frames need each episode's transitions in order, which only the serial loop gives.
            if self.agent.n_step != 1:
                raise ConfigError("agent.n_step", self.agent.n_step, "1 with collect.mode='apex'")
            if self.env.frame_stack != 1:
                raise ConfigError("env.frame_stack", self.env.frame_stack, "1 with collect.mode='apex'")
        if self.agent.ofenet.enabled and self.env.frame_stack != 1:
            # OFENet predicts the next observation's leading dims: with a stack, the oldest frame.
            raise ConfigError("env.frame_stack", self.env.frame_stack, "1 with agent.ofenet.enabled")

    def frames(self, agent_steps: int) -> int:
        """Environment frames behind `agent_steps` agent steps (each repeats its action)."""
        return int(agent_steps) * self.env.action_repeat

    # ---- identity -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["env"]["kwargs"] = self.env.kwargs_dict
        return d

    def hash_fields(self) -> dict[str, Any]:
        """What the run id hashes: the fields that differ from their defaults, minus those that
        do not change what the run computes, plus the schema version."""
        d = _non_default(self)
        d.pop("device", None)
        agent = d.get("agent", {})
        if not self.agent.ofenet.enabled:  # a switched-off extractor's settings change nothing
            agent.pop("ofenet", None)
        for name in ALGORITHM_SECTIONS:  # another algorithm's section is never read
            if name != self.agent.algo:
                agent.pop(name, None)
        collect = d.get("collect", {})
        # Where workers run is not what they compute; serial collection has no workers at all.
        for key in ("backend", "ray_address") + (("workers", "envs_per_worker", "sync_every")
                                                 if self.collect.mode == "serial" else ()):
            collect.pop(key, None)
        d = {k: v for k, v in d.items() if v != {}}
        return {"schema": SCHEMA_VERSION, **d}

    def hash(self) -> str:
        blob = json.dumps(self.hash_fields(), sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def run_id(self) -> str:
        env = self.env.id.replace(":", "_").replace("/", "_")
        return f"{self.agent.algo}-{env}-s{self.seed}-{self.hash()}"

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunConfig":
        """Build from nested dicts (config.json, CLI overrides); unknown fields are ConfigErrors."""
        return _build(cls, d, "")

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with dotted-path overrides, e.g. `cfg.replace(**{"agent.critic.width": 512})`."""
        d = self.to_dict()
        for path, value in changes.items():
            node = d
            *parents, leaf = path.split(".")
            for key in parents:
                if not isinstance(node.get(key), dict):
                    raise ConfigError(path, value, f"a path into the config; {key!r} is not a section")
                node = node[key]
            if leaf not in node:
                raise ConfigError(path, value, f"an existing field; valid here: {', '.join(sorted(node))}")
            section = isinstance(node[leaf], dict) and leaf != "kwargs"
            if section and not isinstance(value, Mapping):
                raise ConfigError(path, value, f"a section (a mapping of its fields: {', '.join(sorted(node[leaf]))}); "
                                  f"set one field with {path}.<field>=...")
            # A mapping for a section sets those fields and keeps the others; env.kwargs is replaced.
            node[leaf] = {**node[leaf], **value} if section else dict(value) if isinstance(value, Mapping) else value
        return RunConfig.from_dict(d)


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def _plain(value: Any) -> Any:
    """A field value as JSON-comparable data (EnvConfig.kwargs are stored as sorted pairs)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return {str(k): v for k, v in value}
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _non_default(obj: Any) -> dict[str, Any]:
    """The fields of a (nested) config dataclass that differ from their defaults; sections recurse."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            inner = _non_default(value)
            if inner:
                out[f.name] = inner
        elif _plain(value) != _plain(_default_of(f)):
            out[f.name] = _plain(value)
    return out


def _build(cls: type, d: Mapping[str, Any], prefix: str):
    """cls(**d) with nested sections built from their dicts and every key checked."""
    if not isinstance(d, Mapping):
        raise ConfigError(prefix or "config", d, f"a mapping of {cls.__name__}'s fields")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in d.items():
        name = f"{prefix}.{key}" if prefix else key
        if key not in fields:
            raise ConfigError(name, value, f"a field of {cls.__name__}: one of {', '.join(sorted(fields))}")
        default = _default_of(fields[key])
        if dataclasses.is_dataclass(default):
            value = value if isinstance(value, type(default)) else _build(type(default), value, name)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as err:  # e.g. a mapping where a number belongs, caught before validation
        raise ConfigError(prefix or "config", dict(d), f"valid {cls.__name__} fields ({err})") from err


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"agent.critic.width": 256, ...} (used for run tables)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v if not isinstance(v, Mapping) else json.dumps(dict(v))
    return out
