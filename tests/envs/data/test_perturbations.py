import random

import pytest

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.data.answers import grade, parse_answers, parse_number
from prmgym.envs.data.env import DataEnv
from prmgym.envs.data.oracle import oracle_actions
from prmgym.envs.data.perturbations import (
    DATA_KINDS,
    answer_pool,
    perturb_data,
    repeat,
    wrong_answer,
)
from prmgym.envs.data.tasks import DataTask

PROBE_ANSWER = '__probe_result__ = globals().get("answer")'


@pytest.fixture(scope="module")
def env():
    env = DataEnv(split="test")
    yield env
    env.close()


@pytest.fixture(scope="module")
def tasks(env):
    return env.tasks[:3]


def _play(env, task, actions):
    """Every step's (observation, reward, info), and the kernel's ``answer`` after each."""
    env.reset(options={"task_id": task.id})
    steps, answers, digests = [], [], [env.probe.table_digests()]
    for action in actions:
        observation, reward, terminated, _, info = env.step(action)
        steps.append((observation, reward, info))
        if terminated:
            break
        answers.append(env.probe.evaluate(PROBE_ANSWER))
        digests.append(env.probe.table_digests())
    return steps, answers, digests


def _right(task, values):
    data_task = DataTask.from_task(task)
    return grade(values, data_task.answers, data_task.tolerance).correct


def _replied(action):
    return parse_answers(parse_tool_call(action).args[0]).values


@pytest.mark.slow
def test_none_is_the_oracle_and_solves_the_task(env, tasks):
    for seed, task in enumerate(tasks):
        made = perturb_data(env, task, "none", random.Random(seed))
        assert made.actions == tuple(oracle_actions(task)) and made.first_error == -1
        steps, _, _ = _play(env, task, made.actions)
        assert steps[-1][1] == 1.0 and steps[-1][2]["success"]


@pytest.mark.slow
def test_wrong_code_computes_a_wrong_answer_at_its_first_step(env, tasks):
    for seed, task in enumerate(tasks):
        made = perturb_data(env, task, "wrong_code", random.Random(seed))
        assert made is not None and made.first_error == 0 and len(made.actions) == 2
        assert ".sample(frac=0.5" in made.actions[0] and made.actions[0] != oracle_actions(task)[0]
        steps, answers, digests = _play(env, task, made.actions)
        assert steps[0][2]["error"] is None, "the error is silent: the code runs"
        assert digests[1] == digests[0], "the files are untouched; the frame is wrong"
        assert not _right(task, answers[0])
        assert _replied(made.actions[-1]) == answers[0], "the answer is what the code computed"
        assert steps[-1][1] == 0.0


@pytest.mark.slow
def test_corrupt_table_overwrites_a_table_file_at_its_first_step(env, tasks):
    for seed, task in enumerate(tasks):
        made = perturb_data(env, task, "corrupt_table", random.Random(seed))
        assert made is not None and made.first_error == 0 and len(made.actions) == 3
        assert made.actions[1:2] == tuple(oracle_actions(task)[:1]), "then the reference cell"
        steps, answers, digests = _play(env, task, made.actions)
        assert steps[0][2]["error"] is None
        changed = [f for f, digest in digests[1].items() if digest != digests[0][f]]
        assert len(changed) == 1 and changed[0] in DataTask.from_task(task).files()
        assert not _right(task, answers[1])
        assert _replied(made.actions[-1]) == answers[1]
        assert steps[-1][1] == 0.0


@pytest.mark.slow
def test_wrong_answer_changes_one_part_and_grades_wrong(env, tasks):
    for seed, task in enumerate(tasks):
        oracle = oracle_actions(task)
        made = perturb_data(env, task, "wrong_answer", random.Random(seed))
        assert made is not None and made.first_error == len(oracle) - 1
        assert made.actions[:-1] == tuple(oracle[:-1])
        steps, _, _ = _play(env, task, made.actions)
        assert steps[-1][1] == 0.0 and not steps[-1][2]["success"]
        assert list(steps[-1][2]["parts"].values()).count(False) == 1


@pytest.mark.slow
def test_repeat_wastes_a_step_and_still_solves_the_task(env, tasks):
    for seed, task in enumerate(tasks):
        oracle = oracle_actions(task)
        made = perturb_data(env, task, "repeat", random.Random(seed))
        assert made is not None and made.first_error == 1
        assert made.actions == (oracle[0], oracle[0], oracle[1])
        steps, answers, digests = _play(env, task, made.actions)
        assert steps[1][0] == steps[0][0] and answers[1] == answers[0] and digests[2] == digests[1]
        assert steps[-1][1] == 1.0


def test_wrong_answers_never_grade_as_correct_and_look_plausible(env):
    for seed, task in enumerate(env.tasks):
        actions = oracle_actions(task)
        pool = answer_pool(env.tasks, task)
        made = wrong_answer(task, actions, pool, random.Random(seed))
        assert made is not None, task.id
        given = _replied(made.actions[-1])
        expected = DataTask.from_task(task).answers
        assert not _right(task, given) and set(given) == set(expected)
        (name,) = [n for n in expected if given[n] != expected[n]]
        if parse_number(expected[name], grouped=True) is None:
            assert given[name] in pool, "a wrong text is another task's answer"
        else:
            gold, wrong = float(expected[name].replace(",", "")), float(given[name])
            assert abs(wrong - gold) <= max(0.3 * abs(gold), 1.0), (task.id, given)


@pytest.mark.slow
def test_the_rng_fixes_every_draw(env, tasks):
    def made(seed):
        rng = random.Random(seed)
        return [perturb_data(env, task, kind, rng) for task in tasks[:2] for kind in DATA_KINDS]

    assert made(1) == made(1)
    assert made(1) != made(2)


def test_a_task_without_reference_code_admits_only_a_wrong_answer(env):
    task = DataTask(
        id="t/no-code",
        question="How many rows?",
        format="@rows[integer]",
        tables=["penguins"],
        answers={"rows": "344"},
        level="easy",
    ).to_task()
    actions = oracle_actions(task)
    assert actions == ["answer('@rows[344]')"] and repeat(actions) is None
    rng = random.Random(0)
    for kind in ("wrong_code", "corrupt_table", "repeat"):
        assert perturb_data(env, task, kind, rng) is None, kind
    made = perturb_data(env, task, "wrong_answer", rng)
    assert made is not None and made.first_error == 0


def test_an_unknown_kind_is_refused(env, tasks):
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        perturb_data(env, tasks[0], "typo", random.Random(0))
