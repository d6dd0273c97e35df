"""TextEnv: the contract every prmgym environment follows.

Observations and actions are text (:class:`~prmgym.envs.spaces.UnicodeText`). ``reset`` takes
``options={"task_id": ...}`` to pick a task, otherwise draws one from the env's task list with
the seeded RNG. ``step`` parses the action; a bad action (unparseable, unknown tool, wrong
arguments) never raises: it returns an observation saying what was wrong and how to act, and
``info["action_error"]`` carries the same. ``reward`` is the env's own verifiable outcome.
Truncation comes from ``max_episode_steps`` at registration (Gymnasium's TimeLimit).

``info`` holds only values that are deterministic for a seed and an action sequence
(``check_env`` compares them); wall-clock figures belong in the trajectory's accounting.

A subclass implements four things: ``task_prompt`` (the first observation), ``tools`` (the
help shown after a bad action), ``execute`` (run a parsed call), and ``probe`` (a read-only
handle for environment-aware PRMs). ``snapshot``/``restore`` are offered where cheap.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium

from prmgym.envs.actions import ActionError, ToolCall, parse_tool_call
from prmgym.envs.spaces import UnicodeText
from prmgym.task import Task


@dataclass
class ToolResult:
    """What a tool call produced: the observation, reward and whether the episode ended."""

    observation: str
    reward: float = 0.0
    terminated: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class TextEnv(gymnasium.Env[str, str], ABC):
    """Base class of every text environment.

    Args:
        tasks: The tasks this env draws from.
        max_observation_chars: Longer observations are cut, with a notice saying so.
        max_action_chars: Longer actions are rejected with an error observation.
        render_mode: ``"ansi"`` returns the last observation from ``render()``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}
    family: ClassVar[str] = "text"
    tool_signatures: ClassVar[Mapping[str, inspect.Signature]] = {}
    """Each tool's parameters (the signature of a stub documenting it), by tool name: what
    :mod:`prmgym.envs.fuzzing` generates calls from. Empty where a family declares none."""

    def __init__(
        self,
        tasks: Sequence[Task],
        *,
        max_observation_chars: int = 6000,
        max_action_chars: int = 2000,
        render_mode: str | None = None,
    ):
        if not tasks:
            raise ValueError(f"{type(self).__name__} needs at least one task")
        self.tasks = list(tasks)
        self._by_id = {task.id: task for task in self.tasks}
        self.max_observation_chars = max_observation_chars
        self.observation_space = UnicodeText(max_length=max_observation_chars)
        self.action_space = UnicodeText(max_length=max_action_chars)
        self.render_mode = render_mode
        self._task: Task | None = None
        self._done = True
        self._step_index = 0
        self._last_observation = ""

    @property
    def task(self) -> Task:
        """The current episode's task (after ``reset``)."""
        if self._task is None:
            raise RuntimeError("call reset() before reading the task")
        return self._task

    # -- what a family implements -------------------------------------------------------
    @abstractmethod
    def task_prompt(self, task: Task) -> str:
        """The first observation of an episode: the instruction and how to act."""

    @abstractmethod
    def tools(self) -> str:
        """A short help text listing the tools and their syntax, shown after a bad action."""

    @abstractmethod
    def execute(self, call: ToolCall) -> ToolResult:
        """Run a parsed tool call; raise :class:`ActionError` for a call that cannot run."""

    def start_episode(self, task: Task) -> None:  # noqa: B027 - optional hook, empty by default
        """Set up per-episode state; called by ``reset`` before ``task_prompt``."""

    @property
    def probe(self) -> Any:
        """A read-only handle into the live environment for environment-aware PRMs."""
        raise NotImplementedError(f"{type(self).__name__} offers no probe")

    def snapshot(self) -> Any:
        """Capture the episode state; raise NotImplementedError where not cheap."""
        raise NotImplementedError(f"{type(self).__name__} cannot snapshot")

    def restore(self, token: Any) -> None:
        """Return to a state captured by :meth:`snapshot`."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore")

    # -- the Gymnasium API --------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode on ``options["task_id"]``, or on a task drawn with the seeded RNG."""
        super().reset(seed=seed)
        task_id = (options or {}).get("task_id")
        if task_id is not None:
            if task_id not in self._by_id:
                raise ValueError(
                    f"unknown task_id {task_id!r}; this env has {len(self.tasks)} tasks,"
                    f" e.g. {self.tasks[0].id!r}"
                )
            task = self._by_id[task_id]
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        self._task = task
        self._done = False
        self._step_index = 0
        self.start_episode(task)
        observation = self._fit(self.task_prompt(task))
        self._last_observation = observation
        return observation, {"task_id": task.id, "step": 0, "action_error": None, "tool": None}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Parse and run one action; errors become observations, never exceptions."""
        info: dict[str, Any] = {"task_id": self._task.id if self._task else None}
        reward, terminated = 0.0, False
        tool: str | None = None
        error: str | None = None
        if self._task is None or self._done:
            error = "the episode is over; call reset() to start a new one"
            observation = f"Error: {error}."
            terminated = self._task is not None
        elif not isinstance(action, str):
            error = f"actions are strings, got {type(action).__name__}"
            observation = f"Error: {error}.\n{self.tools()}"
        elif len(action) > self.action_space.max_length:
            error = (
                f"action is {len(action)} characters; the limit is {self.action_space.max_length}"
            )
            observation = f"Error: {error}.\n{self.tools()}"
        else:
            try:
                call = parse_tool_call(action)
                tool = call.name
                result = self.execute(call)
            except ActionError as exc:
                error = str(exc)
                observation = f"Error: {error}.\n{self.tools()}"
            else:
                observation, reward, terminated = (
                    result.observation,
                    result.reward,
                    result.terminated,
                )
                info.update(result.info)
        if self._task is not None and not self._done:
            self._step_index += 1
        self._done = self._done or terminated
        info.update({"step": self._step_index, "action_error": error, "tool": tool})
        observation = self._fit(observation)
        self._last_observation = observation
        return observation, float(reward), terminated, False, info

    def render(self) -> str | None:
        """The last observation, for ``render_mode="ansi"``."""
        return self._last_observation if self.render_mode == "ansi" else None

    def _fit(self, text: str) -> str:
        limit = self.max_observation_chars
        if len(text) <= limit:
            return text
        notice = f"\n[... cut: {len(text) - limit} more characters]"
        return text[: limit - len(notice)] + notice
