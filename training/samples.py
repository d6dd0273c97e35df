"""Action samples: each step of an episode as the token ids the policy saw and wrote.

The RL update scores actions token by token, so every step t of a trajectory becomes one
:class:`ActionSample`: the prompt the policy was given before step t, templated exactly as
:class:`~prmgym.agents.policies.llm.LLMPolicy` sent it to its backend, and the tokens of the
reply it wrote, ended by the chat template's end-of-turn token so the model also learns when to
stop. The step's advantage rides along and applies to every one of its action tokens.

A trajectory does not store its first observation (the task prompt the env answered ``reset``
with), yet every chat starts from it. :func:`action_samples` takes the first observations as an
argument, which keeps it a pure function of data that needs no live env;
:func:`replay_first_observations` gets them from an env by replaying each episode's ``reset``.

Old log-probs for the PPO ratio should be computed from these samples (with
:func:`~prmgym.training.loss.action_logprobs` before the update), not taken from the backend:
its recorded log-probs are for the token ids it sampled, which re-tokenising the completion
text need not reproduce, and they lack the end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium
import torch
from transformers import PreTrainedTokenizerBase

from prmgym.agents.prompts import prompt_for
from prmgym.generation import Chat
from prmgym.trajectory import Trajectory


@dataclass(frozen=True)
class ActionSample:
    """One step of one episode as tokens, with its advantage.

    Attributes:
        prompt_ids: The chat the policy saw before the step, chat-templated with the assistant
            turn opened (the generation prompt): what ``LLMPolicy`` sent to its backend.
        action_ids: The step's completion tokens followed by the template's end-of-turn token.
        advantage: The step's advantage, applied to every action token.
        episode: Index of the trajectory in the list given to :func:`action_samples`.
        step: Index of the step in its trajectory.
    """

    prompt_ids: list[int]
    action_ids: list[int]
    advantage: float
    episode: int
    step: int


def replay_first_observations(
    env: gymnasium.Env[str, str], trajectories: Sequence[Trajectory]
) -> list[str]:
    """The first observation of each trajectory, from ``env.reset`` with its seed and task.

    ``reset`` is deterministic for a seed and a task (``check_env`` checks it), so this is the
    observation the episode started from. Broken trajectories get ``""``: they are never
    sampled, and a task whose reset failed would fail again.

    Args:
        env: A Gymnasium env of the trajectories' family holding their tasks.
        trajectories: Trajectories run on such an env.

    Returns:
        One observation per trajectory, in order.
    """
    observations = []
    for trajectory in trajectories:
        if trajectory.error is not None:
            observations.append("")
            continue
        observation, _ = env.reset(seed=trajectory.seed, options={"task_id": trajectory.task.id})
        observations.append(observation)
    return observations


def step_chats(trajectory: Trajectory, first_observation: str) -> list[tuple[Chat, str]]:
    """Per step, the chat the policy saw before it and the reply it wrote.

    The chat before step t is built as ``LLMPolicy`` builds it: the family's
    ``prompt_for(family).build_chat(observations, actions)`` with the first observation and
    the observations of steps before t, and the actions of those steps. The reply is the step's
    ``completion`` (the raw model output), or its ``action`` when the completion is empty
    (scripted agents).

    Args:
        trajectory: An episode of a family with a prompt template.
        first_observation: The observation its episode started from (see
            :func:`replay_first_observations`).

    Returns:
        One ``(chat, reply)`` pair per step, in step order.
    """
    build_chat = prompt_for(trajectory.task.family).build_chat
    observations, actions = [first_observation], []
    pairs = []
    for step in trajectory.steps:
        pairs.append((build_chat(observations, actions), step.completion or step.action))
        observations.append(step.observation)
        actions.append(step.action)
    return pairs


def _template_ids(tokenizer: PreTrainedTokenizerBase, chat: Chat, **flags: bool) -> list[int]:
    # The backend templates to text and tokenizes without special tokens (the template holds
    # any bos), so the ids here are the ids the model was given.
    text = tokenizer.apply_chat_template(chat, tokenize=False, **flags)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _reply_ids(
    tokenizer: PreTrainedTokenizerBase, chat: Chat, prompt_ids: list[int], reply: str
) -> list[int]:
    """The tokens the template adds after ``prompt_ids`` for the assistant ``reply``."""
    full = _template_ids(tokenizer, [*chat, {"role": "assistant", "content": reply}])
    if full[: len(prompt_ids)] != prompt_ids:
        raise ValueError(
            f"tokenizer {tokenizer.name_or_path!r}: the templated prompt's tokens are not a "
            "prefix of the templated prompt + reply's (its last tokens merge with the reply's "
            "first, or the template renders earlier turns differently once a reply follows), "
            "so the action tokens cannot be split off; use a model whose chat template ends "
            "the generation prompt on a token boundary (ChatML templates such as SmolLM2's do)"
        )
    reply_ids = full[len(prompt_ids) :]
    # Templates put a separator after the end-of-turn token (ChatML a newline) that the model
    # never generates: generation stops at end-of-turn, so training stops there too.
    special = set(tokenizer.all_special_ids)
    last = max((k for k, token in enumerate(reply_ids) if token in special), default=None)
    return reply_ids if last is None else reply_ids[: last + 1]


def action_samples(
    trajectories: Sequence[Trajectory],
    advantages: Sequence[Sequence[float]],
    tokenizer: PreTrainedTokenizerBase,
    *,
    first_observations: Sequence[str],
    max_prompt_tokens: int | None = None,
) -> list[ActionSample]:
    """One sample per step of every non-broken trajectory, in trajectory and step order.

    Chats and replies come from :func:`step_chats`. Prompt and prompt + reply are both
    chat-templated and tokenized; the action ids are what the reply adds, up to and including
    the end-of-turn token.

    Args:
        trajectories: Episodes; broken ones (``error`` set) are skipped.
        advantages: Per trajectory, one advantage per step (ignored for broken ones).
        tokenizer: The policy's tokenizer, with its chat template.
        first_observations: Per trajectory, the observation its episode started from (see
            :func:`replay_first_observations`).
        max_prompt_tokens: Keep only the last this many prompt tokens (the most recent turns,
            which the action depends on most); None keeps all. A cut prompt is no longer what
            the policy saw, but old and new log-probs are both computed on it, so the PPO
            ratio stays consistent.

    Returns:
        The samples.

    Raises:
        ValueError: The lengths of ``advantages`` or ``first_observations`` do not match the
            trajectories or their steps, ``max_prompt_tokens`` is not positive, or the
            tokenizer's template cannot be split into prompt and reply.
    """
    if max_prompt_tokens is not None and max_prompt_tokens < 1:
        raise ValueError(f"max_prompt_tokens must be positive or None, got {max_prompt_tokens}")
    if not len(trajectories) == len(advantages) == len(first_observations):
        raise ValueError(
            f"got {len(trajectories)} trajectories, {len(advantages)} advantage lists and "
            f"{len(first_observations)} first observations; pass one of each per trajectory"
        )
    samples = []
    for episode, (trajectory, step_advantages, first) in enumerate(
        zip(trajectories, advantages, first_observations, strict=True)
    ):
        if trajectory.error is not None:
            continue
        if len(step_advantages) != len(trajectory.steps):
            raise ValueError(
                f"trajectory {episode} has {len(trajectory.steps)} steps but "
                f"{len(step_advantages)} advantages; give one advantage per step"
            )
        for step, advantage, (chat, reply) in zip(
            trajectory.steps, step_advantages, step_chats(trajectory, first), strict=True
        ):
            prompt_ids = _template_ids(tokenizer, chat, add_generation_prompt=True)
            action_ids = _reply_ids(tokenizer, chat, prompt_ids, reply)
            if max_prompt_tokens is not None:
                prompt_ids = prompt_ids[-max_prompt_tokens:]
            samples.append(
                ActionSample(prompt_ids, action_ids, float(advantage), episode, step.index)
            )
    return samples


def right_padded(
    rows: Sequence[tuple[list[int], list[bool]]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token rows with per-token masks as a right-padded batch.

    Right padding keeps every real token at its unpadded position, so a causal LM computes the
    same values for it as without the batch.

    Args:
        rows: ``(token ids, mask)`` pairs of equal lengths; the mask marks the tokens of
            interest (action tokens).
        pad_id: Token id of the padding (never attended to).

    Returns:
        ``input_ids`` and ``attention_mask`` (long) and the mask (bool), each ``(rows, width)``.
    """
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    marked = torch.zeros((len(rows), width), dtype=torch.bool)
    for row, (ids, mask) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        marked[row, : len(ids)] = torch.tensor(mask)
    return input_ids, attention, marked
