import gymnasium
import pytest

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.agents.policies.llm import LLMPolicy
from prmgym.agents.policies.noisy_oracle import NoisyOraclePolicy
from prmgym.agents.runner import run_episodes
from prmgym.agents.search import StepPruning
from prmgym.errors import ConfigError
from prmgym.generation import GenerationConfig
from prmgym.trajectory import StepScore


class Counting:
    """Wraps a backend and records (chats, n, max_new_tokens) of each generate call."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, []

    def generate(self, chats, config):
        self.calls.append((len(chats), config.n, config.max_new_tokens))
        return self.inner.generate(chats, config)


class LongestFirst:
    """A stand-in PRM that prefers longer actions and remembers what it was asked to score."""

    name = "longest-first"

    def __init__(self):
        self.candidates = []

    def score(self, trajectory, env=None):
        return [StepScore(value=0.5, source=self.name) for _ in trajectory.steps]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        self.candidates.append(list(candidate_actions))
        top = max(len(a) for a in candidate_actions) or 1
        return [StepScore(value=len(a) / top, source=self.name) for a in candidate_actions]


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="test", max_episode_steps=2)


def test_only_the_best_partial_drafts_are_completed(tiny_model_dir):
    backend = Counting(TransformersBackend(tiny_model_dir))
    policy = LLMPolicy(backend, GenerationConfig(max_new_tokens=12, temperature=1.0, seed=0))
    prm = LongestFirst()
    ids = [t.id for t in make_env().unwrapped.tasks[:2]]
    runs = run_episodes(
        make_env, ids, policy, batch_size=2, search=StepPruning(prm, k=4, early=3, keep=0.5)
    )
    # Per step: one call drafting 4 x 3 tokens for both episodes, one completing the kept half.
    drafts = backend.calls[0::2]
    completions = backend.calls[1::2]
    assert drafts == [(2, 4, 3)] * 2
    assert all(n == 1 and chats <= 4 for chats, n, _ in completions)
    for trajectory in runs:
        assert trajectory.accounting.actions_sampled == 4 * len(trajectory.steps)
        for step in trajectory.steps:
            early = [c for c in step.candidates if c.rejected and "early rejection" in c.rejected]
            assert len(early) == 2
            assert any(c.chosen for c in step.candidates if c not in early)
    # Per round the PRM saw: episode 0's drafts, episode 1's, then each one's completions.
    for round_, step in enumerate(runs[0].steps):
        partials = prm.candidates[4 * round_]
        dropped = [c.action for c in step.candidates if c.rejected]
        assert sorted(map(len, dropped)) == sorted(map(len, partials))[:2]


def test_token_counts_include_every_draft(tiny_model_dir):
    backend = TransformersBackend(tiny_model_dir)
    config = GenerationConfig(max_new_tokens=10, temperature=1.0, seed=1)
    ids = [make_env().unwrapped.tasks[0].id]
    early = run_episodes(
        make_env,
        ids,
        LLMPolicy(backend, config),
        search=StepPruning(LongestFirst(), k=4, early=2, keep=0.25),
    )[0]
    full = run_episodes(
        make_env, ids, LLMPolicy(backend, config), search=StepPruning(LongestFirst(), k=4)
    )[0]
    steps = len(early.steps)
    # Four drafts of at most 2 tokens, one completion of at most 8 more, per step.
    assert early.accounting.completion_tokens <= steps * (4 * 2 + 8)
    assert early.accounting.completion_tokens >= steps * 4
    assert early.accounting.llm_calls == 2 * steps and full.accounting.llm_calls == len(full.steps)


def test_policies_that_cannot_draft_tokens_are_refused():
    ids = [make_env().unwrapped.tasks[0].id]
    with pytest.raises(ConfigError, match="token by token"):
        run_episodes(
            make_env, ids, NoisyOraclePolicy(0.5), search=StepPruning(LongestFirst(), early=4)
        )
