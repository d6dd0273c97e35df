"""The example plugin in examples/prmgym-sql, pip-installed and driven through the CLI alone.

It is installed into a throwaway venv, offline, never into the project's (tests/plugin_venv.py).
"""

import json
from pathlib import Path

import pytest

from tests.plugin_venv import copy_package, install_into_venv, run
from tests.plugin_venv import prmgym as _prmgym

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "prmgym-sql"
ENV_ID = "prmgym_sql/SQL-v0"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a venv with prmgym-sql installed, the copy of the package it came from)."""
    root = tmp_path_factory.mktemp("sql-plugin")
    source = copy_package(PACKAGE, root)
    return install_into_venv(source, root), source


def test_the_package_installs_with_its_data_and_passes_its_own_tests(installed):
    python, source = installed
    where = run([python, "-c", "import prmgym_sql; print(prmgym_sql.__file__)"], source.parent)
    assert "site-packages" in where and str(source) not in where
    # src/ is not on the tests' path: they import the installed package, rubric file included.
    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], source)


def test_commands_find_the_plugin_through_its_entry_point(installed, tmp_path):
    python, _ = installed
    assert ENV_ID in _prmgym(python, "envs", cwd=tmp_path)
    shown = _prmgym(
        python,
        "run",
        "--env",
        ENV_ID,
        "--agent",
        "oracle",
        "--task-id",
        "sql/003",
        "--prm",
        "verifier",
        cwd=tmp_path,
    )
    assert "reward 1.00" in shown
    assert ", 0 fail," in _prmgym(python, "check", ENV_ID, cwd=tmp_path)


def test_eval_with_prm_and_search(installed, tmp_path):
    python, _ = installed
    _prmgym(
        python,
        "eval",
        "--env",
        ENV_ID,
        "--agent",
        "oracle",
        "--agent",
        "random",
        "--agent",
        "noisy-oracle:0.5",
        "--prm",
        "verifier",
        "--search",
        "none",
        "--search",
        "prune:k=4,prm=verifier",
        "--search",
        "bon:n=4,prm=verifier",
        "--runs-dir",
        tmp_path,
        "--name",
        "sql",
        cwd=tmp_path,
    )
    agents = json.loads((tmp_path / "sql" / "metrics.json").read_text())["agents"]
    rate = {name: figures["success_rate"] for name, figures in agents.items()}
    assert rate["oracle"] == 1.0 and rate["random"] < 0.5
    assert rate["noisy-oracle:0.5 + prune:k=4"] > rate["noisy-oracle:0.5"]
    assert rate["noisy-oracle:0.5 + bon:n=4"] > rate["noisy-oracle:0.5"]
    assert all(figures["broken"] == 0 for figures in agents.values())
    assert "prmgym_sql" in (tmp_path / "sql" / "config.yaml").read_text()


def test_eval_prm_on_the_plugin_family(installed, tmp_path):
    python, _ = installed
    output = tmp_path / "first-error.json"
    _prmgym(
        python,
        "eval-prm",
        "--family",
        "sql",
        "--prm",
        "verifier",
        "--count",
        "12",
        "--output",
        output,
        cwd=tmp_path,
    )
    assert "sql" in output.read_text()
