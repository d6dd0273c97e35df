import gymnasium
import pytest

from prmgym.agents.policies.base import Decision
from prmgym.agents.policies.noisy_oracle import NoisyOraclePolicy
from prmgym.agents.runner import run_episodes
from prmgym.agents.search.pruning import StepPruning
from prmgym.envs.search.oracle import oracle_actions
from prmgym.errors import ConfigError
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.summary import wilson_interval
from prmgym.trajectory import Trajectory


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="test")


@pytest.fixture(scope="module")
def task_ids():
    return [t.id for t in make_env().unwrapped.tasks[:40]]


def success(trajectories):
    return sum(t.success for t in trajectories)


@pytest.mark.slow
def test_pruning_with_the_verifier_beats_greedy_on_the_noisy_oracle(task_ids):
    # Seeds 0..39 (one per task), p = 0.5, k = 4: greedy keeps the one draw it makes.
    policy = NoisyOraclePolicy(0.5, seed=0)
    greedy = run_episodes(make_env, task_ids, policy, seed=0)
    pruned = run_episodes(
        make_env, task_ids, policy, seed=0, search=StepPruning(SearchVerifier(), k=4)
    )
    n = len(task_ids)
    g_low, g_high = wilson_interval(success(greedy), n)
    p_low, _ = wilson_interval(success(pruned), n)
    # The 95% intervals do not overlap: the gain is beyond seed noise.
    assert p_low > g_high, (success(greedy), success(pruned))
    for trajectory in pruned:
        assert trajectory.accounting.prm_calls >= len(trajectory.steps)
        assert trajectory.accounting.actions_sampled == 4 * len(trajectory.steps)
        for step in trajectory.steps:
            assert 1 <= len(step.candidates) <= 4
            (chosen,) = [c for c in step.candidates if c.chosen]
            assert chosen.action == step.action
            scored = [c.score.value for c in step.candidates if c.score is not None]
            assert chosen.score is not None and chosen.score.value == max(scored)


def test_hard_rules_reject_before_the_prm_scores():
    env = make_env()
    task = env.unwrapped.tasks[0]
    env.reset(options={"task_id": task.id})
    plan = oracle_actions(task)
    trajectory = Trajectory(task=task)
    trajectory.record(plan[0], *env.step(plan[0]))
    drafts = [Decision(plan[0]), Decision("not a call"), Decision(plan[1]), Decision(plan[1])]
    decision, records = StepPruning(SearchVerifier(), k=4).choose(trajectory, env.unwrapped, drafts)
    assert decision.action == plan[1]
    assert [r.action for r in records] == [plan[0], "not a call", plan[1]]  # duplicates merged
    assert "no-repeat" in records[0].rejected and "well-formed" in records[1].rejected
    assert records[0].score is None and records[2].chosen


def test_a_policy_that_cannot_sample_is_refused(task_ids):
    class ActOnly:
        name = "act-only"

        def act(self, episodes):
            return [Decision('search("x")') for _ in episodes]

    with pytest.raises(ConfigError, match="cannot sample"):
        run_episodes(make_env, task_ids[:1], ActOnly(), search=StepPruning(SearchVerifier()))


def test_lookahead_scores_real_outcomes_and_restores_the_env():
    from prmgym.envs.search.env import SearchQAEnv

    env = SearchQAEnv(split="test")
    task = env.tasks[0]
    env.reset(options={"task_id": task.id})
    plan = oracle_actions(task)
    trajectory = Trajectory(task=task)
    for action in plan[:-1]:
        trajectory.record(action, *env.step(action))
    before = env.snapshot()
    drafts = [Decision('answer("certainly not it")'), Decision(plan[-1])]
    pruning = StepPruning(SearchVerifier(), k=2, lookahead=True)
    decision, records = pruning.choose(trajectory, env, drafts)
    assert decision.action == plan[-1] and decision.prm_calls == 2
    assert records[0].score.label == "fatal" and records[1].score.value == 1.0
    assert env.snapshot() == before  # every branch was rolled back

    class NoSnapshots(SearchQAEnv):
        def snapshot(self):
            raise NotImplementedError

    # Without snapshots the env is replayed from reset: same scores, more env steps.
    plain = NoSnapshots(split="test")
    plain.reset(options={"task_id": task.id})
    for action in plan[:-1]:
        plain.step(action)
    replayed, replayed_records = pruning.choose(trajectory, plain, drafts)
    assert replayed.action == plan[-1]
    assert [r.score for r in replayed_records] == [r.score for r in records]
    assert decision.env_steps == 2 and replayed.env_steps == 2 + 2 * (len(plan) - 1)
    assert plain.state.answer is None and plain.state.queries == env.state.queries
