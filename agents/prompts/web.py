"""Prompt template and action parser for the web family.

The system prompt lists BrowserGym's actions and a worked example follows: find the element
in the accessibility tree by its id, act on it, reply to the user when done. Older pages are
dropped (a tree is long); only the latest observations stay, clipped at both ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.agents.prompts import FamilyPrompt
from prmgym.agents.prompts.calls import extract_call
from prmgym.agents.prompts.chat import clip_middle, episode_chat
from prmgym.envs.web.actions import SIGNATURES, TOOLS_HELP
from prmgym.generation import Chat

TOOLS = tuple(SIGNATURES)

SYSTEM_PROMPT = """You use a web browser to do what the user asks.
Each turn you see the page's accessibility tree; [12] marks the element with id "12".
Reply with exactly one action and nothing else:
click("12")  fill("12", "text")  select_option("12", "Option")  press("12", "Enter")
goto("/path")  go_back()  scroll(0, 400)  send_msg_to_user("answer or done")"""

EXAMPLE: list[tuple[str, str]] = [
    (
        "Goal: Add the Red Teapot to the cart.\n\nURL: http://127.0.0.1:8000/\n"
        "Title: Home | Shop\nAccessibility tree:\nRootWebArea 'Home | Shop'\n"
        "  [3] searchbox 'Search products'\n  [4] button 'Search'\n  [7] link 'Red Teapot'",
        'click("7")',
    ),
    (
        "URL: http://127.0.0.1:8000/product/12\nTitle: Red Teapot | Shop\n"
        "Accessibility tree:\nRootWebArea 'Red Teapot | Shop'\n  [5] heading 'Red Teapot'\n"
        "  [9] spinbutton 'Quantity' value='1'\n  [10] button 'Add to cart'",
        'click("10")',
    ),
    (
        "URL: http://127.0.0.1:8000/cart\nTitle: Cart | Shop\nAccessibility tree:\n"
        "RootWebArea 'Cart | Shop'\n  StaticText 'Red Teapot x 1'",
        'send_msg_to_user("The Red Teapot is in the cart.")',
    ),
]

_CLIP_CHARS = 3000


def _shown(observation: str) -> str:
    return clip_middle(observation.replace("\n\n" + TOOLS_HELP, ""), _CLIP_CHARS)


def build_chat(observations: Sequence[str], actions: Sequence[str], max_turns: int = 2) -> Chat:
    """Chat messages for the next action: system prompt, the worked example, then the episode.

    The first observation (the goal and the first page) is always kept; older turns beyond
    ``max_turns`` observation/action pairs are dropped, since each holds a whole page.
    """
    return episode_chat(
        SYSTEM_PROMPT, [EXAMPLE], observations, actions, max_turns=max_turns, shown=_shown
    )


def parse_action(completion: str) -> str:
    """The env action string in a completion: its first BrowserGym action."""
    return extract_call(completion, TOOLS)


PROMPT = FamilyPrompt(build_chat, parse_action, TOOLS)
"""The web family's ``prompt`` piece (see ``prmgym.envs.web.family``)."""
