"""Run directories: ``runs/<name>/`` with config, trajectories, metrics and a report.

Everything a run produced is in its directory, in plain formats (YAML, JSONL, JSON, HTML), so
a run can be re-scored, re-plotted or used for training without the process that made it.
Episodes are appended to ``trajectories.jsonl`` as they finish, so a run that is stopped keeps
them; :func:`stop_on_signals` turns SIGINT and SIGTERM into an exception, so the code that was
running closes its envs and writes what finished before the process exits.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from prmgym.errors import ConfigError
from prmgym.trajectory import Trajectory, save_trajectories
from prmgym.yaml_files import read_yaml

TRAJECTORIES = "trajectories.jsonl"
"""The file of a run's episodes, one JSON trajectory per line."""


def _checked_name(base: str) -> str:
    if not re.fullmatch(r"[\w.+-]+", base):
        raise ConfigError(f"run name {base!r} may hold only letters, digits and . _ + -")
    return base


def new_run_dir(root: str | Path, name: str | None, prefix: str = "run") -> Path:
    """Create ``root/name`` (default ``prefix-YYYYmmdd-HHMMSS``); an existing one gets ``-2``...

    Raises:
        ConfigError: The name holds other characters than letters, digits and ``. _ + -``, or
            the folder cannot be created (the message names it and says why).
    """
    base = _checked_name(name or f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}")
    root = Path(root)
    candidate, n = root / base, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{base}-{n}"
    return writable_dir(candidate, "run folder", exist_ok=False)


def writable_dir(path: str | Path, what: str = "output folder", *, exist_ok: bool = True) -> Path:
    """Create the folder ``path`` (and its parents) unless it exists, and check it takes files.

    Commands call this before their work, so a folder they cannot write fails at once, not
    after an hour of training or the first finished episode.

    Args:
        path: The folder.
        what: What the folder is, for the message (``run folder``, ``output folder``).
        exist_ok: Whether an existing folder will do; False claims a new one.

    Raises:
        ConfigError: It cannot be created or written in (a file in the way, no permission, a
            read-only disk); the message names ``what`` and the folder and says why.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
        # A uniquely named probe, so processes checking one folder at once do not collide.
        with tempfile.NamedTemporaryFile(dir=path, prefix=".writable-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = f"a file is in the way ({reason})"
        raise ConfigError(f"cannot write the {what} {path}: {reason}") from None
    return path


def existing_run_dir(root: str | Path, name: str | None) -> Path:
    """The folder ``root/name`` of an earlier run, to resume.

    Raises:
        ConfigError: No name was given, or no run of that name holds a ``config.yaml``.
    """
    if not name:
        raise ConfigError("--resume needs the --name of the run to continue")
    run_dir = Path(root) / _checked_name(name)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"no run to resume at {run_dir} (it has no config.yaml)")
    return run_dir


def read_config(run_dir: Path) -> dict[str, Any]:
    """A run's ``config.yaml``.

    Raises:
        ConfigError: It is not YAML (the message names the line), empty, or not a mapping.
    """
    loaded = read_yaml(run_dir / "config.yaml")
    if not isinstance(loaded, dict):
        raise ConfigError(f"{run_dir / 'config.yaml'} does not hold a run's settings")
    return loaded


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    """Write ``config.yaml``: the settings that made the run."""
    _replace(run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))


def read_finished(run_dir: Path) -> list[Trajectory]:
    """The episodes a run has appended so far.

    A last line cut short (the process was killed while writing it) is dropped: that episode
    did not finish being recorded and runs again.

    Raises:
        ConfigError: A line other than the last is not a trajectory.
    """
    path = run_dir / TRAJECTORIES
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    finished = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            finished.append(Trajectory.model_validate_json(line))
        except ValueError:
            if lineno < len(lines):
                raise ConfigError(f"{path}, line {lineno}: not a trajectory") from None
    return finished


def append_trajectory(run_dir: Path, trajectory: Trajectory) -> None:
    """Append one finished episode to ``trajectories.jsonl``, on disk when this returns."""
    with (run_dir / TRAJECTORIES).open("a", encoding="utf-8") as fh:
        fh.write(trajectory.model_dump_json() + "\n")
        fh.flush()


def write_run(
    run_dir: Path,
    config: dict[str, Any],
    trajectories: Sequence[Trajectory],
    metrics: dict[str, Any],
) -> None:
    """Write config.yaml, trajectories.jsonl (in the order given), metrics.json and report.html.

    Each file is replaced whole, so a process killed meanwhile leaves the old one, not half.
    """
    from prmgym.report import render_report

    write_config(run_dir, config)
    scratch = run_dir / f".{TRAJECTORIES}.tmp"
    save_trajectories(trajectories, scratch)
    os.replace(scratch, run_dir / TRAJECTORIES)
    _replace(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    _replace(run_dir / "report.html", render_report(config, trajectories, metrics))


def _replace(path: Path, text: str) -> None:
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)


class Stopped(KeyboardInterrupt):
    """The process was asked to stop by a signal (see :func:`stop_on_signals`).

    A ``KeyboardInterrupt``, so code that cleans up after Ctrl-C cleans up after SIGTERM too.

    Attributes:
        signum: The signal's number (``signal.SIGINT``, ``signal.SIGTERM``).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within this block SIGINT and SIGTERM raise :class:`Stopped` in the main thread.

    ``finally`` blocks and context managers then run: envs close, temp folders go, what
    finished is written. The first signal does that; a second one while cleaning up ends the
    process at once, as the signal would by default. The previous handlers come back on exit.
    """
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in watched}

    def stop(signum: int, _frame: object) -> None:
        for other in watched:
            signal.signal(other, signal.SIG_DFL)
        raise Stopped(signum)

    for signum in watched:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
