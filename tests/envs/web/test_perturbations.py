"""Web perturbations, played in a real Chromium: each list goes wrong exactly where it says."""

import random

import pytest

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.web.env import WebEnv
from prmgym.envs.web.oracle import elements
from prmgym.envs.web.perturbations import (
    WEB_KINDS,
    oracle_trace,
    perturb_web,
    play,
)
from prmgym.envs.web.tasks import load_task_file

pytestmark = pytest.mark.integration

TASKS = {task.id: task for task in load_task_file("web-lite")}
ADD = TASKS["shop/add-quantity/0"]  # a state change
PRICE = TASKS["shop/price/1"]  # an answer


@pytest.fixture(scope="module")
def env():
    env = WebEnv([ADD, PRICE])
    yield env
    env.close()


def _task(env, web_task):
    return next(task for task in env.tasks if task.id == web_task.id)


@pytest.fixture(scope="module")
def oracles(env):
    """Each task's concrete oracle actions, as played on the live pages."""
    return {t.id: [step.action for step in oracle_trace(env, _task(env, t))] for t in (ADD, PRICE)}


def test_none_is_the_oracle_and_solves_the_task(env, oracles):
    for web_task in (ADD, PRICE):
        task = _task(env, web_task)
        made = perturb_web(env, task, "none", random.Random(0))
        assert list(made.actions) == oracles[task.id] and made.first_error == -1
        played = play(env, task, made.actions)
        assert len(played) == len(made.actions) and played[-1].success


def test_wrong_click_is_a_detour_starting_at_its_first_error(env, oracles):
    for seed, web_task in enumerate((ADD, PRICE)):
        task = _task(env, web_task)
        oracle = oracles[task.id]
        made = perturb_web(env, task, "wrong_click", random.Random(seed))
        assert made is not None
        i = made.first_error
        assert list(made.actions) == [*oracle[:i], made.actions[i], "go_back()", *oracle[i:]]
        played = play(env, task, made.actions)
        bid = parse_tool_call(made.actions[i]).args[0]
        roles = {b: role for b, role, _ in elements(played[i].page)}
        assert roles[bid] == "link" and made.actions[i] != oracle[i]
        # It leads to a page the oracle's step does not, and reaches no subgoal.
        oracle_played = play(env, task, oracle)
        assert played[i].url not in (oracle_played[i].url, played[i - 1].url if i else "")
        assert played[i].checklist == played[i].checklist_before
        assert played[-1].success, "the detour is undone and the task still solved"


def test_wrong_answer_fails_the_answer_check(env, oracles):
    task = _task(env, PRICE)
    made = perturb_web(env, task, "wrong_answer", random.Random(0))
    assert made is not None and made.first_error == len(made.actions) - 1
    assert list(made.actions[:-1]) == oracles[task.id][:-1]
    assert made.actions[-1] != oracles[task.id][-1]
    played = play(env, task, made.actions)
    assert played[-1].terminated and not played[-1].success
    assert perturb_web(env, _task(env, ADD), "wrong_answer", random.Random(0)) is None


def test_repeat_reloads_the_page_it_just_loaded(env, oracles):
    for seed, web_task in enumerate((ADD, PRICE)):
        task = _task(env, web_task)
        oracle = oracles[task.id]
        made = perturb_web(env, task, "repeat", random.Random(seed))
        assert made is not None
        i = made.first_error
        assert list(made.actions) == [*oracle[:i], made.actions[i], *oracle[i:]]
        assert parse_tool_call(made.actions[i]).name == "goto"
        played = play(env, task, made.actions)
        assert played[i].url == played[i - 1].url and played[i + 1].page == played[i].page
        assert played[i].checklist == played[i].checklist_before
        assert played[-1].success


def test_the_rng_fixes_the_draw(env):
    task = _task(env, ADD)

    def made(seed):
        return perturb_web(env, task, "wrong_click", random.Random(seed))

    first = made(0)
    assert made(0) == first
    assert any(made(seed) != first for seed in range(1, 4))


def test_an_unknown_kind_is_refused(env):
    assert "none" in WEB_KINDS
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        perturb_web(env, _task(env, ADD), "typo", random.Random(0))
