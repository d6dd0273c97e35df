"""SWEEnv: fix a real repository's issue with a shell and a file editor, graded by its tests.

Tools (action strings, parsed without running anything in the host)::

    bash("command")                     run a command in the persistent shell at /workspace
    view("path", start=1, end=None)     a file's numbered lines, or a folder's entries
    str_replace("path", "old", "new")   replace the one occurrence of ``old``
    insert("path", line, "text")        insert text after line ``line`` (0: at the top)
    create("path", "text")              create a new file
    submit()                            grade the workspace and end the episode

Each episode gets its own bubblewrap sandbox seeded with the task's workspace. ``submit``
grades the agent's change on a fresh copy of the task's tree (:mod:`prmgym.envs.swe.probe`):
changes to test files and test infrastructure are dropped and listed in
``info["grading"]["dropped"]`` (path -> why), a change whose code reaches into pytest is refused
(``info["grading"]["pytest_internals"]``), the hidden ``test_patch`` is added, and the task is
resolved iff every FAIL_TO_PASS test passes and every PASS_TO_PASS test still passes; reward 1.0
then, else 0.0.

After every other accepted step the env lists the workspace and reports what changed, whatever
tool changed it, in ``info["workspace"]`` and the observation's last line
(:mod:`prmgym.envs.swe.effects`).

A shell or sandbox the agent's command killed is restarted by the sandbox; the observation
says so and ``info["sandbox_restarted"]`` holds the reason, so the episode can be marked.

Tasks: SWE-bench instances with a local source (:mod:`prmgym.envs.swe.tasks`), given as
objects or a JSONL file; without either, the built-in demo tasks (:mod:`prmgym.envs.swe.demo`).
"""

from __future__ import annotations

import inspect
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prmgym.envs.actions import ActionError, ToolCall, bind_arguments, utf8_encodable
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.envs.swe import catalog, testenv
from prmgym.envs.swe.effects import step_effects
from prmgym.envs.swe.grading import GradingRules
from prmgym.envs.swe.probe import (
    Grade,
    SandboxRecipe,
    SWEProbe,
    grade_workspace,
    grading_rules,
    seed_manifest,
)
from prmgym.envs.swe.tasks import SWEInstance, load_instances
from prmgym.envs.swe.testing import DEFAULT_COMMAND
from prmgym.envs.swe.workspace import workspace_seed
from prmgym.errors import SandboxError
from prmgym.sandboxes.base import ExecResult, SandboxLimits, workspace_relative
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from prmgym.task import Task

TOOLS_HELP = """Tools (write exactly one call per turn; arguments are Python literals):
  bash("command")                    run a shell command in /workspace (cd and variables persist)
  view("path", start=1, end=None)    show a file's lines with numbers, or list a folder
  str_replace("path", "old", "new")  replace old text, which must occur exactly once, with new
  insert("path", line, "text")       insert text after line number `line` (0: at the top)
  create("path", "text")             create a new file
  submit()                           run the tests and end the episode
Paths are relative to /workspace. Multi-line text: use "\\n" or triple quotes."""

# Shown after a restart that no command reported: file access found the sandbox dead.
_REBUILT = "the sandbox had died and was rebuilt from its seed (workspace reset, shell restarted)"
# Lines of context shown around an edit.
_CONTEXT_LINES = 3


def _bash(command: str) -> None: ...
def _view(path: str, start: int = 1, end: int | None = None) -> None: ...
def _str_replace(path: str, old: str, new: str) -> None: ...
def _insert(path: str, line: int, text: str) -> None: ...
def _create(path: str, text: str) -> None: ...
def _submit() -> None: ...


_SIGNATURES = {
    "bash": inspect.signature(_bash),
    "view": inspect.signature(_view),
    "str_replace": inspect.signature(_str_replace),
    "insert": inspect.signature(_insert),
    "create": inspect.signature(_create),
    "submit": inspect.signature(_submit),
}


def bind_call(call: ToolCall) -> dict[str, Any]:
    """Bind a parsed call to its tool's parameters (defaults applied), or raise ActionError."""
    return bind_arguments(call, _SIGNATURES)


class SWEEnv(TextEnv):
    """Issue fixing in a real repository checkout, graded by the repository's tests.

    Args:
        tasks: Tasks made by :meth:`SWEInstance.to_task`, or the instances themselves.
        tasks_file: A JSONL file of SWE-bench instances with a ``source`` (or of such tasks),
            or the name of a packaged task set: ``swe-lite`` (48 bugs in four real packages).
        split: Which split of ``tasks_file`` (or of the demo tasks) to use; ``all`` for every
            one. Tasks passed as objects are used as given.
        limits: Resource limits of each episode's sandbox (``timeout_s`` caps one command).
        test_timeout_s: Seconds the test run of ``submit`` (and of the probe) may take.
        max_observation_chars: Longer observations are cut, with a notice saying so.
        max_action_chars: Longer actions are refused (edits carry code, so this is generous).
        render_mode: ``"ansi"`` returns the last observation from ``render()``.
    """

    family = "swe"
    tool_signatures = _SIGNATURES

    def __init__(
        self,
        tasks: Sequence[Task | SWEInstance] | None = None,
        *,
        tasks_file: str | Path | None = None,
        split: str = "test",
        limits: SandboxLimits | None = None,
        test_timeout_s: float = 300.0,
        max_observation_chars: int = 8000,
        max_action_chars: int = 16000,
        render_mode: str | None = None,
    ):
        instances = load_instances(tasks, tasks_file, split)
        super().__init__(
            [instance.to_task() for instance in instances],
            max_observation_chars=max_observation_chars,
            max_action_chars=max_action_chars,
            render_mode=render_mode,
        )
        self._instances = {instance.instance_id: instance for instance in instances}
        self.limits = limits or SandboxLimits()
        self.test_timeout_s = test_timeout_s
        self._sandbox: BubblewrapSandbox | None = None
        self._recipe: SandboxRecipe | None = None
        self._episode = 0
        self._restarts_seen = 0
        self._rules: GradingRules | None = None
        # The workspace listing after the last step: what the next step's effects compare with.
        self._manifest: dict[str, str] = {}

    # -- episode state ------------------------------------------------------------------
    @property
    def instance(self) -> SWEInstance:
        """The current episode's SWE instance (after ``reset``)."""
        return self._instances[self.task.id]

    @property
    def sandbox(self) -> BubblewrapSandbox:
        """The current episode's sandbox (after ``reset``)."""
        if self._sandbox is None:
            raise RuntimeError("call reset() before using the sandbox")
        return self._sandbox

    @property
    def recipe(self) -> SandboxRecipe:
        """How the current episode's sandbox was made (its seed and settings)."""
        if self._recipe is None:
            raise RuntimeError("call reset() before using the sandbox")
        return self._recipe

    def task_prompt(self, task: Task) -> str:
        """The issue, where the code is, and the tools."""
        instance = self._instances[task.id]
        return (
            f"{task.instruction}\n\n"
            f"The repository {instance.repo} is checked out in /workspace. Change its code so"
            " the issue above is resolved; hidden tests check your fix when you submit.\n"
            f"{TOOLS_HELP}"
        )

    def tools(self) -> str:
        """Tool syntax, shown after a bad action."""
        return TOOLS_HELP

    def start_episode(self, task: Task) -> None:
        """Close the previous episode's sandbox and start one on this task's workspace."""
        self._close_sandbox()
        instance = self._instances[task.id]
        settings, command = _test_setup(instance)
        self._recipe = SandboxRecipe(
            workspace_seed(instance), {"limits": self.limits, **settings}, command
        )
        self._sandbox = self._recipe.start()
        self._episode += 1
        self._restarts_seen = 0
        self._rules = grading_rules(instance, self._recipe.seed)
        self._manifest = dict(seed_manifest(self._recipe.seed))

    @property
    def probe(self) -> SWEProbe:
        """A read-only handle for environment-aware PRMs (see :class:`SWEProbe`)."""
        return SWEProbe(self)

    def snapshot(self) -> dict[str, Any]:
        """Save the workspace (a copy, in the sandbox's host folder) and the step count."""
        return {
            "episode": self._episode,
            "workspace": self.sandbox.snapshot(),
            "step": self._step_index,
            "done": self._done,
            "manifest": dict(self._manifest),
        }

    def restore(self, token: dict[str, Any]) -> None:
        """Return to a snapshot of this episode; the shell restarts in /workspace."""
        if token.get("episode") != self._episode:
            raise ValueError("this snapshot belongs to another episode; take one after reset()")
        self.sandbox.restore(token["workspace"])
        self._step_index = token["step"]
        self._done = token["done"]
        self._manifest = dict(token["manifest"])

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Run one action; a sandbox restart during it is noted in the observation and info.

        A step that changed the workspace ends its observation with the effects line.
        """
        observation, reward, terminated, truncated, info = super().step(action)
        if self._sandbox is not None and self._sandbox.restarts > self._restarts_seen:
            self._restarts_seen = self._sandbox.restarts
            reason = info.get("sandbox_restarted") or _REBUILT
            info["sandbox_restarted"] = reason
            if reason not in observation:
                observation = self._fit(f"[sandbox restarted: {reason}]\n{observation}")
        # A rejected action ran no command of the agent's; any change it left (through shell
        # functions the agent defined earlier) shows in the next accepted step's listing.
        if self._sandbox is not None and not terminated and info.get("action_error") is None:
            assert self._rules is not None and self._recipe is not None
            effects, self._manifest = step_effects(
                self._sandbox, self._recipe.seed, self._rules, self._manifest, self.limits.timeout_s
            )
            if effects is not None:
                info["workspace"] = effects.info()
                observation = effects.append_to(observation, self.max_observation_chars)
        self._last_observation = observation
        return observation, reward, terminated, truncated, info

    def close(self) -> None:
        """Close the episode's sandbox."""
        self._close_sandbox()
        super().close()

    def _close_sandbox(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    # -- tools --------------------------------------------------------------------------
    def execute(self, call: ToolCall) -> ToolResult:
        """Run one of the tools."""
        arguments = bind_call(call)
        for name, value in arguments.items():
            if isinstance(value, str) and not utf8_encodable(value):
                raise ActionError(
                    f"{name} holds characters that are not Unicode text (lone surrogates);"
                    " write plain text"
                )
        if call.name == "bash":
            return self._run_bash(arguments["command"])
        if call.name == "view":
            return self._run_view(arguments["path"], arguments["start"], arguments["end"])
        if call.name == "str_replace":
            return self._run_str_replace(arguments["path"], arguments["old"], arguments["new"])
        if call.name == "insert":
            return self._run_insert(arguments["path"], arguments["line"], arguments["text"])
        if call.name == "create":
            return self._run_create(arguments["path"], arguments["text"])
        return self._run_submit()

    def _run_bash(self, command: Any) -> ToolResult:
        if not isinstance(command, str) or not command.strip():
            raise ActionError('bash needs a command as text, e.g. bash("ls")')
        result = self.sandbox.exec(command)
        info: dict[str, Any] = {
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "truncated": result.truncated,
        }
        if result.restarted:
            info["sandbox_restarted"] = result.restarted
        return ToolResult(self._format_exec(result), info=info)

    def _format_exec(self, result: ExecResult) -> str:
        if result.timed_out:
            lines = [f"timed out: the command ran past {self.limits.timeout_s:g} s and was killed"]
        else:
            lines = [f"exit code: {result.exit_code}"]
        # Each stream gets its share of the observation, so a long stdout cannot hide stderr.
        budget = max(200, (self.max_observation_chars - 600) // 2)
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            if text:
                lines += [f"[{name}]", _clip(text, budget).rstrip("\n")]
        if not (result.stdout or result.stderr):
            lines.append("(no output)")
        if result.truncated:
            lines.append(
                f"[output truncated: the sandbox keeps the first {self.limits.output_bytes}"
                " bytes of each stream; redirect to a file and view parts of it]"
            )
        if result.restarted:
            lines.append(f"[sandbox restarted: {result.restarted}]")
        return "\n".join(lines)

    def _run_view(self, path: Any, start: Any, end: Any) -> ToolResult:
        relative = self._path(path, "view")
        if not _is_int(start) or (end is not None and not _is_int(end)):
            raise ActionError(f"start and end are line numbers, got start={start!r}, end={end!r}")
        try:
            data = self.sandbox.read_file(relative) if relative else None
        except SandboxError:
            data = None
        if data is None:
            kind = self._kind(relative)
            if kind == "folder":
                return ToolResult(self._listing(relative))
            raise ActionError(self._not_a_file(path, kind))
        if b"\0" in data:
            raise ActionError(f"{relative} is a binary file ({len(data)} bytes); view shows text")
        lines = data.decode("utf-8", "replace").splitlines()
        if not lines:
            return ToolResult(f"{relative} is empty.")
        last = len(lines) if end is None else min(end, len(lines))
        if not 1 <= start <= len(lines) or last < start:
            raise ActionError(
                f"lines {start}-{end if end is not None else 'end'} are not in {relative},"
                f" which has {len(lines)} lines"
            )
        budget = self.max_observation_chars - 300
        shown: list[str] = []
        for number in range(start, last + 1):
            row = f"{number:>6}\t{lines[number - 1]}"
            if shown and sum(len(s) + 1 for s in shown) + len(row) > budget:
                break
            shown.append(row)
        stop = start + len(shown) - 1
        header = f"{relative}, lines {start}-{stop} of {len(lines)}:"
        footer = (
            [f'[more below: view("{relative}", {stop + 1}) shows the next lines]']
            if stop < last
            else []
        )
        return ToolResult("\n".join([header, *shown, *footer]))

    def _run_str_replace(self, path: Any, old: Any, new: Any) -> ToolResult:
        relative = self._path(path, "str_replace")
        if not isinstance(old, str) or not isinstance(new, str):
            raise ActionError('str_replace takes text: str_replace("path", "old", "new")')
        if not old:
            raise ActionError('old text is empty; to add lines use insert("path", line, "text")')
        text = self._read_text(relative, path, "str_replace")
        count = text.count(old)
        if count == 0:
            raise ActionError(
                f"the old text does not occur in {relative}; view the file and copy the exact"
                " text (whitespace and indentation count)"
            )
        if count > 1:
            raise ActionError(
                f"the old text occurs {count} times in {relative}; include more surrounding"
                " lines so it occurs exactly once"
            )
        at = text.index(old)
        self._write(relative, text[:at] + new + text[at + len(old) :])
        first = text.count("\n", 0, at) + 1
        return self._edited(f"Replaced the text in {relative}.", relative, first, new)

    def _run_insert(self, path: Any, line: Any, text: Any) -> ToolResult:
        relative = self._path(path, "insert")
        if not _is_int(line) or not isinstance(text, str):
            raise ActionError('insert takes a line number and text: insert("path", 3, "text")')
        current = self._read_text(relative, path, "insert")
        lines = current.splitlines(keepends=True)
        if not 0 <= line <= len(lines):
            raise ActionError(
                f"line must be from 0 (the top) to {len(lines)} (the end of {relative}), got {line}"
            )
        if lines and not lines[-1].endswith("\n") and line == len(lines):
            lines[-1] += "\n"
        block = text if text.endswith("\n") else text + "\n"
        self._write(relative, "".join(lines[:line]) + block + "".join(lines[line:]))
        return self._edited(
            f"Inserted text after line {line} of {relative}.", relative, line + 1, block
        )

    def _run_create(self, path: Any, text: Any) -> ToolResult:
        relative = self._path(path, "create")
        if not isinstance(text, str):
            raise ActionError('create takes the file\'s text: create("path", "text")')
        kind = self._kind(relative) if relative else "folder"
        if kind == "file":
            raise ActionError(
                f"{relative} already exists; change it with str_replace or insert"
                ' (or bash("rm ...") it first)'
            )
        if kind != "missing":
            raise ActionError(f"{relative or '/workspace'} already exists and is a {kind}")
        self._write(relative, text)
        return ToolResult(f"Created {relative} ({len(text.splitlines())} lines).")

    def _run_submit(self) -> ToolResult:
        grade = grade_workspace(
            self.sandbox, self.recipe, self.instance, timeout=self.test_timeout_s
        )[0]
        reward = 1.0 if grade.resolved else 0.0
        info = {
            "resolved": grade.resolved,
            "success": grade.resolved,
            "fail_to_pass": dict(grade.fail_to_pass),
            "pass_to_pass_failed": sorted(
                t for t, outcome in grade.pass_to_pass.items() if outcome != "passed"
            ),
            "tests_timed_out": grade.timed_out,
            "grading_error": grade.error,
            "grading": {
                "dropped": dict(grade.dropped),
                "pytest_internals": dict(grade.pytest_reach),
            },
        }
        return ToolResult(_grade_report(grade), reward=reward, terminated=True, info=info)

    # -- helpers ------------------------------------------------------------------------
    def _path(self, path: Any, tool: str) -> str:
        if not isinstance(path, str):
            raise ActionError(f'{tool} needs a path as text, e.g. {tool}("src/app.py", ...)')
        if "\0" in path:
            raise ActionError("paths cannot hold NUL characters")
        try:
            return workspace_relative(path.strip())
        except SandboxError as exc:
            raise ActionError(str(exc)) from None

    def _kind(self, relative: str) -> str:
        """``file``, ``folder``, ``symbolic link``, ``special file`` or ``missing``."""
        quoted = shlex.quote(relative or ".")
        # Shell built-ins only, in a subshell: the agent's PATH and directory do not matter.
        result = self.sandbox.exec(
            f"(cd /workspace && p={quoted}; if [ -L \"$p\" ]; then echo 'symbolic link';"
            ' elif [ -d "$p" ]; then echo folder; elif [ -f "$p" ]; then echo file;'
            " elif [ -e \"$p\" ]; then echo 'special file'; else echo missing; fi)"
        )
        return result.stdout.strip() or "missing"

    def _listing(self, relative: str) -> str:
        quoted = shlex.quote(relative or ".")
        result = self.sandbox.exec(
            f"(shopt -s nullglob dotglob; cd /workspace && cd -- {quoted} || exit 1;"
            ' for f in *; do if [ -d "$f" ] && [ ! -L "$f" ]; then printf "%s/\\n" "$f";'
            ' else printf "%s\\n" "$f"; fi; done)'
        )
        entries = result.stdout.splitlines()
        name = f"{relative}/" if relative else "/workspace"
        if not entries:
            return f"{name} is an empty folder."
        return f"{name} holds {len(entries)} entries:\n" + "\n".join(entries)

    def _not_a_file(self, path: str, kind: str) -> str:
        if kind == "missing":
            return f'there is no file or folder {path!r} in /workspace; bash("ls") lists files'
        return f"{path!r} is a {kind}; give the path of a file or folder"

    def _read_text(self, relative: str, path: str, tool: str) -> str:
        if not relative:
            raise ActionError(f"{tool} needs a file path, not the workspace itself")
        try:
            data = self.sandbox.read_file(relative)
        except SandboxError:
            kind = self._kind(relative)
            if kind == "folder":
                raise ActionError(f"{relative} is a folder; {tool} edits files") from None
            raise ActionError(self._not_a_file(path, kind)) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ActionError(f"{relative} is not UTF-8 text; edit it with bash") from None

    def _write(self, relative: str, text: str) -> None:
        try:
            self.sandbox.write_file(relative, text.encode("utf-8"))
        except SandboxError as exc:
            raise ActionError(f"cannot write {relative}: {exc}") from None

    def _edited(self, summary: str, relative: str, first: int, inserted: str) -> ToolResult:
        lines = self.sandbox.read_file(relative).decode("utf-8", "replace").splitlines()
        last = first + max(inserted.count("\n"), 1) - 1
        low, high = max(1, first - _CONTEXT_LINES), min(len(lines), last + _CONTEXT_LINES)
        snippet = [f"{n:>6}\t{lines[n - 1]}" for n in range(low, high + 1)]
        return ToolResult(
            "\n".join([summary, f"{relative}, lines {low}-{high} now read:", *snippet]),
            info={"edited": relative},
        )


def _grade_report(grade: Grade) -> str:
    """What the agent reads after ``submit``: counts and test names, never hidden test code."""
    f2p_passed = sum(outcome == "passed" for outcome in grade.fail_to_pass.values())
    p2p_failed = sorted(t for t, outcome in grade.pass_to_pass.items() if outcome != "passed")
    lines = ["Submitted."]
    if grade.dropped:
        lines.append("Not graded (kept as the task's tree has them):")
        lines += [f"  {path}: {why}" for path, why in list(grade.dropped.items())[:20]]
        if len(grade.dropped) > 20:
            lines.append(f"  ... and {len(grade.dropped) - 20} more")
    if grade.error:
        lines.append(f"The tests could not run: {grade.error}.")
    elif grade.timed_out:
        lines.append("The test run timed out; tests it did not finish count as not passed.")
    lines.append(f"FAIL_TO_PASS: {f2p_passed} of {len(grade.fail_to_pass)} now pass")
    lines += [f"  {outcome:<8}{test}" for test, outcome in grade.fail_to_pass.items()]
    passed = len(grade.pass_to_pass) - len(p2p_failed)
    lines.append(f"PASS_TO_PASS: {passed} of {len(grade.pass_to_pass)} still pass")
    lines += [f"  {grade.pass_to_pass[test]:<8}{test}" for test in p2p_failed[:20]]
    if len(p2p_failed) > 20:
        lines.append(f"  ... and {len(p2p_failed) - 20} more")
    verdict = "yes (reward 1.0)" if grade.resolved else "no (reward 0.0)"
    lines.append(f"Resolved: {verdict}")
    return "\n".join(lines)


def _clip(text: str, budget: int) -> str:
    """``text`` within ``budget`` characters: its start and end, saying how much was cut."""
    if len(text) <= budget:
        return text
    head = budget // 3
    tail = budget - head
    return f"{text[:head]}\n[... {len(text) - budget} characters cut ...]\n{text[-tail:]}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _test_setup(instance: SWEInstance) -> tuple[dict[str, Any], str]:
    """BubblewrapSandbox arguments and the test command of a task's test environment.

    A named environment is the package's test environment (:mod:`prmgym.envs.swe.testenv`,
    built on first use and cached); None is this interpreter's own, bound read-only.
    """
    if instance.environment is None:
        settings = {
            "read_only": [sys.base_prefix, sys.prefix],
            "path": [f"{sys.prefix}/bin"],
            "env": {"PYTHONPATH": "/workspace"},
        }
        return settings, DEFAULT_COMMAND
    entry = catalog.entry_for(instance)
    return testenv.prepare(entry.environment).sandbox_kwargs(), entry.test_command
