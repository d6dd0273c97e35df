"""WebEnv in a real Chromium: observations, actions, checks, snapshots, generic tasks, fuzzing."""

import threading

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prmgym.envs.web.env import WebEnv
from prmgym.envs.web.generic import GenericWebTask
from prmgym.envs.web.oracle import elements, oracle_action
from prmgym.envs.web.tasks import load_task_file

pytestmark = pytest.mark.integration

TASKS = {task.id: task for task in load_task_file("web-lite")}
ADD = TASKS["shop/add-quantity/0"]  # a state change: two units in the cart
PRICE = TASKS["shop/price/1"]  # an answer: the product's price
REPLY = TASKS["forum/reply/2"]


@pytest.fixture(scope="module")
def env():
    env = WebEnv([ADD, PRICE, REPLY])
    yield env
    env.close()


def play_oracle(env, task):
    observation, _ = env.reset(options={"task_id": task.id})
    for step in range(len(task.oracle)):
        observation, reward, terminated, truncated, info = env.step(
            oracle_action(env.task, observation, step)
        )
        assert info["action_error"] is None, info["action_error"]
    return observation, reward, terminated, info


def bid_of(observation, role, name):
    (bid,) = [b for b, r, n in elements(observation) if (r, n) == (role, name)]
    return bid


def test_the_first_observation_has_the_goal_the_page_and_the_actions(env):
    observation, info = env.reset(options={"task_id": ADD.id})
    assert observation.startswith(f"Goal: {ADD.goal}")
    assert "URL: http://127.0.0.1:" in observation and "Title: " in observation
    assert "[" in observation and 'click("12")' in observation  # ids, and the action help
    again, _ = env.reset(options={"task_id": ADD.id})
    assert again == observation  # same page, same ids


def test_the_oracle_solves_state_and_answer_tasks_and_the_checklist_fills(env):
    for task in (ADD, PRICE, REPLY):
        observation, reward, terminated, info = play_oracle(env, task)
        assert (reward, terminated, info["success"]) == (1.0, True, True), observation
        assert all(info["checklist"]) and len(info["checklist"]) == len(task.checklist)


def test_a_wrong_answer_ends_the_episode_unrewarded(env):
    env.reset(options={"task_id": PRICE.id})
    observation, reward, terminated, _, info = env.step('send_msg_to_user("1.00")')
    assert (reward, terminated, info["success"]) == (0.0, True, False)
    assert observation.startswith("Message sent to the user.")


def test_bad_actions_show_the_error_with_the_page(env):
    observation, _ = env.reset(options={"task_id": ADD.id})
    for action, message in [
        ('click("99999")', "no element [99999]"),
        ('click("a b")', "is not an element id"),
        ("click(", "could not parse"),
        ('fill("1")', "wrong arguments"),
        ('exec("import os")', "unknown tool"),
    ]:
        observation, reward, terminated, _, info = env.step(action)
        assert message in info["action_error"] and not terminated, (action, observation)
        assert "Accessibility tree:" in observation  # the agent still sees the page


def test_wrong_argument_types_are_observations_not_exceptions(env):
    # Each raised TypeError or ValueError out of step before the arguments were checked.
    env.reset(options={"task_id": ADD.id})
    for action in [
        'select_option("1", 5)',
        'scroll("a", "b")',
        'noop("a\\x00b")',
        "noop(1e99999)",
        'goto("http://[::1")',
        'fill("1", "\\ud800")',
    ]:
        observation, reward, terminated, _, info = env.step(action)
        assert info["action_error"] and not terminated and reward == 0.0, (action, info)
        assert "Accessibility tree:" in observation


def test_no_request_leaves_the_episodes_own_sites(env):
    env.reset(options={"task_id": ADD.id})
    for url in ("http://example.com/", "http://10.0.0.1/", "https://1.1.1.1/"):
        _, _, _, _, info = env.step(f'goto("{url}")')
        assert "ERR_BLOCKED_BY_CLIENT" in (info["action_error"] or ""), url
        assert not env.url.startswith(url)  # Chromium shows its error page instead


def test_snapshot_and_restore_bring_back_the_sites_and_the_page(env):
    observation, _ = env.reset(options={"task_id": ADD.id})
    for step in range(2):
        observation, *_ = env.step(oracle_action(env.task, observation, step))
    token = env.snapshot()
    page = env.url
    for step in range(2, len(ADD.oracle)):
        observation, reward, *_ = env.step(oracle_action(env.task, observation, step))
    assert reward == 1.0
    env.restore(token)
    assert env.url == page and not env.succeeded() and env._step_index == 2
    observation = env.page_text()
    for step in range(2, len(ADD.oracle)):
        observation, reward, *_ = env.step(oracle_action(env.task, observation, step))
    assert reward == 1.0  # the same steps solve it again from the restored state


def test_a_crashed_page_is_reopened_and_the_step_marked(env):
    env.reset(options={"task_id": ADD.id})
    env._run(env._page.close())
    observation, _, terminated, _, info = env.step('click("1")')
    assert "crashed" in info["browser_restarted"] and not terminated
    assert observation.startswith("[browser restarted:") and "Accessibility tree:" in observation
    _, _, _, _, info = env.step("noop(1)")
    assert "browser_restarted" not in info and info["action_error"] is None


def test_screenshots_are_saved_when_asked(tmp_path):
    env = WebEnv([ADD], screenshots=tmp_path / "shots")
    try:
        env.reset(options={"task_id": ADD.id})
        _, _, _, _, info = env.step("noop(1)")
        shot = tmp_path / "shots" / "shop_add-quantity_0-episode1-step1.png"
        assert info["screenshot"] == str(shot)
        assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        env.close()


def test_steps_may_come_from_any_thread(env):
    env.reset(options={"task_id": ADD.id})
    results = []
    worker = threading.Thread(target=lambda: results.append(env.step("go_back()")))
    worker.start()
    worker.join()
    assert results and results[0][4]["action_error"] is None


def test_a_local_html_page_with_a_js_success_check(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<title>Local</title><button onclick=\"document.getElementById('out').textContent="
        "'clicked'\">OK</button><p id=out>waiting</p>"
    )
    js = GenericWebTask(
        "local/js",
        "Click the OK button.",
        page.as_uri(),
        success_js="document.getElementById('out').textContent === 'clicked'",
    )
    python = GenericWebTask(
        "local/python", "Say hello.", page.as_uri(), success=lambda state: state.message == "hello"
    )
    env = gymnasium.make("prmgym/Web-v0", tasks=[js, python])
    try:
        observation, _ = env.reset(options={"task_id": "local/js"})
        _, reward, terminated, _, _ = env.step(f'click("{bid_of(observation, "button", "OK")}")')
        assert (reward, terminated) == (1.0, True)
        env.reset(options={"task_id": "local/python"})
        _, reward, terminated, _, _ = env.step('send_msg_to_user("hello")')
        assert (reward, terminated) == (1.0, True)
    finally:
        env.close()


def test_check_env_and_a_vector_env():
    env = WebEnv([ADD, PRICE])
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()
    envs = gymnasium.make_vec(
        "prmgym/Web-v0", num_envs=2, vectorization_mode="sync", tasks=[ADD, REPLY]
    )
    observations, _ = envs.reset(seed=0)
    assert all(o.startswith("Goal: ") for o in observations)
    envs.close()


@pytest.fixture(scope="module")
def fuzz_env():
    env = WebEnv([ADD])
    env.reset()
    yield env
    env.close()


actions = st.sampled_from(
    ["click", "fill", "select_option", "press", "goto", "scroll", "hover", "noop", "x"]
)


@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda name, a, b: f"{name}({a!r}, {b!r})",
            actions,
            st.one_of(st.text(max_size=8), st.integers(-5, 60)),
            st.text(max_size=8),
        ),
    )
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_actions_never_raise(fuzz_env, action):
    if fuzz_env._done:
        fuzz_env.reset()
    observation, reward, terminated, truncated, info = fuzz_env.step(action)
    assert fuzz_env.observation_space.contains(observation)
