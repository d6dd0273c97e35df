"""Workspaces from a local git repository, and test outcomes read in a real sandbox."""

import subprocess
import sys

import pytest

from prmgym.envs.swe.tasks import SWEInstance
from prmgym.envs.swe.testing import run_tests
from prmgym.envs.swe.workspace import gold_patch, source_tree, workspace_seed
from prmgym.errors import TaskError
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox

SOURCE = "def add(a, b):\n    return a - b\n"
TESTS = """import pytest
from pkg import add


def test_add():
    assert add(1, 2) == 3


def test_zero():
    assert add(0, 0) == 0


@pytest.mark.parametrize("x", [1, 2])
def test_param(x):
    assert add(x, 0) == x
"""


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "repo"
    (folder / "pkg").mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "pkg" / "__init__.py").write_text(SOURCE)
    (folder / "tests" / "test_pkg.py").write_text(TESTS)
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "buggy")
    return folder


def instance(repo, **changes):
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    record = {
        "instance_id": "demo-1",
        "repo": "demo/pkg",
        "base_commit": commit,
        "problem_statement": "add subtracts",
        "patch": "the fix",
        "FAIL_TO_PASS": ["tests/test_pkg.py::test_add"],
        "PASS_TO_PASS": ["tests/test_pkg.py::test_zero"],
        "source": {"kind": "git", "path": str(repo)},
    }
    return SWEInstance.model_validate({**record, **changes})


def test_a_git_source_is_the_base_commit_and_later_edits_do_not_leak_in(repo):
    task = instance(repo)
    (repo / "pkg" / "__init__.py").write_text("changed after the commit\n")
    tree = workspace_seed(task)
    assert (tree / "pkg" / "__init__.py").read_text() == SOURCE
    assert not (tree / ".git").exists()
    assert source_tree(task.source, task.base_commit) == tree  # built once, reused
    assert gold_patch(task) == "the fix"


def test_an_unknown_commit_says_which(repo):
    with pytest.raises(TaskError, match="cannot check out deadbeef"):
        workspace_seed(instance(repo, base_commit="deadbeef"))


@pytest.mark.slow
def test_outcomes_are_read_per_node_id_and_a_missing_test_does_not_hide_the_rest(repo):
    seed = workspace_seed(instance(repo))
    settings = {
        "read_only": [sys.base_prefix, sys.prefix],
        "path": [f"{sys.prefix}/bin"],
        "env": {"PYTHONPATH": "/workspace"},
    }
    with BubblewrapSandbox(seed, **settings) as sandbox:
        everything = run_tests(sandbox)
        assert everything.outcomes == {
            "tests/test_pkg.py::test_add": "failed",
            "tests/test_pkg.py::test_zero": "passed",
            "tests/test_pkg.py::test_param[1]": "passed",
            "tests/test_pkg.py::test_param[2]": "passed",
        }
        assert "assert -1 == 3" in everything.messages["tests/test_pkg.py::test_add"]
        sandbox.exec("sed -i 's/a - b/a + b/' pkg/__init__.py")
        chosen = run_tests(sandbox, ["tests/test_pkg.py::test_add", "tests/test_pkg.py::gone"])
        assert chosen.passed("tests/test_pkg.py::test_add")
        assert not chosen.passed("tests/test_pkg.py::gone")
        # The report file is gone again: grading leaves no trace in the workspace.
        assert "prmgym" not in sandbox.exec("ls -A").stdout
