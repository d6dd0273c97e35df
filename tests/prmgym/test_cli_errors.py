"""Bad user input to any command is one line naming the file or folder, exit 2, no traceback."""

import pytest
from typer.testing import CliRunner

from prmgym.cli import app
from prmgym.task import Task
from prmgym.trajectory import Step, Trajectory, save_trajectories

runner = CliRunner()


def _one_line_error(result, *names):
    """The command failed as a usage error, on one line that names every one of ``names``."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: "), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for name in names:
        assert str(name) in result.output


@pytest.fixture
def blocker(tmp_path):
    """A file where a command would make a folder."""
    path = tmp_path / "file"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize("command", ["train", "train-prm"])
def test_an_unwritable_training_output_folder_is_a_one_line_error(blocker, command):
    result = runner.invoke(app, [command, f"output_dir={blocker / 'out'}"])
    _one_line_error(result, "cannot write the output folder", blocker / "out", "a file is in")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["train-prm", "--evaluate", "-1"], "--evaluate"),
        (["run", "--seed", "-1"], "--seed"),
        (["eval", "--suite", "search-lite", "--seed", "-1"], "--seed"),
        (["eval-prm", "--threshold", "1.5"], "--threshold"),
        (["swe", "synth", "--catalog", "--seed", "-2"], "--seed"),
    ],
)
def test_nonsense_numbers_are_usage_errors(args, option):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: r\ncriteria: [\n", "line 3, column 1: not valid YAML"),
        ("scorers:\n  - {name: verifier\n", "line 3, column 1: not valid YAML"),
        ("# nothing yet\n", "is empty"),
        ("5\n", "expected a rubric"),
    ],
)
@pytest.mark.parametrize("command", ["run", "eval", "eval-prm"])
def test_a_bad_rubric_or_mix_file_names_itself(tmp_path, command, text, says):
    scorer = tmp_path / "prm.yaml"
    scorer.write_text(text)
    args = {
        "run": ["run"],
        "eval": [
            "eval",
            "--suite",
            "search-lite",
            "--agent",
            "oracle",
            "--runs-dir",
            str(tmp_path),
        ],
        "eval-prm": ["eval-prm", "--family", "search", "--count", "2"],
    }[command]
    _one_line_error(runner.invoke(app, [*args, "--prm", str(scorer)]), scorer, says)


def test_a_missing_search_corpus_is_a_one_line_error(tmp_path):
    corpus = tmp_path / "missing.jsonl"
    _one_line_error(runner.invoke(app, ["serve-search", "--corpus", str(corpus)]), corpus)


def test_eval_prm_checks_its_files_before_measuring(tmp_path, blocker):
    # Each fails before a first-error set is built: nothing is measured only to be lost.
    base = ["eval-prm", "--family", "search", "--count", "2"]
    result = runner.invoke(app, [*base, "--output", str(blocker / "figures.json")])
    _one_line_error(result, "cannot write the output folder", blocker)
    missing = tmp_path / "missing.jsonl"
    _one_line_error(runner.invoke(app, [*base, "--best-of-n", str(missing)]), missing)
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n")
    _one_line_error(runner.invoke(app, [*base, "--best-of-n", str(junk)]), junk)
    _one_line_error(runner.invoke(app, [*base, "--split", "nah"]), "unknown split 'nah'")


def test_swe_synth_checks_its_output_folder_first(blocker):
    output = blocker / "tasks.jsonl"
    result = runner.invoke(app, ["swe", "synth", "--catalog", "--output", str(output)])
    _one_line_error(result, "cannot write the output folder", blocker)


def test_rubrics_generate_checks_its_output_folder_first(tmp_path, blocker, monkeypatch):
    def no_model(spec):
        raise AssertionError("the model loaded before the output folder was checked")

    monkeypatch.setattr("prmgym.cli_rubrics.build_models", no_model)
    run = tmp_path / "trajectories.jsonl"
    task = Task(id="t", family="search", instruction="Answer t.")
    steps = [Step(index=0, action='answer("x")', observation="ok")]
    save_trajectories([Trajectory(task=task, steps=steps, success=True)], run)
    result = runner.invoke(app, ["rubrics", "generate", str(run), "-o", str(blocker / "r.yaml")])
    _one_line_error(result, "cannot write the output folder", blocker)


def test_a_broken_config_of_a_run_to_resume_names_its_line(tmp_path):
    run_dir = tmp_path / "stopped"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("suite: {name: search-lite\n")
    args = ["eval", "--suite", "search-lite", "--agent", "oracle", "--runs-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--resume", "--name", "stopped"])
    _one_line_error(result, run_dir / "config.yaml", "line 2")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["eval"], "give --suite NAME or --env ENV_ID"),
        (["eval", "--suite", "search-lite", "--env", "prmgym/SearchQA-v0"], "one of them"),
        (["eval", "--suite", "search-lite", "--split", "train"], "--split goes with --env"),
        (["eval", "--env", "nowhere_pkg:x/Y-v0"], "no module named 'nowhere_pkg'"),
        (["--import", "nowhere_pkg", "suites"], "--import nowhere_pkg"),
    ],
)
def test_what_eval_runs_and_what_is_imported_are_checked_first(args, says):
    _one_line_error(runner.invoke(app, args), says)
