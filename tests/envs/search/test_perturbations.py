import random

import pytest

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.search.env import SearchQAEnv
from prmgym.envs.search.grading import exact_match
from prmgym.envs.search.oracle import oracle_actions
from prmgym.envs.search.perturbations import (
    SEARCH_KINDS,
    answer_pool,
    perturb_search,
    repeat,
    unperturbed,
    wrong_answer,
    wrong_args,
)
from prmgym.task import Task


@pytest.fixture(scope="module")
def env():
    env = SearchQAEnv(split="test")
    yield env
    env.close()


@pytest.fixture(scope="module")
def two_hop(env):
    return next(t for t in env.tasks if t.metadata.get("hops") == 2)


def _argument(action):
    return parse_tool_call(action).args[0]


def test_unperturbed_is_the_oracle_with_no_error(two_hop):
    actions = oracle_actions(two_hop)
    made = unperturbed(actions)
    assert made.actions == tuple(actions) and made.first_error == -1 and made.kind == "none"


def test_wrong_args_replaces_one_step_with_an_unrelated_target(env):
    for seed, task in enumerate(env.tasks[:30]):
        actions = oracle_actions(task)
        made = wrong_args(task, actions, env.index, random.Random(seed), env.top_k)
        assert made is not None and made.kind == "wrong_args"
        i = made.first_error
        assert len(made.actions) == len(actions)
        assert made.actions[:i] == tuple(actions[:i]) and made.actions[i + 1 :] == tuple(
            actions[i + 1 :]
        )
        assert made.actions[i] != actions[i]
        evidence = task.privileged["evidence"]
        evidence_modules = {doc_id.split(".")[0] for doc_id in evidence}
        call = parse_tool_call(made.actions[i])
        assert call.name == parse_tool_call(actions[i]).name
        if call.name == "open":
            assert env.index.get(call.args[0]) is not None, "the wrong doc must exist"
            assert call.args[0].split(".")[0] not in evidence_modules
        else:
            hits = {hit.document.id for hit in env.index.search(call.args[0], env.top_k)}
            assert not hits & set(evidence), "an unrelated search must retrieve no evidence"


def test_wrong_answer_never_grades_as_correct(env):
    for seed, task in enumerate(env.tasks[:40]):
        actions = oracle_actions(task)
        made = wrong_answer(task, actions, answer_pool(env.tasks, task), random.Random(seed))
        assert made is not None
        assert made.first_error == len(actions) - 1 and made.actions[:-1] == tuple(actions[:-1])
        text = _argument(made.actions[-1])
        assert not exact_match(text, task.privileged["answers"])
        assert text in answer_pool(env.tasks, task), "a plausible answer comes from the pool"


def test_answer_pool_keeps_to_the_question_type(env, two_hop):
    pool = answer_pool(env.tasks, two_hop)
    same_type = [t for t in env.tasks if t.metadata["type"] == two_hop.metadata["type"]]
    assert len(pool) == len(same_type) - 1


@pytest.mark.parametrize(("gold", "expected"), [("3", "4"), ("obj", "objs")])
def test_wrong_answer_mutates_the_gold_when_the_pool_is_empty(gold, expected):
    task = Task(id="t", family="search", instruction="q?", privileged={"answers": [gold]})
    made = wrong_answer(task, [f'answer("{gold}")'], [], random.Random(0))
    assert made is not None and _argument(made.actions[-1]) == expected


def test_repeat_inserts_an_earlier_action_before_the_answer(two_hop):
    actions = oracle_actions(two_hop)
    positions = set()
    for seed in range(20):
        made = repeat(actions, random.Random(seed))
        assert made is not None and len(made.actions) == len(actions) + 1
        i = made.first_error
        assert made.actions[:i] == tuple(actions[:i])
        assert made.actions[i] in made.actions[:i], "the inserted step repeats an earlier one"
        assert made.actions[i] != actions[i]
        assert parse_tool_call(made.actions[-1]).name == "answer"
        positions.add(i)
    assert len(positions) > 1, "the insertion point is drawn, not fixed"


def test_a_task_without_evidence_admits_only_a_wrong_answer(env):
    task = Task(id="t", family="search", instruction="q?", privileged={"answers": ["json"]})
    actions = oracle_actions(task)
    assert wrong_args(task, actions, env.index, random.Random(0)) is None
    assert repeat(actions, random.Random(0)) is None
    assert wrong_answer(task, actions, ["csv"], random.Random(0)) is not None


def test_perturb_search_is_deterministic_for_a_seed(env):
    tasks = env.tasks[:10]

    def made(seed):
        rng = random.Random(seed)
        return [perturb_search(env, t, kind, rng) for t in tasks for kind in SEARCH_KINDS]

    assert made(1) == made(1)
    assert made(1) != made(2)


def test_perturb_search_rejects_an_unknown_kind(env, two_hop):
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        perturb_search(env, two_hop, "typo", random.Random(0))
