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
(multiplexed frames, see :func:`~prmgym.sandboxes.docker_config.demux_frames`); each command
travels as a here-document, is sourced from ``/.prmgym/cmd`` and reports ``__prmgym_done__
NONCE STATUS``. Outputs, timeouts and file checks go through ``docker exec``. The cgroup caps
memory (no swap) and processes; rlimits cap CPU time, file size and, per process, address space.

The container's configuration and the protocol's text are in
:mod:`~prmgym.sandboxes.docker_config`, the tar archives that move files in
:mod:`~prmgym.sandboxes.docker_archives`; this module drives the engine.
"""

from __future__ import annotations

import secrets
import select
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import WORKSPACE, ExecResult, SandboxLimits
from prmgym.sandboxes.docker_archives import (
    SPOOL_BYTES,
    archived_file,
    file_archive,
    rebase,
    seed_archive,
)
from prmgym.sandboxes.docker_config import (
    CLEAR,
    INSPECT,
    KILL_ALL_BUT_KEEPER,
    OUTPUTS,
    command_message,
    container_config,
    demux_frames,
    docker_sdk,
)
from prmgym.sandboxes.session import (
    DONE,
    EXITED,
    KILL_GRACE_S,
    READY,
    SHELL_ENDED,
    exit_status,
    rebuilt_message,
    timeout_message,
    workspace_file,
)

if TYPE_CHECKING:
    import docker

_START_TIMEOUT_S = 60.0
_LINE_BUFFER_BYTES = 1 << 20
_ALIVE_READS = 64
"""How many chunks ``alive`` drains at most: a flooding process must not keep it reading."""
_NOT_READING = "the shell stopped reading commands (it or its keeper was stopped)"


class DockerSandbox:
    """A :class:`~prmgym.sandboxes.base.Sandbox` in a Docker container.

    Args:
        seed: Host folder copied into ``/workspace`` at start (and after a crash); None starts
            it empty. The sandbox never changes it.
        limits: Resource limits.
        env: Environment variables of the shell (see
            :func:`~prmgym.sandboxes.docker_config.container_config`).
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
        message = command_message(command, nonce)
        if not self._send(message, time.monotonic() + limit):
            restarted = self._rebuild(_NOT_READING)
            if not self._send(message, time.monotonic() + limit):
                raise SandboxError("the rebuilt sandbox did not take the command")
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
                if self._send("\n", time.monotonic() + KILL_GRACE_S):
                    self.restarts += 1
                    restarted = SHELL_ENDED
                else:
                    restarted = self._rebuild(_NOT_READING)
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
        errors = docker_sdk().errors
        try:
            stream, _ = self._container.get_archive(f"{WORKSPACE}/{relative}")
            data = b"".join(stream)
        except errors.NotFound as exc:
            raise SandboxError(f"cannot read {relative!r}: No such file or directory") from exc
        except (errors.DockerException, OSError) as exc:
            raise SandboxError(f"cannot read {relative!r}: {exc}") from exc
        return archived_file(data, relative)

    def write_file(self, path: str, data: bytes) -> None:
        """Create or replace a workspace file, making its folders; links are not followed.

        A replaced file keeps being executable if it was; a link or a non-folder on the path,
        or a link or folder at it, is refused.
        """
        relative = workspace_file(path)
        self._ensure_running()
        state, existing = self._inspect(relative, "write")
        mode = 0o755 if state == "executable" else 0o644
        archive = file_archive(relative.split("/"), existing, data, mode)
        try:
            self._container.put_archive(WORKSPACE, archive)
        except (docker_sdk().errors.DockerException, OSError) as exc:
            raise SandboxError(f"cannot write {relative!r}: {exc}") from exc

    def snapshot(self) -> str:
        """Save the workspace (as a tar archive on the host); the token restores it.

        Docker's archive spells out a sparse file's holes, so the archive is cut off (and
        the snapshot refused) past twice the workspace quota, headers included, rather than
        let it fill the host's disk.
        """
        self._ensure_running()
        raw = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed below
        left = 2 * (self.limits.workspace_mb << 20)
        try:
            stream, _ = self._container.get_archive(WORKSPACE)
            for chunk in stream:
                left -= len(chunk)
                if left < 0:
                    close = getattr(stream, "close", None)
                    if callable(close):
                        close()
                    raise SandboxError(
                        "the workspace archive is larger than the workspace quota allows"
                        " (sparse files are archived in full)"
                    )
                raw.write(chunk)
        except (docker_sdk().errors.DockerException, OSError, SandboxError) as exc:
            raw.close()
            raise SandboxError(f"could not save the workspace: {exc}") from exc
        raw.seek(0)
        archive = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - kept
        with raw:
            rebase(raw, archive, WORKSPACE.strip("/"))
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
            code, _, err = self._helper(CLEAR)
            if code != 0:
                raise SandboxError(f"could not empty the workspace: {err.decode(errors='replace')}")
            archive.seek(0)
            self._container.put_archive(WORKSPACE, archive)
        except (docker_sdk().errors.DockerException, OSError) as exc:
            raise SandboxError(f"could not restore {token!r}: {exc}") from exc

    @property
    def alive(self) -> bool:
        """Whether the container (its keeper) still runs, as its output stream tells."""
        if self._socket is None:
            return False
        for _ in range(_ALIVE_READS):
            chunk = self._receive(0)
            if chunk is None:
                break
            if not chunk:
                return False
            self._take(chunk)
        return True

    # -- internals -------------------------------------------------------------------------

    def _connect(self) -> docker.DockerClient:
        sdk = docker_sdk()
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
        sdk = docker_sdk()
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
                with seed_archive(self.seed) as archive:
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

    def _send(self, text: str, deadline: float) -> bool:
        """Write to the attached stdin by ``deadline``.

        Returns False if the container is gone or the keeper stopped reading (the engine's
        buffer and the socket's filled up).
        """
        if self._socket is None:
            return False
        view = memoryview(text.encode())
        previous = self._socket.gettimeout()
        try:
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._socket.settimeout(left)
                view = view[self._socket.send(view) :]
        except OSError:  # a timeout, or the container is gone
            return False
        finally:
            if self._socket is not None:
                self._socket.settimeout(previous)
        return True

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
        late = False
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
            # Past the deadline, one last poll and no more: a flood must not keep us reading.
            left = deadline - time.monotonic()
            if left <= 0:
                if late:
                    return None
                late = True
            chunk = self._receive(left)
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
            if not self._send("\n", time.monotonic() + KILL_GRACE_S):
                return self._rebuild(_NOT_READING)
            self.restarts += 1
            return (
                "the shell ended between commands (a process left running killed it); a new"
                " shell started in /workspace (working directory and variables reset, files kept)"
            )
        return None

    def _outputs(self) -> tuple[bytes, bytes, bool]:
        cap = self.limits.output_bytes
        try:
            _, out, err = self._helper(OUTPUTS, str(cap + 1))
        except (docker_sdk().errors.DockerException, OSError):
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
            code, out, err = self._helper(INSPECT, *parts)
        except (docker_sdk().errors.DockerException, OSError) as exc:
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
            code, _, _ = self._helper(KILL_ALL_BUT_KEEPER, str(self._keeper_pid))
        except (docker_sdk().errors.DockerException, OSError):
            return None  # no exec could start: the container is gone or at its process cap
        if code != 0:
            return None
        marker = self._read_marker(None, time.monotonic() + KILL_GRACE_S)
        if marker is not None and marker[0] == EXITED:
            if not self._send("\n", time.monotonic() + KILL_GRACE_S):
                return None
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
