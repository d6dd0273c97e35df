"""Reading unified diffs (SWE-bench's ``patch`` and ``test_patch``) into files and hunks.

Only what the SWE family needs: which files a diff touches (grading resets them before adding
the hidden tests, as SWE-bench's harness does) and each hunk's exact old and new lines (the
oracle turns them into editor actions). Applying a diff to a workspace is left to ``git apply``
inside the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prmgym.errors import TaskError

NULL_PATH = "/dev/null"
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` block: lines as they were and as they become, each keeping its line end."""

    old_start: int
    """The diff's old start line: the first old line (1-based), or with no old lines, the
    line the new ones follow (0: the top of the file)."""
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]


@dataclass(frozen=True)
class FilePatch:
    """The changes to one file.

    ``old_path`` or ``new_path`` is :data:`NULL_PATH` for a file the diff creates or deletes.
    """

    old_path: str
    new_path: str
    hunks: tuple[Hunk, ...] = field(default_factory=tuple)

    @property
    def path(self) -> str:
        """The file's path in the repository (its new path, or the old one when deleted)."""
        return self.old_path if self.new_path == NULL_PATH else self.new_path


def parse_unified_diff(text: str) -> list[FilePatch]:
    """The file patches of a unified diff (``git diff`` or ``diff -u`` output).

    Paths lose their first component (``a/``, ``b/``), as ``git apply`` does by default.

    Raises:
        TaskError: A hunk is cut short or malformed, or the diff holds a binary patch.
    """
    lines = text.splitlines(keepends=True)
    patches: list[FilePatch] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("GIT binary patch") or line.startswith("Binary files "):
            raise TaskError("the diff holds a binary patch, which text edits cannot express")
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old_path, new_path = _path(line), _path(lines[i + 1])
            i += 2
            hunks = []
            while i < len(lines) and lines[i].startswith("@@"):
                hunk, i = _read_hunk(lines, i)
                hunks.append(hunk)
            patches.append(FilePatch(old_path, new_path, tuple(hunks)))
            continue
        i += 1
    return patches


def touched_paths(text: str) -> list[str]:
    """Every path a diff reads or writes (old and new names), in order, without repeats."""
    paths: list[str] = []
    for patch in parse_unified_diff(text):
        for path in (patch.old_path, patch.new_path):
            if path != NULL_PATH and path not in paths:
                paths.append(path)
    return paths


def _path(header: str) -> str:
    # "--- a/src/x.py\t2024-01-01 ..." -> "src/x.py"; the date after a tab is optional.
    name = header[4:].rstrip("\r\n").split("\t", 1)[0].strip()
    if name == NULL_PATH:
        return name
    if name.startswith('"') and name.endswith('"'):
        raise TaskError(f"quoted path {name} in a diff is not supported; rename the file")
    return name.split("/", 1)[1] if "/" in name else name


def _read_hunk(lines: list[str], i: int) -> tuple[Hunk, int]:
    match = _HUNK_RE.match(lines[i])
    if match is None:
        raise TaskError(f"malformed hunk header in a diff: {lines[i].strip()!r}")
    old_start = int(match.group(1))
    old_left = int(match.group(2) or "1")
    new_left = int(match.group(4) or "1")
    old: list[str] = []
    new: list[str] = []
    i += 1
    last: list[list[str]] = []
    while old_left > 0 or new_left > 0 or (i < len(lines) and lines[i].startswith("\\")):
        if i >= len(lines):
            raise TaskError(f"a hunk at old line {old_start} ends before its stated length")
        line = lines[i]
        i += 1
        tag, body = line[:1], line[1:]
        if line in ("\n", "\r\n"):
            # Some tools strip the single space that marks an empty context line.
            tag, body = " ", line
        if tag == " ":
            old.append(body)
            new.append(body)
            old_left, new_left = old_left - 1, new_left - 1
            last = [old, new]
        elif tag == "-":
            old.append(body)
            old_left -= 1
            last = [old]
        elif tag == "+":
            new.append(body)
            new_left -= 1
            last = [new]
        elif tag == "\\":
            # "\ No newline at end of file" belongs to the line just before it.
            for side in last:
                side[-1] = side[-1].rstrip("\r\n")
        else:
            raise TaskError(f"unexpected line in a hunk at old line {old_start}: {line!r}")
        if old_left < 0 or new_left < 0:
            raise TaskError(f"a hunk at old line {old_start} is longer than its header says")
    return Hunk(old_start, tuple(old), tuple(new)), i
