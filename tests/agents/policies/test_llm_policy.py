import gymnasium
import pytest

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.agents.policies import make_policy
from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.agents.policies.llm import LLMPolicy
from prmgym.agents.runner import run_episodes
from prmgym.generation import GenerationConfig


class Counting:
    """Wraps a backend and records how many chats each generate call carried."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, []

    def generate(self, chats, config):
        self.calls.append(len(chats))
        return self.inner.generate(chats, config)


@pytest.mark.slow
def test_one_generate_call_per_step_for_all_live_episodes(tiny_model_dir):
    backend = Counting(TransformersBackend(tiny_model_dir))
    policy = LLMPolicy(backend, GenerationConfig(max_new_tokens=8, temperature=0.0))
    env = gymnasium.make("prmgym/SearchQA-v0")
    ids = [t.id for t in env.unwrapped.tasks[:6]]
    trajectories = run_episodes(
        lambda: gymnasium.make("prmgym/SearchQA-v0", max_episode_steps=3), ids, policy, batch_size=6
    )
    assert backend.calls == [6, 6, 6]
    steps = [s for t in trajectories for s in t.steps]
    assert len(steps) == 18 and all(s.completion for s in steps)
    # A random tiny model writes nonsense: the env must answer it with an error observation.
    assert all(s.action_error for s in steps if s.tool is None)
    assert all(
        t.accounting.completion_tokens > 0 and t.accounting.llm_calls == 3 for t in trajectories
    )


def test_sampling_seed_advances_per_call_but_runs_repeat(tiny_model_dir):
    def run():
        policy = LLMPolicy(
            TransformersBackend(tiny_model_dir), GenerationConfig(max_new_tokens=6, seed=3)
        )
        view = EpisodeView(task=None, family="search", observations=["Question: q?"])
        return [policy.act([view])[0].completion for _ in range(3)]

    first = run()
    assert first == run()
    assert len(set(first)) > 1


def test_make_policy_builds_each_kind(tiny_model_dir):
    assert make_policy("oracle").name == "oracle"
    assert make_policy("random").name == "random"
    policy = make_policy(f"transformers:{tiny_model_dir}")
    assert isinstance(policy, LLMPolicy) and policy.config.temperature == 0.0


QUESTIONS = ["what is the capital of France?", "which module reads json?"]


def views():
    return [
        EpisodeView(task=None, family="search", observations=[f"Question: {q}"]) for q in QUESTIONS
    ]


def test_prefixes_are_cut_at_tau_and_completed_with_only_new_tokens(tiny_model_dir):
    backend = Counting(TransformersBackend(tiny_model_dir))
    policy = LLMPolicy(backend, GenerationConfig(max_new_tokens=8, temperature=1.0, seed=0))
    drafts = policy.sample_prefixes(views(), k=2, tau=2)
    assert [len(d) for d in drafts] == [2, 2] and backend.calls == [2]
    for episode in drafts:
        assert episode[0].prompt_tokens > 0 and all(d.prompt_tokens == 0 for d in episode[1:])
        for d in episode:
            assert d.completion_tokens <= 2 and d.llm_calls == 1
            # Cut by the budget (not by the model's end of turn) means partial.
            assert d.partial == (d.completion_tokens == 2)
    assert any(d.partial for episode in drafts for d in episode)

    done = policy.complete(views(), drafts)
    partial = sum(d.partial for episode in drafts for d in episode)
    assert backend.calls == [2, partial]  # every partial draft of every episode in one call
    for episode, before in zip(done, drafts, strict=True):
        for d, draft in zip(episode, before, strict=True):
            if not draft.partial:
                assert d is draft
                continue
            assert not d.partial and d.completion.startswith(draft.completion)
            assert 0 < d.completion_tokens <= 8 - 2 and d.llm_calls == 1
            # The continuation's prompt holds the draft's too.
            assert d.prompt_tokens >= before[0].prompt_tokens + 1


def test_complete_returns_finished_drafts_unchanged_without_a_call(tiny_model_dir):
    backend = Counting(TransformersBackend(tiny_model_dir))
    policy = LLMPolicy(backend, GenerationConfig(max_new_tokens=4, temperature=0.0))
    finished = [[Decision(action='answer("x")', completion='answer("x")')], []]
    assert policy.complete(views(), finished) == finished and backend.calls == []
    # A budget at max_new_tokens cuts nothing short, so nothing is partial.
    drafts = policy.sample_prefixes(views(), k=1, tau=10)
    assert not any(d.partial for episode in drafts for d in episode)
    assert drafts == policy.sample(views(), 1)


def test_greedy_prefix_then_complete_equals_greedy_sample(tiny_model_dir):
    # The drafts' text re-tokenizes to the tokens the model generated (not so for every
    # prompt: a BPE merge across the cut changes what the model sees).
    policy = LLMPolicy(
        TransformersBackend(tiny_model_dir), GenerationConfig(max_new_tokens=10, temperature=0.0)
    )
    full = policy.sample(views(), 1)
    for tau in (1, 3):
        drafts = policy.sample_prefixes(views(), k=2, tau=tau)
        assert all(d.partial and d.completion_tokens == tau for e in drafts for d in e)
        done = policy.complete(views(), drafts)
        for episode, want in zip(done, full, strict=True):
            for d in episode:
                assert d.completion == want[0].completion and d.action == want[0].action
                assert d.completion_tokens == 10 - tau
