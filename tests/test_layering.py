"""Imports point one way: core <- sandboxes <- envs <- rewards <- agents <- training."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["prmgym", "sandboxes", "envs", "rewards", "agents", "training"]
# Importing prmgym registers the built-in envs by lazy entry-point strings (DESIGN section 3).
ALLOWED = {("prmgym/__init__.py", "prmgym.envs.registration")}
# The CLI sits on top of every part and imports them lazily (DESIGN section 1).
TOP = {
    "prmgym/cli.py",
    "prmgym/cli_training.py",
    "prmgym/cli_swe.py",
    "prmgym/cli_rubrics.py",
    "prmgym/cli_check.py",
}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "prmgym":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in ORDER else "prmgym"


def test_parts_only_import_downward():
    bad = []
    for folder in ORDER:
        rank = ORDER.index(folder)
        for path in (ROOT / folder).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            if rel in TOP:
                continue
            for module in _imports(path):
                part = _part(module)
                if part is not None and ORDER.index(part) > rank and (rel, module) not in ALLOWED:
                    bad.append(f"{rel} imports {module}")
    assert not bad, "imports pointing up the layers:\n" + "\n".join(bad)


def test_layering_check_catches_a_violation(tmp_path):
    offender = tmp_path / "x.py"
    offender.write_text("from prmgym.training import loop\n")
    assert _part(next(_imports(offender))) == "training"
