"""DataEnv on real tables: the tools, grading, crashes, snapshots, check_env and fuzzing."""

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prmgym.envs.data.env import DataEnv
from prmgym.envs.data.oracle import oracle_actions
from prmgym.envs.data.tasks import DataTask

CODE = (
    "import pandas as pd\n"
    "df = pd.read_csv('penguins.csv')\n"
    "answer = {'n_adelie': str(int((df.species == 'Adelie').sum())),"
    " 'mean_mass': f\"{df.body_mass_g.mean():.1f}\"}"
)
ROWS_CODE = "import pandas as pd\nanswer = {'rows': str(len(pd.read_csv('penguins.csv')))}"
TASKS = [
    DataTask(
        id="t/two-parts",
        question="How many Adelie penguins are there, and what is the mean body mass?",
        constraints="Count rows; mean over non-missing values, rounded to 1 decimal.",
        format="@n_adelie[integer] @mean_mass[number with 1 decimal]",
        tables=["penguins"],
        reference_code=CODE,
        answers={"n_adelie": "152", "mean_mass": "4201.8"},
        tolerance=0.05,
        level="easy",
        concepts=["filter", "aggregation"],
    ),
    DataTask(
        id="t/rows",
        question="How many rows does the table have?",
        format="@rows[integer]",
        tables=["penguins"],
        reference_code=ROWS_CODE,
        answers={"rows": "344"},
        level="easy",
    ),
]


@pytest.fixture(scope="module")
def env():
    env = DataEnv(TASKS)
    yield env
    env.close()


def act(env, action):
    observation, reward, terminated, truncated, info = env.step(action)
    assert env.observation_space.contains(observation)
    return observation, reward, terminated, info


def test_the_prompt_names_the_question_the_format_and_the_files(env):
    observation, info = env.reset(options={"task_id": "t/two-parts"})
    assert TASKS[0].question in observation and "@n_adelie[integer]" in observation
    assert "penguins.csv" in observation and 'python("code")' in observation
    assert info["task_id"] == "t/two-parts"


@pytest.mark.slow
def test_the_oracle_solves_each_task_and_a_wrong_answer_does_not(env):
    for task in env.tasks:
        env.reset(options={"task_id": task.id})
        for action in oracle_actions(task):
            observation, reward, terminated, info = act(env, action)
            assert info["action_error"] is None, observation
        assert (reward, terminated, info["correct"], info["success"]) == (1.0, True, True, True)
    env.reset(options={"task_id": "t/two-parts"})
    observation, reward, terminated, info = act(env, 'answer("@n_adelie[152] @mean_mass[4300]")')
    assert (reward, terminated, info["fraction"]) == (0.0, True, 0.5)
    assert info["parts"] == {"n_adelie": True, "mean_mass": False}
    assert "1 of 2 parts correct" in observation and "@mean_mass: wrong" in observation


def test_python_shows_output_results_and_errors_and_keeps_state(env):
    env.reset(options={"task_id": "t/rows"})
    observation, *_ = act(env, "python(\"import pandas as pd\\ndf = pd.read_csv('penguins.csv')\")")
    assert observation == "(no output)"
    observation, _, _, info = act(env, 'python("print(df.shape)\\nlen(df.columns)")')
    assert observation == "[stdout]\n(344, 8)\n[result]\n8" and info["error"] is None
    observation, _, terminated, info = act(env, "python(\"df['nope']\")")
    assert info["error"] == "KeyError" and "[error]" in observation and not terminated


def test_bad_actions_say_what_was_wrong(env):
    env.reset(options={"task_id": "t/rows"})
    for action, message in [
        ('python("")', "python needs code"),
        ('answer("344")', "no @name[value] parts"),
        ("print(1)", "unknown tool"),
    ]:
        observation, reward, terminated, info = act(env, action)
        assert message in info["action_error"] and not terminated, (action, observation)


@pytest.mark.slow
def test_a_crashed_kernel_is_restarted_and_the_episode_marked(env):
    env.reset(options={"task_id": "t/rows"})
    act(env, 'python("x = 1")')
    observation, _, terminated, info = act(env, 'python("import os\\nos._exit(3)")')
    assert "kernel restarted" in observation and "kernel_restarted" in info and not terminated
    observation, *_ = act(env, 'python("x")')
    assert "NameError" in observation


@pytest.mark.slow
def test_snapshot_and_restore_return_to_the_same_variables_files_and_step(env):
    env.reset(options={"task_id": "t/rows"})
    act(env, "python(\"n = 1\\nopen('note.txt', 'w').write('a')\")")
    token = env.snapshot()
    act(env, "python(\"n = 2\\nimport os\\nos.remove('penguins.csv')\")")
    env.restore(token)
    observation, *_ = act(env, "python(\"import os\\n(n, sorted(os.listdir('.')))\")")
    assert observation == "[result]\n(1, ['note.txt', 'penguins.csv'])"
    assert env._step_index == 2
    env.reset(options={"task_id": "t/rows"})
    with pytest.raises(ValueError, match="another episode"):
        env.restore(token)


def test_the_probe_reads_frames_and_files_in_a_fork(env):
    env.reset(options={"task_id": "t/rows"})
    act(env, "python(\"import pandas as pd\\ndf = pd.read_csv('penguins.csv')\")")
    frames = env.probe.frames()
    assert frames["df"]["rows"] == 344 and frames["df"]["nans"]["sex"] == 11
    assert env.probe.evaluate("df.drop(columns='sex', inplace=True)") is None
    assert "sex" in env.probe.frames()["df"]["columns"]  # the fork's change is gone
    assert env.probe.table_digests()["penguins.csv"] is not None


@pytest.mark.slow
def test_check_env_and_vector_envs():
    env = DataEnv(TASKS)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()
    envs = gymnasium.make_vec(
        "prmgym/Data-v0", num_envs=2, vectorization_mode="sync", tasks=TASKS, split="all"
    )
    observations, _ = envs.reset(seed=0)
    assert all("penguins.csv" in o for o in observations)
    envs.close()


@pytest.fixture(scope="module")
def fuzz_env():
    env = DataEnv(TASKS[1:])
    env.reset()
    yield env
    env.close()


@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(lambda s: f"python({s!r})", st.text(max_size=80)),
        st.builds(lambda s: f"answer({s!r})", st.text(max_size=80)),
    )
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_actions_never_raise(fuzz_env, action):
    if fuzz_env._done:
        fuzz_env.reset()
    observation, reward, terminated, truncated, info = fuzz_env.step(action)
    assert fuzz_env.observation_space.contains(observation)
    assert reward in (0.0, 1.0)
