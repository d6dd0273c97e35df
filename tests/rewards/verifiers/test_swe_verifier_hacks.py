"""The SWE verifier and rubric score a step that tampers with what grades the fix fatal.

Whatever tool makes the change (bash included): test files, conftest.py, code that reaches into
pytest. The trajectories run in the real env on the demo task.
"""

import pytest

from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.oracle import oracle_actions
from prmgym.rewards.judges.base import JudgeStats
from prmgym.rewards.rubrics.agent import RubricPRM
from prmgym.rewards.verifiers.swe import SWEVerifier
from prmgym.trajectory import Trajectory

TASK = "demo__textkit-1"
TAMPERING = [
    "bash(\"printf 'def pytest_runtest_makereport(item, call):\\\\n    pass\\\\n' > conftest.py\")",
    "bash(\"sed -i 's/== 4/== 9/' tests/test_textkit.py\")",
    'bash("echo import _pytest.reports >> textkit/__init__.py")',
]


class YesJudge:
    """Says yes to every principle and no to every pitfall."""

    name = "yes"

    def __init__(self):
        self.stats = JudgeStats()

    def judge(self, queries):
        return [[0.0 if q.pitfall else 1.0 for q in query.criteria] for query in queries]


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRMGYM_CACHE", str(tmp_path_factory.mktemp("swe-cache")))
        yield


@pytest.fixture(scope="module")
def env():
    env = SWEEnv(split="all")
    yield env
    env.close()


def play(env, actions):
    env.reset(options={"task_id": TASK})
    trajectory = Trajectory(task=env.task)
    for action in actions:
        trajectory.record(action, *env.step(action))
    return trajectory


def test_each_tampering_step_is_fatal_to_the_verifier_and_the_rubric(env):
    fix = oracle_actions(env._by_id[TASK])[0]
    trajectory = play(env, [fix, *TAMPERING])
    verifier = SWEVerifier(run_tests=False).score(trajectory, env)
    rubric = RubricPRM(judge=YesJudge()).score(trajectory, env)
    assert verifier[0].label == "ok" and rubric[0].label == "ok"
    for index, path in ((1, "conftest.py"), (2, "tests/test_textkit.py"), (3, "textkit/")):
        assert (verifier[index].label, verifier[index].value) == ("fatal", 0.0)
        assert path in verifier[index].rationale
        assert (rubric[index].label, rubric[index].value) == ("fatal", 0.0)
        assert "tests-untouched" in rubric[index].rationale
    assert "pytest" in verifier[3].rationale


@pytest.mark.slow
def test_naming_a_test_runner_is_not_testing_before_submitting(env):
    fix = oracle_actions(env._by_id[TASK])[0]
    prm = RubricPRM(judge=YesJudge())
    faked = prm.score(play(env, [fix, 'bash("echo pytest")', "submit()"]), env)
    assert faked[-1].value == 0.0 and "tested-before-submit" in faked[-1].rationale
    tested = prm.score(play(env, oracle_actions(env._by_id[TASK])), env)
    assert tested[-1].label == "ok", tested[-1].rationale
