"""Hostile actions against the bubblewrap sandbox: each one must fail or stay inside.

Every test is one attack, run through ``BubblewrapSandbox.exec`` (or, where the attack aims at
the host side, through ``read_file``/``write_file``/``snapshot``), and checks two things: the
attack's effect did not happen, and the host is as it was (a canary file outside the sandbox,
host folders, the host's environment, its processes, disk and memory), with the sandbox still
answering. ``sandboxes/README.md`` tabulates the attacks.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import ExecResult, SandboxLimits
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox

PY = sys.base_prefix
"""Bound read-only into every sandbox here, so attacks can use Python."""
LIMITS = SandboxLimits(
    timeout_s=5,
    memory_mb=512,
    workspace_mb=16,
    output_bytes=4000,
    processes=64,
    file_size_mb=64,
)
TAG = uuid.uuid4().hex[:12]
SECRET_NAME = "PRMGYM_ATTACK_HOST_SECRET"
SECRET = f"host-secret-{TAG}"
CANARY = f"host-canary-{TAG}"
PWNED = f"pwned-{TAG}"
"""The name of every file an attack tries to create outside the workspace."""
REPO = Path(__file__).resolve().parents[2]
HOST_TMP = Path(tempfile.gettempdir())
OWN_ARGV = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
"""This test process's command line, as a sandbox would print it if it could see it."""


def sleep_arg(k: int) -> str:
    """A sleep duration no other process on the host uses, to find it in the process table."""
    return f"{k}{int(TAG[:5], 16)}"


# -- host-side observers ---------------------------------------------------------------------


@dataclass
class Host:
    folder: Path
    """A host folder outside every sandbox, holding only the canary."""
    canary: Path
    seed: Path
    shadow: str
    passwd_sha: str
    hostname: str

    def assert_unchanged(self) -> None:
        """The canary, the seed and the host files an attack aims at are as they were."""
        assert self.canary.read_text() == CANARY
        assert [p.name for p in self.folder.iterdir()] == ["canary.txt"]
        assert [p.name for p in self.seed.iterdir()] == ["seed.txt"]
        assert (self.seed / "seed.txt").read_text() == "seed\n"
        assert sha256(Path("/etc/passwd")) == self.passwd_sha
        assert socket.gethostname() == self.hostname
        assert os.environ.get(SECRET_NAME) == SECRET
        targets = ["/", "/tmp", HOST_TMP, "/usr", "/usr/bin", "/etc", "/root", REPO]
        for folder in [*map(Path, targets), self.folder, self.seed]:
            made = [name for name in os.listdir(folder) if TAG in name]
            assert not made, f"an attack created {made} in the host's {folder}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def host_files_containing(needle: bytes) -> list[Path]:
    """Regular host files of every sandbox's host folder (logs, snapshots) holding ``needle``."""
    found = []
    for folder in HOST_TMP.glob("prmgym-sandbox-*"):
        for root, _, files in os.walk(folder):
            for name in files:
                path = Path(root, name)
                if path.is_symlink() or not path.is_file():
                    continue
                try:
                    if needle in path.read_bytes():
                        found.append(path)
                except OSError:
                    continue
    return found


def descendants() -> set[tuple[int, str]]:
    """This test process's descendants (pid, start time): its sandboxes and what they run.

    Other test runs may share the host, so only our own process tree is counted.
    """
    parents: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = (int(fields[1]), fields[19])
    me, found = os.getpid(), set()
    for pid, (parent, started) in parents.items():
        for _ in range(64):
            if parent == me:
                found.add((pid, started))
                break
            if parent not in parents:
                break
            parent = parents[parent][0]
    return found


def no_new_processes(before: set[tuple[int, str]]) -> None:
    """No process of ours appeared since ``before`` and stayed (waiting a moment for exits)."""
    deadline = time.monotonic() + 3
    while (new := descendants() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    described = []
    for pid, _ in new:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            described.append(f"{pid}: {argv[:80]}")
        except OSError:
            continue
    assert not described, f"processes left on the host: {described}"


def host_processes_running(*words: str) -> list[int]:
    """Host pids whose command line holds all ``words`` as arguments."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(word.encode() in argv for word in words):
            found.append(int(entry))
    return found


def wait_for_process(*words: str) -> list[int]:
    """The host pids running ``words`` once at least one is there (or [] after 5 s)."""
    deadline = time.monotonic() + 5
    while not (found := host_processes_running(*words)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def free_disk_mb(path: str | Path) -> float:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize / (1 << 20)


def watch_during(action: Callable[[], Any], probe: Callable[[], float]) -> tuple[Any, float]:
    """Run ``action`` while sampling ``probe``; returns its result and the largest sample."""
    peak = probe()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, probe())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return result, peak


def with_deadline(
    action: Callable[[], Any], seconds: float, unblock: Callable[[], None]
) -> tuple[bool, dict[str, Any]]:
    """Run a host-side call that an attack may block forever.

    Returns ``(hung, outcome)``: whether it was still running after ``seconds`` (then
    ``unblock`` releases it, so the test can clean up), and ``{"value": ...}`` or
    ``{"error": ...}``.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    hung = thread.is_alive()
    if hung:
        unblock()
        thread.join(30)
    return hung, outcome


def sandbox_path(box: BubblewrapSandbox, path: str) -> str:
    """The host's view of a path inside the sandbox (what the tests use to unblock a call)."""
    return f"/proc/{box._init_pid}/root{path}"


# -- in-sandbox helpers ------------------------------------------------------------------------


def answers(box: BubblewrapSandbox) -> ExecResult:
    """The sandbox still runs commands (maybe after saying it restarted)."""
    try:
        result = box.exec("echo ok", timeout=10)
    except SandboxError as exc:
        pytest.fail(f"the sandbox no longer runs commands: {exc}")
    assert result.stdout == "ok\n" and result.exit_code == 0, result
    return result


def python(box: BubblewrapSandbox, code: str, timeout: float | None = None) -> ExecResult:
    """Run a Python script inside the sandbox (written to the workspace first)."""
    name = f"attack_{uuid.uuid4().hex[:8]}.py"
    box.write_file(name, code.encode())
    return box.exec(f"python3 {name}", timeout=timeout)


def make_sandbox(host: Host, limits: SandboxLimits = LIMITS) -> BubblewrapSandbox:
    box = BubblewrapSandbox(host.seed, limits=limits, read_only=[PY], path=[f"{PY}/bin"])
    box.start()
    return box


def close_and_check(box: BubblewrapSandbox) -> None:
    """Close the sandbox; nothing of it may survive on the host."""
    namespace = box._pid_ns
    box.close()
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    left.append(entry)
            except OSError:
                continue
    assert not left, f"processes {left} survived close()"


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """The host-side targets; the host's environment holds a secret while the module runs."""
    folder = tmp_path_factory.mktemp("host")
    (folder / "canary.txt").write_text(CANARY)
    seed = tmp_path_factory.mktemp("seed")
    (seed / "seed.txt").write_text("seed\n")
    try:
        shadow = Path("/etc/shadow").read_text().splitlines()[0]
    except (OSError, IndexError):
        shadow = "root:"
    os.environ[SECRET_NAME] = SECRET
    try:
        yield Host(
            folder=folder,
            canary=folder / "canary.txt",
            seed=seed,
            shadow=shadow,
            passwd_sha=sha256(Path("/etc/passwd")),
            hostname=socket.gethostname(),
        )
    finally:
        os.environ.pop(SECRET_NAME, None)


@pytest.fixture(scope="module")
def box(host: Host) -> Iterator[BubblewrapSandbox]:
    """A sandbox shared by attacks that only probe (they leave it as it was)."""
    sandbox = make_sandbox(host)
    yield sandbox
    close_and_check(sandbox)


@pytest.fixture
def fresh(host: Host) -> Iterator[BubblewrapSandbox]:
    """A sandbox of its own, for attacks that break things."""
    sandbox = make_sandbox(host, replace(LIMITS, timeout_s=2))
    yield sandbox
    close_and_check(sandbox)
    host.assert_unchanged()


@pytest.fixture(scope="module")
def pair(host: Host) -> Iterator[tuple[BubblewrapSandbox, BubblewrapSandbox]]:
    """Two sandboxes side by side."""
    first, second = make_sandbox(host), make_sandbox(host)
    yield first, second
    close_and_check(first)
    close_and_check(second)


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


# -- network ---------------------------------------------------------------------------------


def test_internet_by_ip_is_unreachable(box: BubblewrapSandbox):
    result = python(
        box,
        """
import socket
for address in [("1.1.1.1", 80), ("8.8.8.8", 53)]:
    try:
        socket.create_connection(address, timeout=2).close()
        print("CONNECTED", address)
    except OSError as exc:
        print("refused", exc)
""",
    )
    assert "CONNECTED" not in result.stdout and result.stdout.count("refused") == 2
    bash = box.exec("exec 3<>/dev/tcp/1.1.1.1/80 && echo CONNECTED")
    assert "CONNECTED" not in bash.stdout


def test_a_server_on_the_hosts_loopback_is_unreachable(box: BubblewrapSandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        result = python(
            box,
            f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    print("CONNECTED")
except OSError as exc:
    print("refused", exc)
""",
        )
        assert "CONNECTED" not in result.stdout
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_names_do_not_resolve(box: BubblewrapSandbox):
    result = box.exec("cat /etc/resolv.conf; getent hosts example.com pypi.org && echo RESOLVED")
    assert "RESOLVED" not in result.stdout and "nameserver" not in result.stdout
    lookup = python(
        box,
        """
import socket
try:
    print("RESOLVED", socket.getaddrinfo("example.com", 80))
except OSError as exc:
    print("failed", exc)
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53))
    print("SENT")
except OSError as exc:
    print("failed", exc)
""",
    )
    assert "RESOLVED" not in lookup.stdout and "SENT" not in lookup.stdout


def test_an_abstract_unix_socket_of_the_host_is_unreachable(box: BubblewrapSandbox):
    server = socket.socket(socket.AF_UNIX)
    server.bind(f"\0prmgym-attack-{TAG}")
    server.listen()
    server.setblocking(False)
    try:
        result = python(
            box,
            f"""
import socket
try:
    socket.socket(socket.AF_UNIX).connect("\\0prmgym-attack-{TAG}")
    print("CONNECTED")
except OSError as exc:
    print("refused", exc)
""",
        )
        assert "CONNECTED" not in result.stdout and "refused" in result.stdout
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


# -- resources ---------------------------------------------------------------------------------


BOMBS = {
    "bash_fork_bomb": ":(){ :|:& };:",
    "bash_fork_bomb_in_a_subshell": "(:(){ :|:& };: &); echo started",
    "python_fork_loop_ignoring_errors": (
        "python3 -c 'import os\nwhile True:\n    try:\n        os.fork()\n"
        "    except OSError:\n        pass' >/dev/null 2>&1 &"
    ),
}


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


def test_a_command_sleeping_past_its_timeout_is_killed(fresh: BubblewrapSandbox):
    result = fresh.exec(f"sleep {sleep_arg(1)}", timeout=1)
    assert result.timed_out and result.exit_code == -1
    assert not host_processes_running("sleep", sleep_arg(1))
    answers(fresh)


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


KILLS = {
    "kill_9_the_keeper": "kill -9 $PPID; sleep 1",
    "kill_9_minus_1": "kill -9 -1; sleep 1",
    "kill_init": "kill -TERM 1; kill -KILL 1; kill -HUP 1; sleep 0.5",
    "kill_9_own_shell": "kill -9 $$",
    "exec_away_the_shell": "exec sleep 0",
}


@pytest.mark.parametrize("attack", list(KILLS))
def test_killing_the_sandboxes_own_processes_is_survived(host: Host, attack: str):
    before = descendants()
    box = make_sandbox(host)
    box.exec("echo kept > kept.txt")
    result = box.exec(KILLS[attack])
    if attack != "kill_init":
        assert result.restarted, result
    after = answers(box)
    assert not after.timed_out
    close_and_check(box)
    no_new_processes(before)
    host.assert_unchanged()


# -- ptrace ------------------------------------------------------------------------------------

PTRACE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for pid in map(int, sys.argv[1:]):
    if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
        print("ATTACHED", pid)
    else:
        print("refused", pid, os.strerror(ctypes.get_errno()))
"""


def tracer_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("TracerPid:")[1].split()[0])


@pytest.mark.parametrize("tool", ["ctypes", "strace", "gdb"])
def test_a_host_process_cannot_be_traced(box: BubblewrapSandbox, tool: str):
    pid = os.getpid()
    if tool == "ctypes":
        box.write_file("ptrace.py", PTRACE.encode())
        command = f"python3 ptrace.py {pid}"
    elif tool == "strace":
        command = f"timeout 2 strace -p {pid} -o /dev/null && echo ATTACHED"
    else:
        command = (
            f"timeout 5 gdb -batch -p {pid} -ex 'info proc' 2>&1 | grep -i 'pytest'"
            " && echo ATTACHED"
        )
    if tool != "ctypes" and not Path(f"/usr/bin/{tool}").exists():
        pytest.skip(f"no {tool} on this host")
    result = box.exec(command, timeout=10)
    assert "ATTACHED" not in result.stdout, result
    assert tracer_of(pid) == 0
    answers(box)


def test_another_sandboxes_processes_cannot_be_traced(pair):
    first, second = pair
    second.write_file("ptrace.py", PTRACE.encode())
    pids = first._sandbox_pids()
    result = second.exec("python3 ptrace.py " + " ".join(map(str, pids)))
    assert "ATTACHED" not in result.stdout and result.stdout.count("refused") == len(pids)
    assert all(tracer_of(pid) == 0 for pid in pids)
    answers(first)
    answers(second)


def test_the_sandbox_init_memory_holds_no_host_secret(box: BubblewrapSandbox):
    # pid 1 is bwrap itself, started by the host: its memory (read like a debugger would,
    # through /proc/1/mem) must not hold what the host's environment holds.
    result = python(
        box,
        f"""
fields = open("/proc/1/stat").read().rsplit(")", 1)[1].split()
start, end = int(fields[-3]), int(fields[-2])
with open("/proc/1/mem", "rb") as mem:
    mem.seek(start)
    print("LEAKED" if b"{SECRET}" in mem.read(end - start) else "clean")
""",
    )
    assert "LEAKED" not in result.stdout, "the host's environment is in the sandbox init's memory"
    answers(box)


# -- privileges ----------------------------------------------------------------------------------

PRIVILEGES = {
    "unshare_r_then_remount_usr": (
        "unshare -rm sh -c 'mount -o remount,rw,bind /usr; mount -o remount,rw /usr;"
        " touch /usr/{pwned} && echo ESCAPED; mount -t proc proc /proc && echo ESCAPED'"
    ),
    "nested_user_namespace_with_capabilities": (
        "unshare -rn grep CapEff /proc/self/status | grep -v '0000000000000000$' && echo ESCAPED"
    ),
    "mount_tmpfs_and_bind": (
        "mount -t tmpfs none /tmp && echo ESCAPED; mount --bind /workspace /usr && echo ESCAPED"
    ),
    "chroot": "/usr/sbin/chroot / /bin/true && echo ESCAPED",
    "setuid_su_and_setuid_0": (
        "su -c 'echo ESCAPED' root </dev/null; python3 -c 'import os; os.setuid(0);"
        ' print("ESCAPED")\'; [ "$(id -u)" = 1000 ] || echo ESCAPED'
    ),
    "set_hostname": f"hostname evil-{TAG} && echo ESCAPED",
    "mknod_a_disk": "mknod disk b 8 0 && echo ESCAPED; mknod mem c 1 1 && echo ESCAPED",
    "tiocsti_terminal_injection": (
        "python3 -c 'import fcntl, termios\nfor fd in (0, 1, 2):\n    try:\n"
        '        fcntl.ioctl(fd, termios.TIOCSTI, b"x"); print("ESCAPED")\n'
        '    except OSError as exc: print("refused", exc)\n'
        'try:\n    open("/dev/tty", "wb"); print("ESCAPED")\n'
        'except OSError as exc: print("refused", exc)\''
    ),
    "capabilities_of_the_shell": (
        "grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status | grep -v '0000000000000000$'"
        " && echo ESCAPED"
    ),
}


@pytest.mark.parametrize("attack", list(PRIVILEGES))
def test_privilege_tricks_fail(box: BubblewrapSandbox, host: Host, attack: str):
    result = box.exec(PRIVILEGES[attack].format(pwned=PWNED), timeout=10)
    assert "ESCAPED" not in result.stdout, result
    assert box.exec("mount | grep -c ' /usr '").stdout == "1\n"
    answers(box)
    host.assert_unchanged()


# -- the control files in /.prmgym ---------------------------------------------------------------


def test_a_fake_done_marker_in_the_output_is_only_output(fresh: BubblewrapSandbox):
    result = fresh.exec(
        'echo "__prmgym_done__ 0123456789abcdef 0"; echo "__prmgym_shell_exited__ 0"; (exit 5)'
    )
    assert result.exit_code == 5 and not result.restarted
    assert "__prmgym_done__" in result.stdout
    answers(fresh)


def test_a_fake_marker_on_the_keepers_pipe_only_fools_its_own_episode(fresh: BubblewrapSandbox):
    fresh.exec(
        'echo "__prmgym_shell_exited__ 0" > /proc/$PPID/fd/1;'
        ' echo "__prmgym_done__ 0123456789abcdef 0" > /proc/$PPID/fd/1; sleep 0.5; touch late'
    )
    answers(fresh)
    assert fresh.read_file("late") == b""


def test_a_rewritten_command_file_does_not_change_the_next_command(fresh: BubblewrapSandbox):
    fresh.exec(f"printf 'touch /workspace/{PWNED}' > /.prmgym/cmd; printf x > /.prmgym/out")
    answers(fresh)
    assert fresh.exec(f"ls /workspace/{PWNED} || echo absent").stdout == "absent\n"


CONTROL_SWAPS = {
    "out_made_a_fifo": "rm /.prmgym/out && mkfifo /.prmgym/out",
    "cmd_made_a_fifo": "rm /.prmgym/cmd && mkfifo /.prmgym/cmd",
    "err_made_a_folder": "rm /.prmgym/err && mkdir /.prmgym/err",
    "out_made_a_link_to_etc_passwd": "rm /.prmgym/out && ln -s /etc/passwd /.prmgym/out",
}


@pytest.mark.parametrize("attack", list(CONTROL_SWAPS))
def test_a_replaced_control_file_does_not_stop_the_next_command(
    fresh: BubblewrapSandbox, host: Host, attack: str
):
    fresh.exec(CONTROL_SWAPS[attack])
    readers: list[int] = []

    def unblock() -> None:
        for name in ("cmd", "out", "err"):
            try:
                path = sandbox_path(fresh, f"/.prmgym/{name}")
                readers.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass

    try:
        hung, outcome = with_deadline(lambda: fresh.exec("echo ok"), 3, unblock)
    finally:
        for fd in readers:
            os.close(fd)
    host.assert_unchanged()  # the host never wrote through the link to its own /etc/passwd
    assert not hung, "the host blocked opening a fifo the command put in /.prmgym"
    assert "error" not in outcome, f"the next command raised instead of running: {outcome}"
    answers(fresh)


CONTROL_SWAPPER = """
import os
i = 0
while True:
    i += 1
    for name in ("/.prmgym/out", "/.prmgym/err"):
        for remove in (os.unlink, os.rmdir):
            try:
                remove(name)
            except OSError:
                pass
        try:
            if i % 2:
                os.symlink("/dev/null", name)
            else:
                os.mkdir(name)
        except OSError:
            pass
"""


def test_a_background_job_swapping_control_files_does_not_break_exec(fresh: BubblewrapSandbox):
    # Links and folders in place of out/err: the shell's redirections never block, so the job
    # outlives every command and races the host's own replacing of the files.
    fresh.write_file("swapper.py", CONTROL_SWAPPER.encode())
    fresh.exec("(python3 swapper.py >/dev/null 2>&1 &); sleep 0.3")
    failures: list[str] = []
    calls = 0

    def run_many() -> None:
        nonlocal calls
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not failures:
            calls += 1
            try:
                fresh.exec("echo ok")
            except Exception as exc:  # noqa: BLE001 - what the attack makes exec raise
                failures.append(f"{type(exc).__name__}: {exc}")

    hung, _ = with_deadline(run_many, 60, fresh._kill_all_but_keeper)
    assert not hung, "exec blocked the host on something in /.prmgym"
    assert not failures, f"exec() #{calls} raised {failures[0]}"
    fresh._kill_all_but_keeper()
    answers(fresh)


DIR_SWAPPER = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for i in range(8):
    os.mkdir(f"d{i}")
    with open(f"d{i}/f", "w") as f:
        f.write("x")
    os.symlink("/etc", f"l{i}")
pairs = [(f"d{i}".encode(), f"l{i}".encode()) for i in range(8)]
while True:
    for a, b in pairs:
        libc.renameat2(-100, a, -100, b, 2)  # RENAME_EXCHANGE: a folder and a link trade names
"""


def test_snapshot_while_folders_turn_into_links(fresh: BubblewrapSandbox):
    fresh.write_file("swap.py", DIR_SWAPPER.encode())
    fresh.exec("(python3 swap.py >/dev/null 2>&1 &); sleep 0.3")
    outcomes: list[str] = []
    for _ in range(30):
        try:
            fresh.snapshot()
            outcomes.append("token")
        except SandboxError:
            outcomes.append("SandboxError")
        except OSError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
    fresh._kill_all_but_keeper()
    assert fresh._host is not None
    copied = [p for p in fresh._host.rglob("*") if p.name in ("passwd", "ssl", "ld.so.cache")]
    assert not [p for p in copied if "snapshot-" in str(p)], "a snapshot followed a link"
    others = [o for o in outcomes if o not in ("token", "SandboxError")]
    assert not others, f"{len(others)} of 30 snapshots raised {others[:3]}"


# -- two sandboxes -------------------------------------------------------------------------------


def test_sandboxes_cannot_see_each_others_files(pair):
    first, second = pair
    first.exec(f"touch /workspace/{PWNED} /tmp/{PWNED} /dev/shm/{PWNED}")
    result = second.exec(
        f"ls /workspace /tmp /dev/shm /proc/*/root/workspace 2>/dev/null | grep {PWNED};"
        f" touch /workspace/{PWNED}-second"
    )
    assert PWNED not in result.stdout
    listing = first.exec("ls /workspace").stdout.split()
    assert PWNED in listing and f"{PWNED}-second" not in listing


def test_sandboxes_cannot_see_or_signal_each_others_processes(pair):
    first, second = pair
    first.exec(f"sleep {sleep_arg(7)} >/dev/null 2>&1 &")
    victims = wait_for_process("sleep", sleep_arg(7))
    assert len(victims) == 1
    result = second.exec(
        f"ps -eo args | grep -c 'sleep {sleep_arg(7)}$'; kill -9 {victims[0]} && echo KILLED"
    )
    assert result.stdout.startswith("0\n") and "KILLED" not in result.stdout
    assert host_processes_running("sleep", sleep_arg(7)) == victims
    first.exec("kill %1")


def test_sandboxes_cannot_reach_each_others_abstract_sockets(pair):
    first, second = pair
    name = f"\\0prmgym-pair-{TAG}"
    listener = f"""
import socket, time
server = socket.socket(socket.AF_UNIX)
server.bind("{name}")
server.listen()
print("listening", flush=True)
time.sleep(30)
"""
    first.write_file("listen.py", listener.encode())
    first.exec("python3 listen.py > listen.log 2>&1 &")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if b"listening" in first.read_file("listen.log"):
                break
        except SandboxError:
            pass  # the shell has not made the file yet
        time.sleep(0.05)
    connect = f"""
import socket
try:
    socket.socket(socket.AF_UNIX).connect("{name}")
    print("CONNECTED")
except OSError as exc:
    print("refused", exc)
"""
    assert "CONNECTED" in python(first, connect).stdout  # the socket is there...
    assert "CONNECTED" not in python(second, connect).stdout  # ...but not for the other one
    first.exec("kill %1")
