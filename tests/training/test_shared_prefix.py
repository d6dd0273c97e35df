from pathlib import Path

import gymnasium
import pytest

from prmgym.agents.policies.noisy_oracle import NoisyOraclePolicy
from prmgym.errors import ConfigError
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.task import Task
from prmgym.training.config import load_train_config
from prmgym.training.shared_prefix import (
    advantage_variances,
    branch_advantages,
    branch_key,
    independent_step_groups,
    sample_shared_prefix,
    sibling_advantages,
    sibling_step_groups,
    step_advantage_variance,
)
from prmgym.training.trainer import train
from prmgym.trajectory import Step, StepScore, Trajectory

HERE = Path(__file__).parent

PRM = SearchVerifier.name


def branch(actions, score):
    steps = [Step(index=i, action=a, observation="") for i, a in enumerate(actions)]
    steps[-1].scores.append(StepScore(value=score, source="prm"))
    for step in steps[:-1]:
        step.scores.append(StepScore(value=0.0, source="prm"))
    return Trajectory(task=Task(id="t", family="search", instruction="q?"), steps=steps)


def test_branch_key_is_task_and_prefix_actions():
    b = branch(["a", "b", "c"], 1.0)
    assert branch_key(b, 0) == ("t", ())
    assert branch_key(b, 2) == ("t", ("a", "b"))
    with pytest.raises(IndexError):
        branch_key(b, 3)


def test_siblings_share_a_state_so_the_state_value_cancels():
    # Two states worth 0 and 10; from each, one action is +1 better than the other.
    returns = [[1.0], [-1.0], [11.0], [9.0]]
    siblings = {"s0": [(0, 0), (1, 0)], "s1": [(2, 0), (3, 0)]}
    # Shared prefix: advantages +1, -1, +1, -1 -> variance 1.
    assert step_advantage_variance(returns, siblings) == pytest.approx(1.0)
    # Independent: one baseline 5 over both states -> -4, -6, 6, 4 -> variance 104 / 4 = 26.
    assert step_advantage_variance(returns, independent_step_groups(returns)) == pytest.approx(26)


def test_sibling_advantages_group_by_prefix_and_skip_broken_branches():
    broken = branch(["s", "z"], 0.0)
    broken.error = "scorer failed"
    groups = [
        [branch(["s"], 1.0), branch(["o"], 0.0)],
        [branch(["s", "a"], 1.0), branch(["s", "b"], 0.5), broken],
    ]
    assert list(sibling_step_groups([b for g in groups for b in g if not b.error]).values()) == [
        [(0, 0), (1, 0)],
        [(2, 0), (3, 0)],
    ]
    advantages = sibling_advantages(groups, prm="prm", normalize="none")
    # Means 0.5 and 0.75 (with the broken 0.0 it would be 0.5); the broken branch gets 0.
    assert advantages == [[0.5, -0.5], [0.25, -0.25, 0.0]]


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="test")


def test_sampler_on_the_noisy_oracle_builds_truncated_sibling_groups():
    env = make_env()
    task_id = env.unwrapped.tasks[0].id
    groups = sample_shared_prefix(
        env, NoisyOraclePolicy(0.5, seed=1), task_id, k=3, scorer=SearchVerifier(), max_steps=6
    )
    trunk = [group[0].steps[-1].action for group in groups]
    for t, group in enumerate(groups):
        assert len(group) == 3
        # Truncated: the trunk's first t steps, then one step of its own, scored.
        assert all([s.action for s in b.steps[:t]] == trunk[:t] for b in group)
        assert all(len(b.steps) == t + 1 and b.steps[-1].scores for b in group)
        assert len({branch_key(b, t) for b in group}) == 1
    assert len({branch_key(group[0], t) for t, group in enumerate(groups)}) == len(groups)
    # Each sibling saw what a fresh env replaying its actions sees: restore rewound the state.
    replay = make_env().unwrapped
    replay.reset(seed=0, options={"task_id": task_id})
    last = groups[-1]
    for action in trunk[:-1]:
        replay.step(action)
    token = replay.snapshot()
    for b in last:
        replay.restore(token)
        assert replay.step(b.steps[-1].action)[0] == b.steps[-1].observation
    # The noisy oracle is wrong in some draws, so some state's siblings differ in PRM score.
    advantages = sibling_advantages(groups, prm=PRM, normalize="none")
    assert any(a != 0.0 for group in advantages for a in group)
    assert all(sum(group) == pytest.approx(0.0) for group in advantages)


def test_the_exact_oracle_gives_identical_siblings_and_zero_advantages():
    env = make_env()
    groups = sample_shared_prefix(
        env,
        NoisyOraclePolicy(1.0),
        env.unwrapped.tasks[0].id,
        k=2,
        scorer=SearchVerifier(),
        max_steps=6,
    )
    assert groups[-1][0].success and groups[-1][0].steps[-1].action.startswith("answer")
    assert sibling_advantages(groups, prm=PRM) == [[0.0, 0.0] for _ in groups]


def test_branch_advantages_train_only_the_differing_step_weighted_and_clipped():
    groups = [
        [branch(["s"], 1.0), branch(["o"], 0.0)],
        [branch(["s", "a"], 1.0), branch(["s", "b"], 0.0)],
    ]
    branches, advantages = branch_advantages(
        [groups], prm="prm", omega=2.0, normalize="none", clip=0.8
    )
    assert [len(b.steps) for b in branches] == [1, 1, 2, 2]
    # Sibling advantages are +-0.5; omega 2 makes them +-1, the clip +-0.8; prefixes get 0.
    assert advantages == [[0.8], [-0.8], [0.0, 0.8], [0.0, -0.8]]


def test_advantage_variances_compare_shared_state_with_task_wide_baselines():
    # Two states worth 0.1 and 0.8; from each, one action is 0.2 better than the other.
    groups = [
        [branch(["x"], 0.2), branch(["y"], 0.0)],
        [branch(["x", "a"], 0.9), branch(["x", "b"], 0.7)],
    ]
    # Shared: +-0.1 -> 0.01. Task-wide baseline 0.45: -0.25, -0.45, 0.45, 0.25 -> 0.1325.
    assert advantage_variances([groups], prm="prm") == pytest.approx((0.01, 0.1325))
    assert advantage_variances([], prm="prm") == (0.0, 0.0)


def test_shared_prefix_mode_is_rejected_where_it_cannot_run():
    with pytest.raises(ConfigError, match="set rollout.prm"):
        load_train_config(None, ["rollout.mode=shared_prefix", "rollout.prm=null"])
    with pytest.raises(ConfigError, match="group_size of at least 2"):
        load_train_config(None, ["rollout.mode=shared_prefix", "rollout.group_size=1"])
    with pytest.raises(ConfigError, match="truncated"):
        load_train_config(None, ["rollout.mode=shared_prefix", "advantages.prof_keep=0.5"])
    with pytest.raises(ConfigError, match="rollout.mode is one of"):
        load_train_config(None, ["rollout.mode=slate"])


@pytest.mark.slow
def test_a_shared_prefix_training_run_updates_on_sibling_steps(
    tiny_model_dir, tmp_path, monkeypatch, tiny_settings
):
    monkeypatch.syspath_prepend(str(HERE))
    overrides = tiny_settings(
        tiny_model_dir, tmp_path, "iterations=1", "rollout.mode=shared_prefix"
    )
    result = train(load_train_config(None, overrides))
    line = result.metrics[1]
    states = line["rollout/sibling_groups"]
    # 2 tasks, 1-2 trunk states each (max_steps 2), 2 siblings per state, one branch each.
    assert 2 <= states <= 4 and line["rollout/episodes"] == 2 * states
    # Only differing steps are trained on, and only those whose siblings scored differently.
    assert 0 < line["update/samples"] <= line["rollout/episodes"]
    assert line["rollout/adv_var_shared"] <= line["rollout/adv_var_task_wide"] + 1e-9


def test_a_sibling_whose_step_crashes_is_marked_and_the_trunk_goes_on(monkeypatch):
    env = make_env()
    base = env.unwrapped
    real_step = base.step
    calls = []

    def step(action):
        calls.append(action)
        if len(calls) == 1:  # the first executed sibling of the first state
            raise RuntimeError("env died")
        return real_step(action)

    monkeypatch.setattr(base, "step", step)
    groups = sample_shared_prefix(
        env,
        NoisyOraclePolicy(0.5, seed=2),
        base.tasks[0].id,
        k=2,
        scorer=SearchVerifier(),
        max_steps=6,
    )
    first = groups[0]
    assert first[1].error and "env died" in first[1].error and not first[1].steps
    assert first[0].error is None and len(groups) > 1
    # The lone survivor is compared with nothing, not with other states' branches.
    advantages = sibling_advantages(groups, prm=PRM, normalize="none")
    assert advantages[0] == [0.0, 0.0]
    assert any(a != 0.0 for group in advantages[1:] for a in group)


def last_steps(groups):
    return [[(b.steps[-1].action, b.steps[-1].observation) for b in group] for group in groups]


def test_a_lost_snapshot_is_recovered_by_replaying_the_trunk(monkeypatch):
    env = make_env()
    base = env.unwrapped
    task_id = base.tasks[0].id
    expected = sample_shared_prefix(
        env, NoisyOraclePolicy(0.5, seed=1), task_id, k=3, scorer=SearchVerifier(), max_steps=6
    )
    real_restore = base.restore
    failures = []

    def restore(token):
        if not failures:  # the first restore finds its snapshot gone
            failures.append(token)
            raise RuntimeError("snapshot did not resume")
        return real_restore(token)

    monkeypatch.setattr(base, "restore", restore)
    groups = sample_shared_prefix(
        env, NoisyOraclePolicy(0.5, seed=1), task_id, k=3, scorer=SearchVerifier(), max_steps=6
    )
    assert failures
    assert last_steps(groups) == last_steps(expected)
    assert all(b.error is None for g in groups for b in g)
