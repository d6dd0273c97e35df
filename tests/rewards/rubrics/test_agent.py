import pytest

from prmgym.envs.search.env import SearchQAEnv
from prmgym.envs.search.oracle import oracle_actions
from prmgym.errors import ConfigError
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.judges.base import JudgeStats
from prmgym.rewards.rubrics.agent import RubricPRM
from prmgym.rewards.rubrics.rubric import Rubric
from prmgym.trajectory import Trajectory


class ScriptedJudge:
    """Says yes to principles and no to pitfalls, and records what it was asked."""

    name = "scripted"

    def __init__(self, yes=0.9):
        self.yes = yes
        self.stats = JudgeStats()
        self.calls = []

    def judge(self, queries):
        self.calls.append(list(queries))
        return [
            [1 - self.yes if q.pitfall else self.yes for q in query.criteria] for query in queries
        ]


@pytest.fixture(scope="module")
def env():
    return SearchQAEnv(split="test")


def play(env, task, actions):
    env.reset(options={"task_id": task.id})
    trajectory = Trajectory(task=task)
    for action in actions:
        trajectory.record(action, *env.step(action))
    return trajectory


@pytest.fixture(scope="module")
def oracle_run(env):
    task = env.tasks[0]
    return play(env, task, oracle_actions(task))


def test_oracle_run_scores_well_in_one_judge_call(oracle_run, env):
    judge = ScriptedJudge()
    scores = RubricPRM(judge=judge).score(oracle_run)
    assert len(judge.calls) == 1
    assert len(judge.calls[0]) == len(oracle_run.steps)  # one query per step, criteria batched
    assert all(s.label == "ok" and s.value > 0.8 for s in scores), [s.rationale for s in scores]
    assert all(s.source == "rubric" for s in scores)


def test_rubric_agent_passes_the_prm_checker(oracle_run, env):
    check_reward_model(RubricPRM(judge=ScriptedJudge()), oracle_run, env)


def test_contexts_hold_only_earlier_steps(oracle_run):
    judge = ScriptedJudge()
    RubricPRM(judge=judge).score(oracle_run)
    for i, query in enumerate(judge.calls[0]):
        assert oracle_run.steps[i].action in query.step
        for later in oracle_run.steps[i:]:
            assert later.action not in query.context


def test_failed_hard_rule_gates_the_step(env, oracle_run):
    task = oracle_run.task
    repeat = [oracle_run.steps[0].action, oracle_run.steps[0].action]
    scores = RubricPRM(judge=ScriptedJudge()).score(play(env, task, repeat))
    assert scores[0].value > 0.8
    assert scores[1].value == 0.0 and scores[1].label == "correctable"
    assert "no-repeat" in scores[1].rationale


def test_completion_criteria_apply_only_to_the_answer(env, oracle_run):
    judge = ScriptedJudge()
    guess = play(env, oracle_run.task, ['answer("42")'])
    scores = RubricPRM(judge=judge).score(guess)
    # Answering without reading anything breaks the reads-before-answering hard rule.
    assert scores[0].value == 0.0 and "reads-before-answering" in scores[0].rationale
    asked = [q.text for q in judge.calls[0][0].criteria]
    assert any(text.startswith("The answer is short") for text in asked)
    judge = ScriptedJudge()
    RubricPRM(judge=judge).score(play(env, oracle_run.task, [oracle_run.steps[0].action]))
    assert not any("answer is" in q.text for q in judge.calls[0][0].criteria)


def test_fatal_criterion_vetoes_and_labels_fatal(oracle_run):
    rubric = Rubric(
        name="strict",
        aggregation="weighted_mean",
        criteria=[
            {"id": "useful", "text": "useful", "weight": 5},
            {"id": "no-lies", "kind": "pitfall", "text": "lies", "fatal": True},
        ],
    )
    scores = RubricPRM(rubric, judge=ScriptedJudge(yes=0.2)).score(oracle_run)
    assert all(s.value == 0.0 and s.label == "fatal" for s in scores)


def test_candidates_are_scored_in_one_call(oracle_run):
    judge = ScriptedJudge()
    prefix = oracle_run.model_copy(update={"steps": oracle_run.steps[:1]})
    candidates = [oracle_run.steps[0].action, oracle_run.steps[1].action, "not a call"]
    scores = RubricPRM(judge=judge).score_candidates(prefix, candidates)
    assert len(judge.calls) == 1 and len(scores) == 3
    assert scores[0].value == 0.0  # a repeat
    assert scores[1].value > 0.8
    assert scores[2].value == 0.0  # does not parse


def test_judged_rubric_without_judge_says_how_to_fix(oracle_run):
    with pytest.raises(ConfigError, match="--judge"):
        RubricPRM().score(oracle_run)
    programmatic = Rubric(name="p", criteria=[{"id": "a", "text": "t", "check": "parses"}])
    assert RubricPRM(programmatic).score(oracle_run)[0].value == 1.0
