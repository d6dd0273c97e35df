import gymnasium
import pytest

from prmgym.agents.policies.base import Decision
from prmgym.agents.policies.noisy_oracle import NoisyOraclePolicy
from prmgym.agents.runner import run_episodes
from prmgym.agents.search import BeamSearch, run_beam_search
from prmgym.envs.search.env import SearchQAEnv
from prmgym.errors import ConfigError
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.summary import wilson_interval


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="test")


class NoSnapshots(SearchQAEnv):
    def snapshot(self):
        raise NotImplementedError


@pytest.fixture(scope="module")
def task_ids():
    return [t.id for t in make_env().unwrapped.tasks[:40]]


@pytest.mark.slow
def test_beam_search_with_the_verifier_beats_greedy_on_the_noisy_oracle(task_ids):
    # Seeds 0..39 (one per task), p = 0.5.
    policy = NoisyOraclePolicy(0.5, seed=0)
    greedy = run_episodes(make_env, task_ids, policy)
    beam = run_beam_search(make_env, task_ids, policy, BeamSearch(SearchVerifier(), 2, 4))
    n = len(task_ids)
    _, g_high = wilson_interval(sum(t.success for t in greedy), n)
    b_low, _ = wilson_interval(sum(t.success for t in beam), n)
    assert b_low > g_high
    for trajectory in beam:
        assert trajectory.error is None and trajectory.agent == policy.name
        assert trajectory.accounting.actions_sampled >= 4 * len(trajectory.steps)
        assert trajectory.accounting.env_steps >= len(trajectory.steps)
        for step in trajectory.steps:
            (chosen,) = [c for c in step.candidates if c.chosen]
            assert chosen.action == step.action and chosen.score is not None


@pytest.mark.slow
def test_without_snapshots_the_env_is_replayed_to_the_same_result(task_ids):
    ids = task_ids[:10]
    policy = NoisyOraclePolicy(0.5, seed=0)
    method = BeamSearch(SearchVerifier(), 2, 4)
    snapshots = run_beam_search(make_env, ids, policy, method)
    replays = run_beam_search(lambda: NoSnapshots(split="test"), ids, policy, method)
    assert [[s.action for s in t.steps] for t in replays] == [
        [s.action for s in t.steps] for t in snapshots
    ]
    assert [t.success for t in replays] == [t.success for t in snapshots]
    assert sum(t.accounting.env_steps for t in replays) > sum(
        t.accounting.env_steps for t in snapshots
    )


def test_scorers_see_the_final_state_of_the_kept_episode(task_ids):
    policy = NoisyOraclePolicy(1.0)
    (trajectory,) = run_beam_search(
        make_env,
        task_ids[:1],
        policy,
        BeamSearch(SearchVerifier(), 2, 2),
        scorers=[SearchVerifier()],
    )
    assert trajectory.success and trajectory.terminated
    assert all(s.scores and s.scores[0].value == 1.0 for s in trajectory.steps)


def test_a_crashing_env_marks_its_task_and_the_search_goes_on(task_ids):
    class CrashOnOpen(SearchQAEnv):
        made = 0

        def __init__(self):
            super().__init__(split="test")
            CrashOnOpen.made += 1
            self.crashes = CrashOnOpen.made == 1

        def step(self, action):
            if self.crashes and action.startswith("open"):
                raise OSError("sandbox died")
            return super().step(action)

    done = []
    runs = run_beam_search(
        CrashOnOpen,
        task_ids[:4],
        NoisyOraclePolicy(1.0),
        BeamSearch(SearchVerifier(), 2, 2),
        batch_size=1,
        on_done=done.append,
    )
    assert len(runs) == len(done) == 4
    assert "sandbox died" in runs[0].error
    assert all(t.success for t in runs[1:])


def test_a_policy_that_cannot_sample_is_refused(task_ids):
    class ActOnly:
        name = "act-only"

        def act(self, episodes):
            return [Decision('search("x")') for _ in episodes]

    with pytest.raises(ConfigError, match="cannot sample"):
        run_beam_search(make_env, task_ids[:1], ActOnly(), BeamSearch(SearchVerifier()))


def test_beam_search_drives_an_llm_policy_and_counts_its_tokens(tiny_model_dir):
    from prmgym.agents.backends.transformers_backend import TransformersBackend
    from prmgym.agents.policies.llm import LLMPolicy
    from prmgym.generation import GenerationConfig

    policy = LLMPolicy(
        TransformersBackend(tiny_model_dir),
        GenerationConfig(max_new_tokens=6, temperature=1.0, seed=0),
    )
    ids = [t.id for t in make_env().unwrapped.tasks[:2]]
    runs = run_beam_search(
        lambda: gymnasium.make("prmgym/SearchQA-v0", split="test", max_episode_steps=2),
        ids,
        policy,
        BeamSearch(SearchVerifier(), 2, 2),
    )
    for trajectory in runs:
        assert trajectory.error is None and len(trajectory.steps) == 2
        assert all(step.completion for step in trajectory.steps)
        # Round one expands one beam, round two two: 2 + 4 drafts, each generating tokens.
        assert trajectory.accounting.actions_sampled == 6
        assert 6 <= trajectory.accounting.completion_tokens <= 6 * 6
        assert trajectory.accounting.prompt_tokens > 0


def test_an_interrupt_closes_every_env_the_search_made(task_ids):
    closed, made = [], []

    class Tracked(gymnasium.Wrapper):
        def close(self):
            closed.append(self)
            super().close()

    def tracked():
        made.append(Tracked(make_env()))
        return made[-1]

    class Interrupting(NoisyOraclePolicy):
        calls = 0

        def sample(self, episodes, n):
            Interrupting.calls += 1
            if Interrupting.calls == 2:
                raise KeyboardInterrupt
            return super().sample(episodes, n)

    with pytest.raises(KeyboardInterrupt):
        run_beam_search(
            tracked,
            task_ids[:6],
            Interrupting(1.0),
            BeamSearch(SearchVerifier(), 2, 2),
            batch_size=3,
        )
    # Their sandboxes and temp folders go with them (Ctrl-C and SIGTERM alike).
    assert len(made) == 3 and closed == made
