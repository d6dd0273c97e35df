from prmgym.generation import Completion
from prmgym.rewards.judges import GenerativeJudge, JudgeQuery, Question, make_judge


class ScriptedBackend:
    """Replies from a script, one per call; records the chats it was sent."""

    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []

    def generate(self, chats, config):
        self.calls.append(chats)
        reply = self.replies.pop(0)
        texts = reply(chats) if callable(reply) else [reply] * len(chats)
        return [[Completion(t, [], [], 0, "stop")] for t in texts]


def query(step="Action: search('heapq')", n=2):
    return JudgeQuery(
        context="Task: what does heapq.merge return?",
        step=step,
        criteria=tuple(Question(f"criterion {i}") for i in range(n)),
    )


def test_all_criteria_of_all_steps_in_one_generate():
    backend = ScriptedBackend(['{"1": "yes", "2": "no"}'])
    judge = GenerativeJudge(backend)
    assert judge.judge([query("a"), query("b")]) == [[1.0, 0.0], [1.0, 0.0]]
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 2
    assert judge.stats.backend_calls == 1 and judge.stats.retries == 0


def test_unreadable_reply_gets_one_retry_then_the_default():
    backend = ScriptedBackend(["no idea", '{"2": "yes"}'])
    judge = GenerativeJudge(backend, default=0.5)
    assert judge.judge([query()]) == [[0.5, 1.0]]
    retry_chat = backend.calls[1][0]
    assert retry_chat[-2] == {"role": "assistant", "content": "no idea"}
    assert "JSON" in retry_chat[-1]["content"]
    assert judge.stats.retries == 1 and judge.stats.defaults == 1


def test_cache_serves_repeated_prompts_without_a_call():
    backend = ScriptedBackend(['{"1": "no", "2": "no"}'])
    judge = GenerativeJudge(backend)
    first = judge.judge([query()])
    again = judge.judge([query(), query()])
    assert again == [first[0], first[0]]
    assert len(backend.calls) == 1 and judge.stats.cache_hits == 2


def test_criteria_split_across_chats_when_the_prompt_is_too_long():
    def numbered(chats):
        # Answer "yes" to every question in each chat, however many it holds.
        return ["{" + ", ".join(f'"{i}": "yes"' for i in range(1, 20)) + "}" for _ in chats]

    backend = ScriptedBackend([numbered])
    judge = GenerativeJudge(backend, max_prompt_chars=520)
    scores = judge.judge([query(n=6)])
    assert scores == [[1.0] * 6]
    assert len(backend.calls) == 1 and len(backend.calls[0]) > 1  # chunks, still one call
    for chat in backend.calls[0]:
        assert sum(len(m["content"]) for m in chat) <= 520


def test_make_judge_picks_generative_for_text_only_backends():
    assert isinstance(make_judge(ScriptedBackend([])), GenerativeJudge)
