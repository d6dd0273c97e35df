"""Attacks on the host's files: its secrets, writes, links, fifos, devices and ``/proc/sys``.

Reading the host's secrets, writing outside the workspace, following links (inside commands and
through the host-side file API and snapshots), blocking the host on fifos and devices, and
writing the host-wide settings in ``/proc/sys``.
Shared helpers: attack_helpers.py; fixtures: conftest.py; ``sandboxes/README.md`` tabulates the
attacks.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from prmgym.errors import SandboxError
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from tests.sandboxes.attack_helpers import (
    CANARY,
    HOST_TMP,
    OWN_ARGV,
    PWNED,
    REPO,
    SECRET,
    SECRET_NAME,
    TAG,
    Host,
    answers,
    host_files_containing,
    sandbox_path,
    with_deadline,
)

# -- reading the host's secrets ----------------------------------------------------------------

READS = {
    "etc_shadow": ("cat /etc/shadow; ls /etc", lambda h: [h.shadow, "shadow", "hostname"]),
    "root_home": (
        "ls -A /root; cat /root/.bashrc /root/.profile",
        lambda h: [n for n in os.listdir("/root") if n != ".pyenv"],
    ),
    "home_folders": (
        "ls -A /home",
        lambda h: os.listdir("/home") if os.path.isdir("/home") else [],
    ),
    "canary_by_absolute_path": ("cat {canary}; ls {folder}", lambda h: [CANARY, "canary.txt"]),
    "repo_at_work": (
        "ls -A {repo}; cat {repo}/pyproject.toml",
        lambda h: ["pyproject.toml", (REPO / "pyproject.toml").read_text()[:40]],
    ),
    "host_env_in_the_shell": (
        "env; cat /proc/self/environ; echo ${secret_name}",
        lambda h: [SECRET],
    ),
    "host_env_via_proc_environ": (
        "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done",
        lambda h: [SECRET],
    ),
    "proc_1_root": (
        "ls -A /proc/1/root/; cat /proc/1/root/etc/shadow /proc/1/root{canary}",
        lambda h: [h.shadow, CANARY, "shadow"],
    ),
    "proc_self_root": ("cat /proc/self/root{canary}; ls /proc/self/root{repo}", lambda h: [CANARY]),
    "proc_of_a_host_pid": (
        "cat /proc/{host_pid}/environ /proc/{host_pid}/cmdline;"
        " for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done",
        lambda h: [SECRET, OWN_ARGV],
    ),
    "root_only_kernel_info_in_proc": (
        "head -n 2 /proc/slabinfo /proc/timer_list /proc/pagetypeinfo",
        lambda h: ["slabinfo - version", "Timer List Version", "Page block order"],
    ),
    "sys_and_cgroup_files": (
        "ls /sys/fs/cgroup && echo SYS-VISIBLE; echo $$ > /sys/fs/cgroup/pids/cgroup.procs"
        " && echo MOVED",
        lambda h: ["SYS-VISIBLE", "MOVED"],
    ),
}


@pytest.mark.parametrize("attack", list(READS))
def test_host_secrets_and_files_cannot_be_read(box: BubblewrapSandbox, host: Host, attack: str):
    template, forbidden = READS[attack]
    command = template.format(
        canary=host.canary,
        folder=host.folder,
        repo=REPO,
        host_pid=os.getpid(),
        secret_name=SECRET_NAME,
    )
    result = box.exec(command)
    leaked = [text for text in forbidden(host) if text and text in result.stdout]
    assert not leaked, f"{attack} read {leaked} from the host:\n{result.stdout[:2000]}"
    answers(box)
    host.assert_unchanged()


# -- writing outside the workspace -------------------------------------------------------------

WRITES = {
    "usr": "touch /usr/{pwned} /usr/bin/{pwned}",
    "etc_passwd": "echo 'evil::0:0::/:/bin/sh' >> /etc/passwd; touch /etc/{pwned}",
    "filesystem_root": "touch /{pwned} /root/{pwned}",
    "host_tmp": "touch /tmp/{pwned} {tmpdir}/{pwned}",
    "canary_by_absolute_path": "echo {pwned} > {canary}; rm -f {canary}; touch {folder}/{pwned}",
    "seed_folder": "echo {pwned} > /.prmgym/seed/seed.txt; touch /.prmgym/seed/{pwned}",
    "repo_at_work": "mkdir -p {repo} && touch {repo}/{pwned}",
    "host_log_via_proc_1_fd_2": "echo {pwned} > /proc/1/fd/2; echo {pwned} >> /proc/$PPID/fd/2",
}


@pytest.mark.parametrize("attack", list(WRITES))
def test_writes_outside_the_workspace_never_reach_the_host(
    box: BubblewrapSandbox, host: Host, attack: str
):
    command = WRITES[attack].format(
        pwned=PWNED, tmpdir=HOST_TMP, canary=host.canary, folder=host.folder, repo=REPO
    )
    box.exec(command)
    host.assert_unchanged()
    written = host_files_containing(PWNED.encode())
    assert not written, f"{attack} wrote into host files {written}"
    answers(box)


# -- symbolic links, fifos and devices ---------------------------------------------------------


def test_links_inside_the_sandbox_resolve_inside_it(box: BubblewrapSandbox, host: Host):
    result = box.exec(
        f"ln -sfn {host.canary} l1; ln -sfn / l2; ln -sfn /proc/1/root l3; cat l1 l2{host.canary}"
        f" l3{host.canary} l2/etc/shadow; ln /usr/bin/env hardlink && echo LINKED; rm -f l1 l2 l3"
    )
    assert CANARY not in result.stdout and host.shadow not in result.stdout
    assert "LINKED" not in result.stdout  # a hard link across mounts is refused
    answers(box)
    host.assert_unchanged()


@pytest.mark.parametrize(
    "target",
    ["{canary}", "/etc/passwd", "../../../../etc/passwd", "/proc/self/root{canary}"],
    ids=["canary_by_absolute_path", "etc_passwd", "relative_climb", "proc_self_root"],
)
def test_read_file_never_follows_a_link(box: BubblewrapSandbox, host: Host, target: str):
    box.exec(f"ln -sfn {target.format(canary=host.canary)} leak.txt")
    with pytest.raises(SandboxError):
        box.read_file("leak.txt")
    box.exec("rm leak.txt")
    host.assert_unchanged()


@pytest.mark.parametrize(
    "target",
    ["{canary}", "{folder}/{pwned}", "/etc/passwd"],
    ids=["canary_by_absolute_path", "new_file_in_a_host_folder", "etc_passwd"],
)
def test_write_file_never_follows_a_link(box: BubblewrapSandbox, host: Host, target: str):
    box.exec(f"ln -sfn {target.format(canary=host.canary, folder=host.folder, pwned=PWNED)} out")
    with pytest.raises(SandboxError):
        box.write_file("out", PWNED.encode())
    box.exec("rm out")
    host.assert_unchanged()


def test_a_folder_swapped_for_a_link_is_not_followed(box: BubblewrapSandbox, host: Host):
    box.write_file("swapped/a.txt", b"a")
    box.exec(f"rm -r swapped && ln -s {host.folder} swapped")
    with pytest.raises(SandboxError):
        box.read_file("swapped/canary.txt")
    with pytest.raises(SandboxError):
        box.write_file(f"/workspace/swapped/{PWNED}", b"x")
    with pytest.raises(SandboxError):
        box.write_file("swapped/canary.txt", PWNED.encode())
    box.exec("rm swapped")
    host.assert_unchanged()


def test_snapshot_and_restore_keep_links_as_links(fresh: BubblewrapSandbox, host: Host):
    fresh.exec(f"ln -s {host.canary} snaplink; ln -s / rootlink; echo kept > kept.txt")
    token = fresh.snapshot()
    fresh.exec("rm -f snaplink rootlink kept.txt")
    fresh.restore(token)
    assert fresh.read_file("kept.txt") == b"kept\n"
    with pytest.raises(SandboxError):
        fresh.read_file("snaplink")
    result = fresh.exec("cat snaplink rootlink/etc/shadow; readlink snaplink")
    assert CANARY not in result.stdout and result.stdout.endswith(f"{host.canary}\n")
    assert not host_files_containing(CANARY.encode()), "a snapshot copied the canary's bytes"


def test_read_file_of_a_fifo_or_device_returns_at_once(fresh: BubblewrapSandbox):
    fresh.exec("mkfifo pipe; ln -s /dev/zero zero; mknod dev c 1 5 && echo MADE")
    for name in ("pipe", "zero", "dev"):
        hung, outcome = with_deadline(lambda n=name: fresh.read_file(n), 3, lambda: None)
        assert not hung and isinstance(outcome.get("error"), SandboxError), (name, outcome)
    answers(fresh)


def test_write_file_onto_a_fifo_returns_at_once(fresh: BubblewrapSandbox):
    fresh.exec("mkfifo pipe")
    readers: list[int] = []

    def unblock() -> None:
        readers.append(os.open(sandbox_path(fresh, "/workspace/pipe"), os.O_RDONLY | os.O_NONBLOCK))

    try:
        hung, outcome = with_deadline(lambda: fresh.write_file("pipe", b"data"), 3, unblock)
    finally:
        for fd in readers:
            os.close(fd)
    assert not hung, (
        "write_file() on a fifo the sandbox made blocked the host until something read it"
    )
    answers(fresh)


SWAPPER = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for i in range(8):
    with open(f"a{i}", "w") as f:
        f.write("data")
    os.mkfifo(f"b{i}")
names = [(f"a{i}".encode(), f"b{i}".encode()) for i in range(8)]
while True:
    for a, b in names:
        libc.renameat2(-100, a, -100, b, 2)  # RENAME_EXCHANGE: a file and a fifo trade names
"""


def test_snapshot_while_files_turn_into_fifos_returns(fresh: BubblewrapSandbox):
    fresh.write_file("swap.py", SWAPPER.encode())
    fresh.exec("(python3 swap.py >/dev/null 2>&1 &); sleep 0.3")

    def unblock() -> None:
        fresh._kill_all_but_keeper()
        for i in range(8):
            for name in (f"a{i}", f"b{i}"):
                try:
                    path = sandbox_path(fresh, f"/workspace/{name}")
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass

    for attempt in range(30):
        hung, outcome = with_deadline(fresh.snapshot, 3, unblock)
        assert not hung, (
            f"snapshot() #{attempt + 1} blocked the host: a file was a regular file when "
            "stat()ed and a fifo when opened"
        )
        error = outcome.get("error")
        assert error is None or isinstance(error, SandboxError), repr(error)


# -- /proc and kernel settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    "setting", ["kernel/core_pattern", "vm/overcommit_memory", "kernel/hostname"]
)
def test_proc_sys_settings_of_the_host_cannot_be_written(
    box: BubblewrapSandbox, host: Host, setting: str
):
    path = Path("/proc/sys") / setting
    value = path.read_text().rstrip("\n")
    # Writing back the host's own value: refused is right; accepted changes nothing, but shows
    # the sandbox could write any other value (core_pattern runs a program as host root).
    written = value if setting != "kernel/hostname" else f"evil-{TAG}"
    result = box.exec(f"printf '%s\\n' {shlex.quote(written)} > {path} && echo WROTE")
    assert path.read_text().rstrip("\n") == value
    host.assert_unchanged()
    if setting == "kernel/hostname":
        # The sandbox has a UTS namespace of its own: whatever it does stays in it.
        box.exec("echo sandbox > /proc/sys/kernel/hostname")
    else:
        assert "WROTE" not in result.stdout, (
            f"the sandbox wrote the host-wide /proc/sys/{setting} (its uid is the host's root)"
        )
    answers(box)
