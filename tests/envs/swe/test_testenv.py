"""Test environments: built once under a lock, reused, and usable read-only in a sandbox."""

import sys
import threading
from pathlib import Path

import pytest

from prmgym.envs.swe import testenv
from prmgym.envs.swe.testenv import TestEnvSpec, prepare
from prmgym.envs.swe.testing import run_tests
from prmgym.errors import TaskError
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fake_pip(monkeypatch):
    """Record the build commands instead of running them; a venv is just its bin folder."""
    commands = []

    def run(command, what):
        commands.append(command)
        if command[1:3] == ["-m", "venv"]:
            (Path(command[3]) / "bin").mkdir(parents=True)

    monkeypatch.setattr(testenv, "_run", run)
    return commands


def test_the_key_follows_the_requirements_not_the_layout():
    spec = TestEnvSpec(requirements=("pytest", "hypothesis"))
    assert spec.key() == TestEnvSpec(requirements=("hypothesis", "pytest")).key()
    assert spec.key() == TestEnvSpec(("pytest", "hypothesis"), pythonpath=("src",)).key()
    assert spec.key() != TestEnvSpec(requirements=("pytest",)).key()


def test_an_environment_is_built_once_and_says_what_a_sandbox_needs(cache, fake_pip):
    spec = TestEnvSpec(requirements=("pytest==8.4.2",), pythonpath=("src", "."))
    heard = []
    env = prepare(spec, log=heard.append)
    assert env.root == cache / "swe" / "envs" / spec.key()
    assert fake_pip[1][-2:] == ["--quiet", "pytest==8.4.2"]  # the package under test is not
    assert len(heard) == 1 and "building" in heard[0]
    assert prepare(spec) == env and len(fake_pip) == 2  # reused, not rebuilt
    assert env.read_only == (str(env.root), str(Path(sys.base_prefix).resolve()))
    assert env.path == (str(env.root / "bin"),)
    assert env.env["PYTHONPATH"] == "/workspace/src:/workspace"
    assert env.env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "no:cacheprovider" in env.env["PYTEST_ADDOPTS"]
    kwargs = env.sandbox_kwargs()
    assert kwargs["read_only"] == list(env.read_only) and kwargs["env"] == env.env


def test_a_half_built_environment_is_built_again(cache, fake_pip):
    spec = TestEnvSpec()
    leftover = cache / "swe" / "envs" / spec.key()
    (leftover / "lib").mkdir(parents=True)  # a build killed before its ready marker
    prepare(spec)
    assert not (leftover / "lib").exists() and (leftover / "bin").is_dir()


def test_concurrent_builders_build_once(cache, monkeypatch):
    built = []
    gate = threading.Event()

    def build(spec, root):
        gate.wait(5)  # both threads are in prepare before the first build ends
        built.append(root)
        root.mkdir(parents=True)
        (root / testenv._READY).write_text("{}")

    monkeypatch.setattr(testenv, "_build", build)
    results = []
    threads = [threading.Thread(target=lambda: results.append(prepare(TestEnvSpec())))]
    threads.append(threading.Thread(target=lambda: results.append(prepare(TestEnvSpec()))))
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert len(built) == 1 and len(results) == 2 and results[0] == results[1]


def test_a_failed_step_says_what_failed_and_leaves_nothing_ready(cache, monkeypatch):
    with pytest.raises(TaskError, match="cannot install things .*boom"):
        testenv._run([sys.executable, "-c", "import sys; sys.exit('boom')"], "install things")

    def run(command, what):
        if "install" in command:
            raise TaskError(f"cannot {what}")
        (Path(command[3]) / "bin").mkdir(parents=True)

    monkeypatch.setattr(testenv, "_run", run)
    spec = TestEnvSpec(requirements=("no-such-package",))
    with pytest.raises(TaskError, match="cannot install no-such-package"):
        prepare(spec)
    assert not (cache / "swe" / "envs" / spec.key() / ".prmgym-ready").exists()


@pytest.mark.integration
def test_a_real_environment_runs_a_src_layout_suite_in_a_sandbox(cache, tmp_path):
    env = prepare(TestEnvSpec(requirements=("pytest",), pythonpath=("src",)))
    assert (env.root / "bin" / "pytest").is_file()
    seed = tmp_path / "repo"
    (seed / "src" / "pkg").mkdir(parents=True)
    (seed / "tests").mkdir()
    (seed / "src" / "pkg" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (seed / "tests" / "test_pkg.py").write_text(
        "from pkg import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
    )
    with BubblewrapSandbox(seed, **env.sandbox_kwargs()) as sandbox:
        assert sandbox.exec("command -v python").stdout.strip() == f"{env.root}/bin/python"
        # The venv's own scripts work: their interpreter path is where the venv was built.
        assert sandbox.exec("pytest --version").exit_code == 0
        report = run_tests(sandbox)
        assert report.outcomes == {"tests/test_pkg.py::test_double": "passed"}
        assert "__pycache__" not in sandbox.exec("find /workspace").stdout
