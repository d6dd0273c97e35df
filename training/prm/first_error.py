"""First-error step labels by binary search, and consensus filtering with an LLM judge.

**Binary search** (OmegaPRM, Luo et al. 2024, arXiv 2406.06592, Sec. 3.2): Math-Shepherd's
Monte Carlo labelling (:func:`~prmgym.training.prm.labels.monte_carlo_labels`) runs k
continuations after every step of a trajectory. OmegaPRM observes that what a PRM is trained
on is where a failed trajectory first goes wrong: the first step after which the MC estimate
(the share of k continuations that succeed) drops to 0. If a prefix is good (some continuation
succeeds), every shorter prefix is good too, so the first error can be found by binary search
over step positions, evaluating ``ceil(log2(n + 1))`` prefixes instead of ``n``. Steps before
it are labelled 1, it and the steps after 0. A trajectory that succeeded needs no search: it is
itself a successful continuation of each of its prefixes, so every step is good.

**Consensus filtering** (Zhang et al. 2025, "The Lessons of Developing Process Reward Models in
Mathematical Reasoning", arXiv 2501.07301, Sec. 3-4): MC labels are noisy (a bad step can be
rescued by a continuation, a good one doomed by a weak policy), and LLM-as-a-judge labels have
their own errors; keeping only the trajectories on which both locate the same first error (or
agree there is none) gave a PRM better than either source alone, from fewer data. Here the
judge reads each step in its context (the task and the steps before it, as the rubric agent
renders them) and is asked whether it is correct; its first error is the first step it rejects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium

from prmgym.agents.policies.base import Policy
from prmgym.rewards.judges.base import Judge, JudgeQuery, Question
from prmgym.rewards.render import render_prompt, render_step
from prmgym.rewards.rubrics.agent import JUDGE_OBSERVATION_CHARS
from prmgym.training.prm.labels import hard_labels, replay_prefix, successful_completions
from prmgym.trajectory import Trajectory

STEP_IS_CORRECT = Question(
    "This step is correct: it is a sound action given the task and the steps before it, and it"
    " keeps the task solvable."
)
"""What the consensus judge is asked about every step."""


@dataclass(frozen=True)
class FirstErrorLabels:
    """The outcome of :func:`first_error_search`."""

    labels: list[float]
    """One label per step: 1.0 before the first error, 0.0 from it on."""

    first_error: int | None
    """Index of the first bad step; None when every step is good."""

    completions: int
    """Monte Carlo continuations run (k per prefix that did not end the episode)."""

    prefixes: int
    """Prefixes evaluated by the search (those that ended the episode cost no continuation)."""


def first_error_search(
    env: gymnasium.Env[str, str],
    trajectory: Trajectory,
    policy: Policy,
    k: int = 4,
    max_steps: int = 8,
    threshold: float = 0.0,
) -> FirstErrorLabels:
    """OmegaPRM's binary search for a trajectory's first error (arXiv 2406.06592, Sec. 3.2).

    The prefix ending at step t is good when the share of ``k`` continuations from the state
    after it that succeed is above ``threshold`` (OmegaPRM: above 0); a prefix that ended the
    episode is good when it succeeded, without continuations. The search finds the smallest t
    whose prefix is bad, assuming (as OmegaPRM does) that no prefix after a bad one is good.
    Continuations are run as in :func:`~prmgym.training.prm.labels.monte_carlo_labels`, so on
    such trajectories both find the same first error.

    Args:
        env: An env with ``snapshot``/``restore`` holding the trajectory's task.
        trajectory: The episode to label.
        policy: Runs the continuations.
        k: Continuations per evaluated prefix.
        max_steps: Step limit of each continuation; one that hits it counts as a failure.
        threshold: A prefix is good when its MC estimate is above this, in [0, 1).

    Returns:
        The labels, the first error, and the continuations and prefixes spent; a successful
        trajectory is all good at no cost.
    """
    if k < 1 or max_steps < 1:
        raise ValueError(f"k and max_steps must be at least 1, got k={k}, max_steps={max_steps}")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1) (OmegaPRM uses 0), got {threshold}")
    n = len(trajectory.steps)
    if trajectory.success:
        return FirstErrorLabels([1.0] * n, None, completions=0, prefixes=0)
    base = env.unwrapped
    # Invariant: prefixes ending before step `good_until` are good, those ending at `bad_from`
    # or later are bad (bad_from = n: none known bad yet).
    good_until, bad_from = 0, n
    completions = prefixes = 0
    while good_until < bad_from:
        t = (good_until + bad_from) // 2
        view, done, success = replay_prefix(base, trajectory, t + 1)
        prefixes += 1
        if done:
            good = success
        else:
            good = successful_completions(base, view, policy, k, max_steps) / k > threshold
            completions += k
        if good:
            good_until = t + 1
        else:
            bad_from = t
    labels = [1.0] * bad_from + [0.0] * (n - bad_from)
    return FirstErrorLabels(labels, bad_from if bad_from < n else None, completions, prefixes)


def label_first_error(labels: Sequence[float]) -> int | None:
    """The first step whose label is bad under Math-Shepherd's hard rule (not > 0); None if none."""
    good = hard_labels(labels)
    return good.index(False) if False in good else None


def _step_queries(trajectory: Trajectory) -> list[JudgeQuery]:
    """One query per step: the step, with the task and the steps before it as context."""
    blocks = [render_step(step, JUDGE_OBSERVATION_CHARS) for step in trajectory.steps]
    prompt = render_prompt(trajectory)
    return [
        JudgeQuery(
            context=(prompt + "".join(b + "\n\n" for b in blocks[:t])).strip(),
            step=block,
            criteria=(STEP_IS_CORRECT,),
        )
        for t, block in enumerate(blocks)
    ]


def judge_first_errors(
    judge: Judge, trajectories: Sequence[Trajectory], threshold: float = 0.5
) -> list[int | None]:
    """The judge's first error of each trajectory: its first step with P(correct) < threshold.

    Every step of every trajectory goes to the judge in one ``judge`` call.

    Args:
        judge: Any :class:`~prmgym.rewards.judges.base.Judge`.
        trajectories: The episodes to judge.
        threshold: A step is rejected when the judge's P(correct) is below this.

    Returns:
        Per trajectory, the index of the first rejected step, or None when none is.
    """
    per_trajectory = [_step_queries(trajectory) for trajectory in trajectories]
    queries = [query for queries in per_trajectory for query in queries]
    answers = iter(judge.judge(queries) if queries else [])
    first_errors: list[int | None] = []
    for queries in per_trajectory:
        verdicts = [next(answers)[0] >= threshold for _ in queries]
        first_errors.append(verdicts.index(False) if False in verdicts else None)
    return first_errors


@dataclass(frozen=True)
class Consensus:
    """The outcome of :func:`consensus_filter`; ``len(kept)`` and ``len(dropped)`` count them."""

    kept: list[int]
    """Indices of the trajectories whose labels agree with the judge."""

    dropped: list[int]
    """Indices of those where the judge points at another first error (or at none)."""

    judge_first_errors: list[int | None]
    """The judge's first error of every trajectory (None: no error), for inspection."""


def consensus_filter(
    trajectories: Sequence[Trajectory],
    labels: Sequence[Sequence[float]],
    judge: Judge,
    threshold: float = 0.5,
) -> Consensus:
    """Consensus filtering (arXiv 2501.07301): keep labels an LLM judge agrees with.

    A trajectory is kept when the first error of its Monte Carlo labels
    (:func:`label_first_error`) and the judge's (:func:`judge_first_errors`) are the same step,
    or both say there is none.

    Args:
        trajectories: Labelled episodes.
        labels: Per trajectory, one MC (or binary-search) label per step.
        judge: Judges each step in context.
        threshold: The judge rejects a step when its P(correct) is below this.

    Returns:
        The kept and dropped indices and the judge's first errors.
    """
    if len(trajectories) != len(labels):
        raise ValueError(
            f"{len(trajectories)} trajectories but {len(labels)} label lists; give one each"
        )
    verdicts = judge_first_errors(judge, trajectories, threshold)
    agree = [
        label_first_error(step_labels) == verdict
        for step_labels, verdict in zip(labels, verdicts, strict=True)
    ]
    return Consensus(
        kept=[i for i, ok in enumerate(agree) if ok],
        dropped=[i for i, ok in enumerate(agree) if not ok],
        judge_first_errors=verdicts,
    )
