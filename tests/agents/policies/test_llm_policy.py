import gymnasium

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.agents.policies import make_policy
from prmgym.agents.policies.base import EpisodeView
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
