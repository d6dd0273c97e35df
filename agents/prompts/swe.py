"""Prompt template and action parser for the SWE family.

The system prompt lists the tools once and a worked example follows: run the failing test,
read the code, fix it with ``str_replace``, run the test again, submit. The env's own tool
help is left out of the episode's first observation, since the system prompt already has it.
Observations in the chat are clipped (the head and the tail of each), so a long test log does
not push the issue out of a small model's context.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.agents.prompts import FamilyPrompt
from prmgym.agents.prompts.calls import extract_call
from prmgym.agents.prompts.chat import clip_middle, episode_chat
from prmgym.envs.swe.env import TOOLS_HELP
from prmgym.generation import Chat

TOOLS = ("bash", "view", "str_replace", "insert", "create", "submit")

SYSTEM_PROMPT = """You fix bugs in a Python repository checked out in /workspace.
Each turn, reply with exactly one tool call and nothing else:
bash("command")                    - run a shell command, e.g. the failing test
view("path", start, end)           - show lines of a file with their numbers
str_replace("path", "old", "new")  - replace text that occurs exactly once in a file
insert("path", line, "text")       - insert text after a line number
create("path", "text")             - create a new file
submit()                           - finish; hidden tests grade the fix"""

EXAMPLE: list[tuple[str, str]] = [
    (
        "After a recent change to mathkit 1.0, tests that used to pass now fail:\n\n"
        "- tests/test_ops.py::test_clamp: assert 0 == 5\n\n"
        "Find and fix the bug in the package's source code so these tests pass again.",
        'bash("python -m pytest -q tests/test_ops.py::test_clamp")',
    ),
    (
        "exit code: 1\n[stdout]\nF\n    assert clamp(5, 0, 10) == 5\nE   assert 0 == 5\n"
        "1 failed in 0.02s",
        'bash("grep -n \\"def clamp\\" -A 4 mathkit/ops.py")',
    ),
    (
        "exit code: 0\n[stdout]\n12:def clamp(x, low, high):\n13:    if x > low:\n"
        "14:        return low\n15:    return min(x, high)",
        'str_replace("mathkit/ops.py", "if x > low:", "if x < low:")',
    ),
    (
        "Replaced the text in mathkit/ops.py.",
        'bash("python -m pytest -q tests/test_ops.py")',
    ),
    ("exit code: 0\n[stdout]\n6 passed in 0.03s", "submit()"),
]

_CLIP_CHARS = 1500


def _shown(observation: str) -> str:
    return clip_middle(observation.replace("\n" + TOOLS_HELP, ""), _CLIP_CHARS)


def build_chat(observations: Sequence[str], actions: Sequence[str], max_turns: int = 4) -> Chat:
    """Chat messages for the next action: system prompt, the worked example, then the episode.

    The first observation (the issue) is always kept; older turns beyond ``max_turns``
    observation/action pairs are dropped so long episodes fit the model's context.
    """
    return episode_chat(
        SYSTEM_PROMPT, [EXAMPLE], observations, actions, max_turns=max_turns, shown=_shown
    )


def parse_action(completion: str) -> str:
    """The env action string in a completion: its first call to an SWE tool."""
    return extract_call(completion, TOOLS)


PROMPT = FamilyPrompt(build_chat, parse_action, TOOLS)
"""The swe family's ``prompt`` piece (see ``prmgym.envs.swe.family``)."""
