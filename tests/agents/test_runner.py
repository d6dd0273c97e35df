import gymnasium
import pytest

from prmgym.agents.policies.base import Decision
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.agents.policies.random import RandomPolicy
from prmgym.agents.runner import run_episodes
from prmgym.rewards.verifiers.search import SearchVerifier


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0")


@pytest.fixture(scope="module")
def task_ids():
    env = make_env()
    ids = [t.id for t in env.unwrapped.tasks]
    env.close()
    return ids


class Recording:
    """Wraps a policy and records the batch size of each call."""

    def __init__(self, inner, fail_on_call=None):
        self.inner, self.name = inner, inner.name
        self.batches, self.fail_on_call = [], fail_on_call

    def act(self, episodes):
        self.batches.append(len(episodes))
        if len(self.batches) == self.fail_on_call:
            raise RuntimeError("backend down")
        return self.inner.act(episodes)


def test_batches_live_episodes_and_keeps_task_order(task_ids):
    ids = task_ids[:10]
    policy = Recording(OraclePolicy())
    done = []
    trajectories = run_episodes(
        make_env, ids, policy, scorers=[SearchVerifier()], batch_size=4, on_done=done.append
    )
    assert [t.task.id for t in trajectories] == ids
    assert max(policy.batches) == 4 and len(done) == 10
    assert all(t.success and t.terminated and t.error is None for t in trajectories)
    assert all(len(s.scores) == 1 for t in trajectories for s in t.steps)
    assert all(
        t.accounting.env_steps == len(t.steps) and t.accounting.prm_calls == 1 for t in trajectories
    )
    assert all(t.metrics["em"] == 1.0 for t in trajectories)


def test_random_agent_is_a_floor(task_ids):
    trajectories = run_episodes(make_env, task_ids[:40], RandomPolicy(), batch_size=8)
    assert sum(t.success for t in trajectories) / len(trajectories) <= 0.05


def test_a_failing_policy_call_breaks_only_those_episodes(task_ids):
    policy = Recording(OraclePolicy(), fail_on_call=2)
    trajectories = run_episodes(make_env, task_ids[:6], policy, batch_size=3)
    broken = [t for t in trajectories if t.error]
    assert len(broken) == 3 and all("backend down" in t.error for t in broken)
    assert sum(t.success for t in trajectories) == 3


class CrashOnce(gymnasium.Wrapper):
    """An env instance that dies on its first open; a fresh instance works."""

    made = 0

    def __init__(self, env):
        super().__init__(env)
        CrashOnce.made += 1
        self.crashes = CrashOnce.made <= 2

    def step(self, action):
        if self.crashes and action.startswith("open"):
            raise OSError("sandbox died")
        return self.env.step(action)


def test_a_crashed_env_marks_the_episode_is_restarted_and_the_run_goes_on(task_ids):
    done = []
    trajectories = run_episodes(
        lambda: CrashOnce(make_env()),
        task_ids[:6],
        OraclePolicy(),
        batch_size=2,
        on_done=done.append,
    )
    assert len(trajectories) == len(done) == 6
    broken = [t for t in trajectories if t.error]
    assert len(broken) == 2 and all("sandbox died" in t.error for t in broken)
    assert all(t.success for t in trajectories if not t.error)
    assert CrashOnce.made == 4  # two original envs plus one restart for each crash


def test_episodes_hit_the_step_limit():
    class Stubborn:
        name = "stubborn"

        def act(self, episodes):
            return [Decision(action='search("json")') for _ in episodes]

    env = make_env()
    ids = [env.unwrapped.tasks[0].id]
    (trajectory,) = run_episodes(make_env, ids, Stubborn())
    assert trajectory.truncated and not trajectory.success
    assert len(trajectory.steps) == env.spec.max_episode_steps


def test_an_interrupt_closes_every_env_it_made(task_ids):
    closed = []

    class Tracked(gymnasium.Wrapper):
        def close(self):
            closed.append(self)
            super().close()

    made = []

    def tracked():
        made.append(Tracked(make_env()))
        return made[-1]

    class Interrupting:
        name = "interrupting"

        def __init__(self):
            self.inner, self.calls = OraclePolicy(), 0

        def act(self, episodes):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.inner.act(episodes)

    with pytest.raises(KeyboardInterrupt):
        run_episodes(tracked, task_ids[:8], Interrupting(), batch_size=4)
    # Their sandboxes and temp folders go with them (Ctrl-C and SIGTERM alike).
    assert len(made) == 4 and closed == made
