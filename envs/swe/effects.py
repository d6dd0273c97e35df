"""What an SWE step did to the workspace, as the env saw it: for rubrics, verifiers and the agent.

After every accepted step the env lists the workspace (content hashes, as grading does) and
compares it with the listing after the step before, whatever tool ran. The paths that changed,
and those of them that grading would not take (:class:`~prmgym.envs.swe.grading.GradingRules`:
test files, test infrastructure, code reaching into pytest), go into ``info["workspace"]`` and
into the observation's last line::

    [workspace changes] {"changed": ["src/x.py"], "changed_count": 1, "flagged": {}, ...}

The line is how a trajectory keeps the effect (a recorded step holds the observation, not the
info), so rubric checks judge the change itself, not the tool name. The env writes it after the
command's output, so an action can print a fake line but cannot hide the real one: readers take
the last line only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmgym.envs.swe.grading import GradingRules
from prmgym.envs.swe.probe import LINK, manifest_changes, seed_text, workspace_manifest
from prmgym.errors import SandboxError
from prmgym.sandboxes.base import Sandbox

PREFIX = "[workspace changes] "
_SHOWN_PATHS = 10
_SHOWN_FLAGS = 5
_PATH_CHARS = 200


@dataclass(frozen=True)
class StepEffects:
    """The workspace paths a step changed, and those grading would not take (path -> why)."""

    changed: list[str]
    flagged: dict[str, str] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """The ``info["workspace"]`` entry: every path, in order."""
        return {"changed": list(self.changed), "flagged": dict(self.flagged)}

    def footer(self, budget: int) -> str:
        """The observation's last line, at most ``budget`` characters when it can be.

        Long lists are cut (the counts stay whole); past the budget only the counts remain.
        """
        payload: dict[str, Any] = {
            "changed": [p[:_PATH_CHARS] for p in self.changed[:_SHOWN_PATHS]],
            "changed_count": len(self.changed),
            "flagged": {
                p[:_PATH_CHARS]: why for p, why in list(self.flagged.items())[:_SHOWN_FLAGS]
            },
            "flagged_count": len(self.flagged),
        }
        line = PREFIX + json.dumps(payload, sort_keys=True)
        if len(line) > budget:
            counts = {"changed_count": len(self.changed), "flagged_count": len(self.flagged)}
            line = PREFIX + json.dumps(counts, sort_keys=True)
        return line

    def append_to(self, observation: str, limit: int) -> str:
        """``observation`` ending with the footer, cut so the whole fits in ``limit`` characters."""
        footer = self.footer(limit // 2)
        room = limit - len(footer) - 1
        if len(observation) > room:
            notice = f"\n[... cut: {len(observation) - room} more characters]"
            observation = observation[: max(0, room - len(notice))] + notice
        return f"{observation}\n{footer}"


def step_effects(
    sandbox: Sandbox,
    seed: Path,
    rules: GradingRules,
    before: Mapping[str, str],
    timeout: float,
) -> tuple[StepEffects | None, dict[str, str]]:
    """What changed since the workspace listing ``before`` (None: nothing), and the new listing.

    A changed path is flagged when grading would drop it, or when lines added to it (compared
    with the seed's version) reach into pytest.
    """
    try:
        now = workspace_manifest(sandbox, timeout=timeout)
    except SandboxError as exc:
        # What the step did is unknown, so no check may take it as harmless.
        return StepEffects(["."], {".": f"the workspace could not be listed ({exc})"}), dict(before)
    changes = manifest_changes(before, now)
    if not changes:
        return None, now
    flagged: dict[str, str] = {}
    for path, entry in changes.items():
        why = rules.protected(path)
        if why is None and entry is not None and not entry.startswith(LINK):
            try:
                text = sandbox.read_file(path).decode("utf-8", "replace")
            except SandboxError:
                text = ""
            reach = GradingRules.pytest_reach(text, seed_text(seed, path))
            why = f"reaches into pytest: {reach}" if reach else None
        if why is not None:
            flagged[path] = why
    return StepEffects(list(changes), flagged), now


def read_footer(observation: str) -> dict[str, Any] | None:
    """The effects line of an observation (its last line), or None when the step changed nothing.

    The result holds at least ``changed_count`` and ``flagged_count``.
    """
    last = observation.rstrip("\n").rpartition("\n")[2]
    if not last.startswith(PREFIX):
        return None
    try:
        payload = json.loads(last[len(PREFIX) :])
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    counts = (payload.get("changed_count"), payload.get("flagged_count"))
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        return None
    return payload
