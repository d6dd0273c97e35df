"""Step labels for PRM training, from rollouts, from a verifier or from the outcome.

Every function returns one label per step in [0, 1]: the estimated probability that the step
is good. ``monte_carlo_labels`` is Math-Shepherd's completion estimate (Wang et al. 2024,
arXiv 2312.08935, Sec. 3.3): from the state after step t, run k continuations with a policy
and label the step with the share that succeed (the soft estimate); the hard estimate is
``share > 0`` (:func:`hard_labels`). ``verifier_labels`` thresholds any PRM (an env-aware
verifier, a judge), and ``outcome_labels`` gives every step the episode's outcome (the weakest
signal, and what PRIME's implicit PRM trains on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium

from prmgym.agents.policies.base import EpisodeView, Policy
from prmgym.rewards.base import ProcessRewardModel
from prmgym.trajectory import Trajectory


def hard_labels(labels: Sequence[float]) -> list[bool]:
    """Math-Shepherd's hard estimate: a step is good when any continuation from it succeeds."""
    return [label > 0 for label in labels]


def replay_prefix(env: Any, trajectory: Trajectory, upto: int) -> tuple[EpisodeView, bool, bool]:
    """Reset ``env`` to the trajectory's task and replay its first ``upto`` actions.

    Returns the policy's view of the episode, whether it has ended and whether it succeeded.
    """
    observation, _ = env.reset(seed=trajectory.seed, options={"task_id": trajectory.task.id})
    view = EpisodeView(
        task=trajectory.task,
        family=getattr(env, "family", "text"),
        observations=[observation],
        seed=trajectory.seed or 0,
    )
    done, success = False, False
    for step in trajectory.steps[:upto]:
        observation, reward, terminated, _, info = env.step(step.action)
        view.observations.append(observation)
        view.actions.append(step.action)
        if terminated:
            done, success = True, bool(info.get("success", reward > 0))
            break
    return view, done, success


def successful_completions(
    env: Any, start: EpisodeView, policy: Policy, k: int, max_steps: int
) -> int:
    """How many of k continuations from the env's current state succeed.

    The k continuations advance in lockstep so the policy decides for all of them in one call
    (one batched generate for an LLM); each restores its own snapshot before stepping.
    """
    tokens = [env.snapshot() for _ in range(k)]
    views = [
        EpisodeView(
            task=start.task,
            family=start.family,
            observations=list(start.observations),
            actions=list(start.actions),
            seed=start.seed,
        )
        for _ in range(k)
    ]
    live, successes = list(range(k)), 0
    for _ in range(max_steps):
        if not live:
            break
        decisions = policy.act([views[i] for i in live])
        still_live = []
        for i, decision in zip(live, decisions, strict=True):
            env.restore(tokens[i])
            observation, reward, terminated, _, info = env.step(decision.action)
            views[i].observations.append(observation)
            views[i].actions.append(decision.action)
            if terminated:
                successes += bool(info.get("success", reward > 0))
            else:
                tokens[i] = env.snapshot()
                still_live.append(i)
        live = still_live
    return successes


def monte_carlo_labels(
    env: gymnasium.Env[str, str],
    trajectory: Trajectory,
    policy: Policy,
    k: int = 4,
    max_steps: int = 8,
) -> list[float]:
    """Math-Shepherd soft labels: the share of k continuations after each step that succeed.

    For each step t the env is reset to the trajectory's task (and seed), the actions up to
    and including t are replayed, the state is snapshotted, and ``k`` continuations of at most
    ``max_steps`` steps are run with ``policy``, restoring the snapshot before each. A step
    that ends the episode is labelled by its own outcome (1 or 0), without continuations.

    Args:
        env: An env with ``snapshot``/``restore`` (e.g. ``gymnasium.make(env_id)``).
        trajectory: The episode to label; its task must be one of the env's tasks.
        policy: Runs the continuations (a deterministic policy needs k = 1 only).
        k: Continuations per step.
        max_steps: Step limit of each continuation; one that hits it counts as a failure.

    Returns:
        One label in [0, 1] per step.
    """
    if k < 1 or max_steps < 1:
        raise ValueError(f"k and max_steps must be at least 1, got k={k}, max_steps={max_steps}")
    base = env.unwrapped
    labels = []
    for t in range(len(trajectory.steps)):
        view, done, success = replay_prefix(base, trajectory, t + 1)
        if done:
            labels.append(float(success))
        else:
            labels.append(successful_completions(base, view, policy, k, max_steps) / k)
    return labels


def verifier_labels(
    trajectory: Trajectory, prm: ProcessRewardModel, threshold: float = 0.5, env: Any = None
) -> list[float]:
    """1.0 for steps the PRM scores at or above ``threshold``, else 0.0.

    ``env`` is passed to the PRM; an env-aware verifier needs it at the trajectory's final
    state.
    """
    return [1.0 if score.value >= threshold else 0.0 for score in prm.score(trajectory, env)]


def outcome_labels(trajectory: Trajectory) -> list[float]:
    """The episode's outcome (1.0 success, 0.0 failure) on every step."""
    return [float(trajectory.success)] * len(trajectory.steps)
