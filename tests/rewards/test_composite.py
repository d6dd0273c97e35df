import pytest

from prmgym.errors import ConfigError
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.composite import CompositePRM
from prmgym.task import Task
from prmgym.trajectory import Step, StepScore, Trajectory


class Fixed:
    """Scores step i with values[i] (and candidates with values[0])."""

    def __init__(self, name, values, label="ok"):
        self.name, self.values, self.label = name, values, label

    def score(self, trajectory, env=None):
        return [
            StepScore(value=self.values[i], label=self.label, source=self.name)
            for i in range(len(trajectory.steps))
        ]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        return [StepScore(value=self.values[0], source=self.name) for _ in candidate_actions]


def trajectory(n=3):
    task = Task(id="t", family="search", instruction="q?")
    return Trajectory(
        task=task, steps=[Step(index=i, action="a()", observation="") for i in range(n)]
    )


def test_weighted_mean_by_hand():
    prm = CompositePRM([Fixed("a", [1.0, 0.2, 0.6]), Fixed("b", [0.0, 0.8, 0.6])], [3, 1])
    values = [s.value for s in prm.score(trajectory())]
    assert values == pytest.approx([0.75, 0.35, 0.6])
    assert prm.name == "a+b"
    check_reward_model(prm, trajectory())


def test_gate_vetoes_the_step():
    gate = Fixed("verifier", [0.9, 0.1, 0.9], label="fatal")
    prm = CompositePRM([gate, Fixed("judge", [1.0, 1.0, 0.0])], gates=[True, False])
    scores = prm.score(trajectory())
    assert [s.value for s in scores] == pytest.approx([0.95, 0.0, 0.45])
    assert scores[1].label == "fatal" and "gated by verifier" in scores[1].rationale


def test_candidates_combine_too():
    prm = CompositePRM([Fixed("a", [1.0]), Fixed("b", [0.5])])
    assert [s.value for s in prm.score_candidates(trajectory(1), ["x()", "y()"])] == [0.75, 0.75]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": [1.0]}, "weights"),
        ({"weights": [0, 0]}, "not all 0"),
        ({"gates": [True]}, "gates"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CompositePRM([Fixed("a", [1.0]), Fixed("b", [1.0])], **kwargs)
