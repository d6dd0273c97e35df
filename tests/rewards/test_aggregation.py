import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prmgym.errors import ConfigError
from prmgym.rewards.aggregation import (
    aggregate_criteria,
    aggregate_steps,
    clip_rewards,
    delta_rewards,
    potential_shaping,
    satisfaction,
    soft_min,
    weighted_mean,
)

unit = st.floats(0.0, 1.0)


def test_weighted_mean_by_hand():
    # RaR: (2*1 + 1*0.5 - 1*1) / (2 + 1 + 1) = 1.5 / 4
    assert weighted_mean([1.0, 0.5, 1.0], [2, 1, -1]) == pytest.approx(0.375)


def test_pitfall_shift_keeps_order_and_range():
    scores, weights = [1.0, 0.5, 1.0], [2, 1, -1]
    # satisfaction flips the pitfall: 1 - 1 = 0; shifted mean = 0.375 + 1/4
    assert aggregate_criteria(scores, weights) == pytest.approx(0.625)
    assert satisfaction(scores, weights) == [1.0, 0.5, 0.0]


def test_min_product_harmonic_by_hand():
    scores, weights = [0.8, 0.5], [1, 3]
    assert aggregate_criteria(scores, weights, "min") == pytest.approx(0.5)
    assert aggregate_criteria(scores, weights, "product") == pytest.approx(0.4)
    # weighted harmonic mean: (1 + 3) / (1/0.8 + 3/0.5) = 4 / 7.25
    assert aggregate_criteria(scores, weights, "harmonic_mean") == pytest.approx(4 / 7.25)
    assert aggregate_criteria([0.0, 1.0], [1, 1], "harmonic_mean") == 0.0


def test_gated_zeroes_on_failed_gate_only():
    scores, weights, gates = [0.2, 1.0], [1, 1], [True, False]
    assert aggregate_criteria(scores, weights, "gated", gates=gates) == 0.0
    assert aggregate_criteria(scores, weights, "weighted_mean", gates=gates) == pytest.approx(0.6)
    assert aggregate_criteria([1.0, 0.2], weights, "gated", gates=gates) == pytest.approx(0.6)


def test_fatal_veto_under_every_aggregation():
    for how in ("weighted_mean", "gated", "min", "product", "harmonic_mean"):
        assert aggregate_criteria([0.1, 1.0], [1, 5], how, vetoes=[True, False]) == 0.0


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="weights"):
        aggregate_criteria([1.0], [1, 2])
    with pytest.raises(ValueError, match="zero"):
        aggregate_criteria([1.0], [0])
    with pytest.raises(ConfigError, match="unknown"):
        aggregate_criteria([1.0], [1], "median")  # type: ignore[arg-type]


@given(st.lists(st.tuples(unit, st.floats(-3, 3).filter(lambda w: abs(w) > 1e-3)), min_size=1))
def test_every_aggregation_stays_in_unit_interval(pairs):
    scores, weights = [s for s, _ in pairs], [w for _, w in pairs]
    for how in ("weighted_mean", "gated", "min", "product", "harmonic_mean"):
        assert 0.0 <= aggregate_criteria(scores, weights, how) <= 1.0


def test_step_aggregations_by_hand():
    values = [0.9, 0.5, 0.8]
    assert aggregate_steps(values, "last") == 0.8
    assert aggregate_steps(values, "min") == 0.5
    assert aggregate_steps(values, "product") == pytest.approx(0.36)
    assert aggregate_steps(values, "mean") == pytest.approx(2.2 / 3)


def test_soft_min_by_hand():
    # w = softmax([-1, -0]) for T = 1 on [1, 0] -> value = e^-1 / (1 + e^-1)
    assert soft_min([1.0, 0.0], temperature=1.0) == pytest.approx(math.exp(-1) / (1 + math.exp(-1)))


@given(st.lists(unit, min_size=1, max_size=12))
def test_soft_min_limits(values):
    # T -> 0 gives the min (each step adds at most T/e above it), T -> inf the mean; in between
    # it lies between them.
    assert 0 <= soft_min(values, 1e-4) - min(values) <= len(values) * 1e-4 / math.e + 1e-12
    assert soft_min(values, 1e6) == pytest.approx(sum(values) / len(values), abs=1e-5)
    assert min(values) - 1e-9 <= soft_min(values, 0.1) <= sum(values) / len(values) + 1e-9


def test_clip_is_non_positive():
    assert clip_rewards([0.9, 0.2, 0.5], eta=0.5) == pytest.approx([0.0, -0.3, 0.0])


@given(st.lists(unit, min_size=1, max_size=12))
def test_delta_telescopes_to_each_steps_own_reward(rewards):
    shaped = delta_rewards(rewards)
    assert len(shaped) == len(rewards)
    for t in range(len(rewards)):
        assert sum(shaped[t:]) == pytest.approx(rewards[t])


@given(
    st.lists(unit, min_size=1, max_size=10),
    st.lists(unit, min_size=11, max_size=11),
    st.floats(0.5, 1.0),
)
def test_potential_shaping_changes_return_by_boundary_terms(rewards, phis, gamma):
    potentials = phis[: len(rewards) + 1]
    shaped = potential_shaping(rewards, potentials, gamma)
    ret = sum(gamma**t * r for t, r in enumerate(rewards))
    shaped_ret = sum(gamma**t * r for t, r in enumerate(shaped))
    boundary = gamma ** len(rewards) * potentials[-1] - potentials[0]
    assert shaped_ret == pytest.approx(ret + boundary)


def test_potential_shaping_checks_lengths():
    with pytest.raises(ValueError, match="phi_0"):
        potential_shaping([1.0, 0.0], [0.0, 0.0])
