"""Per-family prompt templates and completion parsers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prmgym.errors import ConfigError
from prmgym.generation import Chat


@dataclass(frozen=True)
class FamilyPrompt:
    """How an LLM acts in one family: build the chat, parse the completion."""

    family: str
    build_chat: Callable[[Sequence[str], Sequence[str]], Chat]
    parse_action: Callable[[str], str]
    tools: tuple[str, ...]


def prompt_for(family: str) -> FamilyPrompt:
    """The prompt template and parser of a family."""
    if family == "search":
        from prmgym.agents.prompts import search

        return FamilyPrompt("search", search.build_chat, search.parse_action, search.TOOLS)
    if family == "swe":
        from prmgym.agents.prompts import swe

        return FamilyPrompt("swe", swe.build_chat, swe.parse_action, swe.TOOLS)
    if family == "data":
        from prmgym.agents.prompts import data

        return FamilyPrompt("data", data.build_chat, data.parse_action, data.TOOLS)
    if family == "web":
        from prmgym.agents.prompts import web

        return FamilyPrompt("web", web.build_chat, web.parse_action, web.TOOLS)
    raise ConfigError(f"no prompt template for family {family!r}; known: search, swe, data, web")
