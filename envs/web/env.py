"""WebEnv: do what the user asks on real web sites, in a real Chromium, BrowserGym style.

Each episode resets the project's sites (:mod:`prmgym.envs.web.sites`) to the task's seed and
opens a fresh browser context on the task's start page. Observations are the page's URL,
title, the last action's error and its accessibility tree with element ids
(:mod:`prmgym.envs.web.page`); actions are BrowserGym's (:mod:`prmgym.envs.web.actions`),
parsed without running agent text.

The episode ends, reward 1.0, as soon as the task's success predicates all hold (an order
placed, a post edited); ``send_msg_to_user`` ends it too, graded then (an answer task's reply
is checked). ``info["checklist"]`` holds which of the task's subgoals have been reached so
far: a subgoal counts once it held (placing an order empties the cart the earlier subgoals
filled).

The browser reaches only the episode's own sites (and ``file:`` pages of generic tasks):
every other request is aborted, so no action reaches the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prmgym.envs.actions import ActionError, ToolCall
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.envs.web.actions import SIGNATURES, TOOLS_HELP, bind_call, perform
from prmgym.envs.web.browser import Browser, shared_browser
from prmgym.envs.web.generic import GenericWebTask
from prmgym.envs.web.page import accessibility_tree
from prmgym.envs.web.predicates import PredicateContext, evaluate
from prmgym.envs.web.sites.server import SiteServer
from prmgym.envs.web.tasks import WebTask, load_task_file
from prmgym.errors import TaskError
from prmgym.task import Task

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Page, Route

_STEP_TIMEOUT_S = 30.0
_ALWAYS_ALLOWED = ("about:", "data:", "blob:")


class WebProbe:
    """Read-only view of a live web episode, for environment-aware PRMs."""

    def __init__(self, env: WebEnv):
        self._env = env

    @property
    def task(self) -> Task:
        """The current task, privileged data included."""
        return self._env.task

    @property
    def url(self) -> str:
        """The page's URL now."""
        return self._env.url

    def checklist(self) -> list[bool]:
        """Which of the task's subgoals were reached so far."""
        return self._env.checklist()

    def succeeded(self) -> bool:
        """Whether the task's success check holds now."""
        return self._env.succeeded()

    def page_text(self) -> str:
        """The page as the agent sees it (URL, title, accessibility tree)."""
        return self._env.page_text()


class WebEnv(TextEnv):
    """Web tasks on the project's sites (or any page) in a real Chromium.

    Args:
        tasks: Tasks made by :meth:`WebTask.to_task` or :meth:`GenericWebTask.to_task`, or
            those task objects themselves.
        tasks_file: A JSONL file of web tasks, or a packaged set's name; default ``web-lite``.
        split: Which split to use (``all`` for every task); tasks given as objects are used
            as they are.
        browser: The browser to use; default this process's shared one.
        max_observation_chars: Longer observations are cut, with a notice saying so.
        max_action_chars: Longer actions are refused.
        screenshots: A folder to save a PNG of the page after every step into (its path is
            in ``info["screenshot"]``); None takes none.
        render_mode: ``"ansi"`` returns the last observation from ``render()``.
    """

    family = "web"
    tool_signatures = SIGNATURES

    def __init__(
        self,
        tasks: Sequence[Task | WebTask | GenericWebTask] | None = None,
        *,
        tasks_file: str | Path | None = None,
        split: str = "test",
        browser: Browser | None = None,
        max_observation_chars: int = 8000,
        max_action_chars: int = 1000,
        screenshots: str | Path | None = None,
        render_mode: str | None = None,
    ):
        web_tasks = _load(tasks, tasks_file, split)
        super().__init__(
            [task.to_task() for task in web_tasks],
            max_observation_chars=max_observation_chars,
            max_action_chars=max_action_chars,
            render_mode=render_mode,
        )
        self._web_tasks = {task.id: task for task in web_tasks}
        self._browser = browser
        self._shared = browser is None
        self._server: SiteServer | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._cdp: CDPSession | None = None
        self._message: str | None = None
        self._reached: list[bool] = []
        self._restarted: str | None = None
        self._episode = 0
        self.screenshots = Path(screenshots) if screenshots is not None else None

    # -- episode state ------------------------------------------------------------------
    @property
    def web_task(self) -> WebTask | GenericWebTask:
        """The current episode's task object (after ``reset``)."""
        return self._web_tasks[self.task.id]

    @property
    def probe(self) -> WebProbe:
        """A read-only handle for environment-aware PRMs (see :class:`WebProbe`)."""
        return WebProbe(self)

    @property
    def browser(self) -> Browser:
        """The browser this env drives (started on first use, and again if the shared one died)."""
        if self._browser is None or (self._shared and not self._browser.alive):
            self._browser = shared_browser()
        return self._browser

    @property
    def server(self) -> SiteServer:
        """The project's sites, served for this env (started on first use)."""
        if self._server is None:
            self._server = SiteServer().start()
        return self._server

    @property
    def url(self) -> str:
        """The page's URL now."""
        return self._page.url if self._page is not None else ""

    def task_prompt(self, task: Task) -> str:
        """The goal, the first page and the actions."""
        return f"Goal: {task.instruction}\n\n{self.page_text()}\n\n{TOOLS_HELP}"

    def tools(self) -> str:
        """After a bad action: the page as it is, then the actions."""
        return f"{self.page_text()}\n\n{TOOLS_HELP}"

    def start_episode(self, task: Task) -> None:
        """Reset the sites to the task's seed and open its start page in a fresh context."""
        web_task = self._web_tasks[task.id]
        if isinstance(web_task, WebTask):
            self.server.reset(web_task.seed)
        start = self._start_url()
        self._message = None
        self._episode += 1
        self._run(self._open(start))
        self._reached = [False] * len(getattr(web_task, "checklist", []))
        self._update_checklist()

    async def _open(self, url: str) -> None:
        await self._close_context()
        assert self.browser.browser is not None
        self._context = await self.browser.browser.new_context(
            viewport={"width": 1280, "height": 720}, service_workers="block"
        )
        await self._context.route("**/*", self._filter)
        self._page = await self._context.new_page()
        self._cdp = await self._context.new_cdp_session(self._page)
        try:
            await self._page.goto(url, wait_until="domcontentloaded")
        except Exception as exc:
            raise TaskError(f"the start page {url} did not load: {exc}") from exc

    async def _filter(self, route: Route) -> None:
        """Let requests to the episode's own pages through; abort every other one."""
        url = route.request.url
        if url.startswith(self._allowed_origins()):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    def _allowed_origins(self) -> tuple[str, ...]:
        web_task = self._web_tasks[self.task.id]
        if isinstance(web_task, GenericWebTask):
            return (*_ALWAYS_ALLOWED, *web_task.allowed_origins())
        return (*_ALWAYS_ALLOWED, *(self.server.url(site) + "/" for site in self.server.sites))

    # -- what the agent sees ------------------------------------------------------------
    def page_text(self) -> str:
        """URL, title and accessibility tree of the page now."""
        return self._run(self._page_text())

    async def _page_text(self) -> str:
        assert self._page is not None and self._cdp is not None
        try:
            title = await self._page.title()
            tree = await accessibility_tree(self._page, self._cdp)
        except Exception as exc:  # a page mid-navigation: the next observation will show it
            title, tree = "", f"(the page could not be read: {str(exc).splitlines()[0]})"
        return f"URL: {self._page.url}\nTitle: {title}\nAccessibility tree:\n{tree}"

    # -- checks -------------------------------------------------------------------------
    def _context_now(self) -> PredicateContext:
        return PredicateContext(server=self.server, url=self.url, message=self._message)

    def checklist(self) -> list[bool]:
        """Which of the task's subgoals were reached this episode (generic tasks have none)."""
        return list(self._reached)

    def _update_checklist(self) -> None:
        web_task = self.web_task
        if isinstance(web_task, WebTask):
            context = self._context_now()
            self._reached = [
                reached or evaluate(predicate, context)
                for reached, predicate in zip(self._reached, web_task.checklist, strict=True)
            ]

    def succeeded(self) -> bool:
        """Whether the task's success check holds now."""
        web_task = self.web_task
        if isinstance(web_task, GenericWebTask):
            return bool(self._run(web_task.check(self._page, self._message)))
        context = self._context_now()
        return all(evaluate(predicate, context) for predicate in web_task.success)

    # -- actions ------------------------------------------------------------------------
    def execute(self, call: ToolCall) -> ToolResult:
        """Carry out one BrowserGym action, then read the page and the task's checks."""
        arguments = bind_call(call)
        if call.name == "send_msg_to_user":
            self._message = arguments["text"]
        else:
            self._act(call, arguments)
        success = self.succeeded()
        self._update_checklist()
        done = success or call.name == "send_msg_to_user"
        observation = self.page_text()
        if call.name == "send_msg_to_user":
            observation = f"Message sent to the user.\n\n{observation}"
        info: dict[str, Any] = {"url": self.url, "checklist": self.checklist(), "success": success}
        if self.screenshots is not None:
            info["screenshot"] = self._screenshot()
        if self._restarted:
            info["browser_restarted"] = self._restarted
            observation = f"[browser restarted: {self._restarted}]\n\n{observation}"
            self._restarted = None
        return ToolResult(observation, reward=1.0 if success else 0.0, terminated=done, info=info)

    def _act(self, call: ToolCall, arguments: dict[str, Any]) -> None:
        """Carry out the action; a page or browser that died is reopened, the episode marked."""
        page = self._require_page()
        try:
            self._run(perform(page, call, arguments, self.url))
        except ActionError:
            if not page.is_closed() and self._browser is not None and self._browser.alive:
                raise
            self._restarted = (
                "the page or the browser had crashed; a new page opened the start page"
                " (the sites' state is kept, and so are the subgoals reached)"
            )
            self._run(self._open(self._start_url()))

    def _start_url(self) -> str:
        web_task = self.web_task
        if isinstance(web_task, WebTask):
            return self.server.url(web_task.site) + web_task.start_path
        return web_task.url

    def _screenshot(self) -> str:
        """Save the page as PNG, named by task, episode and step; returns the file's path."""
        assert self.screenshots is not None
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.task.id)
        path = self.screenshots / f"{name}-episode{self._episode}-step{self._step_index + 1}.png"
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self._run(self._require_page().screenshot(path=str(path)))
        return str(path)

    def _require_page(self) -> Page:
        if self._page is None:
            raise RuntimeError("call reset() before acting")
        return self._page

    def _run(self, coroutine: Any) -> Any:
        return self.browser.run(coroutine, timeout=_STEP_TIMEOUT_S)

    # -- snapshots ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The sites' state, the browser's cookies and the page's URL (not unsent form input)."""
        assert self._context is not None
        return {
            "episode": self._episode,
            "sites": self.server.snapshot() if self._server is not None else None,
            "storage": self._run(self._context.storage_state()),
            "url": self.url,
            "message": self._message,
            "reached": list(self._reached),
            "step": self._step_index,
            "done": self._done,
        }

    def restore(self, token: dict[str, Any]) -> None:
        """Return to a snapshot of this episode: the sites' state, cookies and page."""
        if token.get("episode") != self._episode:
            raise ValueError("this snapshot belongs to another episode; take one after reset()")
        if token["sites"] is not None:
            self.server.restore(token["sites"])
        self._run(self._reopen(token["url"], token["storage"]))
        self._message = token["message"]
        self._reached = list(token["reached"])
        self._step_index = token["step"]
        self._done = token["done"]

    async def _reopen(self, url: str, storage: dict[str, Any]) -> None:
        await self._close_context()
        assert self.browser.browser is not None
        self._context = await self.browser.browser.new_context(
            viewport={"width": 1280, "height": 720},
            service_workers="block",
            storage_state=storage,  # type: ignore[arg-type]
        )
        await self._context.route("**/*", self._filter)
        self._page = await self._context.new_page()
        self._cdp = await self._context.new_cdp_session(self._page)
        await self._page.goto(url, wait_until="domcontentloaded")

    # -- cleanup ------------------------------------------------------------------------
    async def _close_context(self) -> None:
        if self._context is not None:
            try:
                await self._context.close()
            except Exception:  # the browser may have crashed; the context is gone with it
                pass
        self._context, self._page, self._cdp = None, None, None

    def close(self) -> None:
        """Close the episode's context and stop the sites."""
        if self._context is not None and self._browser is not None:
            try:
                self._run(self._close_context())
            except Exception:  # a dead browser has closed its contexts itself
                self._context = None
        if self._server is not None:
            self._server.close()
            self._server = None
        super().close()


def _load(
    tasks: Sequence[Task | WebTask | GenericWebTask] | None,
    tasks_file: str | Path | None,
    split: str,
) -> list[WebTask | GenericWebTask]:
    """The tasks an env runs: given ones as they are, else a file's or web-lite's split."""
    if tasks is not None and tasks_file is not None:
        raise ValueError("give tasks or tasks_file, not both")
    if tasks is not None:
        return [_task_object(task) for task in tasks]
    found = load_task_file(tasks_file or "web-lite")
    chosen: list[WebTask | GenericWebTask] = [
        t for t in found if split == "all" or t.split == split
    ]
    if not chosen:
        splits = sorted({t.split for t in found})
        raise TaskError(f"no web tasks in split {split!r}; the splits are {splits} and 'all'")
    return chosen


def _task_object(task: Task | WebTask | GenericWebTask) -> WebTask | GenericWebTask:
    if isinstance(task, WebTask | GenericWebTask):
        return task
    if task.privileged.get("generic"):
        return GenericWebTask.from_task(task)
    return WebTask.from_task(task)
