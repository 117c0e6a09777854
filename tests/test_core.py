"""The core's contracts: stable run ids under schema growth, layering without cycles, hooks as the
way to add a measurement, and the whole pipeline on stacked observations with n-step returns."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import rlcore
from rlcore.config import SCHEMA_VERSION, AgentConfig, EnvConfig, NetConfig, RunConfig, TD3Config
from rlcore.experiments import ota_size_sweep
from rlcore.hooks import Hook
from rlcore.results import RunStore
from rlcore.train import Trainer, train

DATA = Path(__file__).parent / "data"

# ---- run ids ------------------------------------------------------------------------------------
# Committed run ids: these names must never change for these configs (results on disk carry them).
GOLDEN_IDS = {
    "default": (RunConfig(), "sac-Ant-v4-s0-67d6291b3014"),
    "td3_pendulum": (RunConfig(env=EnvConfig("Pendulum-v1"), seed=2, profile="quick",
                               agent=AgentConfig(algo="td3", critic=NetConfig(width=512), td3=TD3Config(policy_delay=3))),
                     "td3-Pendulum-v1-s2-5db5eab5a4ee"),
    "quick_size_sweep_first": (ota_size_sweep("quick").configs[0], "sac-Ant-v4-s0-901d308ff2c7"),
}


@pytest.mark.parametrize("name", list(GOLDEN_IDS))
def test_committed_run_ids_are_unchanged(name):
    cfg, run_id = GOLDEN_IDS[name]
    assert cfg.run_id == run_id


def _grown(cls, name="new_field", default=0.5):
    """`cls` with one more field that has a default: what a later schema adds."""
    return dataclasses.make_dataclass(cls.__name__, [(name, float, dataclasses.field(default=default))],
                                      bases=(cls,), frozen=True)


@pytest.mark.parametrize("section", ["budget", "collect", "env"])
def test_adding_a_defaulted_field_keeps_run_ids(section):
    cfg, run_id = GOLDEN_IDS["quick_size_sweep_first"]
    old = getattr(cfg, section)
    grown = _grown(type(old))(**{f.name: getattr(old, f.name) for f in dataclasses.fields(old)})
    assert dataclasses.replace(cfg, **{section: grown}).run_id == run_id
    # ... and a value other than the default is part of the name.
    changed = dataclasses.replace(grown, new_field=0.25)
    assert dataclasses.replace(cfg, **{section: changed}).run_id != run_id


def test_adding_a_field_to_a_nested_section_keeps_run_ids():
    cfg, run_id = GOLDEN_IDS["td3_pendulum"]
    grown_net = _grown(NetConfig)(**dataclasses.asdict(cfg.agent.critic))
    grown = dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, critic=grown_net))
    assert grown.run_id == run_id


def test_defaults_match_the_recorded_schema():
    """A changed default changes what every older run id means: bump SCHEMA_VERSION and record the
    new defaults (tests/data/config_defaults.json). Added fields are fine."""
    recorded = json.loads((DATA / "config_defaults.json").read_text())
    current = RunConfig().to_dict()

    def check(rec, cur, path):
        for key, value in rec.items():
            assert key in cur, f"{path}{key} was removed: bump SCHEMA_VERSION"
            if isinstance(value, dict) and key != "kwargs":
                check(value, cur[key], f"{path}{key}.")
            else:
                assert cur[key] == value, (f"default of {path}{key} changed {value!r} -> {cur[key]!r}: "
                                           "bump SCHEMA_VERSION and record the defaults")

    assert recorded["schema"] == SCHEMA_VERSION
    check(recorded["defaults"], current, "")


def test_unused_sections_and_placement_do_not_name_a_run():
    sac = RunConfig(env=EnvConfig("Pendulum-v1"))
    assert sac.replace(**{"agent.td3.policy_delay": 5}).run_id == sac.run_id  # another algorithm's section
    assert sac.replace(**{"agent.sac.init_alpha": 0.5}).run_id != sac.run_id
    assert sac.replace(**{"agent.ofenet.layers": 4}).run_id == sac.run_id  # OFENet off
    assert sac.replace(device="cpu").run_id == sac.run_id
    assert sac.replace(**{"collect.workers": 7}).run_id == sac.run_id  # serial: no workers


# ---- layering ------------------------------------------------------------------------------------
def _imports_of(path: Path, package: str) -> set[str]:
    """rlcore modules imported at module level (not inside functions, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    module = package + "." + path.stem if path.stem != "__init__" else package
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks do not run
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = module.rsplit(".", node.level - (1 if path.stem == "__init__" else 0))[0] \
                if node.level > (1 if path.stem == "__init__" else 0) else module if path.stem == "__init__" \
                else module.rsplit(".", 1)[0]
            target = f"{base}.{node.module}" if node.module else base
            found.add(target)
            if not node.module:
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rlcore"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rlcore"))
    return found


def _graph() -> dict[str, set[str]]:
    root = Path(rlcore.__file__).parent
    graph = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        package = ".".join(rel.parts[:-1])
        name = ".".join(rel.parts) if path.stem != "__init__" else package
        graph[name] = _imports_of(path, package)
    modules = set(graph)
    return {m: {d for d in deps if d in modules and d != m} for m, deps in graph.items()}


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(m, trail):
        if state.get(m) == 1:
            cycle = trail[trail.index(m):] + [m]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in sorted(graph[m]):
            visit(d, trail + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])
    assert "rlcore.train" in graph and "rlcore.agents.base" in graph  # the graph was really built


def test_agents_do_not_import_analysis():
    graph = _graph()
    for m, deps in graph.items():
        if m.startswith("rlcore.agents"):
            assert not any(d.startswith("rlcore.analysis") for d in deps), (m, deps)


@pytest.mark.parametrize("module,absent", [
    ("rlcore.agents", ["rlcore.analysis.landscape", "rlcore.analysis", "pandas", "rlcore.train"]),
    ("rlcore.collect", ["rlcore.analysis.landscape", "pandas", "rlcore.train", "rlcore.results"]),
])
def test_light_imports(module, absent):
    """What a spawned collector worker loads: the agents and the worker loop, no pandas, no landscapes."""
    code = f"import sys, {module}; import rlcore.collect as c; c._Policy; print([m for m in {absent!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ---- hooks ---------------------------------------------------------------------------------------
class CountingHook(Hook):
    """A new measurement: the mean |action| of each update's batch, logged at evaluations."""

    name = "counting"

    def __init__(self):
        self.updates, self.total = 0, 0.0

    def before_update(self, trainer, step, request):
        self.updates += 1
        return {"hook_updates": torch.tensor(float(self.updates))}

    def on_evaluate(self, trainer, step):
        return {"hook_updates_seen": float(self.updates)}

    def state_dict(self):
        return {"updates": self.updates}

    def load_state_dict(self, state):
        self.updates = state["updates"]


def test_injected_hook_is_called_logged_and_checkpointed(tmp_path, tiny_config):
    cfg = tiny_config(total_steps=200, warmup_steps=100, eval_every=100, log_every=50, checkpoint_every=150,
                      srank_samples=64)
    status = train(cfg, tmp_path, progress=False, hooks=[CountingHook()])
    assert status["state"] == "finished"
    store = RunStore(tmp_path, cfg)
    evals = pd.read_csv(store.path("evaluations.csv"))
    seen = evals[evals.metric == "hook_updates_seen"].set_index("step")["value"]
    # The first update runs once the warm-up's 100th step is stored, then one per step.
    assert seen.to_dict() == {0: 0.0, 100: 1.0, 200: 101.0}
    metrics = pd.read_csv(store.path("metrics.csv"))
    assert (metrics.metric == "train_hook_updates").sum() == 3  # at steps 100, 150 and 200
    assert {"srank_critic1", "srank_critic2"} <= set(evals.metric)  # the config's own hooks ran too


def test_hook_state_survives_resume(tmp_path, tiny_config):
    cfg = tiny_config(total_steps=200, warmup_steps=100, eval_every=100, log_every=50, checkpoint_every=150)

    class Interrupt(Exception):
        pass

    class Stopper(CountingHook):
        def before_update(self, trainer, step, request):
            if step == 170 and not getattr(self, "resumed", False):
                raise Interrupt
            return super().before_update(trainer, step, request)

    with pytest.raises(Interrupt):
        train(cfg, tmp_path, progress=False, hooks=[Stopper()])
    ckpt = torch.load(RunStore(tmp_path, cfg).path("checkpoint.pt"), weights_only=False)
    assert ckpt["step"] == 150 and ckpt["hooks"]["counting"] == {"updates": 51}
    resumed = Stopper()
    resumed.resumed = True
    train(cfg, tmp_path, progress=False, hooks=[resumed])
    assert resumed.updates == 101  # 51 restored + 50 after step 150


# ---- stacked observations, n-step returns, action repeat, update_every ----------------------------
def test_frame_stack_n_step_action_repeat_run(tmp_path, tiny_config):
    cfg = tiny_config(total_steps=200, warmup_steps=60, eval_every=100, log_every=50, max_episode_steps=40,
                      update_every=2, agent={"n_step": 3}, env_kwargs=None)
    cfg = cfg.replace(**{"env.frame_stack": 3, "env.action_repeat": 2})
    trainer = Trainer(cfg, tmp_path, progress=False)
    status = trainer.run()
    assert status["state"] == "finished" and status["frames"] == 400
    assert trainer.replay.stacked and trainer.replay.frames.shape[1:] == (3,)
    assert trainer.agent.updates == (200 - 60) // 2 + 1  # every 2nd agent step from 60 (incl.)
    evals = pd.read_csv(RunStore(tmp_path, cfg).path("evaluations.csv"))
    ret = evals[evals.metric == "eval_return"]
    assert ret.set_index("step")["frames"].to_dict() == {0: 0, 100: 200, 200: 400}
    # Episodes of 40 frames are 20 agent steps: 10 episodes of 20 transitions + 10 final frames.
    assert len(trainer.replay) == 200 + 10
    b = trainer.replay.gather(trainer.replay.ready_indices())
    gamma = cfg.agent.gamma
    assert {round(float(d), 5) for d in b.discount[:, 0]} == {round(gamma ** m, 5) for m in (1, 2, 3)}


def test_budgets_and_curves_in_frames():
    from rlcore import aggregate, profiles

    line = profiles.describe("smoke", profiles.budget("smoke"), [0], action_repeat=4)
    assert "1,000 agent steps = 4,000 frames (action repeat 4)" in line
    assert "1,000 env steps" in profiles.describe("smoke", profiles.budget("smoke"), [0])
    rows = pd.DataFrame({"metric": ["eval_return"] * 4, "seed": [0, 1, 0, 1], "step": [0, 0, 10, 10],
                         "frames": [0, 0, 40, 40], "value": [1.0, 3.0, 5.0, 7.0], "algo": ["sac"] * 4})
    by_frames = aggregate.curves(rows, ["algo"], x="frames")
    assert by_frames["step"].tolist() == [0, 40] and by_frames["mean"].tolist() == [2.0, 6.0]
    assert aggregate.curves(rows, ["algo"])["step"].tolist() == [0, 10]
    with pytest.raises(Exception, match="x='seconds'"):
        aggregate.curves(rows, ["algo"], x="seconds")


def test_resume_mid_episode_keeps_stacks_and_windows_inside_episodes(tmp_path, tiny_config):
    """A resumed serial run starts a fresh episode: the replay ends the interrupted one by truncation,
    so no frame stack or n-step window mixes the two."""
    cfg = tiny_config(total_steps=160, warmup_steps=40, eval_every=80, log_every=40, checkpoint_every=70,
                      max_episode_steps=200, agent={"n_step": 3}, srank_samples=0, td_targets_samples=0)
    cfg = cfg.replace(**{"env.frame_stack": 3})

    class Interrupt(Exception):
        pass

    class StopAt(Hook):
        name = "stop_at"

        def before_update(self, trainer, step, request):
            if step == 90 and not getattr(self, "off", False):
                raise Interrupt

    with pytest.raises(Interrupt):
        train(cfg, tmp_path, progress=False, hooks=[StopAt()])
    resumed = Trainer(cfg, tmp_path, progress=False, hooks=[type("Off", (StopAt,), {"off": True})()])
    assert resumed.run()["state"] == "finished"
    replay = resumed.replay
    # The interrupted episode (70 steps at the checkpoint) was truncated there: its last transition ends it.
    assert replay.ends[:72].nonzero().squeeze(-1).tolist() == [69]
    # Slot 70 is that episode's final observation; the new episode's first frame is slot 71.
    assert not replay.ready[70] and int(replay.position[71]) == 0
    # The last windows before the cut are shortened at it, not continued into the new episode.
    b = replay.gather(torch.tensor([67, 68, 69]))
    gamma = cfg.agent.gamma
    assert b.discount[:, 0].tolist() == pytest.approx([gamma ** 3, gamma ** 2, gamma])
    assert torch.equal(b.next_obs[2], replay.gather(torch.tensor([69])).next_obs[0])
    assert torch.equal(replay._stack(torch.tensor([70]))[0], b.next_obs[2])
    # The new episode's first stack is its reset frame, three times.
    first = replay.gather(torch.tensor([71])).obs[0]
    assert torch.equal(first[0:3], first[3:6]) and torch.equal(first[3:6], first[6:9])


def test_n_step_skip_partial_windows():
    from rlcore.envs import ObsSpec
    from rlcore.replay import ReplayBuffer

    replay = ReplayBuffer(ObsSpec.flat(1), 1, capacity=20, gamma=0.5, n_step=3, partial_windows=False)
    for t in range(5):  # one episode of 5 transitions, cut by a time limit
        replay.add([t], [0.0], 1.0, [t + 1], False, truncated=t == 4)
    assert replay.ready_indices().tolist() == [0, 1, 2]  # starts with 3 steps left
    assert torch.allclose(replay.gather(replay.ready_indices()).discount, torch.full((3, 1), 0.125))


def test_a_failing_run_records_error_and_resumes_from_its_checkpoint(tmp_path, tiny_config):
    cfg = tiny_config(total_steps=200, warmup_steps=50, eval_every=100, checkpoint_every=100, srank_samples=0)

    class Boom(Hook):
        name = "boom"

        def before_update(self, trainer, step, request):
            if step == 150:
                raise ValueError("boom at 150")

    with pytest.raises(ValueError, match="boom"):
        train(cfg, tmp_path, progress=False, hooks=[Boom()])
    status = RunStore(tmp_path, cfg).status()
    assert status["state"] == "error" and status["step"] == 150 and "ValueError: boom" in status["traceback"]
    assert train(cfg, tmp_path, progress=False)["state"] == "finished"  # "error" is not final: it resumes


def test_resume_keeps_the_metric_window(tmp_path, tiny_config):
    """A checkpoint between two log steps keeps the metrics accumulated since the last log, so the
    next logged average covers the same updates as in an uninterrupted run."""
    cfg = tiny_config(total_steps=200, warmup_steps=50, eval_every=100, log_every=100, checkpoint_every=130,
                      srank_samples=0, td_targets_samples=0)

    class Interrupt(Exception):
        pass

    class StopAt(Hook):
        name = "stop_at"

        def before_update(self, trainer, step, request):
            if step == 140 and not getattr(self, "off", False):
                raise Interrupt

    with pytest.raises(Interrupt):
        train(cfg, tmp_path, progress=False, hooks=[StopAt()])
    ckpt = torch.load(RunStore(tmp_path, cfg).path("checkpoint.pt"), weights_only=False)
    assert ckpt["metric_window"]["counts"]["critic_loss"] == 30  # updates 101..130
    trainer = Trainer(cfg, tmp_path, progress=False)
    trainer.run()
    metrics = pd.read_csv(RunStore(tmp_path, cfg).path("metrics.csv"))
    ref_dir = tmp_path / "ref"
    train(cfg, ref_dir, progress=False)
    ref = pd.read_csv(RunStore(ref_dir, cfg).path("metrics.csv"))
    pick = lambda f: f[(f.metric == "train_critic_loss")].set_index("step")["value"]
    assert list(pick(metrics).index) == list(pick(ref).index) == [100, 200]
    assert pick(metrics)[100] == pick(ref)[100]  # before the checkpoint: the same run
