"""The data verifier replays a trajectory in a scratch kernel and finds silent errors."""

import tempfile

import pytest

from prmgym.envs.data.env import DataEnv
from prmgym.envs.data.oracle import oracle_actions
from prmgym.envs.data.tasks import DataTask
from prmgym.errors import TaskError
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.verifiers.data import DataVerifier
from prmgym.trajectory import Trajectory

LOAD = "python(\"import pandas as pd\\ndf = pd.read_csv('penguins.csv')\")"
TASK = DataTask(
    id="t/mass",
    question="What is the mean body mass of the penguins?",
    constraints="Mean over non-missing values, rounded to 1 decimal.",
    format="@mean_mass[number with 1 decimal]",
    tables=["penguins"],
    reference_code=(
        "import pandas as pd\ndf = pd.read_csv('penguins.csv')\n"
        "answer = {'mean_mass': f'{df.body_mass_g.mean():.1f}'}"
    ),
    answers={"mean_mass": "4201.8"},
    tolerance=0.05,
    level="easy",
)


@pytest.fixture(scope="module")
def env():
    env = DataEnv([TASK])
    yield env
    env.close()


def run(env, actions):
    env.reset(options={"task_id": TASK.id})
    trajectory = Trajectory(task=env.task, agent="scripted", seed=0)
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        trajectory.record(action, observation, reward, terminated, truncated, info)
        if terminated:
            break
    return trajectory


def labels(env, actions):
    scores = DataVerifier().score(run(env, actions), env=env)
    return [(s.label, s.value) for s in scores], [s.rationale for s in scores]


@pytest.mark.slow
def test_the_oracle_is_ok_at_every_step(env):
    found, _ = labels(env, oracle_actions(env.tasks[0]))
    assert found == [("ok", 1.0), ("ok", 1.0)]


@pytest.mark.slow
def test_silent_errors_are_correctable_and_named(env):
    found, why = labels(
        env,
        [
            LOAD,
            "python(\"df['body_mass_g'] = pd.to_numeric(df.body_mass_g.astype(str) + 'g',"
            " errors='coerce')\")",
            "python(\"m = df.merge(df, on='species')\")",
            "python(\"e = df[df.island == 'Atlantis']\")",
            "python(\"df['year'] = 'y' + df.year.astype(str)\")",
        ],
    )
    assert [label for label, _ in found] == ["ok"] + ["correctable"] * 4
    assert "gained 342 NaN values" in why[1]
    assert "duplicated columns" in why[2]
    assert "e is empty" in why[3]
    assert "df['year'] turned from int64 into" in why[4]


@pytest.mark.slow
def test_exceptions_repeats_and_rows_lost(env):
    found, why = labels(
        env,
        [LOAD, LOAD, "python(\"df['nope']\")", 'python("df = df.head(10)")', 'python("df.shape")'],
    )
    assert [label for label, _ in found] == [
        "ok",
        "correctable",
        "correctable",
        "correctable",
        "ok",
    ]
    assert "repeats" in why[1] and "KeyError" in why[2] and "lost 334 of 344 rows" in why[3]
    assert found[4] == ("ok", 0.7)  # shows, changes nothing


@pytest.mark.slow
def test_a_destroyed_table_and_a_wrong_answer_are_fatal(env):
    found, why = labels(
        env, [LOAD, "python(\"import os\\nos.remove('penguins.csv')\")", 'answer("@mean_mass[12]")']
    )
    assert found[1:] == [("fatal", 0.0), ("fatal", 0.0)]
    assert "penguins.csv" in why[1]
    assert "wrong at @mean_mass" in why[2] and "12 appeared in no output" in why[2]


@pytest.mark.slow
def test_candidates_are_scored_from_the_same_state_and_undone(env):
    trajectory = run(env, [LOAD])
    scores = DataVerifier().score_candidates(
        trajectory,
        ['python("df = df.iloc[0:0]")', 'python("df.describe()")', 'answer("@mean_mass[4201.8]")'],
        env=env,
    )
    assert [s.label for s in scores] == ["correctable", "ok", "ok"]


def test_the_verifier_alias_builds_it_and_it_needs_the_env(env):
    scorer = make_scorer("verifier", family="data")
    assert isinstance(scorer, DataVerifier)
    with pytest.raises(ValueError, match="environment-aware"):
        scorer.score(run(env, [LOAD]), env=None)


def test_a_scratch_episode_that_cannot_start_leaves_no_temp_folder(tmp_path, monkeypatch):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "own.csv").write_text("x\n1\n2\n")
    task = TASK.model_copy(update={"id": "t/own", "tables": ["own.csv"], "tables_dir": str(tables)})
    live = DataEnv([task])
    live.reset(options={"task_id": task.id})
    trajectory = Trajectory(task=live.task, agent="scripted", seed=0)
    trajectory.record('python("print(1)")', *live.step('python("print(1)")'))
    live.close()
    (tables / "own.csv").unlink()  # the scratch episode's reset now fails
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_tmp))
    with pytest.raises(TaskError, match="not found"):
        DataVerifier().score(trajectory, env=live)
    assert list(scratch_tmp.iterdir()) == []
