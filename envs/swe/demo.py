"""The built-in demo tasks: a tiny git repository made on this machine, so SWE runs offline.

``demo_instances()`` writes the repository ``textkit`` (a module of text helpers and its
pytest suite) into the cache once, committed with fixed names and dates so its commit id is
the same everywhere, and returns two SWE-bench-style instances on it:

- ``demo__textkit-1``: ``word_count`` miscounts runs of spaces; the failing test is in the
  repository (FAIL_TO_PASS), the other tests must keep passing (PASS_TO_PASS);
- ``demo__textkit-2``: ``truncate`` cuts text that fits exactly; the test that shows it comes
  with the hidden ``test_patch``, as in SWE-bench.

Real tasks come from a task file (``SWEEnv(tasks_file=...)``).
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from prmgym.envs.swe.tasks import SWEInstance
from prmgym.envs.swe.workspace import cache_root
from prmgym.errors import TaskError

REPO = "demo/textkit"

_BUGGY_WORD_COUNT = '    return len(text.split(" "))\n'
_FIXED_WORD_COUNT = "    return len(text.split())\n"
_BUGGY_TRUNCATE = "    if len(text) < width:\n"
_FIXED_TRUNCATE = "    if len(text) <= width:\n"

_MODULE = f'''"""Small helpers for text."""


def word_count(text):
    """The number of words in text, words being separated by any whitespace."""
{_BUGGY_WORD_COUNT}

def capitalize_words(text):
    """text with the first letter of every word upper-cased."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))


def truncate(text, width, suffix="..."):
    """text cut to at most width characters, ending with suffix when it was cut."""
{_BUGGY_TRUNCATE}        return text
    return text[: width - len(suffix)] + suffix
'''

_TESTS = """from textkit import capitalize_words, truncate, word_count


def test_word_count_of_a_sentence():
    assert word_count("the quick brown fox") == 4


def test_word_count_ignores_extra_spaces():
    assert word_count("  the quick   brown fox ") == 4


def test_capitalize_words():
    assert capitalize_words("hello big world") == "Hello Big World"


def test_truncate_short_text_is_kept():
    assert truncate("abc", 10) == "abc"


def test_truncate_long_text_gets_a_suffix():
    assert truncate("abcdefghij", 6) == "abc..."
"""

_HIDDEN_TEST = """

def test_truncate_keeps_text_of_exactly_width():
    assert truncate("abcdef", 6) == "abcdef"
"""

_MODULE_PATH = "textkit/__init__.py"
_TESTS_PATH = "tests/test_textkit.py"
_P2P = [
    f"{_TESTS_PATH}::test_word_count_of_a_sentence",
    f"{_TESTS_PATH}::test_capitalize_words",
    f"{_TESTS_PATH}::test_truncate_short_text_is_kept",
    f"{_TESTS_PATH}::test_truncate_long_text_gets_a_suffix",
]
# Fixed names and dates make the commit id the same on every machine and every build.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "prmgym",
    "GIT_AUTHOR_EMAIL": "demo@prmgym.invalid",
    "GIT_COMMITTER_NAME": "prmgym",
    "GIT_COMMITTER_EMAIL": "demo@prmgym.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def demo_instances(root: Path | None = None) -> list[SWEInstance]:
    """The two demo instances, building their repository under ``root`` if it is not there.

    Args:
        root: Where the repository lives; default ``<cache>/demo/textkit``.

    Raises:
        TaskError: git is missing or failed.
    """
    repo = _repository(root or cache_root() / "demo" / "textkit")
    commit = _git(repo, "rev-parse", "HEAD").strip()
    fixed_word_count = _MODULE.replace(_BUGGY_WORD_COUNT, _FIXED_WORD_COUNT)
    fixed_truncate = _MODULE.replace(_BUGGY_TRUNCATE, _FIXED_TRUNCATE)
    common = {
        "repo": REPO,
        "base_commit": commit,
        "source": {"kind": "git", "path": str(repo)},
    }
    return [
        SWEInstance.model_validate(
            {
                **common,
                "instance_id": "demo__textkit-1",
                "problem_statement": (
                    "word_count() gives the wrong number when words are separated by more"
                    ' than one space: word_count("  the quick   brown fox ") returns 9, but'
                    " the sentence has 4 words. Leading and trailing spaces should not"
                    " count either."
                ),
                "patch": _diff(_MODULE_PATH, _MODULE, fixed_word_count),
                "FAIL_TO_PASS": [f"{_TESTS_PATH}::test_word_count_ignores_extra_spaces"],
                "PASS_TO_PASS": _P2P,
            }
        ),
        SWEInstance.model_validate(
            {
                **common,
                "instance_id": "demo__textkit-2",
                "problem_statement": (
                    "truncate() shortens text that already fits: truncate('abcdef', 6)"
                    " returns 'abc...' although 'abcdef' is exactly 6 characters long and"
                    " should be returned unchanged."
                ),
                "patch": _diff(_MODULE_PATH, _MODULE, fixed_truncate),
                "test_patch": _diff(_TESTS_PATH, _TESTS, _TESTS + _HIDDEN_TEST),
                "FAIL_TO_PASS": [f"{_TESTS_PATH}::test_truncate_keeps_text_of_exactly_width"],
                "PASS_TO_PASS": _P2P,
            }
        ),
    ]


def _diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
        )
    )


def _repository(target: Path) -> Path:
    """The committed demo repository at ``target``, built once.

    It is built in a temporary folder first, so a half-built one is never seen and two
    processes building it at once agree on the result.
    """
    if (target / ".git").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tree = scratch / "repo"
        (tree / "textkit").mkdir(parents=True)
        (tree / "tests").mkdir()
        (tree / _MODULE_PATH).write_text(_MODULE, encoding="utf-8")
        (tree / _TESTS_PATH).write_text(_TESTS, encoding="utf-8")
        _git(tree, "init", "-q")
        _git(tree, "add", ".")
        _git(tree, "commit", "-q", "--no-gpg-sign", "-m", "textkit: text helpers")
        try:
            os.rename(tree, target)
        except OSError:
            if not (target / ".git").is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **_GIT_ENV},
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise TaskError(f"building the demo repository needs git: {detail}") from exc
    return done.stdout
