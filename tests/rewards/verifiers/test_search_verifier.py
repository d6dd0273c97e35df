import json

import pytest

from prmgym.envs.search.env import SearchQAEnv
from prmgym.envs.search.oracle import oracle_actions
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.trajectory import Trajectory


@pytest.fixture(scope="module")
def env():
    return SearchQAEnv(split="test")


@pytest.fixture(scope="module")
def task(env):
    return next(t for t in env.tasks if t.metadata.get("hops") == 2)


def play(env, task, actions):
    env.reset(options={"task_id": task.id})
    trajectory = Trajectory(task=task)
    for action in actions:
        trajectory.record(action, *env.step(action))
    return trajectory


def test_oracle_trajectory_scores_well(env, task):
    scores = SearchVerifier().score(play(env, task, oracle_actions(task)), env)
    assert all(s.label == "ok" for s in scores), [s.rationale for s in scores]
    assert scores[-1].value == 1.0
    assert all(s.source == "search-verifier" for s in scores)


def test_a_useless_search_is_marked(env, task):
    actions = oracle_actions(task)
    perturbed = [actions[0], 'search("turtle graphics window colour")', *actions[1:]]
    scores = SearchVerifier().score(play(env, task, perturbed), env)
    assert scores[1].label == "correctable"
    assert scores[1].value < min(s.value for i, s in enumerate(scores) if i != 1)


def test_a_wrong_answer_is_fatal(env, task):
    actions = [*oracle_actions(task)[:-1], 'answer("definitely not it")']
    scores = SearchVerifier().score(play(env, task, actions), env)
    assert scores[-1].label == "fatal" and scores[-1].value < 0.2
    assert all(s.label == "ok" for s in scores[:-1])


def test_repeats_and_rejected_actions_are_correctable(env, task):
    first = oracle_actions(task)[0]
    scores = SearchVerifier().score(play(env, task, [first, first, "bogus"]), env)
    assert scores[1].label == scores[2].label == "correctable"
    assert "repeats" in scores[1].rationale and scores[1].value < scores[0].value


def test_correct_but_unsupported_answer_scores_below_supported(env, task):
    answer = f"answer({json.dumps(task.privileged['answers'][0])})"
    guessed = SearchVerifier().score(play(env, task, [answer]), env)[-1]
    supported = SearchVerifier().score(play(env, task, oracle_actions(task)), env)[-1]
    assert guessed.label == "ok" and guessed.value < supported.value


def test_passes_check_reward_model(env, task):
    actions = [*oracle_actions(task)[:2], 'search("turtle")', *oracle_actions(task)[2:]]
    check_reward_model(SearchVerifier(), play(env, task, actions), env)


def test_score_candidates_prefers_the_right_answer(env, task):
    trajectory = play(env, task, oracle_actions(task)[:-1])
    good = f"answer({json.dumps(task.privileged['answers'][0])})"
    scores = SearchVerifier().score_candidates(trajectory, [good, 'answer("nope")'], env)
    assert scores[0].value > scores[1].value


def test_needs_the_env():
    with pytest.raises(ValueError, match="environment-aware"):
        SearchVerifier().score(Trajectory(task=SearchQAEnv().tasks[0]), None)
