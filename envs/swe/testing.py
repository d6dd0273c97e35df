"""Run a repository's tests in a sandbox and read each test's outcome by its pytest node id.

Node ids (``tests/test_x.py::TestY::test_z[1]``) are what SWE-bench's FAIL_TO_PASS and
PASS_TO_PASS lists hold. pytest's short test summary names every test with its outcome; the
run writes it to a file in the workspace (the command's own output is capped) that is read back
through the sandbox's link-safe file access and deleted.

The code under test runs in the same process and can print. The run's options leave it no
printed channel that is read: captured output is never shown (no ``P`` in ``-r``, no
tracebacks, no warnings summary), and only the first summary section counts, up to pytest's
closing ``N passed ... in Xs`` line, so lines printed at exit come too late. The root folder is
pinned to ``/workspace`` and the user site is off (:data:`PINNED_OPTIONS`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import Sandbox

DEFAULT_COMMAND = "python -m pytest"
_REPORT = ".prmgym-test-report.txt"
PINNED_OPTIONS = (
    "-q -rfEsxXp --tb=no --disable-warnings --capture=fd -p no:cacheprovider --rootdir=/workspace"
)
"""Options every graded run gets: the summary lines outcomes are read from, nothing else shown."""
_SUMMARY_HEADER = re.compile(r"^=+ short test summary info =+$")
# pytest's closing line, e.g. "1 failed, 4 passed in 0.05s" (framed by "=" without -q).
_CLOSING_LINE = re.compile(r"^=*\s*(no tests ran|\d+ \w+(, \d+ \w+)*) in [\d.]+s\b")
_OUTCOMES = {
    "PASSED": "passed",
    "XPASS": "passed",
    "FAILED": "failed",
    "ERROR": "error",
    "SKIPPED": "skipped",
    "XFAIL": "skipped",
}
_USAGE_ERROR = 4  # pytest's exit status for a bad command line, e.g. an unknown node id
# Past this many ids the command line gets long; the whole suite runs instead.
_MAX_IDS = 400


@dataclass
class TestReport:
    """Outcomes of one test run."""

    __test__ = False  # not a pytest test class, whatever its name says

    outcomes: dict[str, str] = field(default_factory=dict)
    """Node id -> ``passed``, ``failed``, ``error`` or ``skipped``."""
    messages: dict[str, str] = field(default_factory=dict)
    """Node id -> pytest's one-line reason of a failure or error."""
    exit_code: int = 0
    timed_out: bool = False

    def passed(self, test_id: str) -> bool:
        """Whether ``test_id`` ran and passed (a missing test did not)."""
        return self.outcomes.get(test_id) == "passed"


def run_tests(
    sandbox: Sandbox,
    test_ids: Sequence[str] | None = None,
    *,
    command: str = DEFAULT_COMMAND,
    timeout: float = 300.0,
) -> TestReport:
    """Run ``test_ids`` (None or too many: the whole suite) with pytest in the sandbox.

    The run starts from ``/workspace`` in a subshell, so the agent's working directory and
    variables in the persistent session do not change what is graded.
    """
    ids = list(test_ids or [])
    report = _run(sandbox, ids if 0 < len(ids) <= _MAX_IDS else [], command, timeout)
    if report.exit_code == _USAGE_ERROR and ids and not report.outcomes:
        # pytest refuses the whole run when one id is gone (the agent deleted a test); the
        # full suite still reports the others, and the missing one counts as not passed.
        report = _run(sandbox, [], command, timeout)
    return report


def _run(sandbox: Sandbox, ids: list[str], command: str, timeout: float) -> TestReport:
    selected = " ".join(shlex.quote(t) for t in ids)
    line = (
        f"(cd /workspace && PYTHONNOUSERSITE=1 {command} {PINNED_OPTIONS} {selected}"
        f" > {_REPORT} 2>&1)"
    )
    result = sandbox.exec(line, timeout=timeout)
    report = TestReport(exit_code=result.exit_code, timed_out=result.timed_out)
    try:
        text = sandbox.read_file(_REPORT).decode("utf-8", "replace")
    except SandboxError:
        return report
    sandbox.exec(f"rm -f /workspace/{_REPORT}")
    for raw in summary_lines(text):
        word, _, rest = raw.partition(" ")
        outcome = _OUTCOMES.get(word)
        if outcome is None or not rest:
            continue
        node, _, message = rest.partition(" - ")
        node = node.strip()
        if outcome == "skipped" and node.startswith("["):
            continue  # "SKIPPED [1] file:line: reason" names no node id
        report.outcomes[node] = outcome
        if message:
            report.messages[node] = message.strip()
    return report


def summary_lines(text: str) -> list[str]:
    """The lines of pytest's first short test summary, up to its closing line.

    Text before the section (captured output is not shown) and after the closing line (what
    code under test prints at exit) is not read.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _SUMMARY_HEADER.match(line)), None)
    if start is None:
        return []
    section = []
    for line in lines[start + 1 :]:
        if _CLOSING_LINE.match(line):
            break
        section.append(line)
    return section
