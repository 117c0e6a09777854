"""Population training: the seeds of one configuration trained together as one vectorized agent.

`train_population(configs)` trains configs that differ only in their seed. Each member is the run
it would be alone: its RunConfig and run id, run directory and lock, environment, replay, hooks,
evaluations, checkpoints, and its own torch random stream (the global generator as its solo run
would leave it, swapped in around everything that draws from it: acting, sampling, its share of
the update's noise). What is shared is the arithmetic: the members' networks are stacked along the
ensemble axis the trunks already have (P seeds' twin critics become one trunk of 2P members, their
actors one of P), the members' own tensors become views of the stacked ones, and one update is one
batched pass for all seeds with one fused Adam step per network (Flajolet et al. 2022: vectorized
populations on one accelerator). Acting, evaluation, hooks and checkpoints go through each member's
own agent, as in a solo run; Adam's state is copied into each member's optimizer before it
checkpoints, and back from the checkpoints when a population resumes.

Built for SAC and TD3 with serial collection on flat observations, without OFENet, uniform replay and one
device (`check_population` names what else is refused). A member whose run diverges is recorded
as crashed and the others go on (its slots of the stacked networks keep computing, unread).

Same per-seed results: every member's update does the solo update's arithmetic on its own slice,
and its random draws come from its own stream in the solo order, so a population reproduces its
members' solo runs up to the float rounding of batched matmuls (a gemm over 2P matrices may block
differently from one over 2: last-bit differences that a long run amplifies, as any change of
thread count does); `tests/test_population.py` compares them on short fixed-seed runs.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
from torch import nn

from .agents.base import UpdateResult, make_adam, make_target, requires_grad, soft_update, td_loss_elements
from .agents.sac import SAC, SquashedGaussianActor
from .agents.td3 import TD3, DeterministicActor
from .config import ConfigError, RunConfig
from .hooks import UpdateRequest
from .loops import Diverged
from .nets import SpectralLinear, build_trunk
from .replay import Batch
from .train import Interrupt, Interrupts, RunInterrupted, Trainer

POPULATION_ALGOS = ("sac", "td3")


def population_key(cfg: RunConfig) -> str:
    """Configs with the same key differ only in their seed: they can train as one population."""
    return cfg.replace(seed=0).run_id


def population_groups(configs: Sequence[RunConfig]) -> list[list[RunConfig]]:
    """The configs grouped by `population_key`, groups and members in first-seen order."""
    groups: dict[str, list[RunConfig]] = {}
    for cfg in configs:
        groups.setdefault(population_key(cfg), []).append(cfg)
    return list(groups.values())


def check_population(configs: Sequence[RunConfig]) -> None:
    """One clear error for what population training does not cover."""
    if len({population_key(c) for c in configs}) > 1:
        raise ConfigError("population", [c.run_id for c in configs], "configs that differ only in their seed")
    if len({c.seed for c in configs}) != len(configs):
        raise ConfigError("seed", [c.seed for c in configs], "distinct seeds within a population")
    cfg = configs[0]
    if cfg.agent.algo not in POPULATION_ALGOS:
        raise ConfigError("agent.algo", cfg.agent.algo, f"one of {', '.join(map(repr, POPULATION_ALGOS))} "
                                                         "with --population (or train without it)")
    if cfg.collect.mode != "serial":
        raise ConfigError("collect.mode", cfg.collect.mode, "'serial' with --population")
    if cfg.collect.replay != "uniform":
        raise ConfigError("collect.replay", cfg.collect.replay, "'uniform' with --population")
    if cfg.agent.ofenet.enabled:
        raise ConfigError("agent.ofenet.enabled", True, "False with --population (OFENet is not stacked yet)")


class RandomStreams:
    """Each member's torch random state (CPU, and CUDA where there is one), swapped into the global
    generators around that member's work: `with streams.member(j): ...`."""

    def __init__(self, members: int):
        self.cuda = torch.cuda.is_available()
        self.states: list[tuple | None] = [None] * members

    def capture(self, j: int) -> None:
        self.states[j] = (torch.get_rng_state(), torch.cuda.get_rng_state_all() if self.cuda else None)

    @contextlib.contextmanager
    def member(self, j: int):
        cpu, cuda = self.states[j]
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        try:
            yield
        finally:
            self.capture(j)

    def normal(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        """(P, *shape) standard normals, member j's slice drawn from member j's stream."""
        draws = []
        for j in range(len(self.states)):
            with self.member(j):
                draws.append(torch.randn(shape, device=device))
        return torch.stack(draws)


def stack_into(stacked: nn.Module, members: Sequence[nn.Module]) -> None:
    """Copy the members' parameters and buffers into `stacked`, member after member along the
    leading (ensemble) axis, and make each member's tensors views of them, so the members read
    whatever the stacked module's optimizer and in-place updates write."""
    tensors = lambda m: {**dict(m.named_parameters()), **dict(m.named_buffers())}
    target, sources = tensors(stacked), [tensors(m) for m in members]
    for name, t in target.items():
        parts = [s[name] for s in sources]
        with torch.no_grad():
            if t.dim() == 0:  # e.g. BatchNorm's num_batches_tracked: the same count in every member
                t.copy_(parts[0])
                for p in parts:
                    p.data = t.data
                continue
            t.copy_(torch.cat([p.detach() for p in parts]))
        offset = 0
        for p in parts:
            p.data = t.data[offset:offset + p.shape[0]]
            offset += p.shape[0]
        if offset != t.shape[0]:
            raise ValueError(f"{name}: members hold {offset} slots, the stacked module {t.shape[0]}")


class PopulationAgent:
    """P agents' networks stacked (`networks()`: name -> (stacked module, the members' modules), one
    fused Adam per name), the members' tensors views of the stacked ones; `update` does every
    member's update on its own batch in one batched pass."""

    def __init__(self, members: Sequence, streams: RandomStreams):
        self.members, self.streams, self.P = list(members), streams, len(members)
        self.cfg, self.device = members[0].cfg, members[0].device
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self._params: dict[str, list[tuple[torch.Tensor, list[torch.Tensor]]]] = {}

    def _stack(self, make, member_modules: Sequence[nn.Module]) -> nn.Module:
        """`make()` (built off every member's random stream) holding the members' tensors."""
        with torch.random.fork_rng(devices=[]):
            stacked = make().to(self.device)
        stack_into(stacked, member_modules)
        return stacked

    def _stack_actor(self, actor_class: type[nn.Module], out_dim: int) -> nn.Module:
        """The members' actors (`actor_class` around one trunk of `out_dim` outputs) as one of P members."""
        cfg, in_dim, action_dim = self.cfg, self.members[0].extractor.state_dim, self.members[0].action_dim

        def make():
            stacked = actor_class(cfg, in_dim, action_dim)
            stacked.trunk = build_trunk(cfg.actor, in_dim, out_dim, n=self.P, squeeze=False)
            return stacked
        return self._stack(make, [m.actor for m in self.members])

    def _stack_critic(self) -> nn.Module:
        """The members' twin critics as one trunk of 2P members (member j's are 2j and 2j + 1)."""
        in_dim = self.members[0].extractor.state_action_dim
        return self._stack(lambda: build_trunk(self.cfg.critic, in_dim, 1, n=2 * self.P), [m.critic for m in self.members])

    def _target(self, online: nn.Module, member_targets: Sequence[nn.Module]) -> nn.Module:
        target = make_target(online, self.cfg.sn_target)
        stack_into(target, member_targets)
        return target

    def _optimize(self, name: str, stacked: Sequence[torch.Tensor], members: Sequence[Sequence[torch.Tensor]],
                  lr: float) -> None:
        """One fused Adam over `stacked`; members[j] are member j's parameters, in the same order."""
        self.optimizers[name] = make_adam(list(stacked), lr)
        self._params[name] = [(p, [m[i] for m in members]) for i, p in enumerate(stacked)]

    # ---- Adam state: stacked here, per member in each member's optimizer (for its checkpoints) -----
    def save_optimizer_states(self) -> None:
        """Each member's optimizer gets its slice of the stacked Adam state (before it checkpoints)."""
        for name, opt in self.optimizers.items():
            for stacked, parts in self._params[name]:
                state = opt.state.get(stacked)
                if not state:
                    continue
                offset = 0
                for j, part in enumerate(parts):
                    n = 1 if part.dim() == 0 else part.shape[0]
                    self.members[j].optimizers[name].state[part] = {
                        k: v.clone() if k == "step" else (v[j] if part.dim() == 0 else v[offset:offset + n]).clone()
                        for k, v in state.items()}
                    offset += n

    def load_optimizer_states(self) -> None:
        """The stacked Adam state from the members' optimizers (resumed runs; none for fresh ones)."""
        for name, opt in self.optimizers.items():
            for stacked, parts in self._params[name]:
                states = [self.members[j].optimizers[name].state.get(part) for j, part in enumerate(parts)]
                if not all(states):
                    continue
                steps = {float(s["step"]) for s in states}
                if len(steps) != 1:
                    raise ValueError(f"{name}: the members' Adam steps differ ({sorted(steps)})")
                join = torch.stack if parts[0].dim() == 0 else torch.cat
                opt.state[stacked] = {k: states[0][k].clone() if k == "step" else join([s[k] for s in states])
                                      for k in states[0]}

    # ---- batched pieces of the solo updates --------------------------------------------------------
    def _batch(self, batches: Sequence[Batch]) -> Batch:
        b = Batch(*(None if batches[0][i] is None else torch.stack([x[i] for x in batches])
                    for i in range(len(batches[0]))))
        if b.weights is not None:
            raise ValueError("population updates take uniform batches (no importance weights)")
        return b

    def _twins(self, z: torch.Tensor) -> torch.Tensor:
        """(P, B, f) -> (2P, B, f): each member's input to its two critics."""
        return z.repeat_interleave(2, dim=0)

    def _min_twin(self, q: torch.Tensor) -> torch.Tensor:
        return q.view(self.P, 2, *q.shape[1:]).min(dim=1).values

    def _member_means(self, x: torch.Tensor, per: int = 1) -> list[torch.Tensor]:
        """Each member's mean over its `per` leading slots, computed on its own slice (solo order)."""
        return [x[j * per:(j + 1) * per].mean() for j in range(self.P)]

    def _member_norms(self, module: nn.Module, per: int) -> list[torch.Tensor]:
        """Each member's global gradient norm (the L2 norm over its slices of every gradient)."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        return [torch.linalg.vector_norm(torch.stack(torch._foreach_norm([g[j * per:(j + 1) * per] for g in grads])))
                for j in range(self.P)]

    def _critic_step(self, b: Batch, target: torch.Tensor, results: list[UpdateResult], measure: bool) -> None:
        """`Agent.critic_step` for every member, from each member's TD target (P, B, 1)."""
        P = self.P
        with torch.no_grad():
            z_sa = torch.cat([b.obs, b.action], dim=-1)
        q = self.critic(self._twins(z_sa))
        per_element = td_loss_elements(q, self._twins(target), self.cfg.critic_loss)
        member_losses = per_element.mean(dim=(1, 2)).view(P, 2).sum(dim=1)
        optimizer = self.optimizers["critic"]
        optimizer.zero_grad(set_to_none=True)
        member_losses.sum().backward()
        if measure:
            for r, norm in zip(results, self._member_norms(self.critic, 2)):
                r.metrics["critic_grad_norm"] = norm
        optimizer.step()
        q = q.detach()
        for j, (r, q_mean) in enumerate(zip(results, self._member_means(q, 2))):
            r.metrics.update(critic_loss=member_losses[j].detach(), q_mean=q_mean)
            r.td_errors = (q[2 * j:2 * j + 2] - target[j]).abs().mean(0).squeeze(-1)
        for m in self.members:
            m.updates += 1

    def _advance_target_spectral_norms(self) -> None:
        with torch.no_grad():
            for layer in self._own_sn:
                layer.power_iterate(layer.power_iterations)

    def _own_sn_layers(self, *targets: nn.Module) -> list[SpectralLinear]:
        return [l for t in targets for l in t.modules() if isinstance(l, SpectralLinear) and l.owns_vectors]


class PopulationSAC(PopulationAgent):
    """`SAC.update` for P members."""

    def __init__(self, members: Sequence[SAC], streams: RandomStreams):
        super().__init__(members, streams)
        m0, P, cfg = members[0], self.P, self.cfg
        self.actor = self._stack_actor(SquashedGaussianActor, 2 * m0.action_dim)
        self.critic = self._stack_critic()
        self.critic_target = self._target(self.critic, [m.critic_target for m in members])
        self.log_alpha = torch.zeros(P, device=self.device, requires_grad=True)
        with torch.no_grad():
            self.log_alpha.copy_(torch.stack([m.log_alpha.detach() for m in members]))
        for j, m in enumerate(members):
            m.log_alpha.data = self.log_alpha.data[j]
        self.target_entropy = m0.target_entropy
        self._optimize("actor", list(self.actor.parameters()), [list(m.actor.parameters()) for m in members],
                       cfg.actor_lr)
        self._optimize("critic", list(self.critic.parameters()), [list(m.critic.parameters()) for m in members],
                       cfg.critic_lr)
        self._optimize("alpha", [self.log_alpha], [[m.log_alpha] for m in members], cfg.sac.alpha_lr)
        self._own_sn = self._own_sn_layers(self.critic_target)
        self.load_optimizer_states()

    def update(self, batches: Sequence[Batch], grad_norms: Sequence[bool]) -> list[UpdateResult]:
        P = self.P
        self.actor.train()
        self.critic.train()
        b = self._batch(batches)
        results = [UpdateResult() for _ in range(P)]
        measure = any(grad_norms)
        B, A = b.action.shape[1], b.action.shape[2]

        # critic: SAC.next_value, then Agent.critic_step
        self._advance_target_spectral_norms()
        with torch.no_grad():
            alpha = self.log_alpha.detach().exp().view(P, 1, 1)
            next_action, next_log_prob = self.actor(b.next_obs, noise=self.streams.normal((B, A), self.device))
            q_next = self._min_twin(self.critic_target(self._twins(torch.cat([b.next_obs, next_action], dim=-1))))
            target = b.reward + b.discount * (q_next - alpha * next_log_prob)
        self._critic_step(b, target, results, measure)

        # SAC.update_actor: policy, temperature, target critic
        requires_grad(self.critic, False)
        action, log_prob = self.actor(b.obs, noise=self.streams.normal((B, A), self.device))
        q_pi = self._min_twin(self.critic(self._twins(torch.cat([b.obs, action], dim=-1))))
        actor_losses = self._member_means(alpha * log_prob - q_pi)
        self.optimizers["actor"].zero_grad(set_to_none=True)
        torch.stack(actor_losses).sum().backward()
        if measure:
            for r, norm in zip(results, self._member_norms(self.actor, 1)):
                r.metrics["actor_grad_norm"] = norm
        self.optimizers["actor"].step()
        requires_grad(self.critic, True)

        gap = log_prob.detach() + self.target_entropy
        alpha_losses = [-(self.log_alpha[j] * gap[j]).mean() for j in range(P)]
        self.optimizers["alpha"].zero_grad(set_to_none=True)
        torch.stack(alpha_losses).sum().backward()
        self.optimizers["alpha"].step()

        soft_update(self.critic_target, self.critic, self.cfg.tau)
        for j, r in enumerate(results):
            r.metrics.update(actor_loss=actor_losses[j].detach(), alpha=alpha[j, 0, 0],
                             alpha_loss=alpha_losses[j].detach(), entropy=-log_prob[j].detach().mean())
            if not grad_norms[j]:
                r.metrics.pop("critic_grad_norm", None)
                r.metrics.pop("actor_grad_norm", None)
        return results


class PopulationTD3(PopulationAgent):
    """`TD3.update` for P members (delayed actor and targets, target policy smoothing)."""

    def __init__(self, members: Sequence[TD3], streams: RandomStreams):
        super().__init__(members, streams)
        cfg = self.cfg
        self.actor = self._stack_actor(DeterministicActor, members[0].action_dim)
        self.actor_target = self._target(self.actor, [m.actor_target for m in members])
        self.critic = self._stack_critic()
        self.critic_target = self._target(self.critic, [m.critic_target for m in members])
        self._optimize("actor", list(self.actor.parameters()), [list(m.actor.parameters()) for m in members],
                       cfg.actor_lr)
        self._optimize("critic", list(self.critic.parameters()), [list(m.critic.parameters()) for m in members],
                       cfg.critic_lr)
        self._own_sn = self._own_sn_layers(self.actor_target, self.critic_target)
        self.load_optimizer_states()

    def update(self, batches: Sequence[Batch], grad_norms: Sequence[bool]) -> list[UpdateResult]:
        P, own = self.P, self.cfg.td3
        self.actor.train()
        self.critic.train()
        b = self._batch(batches)
        results = [UpdateResult() for _ in range(P)]
        for m, asked in zip(self.members, grad_norms):
            m._measure_actor = m._measure_actor or asked  # TD3.update_critic: at this or the next actor update

        # critic: TD3.next_value, then Agent.critic_step
        self._advance_target_spectral_norms()
        with torch.no_grad():
            noise = (own.policy_noise * self.streams.normal(tuple(b.action.shape[1:]), self.device)
                     ).clamp(-own.noise_clip, own.noise_clip)
            next_action = (self.actor_target(b.next_obs) + noise).clamp(-1.0, 1.0)
            q_next = self._min_twin(self.critic_target(self._twins(torch.cat([b.next_obs, next_action], dim=-1))))
            target = b.reward + b.discount * q_next
        self._critic_step(b, target, results, any(grad_norms))
        for r, asked in zip(results, grad_norms):
            if not asked:
                r.metrics.pop("critic_grad_norm", None)

        # TD3.update_actor: every policy_delay updates, through Q1; then both targets
        if self.members[0].updates % own.policy_delay:
            return results
        requires_grad(self.critic, False)
        q = self.critic(self._twins(torch.cat([b.obs, self.actor(b.obs)], dim=-1)))
        actor_losses = [-q[2 * j].mean() for j in range(P)]  # each member's Q1, as TD3 does
        self.optimizers["actor"].zero_grad(set_to_none=True)
        torch.stack(actor_losses).sum().backward()
        measured = [m._measure_actor for m in self.members]
        if any(measured):
            for j, (r, norm) in enumerate(zip(results, self._member_norms(self.actor, 1))):
                if measured[j]:
                    r.metrics["actor_grad_norm"] = norm
                    self.members[j]._measure_actor = False
        self.optimizers["actor"].step()
        requires_grad(self.critic, True)
        soft_update(self.actor_target, self.actor, self.cfg.tau)
        soft_update(self.critic_target, self.critic, self.cfg.tau)
        for r, loss in zip(results, actor_losses):
            r.metrics["actor_loss"] = loss.detach()
        return results


POPULATIONS = {"sac": PopulationSAC, "td3": PopulationTD3}


# ---- the training loop ------------------------------------------------------------------------------

def train_population(configs: Sequence[RunConfig], results_dir=None, progress: bool = True, force: bool = False,
                     wait: float = 0.0) -> list[dict]:
    """Train `configs` (one configuration, several seeds) as one population; returns each member's
    status in the configs' order. Members that already ended are returned as they are; with fewer
    than two left, or members resuming from different steps, the rest train one after another."""
    check_population(configs)
    trainers = [Trainer(cfg, results_dir, progress) for cfg in configs]
    held = []
    try:
        for t in trainers:
            t.store.acquire(wait)
            held.append(t)
        return _train_locked(trainers, force)
    finally:
        for t in held:
            t.store.release()


def _train_locked(trainers: list[Trainer], force: bool) -> list[dict]:
    statuses: list[dict | None] = [None] * len(trainers)
    streams = RandomStreams(len(trainers))
    active, start = [], {}
    for j, t in enumerate(trainers):
        ended, step = t.begin(force)  # seeds the global generator with this member's seed, builds it
        if ended is not None:
            statuses[j] = ended
            continue
        streams.capture(j)
        active.append(j)
        start[j] = step
    if len(active) < 2 or len(set(start.values())) > 1:
        for j in active:
            with streams.member(j):
                statuses[j] = trainers[j].run_from(start[j])
        return statuses
    members = [trainers[j] for j in active]
    member_streams = RandomStreams(len(active))
    member_streams.states = [streams.states[j] for j in active]
    for j, status in zip(active, _run_members(members, member_streams, start[active[0]])):
        statuses[j] = status
    return statuses


def _run_members(members: list[Trainer], streams: RandomStreams, step: int) -> list[dict]:
    population = POPULATIONS[members[0].cfg.agent.algo]([t.agent for t in members], streams)
    b = members[0].cfg.budget
    statuses: list[dict | None] = [None] * len(members)
    live = lambda: [j for j, s in enumerate(statuses) if s is None]

    def each(work):
        """`work(j, trainer)` for every live member under its own stream; a divergence ends that member."""
        for j in live():
            with streams.member(j):
                try:
                    work(j, members[j])
                except Diverged as err:
                    statuses[j] = members[j].crashed(err)

    try:
        with Interrupts() as interrupts:
            for t in members:  # checked once per step below, after every member's periodic work
                t.interrupts = _Unchecked()
            each(lambda j, t: t.first_evaluation(step))
            each(lambda j, t: t.strategy.start(step))
            while step < b.total_steps and live():
                each(lambda j, t: t.strategy.collect(step))
                step += 1
                if members[live()[0]].strategy.updates_due(step):
                    for _ in range(b.updates_per_step):
                        _learner_step(population, members, streams, step)
                # One decision for all members: the shared optimizer state is saved first.
                checkpoint = members[live()[0]].checkpoint_due(step)
                if checkpoint:
                    population.save_optimizer_states()
                each(lambda j, t: t.periodic(step, checkpoint))
                if step < b.total_steps:
                    interrupts.check()
    except Interrupt as stop:
        population.save_optimizer_states()
        for j in live():
            with streams.member(j):  # its checkpoint holds its own random state
                members[j].interrupted(stop.signal_name)
        raise RunInterrupted(step) from None
    except BaseException as err:
        for j in live():
            members[j].failed(err)
        raise
    finally:
        for t in members:
            t.bar.close()
    for j in live():
        with streams.member(j):
            statuses[j] = members[j].finish(step)
    return statuses


class _Unchecked:
    """A member's interrupt check inside `Trainer.periodic`: the population checks once per step."""

    def check(self) -> None:
        pass


def _learner_step(population: PopulationAgent, members: list[Trainer], streams: RandomStreams, step: int) -> None:
    """`Trainer.learner_step` for every member: hooks and sampling under each member's stream, then
    one batched update, then each member's metrics."""
    batches, requests = [], []
    for j, t in enumerate(members):
        with streams.member(j):
            request = UpdateRequest()
            for hook in t.hooks:
                t._accumulate(hook.before_update(t, step, request))
            batches.append(t.sample())
            requests.append(request.grad_norms)
    for t, result in zip(members, population.update(batches, requests)):
        t._accumulate(result.metrics)
