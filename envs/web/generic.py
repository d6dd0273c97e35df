"""Web tasks on any page: a URL, a goal, and a success check in JavaScript or Python.

Bring a MiniWoB-style task, a local HTML file or a page you serve::

    task = GenericWebTask(
        id="click-the-button",
        goal="Click the button labelled OK.",
        url="file:///path/to/page.html",
        success_js="document.querySelector('#result').textContent === 'clicked'",
    )
    env = gymnasium.make("prmgym/Web-v0", tasks=[task])

``success_js`` is an expression evaluated in the page after every step (truthy: solved).
``success`` is a Python callable given a :class:`PageState` (URL, HTML, the agent's last
message); it lives in this process, so a task with one cannot be written to a task file, and
its env must run here (not in a subprocess of an async vector env).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prmgym.errors import TaskError
from prmgym.task import Task

if TYPE_CHECKING:
    from playwright.async_api import Page

FAMILY = "web"

_CHECKS: dict[str, Callable[[PageState], bool]] = {}
"""Python success checks of the generic tasks made in this process, by task id."""


@dataclass(frozen=True)
class PageState:
    """What a Python success check sees after a step."""

    url: str
    html: str
    message: str | None
    """The agent's last ``send_msg_to_user`` text, if any."""


class GenericWebTask:
    """A task on any ``file://`` or ``http(s)://`` page (see the module docs).

    Args:
        id: Unique among the env's tasks.
        goal: What the agent is asked to do.
        url: The start page.
        success_js: A JavaScript expression, truthy once the task is done.
        success: A Python check of the page instead (in-process only).
        split: The task's split.

    Raises:
        TaskError: Neither or both checks are given, or the URL is not file or http(s).
    """

    def __init__(
        self,
        id: str,
        goal: str,
        url: str,
        *,
        success_js: str | None = None,
        success: Callable[[PageState], bool] | None = None,
        split: str = "test",
    ):
        if (success_js is None) == (success is None):
            raise TaskError(f"web task {id!r}: give one success check, success_js or success")
        if urlsplit(url).scheme not in ("file", "http", "https"):
            raise TaskError(f"web task {id!r}: {url!r} is not a file:// or http(s):// URL")
        self.id, self.goal, self.url, self.split = id, goal, url, split
        self.success_js = success_js
        if success is not None:
            _CHECKS[id] = success

    def allowed_origins(self) -> tuple[str, ...]:
        """URL prefixes the browser may load: the start page's origin (every file for file://)."""
        parts = urlsplit(self.url)
        if parts.scheme == "file":
            return ("file://",)
        return (f"{parts.scheme}://{parts.netloc}/",)

    async def check(self, page: Page | None, message: str | None) -> bool:
        """Whether the task is done on ``page`` now."""
        if page is None:
            return False
        if self.success_js is not None:
            try:
                return bool(await page.evaluate(f"() => Boolean({self.success_js})"))
            except Exception:  # a page mid-navigation, or a check that throws: not done
                return False
        state = PageState(url=page.url, html=await page.content(), message=message)
        return bool(_CHECKS[self.id](state))

    def to_task(self) -> Task:
        """The generic task: the goal shown; the URL and the check privileged."""
        privileged: dict[str, Any] = {"generic": True, "url": self.url}
        if self.success_js is not None:
            privileged["success_js"] = self.success_js
        return Task(
            id=self.id,
            family=FAMILY,
            instruction=self.goal,
            privileged=privileged,
            split=self.split,
        )

    @classmethod
    def from_task(cls, task: Task) -> GenericWebTask:
        """The generic web task a :meth:`to_task` task holds.

        Raises:
            TaskError: Its Python check was made in another process (it cannot travel).
        """
        js = task.privileged.get("success_js")
        check = _CHECKS.get(task.id)
        if js is None and check is None:
            raise TaskError(
                f"web task {task.id!r} has a Python success check made in another process;"
                " give it success_js to use it here"
            )
        return cls(
            task.id, task.instruction, task.privileged["url"], success_js=js, success=check,
            split=task.split,
        )  # fmt: skip
