"""data-lite in the sandboxed kernel: the oracle solves tasks of every table."""

import pytest

from prmgym.envs.data.env import DataEnv
from prmgym.envs.data.oracle import oracle_actions
from prmgym.envs.data.tasks import load_task_file
from prmgym.suites import load_suite


def test_the_suite_runs_the_packaged_test_split():
    suite = load_suite("data-lite")
    tests = [task for task in load_task_file("data-lite") if task.split == "test"]
    assert suite.env == "prmgym/Data-v0" and suite.count == len(tests) >= 100
    assert suite.scorers == ["data-verifier"]


@pytest.mark.integration
def test_the_oracle_solves_a_task_of_every_table_in_the_sandboxed_kernel():
    # One task per table here; benchmarks/RESULTS.md records the oracle on all of them.
    firsts = {}
    for task in load_task_file("data-lite"):
        firsts.setdefault(task.tables[0], task)
    env = DataEnv(list(firsts.values()))
    try:
        for task in env.tasks:
            env.reset(options={"task_id": task.id})
            for action in oracle_actions(task):
                observation, reward, terminated, _, info = env.step(action)
                assert info["action_error"] is None and info.get("error") is None, observation
            assert reward == 1.0 and terminated, (task.id, observation)
    finally:
        env.close()
