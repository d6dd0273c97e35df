import json

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prmgym
from prmgym.envs.search.env import SearchQAEnv
from prmgym.envs.search.oracle import oracle_actions


@pytest.fixture(scope="module")
def env():
    env = SearchQAEnv(split="test")
    yield env
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("env_id", sorted(prmgym.registered_envs()))
def test_check_env_passes_on_every_registered_id(env_id):
    env = gymnasium.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_make_vec_sync_and_async():
    for mode, kwargs in (("sync", {}), ("async", {"vector_kwargs": {"shared_memory": False}})):
        envs = gymnasium.make_vec(
            "prmgym/SearchQA-v0", num_envs=2, vectorization_mode=mode, **kwargs
        )
        observations, _ = envs.reset(seed=1)
        assert len(observations) == 2 and all(o.startswith("Question:") for o in observations)
        observations, rewards, terminated, _, infos = envs.step(['search("json")', 'answer("no")'])
        assert "Results" in observations[0]
        assert list(terminated) == [False, True]
        envs.close()


def test_reset_is_deterministic_for_a_seed_and_honours_task_id(env):
    first, info = env.reset(seed=7)
    again, info_again = env.reset(seed=7)
    assert first == again and info == info_again
    target = env.tasks[3]
    observation, info = env.reset(options={"task_id": target.id})
    assert info["task_id"] == target.id and target.instruction in observation


def test_unknown_task_id_says_what_exists(env):
    with pytest.raises(ValueError, match="unknown task_id"):
        env.reset(options={"task_id": "nope"})


def test_tools_search_open_answer(env):
    task = next(t for t in env.tasks if t.privileged["evidence"])
    env.reset(options={"task_id": task.id})
    doc_id = task.privileged["evidence"][0]
    observation, reward, terminated, truncated, info = env.step(
        f"search({json.dumps(doc_id)}, k=3)"
    )
    assert observation.startswith("Results for") and info["action_error"] is None
    assert len(info["retrieved"]) <= 3
    observation, *_ = env.step(f"open({json.dumps(doc_id)})")
    assert observation.startswith(f"Document [{doc_id}]")
    answer = task.privileged["answers"][0]
    observation, reward, terminated, truncated, info = env.step(f"answer({json.dumps(answer)})")
    assert (reward, terminated, info["em"], info["f1"], info["success"]) == (
        1.0,
        True,
        1.0,
        1.0,
        True,
    )


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("fly()", "unknown tool 'fly'"),
        ("search()", "wrong arguments for search"),
        ('search("x", k=0)', "k must be a whole number"),
        ('search("")', "non-empty"),
        ('open("no.such.doc")', "there is no document"),
        ("answer('')", "answer needs"),
        ("hello", "is not a tool call"),
        ("hello world", "could not parse"),
        ('search("a", q=1)', "wrong arguments"),
    ],
)
def test_bad_actions_become_observations(env, action, message):
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(action)
    assert message in info["action_error"]
    assert observation.startswith("Error:") and "Tools:" in observation
    assert (reward, terminated) == (0.0, False)


def test_stepping_after_the_end_is_an_error_observation(env):
    env.reset(seed=0)
    env.step('answer("x")')
    observation, reward, terminated, _, info = env.step('search("x")')
    assert "episode is over" in info["action_error"] and terminated and reward == 0.0


def test_time_limit_truncates():
    env = gymnasium.make("prmgym/SearchQA-v0", max_episode_steps=2)
    env.reset(seed=0)
    assert env.step('search("a b")')[3] is False
    assert env.step('search("c d")')[3] is True


def test_snapshot_restore_rewinds_the_episode(env):
    env.reset(seed=0)
    env.step('search("json dumps")')
    token = env.snapshot()
    env.step('open("json.dumps")')
    env.step('answer("x")')
    env.restore(token)
    assert env.state.opened == [] and env.state.queries == ["json dumps"]
    observation, _, terminated, _, _ = env.step('search("heapq")')
    assert not terminated and observation.startswith("Results")


def test_probe_is_read_only(env):
    task = env.tasks[0]
    env.reset(options={"task_id": task.id})
    env.step('search("json")')
    before = env.snapshot()
    probe = env.probe
    probe.search("heapq merge")
    probe.document(task.privileged["evidence"][0])
    probe.state.queries.append("mutated")
    assert probe.grade(task.privileged["answers"][0]) == (1.0, 1.0)
    assert env.snapshot() == before


def test_oracle_solves_the_test_split(env):
    solved = 0
    for task in env.tasks:
        env.reset(options={"task_id": task.id})
        reward = 0.0
        for action in oracle_actions(task):
            _, reward, terminated, _, info = env.step(action)
            assert info["action_error"] is None, (task.id, action, info["action_error"])
        solved += reward == 1.0 and terminated
    assert solved / len(env.tasks) >= 0.99


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.text(max_size=120),
        st.builds(
            lambda t, a: f"{t}({a})",
            st.sampled_from(["search", "open", "answer", "x"]),
            st.text(max_size=60),
        ),
    )
)
def test_fuzzed_actions_never_raise(env, action):
    if env._done:
        env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(action)
    assert isinstance(observation, str) and observation
    assert env.observation_space.contains(observation)
    assert set(info) >= {"step", "action_error", "tool", "task_id"}
