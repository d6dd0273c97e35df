"""ReplayVerifier: the shared loop of verifiers that replay a trajectory in a scratch episode.

An environment-aware verifier must not touch the live episode and must score each step only
on the steps up to it. So the SWE, data and web verifiers replay the trajectory, step by
step, in a scratch episode of the same task, reading what each step did there. A subclass
says how to open the scratch episode (with its starting knowledge) and how to score one step;
candidates for test-time search are scored from a snapshot of the replayed state, each
undone before the next.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from prmgym.envs.base import TextEnv
from prmgym.trajectory import Step, StepScore, Trajectory

E = TypeVar("E", bound=TextEnv)
S = TypeVar("S")


class ReplayVerifier(ABC, Generic[E, S]):
    """Scores steps by replaying them in a scratch episode (see the module docs)."""

    name: str

    @abstractmethod
    def _scratch_env(self, trajectory: Trajectory, env: Any) -> tuple[E, str]:
        """A scratch env like ``env`` holding the trajectory's task, not yet reset, and its id."""

    @abstractmethod
    def _initial_state(self, scratch: E) -> S:
        """What the replay knows of the scratch episode just after its reset."""

    def _scratch(self, trajectory: Trajectory, env: Any) -> tuple[E, S]:
        """A scratch episode of the trajectory's task, reset, and what the replay knows.

        A reset or first probe that fails closes the scratch env: its sandbox, browser context
        and temp folders must not outlive a failed score.
        """
        scratch, task_id = self._scratch_env(trajectory, env)
        try:
            scratch.reset(options={"task_id": task_id})
            return scratch, self._initial_state(scratch)
        except BaseException:
            scratch.close()
            raise

    @abstractmethod
    def _score_step(self, step: Step, state: S, scratch: E, *, replay_errors: bool) -> StepScore:
        """Run ``step`` in the scratch episode and score it, updating ``state``.

        ``replay_errors``: a candidate has no recorded error, so the scratch env decides.
        """

    def score(self, trajectory: Trajectory, env: Any = None) -> list[StepScore]:
        """One score per step; needs the env the trajectory ran in."""
        scratch, state = self._scratch(trajectory, env)
        try:
            return [
                self._score_step(step, state, scratch, replay_errors=False)
                for step in trajectory.steps
            ]
        finally:
            scratch.close()

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: Any = None
    ) -> list[StepScore]:
        """Score each candidate as the next step: run from the same state, then undone."""
        scratch, state = self._scratch(trajectory, env)
        try:
            for step in trajectory.steps:
                self._score_step(step, state, scratch, replay_errors=False)
            token = scratch.snapshot()
            scores = []
            for action in candidate_actions:
                step = Step(index=len(trajectory.steps), action=action, observation="")
                branch = copy.deepcopy(state)
                scores.append(self._score_step(step, branch, scratch, replay_errors=True))
                scratch.restore(token)
            return scores
        finally:
            scratch.close()

    def _verdict(self, value: float, label: str, rationale: str) -> StepScore:
        return StepScore(value=value, label=label, rationale=rationale, source=self.name)
