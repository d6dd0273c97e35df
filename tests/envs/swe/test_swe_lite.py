"""swe-lite: the shipped task set, planted bugs in real packages graded by their own suites."""

import json
from collections import Counter
from importlib import resources

import gymnasium
import pytest

from prmgym.envs.swe import catalog
from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.oracle import oracle_actions, submit_at_once_actions
from prmgym.envs.swe.tasks import SWEInstance
from prmgym.suites import load_suite


def shipped() -> list[SWEInstance]:
    text = (resources.files("prmgym.envs.suites") / "swe-lite.tasks.jsonl").read_text()
    return [SWEInstance.model_validate(json.loads(line)) for line in text.splitlines()]


def test_swe_lite_holds_enough_bugs_from_enough_permissive_packages():
    instances = shipped()
    suite = load_suite("swe-lite")
    assert suite.env == "prmgym/SWE-v0" and suite.count == len(instances) >= 40
    per_package = Counter(instance.environment for instance in instances)
    assert len(per_package) >= 4 and min(per_package.values()) >= 10
    assert len({instance.instance_id for instance in instances}) == len(instances)
    for instance in instances:
        entry = catalog.package(instance.environment or "")
        assert entry.licence.split()[0] in {"MIT", "BSD-3-Clause", "Apache-2.0"}
        assert instance.source.requirement == entry.requirement == instance.base_commit
        # A recipe, not code: the fix is derived from the release, never stored.
        assert instance.mutation is not None and instance.patch == instance.test_patch == ""
        assert 1 <= len(instance.FAIL_TO_PASS) <= 20
        assert not set(instance.FAIL_TO_PASS) & set(instance.PASS_TO_PASS)


def test_the_suite_names_the_packaged_task_file_and_a_missing_one_is_clear():
    env = gymnasium.make("prmgym/SWE-v0", **load_suite("swe-lite").env_kwargs)
    try:
        assert [task.id for task in env.unwrapped.tasks] == [i.instance_id for i in shipped()]
    finally:
        env.close()
    with pytest.raises(Exception, match="swe-nope: SWE task file not found"):
        SWEEnv(tasks_file="swe-nope")


def one_per_package() -> list[SWEInstance]:
    firsts: dict[str | None, SWEInstance] = {}
    for instance in shipped():
        firsts.setdefault(instance.environment, instance)
    return list(firsts.values())


def play(env, task_id, actions):
    env.reset(options={"task_id": task_id})
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        assert info["action_error"] is None, (action, info["action_error"])
    assert terminated and not truncated
    return observation, reward, info


@pytest.mark.integration
def test_the_oracle_resolves_swe_lite_tasks_and_submitting_at_once_does_not():
    # One task per package: each release is downloaded and its test environment built once
    # (cached), its bug planted and graded by its own suite. bench_swe_lite.py runs all.
    env = SWEEnv(one_per_package())
    try:
        for task in env.tasks:
            observation, reward, info = play(env, task.id, oracle_actions(task))
            assert reward == 1.0 and info["resolved"], observation
            observation, reward, info = play(env, task.id, submit_at_once_actions(task))
            assert reward == 0.0 and not info["resolved"], observation
            assert any(outcome != "passed" for outcome in info["fail_to_pass"].values())
            assert not info["pass_to_pass_failed"] and not info["grading_error"]
    finally:
        env.close()
