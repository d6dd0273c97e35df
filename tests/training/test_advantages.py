import hashlib
import math
import statistics

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from prmgym.errors import ConfigError
from prmgym.task import Task
from prmgym.training.advantages import (
    dual_granularity_advantages,
    group_by_task,
    outcome_advantages,
    process_returns,
    state_key,
    step_advantages,
    step_groups,
)
from prmgym.trajectory import Step, StepScore, Trajectory


def assert_close(got, want, **tolerance):
    """Per-episode approx: pytest.approx does not nest."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, **tolerance)


TASK = Task(id="t", family="search", instruction="q?")


def episode(observations, scores=(), outcome=0.0, error=None, task=TASK, source="prm"):
    """An episode whose step t returned observations[t] and was scored scores[t] by source."""
    steps = [
        Step(
            index=t,
            action=f"a{t}()",
            observation=obs,
            scores=[StepScore(value=scores[t], source=source)] if scores else [],
        )
        for t, obs in enumerate(observations)
    ]
    return Trajectory(task=task, steps=steps, outcome_reward=outcome, error=error)


# --- episode stream ---------------------------------------------------------------------------


def test_grpo_std_normalisation_by_hand():
    # mean 0.5, population std 0.5: (1 - 0.5) / 0.5 = 1, (0 - 0.5) / 0.5 = -1
    assert outcome_advantages([1, 0, 0, 1], eps=0.0) == [1.0, -1.0, -1.0, 1.0]
    # the default eps = 1e-6 shrinks them by 0.5 / (0.5 + 1e-6)
    assert outcome_advantages([1, 0, 0, 1]) == pytest.approx([1, -1, -1, 1], rel=1e-5)


def test_rloo_leave_one_out_by_hand():
    # b_0 = mean(0, 0) = 0; b_1 = b_2 = mean(1, 0) = 0.5
    assert outcome_advantages([1, 0, 0], baseline="leave_one_out", normalize="none") == [
        1.0,
        -0.5,
        -0.5,
    ]
    # population std of [1, 0, 0] is sqrt(2) / 3: 1 / (sqrt(2)/3) = 3/sqrt(2), -0.5 -> -1.5/sqrt(2)
    assert outcome_advantages([1, 0, 0], baseline="leave_one_out") == pytest.approx(
        [2.1213203, -1.0606602, -1.0606602], rel=1e-5
    )


def test_single_member_group_gives_zero():
    assert outcome_advantages([0.7]) == [0.0]
    assert outcome_advantages([0.7], baseline="leave_one_out") == [0.0]
    assert outcome_advantages([]) == []


def test_equal_rewards_give_zeros_not_nan():
    for baseline in ("mean", "leave_one_out"):
        assert outcome_advantages([0.1, 0.1, 0.1], baseline=baseline, eps=0.0) == [0.0] * 3


def test_unknown_options_say_what_to_use():
    with pytest.raises(ConfigError, match="leave_one_out"):
        outcome_advantages([1, 0], baseline="median")
    with pytest.raises(ConfigError, match="std"):
        outcome_advantages([1, 0], normalize="max")
    with pytest.raises(ConfigError, match="discounted"):
        process_returns([1.0], "sum")


@given(st.lists(st.floats(-10, 10), min_size=2, max_size=16))
def test_std_normalised_outcomes_have_mean_zero_and_unit_std(rewards):
    assume(statistics.pstdev(rewards) > 1e-2)
    advantages = outcome_advantages(rewards, normalize="std")
    assert statistics.fmean(advantages) == pytest.approx(0.0, abs=1e-9)
    # eps = 1e-6 against a std above 1e-2 moves it by at most 1e-4
    assert statistics.pstdev(advantages) == pytest.approx(1.0, abs=1e-3)


# --- process returns --------------------------------------------------------------------------


def test_discounted_returns_by_hand():
    # Q_2 = 1; Q_1 = 0 + 0.5 * 1 = 0.5; Q_0 = 1 + 0.5 * 0.5 = 1.25
    assert process_returns([1.0, 0.0, 1.0], "discounted", gamma=0.5) == [1.25, 0.5, 1.0]


def test_min_form_returns_by_hand():
    assert process_returns([0.9, 0.2, 0.8], "min") == [0.2, 0.2, 0.8]


def test_delta_returns_telescope_to_the_step_reward():
    # deltas 0.7, -0.6, 0.8: 0.7 - 0.6 + 0.8 = 0.9; -0.6 + 0.8 = 0.2; 0.8
    assert process_returns([0.9, 0.2, 0.8], "delta") == pytest.approx([0.9, 0.2, 0.8])


def test_raw_returns_are_the_step_rewards():
    assert process_returns([0.9, 0.2, 0.8], "raw") == [0.9, 0.2, 0.8]


def test_empty_episode_has_no_returns():
    for how in ("discounted", "min", "delta", "raw"):
        assert process_returns([], how) == []


# --- step groups ------------------------------------------------------------------------------


def test_step_groups_share_the_prompt_and_match_states_across_turns():
    # States: ep0 (q?, p1, p2); ep1 (q?, p9, p1): p1 is seen at turn 1 in ep0, turn 2 in ep1.
    trajectories = [episode(["p1", "p2", "end"]), episode(["p9", "p1", "end"])]
    groups = step_groups(trajectories)
    assert list(groups.values()) == [[(0, 0), (1, 0)], [(0, 1), (1, 2)], [(0, 2)], [(1, 1)]]
    assert state_key(trajectories[1], 0) == hashlib.sha1(b"q?").hexdigest()
    assert state_key(trajectories[1], 2) == hashlib.sha1(b"p1").hexdigest()
    with pytest.raises(IndexError):
        state_key(trajectories[0], 3)


def test_step_groups_take_a_key_hook():
    trajectories = [episode(["p1", "p2", "end"]), episode(["p9", "p1", "end"])]
    by_turn = step_groups(trajectories, key=lambda trajectory, t: t)
    assert by_turn == {0: [(0, 0), (1, 0)], 1: [(0, 1), (1, 1)], 2: [(0, 2), (1, 2)]}


def test_singleton_step_groups_fall_back_to_all_steps():
    returns = [[1.0, 0.0], [0.0, 0.6, 0.2]]
    groups = {"a": [(0, 0), (1, 0)], "b": [(0, 1)], "c": [(1, 1)], "d": [(1, 2)]}
    # group a: mean 0.5 -> +0.5, -0.5. Singletons use all five steps: mean 1.8 / 5 = 0.36,
    # so 0 - 0.36, 0.6 - 0.36, 0.2 - 0.36.
    assert_close(
        step_advantages(returns, groups, normalize="none"), [[0.5, -0.36], [-0.5, 0.24, -0.16]]
    )
    # leave-one-out in group a: 1 - 0 and 0 - 1
    loo = step_advantages(returns, groups, normalize="none", baseline="leave_one_out")
    assert [loo[0][0], loo[1][0]] == [1.0, -1.0]


def test_step_groups_must_cover_the_returns():
    with pytest.raises(ValueError, match="exactly once"):
        step_advantages([[1.0, 0.0]], {"a": [(0, 0)]})


# --- dual granularity -------------------------------------------------------------------------


def three_episodes():
    # Lengths 2, 3, 1. States: ep0 (q?, A); ep1 (q?, A, C); ep2 (q?).
    return [
        episode(["A", "B"], [0.8, 0.9], outcome=1.0),
        episode(["A", "C", "D"], [0.6, 0.3, 0.1]),
        episode(["E"], [0.2]),
    ]


# By hand, process="raw", omega=0.5, eps ~ 0:
# A_E: R = [1, 0, 0], mean 1/3, std sqrt(2)/3 -> [sqrt(2), -1/sqrt(2), -1/sqrt(2)].
# Group q? = (0,0), (1,0), (2,0): Q = 0.8, 0.6, 0.2, mean 8/15, deviations 4/15, 1/15, -5/15,
#   std sqrt(14)/15 -> A_S = 4/sqrt(14), 1/sqrt(14), -5/sqrt(14).
# Group A = (0,1), (1,1): Q = 0.9, 0.3, mean 0.6, std 0.3 -> +1, -1.
# (1,2) is alone: all six steps 0.8, 0.9, 0.6, 0.3, 0.1, 0.2, mean 29/60; in 1/60 units the
#   deviations are 19, 25, 7, -11, -23, -17, squares sum 1974, std sqrt(1974/6)/60 =
#   sqrt(329)/60 -> A_S = -23/sqrt(329).
R2, R14, R329 = math.sqrt(2), math.sqrt(14), math.sqrt(329)
EXPECTED = [
    [R2 + 0.5 * 4 / R14, R2 + 0.5 * 1],
    [-1 / R2 + 0.5 * 1 / R14, -1 / R2 - 0.5 * 1, -1 / R2 + 0.5 * (-23 / R329)],
    [-1 / R2 + 0.5 * (-5 / R14)],
]


def test_dual_granularity_by_hand_with_variable_lengths():
    result = dual_granularity_advantages(three_episodes(), prm="prm", omega=0.5, process="raw")
    assert [len(a) for a in result] == [2, 3, 1]
    assert_close(result, EXPECTED, rel=1e-5)
    # spelled out: A(0,0) = 1.414214 + 0.534522, A(1,2) = -0.707107 - 0.634015
    assert result[0][0] == pytest.approx(1.948736, abs=1e-5)
    assert result[1][2] == pytest.approx(-1.341122, abs=1e-5)


def test_dual_granularity_min_returns_without_outcome_signal():
    # Equal outcomes -> A_E = 0. min returns: ep0 [0.2, 0.2], ep1 [0.5, 0.8].
    # Group q?: 0.2, 0.5 (mean 0.35). (0,1) and (1,1) are alone: all steps mean 1.7 / 4 = 0.425.
    group = [
        episode(["X", "Y"], [0.9, 0.2], outcome=1.0),
        episode(["Z", "W"], [0.5, 0.8], outcome=1.0),
    ]
    result = dual_granularity_advantages(group, prm="prm", process="min", normalize="none")
    assert_close(result, [[-0.15, 0.2 - 0.425], [0.15, 0.8 - 0.425]])


def test_outcome_only_when_no_prm_or_zero_omega():
    want = [[R2, R2], [-1 / R2] * 3, [-1 / R2]]
    for result in (
        dual_granularity_advantages(three_episodes(), prm=None),
        dual_granularity_advantages(three_episodes(), prm="absent", omega=0.0),
    ):
        assert_close(result, want, rel=1e-5)


def test_broken_episode_is_left_out_of_every_baseline():
    # Its outcome 1 and step scores would shift both baselines; it has no "prm" score either.
    broken = episode(["A", "Z"], outcome=1.0, error="sandbox crashed")
    group = [*three_episodes(), broken]
    result = dual_granularity_advantages(group, prm="prm", omega=0.5, process="raw")
    assert result[3] == []
    assert_close(result[:3], EXPECTED, rel=1e-5)


def test_clip_bounds_the_final_advantages():
    result = dual_granularity_advantages(
        three_episodes(), prm="prm", omega=0.5, process="raw", clip=1.5
    )
    # 1.948736 and 1.914214 clip to 1.5; the rest are within [-1.5, 1.5] already.
    assert result[0] == [1.5, 1.5]
    assert result[1] == pytest.approx(EXPECTED[1], rel=1e-5)
    assert result[2] == pytest.approx([-1.375260], abs=1e-5)


def test_missing_prm_score_names_the_source_and_those_present():
    group = [episode(["A"], [0.5], source="judge"), episode(["B"], [0.4], source="judge")]
    with pytest.raises(ValueError, match=r"prm source 'verifier'.*\['judge'\]"):
        dual_granularity_advantages(group, prm="verifier")


def test_a_group_must_hold_one_task():
    other = Task(id="u", family="search", instruction="q?")
    with pytest.raises(ValueError, match="group_by_task"):
        dual_granularity_advantages([episode(["A"]), episode(["A"], task=other)], prm=None)


def test_group_by_task_keeps_first_seen_order():
    other = Task(id="u", family="search", instruction="r?")
    flat = [episode(["A"]), episode(["A"], task=other), episode(["B"]), episode([], task=other)]
    assert group_by_task(flat) == [[0, 2], [1, 3]]
