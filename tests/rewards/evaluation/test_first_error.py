from collections import Counter

import pytest

from prmgym.envs.search.oracle import oracle_actions
from prmgym.errors import ConfigError
from prmgym.rewards.evaluation.first_error import ENV_KEY, LiveEnvs, build_first_error_set
from prmgym.rewards.evaluation.harness import evaluate_first_error, report_table
from prmgym.rewards.evaluation.labeled import LabeledTrajectory
from prmgym.rewards.evaluation.metrics import FAILED
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.task import Task
from prmgym.trajectory import StepScore, Trajectory

ENV_ID = "prmgym/SearchQA-v0"


@pytest.fixture(scope="module")
def items():
    return build_first_error_set(ENV_ID, "test", 40, seed=0)


class ConstantPRM:
    name = "constant"

    def __init__(self, value):
        self.value = value

    def score(self, trajectory, env=None):
        return [StepScore(value=self.value, source=self.name) for _ in trajectory.steps]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        return [StepScore(value=self.value, source=self.name) for _ in candidate_actions]


class FlakyPRM(ConstantPRM):
    """Raises on tasks whose id ends in an even digit."""

    def score(self, trajectory, env=None):
        if int(trajectory.task.id[-1]) % 2 == 0:
            raise RuntimeError("backend down")
        return super().score(trajectory, env)


def test_the_set_is_balanced_across_correct_and_error_kinds(items):
    kinds = Counter(item.kind for item in items)
    assert kinds == {"none": 20, "wrong_args": 7, "wrong_answer": 7, "repeat": 6}
    assert all((item.first_error == -1) == (item.kind == "none") for item in items)
    assert len({item.trajectory.task.id for item in items}) == len(items)


def test_erroneous_trajectories_leave_the_oracle_exactly_at_the_first_error(items):
    for item in items:
        actions = [step.action for step in item.trajectory.steps]
        oracle = oracle_actions(item.trajectory.task)
        if item.first_error == -1:
            assert actions == oracle
            continue
        i = item.first_error
        assert actions[:i] == oracle[:i], item.kind
        assert actions[i] != oracle[i], item.kind


def test_observations_and_outcomes_come_from_the_env(items):
    for item in items:
        trajectory = item.trajectory
        assert [s.index for s in trajectory.steps] == list(range(len(trajectory.steps)))
        assert trajectory.terminated and trajectory.accounting.env_steps == len(trajectory.steps)
        for step in trajectory.steps:
            assert step.action_error is None and step.tool in ("search", "open", "answer")
            expected = {"search": "Results for", "open": "Document [", "answer": "Answer recorded"}
            assert step.observation.startswith(expected[step.tool])
        if item.kind == "wrong_answer":
            assert not trajectory.success and trajectory.outcome_reward == 0.0
            assert "(incorrect)" in trajectory.steps[-1].observation
        else:
            assert trajectory.success and trajectory.metrics["em"] == 1.0


def test_the_set_is_deterministic_for_a_seed(items):
    def actions(labelled):
        return [[s.action for s in item.trajectory.steps] for item in labelled]

    assert actions(build_first_error_set(ENV_ID, "test", 40, seed=0)) == actions(items)
    assert actions(build_first_error_set(ENV_ID, "test", 40, seed=1)) != actions(items)


def test_bad_arguments_say_how_to_fix():
    with pytest.raises(ConfigError, match="count must be at least 1"):
        build_first_error_set(ENV_ID, "test", 0)
    with pytest.raises(ConfigError, match="unknown env id"):
        build_first_error_set("prmgym/Nope-v0", "test", 4)


def test_live_envs_reset_to_the_items_task(items):
    task = items[0].trajectory.task
    assert task.metadata[ENV_KEY] == {"id": ENV_ID, "kwargs": {"split": "test"}}
    plain = Task(id=task.id, family="search", instruction="q?")
    with LiveEnvs() as envs:
        env = envs.reset_to(task)
        assert env.task.id == task.id
        assert envs.reset_to(items[1].trajectory.task) is env, "one env per spec is reused"
        assert envs.reset_to(plain) is None
    with LiveEnvs(ENV_ID, {"split": "test"}) as envs:
        assert envs.reset_to(plain).task.id == task.id


def test_search_verifier_detects_first_errors_and_a_constant_prm_cannot(items):
    report = evaluate_first_error(SearchVerifier(), items, threshold=0.5)
    assert report.failed == 0
    assert report.overall["f1"] > 0.8
    assert report.per_kind["wrong_answer"]["acc_erroneous"] == 1.0
    assert report.per_kind["none"]["acc_correct"] == 1.0
    assert report.best["f1"] >= report.overall["f1"]
    for value in (0.0, 1.0):
        constant = evaluate_first_error(ConstantPRM(value), items, threshold=0.5)
        assert constant.overall["f1"] == 0.0
        assert all(row["f1"] == 0.0 for row in constant.sweep)


def test_a_failing_prm_is_counted_not_raised(items):
    done = []
    report = evaluate_first_error(FlakyPRM(1.0), items, progress=done.append)
    failing = [i for i, item in enumerate(items) if int(item.trajectory.task.id[-1]) % 2 == 0]
    assert failing and report.failed == len(failing)
    assert all(report.predicted[i] == FAILED for i in failing)
    assert "backend down" in report.failures[0]
    assert done == list(range(1, len(items) + 1))
    assert "failed on" in report_table(report).caption


def test_text_only_items_are_scored_without_an_env():
    seen = []

    class RecordingPRM(ConstantPRM):
        def score(self, trajectory, env=None):
            seen.append(env)
            return super().score(trajectory, env)

    task = Task(id="pb-0", family="processbench", instruction="2+2?")
    trajectory = Trajectory.model_validate(
        {"task": task, "steps": [{"index": 0, "action": "4", "observation": ""}]}
    )
    item = LabeledTrajectory(trajectory=trajectory, first_error=-1)
    report = evaluate_first_error(RecordingPRM(0.9), [item])
    assert seen == [None] and report.overall["acc_correct"] == 1.0


def test_report_table_lists_overall_kinds_and_best(items):
    table = report_table(evaluate_first_error(SearchVerifier(), items))
    names = list(table.columns[0].cells)
    assert names[0] == "all" and "kind repeat" in names and names[-1].startswith("all @ best")


def test_the_report_counts_the_judge_prompts_and_time_the_prm_spent(items):
    from prmgym.rewards.judges.base import JudgeStats

    class JudgedPRM(ConstantPRM):
        def __init__(self):
            super().__init__(0.9)
            self.judge = type("J", (), {"stats": JudgeStats(prompts=7)})()

        def score(self, trajectory, env=None):
            self.judge.stats.prompts += len(trajectory.steps)
            return super().score(trajectory, env)

    report = evaluate_first_error(JudgedPRM(), items[:4])
    # Prompts sent before the evaluation are not its cost.
    assert report.judge_prompts == sum(len(i.trajectory.steps) for i in items[:4])
    assert report.seconds > 0
    assert evaluate_first_error(ConstantPRM(0.9), items[:4]).judge_prompts == 0
    assert "judge prompts" in report_table(report).caption
