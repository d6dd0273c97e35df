import pytest

from prmgym.errors import ConfigError
from prmgym.rewards.judges.base import JudgeStats
from prmgym.rewards.rubrics.agent import RubricPRM
from prmgym.rewards.rubrics.generation import (
    Evaluation,
    Proposal,
    RubricGenerationConfig,
    decompose,
    generate_rubric,
    make_pairs,
    parse_proposals,
    proposal_prompt,
    select,
    token_overlap,
    write_rubric,
)
from prmgym.rewards.rubrics.rubric import load_rubric
from prmgym.task import Task
from prmgym.trajectory import Step, Trajectory

# What a proposer LLM might answer: a preamble, a compound line, a near-duplicate, a vague
# criterion, a criterion true on one pair only, a criterion favouring the failures, junk.
REPLY = """Here are the criteria:
HARD: The agent opens a document before answering.
- PRINCIPLE: The step opens a relevant document and the query searches the module asked about.
2. **Principle**: The agent opens a document before it answers.
PRINCIPLE: The step avoids asking about the weather.
PRINCIPLE: The step is vague about everything.
HARD: ok
I hope this helps!
"""


class KeywordJudge:
    """Answers by keywords: "opens" holds on open() steps, "searches" on search() steps,
    "weather" on steps not mentioning the weather; anything else is a coin flip (0.5)."""

    name = "keywords"

    def __init__(self):
        self.stats = JudgeStats()
        self.calls = 0

    def judge(self, queries):
        self.calls += 1
        return [[self._answer(q.text, query.step) for q in query.criteria] for query in queries]

    @staticmethod
    def _answer(criterion, step):
        if "opens" in criterion:
            return float("open(" in step)
        if "searches" in criterion:
            return float("search(" in step)
        if "weather" in criterion:
            return float("weather" not in step)
        return 0.5


def episode(task_id, actions, success, error=None, family="search"):
    task = Task(id=task_id, family=family, instruction=f"Answer question {task_id}.")
    steps = [Step(index=i, action=a, observation=f"result of {a}") for i, a in enumerate(actions)]
    return Trajectory(task=task, steps=steps, success=success, error=error)


@pytest.fixture
def run():
    return [
        episode("q1", ['search("toolz curry")', 'open("d1")', 'answer("x")'], True),
        episode("q1", ['search("weather today")', 'answer("y")'], False),
        episode("q2", ['search("os path")', 'open("d7")', 'answer("z")'], True),
        episode("q2", ['search("os path")', 'answer("w")'], False),
        episode("q3", ['search("solo")', 'answer("v")'], True),  # no failure: no pair
    ]


def test_pairs_match_success_and_failure_of_one_task_round_robin():
    run = [
        episode("a", ["s()"], True),
        episode("a", ["s()"], True),
        episode("a", ["f()"], False),
        episode("a", ["f()"], False),
        episode("b", ["s()"], True),
        episode("b", ["f()"], False, error="backend crashed"),  # broken: not a failure
        episode("c", ["s()"], True),
        episode("c", ["f()"], False),
    ]
    pairs = make_pairs(run)
    assert [p.task_id for p in pairs] == ["a", "c", "a"]
    assert all(p.success.success and not p.failure.success for p in pairs)
    assert len({id(p.failure) for p in pairs}) == 3  # no episode reused
    assert [p.task_id for p in make_pairs(run, max_pairs=2)] == ["a", "c"]


def test_parse_keeps_only_well_formed_criteria():
    proposals = parse_proposals(REPLY)
    assert [p.kind for p in proposals] == [
        "hard_rule",
        "principle",
        "principle",
        "principle",
        "principle",
    ]
    assert proposals[0].text == "The agent opens a document before answering."
    assert proposals[2].text == "The agent opens a document before it answers."
    assert parse_proposals("Hard rule: never guess an id\n* HARD_RULE - cite a source doc")[
        1
    ] == Proposal("hard_rule", "cite a source doc")


def test_decompose_splits_compound_criteria_borrowing_the_subject():
    parts = decompose(Proposal("principle", "The query names the module and opens a result."))
    assert parts == [
        Proposal("principle", "The query names the module."),
        Proposal("principle", "The query opens a result."),
    ]
    kept_whole = [
        "Search and open the docs first.",  # a part under three words
        "The answer quotes (the title and the line) it read.",  # inside parentheses
    ]
    for text in kept_whole:
        assert decompose(Proposal("hard_rule", text)) == [Proposal("hard_rule", text)]


def test_select_drops_duplicates_keeping_the_more_discriminative():
    weak = Evaluation(Proposal("principle", "The agent opens a document before answering."), (0.2,))
    strong = Evaluation(Proposal("principle", "Opens a document before answering."), (0.8,))
    other = Evaluation(Proposal("principle", "The query names the module asked about."), (0.1,))
    wrong = Evaluation(Proposal("principle", "The step guesses."), (-0.3,))
    assert token_overlap(weak.proposal.text, strong.proposal.text) >= 0.6
    kept, rejected = select([weak, other, wrong, strong], RubricGenerationConfig())
    assert kept == [strong, other]
    assert set(rejected) == {weak, wrong}
    kept, _ = select([weak, other, strong], RubricGenerationConfig(max_criteria=1))
    assert kept == [strong]


def test_generate_keeps_exactly_the_criteria_that_reproduce_the_preference(run):
    prompts = []

    def propose(prompt):
        prompts.append(prompt)
        return REPLY

    judge = KeywordJudge()
    rubric, report = generate_rubric(run, propose, judge, name="learned")
    assert len(prompts) == len(report.pairs) == 2
    assert judge.calls == 2  # one batched judge call per pair
    assert [(c.kind, c.text) for c in rubric.criteria] == [
        ("hard_rule", "The agent opens a document before answering."),
        ("principle", "The step opens a relevant document."),  # split from the compound
    ]
    assert [c.weight for c in rubric.criteria] == [1.0, 1.0]
    assert rubric.family == "search"
    rejected = {e.proposal.text: e.agreement for e in report.rejected}
    assert rejected["The query searches the module asked about."] == 0.0  # favours failures
    assert rejected["The step is vague about everything."] == 0.0  # ties never count
    assert rejected["The agent opens a document before it answers."] == 1.0  # a duplicate
    assert rejected["The step avoids asking about the weather."] == 0.5  # one pair of two

    looser, _ = generate_rubric(
        run, lambda _: REPLY, KeywordJudge(), name="learned",
        config=RubricGenerationConfig(min_agreement=0.5),
    )  # fmt: skip
    assert "The step avoids asking about the weather." in [c.text for c in looser.criteria]


def test_prompt_contrasts_the_two_episodes_and_caps_them(run):
    long = episode("q1", [f'search("{"x" * 50} {i}")' for i in range(200)], True)
    pair = make_pairs([long, run[1]])[0]
    prompt = proposal_prompt(pair, episode_chars=500)
    assert prompt.index("SUCCESSFUL ATTEMPT") < prompt.index("FAILED ATTEMPT")
    assert "weather today" in prompt and "[... cut]" in prompt
    assert len(prompt) < 2500


def test_written_rubric_loads_and_scores_through_the_rubric_agent(run, tmp_path):
    rubric, report = generate_rubric(run, lambda _: REPLY, KeywordJudge(), name="learned")
    path = tmp_path / "learned.yaml"
    write_rubric(rubric, report, path, source="runs/eval-1")
    text = path.read_text()
    assert "# source: runs/eval-1" in text and "on 2 of 2 pairs" in text
    assert "# rejected (50% agreement" in text
    loaded = load_rubric(path)
    assert loaded == rubric
    prm = RubricPRM(loaded, judge=KeywordJudge())
    win, lose = (prm.score(t) for t in run[:2])
    assert len(win) == 3 and len(lose) == 2
    assert win[1].value > win[0].value  # the open step meets the learned rules
    assert max(s.value for s in lose) < max(s.value for s in win)


def test_errors_say_how_to_fix(run):
    only_successes = [t for t in run if t.success]
    with pytest.raises(ConfigError, match="both a success and a failure"):
        generate_rubric(only_successes, lambda _: REPLY, KeywordJudge(), name="x")
    with pytest.raises(ConfigError, match="HARD: or PRINCIPLE:"):
        generate_rubric(run, lambda _: "no idea", KeywordJudge(), name="x")
    with pytest.raises(ConfigError, match="lower --min-agreement"):
        generate_rubric(run, lambda _: "PRINCIPLE: The step is vague.", KeywordJudge(), name="x")
    mixed = [
        *run,
        episode("q9", ["a()"], True, family="data"),
        episode("q9", ["b()"], False, family="data"),
    ]
    with pytest.raises(ConfigError, match="mixes families"):
        generate_rubric(mixed, lambda _: REPLY, KeywordJudge(), name="x")
    with pytest.raises(ConfigError, match="min_agreement"):
        RubricGenerationConfig(min_agreement=1.5)


def test_given_proposals_skip_the_proposer_and_pass_the_same_filter(run):
    judge = KeywordJudge()
    rubric, report = generate_rubric(
        run, None, judge, name="learned", proposals=parse_proposals(REPLY)
    )
    assert judge.calls == 2 and report.proposed == 6  # 5 lines, the compound one split
    assert [c.text for c in rubric.criteria] == [
        "The agent opens a document before answering.",
        "The step opens a relevant document.",
    ]
    with pytest.raises(ValueError, match="propose or proposals"):
        generate_rubric(run, None, judge, name="learned")
