import pytest

from prmgym.errors import ConfigError
from prmgym.generation import Completion
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.judges import GenerativeJudge
from prmgym.rewards.judges.base import JudgeStats
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.render import render_step
from prmgym.rewards.rubrics.agent import JUDGE_OBSERVATION_CHARS, RubricPRM
from prmgym.rewards.rubrics.rubric import Rubric, load_rubric
from prmgym.rewards.rubrics.scoring import BACKWARD_HEADER, MERGED_HEADER, Scoring
from prmgym.task import Task
from prmgym.trajectory import Step, Trajectory

FORWARD, MERGED = 0.9, 0.1


class ViewJudge:
    """Answers by view and records every query: forward 0.9, merged window 0.1, backward
    0.5 minus 0.1 per later step it was shown (so a wrong backward context shows in scores)."""

    name = "view"

    def __init__(self):
        self.stats = JudgeStats()
        self.calls = []

    def judge(self, queries):
        self.calls.append(list(queries))
        return [[self.answer(q)] * len(q.criteria) for q in queries]

    @staticmethod
    def answer(query):
        if query.step.startswith(MERGED_HEADER):
            return MERGED
        if BACKWARD_HEADER.strip() in query.context:
            return 0.5 - 0.1 * query.context.count("Action:")
        return FORWARD


def rubric(**scoring):
    # One programmatic check and one judged principle: value = (1 + 3 p) / 4 for a parsing step.
    return Rubric(
        name="r",
        aggregation="weighted_mean",
        criteria=[
            {"id": "parses", "kind": "hard_rule", "text": "parses", "check": "parses"},
            {"id": "useful", "text": "The step is useful.", "weight": 3},
        ],
        scoring=scoring,
    )


def trajectory(n=3):
    steps = [Step(index=i, action=f'search("q{i}")', observation=f"hits {i}") for i in range(n)]
    return Trajectory(task=Task(id="t", family="search", instruction="Find it?"), steps=steps)


def block(step):
    return render_step(step, JUDGE_OBSERVATION_CHARS)


def values(scores):
    return [round(s.value, 6) for s in scores]


def test_forward_default_sends_the_same_queries_as_before():
    traj = trajectory()
    explicit = RubricPRM(rubric(), ViewJudge(), scoring=Scoring(direction="forward"))
    for prm in (RubricPRM(rubric(), ViewJudge()), explicit):
        scores = prm.score(traj)
        (queries,) = prm.judge.calls
        assert len(queries) == 3
        for i, query in enumerate(queries):
            history = "".join(block(s) + "\n\n" for s in traj.steps[:i])
            assert query.context == ("Task: Find it?\n\n" + history).strip()
            assert query.step == block(traj.steps[i])
        assert values(scores) == [round((1 + 3 * FORWARD) / 4, 6)] * 3


def test_backward_pass_lists_the_later_steps_latest_first():
    traj = trajectory()
    prm = RubricPRM(rubric(direction="bidirectional"), ViewJudge())
    prm.score(traj)
    (queries,) = prm.judge.calls
    backward = [q for q in queries if BACKWARD_HEADER.strip() in q.context]
    assert len(queries) == 6 and len(backward) == 3
    first = backward[0]
    assert first.step == block(traj.steps[0])
    assert first.context.index('"q2"') < first.context.index('"q1"')
    assert '"q0"' not in first.context
    assert first.context.startswith("Task: Find it?")
    assert "Action:" not in backward[2].context  # the last step has no later steps


def test_bidirectional_score_is_the_mean_of_both_passes():
    scores = RubricPRM(rubric(direction="bidirectional"), ViewJudge()).score(trajectory())
    # Backward answers 0.3, 0.4, 0.5 for steps with 2, 1, 0 later steps.
    judged = [(FORWARD + b) / 2 for b in (0.3, 0.4, 0.5)]
    assert values(scores) == [round((1 + 3 * p) / 4, 6) for p in judged]


def test_hierarchical_judges_merged_windows_too():
    traj = trajectory()
    prm = RubricPRM(rubric(hierarchical=True), ViewJudge())
    scores = prm.score(traj)
    (queries,) = prm.judge.calls
    merged = [q for q in queries if q.step.startswith(MERGED_HEADER)]
    assert len(queries) == 5 and len(merged) == 2  # no window ends at step 0
    assert merged[0].context == "Task: Find it?"
    assert merged[0].step == MERGED_HEADER + block(traj.steps[0]) + "\n" + block(traj.steps[1])
    assert merged[1].context == ("Task: Find it?\n\n" + block(traj.steps[0])).strip()
    assert merged[1].step == MERGED_HEADER + block(traj.steps[1]) + "\n" + block(traj.steps[2])
    assert all(q.criteria == queries[0].criteria for q in merged)
    single, window = (1 + 3 * FORWARD) / 4, (1 + 3 * (FORWARD + MERGED) / 2) / 4
    assert values(scores) == [round(single, 6), round(window, 6), round(window, 6)]
    wide = RubricPRM(rubric(hierarchical=True, merge=3), ViewJudge())
    wide.score(traj)
    assert sum(q.step.startswith(MERGED_HEADER) for q in wide.judge.calls[0]) == 1


def test_both_options_batch_every_view_in_one_judge_call():
    prm = RubricPRM(
        rubric(), ViewJudge(), scoring=Scoring(direction="bidirectional", hierarchical=True)
    )
    scores = prm.score(trajectory())
    assert len(prm.judge.calls) == 1 and len(prm.judge.calls[0]) == 3 + 3 + 2
    judged = [(FORWARD + 0.3) / 2, (FORWARD + 0.4 + MERGED) / 3, (FORWARD + 0.5 + MERGED) / 3]
    assert values(scores) == [round((1 + 3 * p) / 4, 6) for p in judged]


def test_generative_judge_counts_every_view_in_one_backend_call():
    class YesBackend:
        name = "yes"

        def generate(self, chats, config):
            return [[Completion('{"1": "yes"}', [], [], 0, "stop")] for _ in chats]

    judge = GenerativeJudge(YesBackend())
    RubricPRM(rubric(direction="bidirectional", hierarchical=True), judge).score(trajectory())
    assert judge.stats.backend_calls == 1 and judge.stats.prompts == 8


def test_candidates_score_as_the_last_step_of_the_extended_trajectory():
    traj = trajectory(2)
    prm = RubricPRM(rubric(direction="bidirectional", hierarchical=True), ViewJudge())
    candidates = ['search("c1")', "not a call"]
    scores = prm.score_candidates(traj, candidates)
    (queries,) = prm.judge.calls
    assert len(queries) == 2 * 3  # forward, backward and one merged window per candidate
    backward = [q for q in queries if BACKWARD_HEADER.strip() in q.context]
    assert [q.step for q in backward] == ['Action: search("c1")', "Action: not a call"]
    assert all("Action:" not in q.context for q in backward)
    for action, score in zip(candidates, scores, strict=True):
        extended = traj.model_copy(
            update={"steps": [*traj.steps, Step(index=2, action=action, observation="")]}
        )
        assert score.value == pytest.approx(prm.score(extended)[-1].value)
    assert scores[0].value == pytest.approx((1 + 3 * (FORWARD + 0.5 + MERGED) / 3) / 4)


def test_bidirectional_is_not_causal_and_hierarchical_is():
    traj = trajectory()
    check_reward_model(RubricPRM(rubric(hierarchical=True), ViewJudge()), traj)
    with pytest.raises(AssertionError, match="not causal"):
        check_reward_model(RubricPRM(rubric(direction="bidirectional"), ViewJudge()), traj)


def test_scoring_given_to_the_agent_overrides_the_rubric():
    prm = RubricPRM(rubric(direction="bidirectional"), ViewJudge(), scoring=Scoring())
    prm.score(trajectory())
    assert len(prm.judge.calls[0]) == 3


RUBRIC_YAML = """
name: y
aggregation: weighted_mean
criteria:
  - {id: useful, text: The step is useful.}
scoring:
"""


def test_scoring_loads_from_yaml_into_the_registry_scorer(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(RUBRIC_YAML + "  {direction: bidirectional, hierarchical: on, merge: 3}\n")
    assert load_rubric(path).scoring == Scoring(
        direction="bidirectional", hierarchical=True, merge=3
    )
    judge = ViewJudge()
    prm = make_scorer(str(path), judge=lambda: judge)
    prm.score(trajectory())
    assert len(judge.calls[0]) == 3 + 3 + 1


@pytest.mark.parametrize(
    ("scoring", "message"),
    [
        ("{direction: sideways}", "scoring.direction"),
        ("{hierarchical: true, merge: 1}", "scoring.merge"),
        ("{merge: 3}", "add hierarchical: true"),
        ("{reverse: true}", "scoring.reverse"),
    ],
)
def test_bad_scoring_values_name_the_field(tmp_path, scoring, message):
    path = tmp_path / "bad.yaml"
    path.write_text(RUBRIC_YAML + f"  {scoring}\n")
    with pytest.raises(ConfigError, match=message):
        load_rubric(path)


@pytest.mark.parametrize(
    ("spec", "backward", "merged"),
    [
        ("rubric", False, False),
        ("biprm", True, False),
        ("hrm", False, True),
        ("biprm+hrm", True, True),
    ],
)
def test_named_specs_turn_on_their_views_on_the_family_default_rubric(spec, backward, merged):
    judge = ViewJudge()
    prm = make_scorer(spec, judge=lambda: judge)
    assert prm.name == spec
    prm.score(trajectory())
    queries = [q for call in judge.calls for q in call]
    assert any(BACKWARD_HEADER.strip() in q.context for q in queries) == backward
    assert any(q.step.startswith(MERGED_HEADER) for q in queries) == merged
