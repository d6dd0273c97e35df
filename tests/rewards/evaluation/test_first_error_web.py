"""The web family's first-error set, played in a real Chromium and measured end to end."""

from collections import Counter

import pytest

from prmgym.rewards.evaluation.first_error import build_first_error_set
from prmgym.rewards.evaluation.harness import evaluate_first_error
from prmgym.rewards.verifiers.web import WebVerifier

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def items():
    return build_first_error_set("prmgym/Web-v0", "test", 6, seed=0)


def test_the_set_holds_every_kind_and_outcomes_come_from_the_env(items):
    kinds = Counter(item.kind for item in items)
    assert kinds == {"none": 3, "wrong_click": 1, "wrong_answer": 1, "repeat": 1}
    for item in items:
        trajectory = item.trajectory
        assert all(step.action_error is None for step in trajectory.steps)
        # Detours and reloads are wasted steps the task recovers from; a wrong reply is not.
        assert trajectory.success == (item.kind != "wrong_answer"), item.kind
        if item.kind != "none":
            wrong = trajectory.steps[item.first_error].action
            expected = {
                "wrong_click": "click(",
                "wrong_answer": "send_msg_to_user(",
                "repeat": "goto(",
            }
            assert wrong.startswith(expected[item.kind])


def test_the_web_verifier_rejects_wrong_replies_and_accepts_the_oracle(items):
    report = evaluate_first_error(WebVerifier(), items, threshold=0.5)
    assert report.failed == 0
    assert report.per_kind["none"]["acc_correct"] == 1.0
    assert report.per_kind["wrong_answer"]["acc_erroneous"] == 1.0
