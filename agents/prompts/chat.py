"""The chat every family's prompt builds: system prompt, worked examples, then the episode."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prmgym.generation import Chat

Exchange = Sequence[tuple[str, str]]
"""A worked example: (observation, action) turns."""


def episode_chat(
    system_prompt: str,
    examples: Sequence[Exchange],
    observations: Sequence[str],
    actions: Sequence[str],
    *,
    max_turns: int,
    shown: Callable[[str], str] = lambda observation: observation,
) -> Chat:
    """Chat messages for the next action.

    The first observation (the task) is always kept; older turns beyond ``max_turns``
    observation/action pairs are dropped so long episodes fit a small model's context.
    ``shown`` rewrites each of the episode's observations (e.g. drops the tool help the system
    prompt already gives, or clips long output).
    """
    chat: Chat = [{"role": "system", "content": system_prompt}]
    for example in examples:
        for observation, action in example:
            chat.append({"role": "user", "content": observation})
            chat.append({"role": "assistant", "content": action})
    turns = list(zip(observations, [*actions, None], strict=False))
    kept = turns[:1] + turns[1:][-max_turns:] if len(turns) > max_turns + 1 else turns
    for observation, action in kept:
        chat.append({"role": "user", "content": shown(observation)})
        if action is not None:
            chat.append({"role": "assistant", "content": action})
    return chat


def clip_middle(text: str, limit: int) -> str:
    """``text`` within about ``limit`` characters: its first third and the rest from its end."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-tail:]}"
