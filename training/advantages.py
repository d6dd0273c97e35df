"""Advantage estimators of the RL trainer: small pure functions over one task's group.

Dual granularity (GiGPO, arXiv 2505.10978, Eq. 8) gives each step t of episode i the advantage

    A(i,t) = A_E(i) + omega * A_S(i,t)

applied to every token of action t. Two streams, normalised separately so that neither drowns
the other whatever their scales:

* **episode stream** ``A_E(i) = (R_i - b_i) / F`` over the G episodes of one task: R is the
  env's verifiable outcome, b the group mean (GRPO, arXiv 2402.03300) or the mean of the other
  episodes (RLOO, arXiv 2402.14740), F the group's std or 1;
* **step stream** ``A_S(i,t) = (Q(i,t) - b) / F`` over a *step group*: the steps of that task's
  episodes taken from the same state. Q is the step's process return built from PRM step
  rewards (:func:`process_returns`). A step alone in its group is compared with all steps of
  the task's group instead.

Per-turn-index baselines are wrong when the policy decides episode length (verl RFC #7244), which
is why step groups are keyed by state, not by turn index.

Broken episodes (``trajectory.error`` set) get no advantage and are left out of every baseline.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Callable, Hashable, Sequence
from typing import Literal

from prmgym.errors import ConfigError
from prmgym.rewards.aggregation import aggregate_steps, delta_rewards
from prmgym.trajectory import Trajectory

Normalization = Literal["std", "none"]
Baseline = Literal["mean", "leave_one_out"]
ProcessReturn = Literal["discounted", "min", "delta", "raw"]
StepKey = Callable[[Trajectory, int], Hashable]
StepGroups = dict[Hashable, list[tuple[int, int]]]

NORMALIZATIONS: tuple[str, ...] = ("std", "none")
BASELINES: tuple[str, ...] = ("mean", "leave_one_out")
PROCESS_RETURNS: tuple[str, ...] = ("discounted", "min", "delta", "raw")


def _check_options(normalize: str, baseline: str, eps: float) -> None:
    if normalize not in NORMALIZATIONS:
        raise ConfigError(f"unknown normalize {normalize!r}; use one of {NORMALIZATIONS}")
    if baseline not in BASELINES:
        raise ConfigError(f"unknown baseline {baseline!r}; use one of {BASELINES}")
    if eps < 0:
        raise ConfigError(f"eps must be >= 0, got {eps}; 1e-6 is the usual value")


def _centred(values: Sequence[float], normalize: str, baseline: str, eps: float) -> list[float]:
    """``(v_i - b_i) / F`` over one group; the shared core of the episode and step streams."""
    n = len(values)
    # Nothing to compare with: a group of one carries no relative signal. Exactly equal values
    # are caught here too, so rounding in the mean cannot turn "no signal" into tiny noise / eps.
    if n < 2 or max(values) == min(values):
        return [0.0] * n
    total = math.fsum(values)
    mean = total / n
    if baseline == "mean":
        baselines = [mean] * n
    else:
        baselines = [(total - v) / (n - 1) for v in values]
    scale = statistics.pstdev(values, mu=mean) + eps if normalize == "std" else 1.0
    return [(v - b) / scale for v, b in zip(values, baselines, strict=True)]


def outcome_advantages(
    rewards: Sequence[float],
    *,
    normalize: Normalization = "std",
    baseline: Baseline = "mean",
    eps: float = 1e-6,
) -> list[float]:
    """Episode-level advantages ``A_E(i) = (R_i - b_i) / F`` within one task's group.

    ``baseline="mean"`` with ``normalize="std"`` is GRPO's group-relative advantage (arXiv
    2402.03300); ``baseline="leave_one_out"`` is RLOO's ``R_i - mean_{j != i} R_j``
    (arXiv 2402.14740), which keeps the baseline independent of the episode it judges.

    Args:
        rewards: The outcome ``R_i`` of each episode of one task.
        normalize: ``std``: divide by the group's population std plus ``eps``; ``none``: F = 1.
        baseline: ``mean`` (the group mean) or ``leave_one_out`` (the mean of the others).
        eps: Added to the std so a near-constant group does not blow up.

    Returns:
        One advantage per episode; all zeros for a group of one or equal rewards.
    """
    _check_options(normalize, baseline, eps)
    return _centred(rewards, normalize, baseline, eps)


def _discounted(rewards: Sequence[float], gamma: float) -> list[float]:
    returns: list[float] = []
    running = 0.0
    for reward in reversed(rewards):
        running = reward + gamma * running
        returns.append(running)
    return returns[::-1]


def process_returns(
    step_rewards: Sequence[float], how: ProcessReturn, *, gamma: float = 0.95
) -> list[float]:
    """Per-step process returns ``Q_t`` from an episode's PRM step rewards ``r_t``.

    * ``discounted``: ``Q_t = sum_{k >= t} gamma^(k-t) r_k``, GiGPO's step return (arXiv
      2505.10978).
    * ``min``: PURE's min-form credit ``Q_t = min_{k >= t} r_k`` (arXiv 2504.15275): a step is
      worth no more than the worst step it leads to, so padding with good steps earns nothing.
    * ``delta``: the undiscounted return of :func:`~prmgym.rewards.aggregation.delta_rewards`
      (arXiv 2410.15115). It telescopes, ``sum_{k >= t} (r_k - r_{k+1}) + r_T = r_t``, so it
      equals ``raw`` up to rounding; it is here so that the paper's setting can be named.
    * ``raw``: ``Q_t = r_t``, the step's own PRM score (ProRAG, arXiv 2601.21912, which weights
      this process term by omega ~ 0.3).

    Args:
        step_rewards: The PRM's value for each step, in order.
        how: ``discounted``, ``min``, ``delta`` or ``raw``.
        gamma: Discount for ``discounted``, in [0, 1].

    Returns:
        One return per step; ``[]`` for an episode without steps.
    """
    if how == "discounted":
        if not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1], got {gamma}; GiGPO uses 0.95")
        return _discounted(step_rewards, gamma)
    if how == "min":
        return [aggregate_steps(step_rewards[t:], "min") for t in range(len(step_rewards))]
    if how == "delta":
        return _discounted(delta_rewards(step_rewards), 1.0)
    if how == "raw":
        return list(step_rewards)
    raise ConfigError(f"unknown process return {how!r}; use one of {PROCESS_RETURNS}")


def state_key(trajectory: Trajectory, t: int) -> str:
    """The default step-group key: the observation the agent saw before step ``t``, hashed.

    That is the task instruction for ``t = 0`` and ``steps[t-1].observation`` after. The text is
    hashed (sha1 hex) so keys stay compact however long the observations are.

    Args:
        trajectory: The episode.
        t: The step's position, ``0 <= t < len(trajectory.steps)``.

    Returns:
        A 40-character hex digest.
    """
    if not 0 <= t < len(trajectory.steps):
        raise IndexError(f"step {t} out of range for an episode of {len(trajectory.steps)} steps")
    text = trajectory.task.instruction if t == 0 else trajectory.steps[t - 1].observation
    # Not a security use; saying so keeps it working on FIPS-restricted Pythons.
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def step_groups(trajectories: Sequence[Trajectory], key: StepKey | None = None) -> StepGroups:
    """GiGPO's anchor-state step groups (arXiv 2505.10978) of one task's episodes.

    Steps taken from the same state are grouped, whatever their turn index, so a step is
    compared with the other actions tried from where it stood.

    Args:
        trajectories: One task's episodes (keys of different tasks could collide).
        key: Maps ``(trajectory, t)`` to a hashable state key; :func:`state_key` by default.
            Pass a similarity or hash hook when exact states rarely repeat.

    Returns:
        Each key mapped to its ``(episode, step)`` members, in first-seen order.
    """
    key = key or state_key
    groups: StepGroups = {}
    for i, trajectory in enumerate(trajectories):
        for t in range(len(trajectory.steps)):
            groups.setdefault(key(trajectory, t), []).append((i, t))
    return groups


def step_advantages(
    returns: Sequence[Sequence[float]],
    groups: StepGroups,
    *,
    normalize: Normalization = "std",
    baseline: Baseline = "mean",
    eps: float = 1e-6,
) -> list[list[float]]:
    """Step-level advantages ``A_S(i,t) = (Q(i,t) - b) / F`` within step groups (GiGPO).

    A step alone in its group has nothing to be compared with; it falls back to the group of all
    steps of all episodes in ``returns``. Baseline and normalisation are as in
    :func:`outcome_advantages`, applied to each step group.

    Args:
        returns: ``Q(i,t)`` per episode, per step (episodes may differ in length).
        groups: Step groups from :func:`step_groups`; together they must hold every
            ``(i, t)`` of ``returns`` exactly once.
        normalize: ``std`` or ``none``.
        baseline: ``mean`` or ``leave_one_out``.
        eps: Added to the std.

    Returns:
        One advantage per step, shaped like ``returns``.
    """
    _check_options(normalize, baseline, eps)
    positions = [(i, t) for i, episode in enumerate(returns) for t in range(len(episode))]
    members = [member for group in groups.values() for member in group]
    if len(members) != len(set(members)) or set(members) != set(positions):
        missing = sorted(set(positions) - set(members))
        extra = sorted(set(members) - set(positions))
        raise ValueError(
            "step groups must hold every (episode, step) of returns exactly once"
            f" (missing: {missing[:5]}, not in returns: {extra[:5]},"
            f" duplicated: {len(members) - len(set(members))});"
            " build them with step_groups() over the same episodes"
        )
    out = [[0.0] * len(episode) for episode in returns]
    fallback = dict(
        zip(
            positions,
            _centred([returns[i][t] for i, t in positions], normalize, baseline, eps),
            strict=True,
        )
    )
    for group in groups.values():
        if len(group) == 1:
            ((i, t),) = group
            out[i][t] = fallback[(i, t)]
            continue
        values = [returns[i][t] for i, t in group]
        for (i, t), advantage in zip(
            group, _centred(values, normalize, baseline, eps), strict=True
        ):
            out[i][t] = advantage
    return out


def step_rewards(trajectory: Trajectory, episode: int, prm: str) -> list[float]:
    """Each step's latest score from ``prm``; ``episode`` names the rollout in errors.

    Raises:
        ValueError: A step has no score from ``prm`` (the message names its sources).
    """
    rewards = []
    for t, step in enumerate(trajectory.steps):
        values = [score.value for score in step.scores if score.source == prm]
        if not values:
            sources = sorted({score.source for score in step.scores})
            raise ValueError(
                f"episode {episode} step {t} has no score from prm source {prm!r};"
                f" its scores come from {sources if sources else 'no source'}."
                " Score the group with that PRM first, or pass prm=None for outcome-only"
                " advantages"
            )
        # A step rescored by the same PRM keeps every score; the latest is the one to use.
        rewards.append(values[-1])
    return rewards


def dual_granularity_advantages(
    group: Sequence[Trajectory],
    *,
    prm: str | None,
    omega: float = 1.0,
    process: ProcessReturn = "discounted",
    gamma: float = 0.95,
    normalize: Normalization = "std",
    baseline: Baseline = "mean",
    key: StepKey | None = None,
    clip: float | None = None,
    eps: float = 1e-6,
) -> list[list[float]]:
    """GiGPO's dual-granularity advantage ``A(i,t) = A_E(i) + omega * A_S(i,t)`` (Eq. 8).

    The episode stream uses ``trajectory.outcome_reward``; the step stream uses the PRM's step
    values turned into returns by :func:`process_returns` and grouped by state with
    :func:`step_groups`. The two are normalised separately, then summed.

    Args:
        group: One task's episodes (see :func:`group_by_task`); lengths may differ.
        prm: The ``StepScore.source`` whose values are the step rewards; None for outcome only.
        omega: Weight of the step stream; 0 gives outcome only. GiGPO uses 1, ProRAG ~0.3.
        process: How step rewards become returns: ``discounted``, ``min``, ``delta``, ``raw``.
        gamma: Discount for ``discounted``.
        normalize: ``std`` or ``none``, for both streams.
        baseline: ``mean`` (GRPO) or ``leave_one_out`` (RLOO), for both streams.
        key: Step-group key hook; :func:`state_key` by default.
        clip: When set, final advantages are clipped to ``[-clip, clip]``: a guard against a
            policy that games the PRM (reward hacking) earning outsized updates.
        eps: Added to the stds.

    Returns:
        Per episode, one advantage per step; ``[]`` for broken episodes (``error`` set), which
        are also left out of every baseline.

    Raises:
        ValueError: The group mixes tasks, or a step has no score from ``prm``.
    """
    if omega < 0:
        raise ConfigError(f"omega must be >= 0, got {omega}; GiGPO uses 1, ProRAG ~0.3")
    if clip is not None and clip <= 0:
        raise ConfigError(f"clip must be > 0 or None, got {clip}")
    task_ids = sorted({trajectory.task.id for trajectory in group})
    if len(task_ids) > 1:
        raise ValueError(
            f"a group holds one task's episodes, got tasks {task_ids[:5]};"
            " split the rollouts with group_by_task() first"
        )
    kept = [i for i, trajectory in enumerate(group) if trajectory.error is None]
    episodes = [group[i] for i in kept]
    episode_adv = outcome_advantages(
        [trajectory.outcome_reward for trajectory in episodes],
        normalize=normalize,
        baseline=baseline,
        eps=eps,
    )
    if prm is None or omega == 0:
        step_adv = [[0.0] * len(trajectory.steps) for trajectory in episodes]
    else:
        returns = [
            process_returns(step_rewards(trajectory, i, prm), process, gamma=gamma)
            for i, trajectory in zip(kept, episodes, strict=True)
        ]
        step_adv = step_advantages(
            returns,
            step_groups(episodes, key),
            normalize=normalize,
            baseline=baseline,
            eps=eps,
        )
    result: list[list[float]] = [[] for _ in group]
    for i, a_episode, a_steps in zip(kept, episode_adv, step_adv, strict=True):
        advantages = [a_episode + omega * a_step for a_step in a_steps]
        if clip is not None:
            advantages = [min(clip, max(-clip, a)) for a in advantages]
        result[i] = advantages
    return result


def group_by_task(trajectories: Sequence[Trajectory]) -> list[list[int]]:
    """Indices of the trajectories of each task, tasks in first-seen order.

    Rollouts arrive as one flat list; the advantages above work on one task's group at a time.
    """
    groups: dict[str, list[int]] = {}
    for i, trajectory in enumerate(trajectories):
        groups.setdefault(trajectory.task.id, []).append(i)
    return list(groups.values())
