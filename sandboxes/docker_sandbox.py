"""The Docker backend: each sandbox is a container on a Docker engine (``prmgym[docker]``).

Layout inside the container (the same paths and shell protocol as the bubblewrap backend):

- the image's filesystem, read-only; no network but the container's own loopback; every
  capability dropped and no new privileges; user ``1000:1000``; Docker's init as PID 1;
- ``/workspace``: a tmpfs of ``limits.workspace_mb``, filled from the seed folder at start. It
  is an anonymous volume whose local driver mounts a tmpfs, not a plain ``--tmpfs``: Docker's
  archive API (``get_archive``/``put_archive``, how the host reads and writes files) never
  sees a container's tmpfs mounts, only its volumes. The volume goes with the container;
- ``/tmp``: a small tmpfs; ``/.prmgym``: the control files (command, its output), a tmpfs that
  bounds how much output a command can produce.

A keeper process (the container's main process) runs a shell and starts a new one whenever the
shell exits, so a command that kills its shell loses its working directory and variables but
not the workspace. The host talks to the keeper over the container's attached stdin and stdout
(multiplexed frames, see :func:`demux_frames`); each command travels as a here-document, is
sourced from ``/.prmgym/cmd`` and reports ``__prmgym_done__ NONCE STATUS``. Outputs, timeouts
and file checks go through ``docker exec``. The cgroup caps memory (no swap) and processes;
rlimits cap CPU time, file size and, per process, address space.
"""

from __future__ import annotations

import io
import secrets
import select
import tarfile
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import WORKSPACE, ExecResult, SandboxLimits
from prmgym.sandboxes.session import (
    CONTROL,
    DONE,
    EXITED,
    KILL_GRACE_S,
    READY,
    SHELL_ENDED,
    UID,
    exit_status,
    rebuilt_message,
    timeout_message,
    workspace_file,
)

if TYPE_CHECKING:
    import docker

_LABEL = "prmgym.sandbox"
_TMP_BYTES = 64 << 20
_HEADROOM_MB = 256
_START_TIMEOUT_S = 60.0
_SPOOL_BYTES = 32 << 20
_LINE_BUFFER_BYTES = 1 << 20
_DEFAULT_ENV = {"HOME": WORKSPACE, "LANG": "C.UTF-8", "TMPDIR": "/tmp", "TERM": "dumb"}

# Run by `docker exec` as the sandbox user: the container has no capabilities, so root could
# not signal the agent's processes, while their owner can. Everything but init, the keeper
# and this shell is killed; zombies only wait for init and are skipped. Exits 1 when
# processes keep appearing (a fork bomb outrunning the loop), so the caller rebuilds.
_KILL_ALL_BUT_KEEPER = """\
keeper=$1 round=0
while [ "$round" -lt 50 ]; do
  round=$((round + 1)) left=
  for entry in /proc/[0-9]*; do
    pid=${entry#/proc/}
    case $pid in 1 | "$keeper" | $$) continue ;; esac
    read -r stat < "$entry/stat" 2>/dev/null || continue
    state=${stat##*) }
    case $state in Z*) continue ;; esac
    kill -9 "$pid" 2>/dev/null && left=1
  done
  [ -n "$left" ] || exit 0
done
exit 1
"""

# The first $1 bytes of the command's stdout (to our stdout) and stderr (to our stderr).
_OUTPUTS = f'head -c "$1" /{CONTROL}/out 2>/dev/null; head -c "$1" /{CONTROL}/err >&2 2>/dev/null'

# Walks a workspace path (one argument per component) without following links. Prints the
# index of a component that is a link or not a folder (exit 1); "link" or "folder" when the
# last component is one (exit 2); otherwise its state ("missing", "file", "executable") and
# how many leading folders exist (exit 0).
_INSPECT = f"""\
cd {WORKSPACE} || exit 3
path= i=0
while [ $# -gt 1 ]; do
  path=$path$1
  if [ -L "$path" ] || {{ [ -e "$path" ] && [ ! -d "$path" ]; }}; then echo "$i"; exit 1; fi
  [ -d "$path" ] || {{ echo "missing $i"; exit 0; }}
  path=$path/ i=$((i + 1))
  shift
done
path=$path$1
if [ -L "$path" ]; then echo link; exit 2; fi
if [ -d "$path" ]; then echo folder; exit 2; fi
if [ -x "$path" ]; then echo "executable $i"
elif [ -e "$path" ]; then echo "file $i"
else echo "missing $i"; fi
"""

# Empties the workspace; folders the agent made unreadable or unwritable are opened first
# (chmod -R does not follow the links it meets).
_CLEAR = f"chmod -R u+rwX {WORKSPACE} 2>/dev/null; find {WORKSPACE} -mindepth 1 -delete"


def _docker() -> ModuleType:
    try:
        import docker
    except ImportError as exc:
        raise SandboxError(
            "the Docker sandbox needs the Docker SDK: pip install 'prmgym[docker]'"
        ) from exc
    return docker


def demux_frames(buffer: bytes) -> tuple[bytes, bytes, bytes]:
    """Split Docker's multiplexed stream (an attach or exec without a TTY) into its streams.

    Each frame is an 8-byte header (stream type, three zero bytes, big-endian payload size)
    followed by the payload. Stream 0 (stdin echoed) and 1 are stdout; 2 and 3 (the engine's
    own errors) are stderr.

    Returns:
        ``(stdout, stderr, rest)``: the payloads of the complete frames, and the bytes of an
        incomplete last frame, to be prefixed to what arrives next.

    Raises:
        SandboxError: A header names no stream (the stream is not multiplexed).
    """
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    position = 0
    while len(buffer) - position >= 8:
        kind = buffer[position]
        if kind > 3:
            raise SandboxError(f"Docker sent a frame of unknown stream type {kind}")
        start = position + 8
        end = start + int.from_bytes(buffer[position + 4 : start], "big")
        if end > len(buffer):
            break
        (stdout if kind <= 1 else stderr).append(buffer[start:end])
        position = end
    return b"".join(stdout), b"".join(stderr), buffer[position:]


def container_config(
    limits: SandboxLimits,
    image: str,
    env: Mapping[str, str],
    *,
    cpus: float | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``client.containers.create`` for one sandbox.

    How the limits map: ``memory_mb`` plus the workspace (its tmpfs is charged to the
    container) and headroom is the cgroup's memory, with no swap; ``memory_mb`` alone is every
    process's address space (``ulimit -v`` in the keeper: Docker's ``ulimits`` cannot set
    it); ``processes`` is the cgroup's pids limit; ``cpu_s`` and ``file_size_mb`` are rlimits
    (seconds, bytes); ``workspace_mb`` sizes the workspace tmpfs; ``output_bytes`` sizes the
    control tmpfs. There is deliberately no ``nproc`` rlimit: it counts every process of uid
    1000 on the host, not the container's.

    The container is created, not run, so the host can attach before it starts; without
    ``detach``, docker-py sets ``StdinOnce``, so the keeper reads end of file and the
    container stops (and is removed) when the host goes away.

    Args:
        limits: Resource limits.
        image: Image to run; it needs ``bash`` and a POSIX shell with ``head`` and ``find``.
        env: Environment variables of the shell, over ``HOME`` = ``/workspace``, ``LANG``,
            ``TMPDIR`` and ``TERM`` (the image's ``PATH`` is kept unless ``env`` sets one).
        cpus: CPUs the container may use (``nano_cpus``); None leaves it unbounded.

    Raises:
        SandboxError: The Docker SDK is missing.
    """
    types = _docker().types
    memory = (limits.memory_mb + limits.workspace_mb + _HEADROOM_MB) << 20
    workspace_options = {
        "type": "tmpfs",
        "device": "tmpfs",
        "o": f"size={limits.workspace_mb}m,uid={UID},gid={UID},mode=0755,nosuid,nodev",
    }
    workspace = types.Mount(
        target=WORKSPACE,
        source=None,
        type="volume",
        no_copy=True,
        driver_config=types.DriverConfig("local", workspace_options),
    )
    control_bytes = 2 * limits.output_bytes + (4 << 20)
    config: dict[str, Any] = {
        "image": image,
        "command": ["/bin/bash", "-c", _keeper_script(limits)],
        "user": f"{UID}:{UID}",
        "working_dir": WORKSPACE,
        "hostname": "sandbox",
        "environment": {**_DEFAULT_ENV, **env},
        "labels": {_LABEL: "1"},
        "stdin_open": True,
        "tty": False,
        "init": True,
        "auto_remove": True,
        "network_mode": "none",
        "read_only": True,
        "mounts": [workspace],
        "tmpfs": {
            "/tmp": f"size={_TMP_BYTES},mode=1777,exec",
            f"/{CONTROL}": f"size={control_bytes},uid={UID},gid={UID},mode=0700",
        },
        "mem_limit": memory,
        "memswap_limit": memory,
        "pids_limit": limits.processes,
        "ulimits": [
            types.Ulimit(name="cpu", soft=limits.cpu_s, hard=limits.cpu_s),
            types.Ulimit(
                name="fsize", soft=limits.file_size_mb << 20, hard=limits.file_size_mb << 20
            ),
        ],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }
    if cpus is not None:
        config["nano_cpus"] = int(cpus * 1e9)
    return config


def _keeper_script(limits: SandboxLimits) -> str:
    return (
        f"ulimit -v {limits.memory_mb << 10} || exit 97\n"
        f'echo "{READY} $$"\n'
        # After a shell ends, the next starts only when the host says so (an empty line),
        # so a timeout's cleanup cannot kill the new shell too.
        f'while :; do cd {WORKSPACE}; bash --noprofile --norc; echo "{EXITED} $?";'
        " read -r _ || exit 0; done\n"
    )


def _command_message(command: str, nonce: str) -> str:
    """What the shell reads for one command: the text as a here-document, then the run line.

    Only builtins touch the text, so a changed ``PATH`` or a function named like a command
    cannot break the protocol; ``>|`` writes through ``set -o noclobber``. The shell reads
    all of it before the command starts, so nothing is left on stdin for the keeper.
    """
    end = f"__prmgym_end_{nonce}"
    control = f"/{CONTROL}"
    return (
        f"{{ IFS= builtin read -r -d '' _prmgym_cmd || :; }} <<'{end}'; "
        f"builtin printf '%s' \"$_prmgym_cmd\" >|{control}/cmd; builtin unset _prmgym_cmd; "
        f". {control}/cmd </dev/null >|{control}/out 2>|{control}/err; "
        f'builtin echo "{DONE} {nonce} $?"\n'
        f"{command}\n{end}\n"
    )


class DockerSandbox:
    """A :class:`~prmgym.sandboxes.base.Sandbox` in a Docker container.

    Args:
        seed: Host folder copied into ``/workspace`` at start (and after a crash); None starts
            it empty. The sandbox never changes it.
        limits: Resource limits.
        env: Environment variables of the shell (see :func:`container_config`).
        image: Image the container runs; it needs ``bash``, ``sh``, ``head`` and ``find``.
            A missing image is pulled, as ``docker run`` would.
        client: Docker client to use; None connects with ``docker.from_env()`` at start.
        cpus: CPUs the container may use; None leaves it unbounded.

    Attributes:
        enforced: Which limits hold (all of them: the engine applies the cgroup and rlimits).
        restarts: How many times the shell or the whole sandbox was restarted.
    """

    def __init__(
        self,
        seed: str | Path | None = None,
        *,
        limits: SandboxLimits | None = None,
        env: Mapping[str, str] | None = None,
        image: str = "python:3.11-slim",
        client: docker.DockerClient | None = None,
        cpus: float | None = None,
    ):
        self.seed = Path(seed).resolve() if seed is not None else None
        if self.seed is not None and not self.seed.is_dir():
            raise SandboxError(f"sandbox seed {seed!r} is not a folder")
        self.limits = limits or SandboxLimits()
        self.env = dict(env or {})
        self.image = image
        self.cpus = cpus
        self.enforced: list[str] = []
        self.restarts = 0
        self._client = client
        self._container: Any = None
        self._socket: Any = None
        self._frames = b""
        self._lines = b""
        self._keeper_pid = 0
        self._started = False
        self._snapshots: dict[str, IO[bytes]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sandbox (a no-op when it runs).

        Raises:
            SandboxError: The Docker SDK is missing, no engine is reachable, or the container
                did not start; the message says how to fix it.
        """
        if self._started:
            return
        self._client = self._connect()
        self._launch()
        self._started = True

    def close(self) -> None:
        """Remove the container (killing everything in it) and drop the snapshots."""
        self._stop()
        for archive in self._snapshots.values():
            archive.close()
        self._snapshots.clear()
        self._started = False

    def __enter__(self) -> DockerSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_container", None) is not None:
            self.close()

    # -- commands --------------------------------------------------------------------------

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        """Run ``command`` in the persistent shell; see ``Sandbox.exec``.

        The command is sourced from a file, so any text runs as written (quotes, heredocs,
        several lines) and a syntax error is the command's own failure. Its stdin is empty.
        """
        self._require_started()
        restarted = self._recover()
        limit = self.limits.timeout_s if timeout is None else timeout
        nonce = secrets.token_hex(8)
        self._send(_command_message(command, nonce))
        marker = self._read_marker(nonce, time.monotonic() + limit)
        timed_out = marker is None
        if timed_out:
            marker = self._restart_shell()
            self.restarts += 1
            restarted = timeout_message(limit)
        if marker is None or marker[0] == "died":
            stdout = stderr = b""
            truncated = False
            why = "the sandbox died" if not timed_out else "the sandbox did not recover"
            restarted = self._rebuild(why)
        else:
            stdout, stderr, truncated = self._outputs()
            if marker[0] == EXITED and not timed_out:
                self._send("\n")
                self.restarts += 1
                restarted = SHELL_ENDED
        code = -1 if timed_out or marker is None or marker[0] == "died" else marker[1]
        return ExecResult(
            exit_code=code,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace"),
            timed_out=timed_out,
            truncated=truncated,
            restarted=restarted,
        )

    # -- files -----------------------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        """Bytes of a workspace file; links are never followed (see ``Sandbox.read_file``).

        Docker resolves every path inside the container's own root, so no link reaches a
        host file in any case; a link anywhere on the path is refused all the same.
        """
        relative = workspace_file(path)
        self._ensure_running()
        state, _ = self._inspect(relative, "read")
        if state == "missing":
            raise SandboxError(f"cannot read {relative!r}: No such file or directory")
        errors = _docker().errors
        try:
            stream, _ = self._container.get_archive(f"{WORKSPACE}/{relative}")
            data = b"".join(stream)
        except errors.NotFound as exc:
            raise SandboxError(f"cannot read {relative!r}: No such file or directory") from exc
        except (errors.DockerException, OSError) as exc:
            raise SandboxError(f"cannot read {relative!r}: {exc}") from exc
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.next()
            # Checked again here: a link may have replaced the file since the inspection.
            extracted = archive.extractfile(member) if member and member.isreg() else None
            if extracted is None:
                raise SandboxError(f"{relative!r} is not a regular file")
            return extracted.read()

    def write_file(self, path: str, data: bytes) -> None:
        """Create or replace a workspace file, making its folders; links are not followed.

        A replaced file keeps being executable if it was; a link or a non-folder on the path,
        or a link or folder at it, is refused.
        """
        relative = workspace_file(path)
        self._ensure_running()
        state, existing = self._inspect(relative, "write")
        mode = 0o755 if state == "executable" else 0o644
        archive = _file_archive(relative.split("/"), existing, data, mode)
        try:
            self._container.put_archive(WORKSPACE, archive)
        except (_docker().errors.DockerException, OSError) as exc:
            raise SandboxError(f"cannot write {relative!r}: {exc}") from exc

    def snapshot(self) -> str:
        """Save the workspace (as a tar archive on the host); the token restores it."""
        self._ensure_running()
        raw = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed below
        try:
            stream, _ = self._container.get_archive(WORKSPACE)
            for chunk in stream:
                raw.write(chunk)
        except (_docker().errors.DockerException, OSError) as exc:
            raw.close()
            raise SandboxError(f"could not save the workspace: {exc}") from exc
        raw.seek(0)
        archive = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - kept
        with raw:
            _rebase(raw, archive, WORKSPACE.strip("/"))
        token = f"snapshot-{len(self._snapshots) + 1}"
        self._snapshots[token] = archive
        return token

    def restore(self, token: str) -> None:
        """Put the workspace back as the snapshot saw it and start a fresh shell there."""
        self._require_started()
        archive = self._snapshots.get(token)
        if archive is None:
            raise SandboxError(f"no snapshot {token!r} in this sandbox")
        self._ensure_running()
        # Nothing may keep writing into the workspace while it is replaced.
        marker = self._restart_shell()
        if marker is None or marker[0] == "died":
            self._rebuild("the sandbox did not recover")
        try:
            code, _, err = self._helper(_CLEAR)
            if code != 0:
                raise SandboxError(f"could not empty the workspace: {err.decode(errors='replace')}")
            archive.seek(0)
            self._container.put_archive(WORKSPACE, archive)
        except (_docker().errors.DockerException, OSError) as exc:
            raise SandboxError(f"could not restore {token!r}: {exc}") from exc

    @property
    def alive(self) -> bool:
        """Whether the container (its keeper) still runs, as its output stream tells."""
        if self._socket is None:
            return False
        while (chunk := self._receive(0)) is not None:
            if not chunk:
                return False
            self._take(chunk)
        return True

    # -- internals -------------------------------------------------------------------------

    def _connect(self) -> docker.DockerClient:
        sdk = _docker()
        client = self._client
        try:
            if client is None:
                client = sdk.from_env()
            client.ping()
        except (sdk.errors.DockerException, OSError) as exc:
            raise SandboxError(
                f"no Docker engine is reachable ({exc}); start one (or point DOCKER_HOST at"
                " one), or use the bubblewrap sandbox, which needs no engine"
            ) from exc
        return client

    def _launch(self) -> None:
        sdk = _docker()
        assert self._client is not None
        config = container_config(self.limits, self.image, self.env, cpus=self.cpus)
        try:
            try:
                container = self._client.containers.create(**config)
            except sdk.errors.ImageNotFound:
                # `docker run` pulls a missing image; `create` does not.
                self._client.images.pull(self.image)
                container = self._client.containers.create(**config)
        except (sdk.errors.DockerException, OSError) as exc:
            raise SandboxError(
                f"Docker could not create the sandbox from {self.image!r}: {exc}"
            ) from exc
        self._container = container
        try:
            # Attached before the start, so the keeper's first line cannot be missed.
            socket = container.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
            self._socket = getattr(socket, "_sock", socket)
            container.start()
            marker = self._read_marker(None, time.monotonic() + _START_TIMEOUT_S, ready=True)
            if marker is None or marker[0] != READY:
                raise SandboxError("the sandbox shell did not start")
            self._keeper_pid = marker[1]
            if self.seed is not None:
                with _seed_archive(self.seed) as archive:
                    container.put_archive(WORKSPACE, archive)
        except (sdk.errors.DockerException, OSError, SandboxError) as exc:
            log = self._log_tail()
            self._stop()
            raise SandboxError(f"Docker failed to start the sandbox: {exc}; {log}") from exc
        self.enforced = [
            "timeout",
            "cpu",
            "memory",
            "file_size",
            "workspace",
            "output",
            "processes",
        ]

    def _log_tail(self) -> str:
        try:
            return self._container.logs(tail=20).decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001 - only decorates an error being raised
            return ""

    def _send(self, text: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendall(text.encode())
        except OSError:
            pass  # the container is gone; reading its output says so

    def _receive(self, timeout: float) -> bytes | None:
        """Bytes from the attached stream: None when none came in time, b"" at its end."""
        if self._socket is None:
            return b""
        pending = getattr(self._socket, "pending", None)
        # A TLS socket may hold decrypted bytes that select cannot see.
        if not (callable(pending) and pending()):
            readable, _, _ = select.select([self._socket], [], [], max(timeout, 0.0))
            if not readable:
                return None
        try:
            return bytes(self._socket.recv(65536))
        except OSError:
            return b""

    def _take(self, chunk: bytes) -> None:
        stdout, _, self._frames = demux_frames(self._frames + chunk)
        # Only marker lines matter; the bound keeps a flood of junk from growing the buffer.
        self._lines = (self._lines + stdout)[-_LINE_BUFFER_BYTES:]

    def _read_marker(
        self, nonce: str | None, deadline: float, *, ready: bool = False
    ) -> tuple[str, int] | None:
        """Read the keeper's output up to the next marker.

        Returns ``(kind, number)``, None at the deadline, ``("died", -1)`` at end of stream.
        With ``nonce`` None, waits for a shell restart (or, with ``ready``, the start marker,
        whose number is the keeper's process id).
        """
        while True:
            while b"\n" in self._lines:
                line, self._lines = self._lines.split(b"\n", 1)
                words = line.decode("utf-8", "replace").split()
                if ready and len(words) == 2 and words[0] == READY:
                    return (READY, exit_status(words[1]))
                if len(words) == 3 and words[0] == DONE and words[1] == nonce:
                    return (DONE, exit_status(words[2]))
                if len(words) == 2 and words[0] == EXITED:
                    return (EXITED, exit_status(words[1]))
            chunk = self._receive(deadline - time.monotonic())
            if chunk is None:
                if time.monotonic() >= deadline:
                    return None
                continue
            if not chunk:
                return ("died", -1)
            self._take(chunk)

    def _recover(self) -> str | None:
        """Before a command: rebuild a dead sandbox, or restart a shell that ended since."""
        marker = self._read_marker(None, time.monotonic())
        if marker is not None and marker[0] == "died":
            return self._rebuild("the sandbox had died")
        if marker is not None and marker[0] == EXITED:
            # The keeper waits for a line; the command must not be that line.
            self._send("\n")
            self.restarts += 1
            return (
                "the shell ended between commands (a process left running killed it); a new"
                " shell started in /workspace (working directory and variables reset, files kept)"
            )
        return None

    def _outputs(self) -> tuple[bytes, bytes, bool]:
        cap = self.limits.output_bytes
        try:
            _, out, err = self._helper(_OUTPUTS, str(cap + 1))
        except (_docker().errors.DockerException, OSError):
            return b"", b"", False
        return out[:cap], err[:cap], len(out) > cap or len(err) > cap

    def _helper(self, script: str, *args: str) -> tuple[int, bytes, bytes]:
        """Run a ``sh`` script in the container as the sandbox user: status, stdout, stderr."""
        result = self._container.exec_run(["sh", "-c", script, "sh", *args], demux=True)
        out, err = result.output or (None, None)
        return result.exit_code, out or b"", err or b""

    def _inspect(self, relative: str, verb: str) -> tuple[str, int]:
        parts = relative.split("/")
        try:
            code, out, err = self._helper(_INSPECT, *parts)
        except (_docker().errors.DockerException, OSError) as exc:
            raise SandboxError(f"cannot {verb} {relative!r}: {exc}") from exc
        words = out.decode("utf-8", "replace").split()
        if code == 0 and len(words) == 2:
            return words[0], int(words[1])
        if code == 1 and words:
            raise SandboxError(f"{relative!r}: {parts[int(words[0])]!r} is not a folder here")
        if code == 2 and words == ["link"]:
            raise SandboxError(
                f"cannot {verb} {relative!r}: it is a symbolic link, and links are not followed"
            )
        if code == 2 and words == ["folder"]:
            raise SandboxError(f"cannot {verb} {relative!r}: it is a folder")
        raise SandboxError(f"cannot {verb} {relative!r}: {err.decode('utf-8', 'replace')}")

    def _restart_shell(self) -> tuple[str, int] | None:
        """Kill every process but the keeper, then let it start a new shell.

        Returns the shell's exit marker, or None (or ``died``) if the sandbox did not recover.
        """
        try:
            code, _, _ = self._helper(_KILL_ALL_BUT_KEEPER, str(self._keeper_pid))
        except (_docker().errors.DockerException, OSError):
            return None  # no exec could start: the container is gone or at its process cap
        if code != 0:
            return None
        marker = self._read_marker(None, time.monotonic() + KILL_GRACE_S)
        if marker is not None and marker[0] == EXITED:
            self._send("\n")
        return marker

    def _rebuild(self, why: str) -> str:
        self._stop()
        self._launch()
        self.restarts += 1
        return rebuilt_message(why)

    def _stop(self) -> None:
        if self._container is not None:
            try:
                self._container.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - gone already, or its auto-removal is under way
                pass
            self._container = None
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
            self._socket = None
        self._frames = self._lines = b""
        self._keeper_pid = 0

    def _require_started(self) -> None:
        if not self._started:
            raise SandboxError("the sandbox is not started; call start() first")

    def _ensure_running(self) -> None:
        self._require_started()
        if not self.alive:
            self._rebuild("the sandbox had died")


def _agent_owned(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Tar filter: the sandbox user owns everything; devices, fifos and sockets stay out."""
    if not (info.isdir() or info.isreg() or info.issym() or info.islnk()):
        return None
    info.uid = info.gid = UID
    info.uname = info.gname = ""
    return info


def _seed_archive(seed: Path) -> IO[bytes]:
    """The seed folder's contents as a tar archive (links kept as links)."""
    archive = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - returned
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for entry in sorted(seed.iterdir()):
            tar.add(entry, arcname=entry.name, filter=_agent_owned)
    archive.seek(0)
    return archive


def _file_archive(parts: list[str], existing: int, data: bytes, mode: int) -> bytes:
    """A tar archive of one file, with entries for the folders on its path that are missing.

    Docker would make a missing folder owned by root, which the sandbox user could not write.
    """
    now = time.time()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for depth in range(existing + 1, len(parts)):
            folder = tarfile.TarInfo("/".join(parts[:depth]))
            folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, now
            folder.uid = folder.gid = UID
            tar.addfile(folder)
        info = tarfile.TarInfo("/".join(parts))
        info.size, info.mode, info.mtime = len(data), mode, now
        info.uid = info.gid = UID
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _rebase(source: IO[bytes], target: IO[bytes], top: str) -> None:
    """Copy a ``get_archive`` of folder ``top`` into a tar archive of its contents.

    ``put_archive`` extracts into an existing folder, and the read-only root cannot take
    ``top`` itself. Only folders, regular files and links are kept (as the bubblewrap
    backend's snapshots do).
    """
    prefix = top + "/"
    with (
        tarfile.open(fileobj=source, mode="r:") as given,
        tarfile.open(fileobj=target, mode="w") as kept,
    ):
        for member in given:
            if not member.name.startswith(prefix) or _agent_owned(member) is None:
                continue
            member.name = member.name[len(prefix) :]
            if member.islnk():
                if not member.linkname.startswith(prefix):
                    continue
                member.linkname = member.linkname[len(prefix) :]
            kept.addfile(member, given.extractfile(member) if member.isreg() else None)
    target.seek(0)
