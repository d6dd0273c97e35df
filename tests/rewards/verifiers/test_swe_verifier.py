"""The SWE verifier replays trajectories of the demo tasks in scratch sandboxes."""

import pytest

from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.oracle import oracle_actions
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.verifiers.swe import SWEVerifier
from prmgym.trajectory import Trajectory

TASK = "demo__textkit-1"
BREAKS_CAPITALIZE = 'str_replace("textkit/__init__.py", "word[:1].upper()", "word[:1]")'


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


def play(env, actions, task_id=TASK):
    env.reset(options={"task_id": task_id})
    trajectory = Trajectory(task=env.task)
    for action in actions:
        trajectory.record(action, *env.step(action))
    return trajectory


@pytest.mark.slow
def test_the_oracle_fix_makes_progress_and_its_submission_resolves(env):
    task = env._by_id[TASK]
    scores = SWEVerifier().score(play(env, oracle_actions(task)), env)
    assert [s.label for s in scores] == ["ok"] * len(scores)
    # The fix, then the oracle's own test run (which changes nothing), then the submission.
    assert scores[-3].value == 1.0 and "1 more FAIL_TO_PASS" in scores[-3].rationale
    assert scores[-2].value == 0.7 and "runs the code" in scores[-2].rationale
    assert scores[-1].value == 1.0 and all(s.source == "swe-verifier" for s in scores)


@pytest.mark.slow
def test_reading_is_neutral_a_repeat_is_flagged_and_a_bad_submission_is_fatal(env):
    actions = ['view("textkit/__init__.py")', 'view("textkit/__init__.py")', "submit()"]
    scores = SWEVerifier().score(play(env, actions), env)
    assert (scores[0].label, scores[0].value) == ("ok", 0.7)
    assert scores[1].label == "correctable" and "repeats step 0" in scores[1].rationale
    assert (scores[2].label, scores[2].value) == ("fatal", 0.0)


@pytest.mark.slow
def test_regressions_non_compiling_and_no_op_edits_are_correctable(env):
    task = env._by_id[TASK]
    actions = [
        *oracle_actions(task)[:-1],
        BREAKS_CAPITALIZE,
        'create("textkit/extra.py", "def f(:\\n")',
        'str_replace("textkit/__init__.py", "word[:1]", "word[:1]")',
    ]
    scores = SWEVerifier().score(play(env, actions), env)
    regression, syntax, no_op = scores[-3:]
    assert regression.label == "correctable" and "breaks 1 PASS_TO_PASS" in regression.rationale
    assert syntax.label == "correctable" and "compile" in syntax.rationale
    assert no_op.label == "correctable" and "changed nothing" in no_op.rationale


@pytest.mark.slow
def test_candidates_are_scored_from_the_same_state_and_the_episode_is_untouched(env):
    task = env._by_id[TASK]
    fix = oracle_actions(task)[0]
    trajectory = play(env, ['view("textkit/__init__.py")'])
    before = env.probe.workspace_files_changed()
    scores = SWEVerifier().score_candidates(trajectory, [fix, BREAKS_CAPITALIZE, fix], env)
    assert [s.value for s in scores] == [1.0, 0.3, 1.0]
    assert env.probe.workspace_files_changed() == before == []


@pytest.mark.slow
def test_it_passes_the_reward_model_checks_and_is_the_families_verifier(env):
    task = env._by_id[TASK]
    trajectory = play(env, ['bash("ls")', *oracle_actions(task)])
    check_reward_model(SWEVerifier(run_tests=False), trajectory, env=env)
    assert isinstance(make_scorer("verifier", family="swe"), SWEVerifier)
