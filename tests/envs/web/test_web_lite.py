"""web-lite: the shipped file is what the generator gives, and every oracle plan solves its task.

The plans run here through :class:`HtmlDriver`, which resolves each step's role and name on
the page the real server returns and submits forms as a browser would (BrowserGym's "cheat"
test, without the browser). So each plan's elements exist and are unique where the step runs,
the predicates read the state the pages change, and no task starts out solved.
"""

from collections import Counter

import httpx
import pytest

from prmgym.envs.web.builtin import DEFAULT_PATH, SEEDS, build_task_file, builtin_tasks
from prmgym.envs.web.predicates import PredicateContext, evaluate
from prmgym.envs.web.sites.server import SITES, SiteServer
from prmgym.envs.web.tasks import WebTask, load_task_file
from tests.envs.web.html_driver import HtmlDriver

TASKS = load_task_file("web-lite")


def test_the_shipped_file_is_what_the_generator_writes(tmp_path):
    rebuilt = build_task_file(tmp_path / "web-lite.tasks.jsonl")
    assert rebuilt.read_bytes() == DEFAULT_PATH.read_bytes()
    assert builtin_tasks() == TASKS


def test_the_set_is_large_balanced_and_split_three_to_one():
    assert len(TASKS) >= 160
    by_site = Counter(task.site for task in TASKS)
    assert set(by_site) == set(SITES) and min(by_site.values()) >= 50
    train = sum(task.split == "train" for task in TASKS)
    assert 0.2 <= train / len(TASKS) <= 0.3
    assert {task.seed for task in TASKS} == set(SEEDS)
    for site in SITES:
        assert {task.level for task in TASKS if task.site == site} == {"easy", "medium", "hard"}
    answers = sum(task.answer is not None for task in TASKS)
    assert 0.25 <= answers / len(TASKS) <= 0.5, "mix information-seeking and change tasks"


def test_checklists_have_two_to_five_subgoals_and_goals_are_unique():
    assert all(2 <= len(task.checklist) <= 5 for task in TASKS)
    assert len({task.goal for task in TASKS}) == len(TASKS)


@pytest.fixture(scope="module")
def web():
    with SiteServer() as server, httpx.Client(follow_redirects=True, timeout=10) as client:
        yield server, client


@pytest.mark.parametrize("task", TASKS, ids=[task.id for task in TASKS])
def test_the_oracle_solves_the_task_and_meets_the_checklist_in_order(web, task: WebTask):
    server, client = web
    server.reset(task.seed)
    driver = HtmlDriver(client, server.url(task.site))
    driver.open(task.start_path)

    def holding(predicates):
        context = PredicateContext(server, driver.url, driver.message)
        return [evaluate(predicate, context) for predicate in predicates]

    assert not all(holding(task.success)), "the task is solved before anything is done"
    assert not holding(task.checklist)[-1], "the last subgoal holds before anything is done"
    first_held: list[int | None] = [None] * len(task.checklist)
    for number, step in enumerate([None, *task.oracle]):
        if step is not None:
            driver.run(step)
            assert driver.page is not None and driver.page.status not in (404, 500), (
                f"{step.describe()} -> {driver.page.status}"
            )
        for index, held in enumerate(holding(task.checklist)):
            if held and first_held[index] is None:
                first_held[index] = number
    assert all(holding(task.success)), "the oracle's plan does not solve the task"
    assert None not in first_held, f"subgoals never met: {first_held}"
    assert first_held == sorted(first_held), f"subgoals met out of order: {first_held}"
