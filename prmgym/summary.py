"""Summary metrics of a set of trajectories: what a results table and a plot show."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from prmgym.trajectory import Trajectory


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default).

    Example:
        >>> lo, hi = wilson_interval(5, 10)
        >>> round(lo, 3), round(hi, 3)
        (0.237, 0.763)
    """
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # Rounding can put p a hair outside [centre - half, centre + half] at p = 0 or 1.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def summarize(trajectories: Sequence[Trajectory]) -> dict[str, Any]:
    """Success rate (with a 95% Wilson interval), F1, steps, errors, PRM means and compute.

    ``compute`` holds :func:`compute_per_episode`; the token and wall-time totals beside it
    are kept for readers of older runs.
    """
    n = len(trajectories)
    ok = [t for t in trajectories if t.error is None]
    successes = sum(t.success for t in ok)
    low, high = wilson_interval(successes, n)
    steps = [s for t in ok for s in t.steps]
    prm: dict[str, list[float]] = {}
    for step in steps:
        for score in step.scores:
            prm.setdefault(score.source, []).append(score.value)
    wall = sum(t.accounting.wall_time_s for t in trajectories)
    # None where the family grades no F1 (SWE: resolved or not); tables show a dash.
    f1s = [t.metrics["f1"] for t in ok if "f1" in t.metrics]
    return {
        "episodes": n,
        "broken": n - len(ok),
        "success_rate": successes / n if n else 0.0,
        "success_ci95": [low, high],
        "mean_f1": fmean(f1s) if f1s else None,
        "mean_steps": fmean(len(t.steps) for t in ok) if ok else 0.0,
        "action_error_rate": (
            sum(s.action_error is not None for s in steps) / len(steps) if steps else 0.0
        ),
        "mean_prm": {source: fmean(values) for source, values in sorted(prm.items())},
        "prompt_tokens": sum(t.accounting.prompt_tokens for t in trajectories),
        "completion_tokens": sum(t.accounting.completion_tokens for t in trajectories),
        "episode_wall_time_s": wall,
        "compute": compute_per_episode(trajectories),
    }


# Summary name -> Accounting field; "generated" says what completion tokens are to a reader.
_COMPUTE_FIELDS = {
    "actions_sampled": "actions_sampled",
    "generated_tokens": "completion_tokens",
    "prompt_tokens": "prompt_tokens",
    "llm_calls": "llm_calls",
    "prm_calls": "prm_calls",
    "env_steps": "env_steps",
    "wall_time_s": "wall_time_s",
}


def compute_per_episode(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """Mean compute spent per episode, from each trajectory's accounting.

    Broken episodes count too: their compute was spent. Under best-of-N a kept episode carries
    the compute of all N, so these means compare search methods at equal footing.

    Example:
        >>> from prmgym.task import Task
        >>> from prmgym.trajectory import Accounting
        >>> task = Task(id="t", family="search", instruction="q")
        >>> runs = [Trajectory(task=task, accounting=Accounting(actions_sampled=n)) for n in (2, 6)]
        >>> compute_per_episode(runs)["actions_sampled_per_episode"]
        4.0
    """
    return {
        f"{name}_per_episode": (
            fmean(float(getattr(t.accounting, field)) for t in trajectories)
            if trajectories
            else 0.0
        )
        for name, field in _COMPUTE_FIELDS.items()
    }
