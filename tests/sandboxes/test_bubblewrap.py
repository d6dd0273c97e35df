"""The bubblewrap sandbox keeps the contract (hostile actions: test_attacks_*.py)."""

import os
import signal
import time

import pytest

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import Sandbox, SandboxLimits
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox


def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


LIMITS = SandboxLimits(timeout_s=5, workspace_mb=64, output_bytes=1000)


@pytest.fixture
def seed(tmp_path):
    folder = tmp_path / "seed"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "mod.py").write_text("X = 1\n")
    (folder / "run.sh").write_text("echo ran\n")
    (folder / "run.sh").chmod(0o755)
    return folder


@pytest.fixture
def sandbox(seed):
    with BubblewrapSandbox(seed, limits=LIMITS) as box:
        yield box


def test_it_is_a_sandbox_that_starts_with_the_seed_and_keeps_it_unchanged(sandbox, seed):
    assert isinstance(sandbox, Sandbox)
    result = sandbox.exec("cat pkg/mod.py && ./run.sh && pwd && id -un")
    assert result.exit_code == 0 and not result.restarted
    assert result.stdout == "X = 1\nran\n/workspace\nagent\n"
    sandbox.exec("echo 'X = 2' > pkg/mod.py && rm run.sh")
    assert (seed / "pkg" / "mod.py").read_text() == "X = 1\n" and (seed / "run.sh").exists()


def test_the_shell_session_persists_between_commands(sandbox):
    sandbox.exec("mkdir -p deep/er && cd deep/er && export GREETING=hi && alias ll='ls -l'")
    result = sandbox.exec("pwd; echo $GREETING")
    assert result.stdout == "/workspace/deep/er\nhi\n"


def test_exit_status_stderr_and_an_empty_stdin(sandbox):
    result = sandbox.exec("echo out; echo err >&2; cat; exit_code() { return 7; }; exit_code")
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_any_text_runs_as_written_and_a_syntax_error_is_the_commands_failure(sandbox):
    script = "cat <<'EOF'\nquote ' and \"double\"\n$NOT_EXPANDED\nEOF"
    assert sandbox.exec(script).stdout == 'quote \' and "double"\n$NOT_EXPANDED\n'
    broken = sandbox.exec("echo 'unterminated")
    assert broken.exit_code == 2 and "unexpected EOF" in broken.stderr
    assert sandbox.exec("echo fine").stdout == "fine\n"


def test_a_command_that_ends_the_shell_gets_a_new_one_and_keeps_the_files(sandbox):
    sandbox.exec("cd pkg && export KEPT=1 && touch made.txt")
    ended = sandbox.exec("exit 3")
    assert ended.exit_code == 3 and "a new shell started" in ended.restarted
    after = sandbox.exec('pwd; echo "[$KEPT]"; ls pkg')
    assert after.stdout == "/workspace\n[]\nmade.txt\nmod.py\n"
    assert sandbox.restarts == 1


@pytest.mark.slow
def test_a_hung_command_is_killed_at_its_timeout_with_what_it_started(sandbox):
    result = sandbox.exec("cd pkg; echo started; (sleep 300 &); sleep 300", timeout=1)
    assert result.timed_out and result.exit_code == -1
    # What it printed before the kill is kept.
    assert "timeout" in result.restarted and result.stdout == "started\n"
    after = sandbox.exec("pwd; ps -eo comm | grep -c sleep")
    assert after.stdout == "/workspace\n0\n"


def test_long_output_is_cut_and_says_so(sandbox):
    result = sandbox.exec("seq 1 100000")
    assert result.truncated and len(result.stdout) == LIMITS.output_bytes
    assert result.stdout.startswith("1\n2\n3\n")
    assert not sandbox.exec("echo short").truncated


def test_files_round_trip_and_folders_are_made(sandbox):
    sandbox.write_file("new/dir/f.bin", b"\x00\xff data")
    assert sandbox.read_file("/workspace/new/dir/f.bin") == b"\x00\xff data"
    assert sandbox.exec("cat new/dir/f.bin | wc -c").stdout.strip() == "7"
    assert sandbox.read_file("pkg/mod.py") == b"X = 1\n"


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside", "/workspace"])
def test_file_paths_outside_the_workspace_are_refused(sandbox, path):
    with pytest.raises(SandboxError):
        sandbox.read_file(path)


def test_a_missing_file_says_so(sandbox):
    with pytest.raises(SandboxError, match="cannot read 'nope.txt'"):
        sandbox.read_file("nope.txt")


def test_snapshot_and_restore_bring_the_workspace_back_and_a_fresh_shell(sandbox):
    sandbox.exec("echo v1 > state.txt && ln -s state.txt link && mkdir -p d && touch d/x")
    token = sandbox.snapshot()
    sandbox.exec("echo v2 > state.txt && rm -r d link && touch extra && cd pkg")
    sandbox.restore(token)
    listing = sandbox.exec("pwd; cat state.txt link; ls -A | sort | tr '\\n' ' '")
    assert listing.stdout == "/workspace\nv1\nv1\nd link pkg run.sh state.txt "
    assert sandbox.read_file("state.txt") == b"v1\n"
    with pytest.raises(SandboxError, match="no snapshot"):
        sandbox.restore("snapshot-99")


@pytest.mark.slow
def test_a_dead_sandbox_is_rebuilt_from_its_seed_and_the_result_says_so(sandbox):
    sandbox.exec("echo changed > pkg/mod.py")
    os.kill(sandbox._keeper_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while running(sandbox._keeper_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    result = sandbox.exec("cat pkg/mod.py")
    assert "rebuilt from its seed" in result.restarted
    assert result.stdout == "X = 1\n" and result.exit_code == 0


def test_close_kills_everything_and_twice_is_fine(seed):
    box = BubblewrapSandbox(seed, limits=LIMITS)
    box.start()
    box.exec("(sleep 300 &)")
    pids = box._sandbox_pids()
    assert len(pids) >= 3
    box.close()
    box.close()
    assert not [p for p in pids if running(p)]


def test_the_limits_it_enforces_are_listed(sandbox):
    assert {"timeout", "cpu", "memory", "file_size", "workspace", "output"} <= set(sandbox.enforced)


def test_use_before_start_and_a_missing_binary_say_how_to_fix(seed, monkeypatch):
    with pytest.raises(SandboxError, match="start"):
        BubblewrapSandbox(seed).exec("true")
    monkeypatch.setenv("PRMGYM_BWRAP", "/nonexistent/bwrap")
    with pytest.raises(SandboxError, match="bubblewrap failed to start"):
        BubblewrapSandbox(seed).start()


def test_the_agents_shell_settings_do_not_break_the_protocol(sandbox):
    sandbox.exec("set -o noclobber; echo() { builtin printf 'x'; }; PATH=/nowhere")
    result = sandbox.exec("printf 'still %s' works")
    assert (result.exit_code, result.stdout) == (0, "still works")


@pytest.mark.slow
def test_a_shell_killed_between_commands_does_not_swallow_the_next_one(sandbox):
    sandbox.exec("(sleep 0.2; kill -9 $$) &")
    # Well after the kill: a death in the instant a command is sent is a known race.
    time.sleep(1.0)
    result = sandbox.exec("echo ran > proof.txt; cat proof.txt")
    assert result.stdout == "ran\n" and "shell had ended" in result.restarted
