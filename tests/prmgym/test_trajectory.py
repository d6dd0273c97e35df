import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prmgym.task import Task
from prmgym.trajectory import (
    Accounting,
    Step,
    StepScore,
    Trajectory,
    load_trajectories,
    save_trajectories,
)

text = st.text(max_size=40)
scores = st.builds(
    StepScore,
    value=st.floats(0, 1, allow_nan=False),
    label=st.sampled_from(["ok", "correctable", "fatal", "unknown"]),
    rationale=text,
    source=text,
)
steps = st.builds(
    Step,
    index=st.integers(0, 50),
    action=text,
    observation=text,
    completion=text,
    tool=st.none() | text,
    args=st.dictionaries(st.text(max_size=5), st.integers() | text, max_size=3),
    action_error=st.none() | text,
    reward=st.floats(-10, 10, allow_nan=False),
    scores=st.lists(scores, max_size=3),
)
trajectories = st.builds(
    Trajectory,
    task=st.builds(
        Task,
        id=st.text(min_size=1, max_size=10),
        family=st.just("search"),
        instruction=st.text(min_size=1, max_size=30),
        privileged=st.dictionaries(st.text(max_size=5), st.lists(text, max_size=2)),
    ),
    agent=text,
    steps=st.lists(steps, max_size=4),
    outcome_reward=st.floats(-1e6, 1e6, allow_nan=False),
    success=st.booleans(),
    error=st.none() | text,
    metrics=st.dictionaries(st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False)),
    accounting=st.builds(
        Accounting,
        prompt_tokens=st.integers(0, 10**6),
        wall_time_s=st.floats(0, 1e5, allow_nan=False),
    ),
    seed=st.none() | st.integers(0, 2**31),
)


@pytest.mark.slow
@settings(max_examples=50, deadline=None)
@given(st.lists(trajectories, max_size=3))
def test_jsonl_round_trip_is_lossless(tmp_path_factory, batch):
    path = tmp_path_factory.mktemp("t") / "trajectories.jsonl"
    save_trajectories(batch, path)
    assert load_trajectories(path) == batch


def test_step_score_rejects_out_of_range_values():
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        StepScore(value=1.5)
    with pytest.raises(pydantic.ValidationError):
        StepScore(value=0.5, label="great")


def test_record_appends_the_step_and_updates_totals():
    trajectory = Trajectory(task=Task(id="t", family="search", instruction="q?"))
    info = {"tool": "search", "action_error": None}
    trajectory.record('search("a")', "results", 0.0, False, False, info)
    step = trajectory.record('answer("b")', "done", 1.0, True, False, {"tool": "answer"})
    assert [s.index for s in trajectory.steps] == [0, 1] and step is trajectory.steps[1]
    assert step.tool == "answer" and step.reward == 1.0 and step.action_error is None
    assert trajectory.outcome_reward == 1.0 and trajectory.terminated and not trajectory.truncated
    assert trajectory.accounting.env_steps == 2
