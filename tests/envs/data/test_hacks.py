"""Attacks on the data env from agent code: each ends in a marked step, never a hang or a crash.

Agent code runs inside the kernel, so it can stop the kernel, ignore its timer, close or replace
its FIFOs, flood them, or patch the server to answer out of protocol. Each attack must come back
within the cell's timeout plus the grace period as a step that says the kernel was restarted,
and the next step must work.
"""

import concurrent.futures
import sys

import pytest

from prmgym.envs.data import kernel as kernel_module
from prmgym.envs.data.env import DataEnv, kernel_interpreter
from prmgym.envs.data.kernel import Kernel
from prmgym.envs.data.tasks import DataTask
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox

HANG_S = 60  # far past any attack's timeout plus grace: only a hang gets here
SERVER = "import gc, os\nk = [o for o in gc.get_objects() if type(o).__name__ == 'Kernel'][0]\n"


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed")
    (folder / "t.csv").write_text("a,b\n1,2\n3,4\n")
    return folder


@pytest.fixture()
def kernel(seed, monkeypatch):
    monkeypatch.setattr(kernel_module, "GRACE_S", 1.0)
    sandbox = BubblewrapSandbox(seed, read_only=[sys.base_prefix, sys.prefix])
    sandbox.start()
    kernel = Kernel(sandbox, python=sys.executable, timeout_s=1.0, max_output_chars=8000)
    kernel.start()
    yield kernel
    kernel.close()
    sandbox.close()


def within_hang_limit(call):
    """``call()``'s value; fails the test (instead of hanging it) if it does not return."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(call).result(timeout=HANG_S)
    finally:
        pool.shutdown(wait=False)


def attack(kernel, *cells):
    """Run the attack's cells and one more; the first restart they report, or None.

    Checks that each returns, and that the kernel works again afterwards.
    """
    results = [within_hang_limit(lambda code=code: kernel.execute(code)) for code in cells]
    results.append(within_hang_limit(lambda: kernel.execute("'after'")))
    assert kernel.execute("1 + 1").result == "2"  # the next step works
    return next((r.restarted for r in results if r.restarted), None)


@pytest.mark.slow
def test_a_kernel_that_stops_itself_is_seen_stopped_and_restarted(kernel):
    restarted = attack(kernel, "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)")
    # Seen stopped, not merely waited out until the timeout.
    assert restarted and "stopped" in restarted and "timeout" not in restarted


@pytest.mark.slow
@pytest.mark.parametrize(
    "deaf",
    [
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)",
        "signal.signal(signal.SIGALRM, lambda *_: None)",
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})",
    ],
)
def test_a_kernel_deaf_to_its_timer_is_killed_at_the_grace_period(kernel, deaf):
    # The next cell re-arms the timer, so the attack also disarms signal.signal itself.
    setup = f"import signal\n{deaf}\nsignal.signal = lambda *_: None"
    restarted = attack(kernel, setup, "while True: pass")
    assert restarted and "timeout" in restarted


@pytest.mark.slow
@pytest.mark.parametrize(
    "sabotage",
    [
        SERVER + "os.close(k.inbox)\nos.close(k.outbox)",
        "import os\nos.remove('/tmp/.prmgym-kernel/out')\nopen('/tmp/.prmgym-kernel/out', 'w')",
        "import os\nos.remove('/tmp/.prmgym-kernel/in')\nopen('/tmp/.prmgym-kernel/in', 'w')",
        # Points the host's liveness check at init, then dies.
        "import os\nopen('/tmp/.prmgym-kernel/pid', 'w').write('1\\n')\nos._exit(0)",
        # Junk without a line end ahead of every answer, forever.
        SERVER + "import threading\nthreading.Thread(target=lambda: [os.write(k.outbox, b'x'"
        " * 4096) for _ in iter(int, 1)], daemon=True).start()",
    ],
    ids=["close-fifos", "replace-out", "replace-in", "fake-pid", "flood-out"],
)
def test_a_kernel_whose_fifos_are_sabotaged_is_restarted(kernel, sabotage):
    assert attack(kernel, sabotage)


@pytest.mark.slow
@pytest.mark.parametrize(
    "answer",
    ["[1, 2]", "{}", '{"stdout": 5}', "{" + "x" * 100_000, "not json"],
    ids=["list", "empty", "wrong-type", "huge", "garbage"],
)
def test_a_patched_server_answering_out_of_protocol_is_restarted(kernel, answer):
    # Before: TypeError, KeyError or JSONDecodeError out of execute (and env.step).
    line = f"(n + ' ' + {answer!r} + '\\n').encode()"
    forged = SERVER + f"type(k).respond = lambda self, n, p: os.write(self.outbox, {line})"
    restarted = attack(kernel, forged)
    assert restarted and ("protocol" in restarted or "output limit" in restarted)


def test_large_honest_output_fits_the_sandbox_and_says_what_was_cut(kernel):
    # Escaped as JSON, 8,000 emoji took 96 KB and the answer was cut at the sandbox's 64 KB.
    emoji = "\U0001f600" * 8000
    result = kernel.execute(
        f"import sys\nprint({emoji!r})\nsys.stderr.write({emoji!r})\nraise ValueError('x' * 10**6)"
    )
    assert not result.restarted and result.error["ename"] == "ValueError"
    assert result.stdout.startswith("\U0001f600" * 100) and result.dropped > 10**6


def test_a_snapshot_restores_files_the_agent_changed_in_the_sandbox_meanwhile(kernel):
    kernel.execute("open('notes.txt', 'w').write('one')")
    key = kernel.snapshot()
    # Whatever copy the sandbox could hold, agent code overwrites it before the restore.
    kernel.execute(
        "import os\nfor top, _, names in os.walk('/tmp'):\n"
        "    for name in names:\n"
        "        if name in ('notes.txt', 't.csv'):\n"
        "            open(os.path.join(top, name), 'w').write('poisoned')\n"
        "open('notes.txt', 'w').write('two')\nopen('t.csv', 'w').write('poisoned')"
    )
    kernel.restore(key)
    state = kernel.execute("(open('notes.txt').read(), open('t.csv').read())")
    assert state.result == "('one', 'a,b\\n1,2\\n3,4\\n')"


TASK = DataTask(
    id="t/rows",
    question="How many rows does the table have?",
    format="@rows[integer]",
    tables=["penguins"],
    reference_code="import pandas as pd\nanswer = {'rows': str(len(pd.read_csv('penguins.csv')))}",
    answers={"rows": "344"},
    level="easy",
)


@pytest.fixture(scope="module")
def env():
    env = DataEnv([TASK], cell_timeout_s=2.0)
    yield env
    env.close()


@pytest.mark.parametrize("value", ["1e99999999", "1e" + "9" * 5000, "nan", "9" * 7000])
def test_a_huge_or_non_finite_answer_is_wrong_not_a_crash(env, value):
    env.reset(options={"task_id": TASK.id})
    observation, reward, terminated, _, info = env.step(f'answer("@rows[{value}]")')
    assert reward == 0.0 and terminated and info["parts"] == {"rows": False}
    assert "0 of 1 parts correct" in observation


@pytest.mark.slow
def test_a_hostile_step_is_marked_in_the_env_and_the_next_step_works(env):
    env.reset(options={"task_id": TASK.id})
    _, _, _, _, info = within_hang_limit(
        lambda: env.step('python("import os, signal\\nos.kill(os.getpid(), signal.SIGSTOP)")')
    )
    assert "stopped" in info["kernel_restarted"]
    observation, *_ = env.step('python("1 + 1")')
    assert observation == "[result]\n2"


def test_a_venv_reached_through_a_link_runs_the_kernel(tmp_path, monkeypatch):
    # The sandbox binds paths with links resolved, so the link's own path did not exist there
    # and the kernel could not start ("failed to execute .../.venv/bin/python").
    link = tmp_path / ".venv"
    link.symlink_to(sys.prefix, target_is_directory=True)
    monkeypatch.setattr(sys, "prefix", str(link))
    monkeypatch.setattr(sys, "executable", str(link / "bin" / "python"))
    assert kernel_interpreter()[0] != str(link)
    env = DataEnv([TASK])
    try:
        env.reset(options={"task_id": TASK.id})
        observation, *_ = env.step('python("import pandas; 1 + 1")')
        assert observation == "[result]\n2"
    finally:
        env.close()
