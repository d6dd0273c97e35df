"""Rollout envs on Ray actors, on a local Ray cluster started by the test."""

import json

import gymnasium
import pytest
import yaml
from typer.testing import CliRunner

import prmgym  # noqa: F401 - registers the env ids
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.cli import app
from prmgym.rewards.registry import make_scorer
from prmgym.training.ray_envs import EnvWorkers, RayEnv, RemoteScorer
from prmgym.training.rollouts import collect_groups, split_task_ids

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def make_local():
    return gymnasium.make("prmgym/SearchQA-v0", split="train", max_episode_steps=6)


def episode_record(trajectory):
    return (
        trajectory.task.id,
        trajectory.seed,
        [(s.action, s.observation, s.reward) for s in trajectory.steps],
        trajectory.success,
        [[score.value for score in s.scores] for s in trajectory.steps],
    )


def test_remote_envs_give_the_episodes_and_scores_local_envs_give(cluster):
    workers = EnvWorkers("prmgym/SearchQA-v0", workers=2, split="train", max_episode_steps=6)
    tasks = split_task_ids(make_local)[:6]
    verifier = make_scorer("verifier", family="search")
    local = collect_groups(make_local, tasks, OraclePolicy(), 2, scorers=[verifier], seed=7)
    remote = collect_groups(
        workers,
        tasks,
        OraclePolicy(),
        2,
        scorers=[RemoteScorer("verifier", verifier.name)],
        seed=7,
        step_workers=4,
    )
    workers.shutdown()
    flat = [episode_record(t) for group in local for t in group]
    assert [episode_record(t) for group in remote for t in group] == flat
    assert all(t.error is None for group in remote for t in group)
    # The scores came from the actor: a local env has no remote scorer to run it.
    assert all(record[4] and record[4][0] for record in flat)
    with pytest.raises(Exception, match="RayEnv"):
        RemoteScorer("verifier", "verifier").score(remote[0][0], make_local())


class KillsAWorker:
    """The oracle, except that before its second round it kills one env actor."""

    name = "oracle"

    def __init__(self, workers: EnvWorkers):
        self.workers, self.rounds, self.oracle = workers, 0, OraclePolicy()

    def act(self, episodes):
        self.rounds += 1
        if self.rounds == 2:
            ray.kill(self.workers.actors[0])
        return self.oracle.act(episodes)


def test_a_dead_worker_breaks_its_episodes_only_and_is_replaced(cluster):
    workers = EnvWorkers("prmgym/SearchQA-v0", workers=2, split="train", max_episode_steps=6)
    first = workers()
    assert isinstance(first, RayEnv) and first.tasks and first.family == "search"
    first.close()
    tasks = split_task_ids(make_local)[:8]
    groups = collect_groups(workers, tasks, KillsAWorker(workers), 1, batch_size=4, step_workers=4)
    episodes = [t for group in groups for t in group]
    broken = [t for t in episodes if t.error is not None]
    assert broken and all("env step failed" in t.error for t in broken)
    # The episodes on the other actor, and every one started after the kill, went on.
    assert len(broken) < 4 and all(t.success for t in episodes if t.error is None)
    assert all(t.error is None for t in episodes[4:])
    workers.shutdown()


def test_train_distributed_ray_rolls_out_on_actors(cluster, tiny_model_dir, tmp_path):
    overrides = [
        f"model={tiny_model_dir}",
        f"output_dir={tmp_path}",
        "rollout.env_workers=2",
        "rollout.tasks_per_iteration=2",
        "rollout.group_size=2",
        "rollout.max_steps=2",
        "rollout.max_new_tokens=4",
        "lora={r: 4, alpha: 8}",
        "eval.tasks=1",
        "iterations=1",
    ]
    result = CliRunner().invoke(app, ["train", "--distributed", "ray", *overrides])
    assert result.exit_code == 0, result.output
    assert "held-out success: untrained" in result.output and "-> trained" in result.output
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["rollout"]["distributed"] == "ray"
    last = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()][-1]
    assert last["iteration"] == 1 and last["update/samples"] >= 4
    assert last["rollout/broken"] == 0 and last["rollout/prm"] > 0
