"""The verifier, the rubric and the first-error perturbations, checked against the real env."""

import json
import random

import gymnasium
import pytest
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.evaluation.first_error import build_first_error_set
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.rubrics.rubric import default_rubric
from prmgym.trajectory import Trajectory

from prmgym_sql.grading import cells_contain
from prmgym_sql.oracle import oracle_actions
from prmgym_sql.perturbations import SQL_KINDS, plausible_wrong_action
from prmgym_sql.tasks import shop_tasks
from prmgym_sql.verifier import SQLVerifier

ENV_ID = "prmgym_sql/SQL-v0"


def play(env, task_id, actions):
    env.reset(options={"task_id": task_id})
    trajectory = Trajectory(task=env.unwrapped.task)
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        trajectory.record(action, observation, reward, terminated, truncated, info)
    return trajectory


@pytest.fixture(scope="module")
def env():
    env = gymnasium.make(ENV_ID, split="all")
    yield env
    env.close()


def labels(env, task_id, actions):
    scores = SQLVerifier().score(play(env, task_id, actions), env)
    return [(score.label, score.value) for score in scores]


def query(sql):
    return f"query({json.dumps(sql)})"


def test_verifier_is_the_family_default_and_keeps_the_prm_contract(env):
    assert isinstance(make_scorer("verifier", family="sql"), SQLVerifier)
    assert isinstance(make_scorer("sql-verifier"), SQLVerifier)
    task = shop_tasks("all")[0]
    actions = ["schema()", query("SELECT * FROM customers"), *oracle_actions(task)[1:]]
    check_reward_model(SQLVerifier(), play(env, task.id, actions), env)


def test_oracle_steps_are_all_ok(env):
    for task in shop_tasks("all"):
        assert [label for label, _ in labels(env, task.id, oracle_actions(task))] == ["ok"] * 3


def test_verifier_labels_what_each_step_achieved(env):
    # sql/001: how many customers live in Japan? (15)
    steps = labels(
        env,
        "sql/001",
        [
            'describe("orders")',
            query("SELECT count(*) FROM customer"),
            query("SELECT count(*) FROM customers WHERE country = 'France'"),
            query("SELECT count(*) FROM customers WHERE country = 'Japan'"),
            query("SELECT count(*)  FROM customers WHERE country = 'Japan'"),
            'answer("14")',
        ],
    )
    assert steps == [
        ("correctable", 0.35),  # a table the question does not need
        ("correctable", 0.3),  # the query fails
        ("correctable", 0.45),  # right table, the answer is not in the result
        ("ok", 1.0),  # the result shows 15
        ("correctable", 0.1),  # the same query again
        ("fatal", 0.0),  # wrong answer
    ]
    assert labels(env, "sql/001", ['answer("15")']) == [("ok", 0.6)]  # right but unseen


def test_candidates_are_ranked_without_touching_the_episode(env):
    trajectory = play(env, "sql/001", ["schema()"])
    right = query("SELECT count(*) FROM customers WHERE country = 'Japan'")
    wrong = query("SELECT count(*) FROM customers WHERE country = 'Spain'")
    before = env.unwrapped.snapshot()
    scores = SQLVerifier().score_candidates(trajectory, [wrong, right, "schema()"], env)
    assert [s.label for s in scores] == ["correctable", "ok", "correctable"]
    assert env.unwrapped.state == before["state"]


def test_default_rubric_ships_in_the_package():
    rubric = default_rubric("sql")
    assert rubric.family == "sql"
    assert {"well-formed", "queried-before-answering"} <= {c.id for c in rubric.criteria}


def test_perturbations_are_first_errors_the_env_confirms(env):
    items = build_first_error_set(ENV_ID, "all", 24, seed=3)
    assert {item.kind for item in items} == set(SQL_KINDS)
    verifier = SQLVerifier()
    for item in items:
        trajectory, first = item.trajectory, item.first_error
        task = trajectory.task
        right = oracle_actions(task)
        actions = [step.action for step in trajectory.steps]
        if item.kind == "none":
            assert actions == right and trajectory.success and first == -1
            continue
        assert actions[:first] == right[:first]
        wrong = trajectory.steps[first]
        if item.kind == "wrong_query":
            shown = [
                c.strip() for line in wrong.observation.splitlines()[1:] for c in line.split("|")
            ]
            assert not wrong.observation.startswith("SQL error")
            assert not cells_contain(shown, task.privileged["answers"])
        elif item.kind == "wrong_answer":
            assert wrong.reward == 0.0 and not trajectory.success
        else:
            earlier = [s for s in trajectory.steps[:first] if s.action == wrong.action]
            assert earlier and earlier[0].observation == wrong.observation
        # The verifier, reading the env, finds the same first error.
        env.reset(options={"task_id": task.id})
        values = [score.value for score in verifier.score(trajectory, env)]
        assert next(i for i, value in enumerate(values) if value < 0.5) == first, item.kind


def test_wrong_actions_are_never_the_right_one():
    rng = random.Random(0)
    for task in shop_tasks("all"):
        for action in oracle_actions(task):
            for _ in range(3):
                wrong = plausible_wrong_action(task, action, [], rng)
                assert wrong != action and wrong.split("(")[0] in ("describe", "query", "answer")
