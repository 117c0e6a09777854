"""The agent protocol, and the pieces every actor-critic agent shares.

`Agent` declares everything the trainer, the collectors and the analysis tools use of an agent:

    act(obs, step, explore) / act_batch(obs, step, explore)   acting (step: for schedules)
    acting_modules()                                          what a collector worker needs to act
    update(batch, step, grad_norms) -> UpdateResult           one learner step: update_critic, then update_actor
    td_target(batch)                                          r + discount * V'(s'), the Bellman target
    critic_features(obs, action) / q_values(obs, action)      what the critics read, and their outputs
    critic_loss(q, target, weights)                           the configured TD loss (mse or huber)
    update_features(batch)                                    an auxiliary step of a learned extractor (OFENet)
    state_dict() / load_state_dict()                          everything needed to resume

A new agent subclasses `Agent`, builds its networks in `__init__` (trunks from `rlcore.nets`), and
implements `act_batch`, `next_value`, `update_critic` and `update_actor`; `make_agent` finds it by
`cfg.algo` in `rlcore.agents.AGENTS`. The Bellman target (`td_target`) and the path from
observations to what the critics read (`critic_features`) exist only here.
"""

from __future__ import annotations

import abc
import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import AgentConfig
from ..envs import ObsSpec
from ..nets import SpectralLinear, make_extractor
from ..replay import Batch


@dataclass
class UpdateResult:
    """What one update returns: detached scalar metrics (no host sync) and, for prioritized replay,
    each sample's |TD error| averaged over the critics (the new priorities)."""

    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    td_errors: torch.Tensor | None = None


def make_adam(params, lr: float) -> torch.optim.Optimizer:
    # The fused kernel updates all tensors of a group in one pass (CPU and CUDA): no per-tensor loop.
    return torch.optim.Adam(params, lr=lr, fused=True)


_SN_VECTORS = ("sn_u", "sn_v")


def make_target(module: nn.Module, sn_target: str = "own") -> nn.Module:
    """A frozen copy kept in eval mode (BatchNorm reads running statistics).

    Spectral norm: with sn_target="own" the copy refines its own u, v by one power-iteration step
    per update (`Agent.advance_target_spectral_norms`, as a deep-copied torch spectral_norm target
    does at its forward pass in DrQ); with "copy" it takes the online u, v (`soft_update`).
    """
    target = copy.deepcopy(module).eval()
    requires_grad(target, False)
    for layer in target.modules():
        if isinstance(layer, SpectralLinear):
            layer.owns_vectors = sn_target == "own"
    return target


def _tracking_pairs(target: nn.Module, source: nn.Module):
    """(target params, source params, target buffers to overwrite, their sources), built once per
    pair and cached on the target: soft_update runs every step and must not walk modules each time."""
    cache = getattr(target, "_tracking_cache", None)
    if cache is not None and cache[0] is source:
        return cache[1]
    skip = {f"{name}.{leaf}" for name, m in target.named_modules()
            if isinstance(m, SpectralLinear) and m.owns_vectors for leaf in _SN_VECTORS}
    buffers = [(tb, sb) for (name, tb), sb in zip(target.named_buffers(), source.buffers()) if name not in skip]
    pairs = (list(target.parameters()), list(source.parameters()),
             [tb for tb, _ in buffers], [sb for _, sb in buffers])
    object.__setattr__(target, "_tracking_cache", (source, pairs))  # not a submodule, not in state_dict
    return pairs


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """theta' <- tau * theta + (1 - tau) * theta' for parameters; buffers (BN statistics) are copied,
    and so are spectral-norm vectors unless the target iterates its own."""
    t_params, s_params, t_buffers, s_buffers = _tracking_pairs(target, source)
    torch._foreach_lerp_(t_params, s_params, tau)
    if t_buffers:
        torch._foreach_copy_(t_buffers, s_buffers)


def td_loss_elements(q: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-element TD loss: "mse" is SAC's 1/2 (Q - Q_hat)^2; "huber" (delta = 1, Ota A.1) equals it
    for |error| <= 1 and grows linearly beyond, which bounds the gradient of outlier targets."""
    target = target.expand_as(q)
    if kind == "mse":
        return 0.5 * (q - target).square()
    if kind == "huber":
        return F.huber_loss(q, target, reduction="none", delta=1.0)
    raise ValueError(f"critic_loss={kind!r} is invalid: expected one of 'mse', 'huber'")


def critic_loss(q: torch.Tensor, target: torch.Tensor, kind: str, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over ensemble members (n, B, 1) of the mean per-member loss, each sample scaled by its
    importance weight (B, 1) under prioritized replay."""
    per_element = td_loss_elements(q, target, kind)
    if weights is not None:
        per_element = per_element * weights
    return per_element.mean(dim=(1, 2)).sum()


def global_grad_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm over all parameters of a network's gradient (Bjorck et al. 2021 section 3.4), before
    any clipping, kept on the device (no host sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


class LearnedTemperature:
    """SAC's entropy temperature, learned as log alpha (SAC and DrQ): `init_temperature` creates it
    with its Adam; it is saved with the agent's extra state."""

    log_alpha: torch.Tensor

    def init_temperature(self, init_alpha: float, target_entropy: float | None, lr: float) -> None:
        self.log_alpha = torch.tensor(math.log(init_alpha), device=self.device, requires_grad=True)
        self.target_entropy = -float(self.action_dim) if target_entropy is None else float(target_entropy)
        self.optimizers["alpha"] = make_adam([self.log_alpha], lr)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    def extra_state(self) -> dict:
        return {**super().extra_state(), "log_alpha": self.log_alpha.detach().cpu()}

    def load_extra_state(self, extra: dict) -> None:
        super().load_extra_state(extra)
        with torch.no_grad():
            self.log_alpha.copy_(extra["log_alpha"])


class Agent(abc.ABC):
    """An actor-critic agent reading its inputs through a feature extractor (raw inputs or OFENet)."""

    cfg: AgentConfig
    device: torch.device
    modules: dict[str, nn.Module]            # every network, by name (checkpoints, mode switches)
    optimizers: dict[str, torch.optim.Optimizer]
    actor: nn.Module
    critic: nn.Module                        # the ensemble of Q-networks: (n, B, 1)
    critic_target: nn.Module
    updates: int                             # agent updates so far

    def __init__(self, cfg: AgentConfig, spec: ObsSpec, action_dim: int, device: torch.device | str = "cpu",
                 env_id: str | None = None):
        self.cfg, self.device, self.spec, self.action_dim = cfg, torch.device(device), spec, action_dim
        self.modules, self.optimizers = {}, {}
        self.updates = 0
        self._attach_extractor(cfg, spec, action_dim, env_id)

    # ---- acting ---------------------------------------------------------------------------
    @abc.abstractmethod
    def act_batch(self, obs: np.ndarray, step: int, explore: bool) -> np.ndarray:
        """Actions in [-1, 1] for a batch of observations (N, *obs_shape) -> (N, action_dim)."""

    def act(self, obs: np.ndarray, step: int, explore: bool) -> np.ndarray:
        """The action for one observation."""
        return self.act_batch(np.asarray(obs)[None], step, explore)[0]

    def acting_modules(self) -> dict[str, nn.Module]:
        """Weights a collector's workers need to act: the policy and the features it reads."""
        return {"actor": self.actor, **({"ofenet": self.extractor} if self.extractor.learns else {})}

    def observations(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Observations as the networks read them: float32 on the agent's device."""
        return torch.as_tensor(np.asarray(obs) if isinstance(obs, np.ndarray) else obs, device=self.device,
                               dtype=torch.float32)

    # ---- what the critics read --------------------------------------------------------------
    def state_features(self, obs: torch.Tensor) -> torch.Tensor:
        """z_s: what the actor reads."""
        return self.extractor.state_features(obs)

    def critic_features(self, obs: torch.Tensor, action: torch.Tensor, z_s: torch.Tensor | None = None) -> torch.Tensor:
        """z_sa: what every critic reads for (s, a) (OFENet's state-action features, or [s, a])."""
        z_s = self.state_features(obs) if z_s is None else z_s
        return self.extractor.state_action_features(z_s, action)

    def q_values(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(n_critics, B, 1) Q estimates."""
        return self.critic(self.critic_features(obs, action))

    def target_state_features(self, obs: torch.Tensor) -> torch.Tensor:
        """z_s of the target extractor (the target OFENet, or the online one without a target)."""
        return self.extractor_target.state_features(obs)

    def target_q_values(self, z_next: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """min over the target critics of Q'(s', a), from the target extractor's z_s of s': (B, 1)."""
        return self.critic_target(self.extractor_target.state_action_features(z_next, action)).min(dim=0).values

    # ---- learning ---------------------------------------------------------------------------
    @abc.abstractmethod
    def next_value(self, batch: Batch) -> torch.Tensor:
        """(B, 1) V'(s') of the target networks at `batch.next_obs`, as this algorithm defines it."""

    @torch.no_grad()
    def td_target(self, batch: Batch) -> torch.Tensor:
        """(B, 1) Bellman target r + discount * V'(s') (n-step sums and discounts come from the replay).
        Target networks are always in eval mode and their spectral-norm vectors advance only in the
        critic step, so with the agent in eval mode (`eval_mode()`) this changes no state. Inside an
        update the online actor (SAC's a' ~ pi(s')) is in training mode, as in training: its
        BatchNorm statistics and spectral-norm vectors move as they always did there."""
        return batch.reward + batch.discount * self.next_value(batch)

    def critic_loss(self, q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return critic_loss(q, target, self.cfg.critic_loss, weights)

    def update(self, batch: Batch, step: int, grad_norms: bool = False) -> UpdateResult:
        """One learner step: the critics, then the actor (and whatever else the algorithm trains).
        `grad_norms` asks for the global gradient norms of this step in the metrics."""
        self._train_mode(True)
        result = UpdateResult()
        with torch.no_grad():
            z_s = self.state_features(batch.obs)
        result.td_errors = self.update_critic(batch, z_s, result.metrics, grad_norms)
        self.updates += 1
        self.update_actor(batch, z_s, result.metrics, grad_norms)
        return result

    @abc.abstractmethod
    def update_critic(self, batch: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> torch.Tensor:
        """One critic step; writes its metrics, returns each sample's |TD error| (B,)."""

    @abc.abstractmethod
    def update_actor(self, batch: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> None:
        """The actor's step (when it is due) and anything trained with it; writes its metrics."""

    def critic_step(self, batch: Batch, z_s: torch.Tensor, metrics: dict, grad_norms: bool) -> torch.Tensor:
        """The critic step every algorithm here shares: TD loss against `td_target`, Adam step."""
        self.advance_target_spectral_norms()
        target = self.td_target(batch)
        with torch.no_grad():
            z_sa = self.critic_features(batch.obs, batch.action, z_s)
        q = self.critic(z_sa)
        loss = self.critic_loss(q, target, batch.weights)
        optimizer = self.optimizers["critic"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_norms:
            metrics["critic_grad_norm"] = global_grad_norm(self.critic)
        optimizer.step()
        metrics.update(critic_loss=loss.detach(), q_mean=q.detach().mean())
        return (q.detach() - target).abs().mean(0).squeeze(-1)

    @torch.no_grad()
    def advance_target_spectral_norms(self) -> None:
        """One power-iteration step of every spectrally normalized target layer that keeps its own
        u, v (`agent.sn_target="own"`), once per update, before the target is read."""
        for layer in self._own_sn_layers():
            layer.power_iterate(layer.power_iterations)

    def _own_sn_layers(self) -> list[SpectralLinear]:
        if not hasattr(self, "_own_sn_cache"):
            self._own_sn_cache = [m for name, module in self.modules.items() if name.endswith("_target")
                                  for m in module.modules() if isinstance(m, SpectralLinear) and m.owns_vectors]
        return self._own_sn_cache

    # ---- feature extractor (raw inputs or OFENet) -----------------------------------------
    def _attach_extractor(self, cfg: AgentConfig, spec: ObsSpec, action_dim: int, env_id: str | None) -> None:
        """Build `extractor` and `extractor_target`; agents build their trunks on its output dims."""
        self.extractor = make_extractor(cfg.ofenet, spec.flat_dim, action_dim, env_id).to(self.device)
        self.extractor_target = self.extractor
        if self.extractor.learns:
            requires_grad(self.extractor, False)  # only the auxiliary step trains OFENet
            if cfg.ofenet.target_network:
                self.extractor_target = make_target(self.extractor)
                self.modules["ofenet_target"] = self.extractor_target
            self.modules["ofenet"] = self.extractor
            self.optimizers["ofenet"] = make_adam(self.extractor.parameters(), cfg.ofenet.lr)

    @property
    def learns_features(self) -> bool:
        return self.extractor.learns

    def update_features(self, b: Batch) -> dict[str, torch.Tensor]:
        """One auxiliary (next-state prediction) step of OFENet on its own batch; then its target."""
        ofenet, optimizer = self.extractor, self.optimizers["ofenet"]
        requires_grad(ofenet, True)
        loss = ofenet.auxiliary_loss(b.obs, b.action, b.next_obs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        requires_grad(ofenet, False)
        if self.extractor_target is not ofenet:
            soft_update(self.extractor_target, ofenet, self.cfg.ofenet.target_tau)
        return {"ofenet_loss": loss.detach()}

    # ---- modes and state --------------------------------------------------------------------
    def _train_mode(self, training: bool) -> None:
        # BatchNorm: training mode while updating, eval mode while acting (Ota A.1, after Liu et al. 2021).
        if getattr(self, "_training", None) is not training:
            for name, m in self.modules.items():
                if not name.endswith("_target"):  # targets always read running statistics
                    m.train(training)
            self._training = training

    def eval_mode(self) -> "Agent":
        """Every network in eval mode (BatchNorm reads running statistics): for analysis."""
        self._train_mode(False)
        return self

    def extra_state(self) -> dict:
        """State outside modules and optimizers (e.g. SAC's temperature)."""
        return {"updates": self.updates}

    def load_extra_state(self, extra: dict) -> None:
        self.updates = extra["updates"]

    def state_dict(self) -> dict:
        state = {f"module/{k}": m.state_dict() for k, m in self.modules.items()}
        state.update({f"optim/{k}": o.state_dict() for k, o in self.optimizers.items()})
        state["extra"] = self.extra_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state[f"module/{k}"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state[f"optim/{k}"])
        self.load_extra_state(state["extra"])

    def weights(self) -> dict:
        """The final weights and extra state (agent.pt): what `load_agent` restores."""
        return {"modules": {k: m.state_dict() for k, m in self.modules.items()}, "extra": self.extra_state()}

    def load_weights(self, saved: dict) -> None:
        for name, module in self.modules.items():
            module.load_state_dict(saved["modules"][name])
        self.load_extra_state(saved["extra"])
