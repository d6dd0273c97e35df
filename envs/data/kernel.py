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
- the kernel dying (``os._exit``, a segfault, the memory limit): the next request sees it
  dead and the kernel is restarted, empty. Each restart is reported in ``Execution.restarted``
  so the episode can be marked.
"""

from __future__ import annotations

import json
import secrets
import shlex
from dataclasses import dataclass
from importlib import resources
from typing import Any

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import WORKSPACE, Sandbox

FOLDER = "/tmp/.prmgym-kernel"
"""The kernel's files inside the sandbox: the server, its FIFOs, its pid."""
GRACE_S = 10.0
"""How long past a request's timeout before the sandbox kills everything in it."""
_START_TIMEOUT_S = 60.0
_PRELOAD = "pandas,numpy"
# Whether a process runs: a zombie (a dead kernel its parent has not collected) does not.
_ALIVE = (
    'alive() { local s; read -r _ _ s _ < "/proc/$1/stat" 2>/dev/null'
    ' && [ "$s" != Z ] && [ "$s" != X ]; }\n'
)


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
            f" {FOLDER}/server.py {FOLDER} {WORKSPACE} </dev/null >{FOLDER}/log 2>&1 &\n"
            f"exec 5<>{FOLDER}/tick\n"
            f"{_ALIVE}while [ ! -s {FOLDER}/pid ] && alive $!; do\n"
            "  read -r -t 0.01 -u 5 _\n"
            "done\n"
            f"[ -s {FOLDER}/pid ] || {{ cat {FOLDER}/log; exit 1; }}\n"
        )
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
        if "failed" in reply:
            raise SandboxError(f"the probe failed: {reply['failed']}")
        return reply["value"]

    def snapshot(self) -> str:
        """Freeze a copy of the kernel (a fork: memory is shared until either side writes)."""
        return str(self._request({"op": "snapshot"}, 10.0)["id"])

    def restore(self, key: str) -> None:
        """Make a copy of snapshot ``key`` the kernel; the snapshot stays for later restores.

        Raises:
            SandboxError: No such snapshot (released, or taken before a restart).
        """
        reply = self._request({"op": "restore", "id": key}, 10.0)
        if "failed" in reply:
            raise SandboxError(reply["failed"])

    def release(self, key: str) -> None:
        """Let snapshot ``key``'s process go."""
        self._request({"op": "release", "id": key}, 10.0)

    def memory_kb(self) -> int:
        """The kernel's resident memory in KiB."""
        return int(self._request({"op": "stats"}, 10.0)["rss_kb"])

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
            raise KernelDied("the kernel had stopped (it crashed, or hit a memory or CPU limit)")
        return dict(json.loads(body))
