import math

import gymnasium
import pytest

import prmgym  # noqa: F401 - registers the envs
from prmgym.agents.policies.base import Decision
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.envs.search.oracle import oracle_actions
from prmgym.errors import ConfigError
from prmgym.rewards.judges.base import JudgeStats
from prmgym.task import Task
from prmgym.training.prm import first_error as first_error_module
from prmgym.training.prm.config import PRMDataConfig, load_train_prm_config
from prmgym.training.prm.first_error import (
    consensus_filter,
    first_error_search,
    judge_first_errors,
    label_first_error,
)
from prmgym.training.prm.labels import monte_carlo_labels
from prmgym.training.prm.train import build_rows
from prmgym.trajectory import Step, Trajectory

POISON = 'search("a misleading lead")'
WRONG = 'answer("certainly not this")'
FILLER = 'search("more context")'
N = 12  # steps of the failed trajectories below


@pytest.fixture(scope="module")
def env():
    env = gymnasium.make("prmgym/SearchQA-v0", split="train")
    yield env
    env.close()


def play(env, task, actions):
    env = env.unwrapped
    env.reset(seed=0, options={"task_id": task.id})
    steps, success = [], False
    for i, action in enumerate(actions):
        observation, reward, terminated, _, info = env.step(action)
        steps.append(Step(index=i, action=action, observation=observation, reward=reward))
        if terminated:
            success = bool(info["success"])
            break
    return Trajectory(task=task, steps=steps, success=success, seed=0)


class DoomedAfterPoison:
    """The oracle, until the episode holds POISON: from then on it answers wrongly.

    Deterministic, so a prefix's MC estimate is 1 before the poison and 0 from it on: the
    poison is the known first error. Counts its decisions, a measure of compute that does not
    rely on what the labeller reports.
    """

    name = "doomed-after-poison"

    def __init__(self):
        self.oracle = OraclePolicy()
        self.decisions = 0

    def act(self, episodes):
        self.decisions += len(episodes)
        right = self.oracle.act(episodes)
        return [
            Decision(action=WRONG) if POISON in episode.actions else decision
            for episode, decision in zip(episodes, right, strict=True)
        ]


def failed_run(env, poison_at):
    """N steps: the oracle's steps padded with fillers, POISON at ``poison_at``, a wrong answer."""
    task = env.unwrapped.tasks[0]
    actions = oracle_actions(task)[:-1]
    actions = [*actions, *[FILLER] * (N - 1 - len(actions)), WRONG]
    if poison_at is not None:
        actions[poison_at] = POISON
    trajectory = play(env, task, actions)
    assert len(trajectory.steps) == N and not trajectory.success
    return trajectory


@pytest.mark.parametrize("poison_at", [0, 3, 6, 10, None])
def test_binary_search_finds_the_exhaustive_first_error_for_less(env, poison_at):
    trajectory = failed_run(env, poison_at)
    k = 2
    exhaustive_policy, search_policy = DoomedAfterPoison(), DoomedAfterPoison()
    exhaustive = monte_carlo_labels(env, trajectory, exhaustive_policy, k=k, max_steps=N)
    found = first_error_search(env, trajectory, search_policy, k=k, max_steps=N)
    expected = N - 1 if poison_at is None else poison_at  # no poison: the wrong answer
    assert label_first_error(exhaustive) == expected == found.first_error
    assert found.labels == exhaustive == [1.0] * expected + [0.0] * (N - expected)
    # ceil(log2(13)) = 4 prefixes at most; exhaustive labelling continues from 11 prefixes
    assert found.prefixes <= math.ceil(math.log2(N + 1)) == 4
    assert found.completions <= k * found.prefixes < k * (N - 1)
    assert search_policy.decisions < exhaustive_policy.decisions


def test_search_path_by_hand(env):
    k = 3
    # poison at 3: prefixes ending at 6 (bad), 3 (bad), 1 (good), 2 (good); none ended the
    # episode, so each cost k continuations
    found = first_error_search(env, failed_run(env, 3), DoomedAfterPoison(), k=k, max_steps=N)
    assert (found.first_error, found.prefixes, found.completions) == (3, 4, 4 * k)
    # no poison: 6 (good), 9 (good), 11 (the wrong answer: bad, no continuation), 10 (good)
    found = first_error_search(env, failed_run(env, None), DoomedAfterPoison(), k=k, max_steps=N)
    assert (found.first_error, found.prefixes, found.completions) == (11, 4, 3 * k)


def test_a_successful_trajectory_costs_no_completions(env):
    task = env.unwrapped.tasks[0]
    plan = oracle_actions(task)
    trajectory = play(env, task, plan)
    assert trajectory.success
    policy = DoomedAfterPoison()
    found = first_error_search(env, trajectory, policy, k=4, max_steps=N)
    assert found.labels == [1.0] * len(plan) and found.first_error is None
    assert (found.completions, found.prefixes, policy.decisions) == (0, 0, 0)


def test_threshold_and_budget_are_checked(env):
    trajectory = failed_run(env, 3)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\)"):
        first_error_search(env, trajectory, DoomedAfterPoison(), threshold=1.0)
    with pytest.raises(ValueError, match="at least 1"):
        first_error_search(env, trajectory, DoomedAfterPoison(), k=0)


# --- consensus filtering ----------------------------------------------------------------------

TASK = Task(id="t", family="search", instruction="Which exception?")


def steps_run(actions, success=False):
    steps = [Step(index=i, action=a, observation=f"result {i}") for i, a in enumerate(actions)]
    return Trajectory(task=TASK, steps=steps, success=success)


class RejectingJudge:
    """Calls a step incorrect (P = 0.1) when it contains one of ``rejects``, else P = 0.9."""

    name = "rejecting"

    def __init__(self, *rejects):
        self.rejects = rejects
        self.stats = JudgeStats()
        self.calls = []

    def judge(self, queries):
        self.calls.append(list(queries))
        return [[0.1 if any(r in q.step for r in self.rejects) else 0.9] for q in queries]


def test_label_first_error_uses_the_hard_rule():
    assert label_first_error([1.0, 0.25, 0.0, 0.5]) == 2
    assert label_first_error([0.5, 1.0]) is None
    assert label_first_error([]) is None


def test_consensus_keeps_agreement_and_drops_disagreement():
    runs = [
        steps_run([FILLER, FILLER, FILLER, POISON, WRONG]),  # MC: 3, judge: 3 -> kept
        steps_run([FILLER, FILLER, WRONG]),  # MC: 2, judge: none -> dropped
        steps_run([FILLER, 'answer("Exception")'], success=True),  # none, none -> kept
        steps_run([FILLER, FILLER, POISON, FILLER]),  # MC: 1 (noisy), judge: 2 -> dropped
        steps_run([POISON, FILLER]),  # MC: none, judge: 0 -> dropped
    ]
    labels = [
        [1, 1, 1, 0, 0],
        [1, 1, 0],
        [1, 1],
        [1, 0, 0, 0],
        [0.5, 0.5],
    ]
    judge = RejectingJudge("misleading")
    consensus = consensus_filter(runs, labels, judge)
    assert consensus.kept == [0, 2]
    assert consensus.dropped == [1, 3, 4]
    assert consensus.judge_first_errors == [3, None, None, 2, 0]
    # one batched judge call, one query per step, each seeing only the steps before it
    assert len(judge.calls) == 1 and len(judge.calls[0]) == 16
    second = judge.calls[0][1]
    assert second.context.startswith("Task: Which exception?")
    assert "result 0" in second.context and "result 1" not in second.context
    assert second.step.startswith("Action: search")


def test_consensus_threshold_and_shapes():
    run = steps_run([FILLER, POISON])
    # P(correct) = 0.1 for the poison: rejected at 0.5, accepted at 0.05
    assert judge_first_errors(RejectingJudge("misleading"), [run], threshold=0.05) == [None]
    assert judge_first_errors(RejectingJudge("misleading"), [run]) == [1]
    assert judge_first_errors(RejectingJudge(), []) == []
    with pytest.raises(ValueError, match="give one each"):
        consensus_filter([run], [], RejectingJudge())


# --- the train-prm option ---------------------------------------------------------------------


def test_label_options_are_validated():
    with pytest.raises(ConfigError, match="data.labels 'binary' is not one of"):
        PRMDataConfig(source="rollouts", labels="binary")
    with pytest.raises(ConfigError, match="set data.source=rollouts"):
        PRMDataConfig(source="perturbed", labels="first_error")
    with pytest.raises(ConfigError, match="set data.source=rollouts"):
        PRMDataConfig(source="file", path="x.jsonl", consensus_judge="smollm2")
    with pytest.raises(ConfigError, match="name a judge backend"):
        PRMDataConfig(source="rollouts", consensus_judge="")
    config = load_train_prm_config(
        None, ["data.source=rollouts", "data.labels=first_error", "data.consensus_judge=smollm2"]
    )
    assert (config.data.labels, config.data.consensus_judge) == ("first_error", "smollm2")
    assert PRMDataConfig().labels == "monte_carlo" and PRMDataConfig().consensus_judge is None


def test_train_prm_rows_use_the_search_and_the_judge(monkeypatch):
    searched = []

    def spy(env, trajectory, *args, **kwargs):
        found = first_error_search(env, trajectory, *args, **kwargs)
        searched.append((trajectory, found))
        return found

    judge = RejectingJudge()  # finds no error anywhere
    monkeypatch.setattr(first_error_module, "first_error_search", spy)
    monkeypatch.setattr("prmgym.agents.backends.make_backend", lambda spec: spec)
    monkeypatch.setattr("prmgym.rewards.judges.make_judge", lambda backend: judge)
    data = PRMDataConfig(
        source="rollouts",
        policy="noisy-oracle:0.5",
        count=8,
        k=2,
        max_steps=6,
        labels="first_error",
        consensus_judge="fake",
    )
    rows = build_rows(data, observation_chars=80)
    assert len(searched) == 8 and len(judge.calls) == 1
    # The judge sees no error, so only episodes whose search found none agree: here the
    # successes (the failures' searches blame a step)
    agreed = [t for t, found in searched if found.first_error is None]
    assert 0 < len(rows) == len(agreed) < 8
    assert all(t.success for t in agreed)
    assert [row["actions"] for row in rows] == [[s.action for s in t.steps] for t in agreed]
    assert all(all(row["labels"]) for row in rows)
