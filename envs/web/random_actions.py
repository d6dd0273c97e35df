"""The web family's random baseline: BrowserGym actions on random elements of the page.

It reads only what an agent sees: the element ids of the latest accessibility tree, so it
types into text fields and clicks the rest, with random words, scrolls and replies.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from prmgym.envs.web.oracle import elements
from prmgym.task import Task

_TEXT_ROLES = {"textbox", "searchbox", "spinbutton"}
_WORDS = "red blue teapot cart order post reply admin user price name done yes no".split()


def random_action(task: Task, observations: Sequence[str], rng: random.Random) -> str:
    """A random action (the family's ``random_action`` piece) on the latest page."""
    found = elements(observations[-1]) if observations else []
    words = " ".join(rng.sample(_WORDS, rng.randint(1, 2)))
    choice = rng.random()
    if found and choice < 0.75:
        bid, role, _ = rng.choice(found)
        if role in _TEXT_ROLES:
            return f"fill({json.dumps(bid)}, {json.dumps(words)})"
        return f"click({json.dumps(bid)})"
    if choice < 0.85:
        return f"scroll(0, {rng.choice([-400, 400])})"
    if choice < 0.92:
        return "go_back()"
    return f"send_msg_to_user({json.dumps(words)})"
