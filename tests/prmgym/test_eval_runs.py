"""Runs that lose nothing, and commands that fail in one line: interrupts, resume, counts,
hostile terminal text, bad config files, unwritable folders."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from rich.console import Console
from typer.testing import CliRunner

from prmgym.agents.policies.base import Decision
from prmgym.cli import app
from prmgym.cli_output import printable, shown
from prmgym.trajectory import load_trajectories

runner = CliRunner()

HOSTILE = "\x1b[2J\x1b]0;owned\x07[bold red]boom[/] \r\x00\x9b\u202e"


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_midway_keeps_finished_episodes_and_writes_the_report(tmp_path, signum):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    args = ["eval", "--suite", "search-lite", "--agent", "oracle", "--episodes", "5000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "prmgym.cli", *args, "--batch-size", "2"]
        + ["--runs-dir", str(tmp_path), "--name", "t"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch), "COLUMNS": "200"},
    )
    log = tmp_path / "t" / "trajectories.jsonl"
    try:
        # Wait for finished episodes, not for a time: a slow machine only waits longer.
        deadline = time.monotonic() + 120
        while len(_lines(log)) < 3 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_lines(log)) >= 3, "no episode finished"
        process.send_signal(signum)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, output
    assert "interrupted:" in output and "Traceback" not in output
    kept = load_trajectories(log)
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    name = signal.Signals(signum).name
    assert metrics["interrupted"] == name
    assert metrics["finished_episodes"] == len(kept) == metrics["agents"]["oracle"]["episodes"]
    assert 3 <= len(kept) < metrics["planned_episodes"] == 5000
    report = (tmp_path / "t" / "report.html").read_text()
    assert f"Interrupted by {name}" in report and f"{len(kept)} of 5000" in report
    assert list(scratch.iterdir()) == []


def _eval(tmp_path, *extra):
    args = ["eval", "--suite", "search-lite", "--agent", "oracle", "--runs-dir", str(tmp_path)]
    return runner.invoke(app, [*args, *extra])


@pytest.mark.parametrize(
    "extra",
    [["--episodes", "0"], ["--episodes", "-1"], ["--batch-size", "0"], ["--temperature", "-1"]],
)
def test_nonsense_counts_are_usage_errors(tmp_path, extra):
    result = _eval(tmp_path, *extra)
    assert result.exit_code == 2, result.output
    assert extra[0] in result.output and "greater than or equal to" in result.output
    assert not list(tmp_path.iterdir())


def test_eval_prm_refuses_a_count_of_zero():
    result = runner.invoke(app, ["eval-prm", "--family", "search", "--count", "0"])
    assert result.exit_code == 2 and "--count" in result.output


def test_an_unwritable_runs_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _eval(tmp_path, "--episodes", "1", "--runs-dir", str(blocker))
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot write the run folder")
    assert str(blocker) in result.output and len(result.output.strip().splitlines()) == 1


def test_resume_names_what_is_missing(tmp_path):
    result = _eval(tmp_path, "--resume")
    assert result.exit_code == 2 and "--resume needs the --name" in result.output
    result = _eval(tmp_path, "--resume", "--name", "nothing")
    assert result.exit_code == 2 and "no run to resume" in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--env", "nope/X-v0"], "unknown env id"),
        (["--agent", "bogus"], "unknown backend"),
        (["--task-id", "nope"], "unknown task_id"),
        (["--split", "nah"], "unknown split"),
    ],
)
def test_run_reports_a_bad_option_in_one_line(args, says):
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and says in result.output
    assert len(result.output.strip().splitlines()) == 1


class _Hostile:
    """Answers with text that would drive a terminal and inject rich markup if printed raw."""

    name = "hostile"

    def act(self, episodes):
        return [Decision(action=f'answer("{HOSTILE}")') for _ in episodes]


def test_run_prints_agent_text_literally(monkeypatch):
    monkeypatch.setattr("prmgym.agents.policies.make_policy", lambda spec, **_: _Hostile())
    result = runner.invoke(app, ["run", "--agent", "oracle"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\r" not in result.output and "\x00" not in result.output
    assert "[bold red]boom[/]" in result.output
    assert "\\x1b[2J" in result.output and "\\u202e" in result.output


def test_shown_text_renders_as_written():
    out = Console(force_terminal=True, width=200, record=True)
    out.print(f"[bold]step[/bold] {shown(HOSTILE)}")
    text = out.export_text()
    assert "[bold red]boom[/]" in text and "\\x1b]0;owned\\x07" in text and "\\r\\x00\\x9b" in text
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("\x1b[31m") == "\\x1b[31m"


@pytest.mark.parametrize("command", ["train", "train-prm"])
def test_a_yaml_error_names_the_file_and_line(tmp_path, command):
    config = tmp_path / "broken.yaml"
    config.write_text("iterations: 2\nrollout: {group_size: 4\n")
    result = runner.invoke(app, [command, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert f"{config}, line 3" in result.output and "not valid YAML" in result.output


def test_an_empty_config_or_suite_is_an_error(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing set\n")
    result = runner.invoke(app, ["train", "--config", str(empty)])
    assert result.exit_code == 2 and f"{empty} is empty" in result.output
    result = _eval(tmp_path, "--suite", str(empty))
    assert result.exit_code == 2 and f"{empty} is empty" in result.output
