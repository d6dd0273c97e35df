"""SWEVerifier: an environment-aware PRM for the SWE family.

It replays the trajectory step by step in a scratch episode of the same task (its own
sandbox, from the same seed), so every score sees only the steps up to its own (causal) and the
live episode is never touched. What a step changed comes from the scratch env's own listing of
the workspace (``info["workspace"]``), whatever tool made the change. After each step that
changed the workspace it probes the scratch workspace: do the edited Python files compile, how
many FAIL_TO_PASS tests pass now (the delta), did any PASS_TO_PASS test break; a repeated action
or an edit that changed nothing is flagged; ``submit`` is graded by the SWE-bench rule on a
pristine tree. Labels follow DataPRM's ternary:

- ``ok`` (1.0 for progress, 0.7 for reading the code or running it without changing it),
- ``correctable`` (0.2-0.5: a rejected or repeated action, a no-op or non-compiling edit, a
  regression, an edit that moved no test),
- ``fatal`` (0.0: a submission that does not resolve the task, or a step that changed test
  files, test infrastructure or code reaching into pytest's internals; see
  :class:`~prmgym.envs.swe.grading.GradingRules`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prmgym.envs.actions import ActionError, parse_tool_call
from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.tasks import SWEInstance
from prmgym.rewards.verifiers.replay import ReplayVerifier
from prmgym.trajectory import Step, StepScore, Trajectory

_EDITS = ("str_replace", "insert", "create")


@dataclass
class _State:
    """What the replay knows after the steps so far."""

    actions: dict[str, int] = field(default_factory=dict)
    fail_to_pass: int = 0
    broken: int = 0


class SWEVerifier(ReplayVerifier[SWEEnv, _State]):
    """Scores SWE steps by replaying them in a scratch episode and probing it.

    Args:
        run_tests: Run the task's tests after each edit (the delta and regressions). Off, edits
            are judged by compiling and changing files only: much cheaper, less informative.
    """

    name = "swe-verifier"

    def __init__(self, run_tests: bool = True):
        self.run_tests = run_tests

    def _scratch_env(self, trajectory: Trajectory, env: Any) -> tuple[SWEEnv, str]:
        live = getattr(env, "unwrapped", env)
        if not isinstance(live, SWEEnv):
            raise ValueError(
                "swe-verifier is environment-aware: pass the SWEEnv the trajectory ran in"
                " (score(trajectory, env=env))"
            )
        try:
            instance = SWEInstance.from_task(trajectory.task)
        except ValueError as exc:
            raise ValueError(f"swe-verifier needs an SWE task: {exc}") from exc
        scratch = SWEEnv([instance], limits=live.limits, test_timeout_s=live.test_timeout_s)
        return scratch, instance.instance_id

    def _initial_state(self, scratch: SWEEnv) -> _State:
        return _State()

    def _score_step(
        self, step: Step, state: _State, scratch: SWEEnv, *, replay_errors: bool = False
    ) -> StepScore:
        key = " ".join(step.action.split())
        seen = state.actions.get(key)
        state.actions.setdefault(key, step.index)
        try:
            call = parse_tool_call(step.action)
        except ActionError as exc:
            return self._verdict(0.2, "correctable", f"action rejected: {exc}")
        if step.action_error is not None and not replay_errors:
            return self._verdict(0.2, "correctable", f"action rejected: {step.action_error}")
        _, reward, terminated, _, info = scratch.step(step.action)
        if info.get("action_error"):
            return self._verdict(0.2, "correctable", f"action rejected: {info['action_error']}")
        if call.name == "submit":
            if reward > 0:
                return self._verdict(1.0, "ok", "the submission resolves the task")
            return self._verdict(0.0, "fatal", "the submission does not resolve the task")
        effects = info.get("workspace") or {}
        changed: list[str] = list(effects.get("changed", []))
        flagged: dict[str, str] = dict(effects.get("flagged", {}))
        if flagged:
            listed = "; ".join(f"{path}: {why}" for path, why in flagged.items())
            return self._verdict(0.0, "fatal", f"tampers with what grades the fix ({listed})")
        if seen is not None and not changed:
            return self._verdict(0.3, "correctable", f"repeats step {seen} and changes nothing")
        if not changed:
            if call.name in _EDITS:
                return self._verdict(0.3, "correctable", "the edit changed nothing")
            return self._verdict(0.7, "ok", "reads or runs the code without changing it")
        return self._score_change(changed, state, scratch)

    def _score_change(self, changed: list[str], state: _State, scratch: SWEEnv) -> StepScore:
        probe = scratch.probe
        for path in changed:
            if path.endswith(".py") and probe.read_text(path) is not None:
                error = probe.compile_error(path)
                if error is not None:
                    return self._verdict(0.2, "correctable", f"{path} no longer compiles: {error}")
        if not self.run_tests:
            return self._verdict(0.6, "ok", f"changes {', '.join(changed)}; they compile")
        instance = probe.instance
        report = probe.run_tests()
        passing = sum(report.passed(t) for t in instance.FAIL_TO_PASS)
        broken = sum(not report.passed(t) for t in instance.PASS_TO_PASS)
        gained, newly_broken = passing - state.fail_to_pass, broken - state.broken
        state.fail_to_pass, state.broken = passing, broken
        total = len(instance.FAIL_TO_PASS)
        if newly_broken > 0:
            return self._verdict(
                0.3, "correctable", f"breaks {newly_broken} PASS_TO_PASS test(s) that passed"
            )
        if gained > 0:
            return self._verdict(
                1.0, "ok", f"{gained} more FAIL_TO_PASS test(s) pass ({passing} of {total})"
            )
        if gained < 0:
            return self._verdict(
                0.3, "correctable", f"{-gained} FAIL_TO_PASS test(s) that passed fail again"
            )
        if newly_broken < 0:
            return self._verdict(0.8, "ok", f"repairs {-newly_broken} PASS_TO_PASS test(s)")
        return self._verdict(
            0.5, "correctable", f"changes {', '.join(changed)} but no test changed its outcome"
        )
