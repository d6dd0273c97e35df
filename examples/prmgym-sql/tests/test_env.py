"""The env honours prmgym's TextEnv contract and holds against hostile SQL."""

import json

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import prmgym_sql
from prmgym_sql.database import QueryLimits
from prmgym_sql.env import SQLEnv
from prmgym_sql.tasks import shop_tasks


def query(sql: str) -> str:
    return f"query({json.dumps(sql)})"


@pytest.fixture
def env():
    env = gymnasium.make("prmgym_sql/SQL-v0", split="all")
    env.reset(options={"task_id": "sql/001"})
    yield env
    env.close()


def test_registered_with_its_family():
    assert prmgym_sql.FAMILY.envs[0].id in gymnasium.registry
    assert gymnasium.spec("prmgym_sql/SQL-v0").max_episode_steps == 10


def test_passes_gymnasium_check_env():
    env = gymnasium.make("prmgym_sql/SQL-v0", split="all", render_mode="ansi")
    check_env(env.unwrapped)
    env.close()


def test_vectorised():
    envs = gymnasium.make_vec("prmgym_sql/SQL-v0", num_envs=2, vectorization_mode="sync")
    observations, _ = envs.reset(seed=0)
    assert all(o.startswith("Question:") for o in observations)
    envs.close()


def test_splits_partition_the_tasks():
    train, test = shop_tasks("train"), shop_tasks("test")
    assert {t.id for t in train}.isdisjoint(t.id for t in test)
    assert len(train) + len(test) == len(shop_tasks("all")) >= 30
    assert len(test) >= 10
    with pytest.raises(ValueError, match="split"):
        SQLEnv(split="dev")


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ("drop_table()", "unknown tool"),
        ("query()", "wrong arguments"),
        ("query(42)", "non-empty text"),
        ('describe("users")', "no table"),
        ("SELECT * FROM orders", "tool"),
        ('answer("', ""),
        ("x" * 5000, "limit"),
    ],
)
def test_bad_actions_are_observations(env, action, says):
    observation, reward, terminated, _, info = env.step(action)
    assert info["action_error"] and says in info["action_error"]
    assert observation.startswith("Error:") and "Tools:" in observation
    assert (reward, terminated) == (0.0, False)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM orders",
        "DROP TABLE orders",
        "UPDATE orders SET status = 'shipped'",
        "PRAGMA query_only = OFF",
        "ATTACH DATABASE 'stolen.db' AS stolen",
        "CREATE TABLE notes (x)",
        "SELECT 1; DELETE FROM orders",
    ],
)
def test_writes_are_refused_and_change_nothing(env, sql, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    observation, _, _, _, info = env.step(query(sql))
    assert info["action_error"] is None and info["sql_error"]
    assert observation.startswith("SQL error:")
    fresh = SQLEnv(split="all")
    fresh.reset(options={"task_id": "sql/001"})
    for live in (env, fresh):
        counted = live.step(query("SELECT count(*) FROM orders"))[0]
        assert counted.splitlines()[1] == "300"
    assert list(tmp_path.iterdir()) == []
    fresh.close()


def test_a_runaway_query_is_stopped():
    env = SQLEnv(split="all", limits=QueryLimits(max_instructions=200_000))
    env.reset(options={"task_id": "sql/001"})
    endless = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    )
    _, _, _, _, info = env.step(query(endless))
    assert "limit" in info["sql_error"]
    assert env.step(query("SELECT count(*) FROM products"))[0].splitlines()[1] == "36"
    env.close()


def test_huge_values_are_refused(env):
    _, _, _, _, info = env.step(query("SELECT zeroblob(1000000000)"))
    assert "too big" in info["sql_error"]


def test_long_results_are_cut(env):
    observation, _, _, _, info = env.step(query("SELECT * FROM order_items"))
    assert (info["rows"], info["more"]) == (20, True)
    assert "there are more" in observation


def test_schema_and_describe_show_the_tables(env):
    schema = env.step("schema()")[0]
    assert all(t in schema for t in ("customers", "products", "orders", "order_items"))
    described = env.step('describe("products")')[0]
    assert "price REAL" in described and "Dune" in described


def test_snapshot_and_restore_branch_an_episode(env):
    env.step(query("SELECT count(*) FROM customers WHERE country = 'Japan'"))
    token = env.unwrapped.snapshot()
    assert env.step('answer("14")')[1:3] == (0.0, True)
    env.unwrapped.restore(token)
    assert env.unwrapped.state.answer is None
    _, reward, terminated, _, info = env.step('answer("15")')
    assert (reward, terminated, info["success"]) == (1.0, True, True)
