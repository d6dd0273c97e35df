"""The sandboxed kernel: state between cells, errors, timeouts, crashes, probes and snapshots."""

import sys

import pytest

from prmgym.envs.data.kernel import Kernel
from prmgym.errors import SandboxError
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed")
    (folder / "t.csv").write_text("a,b\n1,2\n3,4\n")
    return folder


def start_kernel(seed, **kwargs):
    sandbox = BubblewrapSandbox(seed, read_only=[sys.base_prefix, sys.prefix])
    sandbox.start()
    kernel = Kernel(sandbox, python=sys.executable, **kwargs)
    kernel.start()
    return kernel


@pytest.fixture(scope="module")
def kernel(seed):
    kernel = start_kernel(seed, timeout_s=2.0, max_output_chars=100)
    yield kernel
    kernel.sandbox.close()


def test_variables_persist_and_a_final_expression_is_shown(kernel):
    first = kernel.execute("import pandas as pd\ndf = pd.read_csv('t.csv')\nprint(len(df))")
    assert (first.stdout, first.result, first.error) == ("2\n", None, None)
    assert kernel.execute("int(df.b.sum()) * 10").result == "60"
    assert kernel.execute("x = 1").result is None


def test_an_exception_shows_the_users_traceback_and_the_kernel_goes_on(kernel):
    failed = kernel.execute("def f():\n    return 1 / 0\nprint('before')\nf()")
    assert failed.stdout == "before\n" and failed.error["ename"] == "ZeroDivisionError"
    traceback = failed.error["traceback"]
    assert "line 2, in f" in traceback and "return 1 / 0" in traceback
    assert "server.py" not in traceback  # the kernel's own frames are hidden
    syntax = kernel.execute("def (:")
    assert syntax.error["ename"] == "SyntaxError" and "def (:" in syntax.error["traceback"]
    assert kernel.execute("exit(3)").error["ename"] == "SystemExit"
    assert kernel.execute("'alive'").result == "'alive'"


def test_output_is_bounded_and_says_how_much_was_left_out(kernel):
    result = kernel.execute("print('x' * 250); 'y' * 130")
    assert result.stdout == "x" * 100 and result.result == "'" + "y" * 99
    assert result.dropped == (251 - 100) + (132 - 100)


@pytest.mark.slow
def test_code_past_its_timeout_is_interrupted_and_earlier_variables_are_kept(kernel):
    result = kernel.execute("kept = 5\nimport time\ntime.sleep(30)")
    assert result.timed_out and result.error["ename"] == "TimeoutError" and not result.restarted
    # Swallowing Exception does not swallow the interrupt.
    caught = kernel.execute("try:\n    while True: pass\nexcept Exception:\n    pass")
    assert caught.timed_out
    assert kernel.execute("kept").result == "5"


@pytest.mark.slow
def test_a_crashed_kernel_is_restarted_and_says_so(seed):
    kernel = start_kernel(seed, timeout_s=5.0)
    try:
        kernel.execute("lost = 1")
        crashed = kernel.execute("import os\nos._exit(1)")
        assert crashed.restarted and "restarted" in crashed.restarted and kernel.restarts == 1
        assert kernel.execute("lost").error["ename"] == "NameError"
        assert kernel.execute("import pandas; 'fresh'").result == "'fresh'"
    finally:
        kernel.sandbox.close()


@pytest.mark.slow
def test_code_deaf_to_the_interrupt_is_killed_at_the_grace_period(seed, monkeypatch):
    from prmgym.envs.data import kernel as kernel_module

    monkeypatch.setattr(kernel_module, "GRACE_S", 1.0)
    kernel = start_kernel(seed, timeout_s=1.0)
    try:
        deaf = "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
        stuck = kernel.execute(deaf + "while True: pass")
        assert stuck.restarted and "timeout" in stuck.restarted
        assert kernel.execute("1 + 1").result == "2"
    finally:
        kernel.sandbox.close()


def test_a_probe_sees_the_variables_in_a_fork_and_changes_nothing(kernel):
    kernel.execute("items = [1, 2]")
    seen = kernel.probe("items.append(3)\n__probe_result__ = {'n': len(items)}")
    assert seen == {"n": 3}
    assert kernel.execute("items").result == "[1, 2]"
    with pytest.raises(SandboxError, match="ZeroDivisionError"):
        kernel.probe("1 / 0")
    with pytest.raises(SandboxError, match="ran past 0.5 s"):
        kernel.probe("while True: pass", timeout=0.5)


def test_a_snapshot_restores_variables_and_files_any_number_of_times(kernel):
    kernel.execute("n = 1\nopen('notes.txt', 'w').write('one')")
    key = kernel.snapshot()
    for _ in range(2):
        kernel.execute("n = 99\nopen('notes.txt', 'w').write('two')\nopen('new.txt', 'w')")
        kernel.restore(key)
        state = kernel.execute(
            "import os\n(n, open('notes.txt').read(), os.path.exists('new.txt'))"
        )
        assert state.result == "(1, 'one', False)"
    kernel.release(key)
    with pytest.raises(SandboxError, match="no snapshot"):
        kernel.restore(key)
    assert kernel.memory_kb() > 10_000  # pandas is loaded


def test_a_restore_sent_right_after_its_snapshot_resumes(kernel):
    # The snapshot's fork may not have run yet when the restore arrives; a restore written to
    # a FIFO nobody held open was lost, and the kernel gave up after 10 s (1 in 2 runs here).
    for n in range(15):
        kernel.execute(f"n = {n}")
        kernel.restore(kernel.snapshot())
        assert kernel.execute("n").result == str(n)


def test_the_kernel_reaches_neither_the_network_nor_the_hosts_files(kernel, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    probe = (
        "import os, socket\n"
        "def blocked(f):\n"
        "    try:\n        f()\n    except OSError:\n        return True\n    return False\n"
        f"(blocked(lambda: socket.create_connection(('1.1.1.1', 53), timeout=2)),"
        f" os.path.exists({str(secret)!r}), os.path.exists('/etc/shadow'), os.getuid())"
    )
    assert kernel.execute(probe).result == "(True, False, False, 1000)"
