"""Built-in suites, one YAML file each (see :mod:`prmgym.suites`), and their task files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def task_file(name_or_path: str | Path) -> Path:
    """A task file's path; a bare name such as ``swe-lite`` means the packaged task set.

    A path that exists, or that names a folder, is returned as it is (a missing file is then
    reported by whoever reads it).
    """
    path = Path(name_or_path)
    if not path.exists() and path.name == str(name_or_path):
        packaged = resources.files(__name__) / f"{name_or_path}.tasks.jsonl"
        if packaged.is_file():
            return Path(str(packaged))
    return path
