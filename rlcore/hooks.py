"""Training hooks: measurements and side tasks the trainer runs at fixed points of a run.

The trainer calls, for each hook in order,

    before_update(trainer, step, request) -> metrics | None   before every agent update
    on_evaluate(trainer, step) -> {metric: value}              at every evaluation (rows of evaluations.csv)
    on_end(trainer)                                            once, after the last step
    state_dict() / load_state_dict(state)                      saved in every checkpoint

`request` is the `UpdateRequest` the next `agent.update` is called with (e.g. a hook asks for the
step's gradient norms). A new measurement is a hook here plus a config field that switches it on
(`hooks_for` builds the list from the config); tests add their own with `Trainer(hooks=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from .analysis.rank import critic_feature_rank
from .analysis.td_targets import frozen_td_targets
from .config import RunConfig

if TYPE_CHECKING:  # the trainer imports this module, not the other way round
    from .train import Trainer


@dataclass
class UpdateRequest:
    """Options of one agent update that hooks may set."""

    grad_norms: bool = False


class Hook:
    """Base hook: every call does nothing; subclasses override what they need."""

    name = "hook"

    def before_update(self, trainer: "Trainer", step: int, request: UpdateRequest) -> dict[str, torch.Tensor] | None:
        return None

    def on_evaluate(self, trainer: "Trainer", step: int) -> dict[str, float]:
        return {}

    def on_end(self, trainer: "Trainer") -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class FeatureLearning(Hook):
    """OFENet's training (Ota et al. 2020, 2021 A.1): `pretrain_steps` OFENet-only updates after the
    random warm-up, before the agent's first update; then one auxiliary step on its own batch before
    every agent update (first, as the OFENet code does)."""

    name = "feature_learning"

    def __init__(self, pretrain_steps: int):
        self.pretrain_steps, self.pretrained = pretrain_steps, False

    def before_update(self, trainer, step, request):
        agent = trainer.agent
        if not self.pretrained:
            losses = [agent.update_features(trainer.sample())["ofenet_loss"] for _ in range(self.pretrain_steps)]
            if losses:
                trainer.log(step, "pretrain_ofenet_loss_first", losses[0].item())
                trainer.log(step, "pretrain_ofenet_loss_last", losses[-1].item())
            self.pretrained = True
        return agent.update_features(trainer.sample())

    def state_dict(self):
        return {"pretrained": self.pretrained}

    def load_state_dict(self, state):
        self.pretrained = state["pretrained"]


class GradientNorms(Hook):
    """Global gradient norms of actor and critic (Bjorck et al. 2021 Fig 3) every `every` updates."""

    name = "gradient_norms"

    def __init__(self, every: int):
        self.every = every

    def before_update(self, trainer, step, request):
        request.grad_norms = (trainer.agent.updates + 1) % self.every == 0
        return None


class EffectiveRank(Hook):
    """srank (delta 0.01) of each critic's penultimate features at every evaluation, on a fixed set
    of transitions: the first `samples` ever stored, snapshotted once the replay holds that many."""

    name = "effective_rank"

    def __init__(self, samples: int):
        self.samples, self.fixed_set = samples, None

    def on_evaluate(self, trainer, step):
        replay = trainer.replay
        if self.fixed_set is None:
            ready = replay.ready_indices()
            if len(ready) < self.samples:
                return {}
            batch = replay.gather(ready[: self.samples])
            self.fixed_set = (batch.obs.clone(), batch.action.clone())
        ranks = critic_feature_rank(trainer.agent, *self.fixed_set)
        return {f"srank_critic{i}": float(r) for i, r in enumerate(ranks, 1)}

    def state_dict(self):
        return {"fixed_set": self.fixed_set}

    def load_state_dict(self, state):
        self.fixed_set = state["fixed_set"]


class TDTargetExport(Hook):
    """(s, a, Q_hat) of `samples` stored transitions under the final agent, frozen, saved as
    td_targets.pt for the loss landscapes (Ota A.3)."""

    name = "td_target_export"

    def __init__(self, samples: int, seed: int):
        self.samples, self.seed = samples, seed

    def on_end(self, trainer):
        targets = frozen_td_targets(trainer.agent, trainer.replay, self.samples, seed=self.seed)
        targets.save(trainer.store.path("td_targets.pt"))


def hooks_for(cfg: RunConfig, learns_features: bool) -> list[Hook]:
    """The hooks a run's config switches on (a zero in the budget switches a measurement off)."""
    b = cfg.budget
    hooks: list[Hook] = []
    if learns_features:
        hooks.append(FeatureLearning(cfg.agent.ofenet.pretrain_steps))
    if b.grad_norm_every:
        hooks.append(GradientNorms(b.grad_norm_every))
    if b.srank_samples:
        hooks.append(EffectiveRank(b.srank_samples))
    if b.td_targets_samples:
        hooks.append(TDTargetExport(b.td_targets_samples, cfg.seed))
    return hooks
