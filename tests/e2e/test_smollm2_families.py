"""SmolLM2 acts in real episodes of the sandboxed families, every step scored by the verifier."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from prmgym.cli import app
from prmgym.suites import load_suite
from prmgym.trajectory import load_trajectories

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("suite_name", "verifier"),
    [("swe-lite", "swe-verifier"), ("data-lite", "data-verifier"), ("web-lite", "web-verifier")],
)
def test_smollm2_acts_and_the_verifier_scores_each_step(tmp_path, suite_name, verifier):
    # The suite's first task, cut to four steps so the test stays short.
    suite = load_suite(suite_name).model_dump()
    suite.update(name=f"{suite_name}-short", count=1)
    suite["env_kwargs"]["max_episode_steps"] = 4
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(suite))
    args = ["eval", "--suite", str(path), "--agent", "smollm2", "--runs-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--name", "run"])
    assert result.exit_code == 0, result.output
    (trajectory,) = load_trajectories(tmp_path / "run" / "trajectories.jsonl")
    assert trajectory.error is None and 1 <= len(trajectory.steps) <= 4
    for step in trajectory.steps:
        assert step.completion  # the model wrote every action
        (score,) = step.scores
        assert score.source == verifier and score.label in {"ok", "correctable", "fatal"}
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["agents"]["smollm2"]["episodes"] == 1
