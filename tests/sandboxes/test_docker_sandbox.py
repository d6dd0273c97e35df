"""The Docker sandbox keeps the contract.

No engine runs in CI, so the behaviour tests use a fake Docker client whose container is a real
bash running the sandbox's own keeper script, with temp folders standing in for /workspace and
/.prmgym: the protocol (frames, nonces, markers, timeouts, restarts, truncation, the helper
scripts) runs for real and only Docker's transport and namespaces are imitated. The one test
against a real engine is marked ``integration`` and skips where none answers. The container's
configuration, the frames and the scripts are checked without an engine in test_docker_config.py.
"""

import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker
import pytest
from docker.models.containers import ExecResult as DockerExecResult
from docker.models.containers import _create_container_args

from prmgym.errors import SandboxError
from prmgym.sandboxes import docker_config
from prmgym.sandboxes.base import Sandbox, SandboxLimits
from prmgym.sandboxes.docker_config import container_config
from prmgym.sandboxes.docker_sandbox import DockerSandbox

LIMITS = SandboxLimits(timeout_s=5, workspace_mb=64, output_bytes=1000)
# Run as root, the fake's processes take the container's user, so permissions bite as there.
AS_AGENT = {"user": 1000, "group": 1000, "extra_groups": []} if os.geteuid() == 0 else {}
AGENT_UID = 1000 if AS_AGENT else os.geteuid()


def frame(kind, payload):
    return struct.pack(">BxxxL", kind, len(payload)) + payload


def session_members(session):
    """Live (non-zombie) processes of a session."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(int(entry))
    return found


def process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


# -- the fake engine ----------------------------------------------------------------------


class FakeContainer:
    """A container whose main process is a local bash; paths are mapped instead of mounted."""

    def __init__(self, config):
        self.config = config
        self.id = uuid.uuid4().hex
        self.root = Path(tempfile.mkdtemp(prefix="fake-docker-"))
        self.workspace = self.root / "workspace"
        self.control = self.root / "control"
        self.workspace.mkdir()
        self.control.mkdir()
        self.root.chmod(0o755)
        for folder in (self.workspace, self.control):
            os.chown(folder, AGENT_UID, AGENT_UID)
        self.process = None
        self.removed = False
        self.kill_failure = None  # "exit": processes outran the kill; "refused": no exec starts
        self.dead = threading.Event()
        self._ours, self._theirs = socket.socketpair()

    # Docker mounts; the fake rewrites the two container paths both ways.
    def host_path(self, text):
        text = text.replace("/workspace", str(self.workspace))
        return text.replace("/.prmgym", str(self.control))

    def container_bytes(self, data):
        data = data.replace(str(self.workspace).encode(), b"/workspace")
        return data.replace(str(self.control).encode(), b"/.prmgym")

    def attach_socket(self, params):
        assert params == {"stdin": 1, "stdout": 1, "stream": 1}
        assert self.process is None, "attach before start, or the first lines are lost"
        return self._theirs

    def start(self):
        command = self.config["command"]
        assert command[:2] == ["/bin/bash", "-c"]
        env = {"PATH": os.environ["PATH"]}
        env.update({k: self.host_path(v) for k, v in self.config["environment"].items()})
        self.process = subprocess.Popen(
            ["bash", "-c", self.host_path(command[2])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.workspace,
            env=env,
            start_new_session=True,
            **AS_AGENT,
        )
        for target in (self._feed, self._relay, self._reap):
            threading.Thread(target=target, daemon=True).start()

    def _feed(self):
        """Attached stdin -> the keeper, whole lines at a time so no path is split."""
        pending = b""
        while True:
            try:
                chunk = self._ours.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            try:
                for line in lines:
                    text = line.decode("utf-8", "surrogateescape")
                    self.process.stdin.write(
                        self.host_path(text).encode("utf-8", "surrogateescape")
                    )
                    self.process.stdin.write(b"\n")
                self.process.stdin.flush()
            except OSError:
                break
        # StdinOnce: the client went away, the keeper reads end of file.
        try:
            self.process.stdin.close()
        except OSError:
            pass

    def _relay(self):
        """The keeper's stdout -> multiplexed frames, header and payload sent apart."""
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            try:
                self._ours.sendall(frame(1, chunk)[:8])
                self._ours.sendall(chunk)
            except OSError:
                return
        try:
            self._ours.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _reap(self):
        """When the main process ends, the pid namespace dies with it."""
        self.process.wait()
        self.kill_session(spare=None)
        self.dead.set()

    def kill_session(self, spare):
        for _ in range(200):
            victims = [p for p in session_members(self.process.pid) if p != spare]
            if not victims:
                return
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def _require_running(self):
        if self.removed:
            raise docker.errors.NotFound(f"No such container: {self.id}")
        if self.process is None or self.process.poll() is not None:
            raise docker.errors.APIError(f"container {self.id} is not running")

    def exec_run(self, cmd, demux=False, user="", **kwargs):
        self._require_running()
        assert user == "" and not kwargs
        if cmd[:3] == ["sh", "-c", docker_config.KILL_ALL_BUT_KEEPER]:
            # The real script scans /proc in the container's pid namespace; here that is
            # the keeper's session (test_docker_config.py's test_the_kill_script_... runs the
            # script itself).
            assert cmd[4] == str(self.process.pid)
            if self.kill_failure == "refused":
                raise docker.errors.APIError("OCI runtime exec failed: pids limit reached")
            self.kill_session(spare=self.process.pid)
            # "exit": the shell died, but a fork bomb kept making processes.
            return DockerExecResult(int(self.kill_failure == "exit"), (None, None))
        done = subprocess.run(
            [self.host_path(a) for a in cmd], capture_output=True, cwd=self.workspace, **AS_AGENT
        )
        out, err = self.container_bytes(done.stdout), self.container_bytes(done.stderr)
        return DockerExecResult(done.returncode, (out or None, err or None) if demux else out + err)

    def get_archive(self, path):
        self._require_running()
        host = Path(self.host_path(path))
        if not os.path.lexists(host):
            raise docker.errors.NotFound(f"Could not find the file {path} in container")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(host, arcname=host.name)  # links stay links, as Docker sends them
        return iter([buffer.getvalue()]), {"name": host.name}

    def put_archive(self, path, data):
        self._require_running()
        host = Path(self.host_path(path))
        if not host.is_dir():
            raise docker.errors.APIError(f"{path} is not a folder")
        raw = data if isinstance(data, bytes) else data.read()
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar:
                target = host / member.name
                # Docker replaces what is in the way (a link included) instead of following it.
                in_the_way = os.path.lexists(target) and not (
                    member.isdir() and target.is_dir() and not target.is_symlink()
                )
                if in_the_way and target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif in_the_way:
                    target.unlink()
                tar.extract(member, host, filter="fully_trusted")
        return True

    def logs(self, **kwargs):
        return b""

    def remove(self, force=False, v=False):
        assert force and v
        if self.removed:
            raise docker.errors.NotFound(f"No such container: {self.id}")
        self.removed = True
        if self.process is not None:
            self.kill_session(spare=None)
            self.process.wait()
            self.dead.wait(5)
        self._ours.close()
        shutil.rmtree(self.root, ignore_errors=True)


class FakeContainers:
    def __init__(self):
        self.created = []

    def create(self, **kwargs):
        # docker-py itself must accept every argument (it raises on unknown ones).
        _create_container_args({**kwargs, "version": "1.45"})
        container = FakeContainer(kwargs)
        self.created.append(container)
        return container


class FakeClient:
    def __init__(self):
        self.containers = FakeContainers()

    def ping(self):
        return True

    @property
    def current(self):
        return self.containers.created[-1]


@pytest.fixture
def seed(tmp_path):
    folder = tmp_path / "seed"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "mod.py").write_text("X = 1\n")
    (folder / "run.sh").write_text("echo ran\n")
    (folder / "run.sh").chmod(0o755)
    return folder


@pytest.fixture
def client():
    return FakeClient()


@pytest.fixture
def sandbox(seed, client):
    with DockerSandbox(seed, limits=LIMITS, client=client) as box:
        yield box


# -- behaviour, against the fake engine -----------------------------------------------------


def test_it_is_a_sandbox_that_starts_with_the_seed_and_keeps_it_unchanged(sandbox, seed):
    assert isinstance(sandbox, Sandbox)
    result = sandbox.exec("cat pkg/mod.py && ./run.sh && pwd")
    assert result.exit_code == 0 and not result.restarted
    assert result.stdout == "X = 1\nran\n/workspace\n"
    sandbox.exec("echo 'X = 2' > pkg/mod.py && rm run.sh")
    assert (seed / "pkg" / "mod.py").read_text() == "X = 1\n" and (seed / "run.sh").exists()
    assert set(sandbox.enforced) >= {"timeout", "cpu", "memory", "processes", "output"}


def test_the_shell_session_persists_between_commands(sandbox):
    sandbox.exec("mkdir -p deep/er && cd deep/er && export GREETING=hi && alias ll='ls -l'")
    result = sandbox.exec("pwd; echo $GREETING")
    assert result.stdout == "/workspace/deep/er\nhi\n"


def test_exit_status_stderr_and_an_empty_stdin(sandbox):
    result = sandbox.exec("echo out; echo err >&2; cat; exit_code() { return 7; }; exit_code")
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_any_text_runs_as_written_and_a_syntax_error_is_the_commands_failure(sandbox):
    script = "cat <<'EOF'\nquote ' and \"double\"\n$NOT_EXPANDED\n__prmgym_end_x\nEOF"
    assert sandbox.exec(script).stdout == 'quote \' and "double"\n$NOT_EXPANDED\n__prmgym_end_x\n'
    broken = sandbox.exec("echo 'unterminated")
    assert broken.exit_code == 2 and "unexpected EOF" in broken.stderr
    assert sandbox.exec("echo fine").stdout == "fine\n"


def test_a_broken_path_or_noclobber_does_not_break_the_protocol(sandbox):
    sandbox.exec("set -o noclobber; echo() { :; }; printf() { :; }; export PATH=/nowhere")
    result = sandbox.exec(
        "builtin echo still here; type cat >/dev/null 2>&1 || builtin echo no cat"
    )
    assert (result.exit_code, result.stdout) == (0, "still here\nno cat\n")


def test_a_command_that_ends_the_shell_gets_a_new_one_and_keeps_the_files(sandbox):
    sandbox.exec("cd pkg && export KEPT=1 && touch made.txt")
    ended = sandbox.exec("exit 3")
    assert ended.exit_code == 3 and "a new shell started" in ended.restarted
    after = sandbox.exec('pwd; echo "[$KEPT]"; ls pkg')
    assert after.stdout == "/workspace\n[]\nmade.txt\nmod.py\n" and not after.restarted
    assert sandbox.restarts == 1


def test_a_shell_killed_between_commands_is_restarted_before_the_next(sandbox, client):
    sandbox.exec("cd pkg; (sleep 0.2; kill -9 $$) >/dev/null 2>&1 &")
    keeper = client.current.process.pid
    deadline = time.monotonic() + 5
    while len(session_members(keeper)) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)  # wait for the shell (and the killer) to be gone
    # ...and for the keeper to announce it: a death in the instant a command is sent is a
    # known race (the command is then reported as having ended the shell).
    time.sleep(0.5)
    result = sandbox.exec("pwd")
    assert "between commands" in result.restarted
    assert (result.exit_code, result.stdout) == (0, "/workspace\n")


@pytest.mark.slow
def test_a_hung_command_is_killed_at_its_timeout_with_what_it_started(sandbox, client):
    result = sandbox.exec("cd pkg; echo started; (sleep 300 &); sleep 300", timeout=1)
    assert result.timed_out and result.exit_code == -1
    # What it printed before the kill is kept.
    assert "timeout" in result.restarted and result.stdout == "started\n"
    after = sandbox.exec("pwd")
    assert after.stdout == "/workspace\n" and not after.restarted
    names = [process_name(p) for p in session_members(client.current.process.pid)]
    assert "sleep" not in names
    assert len(client.containers.created) == 1  # the container itself was kept


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["exit", "refused"])
def test_a_timeout_the_kill_cannot_clean_up_rebuilds_the_sandbox(sandbox, client, failure):
    client.current.kill_failure = failure
    result = sandbox.exec("echo changed > pkg/mod.py; sleep 300", timeout=1)
    assert result.timed_out and result.exit_code == -1
    assert "did not recover; it was rebuilt from its seed" in result.restarted
    assert sandbox.exec("cat pkg/mod.py").stdout == "X = 1\n"
    assert len(client.containers.created) == 2 and client.containers.created[0].removed


def test_long_output_is_cut_and_says_so(sandbox):
    result = sandbox.exec("seq 1 100000")
    assert result.truncated and len(result.stdout) == LIMITS.output_bytes
    assert result.stdout.startswith("1\n2\n3\n")
    errors = sandbox.exec("seq 1 100000 >&2")
    assert errors.truncated and len(errors.stderr) == LIMITS.output_bytes and not errors.stdout
    assert not sandbox.exec("echo short").truncated


def test_files_round_trip_and_folders_are_made(sandbox):
    sandbox.write_file("new/dir/f.bin", b"\x00\xff data")
    assert sandbox.read_file("/workspace/new/dir/f.bin") == b"\x00\xff data"
    assert sandbox.exec("cat new/dir/f.bin | wc -c").stdout.strip() == "7"
    assert sandbox.read_file("pkg/mod.py") == b"X = 1\n"
    sandbox.write_file("run.sh", b"echo replaced\n")
    assert sandbox.exec("./run.sh").stdout == "replaced\n"  # still executable
    # Folders it made belong to the sandbox user, who can write in them.
    made = sandbox.exec("stat -c %u new new/dir new/dir/f.bin && touch new/dir/more")
    assert (made.exit_code, made.stdout) == (0, f"{AGENT_UID}\n" * 3)


def test_a_link_in_the_workspace_is_never_followed(sandbox, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("host file\n")
    sandbox.exec(f"ln -s /etc/passwd leak; ln -s /etc etc; ln -s {outside} out; mkdir real")
    with pytest.raises(SandboxError, match="symbolic link"):
        sandbox.read_file("leak")
    with pytest.raises(SandboxError, match="'etc' is not a folder here"):
        sandbox.read_file("etc/passwd")
    with pytest.raises(SandboxError, match="symbolic link"):
        sandbox.write_file("out", b"overwritten")
    with pytest.raises(SandboxError, match="not a folder here"):
        sandbox.write_file("etc/new.txt", b"x")
    with pytest.raises(SandboxError, match="is a folder"):
        sandbox.write_file("real", b"x")
    sandbox.exec("mkfifo pipe")
    with pytest.raises(SandboxError, match="not a regular file"):
        sandbox.read_file("pipe")
    assert outside.read_text() == "host file\n"


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside", "/workspace"])
def test_file_paths_outside_the_workspace_are_refused(sandbox, path):
    with pytest.raises(SandboxError):
        sandbox.read_file(path)


def test_a_missing_file_says_so(sandbox):
    with pytest.raises(SandboxError, match="cannot read 'nope.txt'"):
        sandbox.read_file("nope.txt")
    with pytest.raises(SandboxError, match="cannot read 'no/such/file'"):
        sandbox.read_file("no/such/file")


def test_snapshot_and_restore_bring_the_workspace_back_and_a_fresh_shell(sandbox):
    sandbox.exec("echo v1 > state.txt && ln -s state.txt link && mkdir -p d && touch d/x")
    token = sandbox.snapshot()
    sandbox.exec("echo v2 > state.txt && rm -r d link && touch extra && mkdir locked")
    sandbox.exec("touch locked/f && chmod 000 locked && cd pkg && (sleep 300 &)")
    sandbox.restore(token)
    listing = sandbox.exec("pwd; cat state.txt link; ls -A | sort | tr '\\n' ' '")
    assert listing.stdout == "/workspace\nv1\nv1\nd link pkg run.sh state.txt "
    assert sandbox.read_file("state.txt") == b"v1\n"
    sandbox.restore(token)  # a token restores more than once
    assert sandbox.exec("cat state.txt").stdout == "v1\n"
    with pytest.raises(SandboxError, match="no snapshot"):
        sandbox.restore("snapshot-99")


def test_a_dead_sandbox_is_rebuilt_from_its_seed_and_the_result_says_so(sandbox, client):
    sandbox.exec("echo changed > pkg/mod.py")
    dying = client.current
    os.kill(dying.process.pid, signal.SIGKILL)
    assert dying.dead.wait(10)
    result = sandbox.exec("cat pkg/mod.py")
    assert "rebuilt from its seed" in result.restarted
    assert result.stdout == "X = 1\n" and result.exit_code == 0
    assert dying.removed and len(client.containers.created) == 2


def test_a_sandbox_dying_during_a_command_is_rebuilt(sandbox, client):
    result = sandbox.exec("kill -9 $PPID; sleep 5")  # the keeper is the shell's parent
    assert result.exit_code == -1 and "the sandbox died" in result.restarted
    assert sandbox.exec("cat pkg/mod.py").stdout == "X = 1\n"


def test_close_removes_the_container_and_twice_is_fine(seed, client):
    box = DockerSandbox(seed, limits=LIMITS, client=client)
    box.start()
    box.exec("(sleep 300 &)")
    container = client.current
    assert len(session_members(container.process.pid)) >= 3
    box.close()
    box.close()
    assert container.removed and container.dead.is_set()
    with pytest.raises(SandboxError, match="start"):
        box.exec("true")


def test_use_before_start_says_how_to_fix(seed, client):
    with pytest.raises(SandboxError, match="start"):
        DockerSandbox(seed, client=client).exec("true")
    with pytest.raises(SandboxError, match="not a folder"):
        DockerSandbox(seed / "run.sh")


def test_no_engine_says_how_to_fix(seed, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxError, match="no Docker engine is reachable.*bubblewrap"):
        DockerSandbox(seed).start()


def test_a_missing_sdk_says_how_to_fix(seed, monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)
    with pytest.raises(SandboxError, match=r"pip install 'prmgym\[docker\]'"):
        DockerSandbox(seed).start()
    with pytest.raises(SandboxError, match=r"pip install 'prmgym\[docker\]'"):
        container_config(LIMITS, "img", {})


# -- a real engine --------------------------------------------------------------------------


@pytest.mark.integration
def test_against_a_real_docker_engine(seed):
    try:
        docker.from_env().ping()
    except (docker.errors.DockerException, OSError) as exc:
        pytest.skip(f"no Docker engine is reachable here: {exc}")
    with DockerSandbox(seed, limits=LIMITS) as box:
        first = box.exec("cat pkg/mod.py && ./run.sh && id -u && cd pkg && export V=1")
        assert first.stdout == "X = 1\nran\n1000\n" and first.exit_code == 0
        assert box.exec('pwd; echo "$V"').stdout == "/workspace/pkg\n1\n"
        network = box.exec(
            "python -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), 2)'"
        )
        assert network.exit_code != 0
        assert box.exec("touch /usr/x").exit_code != 0  # read-only system
        box.write_file("d/f.txt", b"data")
        assert box.read_file("d/f.txt") == b"data" and box.exec("cat d/f.txt").stdout == "data"
        box.exec("ln -s /etc/passwd leak")
        with pytest.raises(SandboxError, match="symbolic link"):
            box.read_file("leak")
        token = box.snapshot()
        box.exec("rm -r d; echo gone > pkg/mod.py")
        box.restore(token)
        assert box.exec("cat d/f.txt pkg/mod.py").stdout == "dataX = 1\n"
        slow = box.exec("(sleep 300 &); sleep 300", timeout=1)
        assert slow.timed_out and "timeout" in slow.restarted
        running = box.exec("cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^sleep$'")
        assert running.stdout.strip() == "0"
        assert box.exec("exit 4").exit_code == 4
