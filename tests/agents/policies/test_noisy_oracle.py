import gymnasium
import pytest

from prmgym.agents.policies import make_policy
from prmgym.agents.policies.base import EpisodeView
from prmgym.agents.policies.noisy_oracle import NoisyOraclePolicy
from prmgym.agents.runner import run_episodes
from prmgym.envs.actions import parse_tool_call
from prmgym.envs.search.oracle import oracle_actions
from prmgym.errors import ConfigError


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="test")


@pytest.fixture(scope="module")
def tasks():
    return make_env().unwrapped.tasks[:12]


def run(policy, tasks):
    return run_episodes(make_env, [t.id for t in tasks], policy, batch_size=4)


def test_p1_is_the_oracle_and_p0_never_solves(tasks):
    assert all(t.success for t in run(NoisyOraclePolicy(1.0), tasks))
    never = run(NoisyOraclePolicy(0.0), tasks)
    assert not any(t.success for t in never)
    for trajectory in never:
        plan = oracle_actions(trajectory.task)
        assert trajectory.steps[0].action != plan[0]


def test_wrong_actions_look_right_but_are_not(tasks):
    policy = NoisyOraclePolicy(0.0)
    for task in tasks:
        plan = oracle_actions(task)
        view = EpisodeView(task=task, family="search", observations=["Task"], seed=0)
        for step, right in enumerate(plan):
            view.actions = plan[:step]
            (draw,) = policy.act([view])
            wrong = parse_tool_call(draw.action)
            assert draw.action != right
            assert wrong.name == parse_tool_call(right).name  # same tool, wrong argument


def test_p_is_the_share_of_oracle_draws(tasks):
    policy = NoisyOraclePolicy(0.5, seed=3)
    views = [
        EpisodeView(task=t, family="search", observations=["Task"], seed=i)
        for i, t in enumerate(tasks)
    ]
    draws = policy.sample(views, 40)
    assert all(len(d) == 40 for d in draws)
    right = sum(
        d.action == oracle_actions(v.task)[0]
        for v, row in zip(views, draws, strict=True)
        for d in row
    )
    # 480 draws at p = 0.5: outside [0.43, 0.57] has probability below 0.2%.
    assert 0.43 <= right / 480 <= 0.57
    assert policy.sample(views, 40) == draws  # seeded: the same draws again


def test_spec_parsing():
    assert make_policy("noisy-oracle:0.25").p == 0.25
    assert make_policy("noisy-oracle").p == 0.5
    with pytest.raises(ConfigError, match="noisy-oracle:0.5"):
        make_policy("noisy-oracle:often")
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        make_policy("noisy-oracle:2")
