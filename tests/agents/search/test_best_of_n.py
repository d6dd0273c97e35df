import gymnasium
import pytest

from prmgym.agents.policies.noisy_oracle import NoisyOraclePolicy
from prmgym.agents.runner import run_episodes
from prmgym.agents.search import BestOfN, make_search, run_best_of_n
from prmgym.errors import ConfigError
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.task import Task
from prmgym.trajectory import Accounting, Step, StepScore, Trajectory


class Named:
    name = "prm"


def episode(values, answer, success=False, tokens=10):
    steps = [
        Step(index=i, action=a, observation="", scores=[StepScore(value=v, source="prm")])
        for i, (v, a) in enumerate(zip(values, ["search()", answer], strict=False))
    ]
    task = Task(id="t", family="search", instruction="q?")
    return Trajectory(
        task=task, steps=steps, success=success, accounting=Accounting(completion_tokens=tokens)
    )


def test_best_of_n_keeps_the_top_episode_and_pays_for_all():
    group = [episode([0.9, 0.2], 'answer("a")'), episode([0.6, 0.7], 'answer("b")', True)]
    kept = BestOfN(Named(), n=2).select(group)  # min: 0.2 vs 0.6
    assert kept.success and kept.steps[-1].action == 'answer("b")'
    assert kept.accounting.completion_tokens == 20
    assert kept.metrics["bon:n=2_score"] == pytest.approx(0.6)


def test_weighted_best_of_n_votes_answers_with_prm_weights():
    group = [
        episode([0.5, 0.5], 'answer("a")'),
        episode([0.5, 0.45], 'answer( "a")'),  # same answer up to spacing
        episode([0.8, 0.8], 'answer("b")'),
    ]
    # Plain best-of-N takes b (0.8); votes give a 0.5 + 0.45 = 0.95 > 0.8.
    assert BestOfN(Named(), n=3).select(group).steps[-1].action == 'answer("b")'
    weighted = BestOfN(Named(), n=3, weighted=True).select(group)
    assert weighted.steps[-1].action == 'answer("a")'


def test_broken_episodes_are_never_preferred():
    broken = episode([1.0, 1.0], 'answer("a")')
    broken.error = "sandbox crashed"
    assert BestOfN(Named(), n=2).select([broken, episode([0.1, 0.1], 'answer("b")')]).error is None


def test_bon_on_the_noisy_oracle_beats_a_single_draw():
    def make_env():
        return gymnasium.make("prmgym/SearchQA-v0", split="test")

    ids = [t.id for t in make_env().unwrapped.tasks[:20]]
    policy = NoisyOraclePolicy(0.5)
    single = run_episodes(make_env, ids, policy)
    kept = run_best_of_n(make_env, ids, policy, BestOfN(SearchVerifier(), n=4))
    assert [t.task.id for t in kept] == ids
    assert sum(t.success for t in kept) > sum(t.success for t in single)
    assert all(t.accounting.env_steps >= 4 for t in kept)  # the compute of all four
    # The noisy oracle's episodes always last its plan's length, so four runs cost four times one.
    assert sum(t.accounting.actions_sampled for t in kept) == 4 * sum(
        t.accounting.actions_sampled for t in single
    )


@pytest.mark.parametrize(
    ("spec", "expected"), [("bon:n=8", (8, "min", False)), ("wbon:n=2,how=mean", (2, "mean", True))]
)
def test_specs(spec, expected):
    method = make_search(spec, family="search")
    assert (method.n, method.how, method.weighted) == expected


def test_bad_bon_specs():
    with pytest.raises(ConfigError, match="how is one of"):
        make_search("bon:how=median", family="search")
    with pytest.raises(ConfigError, match="bad search option"):
        make_search("bon:k=2", family="search")
