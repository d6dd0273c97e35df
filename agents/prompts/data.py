"""Prompt template and action parser for the data family.

The system prompt lists the two tools and a worked example follows: load the table, compute
what the question asks, answer in the requested ``@name[value]`` format. The env's tool help is
left out of the first observation, since the system prompt already has it; long observations
are clipped at both ends, so a printed frame does not push the question out of the context.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.agents.prompts import FamilyPrompt
from prmgym.agents.prompts.calls import extract_call
from prmgym.agents.prompts.chat import clip_middle, episode_chat
from prmgym.envs.data.env import TOOLS_HELP
from prmgym.generation import Chat

TOOLS = ("python", "answer")

SYSTEM_PROMPT = """You answer questions about tables by running Python code.
Each turn, reply with exactly one tool call and nothing else:
python("code")             - run code in a persistent kernel with pandas; a final expression
                             is shown; the tables are CSV files in the working directory
answer("@name[value] ...") - give the final answer in the requested format"""

EXAMPLE: list[tuple[str, str]] = [
    (
        "What is the mean weight of the cars made in Japan?\n\n"
        "Constraints: Use the Weight_in_lbs column; round to 1 decimal place.\n\n"
        "Answer format: @mean_weight[value] where value is a number with 1 decimal.\n\n"
        "Files in the working directory: cars.csv",
        "python(\"import pandas as pd\\ndf = pd.read_csv('cars.csv')\\n"
        "round(df[df['Origin'] == 'Japan']['Weight_in_lbs'].mean(), 1)\")",
    ),
    ("[result]\n2221.2", 'answer("@mean_weight[2221.2]")'),
]

_CLIP_CHARS = 1500


def _shown(observation: str) -> str:
    return clip_middle(observation.replace("\n\n" + TOOLS_HELP, ""), _CLIP_CHARS)


def build_chat(observations: Sequence[str], actions: Sequence[str], max_turns: int = 4) -> Chat:
    """Chat messages for the next action: system prompt, the worked example, then the episode.

    The first observation (the question) is always kept; older turns beyond ``max_turns``
    observation/action pairs are dropped so long episodes fit the model's context.
    """
    return episode_chat(
        SYSTEM_PROMPT, [EXAMPLE], observations, actions, max_turns=max_turns, shown=_shown
    )


def parse_action(completion: str) -> str:
    """The env action string in a completion: its first python or answer call."""
    return extract_call(completion, TOOLS)


PROMPT = FamilyPrompt(build_chat, parse_action, TOOLS)
"""The data family's ``prompt`` piece (see ``prmgym.envs.data.family``)."""
