"""Per-family prompt templates and completion parsers.

Each family's prompt module (``search``, ``swe``, ``data``, ``web`` here, or a plugin's own)
defines a :class:`FamilyPrompt`, which its family declaration names as its ``prompt`` piece;
:func:`prompt_for` finds it through that declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prmgym.family import get_family
from prmgym.generation import Chat


@dataclass(frozen=True)
class FamilyPrompt:
    """How an LLM acts in one family: build the chat, parse the completion."""

    build_chat: Callable[[Sequence[str], Sequence[str]], Chat]
    parse_action: Callable[[str], str]
    tools: tuple[str, ...]


def prompt_for(family: str) -> FamilyPrompt:
    """The prompt template and parser of a family (its declaration's ``prompt`` piece).

    Raises:
        ConfigError: An unknown family, one that declares no prompt, or a prompt piece that is
            not a FamilyPrompt.
    """
    return get_family(family).load_as("prompt", FamilyPrompt)
