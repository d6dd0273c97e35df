"""Prompt template and action parser for the search family.

The system prompt describes the tools once; worked example exchanges follow it. Measured on
SmolLM2-135M over 24 search-lite tasks (greedy): with one example it searched in 0 episodes
and copied the example's final answer; with two examples of different question types and the
env's tool line left out of the chat (the system prompt already has it, and the model copied
its placeholders), it searched for the right name in 24 of 24.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.agents.prompts import FamilyPrompt
from prmgym.agents.prompts.calls import extract_call
from prmgym.agents.prompts.chat import episode_chat
from prmgym.envs.search.env import TOOLS_HELP
from prmgym.generation import Chat

TOOLS = ("search", "open", "answer")

SYSTEM_PROMPT = """You answer questions about Python's standard library by using tools.
Each turn, reply with exactly one tool call and nothing else:
search("words to look for")  - find documents; results show [doc_id] and a snippet
open("doc_id")               - read a document found by search
answer("final answer")       - give the final answer (a short name or value)"""

EXAMPLES: list[list[tuple[str, str]]] = [
    [
        (
            "Question: What is the default value of the parameter `width` of `pprint.pformat`?",
            'search("pprint.pformat")',
        ),
        (
            'Results for "pprint.pformat":\n'
            "- [pprint.pformat]: Function pprint.pformat in module pprint. Signature: "
            "pformat(object, indent=1, width=80, depth=None, *, compact=False) ...\n"
            "- [pprint.PrettyPrinter.pformat]: Method pprint.PrettyPrinter.pformat ...\n"
            'Use open("doc_id") to read a document.',
            'open("pprint.pformat")',
        ),
        (
            "Document [pprint.pformat] pprint.pformat\nFunction pprint.pformat in module pprint.\n"
            "Signature: pformat(object, indent=1, width=80, depth=None, *, compact=False)\n\n"
            "Format a Python object into a pretty-printed representation.",
            'answer("80")',
        ),
    ],
    [
        (
            "Question: What is the direct base class of `http.cookies.SimpleCookie`?",
            'search("http.cookies.SimpleCookie")',
        ),
        (
            'Results for "http.cookies.SimpleCookie":\n'
            "- [http.cookies.SimpleCookie]: Class http.cookies.SimpleCookie in module "
            "http.cookies. Bases: BaseCookie ...\n"
            "- [http.cookies.BaseCookie]: Class http.cookies.BaseCookie in module http.cookies. "
            "Bases: dict ...\n"
            'Use open("doc_id") to read a document.',
            'open("http.cookies.SimpleCookie")',
        ),
        (
            "Document [http.cookies.SimpleCookie] http.cookies.SimpleCookie\n"
            "Class http.cookies.SimpleCookie in module http.cookies.\nBases: BaseCookie\n\n"
            "SimpleCookie supports strings as cookie values.",
            'answer("BaseCookie")',
        ),
    ],
]


def _without_tool_line(observation: str) -> str:
    return observation.replace("\n" + TOOLS_HELP, "")


def build_chat(observations: Sequence[str], actions: Sequence[str], max_turns: int = 6) -> Chat:
    """Chat messages for the next action: system prompt, worked examples, then the episode.

    The first observation (the question) is always kept; older turns beyond ``max_turns``
    observation/action pairs are dropped so long episodes fit the model's context.
    """
    return episode_chat(
        SYSTEM_PROMPT,
        EXAMPLES,
        observations,
        actions,
        max_turns=max_turns,
        shown=_without_tool_line,
    )


def parse_action(completion: str) -> str:
    """The env action string in a completion: its first search/open/answer call."""
    return extract_call(completion, TOOLS)


PROMPT = FamilyPrompt(build_chat, parse_action, TOOLS)
"""The search family's ``prompt`` piece (see ``prmgym.envs.search.family``)."""
