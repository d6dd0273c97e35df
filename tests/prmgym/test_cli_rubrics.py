import pytest
from typer.testing import CliRunner

from prmgym import cli_rubrics
from prmgym.cli import app
from prmgym.rewards.judges.base import JudgeStats
from prmgym.rewards.rubrics.rubric import load_rubric
from prmgym.task import Task
from prmgym.trajectory import Step, Trajectory, save_trajectories

runner = CliRunner()

REPLY = "HARD: The agent opens a document before answering.\nPRINCIPLE: The step is vague."


class OpenJudge:
    """Says a criterion holds on open() steps when it mentions opening; else a coin flip."""

    name = "open"

    def __init__(self):
        self.stats = JudgeStats()

    def judge(self, queries):
        return [
            [float("open(" in query.step) if "opens" in q.text else 0.5 for q in query.criteria]
            for query in queries
        ]


def episode(task_id, actions, success):
    task = Task(id=task_id, family="search", instruction=f"Answer {task_id}.")
    steps = [Step(index=i, action=a, observation="ok") for i, a in enumerate(actions)]
    return Trajectory(task=task, steps=steps, success=success)


@pytest.fixture
def fake_models(monkeypatch):
    specs = []

    def build_models(spec):
        specs.append(spec)
        return (lambda prompt: REPLY), OpenJudge()

    monkeypatch.setattr(cli_rubrics, "build_models", build_models)
    return specs


def test_generate_writes_a_rubric_from_a_run(tmp_path, fake_models):
    run = tmp_path / "run"
    save_trajectories(
        [
            episode("q1", ['search("a")', 'open("d1")', 'answer("x")'], True),
            episode("q1", ['search("a")', 'answer("y")'], False),
        ],
        run / "trajectories.jsonl",
    )
    out = tmp_path / "learned.yaml"
    result = runner.invoke(
        app, ["rubrics", "generate", str(run), "--output", str(out), "--judge", "openai:m@u"]
    )
    assert result.exit_code == 0, result.output
    assert fake_models == ["openai:m@u"]
    assert "1 of 2 proposed criteria kept from 1 pairs" in " ".join(result.output.split())
    rubric = load_rubric(out)
    assert rubric.name == "learned"
    assert [c.text for c in rubric.criteria] == ["The agent opens a document before answering."]


def test_generate_explains_a_run_without_pairs(tmp_path, fake_models):
    run = tmp_path / "run"
    save_trajectories([episode("q1", ['answer("x")'], True)], run / "trajectories.jsonl")
    result = runner.invoke(app, ["rubrics", "generate", str(run), "-o", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2
    assert "both a success and a failure" in " ".join(result.output.split())
    assert not (tmp_path / "r.yaml").exists()


def test_generate_names_a_missing_run(tmp_path, fake_models):
    result = runner.invoke(app, ["rubrics", "generate", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "prmgym eval" in result.output
    assert fake_models == []  # no model loaded for nothing


def test_help_explains_the_method():
    result = runner.invoke(app, ["rubrics", "generate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--min-agreement" in text and "2510.07743" in text
    assert "rubrics" in runner.invoke(app, ["--help"]).output


def test_generate_judges_given_proposals_without_proposing(tmp_path, monkeypatch):
    def build_models(spec):
        return (lambda prompt: pytest.fail("the proposer was asked")), OpenJudge()

    monkeypatch.setattr(cli_rubrics, "build_models", build_models)
    run = tmp_path / "run.jsonl"
    save_trajectories(
        [
            episode("q1", ['search("a")', 'open("d1")', 'answer("x")'], True),
            episode("q1", ['search("a")', 'answer("y")'], False),
        ],
        run,
    )
    proposals = tmp_path / "proposals.txt"
    proposals.write_text("PRINCIPLE: The step opens a relevant document.\nnoise\n")
    out = tmp_path / "r.yaml"
    args = ["rubrics", "generate", str(run), "-o", str(out), "--proposals", str(proposals)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [c.text for c in load_rubric(out).criteria] == ["The step opens a relevant document."]
    proposals.write_text("nothing in the format\n")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "PRINCIPLE:" in result.output
