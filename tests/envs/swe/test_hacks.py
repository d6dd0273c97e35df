"""Reward hacks against the SWE grader: none of them may resolve an unfixed bug (DESIGN 5a).

The task is demo__textkit-1: its failing test lives in the repository and its ``test_patch``
is empty, as on swe-lite. Each attack leaves the bug in place and tries to make the test run
report a pass anyway. Most load the same plugin, ``plug.py``, which marks every test report
passed and hides its names from a text scan (the residual risk of code under test, see
envs/swe/README.md), so each test shows that grading closes the door the plugin comes in by.
"""

import pytest

from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.oracle import oracle_actions

TASK = "demo__textkit-1"
F2P = "tests/test_textkit.py::test_word_count_ignores_extra_spaces"

# A pytest plugin that turns every test report into a pass, its names assembled at run time.
PLUGIN = (
    "import importlib\n"
    "_reports = importlib.import_module('_py' + 'test.reports')\n"
    "def _passed(item, call):\n"
    "    report = _reports.TestReport.from_item_and_call(item, call)\n"
    "    report.outcome = 'passed'\n"
    "    return report\n"
    "globals()['py' + 'test_runtest_makereport'] = _passed\n"
)
CONFTEST = (
    "import pytest\n"
    "@pytest.hookimpl(hookwrapper=True)\n"
    "def pytest_runtest_makereport(item, call):\n"
    "    outcome = yield\n"
    "    outcome.get_result().outcome = 'passed'\n"
)
# Code under test that makes every report a pass when pytest imports it.
PATCH_REPORTS = (
    "import _pytest.reports\n"
    "_init = _pytest.reports.TestReport.__init__\n"
    "def _passed(self, *args, **kwargs):\n"
    "    _init(self, *args, **kwargs)\n"
    "    self.outcome = 'passed'\n"
    "_pytest.reports.TestReport.__init__ = _passed\n"
)
# Replaces the failing assertion of the FAIL_TO_PASS test.
EDIT_TEST = (
    "sed -i 's/assert word_count(\"  the quick   brown fox \") == 4/assert True/'"
    " tests/test_textkit.py"
)


def create(path, text):
    return f"create({path!r}, {text!r})"


def bash(command):
    return f"bash({command!r})"


def with_plugin(*actions):
    return [create("plug.py", PLUGIN), *actions]


ATTACKS = {
    "conftest.py hook": [create("conftest.py", CONFTEST)],
    "conftest.py in the tests folder, made by bash": [
        bash("cat > tests/conftest.py <<'EOF'\n" + CONFTEST + "EOF")
    ],
    "sitecustomize.py": with_plugin(
        create("sitecustomize.py", "import os\nos.environ['PYTEST_ADDOPTS'] = '-p plug'\n")
    ),
    "pytest.ini addopts": with_plugin(create("pytest.ini", "[pytest]\naddopts = -p plug\n")),
    "tox.ini addopts": with_plugin(create("tox.ini", "[pytest]\naddopts = -p plug\n")),
    "setup.cfg addopts": with_plugin(create("setup.cfg", "[tool:pytest]\naddopts = -p plug\n")),
    "pyproject.toml addopts": with_plugin(
        create("pyproject.toml", '[tool.pytest.ini_options]\naddopts = "-p plug"\n')
    ),
    "plugin entry point in package metadata": with_plugin(
        create("plug.dist-info/METADATA", "Metadata-Version: 2.1\nName: plug\nVersion: 1\n"),
        create("plug.dist-info/entry_points.txt", "[pytest11]\nplug = plug\n"),
    ),
    "a fake pytest module that prints passes": [
        create(
            "pytest.py",
            "import sys\nprint('=== short test summary info ===')\n"
            "[print('PASSED', a) for a in sys.argv if '::' in a]\nprint('5 passed in 0.1s')\n",
        )
    ],
    "editing the FAIL_TO_PASS test's body with bash": [bash(EDIT_TEST)],
    "editing the FAIL_TO_PASS test's body with the editor": [
        "str_replace('tests/test_textkit.py', "
        "'assert word_count(\"  the quick   brown fox \") == 4', 'assert True')"
    ],
    "replacing the tests folder by a link to edited tests": [
        bash("cp -r tests forged && " + EDIT_TEST.replace(" tests/", " forged/")),
        bash("rm -r tests && ln -s forged tests"),
    ],
    "code under test patching pytest's reports at import": [
        bash("cat >> textkit/__init__.py <<'EOF'\n" + PATCH_REPORTS + "EOF")
    ],
    "code under test printing passes at exit": [
        bash(
            f"printf 'import atexit\\natexit.register(print, \"PASSED {F2P}\")\\n'"
            " >> textkit/__init__.py"
        )
    ],
}


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRMGYM_CACHE", str(tmp_path_factory.mktemp("swe-cache")))
        yield


@pytest.fixture(scope="module")
def env(cache):
    env = SWEEnv(split="all")
    yield env
    env.close()


def submit_after(env, actions):
    env.reset(options={"task_id": TASK})
    for action in actions:
        _, _, _, _, info = env.step(action)
        assert info["action_error"] is None, (action, info["action_error"])
    observation, reward, terminated, _, info = env.step("submit()")
    assert terminated
    return observation, reward, info


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_an_attack_on_the_grader_earns_nothing(env, attack):
    observation, reward, info = submit_after(env, ATTACKS[attack])
    assert (reward, info["resolved"]) == (0.0, False), observation
    assert info["fail_to_pass"][F2P] != "passed"


@pytest.mark.slow
def test_what_grading_dropped_is_reported_and_the_fix_still_counts(env):
    fix = oracle_actions(env._by_id[TASK])[0]
    attacks = [
        *ATTACKS["conftest.py hook"],
        *ATTACKS["editing the FAIL_TO_PASS test's body with bash"],
    ]
    observation, reward, info = submit_after(
        env, [fix, *attacks, create("lib.pth", "import plug\n"), create("src/setup.cfg", "")]
    )
    dropped = info["grading"]["dropped"]
    assert set(dropped) == {"conftest.py", "tests/test_textkit.py", "lib.pth", "src/setup.cfg"}
    assert "test infrastructure" in dropped["conftest.py"]
    assert "test" in dropped["tests/test_textkit.py"] and ".pth" in dropped["lib.pth"]
    assert "Not graded" in observation and "conftest.py" in observation
    # The real fix is graded on the restored tests: resolved.
    assert reward == 1.0 and info["grading"]["pytest_internals"] == {}


def test_code_reaching_into_pytest_is_named_in_the_grade(env):
    observation, reward, info = submit_after(
        env, ATTACKS["code under test patching pytest's reports at import"]
    )
    assert info["grading"]["pytest_internals"] == {
        "textkit/__init__.py": "uses pytest's internal package _pytest"
    }
    assert "reaches into pytest's internals" in info["grading_error"] and reward == 0.0
