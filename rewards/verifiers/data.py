"""DataVerifier: an environment-aware PRM for the data family, after DataPRM.

Reading a transcript misses what goes wrong silently in data analysis: the code runs, the
frame is wrong. Like DataPRM (arXiv 2604.24198), this verifier looks at the live state. It
replays the trajectory in a scratch episode of the same task (its own sandbox and kernel), so
every score sees only the steps up to its own, and the live episode is never touched. After
each ``python`` step it probes a fork of the scratch kernel and compares every DataFrame and
Series with the step before:

- NaNs introduced in a column that had fewer;
- rows lost: a frame kept its name but lost more than half its rows;
- dtype coercions: a numeric column turned into text (``object``);
- empty frames: a frame or series with no rows;
- mismatched columns: a merge that duplicated columns (``_x`` / ``_y`` suffixes);
- a table file deleted or overwritten;

and grades the final answer against the task's. Labels follow DataPRM's ternary:

- ``ok`` (1.0 for a step that ran cleanly; 0.7 for one that only shows what is there),
- ``correctable`` (0.5 for a silent error a later step can repair; 0.3 for an exception, a
  timeout or a crashed kernel, which the agent sees; 0.25 for a rejected action),
- ``fatal`` (0.0: a wrong final answer, a table file destroyed, after which the data
  cannot be read again, or a kernel caught lying about the tables).

The agent's code runs in the kernel the probes fork, so it can patch what they use. What is
fatal is therefore judged on the host: the table files are hashed through the sandbox's file
API and compared with the tables as shipped, and the kernel is asked the same digests as a
canary, so a kernel patched to answer probes falsely is caught. The frame checks (the
correctable verdicts) still read the agent's interpreter: a patch that fakes them
consistently can hide a silent error, which is why they never pay more than a clean step
and a probe that fails scores as low as an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from prmgym.envs.actions import ActionError, parse_tool_call
from prmgym.envs.data.env import DataEnv, bind_call
from prmgym.envs.data.tasks import DataTask
from prmgym.errors import SandboxError
from prmgym.rewards.verifiers.replay import ReplayVerifier
from prmgym.trajectory import Step, StepScore, Trajectory

_MERGE_SUFFIX = re.compile(r".+_(x|y)$")
_NUMERIC = re.compile(r"^(u?int|float|complex|Int|UInt|Float)")


@dataclass
class _State:
    """What the replay knows after the steps so far."""

    codes: dict[str, int] = field(default_factory=dict)
    frames: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipped: dict[str, str] = field(default_factory=dict)
    """The tables' digests as the task ships them."""
    digests: dict[str, str | None] = field(default_factory=dict)
    """The tables' digests after the last step, read on the host."""
    outputs: list[str] = field(default_factory=list)


class DataVerifier(ReplayVerifier[DataEnv, _State]):
    """Scores data-analysis steps by replaying them in a scratch kernel and probing it."""

    name = "data-verifier"

    def _scratch_env(self, trajectory: Trajectory, env: Any) -> tuple[DataEnv, str]:
        live = getattr(env, "unwrapped", env)
        if not isinstance(live, DataEnv):
            raise ValueError(
                "data-verifier is environment-aware: pass the DataEnv the trajectory ran in"
                " (score(trajectory, env=env))"
            )
        task = DataTask.from_task(trajectory.task)
        scratch = DataEnv(
            [task],
            limits=live.limits,
            cell_timeout_s=live.cell_timeout_s,
            max_observation_chars=live.max_observation_chars,
        )
        return scratch, task.id

    def _initial_state(self, scratch: DataEnv) -> _State:
        probe = scratch.probe
        return _State(
            frames=probe.frames(), shipped=probe.shipped_digests(), digests=probe.table_digests()
        )

    def _score_step(
        self, step: Step, state: _State, scratch: DataEnv, *, replay_errors: bool = False
    ) -> StepScore:
        try:
            call = parse_tool_call(step.action)
            arguments = bind_call(call)
        except ActionError as exc:
            return self._verdict(0.25, "correctable", f"action rejected: {exc}")
        if step.action_error is not None and not replay_errors:
            return self._verdict(0.25, "correctable", f"action rejected: {step.action_error}")
        observation, reward, _, _, info = scratch.step(step.action)
        if info.get("action_error"):
            return self._verdict(0.25, "correctable", f"action rejected: {info['action_error']}")
        if call.name == "answer":
            return self._score_answer(info, arguments["text"], state)
        state.outputs.append(observation)
        key = " ".join(str(arguments["code"]).split())
        seen = state.codes.setdefault(key, step.index)
        return self._score_python(info, state, scratch, repeated=seen != step.index)

    def _score_answer(self, info: dict[str, Any], text: str, state: _State) -> StepScore:
        parts = info["parts"]
        right = sum(parts.values())
        if info["correct"]:
            return self._verdict(1.0, "ok", f"the answer is right ({right} of {len(parts)} parts)")
        wrong = ", ".join(f"@{name}" for name, ok in parts.items() if not ok)
        values = re.findall(r"\[([^\]]*)\]", text)
        unseen = [v for v in values if v.strip() and not any(v.strip() in o for o in state.outputs)]
        support = f"; {', '.join(unseen)} appeared in no output (not computed)" if unseen else ""
        return self._verdict(
            0.0, "fatal", f"the answer is wrong at {wrong} ({right} of {len(parts)} right){support}"
        )

    def _score_python(
        self, info: dict[str, Any], state: _State, scratch: DataEnv, *, repeated: bool
    ) -> StepScore:
        probe = scratch.probe
        digests = probe.table_digests()
        # Newly destroyed: intact before this step, not now (a repair is not a new loss).
        destroyed = [
            f
            for f, digest in digests.items()
            if digest != state.shipped[f] and state.digests.get(f) == state.shipped[f]
        ]
        state.digests = digests
        if destroyed:
            return self._verdict(
                0.0,
                "fatal",
                f"the table file(s) {', '.join(destroyed)} were deleted or overwritten",
            )
        before = state.frames
        try:
            lying = probe.kernel_digests() != digests
            state.frames = probe.frames()
        except SandboxError as exc:
            state.frames = {}
            if info.get("kernel_restarted"):
                return self._verdict(
                    0.3, "correctable", f"the kernel was restarted: {info['kernel_restarted']}"
                )
            return self._verdict(0.3, "correctable", f"the kernel could not be probed: {exc}")
        if lying:
            return self._verdict(
                0.0,
                "fatal",
                "the kernel reports table digests that differ from the files on disk: code"
                " tampered with the kernel or the modules its probes use",
            )
        if info.get("kernel_restarted"):
            return self._verdict(
                0.3, "correctable", f"the kernel was restarted: {info['kernel_restarted']}"
            )
        if info.get("timed_out"):
            return self._verdict(0.3, "correctable", "the code ran past its timeout")
        if info.get("error"):
            return self._verdict(0.3, "correctable", f"the code raised {info['error']}")
        silent = _silent_errors(before, state.frames)
        if silent:
            return self._verdict(0.5, "correctable", "; ".join(silent))
        if repeated:
            return self._verdict(0.5, "correctable", "repeats earlier code and learns nothing new")
        if state.frames == before:
            return self._verdict(0.7, "ok", "runs cleanly; no frame changed")
        return self._verdict(1.0, "ok", "runs cleanly; the frames it touched look sound")


def _silent_errors(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[str]:
    """What went wrong without an exception, comparing frame summaries before and after."""
    found: list[str] = []
    for name, now in after.items():
        old = before.get(name)
        if now == old:
            continue
        label = f"{name}" if now["kind"] == "frame" else f"series {name}"
        if now["rows"] == 0:
            found.append(f"{label} is empty (a filter or join matched nothing)")
            continue
        suffixed = [c for c in now["columns"] if _MERGE_SUFFIX.match(c)]
        if suffixed and not (old and set(suffixed) <= set(old["columns"])):
            found.append(
                f"{label} has duplicated columns {', '.join(suffixed[:4])} (merged on too few keys)"
            )
        if old is None or old["kind"] != now["kind"]:
            continue
        if now["rows"] < old["rows"] / 2:
            found.append(f"{label} lost {old['rows'] - now['rows']} of {old['rows']} rows")
        for column, nans in now["nans"].items():
            had = old["nans"].get(column)
            if had is not None and nans > had:
                found.append(f"{label}[{column!r}] gained {nans - had} NaN values")
        for column, dtype in now["dtypes"].items():
            was = old["dtypes"].get(column)
            if was and _NUMERIC.match(was) and dtype in ("object", "str", "string"):
                found.append(f"{label}[{column!r}] turned from {was} into {dtype}")
    return found
