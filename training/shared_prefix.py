"""Shared-prefix step-level sampling: k continuations that share a prefix and differ at one step.

SLATE ("Truncated Step-Level Sampling with Process Rewards for Retrieval-Augmented Reasoning")
samples, for one task, ``k`` trajectories that share a common prefix and differ only at the
next step, and scores that step with a process reward. Because the ``k`` siblings start from
the same state, the state's value cancels from their group-relative advantage: only the choice
at that step varies, which is what the paper proves lowers the variance of the advantage
estimate (by up to a factor of T for T steps).

The minimal version here: one trunk episode is rolled out; at each of its states the policy
draws ``k`` actions, each is executed from an env snapshot and the branch is scored by the PRM
right after its differing step (truncated: never rolled to the end); the trunk then goes on
with the first draw, an ordinary on-policy sample. Each state's ``k`` siblings form one step
group of the step stream ``A_S`` (:func:`~prmgym.training.advantages.step_advantages`), keyed by
:func:`branch_key`.

The trainer's ``rollout.mode: shared_prefix`` runs :func:`collect_sibling_groups` instead of
independent episodes and trains on each branch's differing step only, with the advantages of
:func:`branch_advantages`; :func:`advantage_variances` logs what the shared state buys.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from prmgym.agents.policies.base import EpisodeView, SamplingPolicy
from prmgym.agents.runner import ProgressCallback, finish_episode
from prmgym.rewards.base import ProcessRewardModel
from prmgym.training.advantages import (
    Baseline,
    Normalization,
    StepGroups,
    step_advantages,
    step_rewards,
)
from prmgym.trajectory import Trajectory

SiblingGroups = list[list[Trajectory]]
"""Per trunk state, in order, its ``k`` truncated branches (prefix + one differing step)."""


def branch_key(trajectory: Trajectory, t: int) -> tuple[str, tuple[str, ...]]:
    """A :data:`~prmgym.training.advantages.StepKey` for shared-prefix siblings.

    The task and the actions before step ``t``: siblings replay the same prefix from the same
    reset, so equal keys mean the same state by construction, with no observation hashing.

    Args:
        trajectory: A branch (or any episode).
        t: The step's position, ``0 <= t < len(trajectory.steps)``.

    Returns:
        ``(task id, actions of steps 0..t-1)``.
    """
    if not 0 <= t < len(trajectory.steps):
        raise IndexError(f"step {t} out of range for an episode of {len(trajectory.steps)} steps")
    return trajectory.task.id, tuple(step.action for step in trajectory.steps[:t])


def sample_shared_prefix(
    env: Any,
    policy: SamplingPolicy,
    task_id: str,
    *,
    k: int,
    scorer: ProcessRewardModel,
    max_steps: int,
    seed: int = 0,
) -> SiblingGroups:
    """SLATE's truncated step-level sampling of one task.

    Args:
        env: A prmgym env (wrapped or not) whose base env offers ``snapshot``/``restore``.
        policy: Draws the ``k`` sibling actions of each state in one ``sample`` call.
        task_id: The task to run.
        k: Siblings per state (the step group size).
        scorer: The PRM scoring each branch right after its differing step.
        max_steps: Most trunk steps; the base env is stepped directly, because snapshots do
            not rewind Gymnasium's TimeLimit counter, so the limit is kept here.
        seed: Reset seed of the trunk.

    Returns:
        One group of ``k`` branches per trunk state. Branch ``j`` of state ``t`` holds the
        trunk's first ``t`` steps and its own step ``t``; branch 0 is the one the trunk took.
        A branch the scorer failed on carries ``error`` (see :func:`sibling_advantages`).
    """
    if k < 2:
        raise ValueError(f"k must be at least 2 for siblings to compare, got {k}; SLATE uses 4+")
    base = env.unwrapped
    observation, _ = base.reset(seed=seed, options={"task_id": task_id})
    task = base.task
    view = EpisodeView(
        task=task, family=getattr(base, "family", "text"), observations=[observation], seed=seed
    )
    trunk = Trajectory(task=task, agent=policy.name, seed=seed)
    groups: SiblingGroups = []
    for t in range(max_steps):
        token = base.snapshot()
        decisions = policy.sample([view], k)[0]
        siblings: list[Trajectory] = []
        # Draw 0 runs last so the env is left in the state the trunk goes on from.
        for decision in [*decisions[1:], decisions[0]]:
            token = _rewind(base, token, trunk)
            branch = trunk.model_copy(deep=True)
            try:
                outcome = base.step(decision.action)
            except Exception as exc:  # noqa: BLE001 - a crashed step marks its branch only
                branch.error = f"env step failed: {exc!r}"
                siblings.append(branch)
                continue
            branch.record(decision.action, *outcome, completion=decision.completion)
            branch.accounting.actions_sampled += decision.samples
            finish_episode(branch, base, outcome[4], [scorer])
            siblings.append(branch)
        groups.append([siblings[-1], *siblings[:-1]])
        if len(siblings[-1].steps) == t:
            break  # the trunk's own step crashed: there is no state to go on from
        observation, reward, terminated, truncated, info = outcome
        trunk.record(decisions[0].action, observation, reward, terminated, truncated, info)
        view.observations.append(observation)
        view.actions.append(decisions[0].action)
        if terminated or truncated:
            break
    return groups


def _rewind(base: Any, token: Any, trunk: Trajectory) -> Any:
    """Put ``base`` back at the trunk's last state; returns the token to rewind to next time.

    A snapshot can be lost with the process that held it (a sibling's action may crash or
    restart the env's kernel); then the trunk is replayed from its reset, which the envs'
    determinism makes the same state, and a fresh snapshot is taken.
    """
    try:
        base.restore(token)
        return token
    except Exception:  # noqa: BLE001 - any failed restore is recovered the same way
        base.reset(seed=trunk.seed, options={"task_id": trunk.task.id})
        for step in trunk.steps:
            base.step(step.action)
        return base.snapshot()


def sibling_step_groups(branches: Sequence[Trajectory]) -> StepGroups:
    """Step groups over the branches' differing steps, keyed by :func:`branch_key`.

    Each branch contributes one step, its last, at position ``(i, 0)`` of the returns
    :func:`sibling_advantages` builds; its shared prefix is the trunk's and is not trained on
    again.
    """
    groups: StepGroups = {}
    for i, branch in enumerate(branches):
        groups.setdefault(branch_key(branch, len(branch.steps) - 1), []).append((i, 0))
    return groups


def sibling_advantages(
    groups: SiblingGroups,
    *,
    prm: str,
    normalize: Normalization = "std",
    baseline: Baseline = "mean",
    eps: float = 1e-6,
) -> list[list[float]]:
    """Step-level advantages ``A_S`` of each branch's differing step, siblings as the group.

    The PRM score of the differing step is its return (SLATE scores the step right after it is
    taken), fed to :func:`~prmgym.training.advantages.step_advantages` with the sibling groups,
    so a state's value cancels within its group.

    Args:
        groups: From :func:`sample_shared_prefix`.
        prm: The ``StepScore.source`` of the step scores.
        normalize: ``std`` or ``none``.
        baseline: ``mean`` or ``leave_one_out``.
        eps: Added to the std.

    Returns:
        Shaped like ``groups``: one advantage per branch; 0.0 (no update) for a broken branch,
        which is also left out of every baseline, and for a branch whose siblings all broke.
    """
    kept = [(g, j) for g, group in enumerate(groups) for j, b in enumerate(group) if not b.error]
    branches = [groups[g][j] for g, j in kept]
    returns = [[step_rewards(b, i, prm)[-1]] for i, b in enumerate(branches)]
    step_groups = sibling_step_groups(branches)
    advantages = step_advantages(
        returns, step_groups, normalize=normalize, baseline=baseline, eps=eps
    )
    # A state left with one sibling has nothing to compare with; step_advantages would fall
    # back to a baseline over other states, which is the estimate SLATE exists to avoid.
    alone = {members[0][0] for members in step_groups.values() if len(members) == 1}
    out = [[0.0] * len(group) for group in groups]
    for n, ((g, j), (advantage,)) in enumerate(zip(kept, advantages, strict=True)):
        out[g][j] = 0.0 if n in alone else advantage
    return out


def independent_step_groups(returns: Sequence[Sequence[float]]) -> StepGroups:
    """Every step alone in its group: what independent rollouts give when no state repeats.

    Each such step falls back to the task-wide group of
    :func:`~prmgym.training.advantages.step_advantages`, so its baseline mixes other states.
    """
    return {(i, t): [(i, t)] for i, episode in enumerate(returns) for t in range(len(episode))}


def step_advantage_variance(returns: Sequence[Sequence[float]], groups: StepGroups) -> float:
    """Population variance of the unnormalised step advantages ``Q(i,t) - b`` over all steps.

    Unnormalised (``normalize="none"``) because dividing by each group's std would give every
    group unit variance and hide the difference SLATE's analysis is about: a baseline from the
    same state removes the state's value from the estimate, one from other states does not.

    Args:
        returns: ``Q(i,t)`` per episode, per step.
        groups: The step groups to compare (e.g. :func:`sibling_step_groups` against
            :func:`independent_step_groups` over the same ``returns``).

    Returns:
        The variance; 0.0 when there are no steps.
    """
    advantages = step_advantages(returns, groups, normalize="none", baseline="mean")
    flat = [a for episode in advantages for a in episode]
    return statistics.pvariance(flat) if flat else 0.0


def collect_sibling_groups(
    make_env: Callable[[], Any],
    task_ids: Sequence[str],
    policy: SamplingPolicy,
    k: int,
    *,
    scorer: ProcessRewardModel,
    max_steps: int,
    seed: int = 0,
    on_done: ProgressCallback | None = None,
) -> list[SiblingGroups]:
    """:func:`sample_shared_prefix` on each task in turn, in one env.

    Args:
        make_env: Builds the env (one, closed at the end).
        task_ids: Tasks to run, in order; task ``j``'s trunk resets with seed ``seed + j``.
        policy: Draws the siblings.
        k: Siblings per state.
        scorer: Scores each branch.
        max_steps: Most trunk steps.
        seed: Base reset seed.
        on_done: Called with every finished branch (progress bars).

    Returns:
        Per task, its sibling groups.
    """
    env = make_env()
    try:
        out = []
        for j, task_id in enumerate(task_ids):
            groups = sample_shared_prefix(
                env, policy, task_id, k=k, scorer=scorer, max_steps=max_steps, seed=seed + j
            )
            out.append(groups)
            if on_done is not None:
                for branch in (b for group in groups for b in group):
                    on_done(branch)
        return out
    finally:
        env.close()


def branch_advantages(
    task_groups: Sequence[SiblingGroups],
    *,
    prm: str,
    omega: float = 1.0,
    normalize: Normalization = "std",
    baseline: Baseline = "mean",
    clip: float | None = None,
) -> tuple[list[Trajectory], list[list[float]]]:
    """Every branch of every task, with one advantage per step for the trainer's update.

    A branch's shared prefix is the trunk's and was trained on through the trunk's own
    branches, so its steps get 0 (the update skips them); its differing step gets ``omega``
    times its sibling advantage (:func:`sibling_advantages`), clipped to ``[-clip, clip]``.
    There is no outcome term: branches are truncated, so they have no outcome.

    Returns:
        The branches (flattened: task, state, sibling) and their per-step advantages.
    """
    branches: list[Trajectory] = []
    advantages: list[list[float]] = []
    for groups in task_groups:
        per_group = sibling_advantages(groups, prm=prm, normalize=normalize, baseline=baseline)
        for group, group_advantages in zip(groups, per_group, strict=True):
            for branch, advantage in zip(group, group_advantages, strict=True):
                value = omega * advantage
                if clip is not None:
                    value = max(-clip, min(clip, value))
                branches.append(branch)
                advantages.append([0.0] * (len(branch.steps) - 1) + [value] if branch.steps else [])
    return branches, advantages


def advantage_variances(task_groups: Sequence[SiblingGroups], *, prm: str) -> tuple[float, float]:
    """Step-advantage variance of the branches with shared-state groups, and without.

    The same differing steps and PRM returns, baselined within their sibling group (SLATE)
    and against every branch of their task (what the estimate is without a shared state). The
    ratio of the two is the variance reduction the shared prefix buys in this run.

    Returns:
        ``(shared, task-wide)``, population variances of the unnormalised advantages pooled
        over tasks; 0.0 each when no branch was scored.
    """
    shared: list[float] = []
    task_wide: list[float] = []
    for groups in task_groups:
        branches = [b for group in groups for b in group if not b.error]
        if not branches:
            continue
        returns = [[step_rewards(b, i, prm)[-1]] for i, b in enumerate(branches)]
        for target, step_groups in (
            (shared, sibling_step_groups(branches)),
            (task_wide, independent_step_groups(returns)),
        ):
            computed = step_advantages(returns, step_groups, normalize="none", baseline="mean")
            target.extend(a for episode in computed for a in episode)
    if not shared:
        return 0.0, 0.0
    return statistics.pvariance(shared), statistics.pvariance(task_wide)
