"""The data family's kernel: what the sandbox costs a cell, and what a snapshot costs.

Step: one cell in the episode's kernel (in a bubblewrap sandbox, reached through the
sandbox's shell) against the same cell in a bare local kernel: the same kernel server run as a
plain subprocess, spoken to directly over its FIFOs (no sandbox, no shell, no limits). Two
cells: ``x = 1`` (pure round trip) and a group-by over the penguins table (a typical cell).

Snapshot: ``snapshot()`` + ``restore()`` (a fork of the kernel and a copy of the workspace's
files) against the alternative without snapshots, replaying the episode's cells in a fresh
kernel (here the three cells that built the state).

Memory: the kernel's resident memory, and the proportional memory (PSS) of everything in the
sandbox before and after five snapshots: forks share their pages until written.

    .venv/bin/python benchmarks/bench_data.py [--steps 200] [--snapshots 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prmgym.envs.data import kernel_server
from prmgym.envs.data.kernel import Kernel
from prmgym.envs.data.tables import write_tables
from prmgym.sandboxes.base import SandboxLimits
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox

SETUP = [
    "import pandas as pd",
    "df = pd.read_csv('penguins.csv')",
    "by_species = df.groupby('species').body_mass_g.mean()",
]
CELLS = {"x = 1": "x = 1", "group-by": "df.groupby(['species', 'island']).bill_length_mm.mean()"}
PSS = (
    "import glob\n__probe_result__ = 0\nfor path in glob.glob('/proc/[0-9]*/smaps_rollup'):\n"
    "    try:\n        for line in open(path):\n            if line.startswith('Pss:'):\n"
    "                __probe_result__ += int(line.split()[1])\n    except OSError:\n        pass"
)


class BareKernel:
    """The kernel server as a plain local subprocess, spoken to over its FIFOs directly."""

    def __init__(self, workspace: Path):
        self.folder = Path(tempfile.mkdtemp(prefix="bare-kernel-"))
        for name in ("in", "out"):
            os.mkfifo(self.folder / name)
        self.process = subprocess.Popen(
            # The same reply budget as the sandboxed kernel's (the sandbox's output limit).
            [
                sys.executable,
                "-u",
                kernel_server.__file__,
                str(self.folder),
                str(workspace),
                str(SandboxLimits().output_bytes - 64),
            ],
            cwd=workspace,
            env={**os.environ, "PRMGYM_KERNEL_PRELOAD": "pandas,numpy"},
        )
        self.inbox = os.open(self.folder / "in", os.O_RDWR)
        self.outbox = open(os.open(self.folder / "out", os.O_RDWR), "rb", buffering=0)  # noqa: SIM115
        self.count = 0

    def execute(self, code: str) -> dict:
        self.count += 1
        nonce = str(self.count)
        request = {"nonce": nonce, "op": "exec", "code": code, "timeout": 30, "max_output": 8000}
        os.write(self.inbox, (json.dumps(request) + "\n").encode())
        line = b""
        while not line.endswith(b"\n"):
            if self.process.poll() is not None:
                raise RuntimeError(f"the bare kernel exited ({self.process.returncode})")
            line += self.outbox.read(1 << 16)
        return json.loads(line.decode().partition(" ")[2])

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def median_ms(action, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="cells timed per measure")
    parser.add_argument("--snapshots", type=int, default=20, help="snapshot/restore pairs timed")
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="bench-data-"))
    write_tables(["penguins"], workspace)

    sandbox = BubblewrapSandbox(workspace, read_only=[sys.base_prefix, sys.prefix])
    started = time.perf_counter()
    sandbox.start()
    kernel = Kernel(sandbox, python=sys.executable)
    kernel.start()
    start_ms = (time.perf_counter() - started) * 1000
    bare = BareKernel(workspace)
    for code in SETUP:
        assert kernel.execute(code).error is None and bare.execute(code)["error"] is None

    print(f"{'measure':<38}{'sandboxed':>12}{'bare':>12}{'ratio':>8}")
    for name, code in CELLS.items():
        sandboxed = median_ms(lambda code=code: kernel.execute(code), args.steps)
        local = median_ms(lambda code=code: bare.execute(code), args.steps)
        print(
            f"{'step: ' + name:<38}{sandboxed:>10.2f}ms{local:>10.2f}ms{sandboxed / local:>7.1f}x"
        )

    def snapshot_and_restore() -> None:
        key = kernel.snapshot()
        kernel.restore(key)
        kernel.release(key)

    def replay() -> None:
        fresh = Kernel(sandbox, python=sys.executable)
        fresh.start()
        for code in SETUP:
            fresh.execute(code)

    snap = median_ms(snapshot_and_restore, args.snapshots)
    replayed = median_ms(replay, max(3, args.snapshots // 4))
    # The replays started kernels of their own; the last one is the live kernel now.
    for code in SETUP:
        kernel.execute(code)
    row = "snapshot + restore vs replay"
    print(f"{row:<38}{snap:>10.2f}ms{replayed:>10.2f}ms{snap / replayed:>7.2f}x")
    key = kernel.snapshot()
    snapshot_ms = median_ms(lambda: kernel.release(kernel.snapshot()), args.snapshots)
    restore_ms = median_ms(lambda: kernel.restore(key), args.snapshots)
    print(f"{'snapshot alone / restore alone':<38}{snapshot_ms:>10.2f}ms{restore_ms:>10.2f}ms")
    kernel.release(key)

    before = kernel.probe(PSS)
    keys = [kernel.snapshot() for _ in range(5)]
    after = kernel.probe(PSS)
    print(f"start (sandbox + kernel, pandas loaded): {start_ms:.0f} ms")
    print(f"kernel resident memory: {kernel.memory_kb() / 1024:.1f} MiB")
    print(
        f"sandbox PSS: {before / 1024:.1f} MiB; with 5 snapshots {after / 1024:.1f} MiB"
        f" (+{(after - before) / 5 / 1024:.2f} MiB each)"
    )
    for key in keys:
        kernel.release(key)
    bare.close()
    sandbox.close()


if __name__ == "__main__":
    main()
