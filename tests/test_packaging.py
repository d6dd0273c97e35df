"""A regular (non-editable) install holds every part of the namespace and the suite files."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


@pytest.mark.slow
def test_wheel_installs_every_part_and_registers_envs(tmp_path):
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("prmgym-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    # Every package folder of every part, so a new subpackage left out of pyproject fails here.
    for part in ("prmgym", "envs", "agents", "rewards", "training", "sandboxes"):
        for init in (root / part).rglob("__init__.py"):
            inside = init.relative_to(root / part).as_posix()
            prefix = "prmgym/" if part == "prmgym" else f"prmgym/{part}/"
            assert prefix + inside in names, f"{part}/{inside} is missing from the wheel"
    assert "prmgym/envs/suites/search-lite.yaml" in names
    assert "prmgym/envs/suites/swe-lite.tasks.jsonl" in names
    assert "prmgym/templates/new_env/src/PACKAGE/env.py.tmpl" in names  # prmgym new-env
    site = str(tmp_path / "site")
    code = (
        "import prmgym, gymnasium; from prmgym.suites import load_suite;"
        f"assert prmgym.__file__.startswith({site!r});"
        "assert load_suite('search-lite').env in prmgym.registered_envs();"
        "import prmgym.agents.runner, prmgym.rewards.verifiers.search, prmgym.cli"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": site, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
