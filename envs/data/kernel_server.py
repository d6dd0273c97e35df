"""The Python kernel of a data episode: runs inside the sandbox, standard library only.

:class:`prmgym.envs.data.kernel.Kernel` writes this file into the sandbox's ``/tmp`` and
starts it in the background with its folder as the argument. It keeps one namespace alive
between requests, the way a Jupyter kernel does, and answers one JSON request at a time:

- ``exec``: run code; stdout and stderr captured (bounded), the value of a final expression
  shown as its ``repr``, a traceback for an exception, a timer that interrupts code running
  past its timeout (the namespace survives, as after a Jupyter interrupt);
- ``probe``: run code in a fork of the kernel and return the JSON value it leaves in
  ``__probe_result__``; the fork sees every variable and changes none;
- ``snapshot`` / ``restore`` / ``release``: a fork of the kernel waits, frozen, until asked
  to continue, and a copy of the workspace's files is kept beside it; restoring puts the
  files back and makes a fork of the frozen kernel the active one, so a snapshot can be
  restored any number of times;
- ``stats``: the kernel's resident memory.

Transport: requests arrive one per line on the FIFO ``in``; each response is one line on the
FIFO ``out``, prefixed with the request's nonce. Both FIFOs are held open read-write, so no
open ever blocks. The file ``pid`` names the active kernel, for the host's liveness check.
"""

import ast
import builtins
import io
import json
import linecache
import os
import select
import shutil
import signal
import sys
import time
import traceback

FOLDER = "/tmp/.prmgym-kernel"
"""The kernel's files (the FIFOs, its pid); the first argument sets it."""
WORKSPACE = "/workspace"
"""The working directory snapshots copy; the second argument sets it."""
PREFIX = "<cell "


class KernelTimeout(BaseException):
    """Raised in user code by the timer; a BaseException, so ``except Exception`` misses it."""


class BoundedText(io.TextIOBase):
    """A text stream that keeps its first ``limit`` characters and counts the rest."""

    def __init__(self, limit):
        self.limit = limit
        self.parts = []
        self.kept = 0
        self.dropped = 0

    def writable(self):
        """Always: it is an output stream."""
        return True

    def write(self, text):
        """Keep what fits, count the rest."""
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self):
        """What was kept."""
        return "".join(self.parts)


def _on_timer(signum, frame):
    raise KernelTimeout()


def _user_traceback(exc):
    """The traceback of an exception in user code, without the kernel's own frames."""
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(PREFIX):
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        tb = None
    return "".join(traceback.format_exception(type(exc), exc, tb))


class Kernel:
    """One namespace, served one request at a time."""

    def __init__(self):
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.cells = 0
        self.snapshots = 0
        self.inbox = os.open(os.path.join(FOLDER, "in"), os.O_RDWR)
        self.outbox = os.open(os.path.join(FOLDER, "out"), os.O_RDWR)
        self.pending = b""

    # -- transport ----------------------------------------------------------------------
    def next_request(self):
        """The next request; a line without a nonce (nothing to answer) is skipped."""
        while True:
            while b"\n" not in self.pending:
                self.pending += os.read(self.inbox, 1 << 16)
            line, _, self.pending = self.pending.partition(b"\n")
            try:
                request = json.loads(line)
            except ValueError:
                continue
            if isinstance(request, dict) and isinstance(request.get("nonce"), str):
                return request

    def respond(self, nonce, payload):
        """Write the answer to request ``nonce`` as one line."""
        data = (nonce + " " + json.dumps(payload) + "\n").encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            written = os.write(self.outbox, view)
            view = view[written:]

    def announce(self):
        """Name this process as the active kernel (atomically: the host reads it anytime)."""
        path = os.path.join(FOLDER, "pid")
        with open(path + ".new", "w") as handle:
            handle.write(f"{os.getpid()}\n")
        os.replace(path + ".new", path)

    # -- requests -----------------------------------------------------------------------
    def serve(self):
        """Answer requests until the process is told to go."""
        while True:
            request = self.next_request()
            nonce = request.pop("nonce")
            op = request.pop("op")
            try:
                payload = getattr(self, "op_" + op)(nonce, **request)
            except Exception as exc:  # a malformed request: say so, keep serving
                payload = {"failed": f"{type(exc).__name__}: {exc}"}
            if payload is not None:
                self.respond(nonce, payload)
            self.reap()

    def reap(self):
        """Collect the exit status of finished children (released snapshots, probes)."""
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass

    def op_exec(self, nonce, code, timeout, max_output):
        """Run a cell in the namespace."""
        self.cells += 1
        name = f"{PREFIX}{self.cells}>"
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        out, err = BoundedText(max_output), BoundedText(max_output)
        result, error, timed_out = None, None, False
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        signal.signal(signal.SIGALRM, _on_timer)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            tree = ast.parse(code, name)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, name, "exec"), self.namespace)
            if last is not None:
                value = eval(compile(last, name, "eval"), self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    result = repr(value)
        except KernelTimeout:
            timed_out = True
            error = {
                "ename": "TimeoutError",
                "evalue": f"interrupted after {timeout:g} s",
                "traceback": f"TimeoutError: the code ran past {timeout:g} s and was"
                " interrupted; variables set before that are kept",
            }
        except (Exception, KeyboardInterrupt, SystemExit) as exc:
            error = {
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": _user_traceback(exc),
            }
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved
        if result is not None and len(result) > max_output:
            result, cut = result[:max_output], len(result) - max_output
        else:
            cut = 0
        return {
            "stdout": out.value(),
            "stderr": err.value(),
            "result": result,
            "error": error,
            "timed_out": timed_out,
            "dropped": out.dropped + err.dropped + cut,
        }

    def op_probe(self, nonce, code, timeout):
        """Run ``code`` in a fork and return the JSON of its ``__probe_result__``."""
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(read_end)
            signal.signal(signal.SIGALRM, _on_timer)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                sink = io.StringIO()
                sys.stdout = sys.stderr = sink
                scope = dict(self.namespace)
                exec(compile(code, "<probe>", "exec"), scope)
                payload = {"value": scope.get("__probe_result__")}
                data = json.dumps(payload, default=repr)
            except KernelTimeout:
                data = json.dumps({"failed": f"the probe ran past {timeout:g} s"})
            except BaseException as exc:
                data = json.dumps({"failed": f"{type(exc).__name__}: {exc}"})
            with os.fdopen(write_end, "w") as handle:
                handle.write(data)
            os._exit(0)
        os.close(write_end)
        chunks = []
        deadline = time.monotonic() + timeout + 1.0
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([read_end], [], [], left)[0]:
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_end)
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(child, 0)
        if not chunks:
            return {"failed": f"the probe gave no answer within {timeout:g} s"}
        return json.loads(b"".join(chunks))

    def op_snapshot(self, nonce):
        """Fork a frozen copy of the kernel."""
        self.snapshots += 1
        key = f"{os.getpid()}-{self.snapshots}"
        path = os.path.join(FOLDER, f"snap-{key}")
        os.mkfifo(path, 0o600)
        # The files too: code may have written some (small, as a data workspace is).
        shutil.copytree(WORKSPACE, os.path.join(FOLDER, f"files-{key}"), symlinks=True)
        # Opened before the fork: a FIFO drops what is written to it once no process holds it
        # open, so a restore sent before the snapshot had opened it itself would be lost.
        control = os.open(path, os.O_RDWR)
        if os.fork() == 0:
            self.wait_as_snapshot(control, key)
        os.close(control)
        return {"id": key}

    def wait_as_snapshot(self, control, key):
        """Stay frozen, reading FIFO ``control``.

        On ``go NONCE`` a fork becomes the active kernel; on ``exit`` this process stops.
        """
        pending = b""
        while True:
            while b"\n" not in pending:
                pending += os.read(control, 4096)
            line, _, pending = pending.partition(b"\n")
            word, _, nonce = line.decode().partition(" ")
            if word == "exit":
                os._exit(0)
            if word == "go" and os.fork() == 0:
                os.close(control)
                restore_files(os.path.join(FOLDER, f"files-{key}"))
                self.announce()
                self.respond(nonce, {"restored": True})
                self.serve()
            self.reap()

    def op_restore(self, nonce, id):
        """Hand over to a fork of snapshot ``id``, then go."""
        path = os.path.join(FOLDER, f"snap-{id}")
        if not os.path.exists(path):
            return {"failed": f"no snapshot {id!r} (released, or from an earlier kernel)"}
        control = os.open(path, os.O_RDWR)
        os.write(control, f"go {nonce}\n".encode())
        os.close(control)
        # Hand over once the successor has named itself; until then the host sees this one.
        deadline = time.monotonic() + 10.0
        mine = f"{os.getpid()}\n"
        while time.monotonic() < deadline:
            with open(os.path.join(FOLDER, "pid")) as handle:
                if handle.read() != mine:
                    os._exit(0)
            time.sleep(0.001)
        return {"failed": f"snapshot {id!r} did not resume"}

    def op_release(self, nonce, id):
        """Let snapshot ``id`` go."""
        path = os.path.join(FOLDER, f"snap-{id}")
        if os.path.exists(path):
            control = os.open(path, os.O_RDWR)
            os.write(control, b"exit \n")
            os.close(control)
            os.unlink(path)
            shutil.rmtree(os.path.join(FOLDER, f"files-{id}"), ignore_errors=True)
        return {"released": True}

    def op_stats(self, nonce):
        """The kernel's resident memory."""
        with open("/proc/self/status") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return {"rss_kb": int(fields["VmRSS"].split()[0]), "cells": self.cells}


def restore_files(saved):
    """Make the workspace hold what ``saved`` holds, links copied as links."""
    for entry in os.scandir(WORKSPACE):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
    shutil.copytree(saved, WORKSPACE, symlinks=True, dirs_exist_ok=True)


def main():
    """Import the preloaded modules, name this process the kernel and serve."""
    global FOLDER, WORKSPACE
    FOLDER, WORKSPACE = sys.argv[1], sys.argv[2]
    for module in filter(None, os.environ.get("PRMGYM_KERNEL_PRELOAD", "").split(",")):
        try:
            __import__(module)
        except ImportError:
            pass
    with open(os.path.join(FOLDER, "group"), "w") as handle:
        handle.write(f"{os.getpgid(0)}\n")  # every fork of the kernel stays in this group
    kernel = Kernel()
    kernel.announce()
    kernel.serve()


if __name__ == "__main__":
    main()
