"""P1 and P2: what the bubblewrap sandbox costs against doing the same thing bare.

P1, a step: one command in the sandbox's persistent shell against one command in a bare
persistent bash over pipes (the floor: no namespaces, no limits, no control files). Both run
``true`` (pure round trip) and a small ``python -c`` (a typical tool call).

P2, a reset: restoring a workspace snapshot in the sandbox against a plain ``shutil.copytree``
of the same tree on the host. The tree is a real source package (gymnasium's, about 360
files) used as the seed. Also start-up time and the sandbox's memory: the resident memory of
its processes plus what its workspace holds in tmpfs.

    .venv/bin/python benchmarks/bench_sandbox.py [--steps 200] [--resets 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prmgym.sandboxes.base import SandboxLimits
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox

PYTHON = f"{sys.executable} -c 'import json; print(json.dumps([1, 2]))'"


class BareShell:
    """A persistent bash over pipes with an end-of-command marker: P1's baseline."""

    def __init__(self, cwd: Path):
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
        )

    def exec(self, command: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(
            f"{command} </dev/null >/dev/null 2>&1; echo __end__ $?\n".encode()
        )
        self.process.stdin.flush()
        while not self.process.stdout.readline().startswith(b"__end__"):
            pass

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def timed(action, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def report(name: str, sandboxed: list[float], bare: list[float], unit: float = 1e3) -> None:
    s, b = statistics.median(sandboxed), statistics.median(bare)
    print(
        f"{name:<34} sandboxed {s * unit:8.2f} ms   bare {b * unit:8.2f} ms   "
        f"ratio {s / b:5.2f}x   (medians of {len(sandboxed)})",
        flush=True,
    )


def sandbox_memory_mb(box: BubblewrapSandbox) -> tuple[float, float]:
    """Resident memory of the sandbox's processes, and its workspace's size, in MB."""
    rss = 0
    for pid in box._sandbox_pids():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        except OSError:
            continue
    used = box.exec("du -sk /workspace | cut -f1").stdout.strip()
    return rss / 1024, int(used or 0) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200, help="commands timed per kind (P1)")
    parser.add_argument("--resets", type=int, default=20, help="resets timed (P2)")
    args = parser.parse_args()
    import gymnasium

    seed = Path(gymnasium.__file__).parent
    files = sum(1 for _ in seed.rglob("*") if _.is_file())
    size = sum(p.stat().st_size for p in seed.rglob("*") if p.is_file()) / 1e6
    print(f"seed: {seed} ({files} files, {size:.1f} MB)")
    prefix = [sys.base_prefix, sys.prefix]
    limits = SandboxLimits(workspace_mb=256)

    starts = []
    for _ in range(5):
        begin = time.perf_counter()
        with BubblewrapSandbox(seed, limits=limits, read_only=prefix):
            starts.append(time.perf_counter() - begin)
    print(f"{'start (with the seed copied in)':<34} {statistics.median(starts) * 1e3:8.2f} ms")

    scratch = Path(tempfile.mkdtemp(prefix="prmgym-bench-"))
    bare = BareShell(scratch)
    with BubblewrapSandbox(seed, limits=limits, read_only=prefix) as box:
        for command in ("true", PYTHON):
            box.exec(command)
            bare.exec(command)
            report(
                f"P1 step: {command.split()[0].rsplit('/', 1)[-1]}",
                timed(lambda c=command: box.exec(c), args.steps),
                timed(lambda c=command: bare.exec(c), args.steps),
            )
        token = box.snapshot()
        snapshot_s = timed(box.snapshot, args.resets)
        restore_s = timed(lambda: box.restore(token), args.resets)
        copies = []
        for i in range(args.resets):
            target = scratch / f"copy-{i}"
            start = time.perf_counter()
            shutil.copytree(seed, target, symlinks=True)
            copies.append(time.perf_counter() - start)
            shutil.rmtree(target)
        report("P2 reset: restore vs copytree", restore_s, copies)
        report("P2 snapshot vs copytree", snapshot_s, copies)
        rss, workspace = sandbox_memory_mb(box)
        print(f"memory per sandbox: {rss:.1f} MB resident + {workspace:.1f} MB workspace tmpfs")
        print(f"limits enforced on this host: {', '.join(box.enforced)}")
    bare.close()
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
