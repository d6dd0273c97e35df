"""WebVerifier: an environment-aware PRM for the web family, scoring checklist progress.

Each web task carries a checklist of subgoal predicates over the sites' server state, the
page's URL and the agent's reply (:mod:`prmgym.envs.web.predicates`). The verifier replays
the trajectory in a scratch episode of the same task (its own sites and browser context, reset
to the task's seed; element ids are stable, so the replay is exact) and after each step reads
which subgoals have been reached (a subgoal counts once it held: placing an order empties
the cart that earlier subgoals filled):

- ``ok`` (1.0 when a subgoal newly holds or the task is done; 0.6 for moving to another page
  of the task's site without progress yet);
- ``correctable`` (0.3 for a no-op, an action that changed neither the page nor the sites;
  0.4 for a wrong page, one that is off the task's site or an error page; 0.25 for a
  rejected action);
- ``fatal`` (0.0: a reply that ends the episode without the task done).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prmgym.envs.actions import ActionError, parse_tool_call
from prmgym.envs.web.env import WebEnv
from prmgym.envs.web.tasks import WebTask
from prmgym.rewards.verifiers.replay import ReplayVerifier
from prmgym.trajectory import Step, StepScore, Trajectory

# How the sites' error pages (and common servers') title themselves.
_ERROR_TITLES = ("page not found", "not found", "error", "bad request", "404", "500")


@dataclass
class _State:
    """What the replay knows after the steps so far."""

    held: list[bool] = field(default_factory=list)
    page: str = ""
    sites: Any = None


class WebVerifier(ReplayVerifier[WebEnv, _State]):
    """Scores web steps by replaying them and reading the task's checklist."""

    name = "web-verifier"

    def _scratch_env(self, trajectory: Trajectory, env: Any) -> tuple[WebEnv, str]:
        live = getattr(env, "unwrapped", env)
        if not isinstance(live, WebEnv):
            raise ValueError(
                "web-verifier is environment-aware: pass the WebEnv the trajectory ran in"
                " (score(trajectory, env=env))"
            )
        task = WebTask.from_task(trajectory.task)
        return WebEnv([task], browser=live.browser), task.id

    def _initial_state(self, scratch: WebEnv) -> _State:
        return _State(scratch.checklist(), scratch.page_text(), scratch.server.snapshot())

    def _score_step(
        self, step: Step, state: _State, scratch: WebEnv, *, replay_errors: bool = False
    ) -> StepScore:
        try:
            parse_tool_call(step.action)
        except ActionError as exc:
            return self._verdict(0.25, "correctable", f"action rejected: {exc}")
        if step.action_error is not None and not replay_errors:
            return self._verdict(0.25, "correctable", f"action rejected: {step.action_error}")
        observation, reward, terminated, _, info = scratch.step(step.action)
        if info.get("action_error"):
            return self._verdict(0.25, "correctable", f"action rejected: {info['action_error']}")
        before, state.held = state.held, info["checklist"]
        page, state.page = state.page, scratch.page_text()
        sites, state.sites = state.sites, scratch.server.snapshot()
        total = len(state.held)
        if reward > 0:
            return self._verdict(1.0, "ok", "the task is done")
        if terminated:
            return self._verdict(0.0, "fatal", "the reply ends the episode with the task not done")
        gained = [i for i, held in enumerate(state.held) if held and not before[i]]
        done = sum(state.held)
        if gained:
            return self._verdict(
                1.0, "ok", f"reaches subgoal {gained[0] + 1} of {total} ({done} hold now)"
            )
        if page == state.page and sites == state.sites:
            return self._verdict(0.3, "correctable", "changes neither the page nor the site")
        if self._wrong_page(scratch):
            return self._verdict(0.4, "correctable", f"goes to a wrong page ({scratch.url})")
        return self._verdict(0.6, "ok", f"moves on without new progress ({done} of {total} hold)")

    @staticmethod
    def _wrong_page(scratch: WebEnv) -> bool:
        task = scratch.web_task
        assert isinstance(task, WebTask)
        if not scratch.url.startswith(scratch.server.url(task.site) + "/"):
            return True
        title = scratch.page_text().split("\n", 2)[1].removeprefix("Title: ").lower()
        return title.startswith(_ERROR_TITLES)
