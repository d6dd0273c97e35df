"""A persistent Python kernel inside a sandbox, driven through the sandbox's own shell.

The kernel (:mod:`prmgym.envs.data.kernel_server`) runs in the background of the episode's
sandbox and keeps its variables between steps. Every request is one ``sandbox.exec``: a
short bash script hands the request to the kernel through a FIFO and waits for the line that
answers it, checking every 50 ms that the kernel is still alive. Speaking through ``exec``
keeps the sandbox contract the only way in, so the kernel runs under every sandbox backend
with the sandbox's limits, and nothing in it can reach the host.

What can go wrong, and what happens:

- code raising an exception: a traceback, the kernel goes on;
- code running past its timeout: the kernel's timer interrupts it (variables set before are
  kept); code deaf to signals (a long C call) is killed with the sandbox's processes at the
  timeout plus a grace period, and the kernel is restarted;
- the kernel dying (``os._exit``, a segfault, the memory limit) or stopped (``SIGSTOP``):
  the request sees it and the kernel is restarted, empty;
- a hostile kernel (agent code that patched the server, replaced its FIFOs, flooded them,
  or blocks or ignores the timer): every request is one ``exec`` bounded by its timeout plus
  the grace period, and an answer that breaks the protocol (malformed, cut at the sandbox's
  output limit, fields of the wrong type) counts as a dead kernel, so it is restarted.

Each restart is reported in ``Execution.restarted`` so the episode can be marked.

Snapshots keep the kernel's memory in a frozen fork inside the sandbox, but the workspace's
files on the host: agent code can write anywhere in the sandbox, so a copy kept there could
be changed between a snapshot and its restore.
"""

from __future__ import annotations

import json
import secrets
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import WORKSPACE, Sandbox

FOLDER = "/tmp/.prmgym-kernel"
"""The kernel's files inside the sandbox: the server, its FIFOs, its pid."""
GRACE_S = 10.0
"""How long past a request's timeout before the sandbox kills everything in it."""
_START_TIMEOUT_S = 60.0
_PRELOAD = "pandas,numpy"
# Whether a process runs: a zombie (a dead kernel its parent has not collected) does not, and
# a stopped or traced one (SIGSTOP) would never answer.
_ALIVE = (
    'alive() { local s; read -r _ _ s _ < "/proc/$1/stat" 2>/dev/null'
    " && case $s in Z|X|T|t) false;; esac; }\n"
)
_REPLY_MARGIN = 64
"""Bytes of the sandbox's output limit left for the nonce and line end of a reply."""
_EXEC_FIELDS = {"stdout": str, "stderr": str, "timed_out": bool, "dropped": int}


@dataclass(frozen=True)
class Execution:
    """What running one cell did."""

    stdout: str
    stderr: str
    result: str | None
    """``repr`` of the value of the cell's final expression (None when it had none)."""
    error: dict[str, str] | None
    """``ename``, ``evalue`` and ``traceback`` of an exception the cell raised."""
    timed_out: bool = False
    dropped: int = 0
    """Characters of output left out, beyond the kernel's limit per stream."""
    restarted: str | None = None
    """Why the kernel was restarted during this cell (its variables are gone), or None."""


class KernelDied(SandboxError):
    """The kernel was not running, or stopped while answering."""


class Kernel:
    """A Python kernel living in ``sandbox``.

    Args:
        sandbox: A started sandbox.
        python: The interpreter in the sandbox that runs the kernel; it needs pandas and
            numpy (the env binds this process's environment and passes its interpreter).
        timeout_s: Seconds a cell may run before it is interrupted.
        max_output_chars: Characters kept of each of stdout, stderr and the result.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        python: str = "python3",
        timeout_s: float = 30.0,
        max_output_chars: int = 8000,
    ):
        self.sandbox = sandbox
        self.python = python
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars
        self.restarts = 0
        self._saved: dict[str, list[tuple[str, Path]]] = {}
        self._saved_root: Path | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the kernel (pandas and numpy imported ahead, so the first cell is quick).

        A kernel this sandbox already runs is stopped first, with its snapshots.

        Raises:
            SandboxError: The kernel did not come up; the message holds its log.
        """
        server = resources.files("prmgym.envs.data").joinpath("kernel_server.py").read_text()
        end = f"__prmgym_server_{secrets.token_hex(8)}__"
        script = (
            # A kernel already here goes first, with its snapshots (one process group).
            f'read -r group < {FOLDER}/group 2>/dev/null && kill -9 -- "-$group" 2>/dev/null\n'
            f"rm -rf {FOLDER}; mkdir -p {FOLDER} && cd {FOLDER} && mkfifo in out tick || exit 1\n"
            f"cat > server.py <<'{end}'\n{server}\n{end}\n"
            "cd /workspace\n"
            f"PRMGYM_KERNEL_PRELOAD={_PRELOAD} OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1"
            f" MKL_NUM_THREADS=1 MPLBACKEND=Agg setsid {shlex.quote(self.python)} -u"
            f" {FOLDER}/server.py {FOLDER} {WORKSPACE} {self._reply_bytes}"
            f" </dev/null >{FOLDER}/log 2>&1 &\n"
            f"exec 5<>{FOLDER}/tick\n"
            f"{_ALIVE}while [ ! -s {FOLDER}/pid ] && alive $!; do\n"
            "  read -r -t 0.01 -u 5 _\n"
            "done\n"
            f"[ -s {FOLDER}/pid ] || {{ cat {FOLDER}/log; exit 1; }}\n"
        )
        self._forget_snapshots()
        result = self.sandbox.exec(script, timeout=_START_TIMEOUT_S)
        if result.exit_code != 0:
            raise SandboxError(
                f"the Python kernel did not start in the sandbox (does {self.python} have pandas"
                f" and numpy?): {(result.stdout + result.stderr).strip()[-2000:]}"
            )

    def restart(self, why: str) -> str:
        """Start a fresh kernel (every variable and snapshot is lost); returns the notice."""
        self.restarts += 1
        self.start()
        return f"{why}; the kernel was restarted and its variables are gone (files are kept)"

    # -- requests -----------------------------------------------------------------------
    def execute(self, code: str, timeout: float | None = None) -> Execution:
        """Run a cell; a kernel that died, before or during it, is restarted and said so."""
        limit = timeout or self.timeout_s
        try:
            reply = self._request(
                {"op": "exec", "code": code, "timeout": limit, "max_output": self.max_output_chars},
                limit,
            )
            _check_exec_reply(reply)
        except KernelDied as exc:
            return Execution("", "", None, None, restarted=self.restart(str(exc)))
        return Execution(
            stdout=reply["stdout"],
            stderr=reply["stderr"],
            result=reply["result"],
            error=reply["error"],
            timed_out=reply["timed_out"],
            dropped=reply["dropped"],
        )

    def probe(self, code: str, timeout: float = 10.0) -> Any:
        """The JSON value ``code`` leaves in ``__probe_result__``, run in a fork of the kernel.

        The fork sees every variable and changes nothing in the kernel.

        Raises:
            SandboxError: The probe failed (its message says how) or the kernel is dead.
        """
        reply = self._request({"op": "probe", "code": code, "timeout": timeout}, timeout)
        if "failed" in reply or "value" not in reply:
            raise SandboxError(f"the probe failed: {reply.get('failed', 'no value came back')}")
        return reply["value"]

    def snapshot(self) -> str:
        """Freeze a copy of the kernel (a fork: memory is shared until either side writes).

        The workspace's regular files are copied to the host, read through the sandbox's file
        API (links are not followed); the frozen fork keeps only the folders and links.

        Raises:
            SandboxError: The kernel is dead or the workspace holds too many files.
        """
        reply = self._request({"op": "snapshot"}, 10.0)
        key, files = reply.get("id"), reply.get("files")
        if "failed" in reply or not isinstance(key, str) or not isinstance(files, list):
            raise SandboxError(f"the snapshot failed: {reply.get('failed', 'a malformed answer')}")
        if self._saved_root is None:
            self._saved_root = Path(tempfile.mkdtemp(prefix="prmgym-kernel-snapshots-"))
        folder = Path(tempfile.mkdtemp(dir=self._saved_root))
        saved = []
        for index, name in enumerate(files):
            try:
                data = self.sandbox.read_file(str(name))
            except SandboxError:
                continue  # no longer a regular file (something changed it meanwhile)
            copy = folder / str(index)
            copy.write_bytes(data)
            saved.append((str(name), copy))
        self._saved[key] = saved
        return key

    def restore(self, key: str) -> None:
        """Make a copy of snapshot ``key`` the kernel; the snapshot stays for later restores.

        The workspace is emptied and gets the snapshot's folders and links, then the host
        writes back the files it saved.

        Raises:
            SandboxError: No such snapshot (released, or taken before a restart).
        """
        if key not in self._saved:
            raise SandboxError(f"no snapshot {key!r} (released, or from an earlier kernel)")
        reply = self._request({"op": "restore", "id": key}, 10.0)
        if reply.get("restored") is not True:
            raise SandboxError(str(reply.get("failed", "the restore gave a malformed answer")))
        for name, copy in self._saved[key]:
            self.sandbox.write_file(name, copy.read_bytes())

    def release(self, key: str) -> None:
        """Let snapshot ``key``'s process go, and its saved files."""
        for _, copy in self._saved.pop(key, []):
            copy.unlink(missing_ok=True)
        self._request({"op": "release", "id": key}, 10.0)

    def close(self) -> None:
        """Delete the host's copies of snapshot files (the sandbox's owner stops the kernel)."""
        self._forget_snapshots()

    def memory_kb(self) -> int:
        """The kernel's resident memory in KiB."""
        rss = self._request({"op": "stats"}, 10.0).get("rss_kb")
        if not isinstance(rss, int):
            raise KernelDied("the kernel answered out of protocol")
        return rss

    def _forget_snapshots(self) -> None:
        self._saved.clear()
        if self._saved_root is not None:
            shutil.rmtree(self._saved_root, ignore_errors=True)
            self._saved_root = None

    @property
    def _reply_bytes(self) -> int:
        return max(1024, self.sandbox.limits.output_bytes - _REPLY_MARGIN)

    # -- transport ----------------------------------------------------------------------
    def _request(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        nonce = secrets.token_hex(8)
        line = json.dumps({"nonce": nonce, **request})
        end = f"__prmgym_request_{nonce}__"
        k = FOLDER
        script = (
            f"IFS= read -r -d '' request <<'{end}' || :\n{line}\n{end}\n"
            f"exec 3<>{k}/out 4<>{k}/in 5<>{k}/tick || exit 3\n"
            f'{_ALIVE}read -r pid < {k}/pid && alive "$pid" ||'
            f' {{ echo "{nonce} dead"; exit 0; }}\n'
            # The watcher answers for a kernel that dies mid-request (the pid file follows a
            # restore's hand-over, so the new kernel is the one watched).
            f'( while read -r p < {k}/pid && alive "$p"; do read -r -t 0.05 -u 5 _;'
            f' done; echo "{nonce} dead" >&3 ) & watcher=$!\n'
            'printf "%s" "$request" >&4\n'  # the here-document ends it with a newline
            f'while IFS= read -r reply <&3; do case $reply in "{nonce} "*) break;; esac; done\n'
            "kill $watcher 2>/dev/null; wait $watcher 2>/dev/null\n"
            "printf '%s\\n' \"$reply\"\n"
        )
        result = self.sandbox.exec(script, timeout=timeout + GRACE_S)
        if result.timed_out:
            raise KernelDied(
                f"the code ran past its {timeout:g} s timeout and did not stop when interrupted;"
                " it was killed with everything in the sandbox"
            )
        reply = result.stdout.strip()
        if result.restarted:
            raise KernelDied(f"the kernel stopped: {result.restarted}")
        if not reply.startswith(f"{nonce} "):
            raise KernelDied(f"the kernel gave no answer ({result.stderr.strip()[-500:]})")
        body = reply[len(nonce) + 1 :]
        if body == "dead":
            raise KernelDied(
                "the kernel had stopped (it crashed, was stopped, or hit a memory or CPU limit)"
            )
        if result.truncated:
            raise KernelDied("the kernel's answer passed the sandbox's output limit")
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise KernelDied("the kernel answered out of protocol (not a JSON object)")
        return answer


def _check_exec_reply(reply: dict[str, Any]) -> None:
    """Raise KernelDied unless ``reply`` has the shape of the server's ``exec`` answer."""
    shaped = all(type(reply.get(k)) is kind for k, kind in _EXEC_FIELDS.items())
    shaped = shaped and (reply.get("result") is None or isinstance(reply["result"], str))
    error = reply.get("error")
    if error is not None:
        shaped = shaped and (
            isinstance(error, dict)
            and all(isinstance(error.get(k), str) for k in ("ename", "evalue", "traceback"))
        )
    if not shaped:
        raise KernelDied("the kernel answered out of protocol (a malformed exec answer)")
