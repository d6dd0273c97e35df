"""Aggregation and shaping: pure functions that combine scores.

Criteria combine into a step, steps into a trajectory, and step rewards into the shaped
rewards an RL trainer consumes.

Three families, each naming its source:

* **criteria -> step** (rubrics): weighted mean ``sum(w*s) / sum(|w|)`` (RaR, arXiv 2507.17746,
  where pitfalls carry negative weights), gated, min, product, harmonic mean;
* **steps -> trajectory**: last, min, product, mean, soft-min (PURE, arXiv 2504.15275:
  ``w_t = softmax(-r_t / T)``, which tends to the min as ``T -> 0``);
* **RL transforms** (arXiv 2410.15115): clip ``min(r - eta, 0)``, delta ``r_t - r_{t+1}``, and
  potential-based shaping ``r_t + gamma * phi_{t+1} - phi_t`` (Ng et al., 1999).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from prmgym.errors import ConfigError

CriteriaAggregation = Literal["weighted_mean", "gated", "min", "product", "harmonic_mean"]
StepAggregation = Literal["last", "min", "product", "mean", "soft_min"]

CRITERIA_AGGREGATIONS: tuple[str, ...] = (
    "weighted_mean",
    "gated",
    "min",
    "product",
    "harmonic_mean",
)
STEP_AGGREGATIONS: tuple[str, ...] = ("last", "min", "product", "mean", "soft_min")


def _check(scores: Sequence[float], weights: Sequence[float]) -> None:
    if len(scores) != len(weights):
        raise ValueError(f"{len(scores)} scores but {len(weights)} weights")
    if not scores:
        raise ValueError("nothing to aggregate: no scores")
    if not any(weights):
        raise ValueError("all weights are zero; give at least one criterion a non-zero weight")


def weighted_mean(scores: Sequence[float], weights: Sequence[float]) -> float:
    """RaR's rubric score ``sum(w_i * s_i) / sum(|w_i|)``.

    A pitfall has a negative weight and ``s = 1`` when the step shows it, so it pulls the score
    down; with pitfalls present the result lies in ``[-neg, 1 - neg]``, ``neg`` being the
    pitfalls' share of ``sum(|w|)``. :func:`satisfaction` maps it onto [0, 1].
    """
    _check(scores, weights)
    return sum(w * s for w, s in zip(weights, scores, strict=True)) / sum(abs(w) for w in weights)


def satisfaction(scores: Sequence[float], weights: Sequence[float]) -> list[float]:
    """Per-criterion satisfaction in [0, 1]: ``s`` for positive weights, ``1 - s`` for pitfalls.

    ``weighted_mean(sat, |w|) == weighted_mean(s, w) + neg``: the same ordering as RaR's score,
    shifted into [0, 1], which is what the non-linear aggregations need.
    """
    return [s if w >= 0 else 1.0 - s for s, w in zip(scores, weights, strict=True)]


def aggregate_criteria(
    scores: Sequence[float],
    weights: Sequence[float],
    how: CriteriaAggregation = "weighted_mean",
    *,
    gates: Sequence[bool] | None = None,
    vetoes: Sequence[bool] | None = None,
) -> float:
    """Combine criterion scores of one step into a value in [0, 1].

    A criterion is unmet when its satisfaction is below 0.5.

    Args:
        scores: Each criterion's score in [0, 1] (for a pitfall: 1 = the pitfall is present).
        weights: Each criterion's weight; negative for pitfalls.
        how: ``weighted_mean`` (RaR, shifted into [0, 1]), ``gated`` (0 when any gate is
            unmet, else the weighted mean), or ``min``, ``product``, ``harmonic_mean`` (weighted
            by ``|w|``) over the satisfactions.
        gates: Which criteria gate the score under ``gated`` (hard rules).
        vetoes: Which criteria zero the score under every aggregation (fatal criteria).

    Returns:
        The step's value in [0, 1].
    """
    _check(scores, weights)
    sat = satisfaction(scores, weights)
    unmet = [s < 0.5 for s in sat]
    if vetoes is not None and any(v and u for v, u in zip(vetoes, unmet, strict=True)):
        return 0.0
    if (
        how == "gated"
        and gates is not None
        and any(g and u for g, u in zip(gates, unmet, strict=True))
    ):
        return 0.0
    magnitudes = [abs(w) for w in weights]
    if how in ("weighted_mean", "gated"):
        value = weighted_mean(sat, magnitudes)
    elif how == "min":
        value = min(s for s, m in zip(sat, magnitudes, strict=True) if m)
    elif how == "product":
        value = math.prod(s for s, m in zip(sat, magnitudes, strict=True) if m)
    elif how == "harmonic_mean":
        if any(s <= 0 for s, m in zip(sat, magnitudes, strict=True) if m):
            return 0.0
        value = sum(magnitudes) / sum(m / s for s, m in zip(sat, magnitudes, strict=True) if m)
    else:
        raise ConfigError(
            f"unknown criteria aggregation {how!r}; use one of {CRITERIA_AGGREGATIONS}"
        )
    return min(1.0, max(0.0, value))


def soft_min(values: Sequence[float], temperature: float = 0.1) -> float:
    """PURE's soft-min: ``sum_t softmax(-r / T)_t * r_t`` (arXiv 2504.15275, Eq. 4).

    It weights the worst steps most; ``T -> 0`` gives the min, ``T -> inf`` the mean.
    """
    if not values:
        raise ValueError("nothing to aggregate: no step values")
    if temperature <= 0:
        raise ConfigError(f"soft-min temperature must be > 0, got {temperature}; PURE uses 0.1")
    low = min(values)
    # Shifting by the min keeps exp() in range; softmax is shift-invariant.
    weights = [math.exp(-(v - low) / temperature) for v in values]
    value = sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)
    # Rounding can land a hair below the min when the values are equal.
    return max(low, value)


def aggregate_steps(
    values: Sequence[float], how: StepAggregation = "min", temperature: float = 0.1
) -> float:
    """Combine a trajectory's step values into one score.

    Args:
        values: Step values in order.
        how: ``last``, ``min``, ``product``, ``mean`` or ``soft_min`` (PURE).
        temperature: Soft-min temperature.

    Returns:
        The trajectory's score.
    """
    if not values:
        raise ValueError("nothing to aggregate: no step values")
    if how == "last":
        return values[-1]
    if how == "min":
        return min(values)
    if how == "product":
        return math.prod(values)
    if how == "mean":
        return sum(values) / len(values)
    if how == "soft_min":
        return soft_min(values, temperature)
    raise ConfigError(f"unknown step aggregation {how!r}; use one of {STEP_AGGREGATIONS}")


def clip_rewards(rewards: Sequence[float], eta: float = 0.5) -> list[float]:
    """Clip mechanism ``r_t' = min(r_t - eta, 0)`` (arXiv 2410.15115, Sec. 4).

    Process rewards become non-positive, so a policy cannot gain by adding steps: the
    length-hacking failure of summed positive step rewards.
    """
    return [min(r - eta, 0.0) for r in rewards]


def delta_rewards(rewards: Sequence[float]) -> list[float]:
    """Delta mechanism ``r_t' = r_t - r_{t+1}``, the last step keeping ``r_T`` (arXiv 2410.15115).

    The return from step t telescopes to ``r_t``: ``sum_{s >= t} r_s' = r_t``, so the credit of a
    step is its own PRM score, whatever follows.
    """
    return [r - nxt for r, nxt in zip(rewards, rewards[1:], strict=False)] + list(rewards[-1:])


def potential_shaping(
    rewards: Sequence[float], potentials: Sequence[float], gamma: float = 1.0
) -> list[float]:
    """Potential-based shaping ``r_t + gamma * phi_{t+1} - phi_t`` (Ng, Harada, Russell 1999).

    Args:
        rewards: The env rewards ``r_0 .. r_{T-1}``.
        potentials: ``phi_0 .. phi_T``, one more than ``rewards`` (the state before each step and
            the final state), e.g. PRM values with ``phi_0`` the prior; set ``phi_T = 0`` at a
            terminal state to leave optimal policies unchanged.
        gamma: Discount.

    Returns:
        Shaped rewards; their discounted sum is the original's plus
        ``gamma^T * phi_T - phi_0``.
    """
    if len(potentials) != len(rewards) + 1:
        raise ValueError(
            f"potentials must have len(rewards) + 1 = {len(rewards) + 1} entries"
            f" (phi_0 .. phi_T), got {len(potentials)}"
        )
    return [r + gamma * potentials[t + 1] - potentials[t] for t, r in enumerate(rewards)]
