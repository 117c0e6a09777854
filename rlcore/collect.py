"""Ape-X-like asynchronous collection (Ota et al. 2021 section 3.2 and A.1; Horgan et al. 2018).

N_core worker processes each step N_env environments (one gymnasium vector env, SAME_STEP
autoreset) with the latest policy weights and stream transitions to the learner, which adds them to
its replay and updates continuously. Weights travel the other way: the learner publishes the
acting networks' state (policy, plus OFENet when the policy reads its features) with a version
number (the learner's gradient step); a worker pulls them every `sync_every` vector steps when
the version changed. The learner copies its weights out only once a worker has taken the previous
copy: a copy nobody reads would cost a device-to-host transfer per gradient step (86 MB for the
paper's agent) and buy nothing. Until the first publication (after the random warm-up), workers
act uniformly at random.

Backends: "local" uses `torch.multiprocessing` (spawn) with shared-memory weight tensors and a
pipe per worker; "ray" runs the same worker loop as Ray actors, with a small Ray actor holding the
weights and a Ray queue for transitions. The learner side (`Collector`) is the same for both: `start`,
`publish`, `drain`, `check_workers` (restarts dead workers and counts the deaths), `shutdown`.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue as queue_lib
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .config import ConfigError, RunConfig

# A worker sends its transitions in messages of at least this many (several vector steps), so the
# learner pays the per-message cost (unpickling, a replay insert, a priority-tree update) rarely.
MIN_MESSAGE_TRANSITIONS = 256
UNLIMITED = 2 ** 62

log = logging.getLogger(__name__)


@dataclass
class Chunk:
    worker: int
    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    version: int  # weights version of the oldest action in the message (0: random warm-up)
    episode_returns: list[float] = field(default_factory=list)

    @staticmethod
    def concat(chunks: list["Chunk"]) -> "Chunk":
        cat = lambda name: np.concatenate([getattr(c, name) for c in chunks])
        return Chunk(chunks[0].worker, cat("obs"), cat("action"), cat("reward"), cat("next_obs"), cat("terminated"),
                     min(c.version for c in chunks), [r for c in chunks for r in c.episode_returns])


# ---- the worker loop (shared by both backends) --------------------------------------------------
class _Policy:
    """A worker's copy of the acting networks, built from the run config on CPU."""

    def __init__(self, cfg: RunConfig, spec, action_dim: int):
        from .agents import make_agent

        torch.set_num_threads(1)
        self.agent = make_agent(cfg.agent, spec, action_dim, "cpu", env_id=cfg.env.id)
        self.modules = self.agent.acting_modules()

    def load(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, module in self.modules.items():
            module.load_state_dict(state[name])

    def act(self, obs: np.ndarray, version: int) -> np.ndarray:
        # A worker knows the learner's progress only by the weights' version (its gradient step).
        return self.agent.act_batch(obs, version, explore=True)


def _worker_loop(worker: int, cfg: RunConfig, seed: int, pull_weights, send, should_stop, acquire) -> None:
    """Step the vector env until told to stop. `pull_weights(version) -> (version, state) or None`;
    `acquire(n) -> bool` asks for permission to collect the next message of n transitions (the
    learner's cap on environment steps per gradient step; granted while fewer than the allowed
    number were granted in all); the worker waits until it is granted."""
    import warnings

    from .envs import env_spec, make_vector_env, vector_final_obs

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # e.g. "Ant-v4 is out of date", per worker

    envs = make_vector_env(cfg.env, cfg.collect.envs_per_worker, seed)
    spec, action_dim = env_spec(envs)
    policy, version = _Policy(cfg, spec, action_dim), 0
    rng = np.random.default_rng(seed)
    obs, _ = envs.reset(seed=seed)
    returns = np.zeros(envs.num_envs)
    message_steps = -(-MIN_MESSAGE_TRANSITIONS // envs.num_envs)  # vector steps per message
    steps, pending = 0, []
    while not should_stop():
        if not pending:
            # Throttle at the source: a message waits here, before it is collected, rather than in
            # the queue after it, so its actions come from the newest weights (low staleness).
            if not acquire(message_steps * envs.num_envs):
                time.sleep(0.002)
                continue
            steps = 0  # pull the newest weights as the message starts
        if steps % cfg.collect.sync_every == 0:
            pulled = pull_weights(version)
            if pulled is not None:
                version, state = pulled
                policy.load(state)
        if version == 0:
            action = rng.uniform(-1.0, 1.0, size=(envs.num_envs, action_dim)).astype(np.float32)
        else:
            action = policy.act(obs, version)
        next_obs, reward, terminated, truncated, infos = envs.step(action)
        done = np.logical_or(terminated, truncated)
        returns += reward
        finished = [float(r) for r in returns[done]]
        returns[done] = 0.0
        # SAME_STEP autoreset: next_obs of a finished env is already the reset one; the true
        # s' is infos["final_obs"]. Truncation is not a terminal.
        pending.append(Chunk(worker, obs, action, reward.astype(np.float32),
                             vector_final_obs(next_obs, infos, done), terminated.astype(np.float32), version, finished))
        if len(pending) == message_steps:
            send(Chunk.concat(pending))
            pending = []
        obs = next_obs
        steps += 1
    envs.close()


# ---- local backend ----------------------------------------------------------------------------
def _local_worker(worker, cfg, seed, shared, seq, version, taken, allowed, produced, conn, stop):
    parent = multiprocessing.parent_process()

    def should_stop():
        # A learner killed hard (SIGKILL, out of memory) cannot set the flag: stop with it.
        return bool(stop.value) or (parent is not None and not parent.is_alive())

    def pull(current):
        # Seqlock: `seq` is odd while the learner writes; a copy during which it changed is dropped
        # (and retried at the next sync).
        start, latest = seq.value, version.value
        if start % 2 or latest == current:
            return None
        state = {name: {k: t.clone() for k, t in tensors.items()} for name, tensors in shared.items()}
        if seq.value != start:
            return None
        taken.value = latest
        return latest, state

    def acquire(n):
        # Each worker counts its own grants (no lock to share); workers asking at the same time
        # may each be granted, so the total may overshoot by less than a message per worker.
        if sum(produced) >= allowed.value:
            return False
        produced[worker] += n
        return True

    def send(chunk):
        # Blocks while the pipe is full (the learner reads it in shutdown too). A learner that is
        # gone closed the only read end: BrokenPipeError.
        conn.send(chunk)

    try:
        _worker_loop(worker, cfg, seed, pull, send, should_stop, acquire)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        conn.close()


class LocalWorkers:
    def __init__(self, cfg: RunConfig, acting_state: dict[str, dict[str, torch.Tensor]]):
        self.ctx = torch.multiprocessing.get_context("spawn")
        self.cfg = cfg
        # Shared-memory copies of the acting networks' tensors: publish() writes into them in place.
        self.shared = {name: {k: t.detach().cpu().clone().share_memory_() for k, t in state.items()}
                       for name, state in acting_state.items()}
        # No lock is shared with the workers: one that is killed while holding it (SIGKILL, out of
        # memory) would block the learner or the other workers forever. Each value has one writer
        # (`taken_version`: whichever worker copied last) and the weights are guarded by a seqlock.
        raw = lambda typecode, value: self.ctx.Value(typecode, value, lock=False)
        self.seq = raw("q", 0)  # odd while publish() writes the weights
        self.version = raw("q", 0)
        self.taken_version = raw("q", 0)  # the latest version a worker has copied
        # Transitions the workers may collect in all / have been granted, per worker (see Collector.allow).
        self.allowed, self.produced = raw("q", UNLIMITED), self.ctx.Array("q", cfg.collect.workers, lock=False)
        self.stop = raw("b", 0)
        self.processes: dict[int, Any] = {}
        # One pipe per worker, not a queue shared by all: a worker killed in the middle of a message
        # (SIGKILL, out of memory) must not leave the learner waiting forever for the rest of it, nor
        # the other workers waiting for the write lock it held. The worker holds the only write end,
        # so its death reads as end-of-file.
        self.readers: dict[int, Any] = {}
        self.received: collections.deque[Chunk] = collections.deque()

    def start(self, worker: int, seed: int) -> None:
        old = self.readers.pop(worker, None)
        if old is not None:  # a dead worker's pipe: what is left in it may be cut off
            old.close()
        reader, writer = self.ctx.Pipe(duplex=False)
        p = self.ctx.Process(target=_local_worker, daemon=True, name=f"rlcore-worker-{worker}",
                             args=(worker, self.cfg, seed, self.shared, self.seq, self.version, self.taken_version,
                                   self.allowed, self.produced, writer, self.stop))
        p.start()
        writer.close()
        self.processes[worker] = p
        self.readers[worker] = reader

    def publish(self, state, version: int) -> None:
        self.seq.value += 1
        for name, tensors in state.items():
            for k, t in tensors.items():
                self.shared[name][k].copy_(t)
        self.version.value = version
        self.seq.value += 1

    def taken(self, version: int) -> bool:
        return self.taken_version.value >= version

    def allow(self, transitions: int) -> None:
        self.allowed.value = transitions

    def get(self, timeout: float) -> Chunk | None:
        if not self.received:  # one message from each worker that has one ready
            if not self.readers:
                time.sleep(timeout)
            for reader in multiprocessing.connection.wait(list(self.readers.values()), timeout):
                try:
                    self.received.append(reader.recv())
                except (EOFError, OSError):  # the worker died, perhaps mid-message: dead() restarts it
                    reader.close()
                    self.readers = {w: r for w, r in self.readers.items() if r is not reader}
        return self.received.popleft() if self.received else None

    def dead(self) -> dict[int, str]:
        return {w: f"exit code {p.exitcode}" for w, p in self.processes.items() if not p.is_alive()}

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values() if p.pid is not None]

    def shutdown(self) -> None:
        self.stop.value = 1
        deadline = time.time() + 10
        while time.time() < deadline and any(p.is_alive() for p in self.processes.values()):
            while self.get(timeout=0.05) is not None:  # workers blocked on a full pipe can finish
                pass
        for p in self.processes.values():
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
        for reader in self.readers.values():
            reader.close()
        self.readers.clear()
        self.received.clear()


# ---- Ray backend ------------------------------------------------------------------------------
class RayWorkers:
    POLL_INTERVAL_S = 0.02

    def __init__(self, cfg: RunConfig, acting_state):
        import ray
        from ray.util.queue import Queue

        self.ray, self.cfg = ray, cfg
        self.store = ray.remote(_WeightStore).options(num_cpus=0).remote()
        self.queue = Queue(maxsize=4 * cfg.collect.workers, actor_options={"num_cpus": 0})
        self.actors: dict[int, Any] = {}
        self.runs: dict[int, Any] = {}
        self._taken_ref = None
        self._allowed = None
        self._last_empty_poll = -1.0

    def start(self, worker: int, seed: int) -> None:
        actor = self.ray.remote(_RayWorker).options(num_cpus=1, max_restarts=0).remote()
        self.actors[worker] = actor
        self.runs[worker] = actor.run.remote(worker, self.cfg, seed, self.store, self.queue)

    def publish(self, state, version: int) -> None:
        cpu = {name: {k: t.detach().cpu() for k, t in tensors.items()} for name, tensors in state.items()}
        self.ray.get(self.store.set.remote(version, cpu))

    def allow(self, transitions: int) -> None:
        # Fire and forget (a Ray actor runs one caller's calls in order); only when the grant grew
        # by a message or more, so the learner does not submit a call per gradient step.
        if self._allowed is None or not 0 <= transitions - self._allowed < MIN_MESSAGE_TRANSITIONS // 4:
            self._allowed = transitions
            self.store.allow.remote(transitions)

    def taken(self, version: int) -> bool:
        # Asked without blocking the learner: the answer to the previous question, if it has come.
        if self._taken_ref is None:
            self._taken_ref = self.store.taken.remote()
        ready, _ = self.ray.wait([self._taken_ref], timeout=0)
        if not ready:
            return False
        taken, self._taken_ref = self.ray.get(self._taken_ref), None
        return taken >= version

    def get(self, timeout: float) -> Chunk | None:
        # Asking an empty Ray queue costs a remote call (~5 ms here), far more than a small update:
        # a learner polling every gradient step asks at most every POLL_INTERVAL_S.
        now = time.monotonic()
        if timeout < self.POLL_INTERVAL_S and now - self._last_empty_poll < self.POLL_INTERVAL_S:
            return None
        try:
            return self.queue.get(timeout=timeout)
        except Exception:  # noqa: BLE001 - queue.Empty, or ray.util.queue.Empty in older Ray
            self._last_empty_poll = now
            return None

    def dead(self) -> dict[int, str]:
        dead = {}
        for worker, ref in self.runs.items():
            ready, _ = self.ray.wait([ref], timeout=0)
            if ready:  # the run loop only returns when it was stopped or crashed
                try:
                    self.ray.get(ref)
                    dead[worker] = "returned"
                except Exception as err:  # noqa: BLE001 - whatever killed the actor is the reason
                    dead[worker] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        return dead

    def pids(self) -> list[int]:
        pids = []
        for actor in self.actors.values():
            try:
                pids.append(self.ray.get(actor.pid.remote(), timeout=5))
            except Exception:  # noqa: BLE001 - a dead actor has no process to report
                pass
        return pids

    def shutdown(self) -> None:
        for actor in self.actors.values():
            try:
                self.ray.get(actor.stop.remote(), timeout=5)
            except Exception:  # noqa: BLE001 - a dead actor cannot be stopped
                pass
        for actor in self.actors.values():
            self.ray.kill(actor)
        self.ray.kill(self.store)
        self.queue.shutdown(force=True)


class _WeightStore:
    def __init__(self):
        self.version, self.state, self.taken_version = 0, None, 0
        self.allowed, self.produced = UNLIMITED, 0

    def allow(self, transitions):
        self.allowed = transitions

    def acquire(self, n):
        if self.produced >= self.allowed:
            return False
        self.produced += n
        return True

    def set(self, version, state):
        self.version, self.state = version, state

    def get(self, current):
        if self.version == current:
            return None
        self.taken_version = self.version
        return self.version, self.state

    def taken(self):
        return self.taken_version


class _RayWorker:
    def __init__(self):
        self.stopped = False

    def stop(self):
        self.stopped = True

    def pid(self):
        return os.getpid()

    async def run(self, worker, cfg, seed, store, out_queue):
        # Runs in a thread so that stop() can be served while the loop is busy.
        import asyncio

        import ray

        def pull(current):
            return ray.get(store.get.remote(current))

        def send(chunk):
            out_queue.put(chunk)

        def acquire(n):
            return ray.get(store.acquire.remote(n))

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _worker_loop, worker, cfg, seed, pull, send, lambda: self.stopped, acquire)


def _reachable(address: str, timeout: float = 3.0) -> bool:
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


_UNREACHABLE = ("a reachable Ray head ('auto', 'host:port' of a running `ray start --head`, or None for a "
                "local Ray); nothing answered at that address within 3 s")


def _ray_init(address: str | None) -> bool:
    """Connect to (or start) Ray; True when this call started a local Ray that we must shut down."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address and address != "auto" and not _reachable(address):
        raise ConfigError("collect.ray_address", address, _UNREACHABLE)
    try:
        if address:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        else:
            ray.init(num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, ignore_reinit_error=True,
                     log_to_driver=False)
            return True
    except Exception as err:  # noqa: BLE001 - the error must name the setting, whatever Ray raised
        raise ConfigError("collect.ray_address", address,
                          f"a reachable Ray cluster address ('auto', 'host:port', or None for a local Ray); "
                          f"connecting failed: {type(err).__name__}: {err}") from err
    return False


# ---- the learner's side ------------------------------------------------------------------------
def check_settings(cfg: RunConfig, connect: bool = True) -> bool:
    """Reject settings that cannot work before any process starts. With `connect`, also connect to
    (or start) Ray for the Ray backend; without, only check that the address answers.
    Returns True when it started a local Ray (which the caller must shut down)."""
    c = cfg.collect
    if c.effective_backend == "local":
        cpus = os.cpu_count() or 1
        if c.workers > cpus:
            raise ConfigError("collect.workers", c.workers,
                              f"at most the {cpus} CPUs of this machine for backend='local' (use backend='ray' "
                              "with a cluster for more)")
        return False
    else:
        try:
            import ray  # noqa: F401
        except ImportError as err:
            raise ConfigError("collect.backend", "ray", "'local', or install the ray extra "
                              "(pip install -e '.[ray]')") from err
        if not connect:
            import ray

            address = c.ray_address or os.environ.get("RAY_ADDRESS")
            if not ray.is_initialized() and address and address != "auto" and not _reachable(address):
                raise ConfigError("collect.ray_address", address, _UNREACHABLE)
            return False
        started = _ray_init(c.ray_address)
        import ray

        cpus = int(ray.cluster_resources().get("CPU", 0))
        if c.workers > cpus:  # each worker actor holds one CPU: the extra ones would wait forever
            if started:
                ray.shutdown()
            raise ConfigError("collect.workers", c.workers,
                              f"at most the {cpus} CPUs of the Ray cluster (one per worker actor)")
        return started


class Collector:
    """Starts the workers, hands out their transitions, restarts dead ones, shuts everything down."""

    def __init__(self, cfg: RunConfig, acting_state: dict[str, dict[str, torch.Tensor]]):
        self.owns_ray = check_settings(cfg)
        self.cfg = cfg
        backend = LocalWorkers if cfg.collect.effective_backend == "local" else RayWorkers
        self.workers = backend(cfg, acting_state)
        self.version = 0
        self.restarts = 0
        self.deaths: list[dict] = []
        self._seed_counter = 0

    def _seed(self, worker: int) -> int:
        # A distinct seed per worker start (a restarted worker does not replay its predecessor).
        self._seed_counter += 1
        return self.cfg.seed * 100_003 + 1_000 * worker + self._seed_counter

    def start(self) -> "Collector":
        for w in range(self.cfg.collect.workers):
            self.workers.start(w, self._seed(w))
        return self

    def publish(self, acting_state, version: int) -> bool:
        """Offer the learner's acting weights as of gradient step `version` (> 0). They are copied
        out only if a worker has taken the previous copy (or none was made yet); True if copied.
        `acting_state` may be a callable returning the state, so a skipped offer costs nothing."""
        if self.version and not self.workers.taken(self.version):
            return False
        self.workers.publish(acting_state() if callable(acting_state) else acting_state, version)
        self.version = version
        return True

    def allow(self, transitions: int) -> None:
        """Let the workers collect `transitions` in all (since start) before they wait; the cap on
        environment steps per gradient step (collect.max_env_per_grad) sets it every step."""
        self.workers.allow(int(transitions))

    def drain(self, max_chunks: int = 8, timeout: float = 0.0) -> list[Chunk]:
        chunks = []
        first = self.workers.get(timeout=timeout) if timeout else self.workers.get(timeout=0.001)
        if first is not None:
            chunks.append(first)
            while len(chunks) < max_chunks:
                nxt = self.workers.get(timeout=0.0001)
                if nxt is None:
                    break
                chunks.append(nxt)
        return chunks

    def check_workers(self) -> list[int]:
        """Restart dead workers; returns the ids restarted now."""
        dead = self.workers.dead()
        for w, reason in dead.items():
            log.warning("collector: worker %d died (%s); restarting it", w, reason)
            self.deaths.append({"worker": w, "time": time.time(), "reason": reason})
            self.restarts += 1
            self.workers.start(w, self._seed(w))
        return list(dead)

    def pids(self) -> list[int]:
        return self.workers.pids()

    def shutdown(self) -> None:
        try:
            self.workers.shutdown()
        except Exception:  # noqa: BLE001 - shutting down must never raise over the real error
            traceback.print_exc()
        if self.owns_ray:  # a local Ray this run started: stop it, so no process outlives the run
            import ray

            ray.shutdown()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.shutdown()
        return False
