"""Synthesis on a tiny local package: which tests a planted bug breaks, and what is recorded."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prmgym.envs.swe.catalog import CATALOG, Package, entry_for, find, guess, package
from prmgym.envs.swe.mutations import KINDS, apply_mutation
from prmgym.envs.swe.synth import draw, problem_statement, synthesize, write_tasks
from prmgym.envs.swe.tasks import LocalSource, SWEInstance
from prmgym.envs.swe.testenv import TestEnv, TestEnvSpec
from prmgym.envs.swe.testing import TestReport
from prmgym.envs.swe.workspace import gold_patch, source_tree, workspace_seed
from prmgym.errors import ConfigError, TaskError

CODE = '''"""Small helpers."""


def add(a, b):
    return a + b


def is_adult(age):
    return age >= 18


def first_word(text):
    words = text.split()
    if not words:
        return ""
    return words[0]


def unused(x):
    return x * 2
'''
TESTS = """import os

from calc import add, first_word, is_adult


def test_add():
    assert add(2, 3) == 5


def test_is_adult():
    assert is_adult(18)
    assert not is_adult(17)


def test_first_word():
    assert first_word("hello world") == "hello"
    assert first_word("") == ""


def test_independent():
    assert sorted([3, 1, 2]) == [1, 2, 3]


def test_flaky():
    # Passes, then fails, in one sandbox: never a stable test.
    marker = "/tmp/calc-flaky"
    if os.path.exists(marker):
        os.remove(marker)
        raise AssertionError("second run")
    open(marker, "w").close()
"""
CALC = Package(
    key="calc",
    requirement="calc==0.1",
    licence="MIT",
    environment=TestEnvSpec(),
    source=("calc",),
    tests=("tests",),
)
TEST_OF = {"add": "test_add", "is_adult": "test_is_adult", "first_word": "test_first_word"}


def git(repo, *args):
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return done.stdout.decode().strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "calc-repo"
    (folder / "calc").mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "calc" / "__init__.py").write_text(CODE)
    (folder / "tests" / "test_calc.py").write_text(TESTS)
    (folder / "tests" / "conftest.py").write_text("")
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "calc")
    return folder


def this_interpreter():
    """The running interpreter's environment (it has pytest), so no venv is built."""
    return TestEnv(
        root=Path(sys.prefix),
        read_only=(sys.prefix, sys.base_prefix),
        path=(f"{sys.prefix}/bin",),
        env={"PYTHONPATH": "/workspace", "PYTHONDONTWRITEBYTECODE": "1"},
    )


def code_lines(*texts):
    """Lines of code long enough that finding one in a task file means code leaked."""
    return [line.strip() for text in texts for line in text.splitlines() if len(line.strip()) > 8]


@pytest.mark.slow
def test_synthesized_tasks_fail_the_tests_of_the_mutated_function_only(repo, tmp_path):
    commit = git(repo, "rev-parse", "HEAD")
    source = LocalSource(kind="git", path=str(repo))
    result = synthesize(CALC, 3, seed=0, source=source, base_commit=commit, env=this_interpreter())
    stable = {f"tests/test_calc.py::{name}" for name in [*TEST_OF.values(), "test_independent"]}
    assert set(result.baseline) == stable  # the flaky test is not in it
    assert len(result.instances) == 3
    scopes = set()
    for instance in result.instances:
        recipe = instance.mutation
        assert recipe is not None and recipe.file == "calc/__init__.py" and recipe.seed == 0
        scope = recipe.description.rsplit("`", 2)[1]
        scopes.add(scope)
        broken = f"tests/test_calc.py::{TEST_OF[scope]}"
        assert instance.FAIL_TO_PASS == [broken]
        assert set(instance.PASS_TO_PASS) == stable - {broken}
        assert instance.source == source and instance.base_commit == commit
        assert instance.environment == "calc" and instance.patch == ""
        assert instance.instance_id.startswith("calc-0.1-")
        statement = instance.problem_statement
        assert broken in statement and "calc 0.1" in statement
        assert "Do not edit the tests" in statement
        # The episode's workspace is rebuilt from the recipe and the fix undoes it.
        tree = workspace_seed(instance)
        assert (tree / recipe.file).read_text() == apply_mutation(CODE, recipe) != CODE
        assert gold_patch(instance).startswith("--- a/calc/__init__.py")
    assert len(scopes) == 3  # at most one bug per function
    output = tmp_path / "calc.tasks.jsonl"
    write_tasks(output, result.instances)
    text = output.read_text()
    for line in code_lines(CODE, TESTS):
        assert line not in text, line
    loaded = [SWEInstance.model_validate(json.loads(line)) for line in text.splitlines()]
    assert loaded == result.instances


def test_the_draw_is_fixed_by_the_seed_and_takes_turns_among_operators(repo):
    tree = source_tree(LocalSource(kind="git", path=str(repo)), git(repo, "rev-parse", "HEAD"))
    order = draw(CALC, tree, seed=3)
    assert order == draw(CALC, tree, seed=3)
    assert [m.recipe(0) for m in order] != [m.recipe(0) for m in draw(CALC, tree, seed=4)]
    present = {m.kind for m in order}
    assert {m.kind for m in order[: len(present)]} == present
    assert present <= set(KINDS)


def test_a_problem_statement_names_tests_and_reasons_and_nothing_else():
    failing = [f"tests/test_x.py::test_{n}" for n in range(10)]
    report = TestReport(
        outcomes={failing[0]: "failed", failing[1]: "error", failing[2]: "failed"},
        messages={
            failing[0]: "AssertionError: assert <Foo object at 0x7f3a2b1c9d40> == 3\nmore",
            failing[1]: "TypeError: " + "x" * 400,
        },
    )
    statement = problem_statement(CALC, failing, report)
    lines = statement.splitlines()
    assert lines[2] == f"- {failing[0]}: AssertionError: assert <Foo object at 0x...> == 3"
    assert lines[3].startswith(f"- {failing[1]}: error while setting up or tearing down: Type")
    assert lines[3].endswith("...") and len(lines[3]) < 250
    assert lines[4] == f"- {failing[2]}: failed"
    assert lines[5] == f"- {failing[3]}: it no longer runs (it was not collected)"
    assert "- ... and 2 more" in lines
    assert "more" not in lines[2]  # only the first line of a reason


def test_catalog_entries_are_permissive_and_say_how_to_run_their_suites(tmp_path):
    assert len(CATALOG) >= 4 and sum(entry.tasks for entry in CATALOG.values()) >= 40
    for entry in CATALOG.values():
        assert entry.licence.split()[0] in {"MIT", "BSD-3-Clause", "Apache-2.0"}
        assert entry.requirement.count("==") == 1
        assert entry.environment.requirements == ("pytest==8.4.2",)
    assert package("toolz").test_command == "python -m pytest -o testpaths=toolz/tests"
    assert find("TOOLZ==1.0.0") is package("toolz") and find("toolz==0.1") is None
    with pytest.raises(ConfigError, match="known: boltons"):
        package("nope")
    (tmp_path / "toolz" / "tests").mkdir(parents=True)
    for name in ("__init__.py", "_version.py", "itertoolz.py", "tests/test_itertoolz.py"):
        (tmp_path / "toolz" / name).write_text("")
    (tmp_path / "toolz" / "conftest.py").write_text("")
    assert package("toolz").source_files(tmp_path) == ["toolz/__init__.py", "toolz/itertoolz.py"]


def test_a_release_outside_the_catalog_gets_a_guessed_layout(tmp_path):
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "src" / "single.py").write_text("")
    (tmp_path / "src" / "setup.py").write_text("")
    (tmp_path / "tests").mkdir()
    entry = guess("Pkg==2.0", tmp_path, tasks=5)
    assert entry.key == "pkg" and entry.name == "Pkg" and entry.version == "2.0"
    assert entry.source == ("src/pkg", "src/single.py") and entry.tasks == 5
    assert entry.environment.pythonpath == ("src",) and entry.test_command == "python -m pytest"


def test_a_task_runs_its_tests_the_way_its_release_was_synthesized(tmp_path, monkeypatch):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path))
    assert entry_for(INSTANCE) is package("toolz")
    git = LocalSource(kind="git", path=str(tmp_path))
    assert entry_for(INSTANCE.model_copy(update={"source": git})) is package("toolz")
    with pytest.raises(TaskError, match="'calc' is not in the SWE catalog"):
        entry_for(INSTANCE.model_copy(update={"source": git, "environment": "calc"}))
    # A release outside the catalog gets the layout synthesis guessed from its sdist.
    (tmp_path / "swe" / "sdists" / "pkg-2.0" / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "swe" / "sdists" / "pkg-2.0" / "src" / "pkg" / "__init__.py").write_text("")
    outside = LocalSource(kind="sdist", requirement="pkg==2.0")
    guessed = entry_for(INSTANCE.model_copy(update={"source": outside, "environment": "pkg"}))
    assert guessed.source == ("src/pkg",) and guessed.environment.pythonpath == ("src",)


def test_the_synth_command_explains_itself_and_writes_what_synthesis_made(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from prmgym import cli_swe
    from prmgym.envs.swe import synth

    runner = CliRunner()
    shown = runner.invoke(cli_swe.app, ["synth", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "NAME==VERSION" in shown.output and "--seed" in shown.output
    assert runner.invoke(cli_swe.app, ["synth"]).exit_code == 2
    assert "NAME==VERSION" in runner.invoke(cli_swe.app, ["synth", "--package", "toolz"]).output

    asked = []

    def fake(entry, count, seed, **_):
        asked.append((entry.key, count, seed))
        return synth.Synthesis(package=entry.key, instances=[INSTANCE])

    monkeypatch.setattr(synth, "synthesize", fake)
    output = tmp_path / "out.jsonl"
    args = ["synth", "--catalog", "--seed", "5", "--output", str(output)]
    done = runner.invoke(cli_swe.app, args)
    assert done.exit_code == 0, done.output
    assert asked == [(key, entry.tasks, 5) for key, entry in CATALOG.items()]
    assert len(output.read_text().splitlines()) == len(CATALOG)


INSTANCE = SWEInstance(
    instance_id="toolz-1.0.0-0",
    repo="pypi/toolz",
    base_commit="toolz==1.0.0",
    problem_statement="tests fail",
    FAIL_TO_PASS=["toolz/tests/test_x.py::test_y"],
    source=LocalSource(kind="sdist", requirement="toolz==1.0.0"),
    environment="toolz",
)
