import math

import pytest

from prmgym.agents.backends.openai_backend import OpenAIBackend
from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.rewards.judges import GenerativeJudge, JudgeQuery, LogitJudge, Question, make_judge
from prmgym.rewards.judges.logit import yes_probability


def queries(n=5):
    return [
        JudgeQuery(
            context=f"Task: find the answer {i}",
            step=f"Action: search('the answer {i}')",
            criteria=(Question("the query is good"), Question("reads the page", pitfall=True)),
        )
        for i in range(n)
    ]


def flat(rows):
    return [p for row in rows for p in row]


def test_yes_probability():
    assert yes_probability(math.log(0.3), math.log(0.1), 0.5) == pytest.approx(0.75)
    assert yes_probability(-math.inf, math.log(0.1), 0.5) == 0.0
    assert yes_probability(-math.inf, -math.inf, 0.4) == 0.4


class CountingChoices:
    name = "counting"

    def __init__(self):
        self.calls = []

    def choice_logprobs(self, chats, choices):
        self.calls.append(len(chats))
        # P(yes) grows with the prompt's length: distinct, checkable values per chat.
        return [[-1.0, -1.0 - len(c[-1]["content"]) / 100] for c in chats]


def test_each_steps_questions_in_one_backend_call_then_cached():
    backend = CountingChoices()
    judge = LogitJudge(backend)
    first = judge.judge(queries())
    assert backend.calls == [2] * 5  # each step's criteria together: they share a prefix
    assert judge.judge(queries()) == first and backend.calls == [2] * 5
    assert judge.stats.cache_hits == 10
    assert all(0.5 < p < 1 for row in first for p in row)


def test_single_criterion_steps_share_one_call():
    backend = CountingChoices()
    single = [JudgeQuery(q.context, q.step, q.criteria[:1]) for q in queries()]
    LogitJudge(backend).judge(single)
    assert backend.calls == [5]


def test_batched_equals_one_by_one_on_a_real_model(tiny_model_dir):
    backend = TransformersBackend(tiny_model_dir, max_batch_size=16)
    batched = LogitJudge(backend).judge(queries(8))
    single = [LogitJudge(backend).judge([q])[0] for q in queries(8)]
    assert flat(batched) == pytest.approx(flat(single), abs=1e-4)
    assert all(0.0 <= p <= 1.0 for row in batched for p in row)
    assert isinstance(make_judge(backend), LogitJudge)


def test_logit_judge_over_http_matches_the_local_model(chat_completions_server):
    # The tiny tokenizer has no single "yes" token, so read two words it does have.
    choices = ("page", "one")
    local = LogitJudge(chat_completions_server.backend, choices=choices).judge(queries(3))
    remote_backend = OpenAIBackend(chat_completions_server.url, "tiny")
    remote = LogitJudge(remote_backend, choices=choices).judge(queries(3))
    # A server reports only its top 20 tokens: where neither word is among them the judge
    # gives its default; everywhere else the readout must match the local model's.
    read = [(r, m) for r, m in zip(flat(remote), flat(local), strict=True) if r != 0.5]
    assert len(read) >= 3
    assert [r for r, _ in read] == pytest.approx([m for _, m in read], abs=1e-3)
    assert isinstance(make_judge(remote_backend), LogitJudge)


def test_generative_judge_over_http_retries_then_defaults(chat_completions_server):
    backend = OpenAIBackend(chat_completions_server.url, "tiny")
    judge = GenerativeJudge(backend, default=0.5, max_new_tokens=8)
    before = chat_completions_server.calls
    scores = judge.judge(queries(2))
    # A random tiny model writes no verdict: one retry per chat, then the stated default.
    assert scores == [[0.5, 0.5], [0.5, 0.5]]
    assert judge.stats.retries == 2 and judge.stats.defaults == 4
    assert chat_completions_server.calls - before == 4
