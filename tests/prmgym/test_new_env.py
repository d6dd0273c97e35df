"""``prmgym new-env NAME`` writes a plugin package that installs, passes its tests and ``check``."""

import ast
import sys

import pytest
from typer.testing import CliRunner

from prmgym.cli import app
from prmgym.scaffold import planned_files
from tests.plugin_venv import install_into_venv, prmgym, run

runner = CliRunner()

EXPECTED = {
    "README.md",
    "pyproject.toml",
    "src/shop_calc/__init__.py",
    "src/shop_calc/arithmetic.py",
    "src/shop_calc/env.py",
    "src/shop_calc/family.py",
    "src/shop_calc/oracle.py",
    "src/shop_calc/perturbations.py",
    "src/shop_calc/prompt.py",
    "src/shop_calc/random_actions.py",
    "src/shop_calc/rubric.yaml",
    "src/shop_calc/tasks.jsonl",
    "src/shop_calc/tasks.py",
    "src/shop_calc/verifier.py",
    "tests/test_env.py",
    "tests/test_family.py",
}


def _files(root):
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def test_new_env_writes_the_package_with_every_piece(tmp_path):
    output = tmp_path / "pkg"
    result = runner.invoke(app, ["new-env", "shop_calc", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "shop_calc/ShopCalc-v0" in result.output
    assert _files(output) == EXPECTED
    for relative in EXPECTED:
        text = (output / relative).read_text()
        assert "{{" not in text and "PACKAGE" not in text, relative
        if relative.endswith(".py"):
            ast.parse(text, relative)
    family = (output / "src/shop_calc/family.py").read_text()
    assert 'id="shop_calc/ShopCalc-v0"' in family and "shop_calc.env:ShopCalcEnv" in family
    pyproject = (output / "pyproject.toml").read_text()
    assert '[project.entry-points."prmgym.plugins"]\nshop_calc = "shop_calc"' in pyproject


def test_the_scaffolded_code_is_ruff_clean(tmp_path):
    pytest.importorskip("ruff")
    output = tmp_path / "pkg"
    assert runner.invoke(app, ["new-env", "shop_calc", "--output", str(output)]).exit_code == 0
    # The package's own pyproject.toml configures ruff, as it will for its author.
    run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], output)
    run([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], output)


def test_new_env_defaults_to_a_folder_named_after_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["new-env", "inventory"]).exit_code == 0
    assert (tmp_path / "inventory" / "src" / "inventory" / "env.py").is_file()


def test_new_env_refuses_a_folder_with_files_unless_forced(tmp_path):
    output = tmp_path / "pkg"
    output.mkdir()
    (output / "NOTES.md").write_text("mine")
    (output / "README.md").write_text("old")
    refused = runner.invoke(app, ["new-env", "shop_calc", "--output", str(output)])
    assert refused.exit_code == 2 and "--force" in refused.output
    assert _files(output) == {"NOTES.md", "README.md"}
    forced = runner.invoke(app, ["new-env", "shop_calc", "--output", str(output), "--force"])
    assert forced.exit_code == 0, forced.output
    assert _files(output) == EXPECTED | {"NOTES.md"}
    assert (output / "NOTES.md").read_text() == "mine"
    assert (output / "README.md").read_text() != "old"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("my-gym", "e.g. 'my_gym'"),
        ("MyGym", "lowercase Python identifier"),
        ("1gym", "lowercase Python identifier"),
        ("class", "would shadow"),
        ("json", "would shadow"),
        ("prmgym", "would shadow"),
        ("search", "registered family"),
        ("typer", "already imports a module"),
    ],
)
def test_new_env_refuses_a_bad_name_in_one_line(tmp_path, name, says):
    result = runner.invoke(app, ["new-env", name, "--output", str(tmp_path / "pkg")])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and says in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "pkg").exists()


def test_every_template_placeholder_is_filled():
    # A placeholder with no value raises in render(); this covers every template.
    assert set(planned_files("x")) == {path.replace("shop_calc", "x") for path in EXPECTED}


@pytest.mark.slow
@pytest.mark.integration
def test_a_scaffolded_package_installs_and_passes_its_tests_and_check(tmp_path):
    source = tmp_path / "shop_calc"
    run([sys.executable, "-m", "prmgym", "new-env", "shop_calc", "--output", source], tmp_path)
    python = install_into_venv(source, tmp_path)
    # The tests run against the installed package (src/ is not on their path).
    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], source)
    env_id = "shop_calc/ShopCalc-v0"
    checked = prmgym(python, "check", env_id, cwd=tmp_path)
    assert "0 fail, 0 skipped" in checked, checked
    shown = prmgym(
        python, "run", "--env", env_id, "--agent", "oracle", "--prm", "verifier", cwd=tmp_path
    )
    assert "reward 1.00" in shown
