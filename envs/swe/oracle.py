"""The SWE family's scripted oracle: apply the gold patch through the editor, test, submit.

Each hunk of the gold patch (the task's ``patch``, or the planted mutation undone) becomes one
``str_replace`` whose old text is the hunk's old lines, widened with neighbouring lines of the
file until it occurs exactly once; a file the patch creates becomes ``create``, a file it
deletes ``bash("rm ...")``. The oracle reads privileged data and the task's starting tree, so
it is a test instrument (every task must be solvable by it) and a source of expert
trajectories, never an agent to evaluate.

``submit_at_once_actions`` is the floor: it submits the untouched workspace, which resolves no
task whose FAIL_TO_PASS tests really fail.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

from prmgym.envs.swe.diffs import NULL_PATH, FilePatch, Hunk, parse_unified_diff
from prmgym.envs.swe.tasks import SWEInstance
from prmgym.envs.swe.workspace import gold_patch, workspace_seed
from prmgym.errors import TaskError
from prmgym.task import Task


def oracle_actions(task: Task) -> list[str]:
    """The action strings that solve ``task``: the gold hunks' edits, a test run, submit.

    One editor action per gold hunk, then a run of the failing tests (:func:`test_action`,
    where the workspace holds them), then ``submit()``.
    """
    instance = SWEInstance.from_task(task)
    seed = workspace_seed(instance)

    def read(path: str) -> str:
        return (seed / path).read_text(encoding="utf-8")

    check = [test_action(instance)] if not instance.test_patch.strip() else []
    return [*patch_actions(gold_patch(instance), read), *check, "submit()"]


def next_action(task: Task, observations: Sequence[str], actions: Sequence[str]) -> str:
    """The oracle's next action (the family's ``oracle`` piece): the plan's next step.

    The plan is fixed, so observations are not read; once it is spent its last action repeats.
    """
    plan = oracle_actions(task)
    return plan[min(len(actions), len(plan) - 1)]


def test_action(instance: SWEInstance) -> str:
    """``bash`` running the task's FAIL_TO_PASS tests, as an engineer does before submitting.

    The SWE rubric's ``tested-before-submit`` rule asks it of every agent, so the oracle's
    trajectories (expert data, and the correct items of first-error sets) follow it too. Tasks
    with a ``test_patch`` get none: their failing tests exist only once the grader adds them.
    """
    ids = " ".join(shlex.quote(test) for test in instance.FAIL_TO_PASS)
    return f"bash({f'python -m pytest -q -p no:cacheprovider {ids}'!r})"


def submit_at_once_actions(task: Task) -> list[str]:
    """The baseline that submits without changing anything."""
    return ["submit()"]


def patch_actions(patch: str, read: Callable[[str], str]) -> list[str]:
    """Editor actions that turn the files ``read`` returns into the patched ones.

    Args:
        patch: A unified diff.
        read: The current text of a repository path.

    Raises:
        TaskError: The patch does not fit the files, or holds what editor actions cannot do
            (a binary change, a rename).
    """
    actions: list[str] = []
    for file_patch in parse_unified_diff(patch):
        if file_patch.old_path == NULL_PATH:
            text = "".join(line for hunk in file_patch.hunks for line in hunk.new_lines)
            actions.append(f"create({file_patch.new_path!r}, {text!r})")
        elif file_patch.new_path == NULL_PATH:
            actions.append(f"bash({f'rm -- {shlex.quote(file_patch.old_path)}'!r})")
        elif file_patch.old_path != file_patch.new_path:
            raise TaskError(
                f"the patch renames {file_patch.old_path}; the oracle only edits files in place"
            )
        else:
            actions += _edits(file_patch, read(file_patch.path))
    return actions


def _edits(file_patch: FilePatch, text: str) -> list[str]:
    """One str_replace per hunk, each old text made unique in the file as it is by then."""
    path = file_patch.path
    lines = text.splitlines(keepends=True)
    actions: list[str] = []
    shift = 0  # how many lines earlier hunks added (or removed, negative)
    for hunk in file_patch.hunks:
        at = _hunk_start(hunk) + shift
        end = at + len(hunk.old_lines)
        if lines[at:end] != list(hunk.old_lines):
            raise TaskError(
                f"the gold patch does not fit {path} at line {hunk.old_start}; the task's"
                " patch was made against another version"
            )
        low, high = _unique_window(lines, at, end)
        old = "".join(lines[low:high])
        replacement = [*lines[low:at], *hunk.new_lines, *lines[end:high]]
        if old:
            actions.append(f"str_replace({path!r}, {old!r}, {''.join(replacement)!r})")
        else:  # the file is empty: nothing to anchor a replacement on
            actions.append(f"insert({path!r}, 0, {''.join(replacement)!r})")
        lines[low:high] = replacement
        shift += len(hunk.new_lines) - len(hunk.old_lines)
    return actions


def _hunk_start(hunk: Hunk) -> int:
    """0-based index of the hunk's first old line (with no old lines: where new ones go)."""
    return hunk.old_start - 1 if hunk.old_lines else hunk.old_start


def _unique_window(lines: list[str], at: int, end: int) -> tuple[int, int]:
    """The smallest window around ``lines[at:end]`` whose text occurs once, right here.

    It widens a line at a time, alternately up and down, up to the whole file.
    """
    text = "".join(lines)
    low, high = at, end
    while True:
        block = "".join(lines[low:high])
        offset = len("".join(lines[:low]))
        if block and text.count(block) == 1 and text.find(block) == offset:
            return low, high
        if low == 0 and high == len(lines):
            return low, high
        if (high - low) % 2 == 0 and low > 0 or high == len(lines):
            low -= 1
        else:
            high += 1
