"""DataEnv: answer a question about real tables with a persistent Python kernel in a sandbox.

Tools (action strings, parsed without running anything in the host)::

    python("code")               run code in the episode's kernel (variables persist)
    answer("@name[value] ...")   the final answer in the task's format; ends the episode

Each episode gets its own bubblewrap sandbox, its workspace seeded with the task's tables as
CSV files, and a kernel (:mod:`prmgym.envs.data.kernel`) with pandas and numpy. The answer is
graded the DABench way (:mod:`prmgym.envs.data.answers`): reward 1.0 when every part is right,
else 0.0; ``info["fraction"]`` holds the share of parts right.

A kernel that dies, stops or breaks its protocol (a crash, a memory or CPU limit, code deaf to
the timeout, agent code that stopped or patched it) is restarted; the observation says so and
``info["kernel_restarted"]`` holds why, so the episode can be marked. ``snapshot``/``restore``
fork the kernel and copy the workspace's files to the host, for lookahead and beam search.

Tasks: the packaged ``data-lite`` set by default, a task file, task objects, or an
InfiAgent-DABench folder (``dabench="path/to/data"``).
"""

from __future__ import annotations

import hashlib
import inspect
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prmgym.envs.actions import ActionError, ToolCall, bind_arguments
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.envs.data.answers import EXAMPLE, grade, parse_answers
from prmgym.envs.data.kernel import Execution, Kernel
from prmgym.envs.data.tasks import DataTask, load_task_file, seed_workspace
from prmgym.errors import SandboxError, TaskError
from prmgym.sandboxes.base import SandboxLimits
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from prmgym.task import Task

TOOLS_HELP = """Tools (write exactly one call per turn; arguments are Python literals):
  python("code")              run Python in a persistent kernel (variables persist between
                              calls; pandas and numpy are installed; the tables are CSV
                              files in the working directory); a final expression is shown
  answer("@name[value] ...")  give the final answer in the requested format; ends the episode
Multi-line code: use "\\n" or triple quotes, e.g. python(\"\"\"import pandas as pd
df = pd.read_csv("table.csv")
df.describe()\"\"\")"""


def _python(code: str) -> None: ...
def _answer(text: str) -> None: ...


_SIGNATURES = {"python": inspect.signature(_python), "answer": inspect.signature(_answer)}


def bind_call(call: ToolCall) -> dict[str, Any]:
    """Bind a parsed call to its tool's parameters, or raise ActionError."""
    return bind_arguments(call, _SIGNATURES)


_FRAMES_PROBE = """
import sys
_pd = sys.modules.get("pandas")
_found = {}
if _pd is not None:
    for _name, _value in list(globals().items()):
        if _name.startswith("_") or len(_found) >= 50:
            continue
        if isinstance(_value, _pd.DataFrame):
            _found[_name] = {
                "kind": "frame", "rows": len(_value), "columns": [str(c) for c in _value.columns],
                "dtypes": {str(c): str(t) for c, t in _value.dtypes.items()},
                "nans": {str(c): int(n) for c, n in _value.isna().sum().items()},
            }
        elif isinstance(_value, _pd.Series):
            _found[_name] = {
                "kind": "series", "rows": len(_value), "columns": [""],
                "dtypes": {"": str(_value.dtype)}, "nans": {"": int(_value.isna().sum())},
            }
__probe_result__ = _found
"""

_DIGESTS_PROBE = """
import hashlib, os
__probe_result__ = {{}}
for _file in {files!r}:
    _path = os.path.join("/workspace", _file)
    if os.path.isfile(_path) and not os.path.islink(_path):
        with open(_path, "rb") as _handle:
            __probe_result__[_file] = hashlib.sha256(_handle.read()).hexdigest()
    else:
        __probe_result__[_file] = None
"""


class DataProbe:
    """Read-only view of a live data episode, for environment-aware PRMs.

    Code it runs runs in a fork of the kernel: it sees every variable and changes none. That
    fork is the agent's interpreter, so anything agent code patched (the kernel server,
    ``os``, ``hashlib``, ``builtins``) is patched there too: what it reports is only as honest
    as the agent. The table files' digests are therefore read from the host
    (:meth:`table_digests`), and :meth:`kernel_digests` asks the kernel the same question so
    a verifier can catch a kernel that lies.
    """

    def __init__(self, env: DataEnv):
        self._env = env

    @property
    def task(self) -> Task:
        """The current task, privileged data included."""
        return self._env.task

    @property
    def data_task(self) -> DataTask:
        """The current data task: answers, tolerance, reference code."""
        return self._env.data_task

    def evaluate(self, code: str, timeout: float = 10.0) -> Any:
        """The JSON value ``code`` leaves in ``__probe_result__``, run in a fork of the kernel."""
        return self._env.kernel.probe(code, timeout)

    def frames(self) -> dict[str, dict[str, Any]]:
        """Every pandas DataFrame and Series in the kernel's namespace, summarised.

        Each summary holds ``kind`` (``frame`` or ``series``), ``rows``, ``columns`` and, per
        column, ``dtypes`` and ``nans`` (a series is one column named ``""``).
        """
        return dict(self.evaluate(_FRAMES_PROBE))

    def table_digests(self) -> dict[str, str | None]:
        """SHA-256 of each of the task's table files as they are now (None: gone).

        Read by the host through the sandbox's file API (links are not followed: a link or
        anything but a regular file counts as gone), so no code in the sandbox can fake it.
        """
        sandbox = self._env.sandbox
        found: dict[str, str | None] = {}
        for name in self._env.data_task.files():
            try:
                found[name] = hashlib.sha256(sandbox.read_file(name)).hexdigest()
            except (SandboxError, OSError):
                found[name] = None
        return found

    def shipped_digests(self) -> dict[str, str]:
        """SHA-256 of each of the task's table files as the task ships them (read on the host)."""
        seed = self._env._seed(self._env.data_task)
        return {
            name: hashlib.sha256((seed / name).read_bytes()).hexdigest()
            for name in self._env.data_task.files()
        }

    def kernel_digests(self) -> dict[str, str | None]:
        """The table digests as the kernel computes them, in a fork (agent code may lie here)."""
        files = self._env.data_task.files()
        return dict(self.evaluate(_DIGESTS_PROBE.format(files=files)))


class DataEnv(TextEnv):
    """Data analysis with a sandboxed Python kernel over real tables, graded the DABench way.

    Args:
        tasks: Tasks made by :meth:`DataTask.to_task`, or data tasks themselves.
        tasks_file: A JSONL file of data tasks, or a packaged set's name; default
            ``data-lite``.
        dabench: An InfiAgent-DABench folder (``da-dev-questions.jsonl``,
            ``da-dev-labels.jsonl``, ``da-dev-tables/``) to run as it is published.
        split: Which split to use (``all`` for every task); tasks given as objects are used
            as they are.
        limits: Resource limits of each episode's sandbox.
        cell_timeout_s: Seconds one ``python`` call may run before it is interrupted.
        max_observation_chars: Longer observations are cut, with a notice saying so.
        max_action_chars: Longer actions are refused.
        render_mode: ``"ansi"`` returns the last observation from ``render()``.
    """

    family = "data"
    tool_signatures = _SIGNATURES

    def __init__(
        self,
        tasks: Sequence[Task | DataTask] | None = None,
        *,
        tasks_file: str | Path | None = None,
        dabench: str | Path | None = None,
        split: str = "test",
        limits: SandboxLimits | None = None,
        cell_timeout_s: float = 30.0,
        max_observation_chars: int = 6000,
        max_action_chars: int = 8000,
        render_mode: str | None = None,
    ):
        data_tasks = _load(tasks, tasks_file, dabench, split)
        super().__init__(
            [task.to_task() for task in data_tasks],
            max_observation_chars=max_observation_chars,
            max_action_chars=max_action_chars,
            render_mode=render_mode,
        )
        self._data_tasks = {task.id: task for task in data_tasks}
        self.limits = limits or SandboxLimits()
        self.cell_timeout_s = cell_timeout_s
        self._seeds_root: Path | None = None
        self._seeds: dict[str, Path] = {}
        self._sandbox: BubblewrapSandbox | None = None
        self._kernel: Kernel | None = None
        self._episode = 0

    # -- episode state ------------------------------------------------------------------
    @property
    def data_task(self) -> DataTask:
        """The current episode's data task (after ``reset``)."""
        return self._data_tasks[self.task.id]

    @property
    def kernel(self) -> Kernel:
        """The current episode's kernel (after ``reset``)."""
        if self._kernel is None:
            raise RuntimeError("call reset() before using the kernel")
        return self._kernel

    @property
    def sandbox(self) -> BubblewrapSandbox:
        """The current episode's sandbox (after ``reset``)."""
        if self._sandbox is None:
            raise RuntimeError("call reset() before using the sandbox")
        return self._sandbox

    @property
    def probe(self) -> DataProbe:
        """A read-only handle for environment-aware PRMs (see :class:`DataProbe`)."""
        return DataProbe(self)

    def task_prompt(self, task: Task) -> str:
        """The question, its constraints and answer format, the files, and the tools."""
        return f"{task.instruction}\n\n{TOOLS_HELP}"

    def tools(self) -> str:
        """Tool syntax, shown after a bad action."""
        return TOOLS_HELP

    def start_episode(self, task: Task) -> None:
        """A fresh sandbox seeded with the task's tables, and a fresh kernel in it."""
        self._close_sandbox()
        seed = self._seed(self._data_tasks[task.id])
        prefix, python = kernel_interpreter()
        self._sandbox = BubblewrapSandbox(
            seed,
            limits=self.limits,
            # This interpreter's environment, read-only: the kernel's pandas and numpy.
            read_only=[sys.base_prefix, prefix],
            path=[f"{prefix}/bin"],
        )
        self._sandbox.start()
        self._kernel = Kernel(
            self._sandbox,
            python=python,
            timeout_s=self.cell_timeout_s,
            max_output_chars=self.max_observation_chars,
        )
        self._kernel.start()
        self._episode += 1

    def snapshot(self) -> dict[str, Any]:
        """Freeze a fork of the kernel and a copy of the workspace's files."""
        return {
            "episode": self._episode,
            "kernel": self.kernel.snapshot(),
            "step": self._step_index,
            "done": self._done,
        }

    def restore(self, token: dict[str, Any]) -> None:
        """Return to a snapshot of this episode: its variables, files and step count."""
        if token.get("episode") != self._episode:
            raise ValueError("this snapshot belongs to another episode; take one after reset()")
        self.kernel.restore(token["kernel"])
        self._step_index = token["step"]
        self._done = token["done"]

    def close(self) -> None:
        """Stop the episode's sandbox and delete the seed folders."""
        self._close_sandbox()
        if self._seeds_root is not None:
            shutil.rmtree(self._seeds_root, ignore_errors=True)
            self._seeds_root = None
            self._seeds.clear()
        super().close()

    def _close_sandbox(self) -> None:
        if self._kernel is not None:
            self._kernel.close()
        if self._sandbox is not None:
            self._sandbox.close()
        self._sandbox, self._kernel = None, None

    def _seed(self, task: DataTask) -> Path:
        """The folder a task's workspaces start from, written once per set of tables."""
        key = hashlib.sha256(f"{task.tables_dir}|{'|'.join(task.tables)}".encode()).hexdigest()
        if key not in self._seeds:
            if self._seeds_root is None:
                self._seeds_root = Path(tempfile.mkdtemp(prefix="prmgym-data-"))
            folder = self._seeds_root / key[:16]
            seed_workspace(task, folder)
            self._seeds[key] = folder
        return self._seeds[key]

    # -- tools --------------------------------------------------------------------------
    def execute(self, call: ToolCall) -> ToolResult:
        """Run ``python`` in the kernel, or grade ``answer``."""
        arguments = bind_call(call)
        if call.name == "python":
            return self._run_python(arguments["code"])
        return self._run_answer(arguments["text"])

    def _run_python(self, code: Any) -> ToolResult:
        if not isinstance(code, str) or not code.strip():
            raise ActionError('python needs code as text, e.g. python("print(1 + 1)")')
        result = self.kernel.execute(code)
        info: dict[str, Any] = {
            "error": result.error["ename"] if result.error else None,
            "timed_out": result.timed_out,
        }
        if result.restarted:
            info["kernel_restarted"] = result.restarted
        return ToolResult(self._format(result), info=info)

    def _format(self, result: Execution) -> str:
        lines: list[str] = []
        if result.stdout:
            lines += ["[stdout]", result.stdout.rstrip("\n")]
        if result.stderr:
            lines += ["[stderr]", result.stderr.rstrip("\n")]
        if result.result is not None:
            lines += ["[result]", result.result]
        if result.error is not None:
            lines += ["[error]", result.error["traceback"].rstrip("\n")]
        if result.dropped:
            lines.append(
                f"[output cut: {result.dropped} more characters; print less, e.g. df.head()]"
            )
        if result.restarted:
            lines.append(f"[kernel restarted: {result.restarted}]")
        if not lines:
            lines.append("(no output)")
        return "\n".join(lines)

    def _run_answer(self, text: Any) -> ToolResult:
        if not isinstance(text, str):
            raise ActionError(f'answer takes text, e.g. answer("{EXAMPLE}")')
        parsed = parse_answers(text)
        if not parsed.values:
            raise ActionError(
                " ".join(parsed.errors) or f'no @name[value] parts; answer like answer("{EXAMPLE}")'
            )
        task = self.data_task
        result = grade(parsed.values, task.answers, task.tolerance)
        reward = 1.0 if result.correct else 0.0
        lines = [f"Answer submitted: {result.n_correct} of {len(result.parts)} parts correct."]
        lines += [
            f"  @{part.name}: {'correct' if part.correct else 'wrong' if part.given else 'missing'}"
            for part in result.parts
        ]
        lines += [f"  note: {error}" for error in parsed.errors]
        info = {
            "correct": result.correct,
            "success": result.correct,
            "fraction": result.fraction,
            "parts": {part.name: part.correct for part in result.parts},
            "answer_errors": list(parsed.errors),
        }
        return ToolResult("\n".join(lines), reward=reward, terminated=True, info=info)


def kernel_interpreter() -> tuple[str, str]:
    """This process's environment prefix and interpreter as the sandbox can reach them.

    The sandbox binds paths with their links resolved, so a virtual environment reached
    through a link (``.venv -> elsewhere``) exists there only at its target: the interpreter
    is named through the target's ``bin`` (not resolved itself, since a venv's ``python`` is
    a link to the base interpreter and must keep finding its ``pyvenv.cfg``).
    """
    executable = Path(sys.executable)
    return str(Path(sys.prefix).resolve()), str(executable.parent.resolve() / executable.name)


def _load(
    tasks: Sequence[Task | DataTask] | None,
    tasks_file: str | Path | None,
    dabench: str | Path | None,
    split: str,
) -> list[DataTask]:
    """The tasks an env runs: given ones as they are, else a file's, DABench's or data-lite's."""
    if sum(source is not None for source in (tasks, tasks_file, dabench)) > 1:
        raise ValueError("give one of tasks, tasks_file and dabench")
    if tasks is not None:
        return [t if isinstance(t, DataTask) else DataTask.from_task(t) for t in tasks]
    if dabench is not None:
        from prmgym.envs.data.dabench import load_dabench_folder

        found = load_dabench_folder(dabench)
    else:
        found = load_task_file(tasks_file or "data-lite")
    chosen = [t for t in found if split == "all" or t.split == split]
    if not chosen:
        splits = sorted({t.split for t in found})
        raise TaskError(f"no data tasks in split {split!r}; the splits are {splits} and 'all'")
    return chosen
