"""Every snippet in docs/writing-an-environment.md runs as written.

The guide's ``# guessgym/...`` Python blocks are written out as a package, its ``pycon``
sessions run as one doctest, its other Python block and its ``prmgym`` command lines run
against that package; all in subprocesses, so the guide's family never registers here.
"""

import re
import sys
from pathlib import Path

import pytest

from tests.plugin_venv import run

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "writing-an-environment.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)

pytestmark = pytest.mark.slow


def _blocks(language):
    return [body for lang, body in _BLOCK.findall(GUIDE.read_text()) if lang == language]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    root = tmp_path_factory.mktemp("guide")
    (root / "guessgym").mkdir()
    (root / "guessgym" / "__init__.py").write_text("")
    for body in _blocks("python"):
        first = body.splitlines()[0]
        if first.startswith("# guessgym/"):
            (root / first.removeprefix("# ")).write_text(body)
    return root


def _python(package, *args):
    # A wide terminal, so table cells are not folded across lines.
    return run([sys.executable, *args], package, env={"PYTHONPATH": str(package), "COLUMNS": "200"})


def test_the_guide_package_has_every_file_it_names(package):
    names = {path.name for path in (package / "guessgym").iterdir()}
    assert names == {"__init__.py", "env.py", "family.py", "prompt.py", "oracle.py", "verifier.py"}


def test_the_guide_sessions_print_what_it_says(package):
    session = package / "session.txt"
    session.write_text("\n".join(_blocks("pycon")))
    _python(package, "-m", "doctest", session)


def test_the_guide_conformance_snippet_and_commands_run(package):
    (snippet,) = [body for body in _blocks("python") if not body.startswith("# guessgym/")]
    _python(package, "-c", snippet)
    commands = [
        line
        for body in _blocks("bash")
        for line in body.splitlines()
        if line.startswith("prmgym ") and "guessgym" in line
    ]
    assert len(commands) == 3
    outputs = [_python(package, "-m", *line.split()) for line in commands]
    assert "reward 1.00" in outputs[0] and "reward 1.00" in outputs[1]
    assert "5 pass, 0 fail, 1 skipped" in outputs[2]
    assert "perturbations" in outputs[2] and "declares no perturbations" in outputs[2]
