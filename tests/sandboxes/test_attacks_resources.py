"""Resource attacks: fork bombs, memory, disk, file size, output floods and timeouts.

Shared helpers: attack_helpers.py; fixtures: conftest.py; ``sandboxes/README.md`` tabulates the
attacks.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from tests.sandboxes.attack_helpers import (
    HOST_TMP,
    LIMITS,
    Host,
    answers,
    close_and_check,
    descendants,
    free_disk_mb,
    host_processes_running,
    make_sandbox,
    no_new_processes,
    python,
    rss_mb,
    sleep_arg,
    wait_for_process,
    watch_during,
)

# -- resources ---------------------------------------------------------------------------------


BOMBS = {
    "bash_fork_bomb": ":(){ :|:& };:",
    "bash_fork_bomb_in_a_subshell": "(:(){ :|:& };: &); echo started",
    "python_fork_loop_ignoring_errors": (
        "python3 -c 'import os\nwhile True:\n    try:\n        os.fork()\n"
        "    except OSError:\n        pass' >/dev/null 2>&1 &"
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(BOMBS))
def test_a_fork_bomb_is_capped_and_cleared(host: Host, attack: str):
    before = descendants()
    box = make_sandbox(host, replace(LIMITS, timeout_s=3))
    box.exec(BOMBS[attack])
    time.sleep(1)
    assert len(box._sandbox_pids()) <= LIMITS.processes  # the cap holds
    first = box.exec("/bin/echo ok")
    # The next command runs, or says the sandbox was restarted (the bomb killed) on the way.
    assert first.stdout == "ok\n" or first.restarted, first
    answers(box)
    close_and_check(box)
    no_new_processes(before)
    host.assert_unchanged()


def test_a_4_gb_allocation_fails(box: BubblewrapSandbox):
    result = python(box, "b = bytearray(4 << 30)\nb[::4096] = b'x' * len(b[::4096])\nprint('GOT')")
    assert "GOT" not in result.stdout and "MemoryError" in result.stderr
    answers(box)


@pytest.mark.slow
def test_many_processes_together_cannot_pass_the_memory_cap(host: Host):
    limits = replace(LIMITS, memory_mb=256, timeout_s=20)
    box = make_sandbox(host, limits)
    try:
        if box._cgroups is None or "memory" not in box._cgroups.enforced:
            pytest.skip("no writable memory cgroup on this host: rlimits only")
        script = "import time; b = b'x' * (200 << 20); time.sleep(1); print('survived')"
        box.write_file("hog.py", script.encode())
        result = box.exec("for i in 1 2 3 4; do python3 hog.py & done; wait")
        # 4 x 200 MB is over the cgroup's memory_mb + workspace_mb + 256 MB: some are killed.
        assert result.stdout.count("survived") < 4, result
        answers(box)
    finally:
        close_and_check(box)


def test_disk_fill_stops_at_the_tmpfs_sizes(host: Host):
    limits = replace(LIMITS, file_size_mb=512, timeout_s=20)
    box = make_sandbox(host, limits)
    free = free_disk_mb(HOST_TMP), free_disk_mb("/")
    try:
        result = box.exec(
            "for d in /workspace /tmp /.prmgym; do"
            " dd if=/dev/zero of=$d/fill bs=1M count=200 2>/dev/null; stat -c %s $d/fill; done"
        )
        workspace, tmp, control = (int(n) >> 20 for n in result.stdout.split())
        assert workspace <= limits.workspace_mb and tmp <= 64 and control <= 5, result.stdout
        assert free_disk_mb(HOST_TMP) > free[0] - 16 and free_disk_mb("/") > free[1] - 16
        box.exec("rm -f /workspace/fill /tmp/fill /.prmgym/fill")
        answers(box)
    finally:
        close_and_check(box)


def test_disk_fill_outside_the_sized_mounts_is_capped(host: Host):
    limits = replace(LIMITS, file_size_mb=64, timeout_s=20)
    box = make_sandbox(host, limits)
    try:
        result = box.exec(
            "for d in / /etc /root /dev /dev/shm; do for i in 1 2; do"
            " dd if=/dev/zero of=$d/fill-$i bs=1M count=40 2>/dev/null; done;"
            " echo $d $(cat $d/fill-* 2>/dev/null | wc -c); done"
        )
        stored = {
            line.split()[0]: int(line.split()[1]) >> 20 for line in result.stdout.splitlines()
        }
        # 80 MB each: more than any sized mount here (/tmp has 64 MB, the workspace 16).
        over = {d: mb for d, mb in stored.items() if mb > 64}
        assert not over, f"wrote {over} MB outside /workspace, /tmp and /.prmgym: unsized tmpfs"
    finally:
        close_and_check(box)
        host.assert_unchanged()


def test_the_file_size_limit_holds(host: Host):
    box = make_sandbox(host, replace(LIMITS, file_size_mb=8))
    try:
        result = box.exec(
            "dd if=/dev/zero of=big bs=1M count=50 2>/dev/null; stat -c %s big;"
            " truncate -s 1G sparse && echo TRUNCATED"
        )
        assert int(result.stdout.split()[0]) <= 8 << 20
        assert "TRUNCATED" not in result.stdout and "File size limit exceeded" in result.stderr
        answers(box)
    finally:
        close_and_check(box)


@pytest.mark.parametrize(
    "command",
    ["yes", "head -c 50000000 /dev/zero | tr '\\0' x", "yes >&2", "yes & yes >&2 & wait"],
    ids=["yes", "one_giant_line", "yes_on_stderr", "both_streams"],
)
def test_an_output_flood_is_cut_and_the_host_keeps_its_memory(fresh: BubblewrapSandbox, command):
    start = rss_mb()
    result, peak = watch_during(lambda: fresh.exec(command), rss_mb)
    assert result.truncated
    assert len(result.stdout) <= LIMITS.output_bytes and len(result.stderr) <= LIMITS.output_bytes
    assert peak - start < 32, f"the host grew by {peak - start:.0f} MB"
    answers(fresh)


@pytest.mark.integration
def test_a_flood_on_the_keepers_own_stdout_keeps_the_host_buffer_small(fresh: BubblewrapSandbox):
    # The keeper's stdout is the pipe the host reads markers from; the command can reopen it.
    start = rss_mb()
    _, peak_buffer = watch_during(
        lambda: fresh.exec("cat /dev/zero > /proc/$PPID/fd/1"), lambda: len(fresh._buffer)
    )
    grown = rss_mb() - start
    answers(fresh)
    assert peak_buffer <= 2 << 20, (
        f"the host buffered {peak_buffer >> 20} MB of a line without newline from the keeper's"
        " pipe (the intended cap is 1 MiB)"
    )
    assert grown < 32


# -- timeouts and processes left behind -------------------------------------------------------


@pytest.mark.slow
def test_a_command_sleeping_past_its_timeout_is_killed(fresh: BubblewrapSandbox):
    result = fresh.exec(f"sleep {sleep_arg(1)}", timeout=1)
    assert result.timed_out and result.exit_code == -1
    assert not host_processes_running("sleep", sleep_arg(1))
    answers(fresh)


@pytest.mark.slow
def test_the_timeout_kills_what_the_command_started(fresh: BubblewrapSandbox):
    result = fresh.exec(
        f"sleep {sleep_arg(2)} & setsid sleep {sleep_arg(3)} & (nohup sleep {sleep_arg(4)} &);"
        f" disown -a; sleep {sleep_arg(5)}",
        timeout=1,
    )
    assert result.timed_out
    for k in (2, 3, 4, 5):
        assert not host_processes_running("sleep", sleep_arg(k)), f"sleep #{k} survived"
    answers(fresh)


def test_a_daemon_outlives_its_command_but_not_close(host: Host):
    box = make_sandbox(host)
    result = box.exec(f"setsid nohup sleep {sleep_arg(6)} >/dev/null 2>&1 & echo started")
    assert result.stdout == "started\n" and not result.timed_out
    assert wait_for_process("sleep", sleep_arg(6))  # background jobs are allowed
    close_and_check(box)
    assert not host_processes_running("sleep", sleep_arg(6))
