import gymnasium
import pytest
from transformers import AutoTokenizer

import prmgym  # noqa: F401 - registers the env ids
from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.agents.policies.llm import LLMPolicy
from prmgym.agents.runner import run_episodes
from prmgym.generation import GenerationConfig
from prmgym.task import Task
from prmgym.training.samples import action_samples, replay_first_observations
from prmgym.trajectory import Step, Trajectory


class RecordingBackend:
    """Records the token ids of every prompt the policy sends, as the backend templates them."""

    def __init__(self, inner):
        self.inner, self.name, self.prompts = inner, inner.name, []

    def generate(self, chats, config):
        self.prompts.extend(self.inner._prompt_ids(chats))
        return self.inner.generate(chats, config)


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", max_episode_steps=2)


@pytest.fixture(scope="module")
def rollout(tiny_model_dir):
    backend = RecordingBackend(TransformersBackend(tiny_model_dir))
    policy = LLMPolicy(backend, GenerationConfig(max_new_tokens=6, temperature=1.0, seed=0))
    env = make_env()
    ids = [task.id for task in env.unwrapped.tasks[:2]]
    trajectories = run_episodes(make_env, ids, policy, batch_size=2)
    first = replay_first_observations(env, trajectories)
    return trajectories, first, backend


def test_prompt_ids_are_what_the_policy_sent_its_backend(rollout):
    trajectories, first, backend = rollout
    advantages = [[0.0] * len(t.steps) for t in trajectories]
    samples = action_samples(
        trajectories, advantages, backend.inner.tokenizer, first_observations=first
    )
    assert sum(len(t.steps) for t in trajectories) == len(backend.prompts) == len(samples) == 4
    assert sorted(s.prompt_ids for s in samples) == sorted(backend.prompts)


def test_action_ids_are_the_completion_then_end_of_turn(rollout):
    trajectories, first, backend = rollout
    tokenizer = backend.inner.tokenizer
    advantages = [[0.0] * len(t.steps) for t in trajectories]
    samples = action_samples(trajectories, advantages, tokenizer, first_observations=first)
    for sample in samples:
        completion = trajectories[sample.episode].steps[sample.step].completion
        assert completion
        # The template's newline after <|im_end|> is never generated, so it is not an action.
        assert tokenizer.decode(sample.action_ids) == completion + "<|im_end|>"
        assert sample.action_ids[-1] == tokenizer.eos_token_id


def test_one_sample_per_step_of_unbroken_trajectories_with_advantages_in_order(rollout):
    trajectories, first, backend = rollout
    broken = trajectories[0].model_copy(update={"error": "env step failed"})
    episodes = [broken, trajectories[1], trajectories[0]]
    advantages = [[], [0.5, -0.5], [1.0, 2.0]]
    samples = action_samples(
        episodes,
        advantages,
        backend.inner.tokenizer,
        first_observations=[first[0], first[1], first[0]],
    )
    assert [(s.episode, s.step, s.advantage) for s in samples] == [
        (1, 0, 0.5),
        (1, 1, -0.5),
        (2, 0, 1.0),
        (2, 1, 2.0),
    ]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def scripted(actions, completions=None):
    completions = completions or [""] * len(actions)
    steps = [
        Step(index=i, action=a, observation=f"result {i}", completion=c)
        for i, (a, c) in enumerate(zip(actions, completions, strict=True))
    ]
    task = Task(id="t", family="search", instruction="what is it?")
    return Trajectory(task=task, steps=steps)


def test_a_step_without_completion_trains_on_its_action(tokenizer):
    trajectory = scripted(['search("x")', 'answer("y")'], ["", 'I think answer("y") now'])
    samples = action_samples(
        [trajectory], [[1.0, 1.0]], tokenizer, first_observations=["Question: what is it?"]
    )
    assert tokenizer.decode(samples[0].action_ids) == 'search("x")<|im_end|>'
    assert tokenizer.decode(samples[1].action_ids) == 'I think answer("y") now<|im_end|>'
    # The second prompt holds the first step's parsed action, as LLMPolicy's chat does.
    assert tokenizer.decode(samples[1].prompt_ids).endswith(
        '<|im_start|>assistant\nsearch("x")<|im_end|>\n<|im_start|>user\nresult 0<|im_end|>\n'
        "<|im_start|>assistant\n"
    )


def test_max_prompt_tokens_keeps_the_most_recent_tokens(tokenizer):
    trajectory = scripted(['search("x")'])
    first = ["Question: what is it?"]
    full = action_samples([trajectory], [[1.0]], tokenizer, first_observations=first)[0]
    cut = action_samples(
        [trajectory], [[1.0]], tokenizer, first_observations=first, max_prompt_tokens=7
    )[0]
    assert cut.prompt_ids == full.prompt_ids[-7:] and cut.action_ids == full.action_ids


def test_mismatched_inputs_are_rejected(tokenizer):
    trajectory = scripted(['search("x")', 'answer("y")'])
    first = ["Question: what is it?"]
    with pytest.raises(ValueError, match="one advantage per step"):
        action_samples([trajectory], [[1.0]], tokenizer, first_observations=first)
    with pytest.raises(ValueError, match="one of each per trajectory"):
        action_samples([trajectory], [[1.0, 1.0]], tokenizer, first_observations=[])
    with pytest.raises(ValueError, match="max_prompt_tokens"):
        action_samples(
            [trajectory], [[1.0, 1.0]], tokenizer, first_observations=first, max_prompt_tokens=0
        )


def test_a_template_that_does_not_split_into_prompt_and_reply_is_named(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    # The generation prompt and a rendered assistant turn disagree, so no token prefix exists.
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'assistant>' }}{% endif %}"
    )
    with pytest.raises(ValueError, match="not a prefix"):
        action_samples([scripted(["x"])], [[1.0]], tokenizer, first_observations=["q"])
