"""prmgym's agents run the family through its declaration: oracle, random, noisy oracle, LLM."""

import doctest
import importlib
import json

import gymnasium
import pytest
from prmgym.agents.policies import make_policy
from prmgym.agents.prompts import prompt_for
from prmgym.agents.search import make_search, run_search

import prmgym_sql
from prmgym_sql.env import SIGNATURES, SQLEnv
from prmgym_sql.prompt import EXAMPLES
from prmgym_sql.tasks import shop_tasks

ENV_ID = "prmgym_sql/SQL-v0"


def run(agent, split="all", search=None, seed=0):
    ids = [task.id for task in shop_tasks(split)]
    method = None if search is None else make_search(search, family="sql")
    return run_search(
        lambda: gymnasium.make(ENV_ID, split=split), ids, make_policy(agent, seed=seed), method
    )


def success(trajectories):
    assert all(t.error is None for t in trajectories), [t.error for t in trajectories]
    return sum(t.success for t in trajectories) / len(trajectories)


def test_oracle_solves_every_task():
    assert success(run("oracle")) == 1.0


def test_random_uses_only_the_family_tools_and_rarely_succeeds():
    trajectories = run("random", split="test")
    assert success(trajectories) < 0.5
    tools = {step.tool for t in trajectories for step in t.steps}
    assert tools <= set(SIGNATURES) and len(tools) >= 3
    assert not any(step.action_error for t in trajectories for step in t.steps)


def test_noisy_oracle_is_rescued_by_pruning_and_best_of_n():
    plain = success(run("noisy-oracle:0.5", split="test"))
    pruned = success(run("noisy-oracle:0.5", split="test", search="prune:k=4,prm=verifier"))
    best = success(run("noisy-oracle:0.5", split="test", search="bon:n=4,prm=verifier"))
    assert plain < 1.0
    assert pruned > plain and best > plain


def test_prompt_examples_show_the_env_real_output():
    env = SQLEnv(split="all")
    env.reset(options={"task_id": "sql/001"})
    for example in EXAMPLES:
        for (_, action), (observation, _) in zip(example, example[1:], strict=False):
            assert env.step(action)[0] == observation
    env.close()


def test_prompt_builds_a_chat_and_parses_completions():
    prompt = prompt_for("sql")
    chat = prompt.build_chat(["Question: How many customers live in Japan?"], [])
    assert chat[0]["role"] == "system" and "order_items(" in chat[0]["content"]
    assert chat[-1]["content"].startswith("Question:")
    sql = "SELECT count(*) FROM customers WHERE country = 'Japan'"
    completion = f"Let me count them.\nquery({json.dumps(sql)})\nThen I answer."
    assert prompt.parse_action(completion) == f"query({json.dumps(sql)})"


@pytest.mark.parametrize("module", ["prmgym_sql", "prmgym_sql.grading"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_family_declares_every_piece():
    from prmgym.family import PIECES

    for piece in PIECES:
        assert prmgym_sql.FAMILY.load(piece) is not None
