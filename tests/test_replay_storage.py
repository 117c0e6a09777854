"""rlcore.replay: where the replay is stored (the learner's device or the host) apart from where its
batches go; the automatic choice, its one error when nothing fits, the config field that sets it,
and (on a GPU) host storage feeding a CUDA learner through pinned memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlcore import replay as replay_module
from rlcore.config import BudgetConfig, ConfigError, RunConfig
from rlcore.envs import ObsSpec
from rlcore.replay import PrioritizedReplayBuffer, ReplayBuffer, choose_storage, make_replay, replay_bytes

K, C, H, W = 3, 3, 12, 12
PIXELS = ObsSpec((K * C, H, W), np.dtype(np.uint8), frame_stack=K)
STATES = ObsSpec.flat(4)
GIB = 2**30
CPU, CUDA = torch.device("cpu"), torch.device("cuda")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _fill(replay, spec: ObsSpec, episodes=((0, 7, True), (40, 9, False), (80, 5, True))) -> None:
    """Episodes of (first frame, length, ends in a terminal), stacked as FrameStack(K) would."""
    k = spec.frame_stack
    for start, length, terminal in episodes:
        history = [start] * k
        for i in range(length):
            nxt = history[1:] + [start + i + 1]
            if k > 1:
                obs, next_obs = (np.concatenate([np.full((C, H, W), t, np.uint8) for t in h]) for h in (history, nxt))
            else:
                obs, next_obs = np.full(spec.shape, history[-1], np.float32), np.full(spec.shape, nxt[-1], np.float32)
            last = i == length - 1
            replay.add(obs, np.full(2, start + i, np.float32), float(start + i), next_obs,
                       terminated=last and terminal, truncated=last and not terminal)
            history = nxt


def _assert_same_batch(a, b, exact: bool = True) -> None:
    """Field by field; `exact=False` allows float rounding (sums computed on another device)."""
    for name, x, y in zip(a._fields, a, b):
        assert (x is None) == (y is None), name
        if x is not None:
            torch.testing.assert_close(x.cpu(), y.cpu(), **({"rtol": 0, "atol": 0} if exact else {}), msg=name)


LAYOUTS = [pytest.param(STATES, id="pairs"), pytest.param(PIXELS, id="frames")]
KINDS = [pytest.param(ReplayBuffer, id="uniform"), pytest.param(PrioritizedReplayBuffer, id="prioritized")]


# ---- storage apart from the output device, on the CPU ------------------------------------------
@pytest.mark.parametrize("cls", KINDS)
@pytest.mark.parametrize("spec", LAYOUTS)
def test_explicit_cpu_storage_gives_the_batches_of_the_single_device_replay(spec, cls):
    old = cls(spec, 2, capacity=64, gamma=0.9, n_step=3)
    new = cls(spec, 2, capacity=64, gamma=0.9, n_step=3, storage_device="cpu")
    for r in (old, new):
        _fill(r, spec)
    assert new.storage_device == new.device == CPU and old.storage_device == CPU
    assert torch.equal(old.ready_indices(), new.ready_indices())
    for seed in range(3):
        a = old.sample(32, generator=torch.Generator().manual_seed(seed))
        b = new.sample(32, generator=torch.Generator().manual_seed(seed))
        _assert_same_batch(a, b)
    _assert_same_batch(old.gather(old.ready_indices()), new.gather(new.ready_indices()))


# ---- the choice -------------------------------------------------------------------------------
def _free(**gib):
    """free_on for choose_storage: GiB free per device type (absent: unknown)."""
    return lambda device: None if gib.get(device.type) is None else int(gib[device.type] * GIB)


def test_auto_keeps_the_replay_on_the_learner_when_it_fits_with_room_to_spare():
    device, tried = choose_storage(10 * GIB, "cuda", _free(cuda=20, cpu=100))
    assert device == CUDA and tried == [(CUDA, 20 * GIB)]
    # Fits, but without LEARNER_RESERVE left for training: the host instead.
    device, tried = choose_storage(10 * GIB, "cuda", _free(cuda=10.5, cpu=100))
    assert device == CPU and [d for d, _ in tried] == [CUDA, CPU]
    assert choose_storage(10 * GIB, "cuda", _free(cuda=10.5), reserve=0)[0] == CUDA


def test_auto_falls_back_to_the_host_then_to_nothing():
    assert choose_storage(30 * GIB, "cuda", _free(cuda=20, cpu=100))[0] == CPU
    device, tried = choose_storage(300 * GIB, "cuda", _free(cuda=20, cpu=100))
    assert device is None and tried == [(CUDA, 20 * GIB), (CPU, 100 * GIB)]
    assert choose_storage(300 * GIB, "cuda", _free(cuda=20))[0] == CPU  # the host's memory unknown: tried anyway


def test_explicit_storage_tries_only_that_device_and_keeps_no_reserve():
    assert choose_storage(20 * GIB, "cuda", _free(cuda=20, cpu=100), "device") == (CUDA, [(CUDA, 20 * GIB)])
    assert choose_storage(21 * GIB, "cuda", _free(cuda=20, cpu=100), "device") == (None, [(CUDA, 20 * GIB)])
    assert choose_storage(1 * GIB, "cuda", _free(cuda=20, cpu=100), "host") == (CPU, [(CPU, 100 * GIB)])


@pytest.mark.parametrize("storage", ["auto", "device", "host"])
def test_a_cpu_learner_stores_on_the_cpu_whatever_is_asked(storage):
    assert choose_storage(GIB, "cpu", _free(cpu=4), storage) == (CPU, [(CPU, 4 * GIB)])
    assert choose_storage(8 * GIB, "cpu", _free(cpu=4), storage) == (None, [(CPU, 4 * GIB)])


def test_an_unknown_storage_is_refused():
    with pytest.raises(ValueError, match="'auto', 'device', 'host'"):
        choose_storage(GIB, "cpu", _free(cpu=4), "gpu")


# ---- make_replay ------------------------------------------------------------------------------
def _gib_free(monkeypatch, **gib):
    monkeypatch.setattr(replay_module, "available_bytes", lambda device: int(gib[torch.device(device).type] * GIB))


@pytest.mark.parametrize("prioritized", [False, True])
def test_make_replay_puts_a_replay_too_big_for_the_gpu_on_the_host(monkeypatch, prioritized):
    needed = replay_bytes(PIXELS, 2, 1000)
    _gib_free(monkeypatch, cuda=needed / GIB, cpu=8)  # fits exactly, with nothing to spare for training
    # Nothing is allocated on the GPU, so this builds without one.
    r = make_replay(PIXELS, 2, 1000, "cuda", gamma=0.99, n_step=3, prioritized=prioritized)
    assert r.storage_device == CPU and r.device == CUDA and r.frames.device == CPU
    if prioritized:
        assert r.tree.tree.device == CPU
    _gib_free(monkeypatch, cpu=8)
    assert make_replay(PIXELS, 2, 1000, "cpu", gamma=0.99, n_step=3).storage_device == CPU


def test_make_replay_that_fits_nowhere_names_the_bytes_free_on_each_device(monkeypatch):
    _gib_free(monkeypatch, cuda=2, cpu=3)
    with pytest.raises(ConfigError, match=r"^budget.replay_size=10000000 is invalid: .* need \d+\.\d\d GiB, "
                                          r"2\.00 GiB free on cuda, 3\.00 GiB free on cpu$"):
        make_replay(PIXELS, 2, 10_000_000, "cuda", gamma=0.99, n_step=3)
    with pytest.raises(ConfigError, match=r"need \d+\.\d\d GiB, 2\.00 GiB free on cuda$"):
        make_replay(PIXELS, 2, 10_000_000, "cuda", gamma=0.99, n_step=3, storage="device")


# ---- the config field -------------------------------------------------------------------------
def test_replay_storage_defaults_to_auto_and_refuses_other_values():
    assert BudgetConfig().replay_storage == "auto"
    assert RunConfig().hash_fields() == RunConfig(budget=BudgetConfig(replay_storage="auto")).hash_fields()
    with pytest.raises(ConfigError, match=r"^budget.replay_storage='gpu' is invalid: expected one of "
                                          r"'auto', 'device', 'host'$"):
        RunConfig(budget=BudgetConfig(replay_storage="gpu"))


def test_the_trainer_passes_replay_storage_to_make_replay(tmp_path, tiny_config, monkeypatch):
    from rlcore import train as train_module

    asked, real = [], train_module.make_replay

    def spy(*args, **kwargs):
        asked.append(kwargs["storage"])
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "make_replay", spy)
    trainer = train_module.Trainer(tiny_config("sac", replay_storage="host"), tmp_path, progress=False)
    trainer._setup()
    assert asked == ["host"] and trainer.replay.storage_device == CPU


# ---- a GPU learner with host storage -----------------------------------------------------------
@pytest.mark.parametrize("cls", KINDS)
@pytest.mark.parametrize("spec", LAYOUTS)
@needs_cuda
@pytest.mark.gpu
def test_host_storage_feeds_a_cuda_learner_the_batches_of_a_cpu_replay(spec, cls):
    ref = cls(spec, 2, capacity=64, gamma=0.9, n_step=3)
    host = cls(spec, 2, capacity=64, gamma=0.9, n_step=3, device="cuda", storage_device="cpu")
    for r in (ref, host):
        _fill(r, spec)
    assert host.action.device == CPU and host.storage_device == CPU and host.device.type == "cuda"
    # The observations are gathered into pinned memory, so their copy to the GPU is asynchronous.
    staged = host._gather(host.ready_indices())
    assert staged.obs.is_pinned() and staged.next_obs.is_pinned()
    for seed in range(3):  # indices drawn on the host, with a host generator: the CPU replay's draws
        a = ref.sample(32, generator=torch.Generator().manual_seed(seed))
        b = host.sample(32, generator=torch.Generator().manual_seed(seed))
        assert all(t.is_cuda for t in b if t is not None)
        _assert_same_batch(a, b)
    # Indices from the learner's device work as well as from the host's.
    idx = ref.ready_indices()
    _assert_same_batch(ref.gather(idx), host.gather(idx.cuda()))
    if cls is PrioritizedReplayBuffer:
        td = torch.linspace(-2.0, 3.0, len(idx))
        ref.update_priorities(idx, td)
        host.update_priorities(idx.cuda(), td.cuda())
        assert torch.equal(ref.tree.tree, host.tree.tree) and host.max_priority == ref.max_priority


@needs_cuda
@pytest.mark.gpu
def test_checkpoints_load_whichever_storage_wrote_them():
    on_gpu = PrioritizedReplayBuffer(PIXELS, 2, capacity=64, gamma=0.9, n_step=3, device="cuda")
    _fill(on_gpu, PIXELS)
    on_gpu.update_priorities(on_gpu.ready_indices(), torch.rand(len(on_gpu.ready_indices()), device="cuda"))
    on_host = PrioritizedReplayBuffer(PIXELS, 2, capacity=64, gamma=0.9, n_step=3, device="cuda", storage_device="cpu")
    on_host.load_state_dict(on_gpu.state_dict())
    again = PrioritizedReplayBuffer(PIXELS, 2, capacity=64, gamma=0.9, n_step=3, device="cuda")
    again.load_state_dict(on_host.state_dict())
    idx = on_gpu.ready_indices()
    assert torch.equal(idx.cpu(), on_host.ready_indices()) and torch.equal(on_host.tree.tree, on_gpu.tree.tree.cpu())
    for r in (on_host, again):  # n-step sums computed on the GPU and on the host: equal up to rounding
        _assert_same_batch(on_gpu.gather(idx), r.gather(idx), exact=False)


@needs_cuda
@pytest.mark.gpu
def test_make_replay_on_a_real_gpu_goes_to_the_host_only_when_the_gpu_is_too_small(monkeypatch):
    r = make_replay(PIXELS, 2, 1000, "cuda", gamma=0.99, n_step=3)  # ~0.5 MB: the GPU, really
    assert r.storage_device.type == "cuda" and r.frames.is_cuda
    real = replay_module.available_bytes
    monkeypatch.setattr(replay_module, "available_bytes",
                        lambda device: 1000 if torch.device(device).type == "cuda" else real(device))
    r = make_replay(PIXELS, 2, 1000, "cuda", gamma=0.99, n_step=3)
    assert r.storage_device == CPU and not r.frames.is_cuda
    _fill(r, PIXELS)
    assert r.sample(16).obs.is_cuda
