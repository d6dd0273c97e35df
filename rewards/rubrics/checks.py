"""Programmatic checks: criteria a rubric can score without a judge.

A check reads the step and the steps before it (never later ones, so rubric scores stay
causal) and returns a score in [0, 1], or None when it does not apply to this step (e.g.
``argument_seen`` on a call without arguments). A rubric names a check, with arguments::

    check: {name: tool_used_before, args: {tool: open}}

Add your own with :func:`register_check`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from prmgym.envs.actions import ActionError, ToolCall, parse_tool_call
from prmgym.envs.swe.effects import read_footer
from prmgym.errors import ConfigError
from prmgym.trajectory import Step

Check = Callable[..., float | None]
"""``check(step, earlier, **args) -> score in [0, 1] | None``."""

CHECKS: dict[str, Check] = {}
"""Every registered check by name."""


def register_check(name: str) -> Callable[[Check], Check]:
    """Register a check function under ``name`` (a decorator)."""

    def add(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return add


def get_check(name: str) -> Check:
    """The check registered as ``name``.

    Raises:
        ConfigError: No such check; the message lists the ones there are.
    """
    if name not in CHECKS:
        raise ConfigError(
            f"unknown check {name!r}; built-in checks: {', '.join(sorted(CHECKS))}"
            " (or register your own with prmgym.rewards.rubrics.checks.register_check)"
        )
    return CHECKS[name]


def _call(step: Step) -> ToolCall | None:
    if step.action_error is not None:
        return None
    try:
        return parse_tool_call(step.action)
    except ActionError:
        return None


def step_tool(step: Step) -> str | None:
    """The tool a step called: the recorded one, else parsed from the action text."""
    if step.tool is not None:
        return step.tool
    call = _call(step)
    return call.name if call else None


def _normalized(action: str) -> str:
    return " ".join(action.split())


@register_check("parses")
def parses(step: Step, earlier: Sequence[Step]) -> float:
    """1 when the action is one well-formed tool call the env accepted, else 0."""
    return 1.0 if _call(step) is not None else 0.0


@register_check("no_repeat")
def no_repeat(step: Step, earlier: Sequence[Step]) -> float:
    """1 unless the same action (up to whitespace) was already taken earlier in the episode."""
    action = _normalized(step.action)
    return 0.0 if any(_normalized(s.action) == action for s in earlier) else 1.0


@register_check("argument_seen")
def argument_seen(step: Step, earlier: Sequence[Step], tools: Sequence[str] = ()) -> float | None:
    """1 when the call's first argument appeared in an earlier observation.

    Catches made-up identifiers: opening a document id no search returned. Applies only to
    calls of ``tools`` (all calls when empty) whose first argument is a non-empty string, and
    not to the first step.
    """
    call = _call(step)
    if call is None or (tools and call.name not in tools):
        return None
    first = call.args[0] if call.args else next(iter(call.kwargs.values()), None)
    if not isinstance(first, str) or not first.strip() or not earlier:
        # A trajectory does not hold the observation its reset gave (the first web page), so
        # the first step has nothing to check against; vetoing it would fail every episode.
        return None
    return 1.0 if any(first.strip() in s.observation for s in earlier) else 0.0


@register_check("tool_used_before")
def tool_used_before(step: Step, earlier: Sequence[Step], tool: str = "") -> float:
    """1 when an earlier step called ``tool`` successfully (e.g. read before answering)."""
    if not tool:
        raise ConfigError("check tool_used_before needs args: {tool: NAME}")
    return 1.0 if any(step_tool(s) == tool and s.action_error is None for s in earlier) else 0.0


@register_check("max_chars")
def max_chars(step: Step, earlier: Sequence[Step], limit: int = 300) -> float:
    """1 when the action is at most ``limit`` characters (rambling actions are a smell)."""
    return 1.0 if len(step.action) <= limit else 0.0


@register_check("workspace_untampered")
def workspace_untampered(step: Step, earlier: Sequence[Step]) -> float | None:
    """0 when the step changed what grades the fix, 1 when it changed only code under test.

    Reads the effects line the SWE env writes after every step that changed the workspace
    (:mod:`prmgym.envs.swe.effects`), whatever tool made the change (a ``bash`` edit too):
    flagged paths are test files, test infrastructure (conftest.py, pytest/tox/setup.cfg/
    pyproject, sitecustomize, .pth) or code reaching into pytest's internals. Applies only to
    steps that changed the workspace.
    """
    effects = read_footer(step.observation)
    if effects is None:
        return None
    return 0.0 if effects["flagged_count"] > 0 else 1.0


@register_check("ran_command")
def ran_command(
    step: Step, earlier: Sequence[Step], tool: str = "bash", pattern: str = ""
) -> float:
    """1 when an earlier accepted ``tool`` call's action matches the regex ``pattern``.

    E.g. ``{tool: bash, pattern: pytest}``: the agent ran the tests before submitting.
    """
    if not pattern:
        raise ConfigError("check ran_command needs args: {pattern: REGEX} (and tool, default bash)")
    wanted = re.compile(pattern)
    return (
        1.0
        if any(
            step_tool(s) == tool and s.action_error is None and wanted.search(s.action)
            for s in earlier
        )
        else 0.0
    )


# The closing line of a test run: pytest's "3 passed, 1 failed in 0.12s" (framed by "=" unless
# -q), or unittest's "Ran 4 tests in 0.003s".
_TEST_SUMMARY = re.compile(
    r"^=*\s*(\d+ (passed|failed|errors?)(, \d+ \w+)*) in \d+(\.\d+)?s\b"
    r"|^Ran \d+ tests? in \d+(\.\d+)?s$",
    re.MULTILINE,
)


@register_check("tests_observed")
def tests_observed(step: Step, earlier: Sequence[Step]) -> float:
    """1 when an earlier step's output shows a test run that came after the last change.

    The run counts by its effect: the observation holds a test runner's closing line (pytest's
    ``N passed ... in Xs``, unittest's ``Ran N tests in Xs``) that the action itself does not
    spell out (``echo "1 passed in 0.1s"`` is not a test run). Changes are read from the SWE
    env's effects lines, so an edit by any tool after the run makes it stale.
    """
    last_change = max(
        (s.index for s in earlier if read_footer(s.observation) is not None), default=-1
    )
    for s in earlier:
        if s.index < last_change or s.action_error is not None:
            continue
        for match in _TEST_SUMMARY.finditer(s.observation):
            if match.group(0).strip("= ") not in s.action:
                return 1.0
    return 0.0


def run_check(name: str, args: dict[str, Any], step: Step, earlier: Sequence[Step]) -> float | None:
    """Run a registered check; arguments a check does not take are a configuration error."""
    check = get_check(name)
    try:
        value = check(step, earlier, **args)
    except TypeError as exc:
        raise ConfigError(f"check {name!r} rejected its args {args}: {exc}") from None
    return None if value is None else min(1.0, max(0.0, float(value)))


@register_check("values_seen")
def values_seen(
    step: Step, earlier: Sequence[Step], tool: str = "answer", pattern: str = ""
) -> float | None:
    r"""The share of values in a ``tool`` call that appeared in an earlier observation.

    ``pattern`` is a regex whose first group is one value, e.g. ``@\w+\[([^\]]*)\]`` for
    DABench answers: values the agent never saw computed are made up.
    """
    if not pattern:
        raise ConfigError("check values_seen needs args: {pattern: REGEX with one group}")
    call = _call(step)
    if call is None or call.name != tool:
        return None
    first = call.args[0] if call.args else next(iter(call.kwargs.values()), None)
    if not isinstance(first, str):
        return None
    values = [v.strip() for v in re.findall(pattern, first) if v.strip()]
    if not values:
        return None
    seen = sum(any(value in s.observation for s in earlier) for value in values)
    return seen / len(values)
