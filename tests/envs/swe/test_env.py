"""SWEEnv on the demo repository (a git repository built in a temporary cache, no network)."""

import json

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prmgym
from prmgym.envs.swe.demo import demo_instances
from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.oracle import oracle_actions, submit_at_once_actions
from prmgym.errors import TaskError
from prmgym.sandboxes.base import SandboxLimits

MODULE = "textkit/__init__.py"
TESTS = "tests/test_textkit.py"
WORD_COUNT, TRUNCATE = "demo__textkit-1", "demo__textkit-2"  # the second has a hidden test


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("swe-cache")
        patch.setenv("PRMGYM_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def env(cache):
    env = SWEEnv(split="all")
    yield env
    env.close()


def start(env, task_id=WORD_COUNT):
    observation, _ = env.reset(options={"task_id": task_id})
    return observation


def act(env, action):
    observation, reward, terminated, truncated, info = env.step(action)
    assert env.observation_space.contains(observation)
    return observation, reward, terminated, info


def play(env, actions):
    for action in actions:
        observation, reward, terminated, info = act(env, action)
        assert info["action_error"] is None, (action, info["action_error"])
    return observation, reward, terminated, info


def test_the_registered_id_passes_check_env_and_is_recorded():
    env = gymnasium.make("prmgym/SWE-v0")
    assert env.spec.max_episode_steps == 30
    check_env(env.unwrapped, skip_render_check=True)
    env.close()
    info = prmgym.env_info("prmgym/SWE-v0")
    assert (info.family, info.default_prms) == ("swe", ("swe-verifier",))


def test_make_vec_sync_and_async(cache):
    for mode, kwargs in (("sync", {}), ("async", {"vector_kwargs": {"shared_memory": False}})):
        envs = gymnasium.make_vec("prmgym/SWE-v0", num_envs=2, vectorization_mode=mode, **kwargs)
        observations, _ = envs.reset(seed=1)
        assert all("/workspace" in observation for observation in observations)
        observations, *_ = envs.step(['bash("echo hi")', 'view("textkit")'])
        assert list(observations) == [
            "exit code: 0\n[stdout]\nhi",
            "textkit/ holds 1 entries:\n__init__.py",
        ]
        envs.close()


def test_the_prompt_shows_the_issue_and_tools_but_nothing_privileged(env):
    observation, info = env.reset(options={"task_id": TRUNCATE})
    again, info_again = env.reset(options={"task_id": TRUNCATE})
    assert observation == again and info == info_again
    instance = env.instance
    assert instance.problem_statement in observation and 'bash("command")' in observation
    for secret in (*instance.FAIL_TO_PASS, "test_truncate_keeps", "<= width"):
        assert secret not in observation
    # The hidden test is nowhere in the workspace either.
    observation, *_ = act(env, 'bash("grep -rc exactly_width . || true")')
    assert "exactly_width" not in observation.replace("grep -rc exactly_width", "")


def test_bash_reports_exit_code_and_both_streams_and_the_session_persists(env):
    start(env)
    observation, reward, terminated, info = act(env, 'bash("cd textkit && export X=7")')
    assert observation == "exit code: 0\n(no output)" and (reward, terminated) == (0.0, False)
    observation, _, _, info = act(env, """bash('echo "$X $(pwd)"; echo oops >&2; false')""")
    assert observation == "exit code: 1\n[stdout]\n7 /workspace/textkit\n[stderr]\noops"
    assert info["exit_code"] == 1 and "sandbox_restarted" not in info
    # Long output keeps its start and its end (where errors and summaries usually are).
    observation, *_ = act(env, 'bash("seq 1 3000")')
    assert observation.startswith("exit code: 0\n[stdout]\n1\n2\n") and "3000" in observation
    assert "characters cut ...]" in observation
    # A model that forgets the quotes still gets its command run.
    assert "__init__.py" in act(env, "bash(ls -la /workspace/textkit/)")[0]


def test_a_command_that_ends_its_shell_is_surfaced_and_files_survive(env):
    start(env)
    play(env, ['create("notes.txt", "kept\\n")', 'bash("cd textkit")'])
    observation, _, _, info = act(env, 'bash("kill -9 $$")')
    assert "ended the shell" in info["sandbox_restarted"]
    assert f"[sandbox restarted: {info['sandbox_restarted']}]" in observation
    assert act(env, 'bash("pwd; cat notes.txt")')[0].endswith("/workspace\nkept")


@pytest.mark.slow
def test_a_command_that_kills_the_sandbox_is_marked_when_it_is_rebuilt(env):
    start(env)
    play(env, ['create("notes.txt", "lost\\n")'])
    # The sandbox dies as the command ends: that step, or the next one if the command's end
    # was seen first, finds it dead and rebuilds it from its seed.
    steps = [act(env, 'bash("kill -9 -1")'), act(env, 'view("notes.txt")')]
    marked = [(obs, info) for obs, _, _, info in steps if "sandbox_restarted" in info]
    assert len(marked) == 1 and not any(terminated for _, _, terminated, _ in steps)
    observation, info = marked[0]
    assert "rebuilt from its seed" in info["sandbox_restarted"]
    assert f"[sandbox restarted: {info['sandbox_restarted']}]" in observation
    assert "no file or folder" in steps[1][3]["action_error"]


@pytest.mark.slow
def test_timeouts_and_truncation_are_announced(cache):
    env = SWEEnv(split="all", limits=SandboxLimits(timeout_s=2, output_bytes=1000))
    try:
        start(env)
        observation, _, _, info = act(env, 'bash("sleep 30")')
        assert observation.startswith("timed out: the command ran past 2 s and was killed")
        assert info["timed_out"] and "2 s timeout" in info["sandbox_restarted"]
        observation, _, _, info = act(env, "bash(\"yes abc | head -c 5000; echo 'x' >&2\")")
        assert info["truncated"] and "[output truncated" in observation
        assert observation.count("abc") < 300 and "[stderr]\nx" in observation
    finally:
        env.close()


def test_view_numbers_lines_and_lists_folders(env):
    start(env)
    observation, *_ = act(env, f'view("{MODULE}", 4, 6)')
    assert observation.splitlines() == [
        f"{MODULE}, lines 4-6 of 18:",
        "     4\tdef word_count(text):",
        '     5\t    """The number of words in text, words being separated by any whitespace."""',
        '     6\t    return len(text.split(" "))',
    ]
    assert act(env, 'view("/workspace")')[0] == "/workspace holds 2 entries:\ntests/\ntextkit/"
    assert act(env, 'view("./textkit")')[0] == "textkit/ holds 1 entries:\n__init__.py"
    assert act(env, f'view("/workspace/{MODULE}", start=18)')[0].endswith("+ suffix")
    play(env, ['bash("seq 1 3000 > long.txt")'])
    observation, *_ = act(env, 'view("long.txt", 10)')
    shown = observation.splitlines()
    assert shown[0].startswith("long.txt, lines 10-") and shown[0].endswith(" of 3000:")
    stop = int(shown[0].split("-")[1].split()[0])
    assert shown[-1] == f'[more below: view("long.txt", {stop + 1}) shows the next lines]'


def test_edits_show_the_changed_lines_and_land_in_the_workspace(env):
    start(env)
    observation, _, _, info = act(
        env, f'str_replace("{MODULE}", "len(text.split(\\" \\"))", "len(text.split())")'
    )
    assert observation.startswith(f"Replaced the text in {MODULE}.\n{MODULE}, lines 3-9")
    assert "     6\t    return len(text.split())" in observation and info["edited"] == MODULE
    observation, *_ = act(env, f'insert("{MODULE}", 0, "import re")')
    assert '     1\timport re\n     2\t"""Small helpers' in observation
    observation, _, _, info = act(env, 'create("pkg/new.py", "A = 1\\nB = 2\\n")')
    # The env's listing of the workspace says what changed, in the info and the last line.
    assert info["workspace"] == {"changed": ["pkg/new.py"], "flagged": {}}
    assert observation == (
        "Created pkg/new.py (2 lines).\n[workspace changes] "
        '{"changed": ["pkg/new.py"], "changed_count": 1, "flagged": {}, "flagged_count": 0}'
    )
    observation, *_ = act(env, 'bash("head -1 textkit/__init__.py; cat pkg/new.py")')
    assert observation == "exit code: 0\n[stdout]\nimport re\nA = 1\nB = 2"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("bash(", "could not parse"),
        ("ls -la", "is not a tool call"),
        ('fly("x")', "unknown tool 'fly'; the tools are bash, view"),
        ("view()", "wrong arguments for view"),
        ("submit(1)", "wrong arguments for submit"),
        ('bash("")', "bash needs a command"),
        ('view("textkit", start="x")', "start and end are line numbers"),
        ('view("/etc/passwd")', "'/etc/passwd' is outside /workspace"),
        ('view("../../etc/passwd")', "climbs out with '..'"),
        ('view("missing.py")', "there is no file or folder 'missing.py'"),
        (f'view("{MODULE}", 50)', "lines 50-end are not in textkit/__init__.py, which has 18"),
        (f'str_replace("{MODULE}", "no such text", "x")', "does not occur in textkit/__init__"),
        (f'str_replace("{MODULE}", "return", "x")', "occurs 4 times in textkit/__init__.py"),
        (f'str_replace("{MODULE}", "", "x")', "old text is empty"),
        ('str_replace("textkit", "a", "b")', "textkit is a folder; str_replace edits files"),
        ('str_replace("missing.py", "a", "b")', "no file or folder 'missing.py'"),
        (f'insert("{MODULE}", 99, "x")', "line must be from 0 (the top) to 18"),
        (f'insert("{MODULE}", "1", "x")', "insert takes a line number and text"),
        (f'create("{MODULE}", "x")', "already exists; change it with str_replace"),
        ('create("textkit", "x")', "textkit already exists and is a folder"),
        ('create("/tmp/x.py", "x")', "outside /workspace"),
        ('bash("\\ud800")', "not Unicode text"),
        ('view("a\\x00b")', "paths cannot hold NUL"),
        ('create("x" * 3, 5)', "must be literals"),
    ],
)
def test_bad_actions_become_observations_that_say_what_was_wrong(env, action, message):
    start(env)
    observation, reward, terminated, info = act(env, action)
    assert message in info["action_error"]
    assert observation.startswith("Error:") and "Tools (" in observation
    assert (reward, terminated) == (0.0, False)


def test_a_symbolic_link_out_of_the_workspace_is_not_followed(env):
    start(env)
    play(env, ['bash("ln -s /etc/hostname host")'])
    assert "'host' is a symbolic link" in act(env, 'view("host")')[3]["action_error"]
    assert "symbolic link" in act(env, 'str_replace("host", "a", "b")')[3]["action_error"]


@pytest.mark.slow
def test_the_oracle_resolves_every_task_and_submitting_at_once_none(env):
    for task in env.tasks:
        start(env, task.id)
        observation, reward, terminated, info = play(env, oracle_actions(task))
        assert (reward, terminated, info["resolved"], info["success"]) == (1.0, True, True, True)
        assert "Resolved: yes (reward 1.0)" in observation
        start(env, task.id)
        observation, reward, terminated, info = play(env, submit_at_once_actions(task))
        assert (reward, terminated, info["resolved"]) == (0.0, True, False)
        (test,) = env.instance.FAIL_TO_PASS
        assert info["fail_to_pass"] == {test: "failed"}
        assert f"FAIL_TO_PASS: 0 of 1 now pass\n  failed  {test}" in observation


@pytest.mark.slow
def test_breaking_a_pass_to_pass_test_is_not_resolved(env):
    task = env._by_id[WORD_COUNT]
    start(env)
    breaking = 'str_replace("textkit/__init__.py", "word[:1].upper()", "word[:1]")'
    observation, reward, _, info = play(env, [*oracle_actions(task)[:-1], breaking, "submit()"])
    broken = f"{TESTS}::test_capitalize_words"
    assert reward == 0.0 and not info["resolved"] and info["pass_to_pass_failed"] == [broken]
    assert "FAIL_TO_PASS: 1 of 1 now pass" in observation
    assert f"PASS_TO_PASS: 3 of 4 still pass\n  failed  {broken}" in observation


@pytest.mark.slow
def test_the_hidden_tests_are_added_at_grading_whatever_the_agent_did_to_the_test_file(env):
    start(env, TRUNCATE)
    # Rewriting the test file the hidden test_patch touches does not change the grading:
    # it is put back as the task had it, then the hidden test is added and fails.
    observation, reward, _, info = play(
        env, ["bash(\"echo 'def test_ok(): pass' > tests/test_textkit.py\")", "submit()"]
    )
    (hidden,) = env.instance.FAIL_TO_PASS
    assert reward == 0.0 and info["fail_to_pass"] == {hidden: "failed"}
    assert "PASS_TO_PASS: 4 of 4 still pass" in observation
    # The report names the hidden test but never shows its code.
    assert 'truncate("abcdef", 6)' not in observation and "assert" not in observation


@pytest.mark.slow
def test_the_probe_grades_and_compiles_in_scratch_and_changes_nothing(env):
    start(env)
    play(
        env,
        [
            *oracle_actions(env.task)[:-1],
            'create("broken.py", "def f(:\\n")',
            'bash("cd textkit; export X=5")',
        ],
    )
    before = env.sandbox.snapshot()
    probe = env.probe
    assert probe.instance.instance_id == WORD_COUNT and probe.task.id == WORD_COUNT
    assert probe.workspace_files_changed() == ["broken.py", MODULE]
    report = probe.run_tests()
    assert report.passed(env.instance.FAIL_TO_PASS[0])
    assert all(report.passed(test) for test in env.instance.PASS_TO_PASS)
    assert probe.grade().resolved
    assert probe.compiles(MODULE) and not probe.compiles("broken.py")
    assert probe.compile_error("broken.py").startswith("broken.py, line 1:")
    assert "cannot read" in probe.compile_error("nowhere.py")
    assert "len(text.split())" in probe.read_text(MODULE) and probe.read_text("x") is None
    # The episode is as it was: same shell, same files, same step count.
    assert act(env, 'bash("echo $X $(pwd); ls -A /workspace")')[0] == (
        "exit code: 0\n[stdout]\n5 /workspace/textkit\nbroken.py\ntests\ntextkit"
    )
    assert env._step_index == len(oracle_actions(env.task)[:-1]) + 3
    assert env.probe.workspace_files_changed() == ["broken.py", MODULE]
    env.sandbox.restore(before)


def test_snapshot_and_restore_round_trip(env):
    start(env)
    play(env, ['create("a.txt", "one\\n")'])
    token = env.snapshot()
    play(env, ['str_replace("a.txt", "one", "two")', 'bash("rm -r textkit")'])
    env.restore(token)
    assert (
        act(env, 'bash("cat a.txt; ls")')[0] == "exit code: 0\n[stdout]\none\na.txt\ntests\ntextkit"
    )
    assert env._step_index == 2
    start(env)
    with pytest.raises(ValueError, match="another episode"):
        env.restore(token)


def test_episodes_and_envs_do_not_share_workspaces(env, cache):
    other = SWEEnv(split="all")
    try:
        start(env)
        start(other)
        play(env, ['create("mine.txt", "x")'])
        assert "no file or folder" in act(other, 'view("mine.txt")')[3]["action_error"]
        start(env)
        assert "no file or folder" in act(env, 'view("mine.txt")')[3]["action_error"]
    finally:
        other.close()


def test_tasks_come_from_a_jsonl_file_or_objects_with_clear_errors(env, tmp_path):
    instances = demo_instances()
    good = tmp_path / "tasks.jsonl"
    good.write_text("\n".join(i.model_dump_json() for i in instances) + "\n")
    assert [t.id for t in SWEEnv(tasks_file=good).tasks] == [WORD_COUNT, TRUNCATE]
    from_tasks = SWEEnv([instances[0].to_task(), instances[1]])
    assert [t.id for t in from_tasks.tasks] == [WORD_COUNT, TRUNCATE]
    bad = tmp_path / "bad.jsonl"
    record = json.loads(instances[0].model_dump_json())
    del record["FAIL_TO_PASS"]
    bad.write_text(instances[0].model_dump_json() + "\n" + json.dumps(record) + "\n")
    with pytest.raises(TaskError, match=r"bad.jsonl, line 2: field 'FAIL_TO_PASS'"):
        SWEEnv(tasks_file=bad)
    with pytest.raises(ValueError, match="no SWE tasks in split 'train'"):
        SWEEnv(tasks_file=good, split="train")


tool_names = st.sampled_from(["bash", "view", "str_replace", "insert", "create", "x"])


@pytest.fixture(scope="module")
def fuzz_env(cache):
    # A short command timeout bounds what a random command that waits can cost.
    env = SWEEnv(split="all", limits=SandboxLimits(timeout_s=2))
    yield env
    env.close()


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(lambda t, a: f"{t}({a})", tool_names, st.text(max_size=40)),
        st.builds(
            lambda t, a, b: f"{t}({a!r}, {b!r})",
            tool_names,
            st.text(max_size=20),
            st.one_of(st.text(max_size=20), st.integers(-3, 30)),
        ),
    )
)
def test_fuzzed_actions_never_raise(fuzz_env, action):
    if fuzz_env._done or fuzz_env._task is None:
        start(fuzz_env)
    observation, reward, terminated, truncated, info = fuzz_env.step(action)
    assert isinstance(observation, str) and observation
    assert fuzz_env.observation_space.contains(observation)
    assert set(info) >= {"step", "action_error", "tool", "task_id"}
