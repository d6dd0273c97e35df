"""Prompt template and action parser for the SQL family (its ``prompt`` piece).

The system prompt describes the tools once and carries the schema, which is small and never
changes, so a model can write its first query without spending a turn on ``schema()``. Two
worked example exchanges of different question types follow (prmgym measured on SmolLM2-135M
that one example gets copied, answer included; two of different types do not); their
observations are the env's real output, which a test checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.agents.prompts import FamilyPrompt
from prmgym.agents.prompts.calls import extract_call
from prmgym.agents.prompts.chat import episode_chat
from prmgym.generation import Chat

from prmgym_sql.database import schema_text
from prmgym_sql.env import TOOLS_HELP

TOOLS = ("schema", "describe", "query", "answer")

SYSTEM_PROMPT = f"""You answer questions about a shop by querying its SQLite database.
Each turn, reply with exactly one tool call and nothing else:
query("SELECT ...")     - run one read-only SQL query; the first rows come back
describe("table")       - a table's columns and first rows
schema()                - every table and its columns
answer("final answer")  - give the final answer (a single name, number or date)

{schema_text()}"""

EXAMPLES: list[list[tuple[str, str]]] = [
    [
        (
            "Question: How many products are in the 'kitchen' category?",
            "query(\"SELECT count(*) FROM products WHERE category = 'kitchen'\")",
        ),
        ("count(*)\n6\n(1 row)", 'answer("6")'),
    ],
    [
        (
            "Question: What is the most expensive product in the 'garden' category?",
            "query(\"SELECT name, price FROM products WHERE category = 'garden'"
            ' ORDER BY price DESC LIMIT 3")',
        ),
        (
            "name | price\nHose 20m | 36.6\nPruning Shears | 25.0\nBird Feeder | 21.45\n(3 rows)",
            'answer("Hose 20m")',
        ),
    ],
]


def _without_tool_line(observation: str) -> str:
    return observation.replace("\n" + TOOLS_HELP, "")


def build_chat(observations: Sequence[str], actions: Sequence[str], max_turns: int = 6) -> Chat:
    """Chat messages for the next action: system prompt, worked examples, then the episode."""
    return episode_chat(
        SYSTEM_PROMPT,
        EXAMPLES,
        observations,
        actions,
        max_turns=max_turns,
        shown=_without_tool_line,
    )


def parse_action(completion: str) -> str:
    """The env action string in a completion: its first call of one of the four tools."""
    return extract_call(completion, TOOLS)


PROMPT = FamilyPrompt(build_chat, parse_action, TOOLS)
"""The SQL family's ``prompt`` piece (see :mod:`prmgym_sql.family`)."""
