"""Unified diffs become editor actions that rebuild the patched files exactly (no sandbox)."""

import difflib
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.swe.diffs import parse_unified_diff, touched_paths
from prmgym.envs.swe.oracle import patch_actions
from prmgym.errors import TaskError


def diff(path, before, after):
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
        )
    )


def play(actions, files):
    """Apply editor actions to a dict of files with SWEEnv's editing rules."""
    files = dict(files)
    for action in actions:
        call = parse_tool_call(action)
        if call.name == "str_replace":
            path, old, new = call.args
            assert files[path].count(old) == 1, f"old text not unique in {path}"
            files[path] = files[path].replace(old, new, 1)
        elif call.name == "insert":
            path, line, text = call.args
            lines = files[path].splitlines(keepends=True)
            files[path] = "".join(lines[:line]) + text + "".join(lines[line:])
        elif call.name == "create":
            path, text = call.args
            assert path not in files
            files[path] = text
        elif call.name == "bash":
            words = shlex.split(call.args[0])
            assert words[:2] == ["rm", "--"]
            del files[words[2]]
        else:
            raise AssertionError(action)
    return files


REPEATED = "x = 1\nprint(x)\n\n" * 4 + "y = 2\n"


def test_a_non_unique_hunk_is_widened_until_it_occurs_once():
    after = REPEATED.replace("x = 1\nprint(x)\n\ny = 2", "x = 1\nprint(x)\n\ny = 3")
    patch = diff("m.py", REPEATED, after)
    actions = patch_actions(patch, {"m.py": REPEATED}.__getitem__)
    assert len(actions) == 1 and actions[0].startswith("str_replace('m.py'")
    assert play(actions, {"m.py": REPEATED}) == {"m.py": after}


def test_the_same_line_changed_in_repeated_blocks_gets_one_action_per_hunk():
    before = "".join(f"def f{i}():\n    return 0\n" + "\n" * 8 for i in range(3))
    after = before.replace("    return 0\n", "    return 1\n")
    actions = patch_actions(diff("m.py", before, after), {"m.py": before}.__getitem__)
    assert len(actions) == 3
    assert play(actions, {"m.py": before}) == {"m.py": after}


def test_new_deleted_and_no_newline_files():
    # difflib writes no "\ No newline" markers, so this diff is spelled out as git writes it.
    patch = (
        "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
        "\\ No newline at end of file\n"
        "--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-old\n"
        "--- a/keep.py\n+++ b/keep.py\n@@ -1,2 +1,2 @@\n one\n-two\n"
        "\\ No newline at end of file\n+TWO\n\\ No newline at end of file\n"
    )
    files = {"gone.py": "old\n", "keep.py": "one\ntwo"}
    actions = patch_actions(patch, files.__getitem__)
    assert play(actions, files) == {"new.py": "a = 1\nb = 2", "keep.py": "one\nTWO"}
    assert touched_paths(patch) == ["new.py", "gone.py", "keep.py"]


def test_a_git_style_diff_parses_paths_and_hunks():
    patch = (
        "diff --git a/src/x.py b/src/x.py\n"
        "index 1111111..2222222 100644\n"
        "--- a/src/x.py\n"
        "+++ b/src/x.py\n"
        "@@ -1,3 +1,3 @@ def f():\n"
        " a\n"
        "-b\n"
        "+B\n"
        "\n"  # an empty context line whose leading space was stripped
    )
    (file_patch,) = parse_unified_diff(patch)
    assert file_patch.path == "src/x.py"
    (hunk,) = file_patch.hunks
    assert hunk.old_lines == ("a\n", "b\n", "\n") and hunk.new_lines == ("a\n", "B\n", "\n")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n a\n-b\n", "ends before"),
        ("--- a/x.py\n+++ b/x.py\n@@ nonsense @@\n", "malformed hunk header"),
        ("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n?a\n", "unexpected line"),
        ("diff --git a/x.png b/x.png\nGIT binary patch\nliteral 1\n", "binary"),
        ("--- a/x.py\n+++ b/y.py\n@@ -1 +1 @@\n-a\n+b\n", "renames"),
        ("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-zzz\n+b\n", "does not fit"),
    ],
)
def test_patches_the_oracle_cannot_express_say_why(patch, message):
    with pytest.raises(TaskError, match=message):
        patch_actions(patch, {"x.py": "a\nb\nc\n"}.__getitem__)


lines = st.lists(st.sampled_from(["a\n", "b\n", "\n", "if x:\n", "    pass\n"]), max_size=30)


@settings(max_examples=300)
@given(lines, lines)
def test_any_diff_between_two_texts_is_replayed_exactly(before, after):
    before, after = "".join(before), "".join(after)
    files = {"f.py": before}
    actions = patch_actions(diff("f.py", before, after), files.__getitem__)
    assert play(actions, files) == {"f.py": after}
