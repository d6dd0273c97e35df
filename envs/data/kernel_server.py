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
  to continue, holding the workspace's layout (folders and links) in its memory; restoring
  makes a fork of the frozen kernel the active one, which empties the workspace and remakes
  that layout, so a snapshot can be restored any number of times. The files' contents are
  not kept here, where agent code could change them: the host copies the regular files the
  snapshot lists and writes them back after a restore;
- ``stats``: the kernel's resident memory.

Transport: requests arrive one per line on the FIFO ``in``; each response is one line on the
FIFO ``out``, prefixed with the request's nonce, at most the third argument's bytes (the
sandbox's output limit: longer output is cut to fit and counted as dropped). Both FIFOs are
held open read-write, so no open ever blocks. The file ``pid`` names the active kernel, for
the host's liveness check.
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
REPLY_BYTES = 60_000
"""The most bytes of one reply line; the third argument sets it."""
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
        data = encode(nonce, payload)
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
        reply = {
            "stdout": out.value(),
            "stderr": err.value(),
            "result": result,
            "error": error,
            "timed_out": timed_out,
            "dropped": out.dropped + err.dropped + cut,
        }
        return fit(nonce, reply)

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
                if len(data) + len(nonce) + 2 > REPLY_BYTES:
                    data = json.dumps({"failed": f"the probe's value passed {REPLY_BYTES} bytes"})
            except KernelTimeout:
                data = json.dumps({"failed": f"the probe ran past {timeout:g} s"})
            except BaseException as exc:
                data = json.dumps({"failed": f"{type(exc).__name__}: {exc}"[:2000]})
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
        """Fork a frozen copy of the kernel; list the regular files the host must keep."""
        folders, links, files = workspace_layout()
        if len(encode(nonce, {"id": "x" * 40, "files": files})) > REPLY_BYTES:
            return {"failed": f"the workspace holds too many files to snapshot ({len(files)})"}
        self.snapshots += 1
        key = f"{os.getpid()}-{self.snapshots}"
        path = os.path.join(FOLDER, f"snap-{key}")
        os.mkfifo(path, 0o600)
        # Opened before the fork: a FIFO drops what is written to it once no process holds it
        # open, so a restore sent before the snapshot had opened it itself would be lost.
        control = os.open(path, os.O_RDWR)
        if os.fork() == 0:
            self.wait_as_snapshot(control, folders, links)
        os.close(control)
        return {"id": key, "files": files}

    def wait_as_snapshot(self, control, folders, links):
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
                restore_layout(folders, links)
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
        return {"released": True}

    def op_stats(self, nonce):
        """The kernel's resident memory."""
        with open("/proc/self/status") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return {"rss_kb": int(fields["VmRSS"].split()[0]), "cells": self.cells}


def encode(nonce, payload):
    """The reply line for request ``nonce`` as bytes (UTF-8: the host reads UTF-8)."""
    text = nonce + " " + json.dumps(payload, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "replace")


def fit(nonce, reply):
    """Cut the longest texts of an ``exec`` reply until it fits ``REPLY_BYTES``, counting them."""
    while (excess := len(encode(nonce, reply)) - REPLY_BYTES) > 0:
        error = reply["error"] or {}
        fields = [(reply, k) for k in ("stdout", "stderr", "result") if reply[k]]
        fields += [(error, k) for k in ("traceback", "evalue", "ename")]
        holder, key = max(fields, key=lambda field: len(field[0][field[1]]))
        text = holder[key]
        if not text:
            break  # nothing left to cut (a budget too small to hold an empty reply)
        # Each character takes at least one byte, so cutting `excess` of them is enough.
        holder[key] = text[: max(0, len(text) - excess)]
        reply["dropped"] += len(text) - len(holder[key])
    return reply


def workspace_layout():
    """The workspace's folders, links (with their targets) and regular files, relative."""
    folders, links, files = [], {}, []
    for top, dirs, names in os.walk(WORKSPACE):
        relative = os.path.relpath(top, WORKSPACE)
        for name in dirs + names:
            path = os.path.normpath(os.path.join(relative, name))
            full = os.path.join(top, name)
            if os.path.islink(full):
                links[path] = os.readlink(full)
            elif name in dirs:
                folders.append(path)
            elif os.path.isfile(full):
                files.append(path)
    return folders, links, files


def restore_layout(folders, links):
    """Empty the workspace and remake its folders and links; the host writes the files."""
    for entry in os.scandir(WORKSPACE):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
    for folder in folders:
        os.makedirs(os.path.join(WORKSPACE, folder), exist_ok=True)
    for path, target in links.items():
        os.symlink(target, os.path.join(WORKSPACE, path))


def main():
    """Import the preloaded modules, name this process the kernel and serve."""
    global FOLDER, WORKSPACE, REPLY_BYTES
    FOLDER, WORKSPACE, REPLY_BYTES = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
