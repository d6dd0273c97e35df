"""Fuzz every registered env with generated hostile actions; exit 1 if any env raised.

Each id takes ``--actions`` actions from :class:`prmgym.envs.fuzzing.ActionFuzzer` (deep
nesting, wrong argument types for every tool, NUL and control characters, huge numbers and
strings, other families' tools, garbage, adversarial and valid calls), one id after another.
A bad action must come back as an observation; any exception is counted and its first
occurrences are printed (id, action, exception, where it was raised).

    .venv/bin/python scripts/fuzz_actions.py                      # 10,000 per id, every id
    .venv/bin/python scripts/fuzz_actions.py --ids prmgym/SearchQA-v0 --actions 500 --seed 3

Valid calls run for real (a sandboxed shell or kernel, Chromium), so an id takes minutes.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import prmgym
from prmgym.envs.fuzzing import CATEGORIES, FuzzReport, fuzz_id


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Categories: {', '.join(CATEGORIES)}.",
    )
    parser.add_argument(
        "--actions", type=int, default=10_000, help="actions per id (default 10000)"
    )
    parser.add_argument(
        "--ids",
        nargs="+",
        default=None,
        metavar="ID",
        help="env ids to fuzz (default: every registered prmgym id)",
    )
    parser.add_argument("--seed", type=int, default=0, help="generator and reset seed")
    parser.add_argument(
        "--reset-every", type=int, default=50, help="steps between resets of a running episode"
    )
    parser.add_argument("--show", type=int, default=5, help="crashes to print per id (default 5)")
    args = parser.parse_args(argv)
    if args.actions < 1 or args.reset_every < 1 or args.show < 0:
        parser.error("--actions and --reset-every must be at least 1, --show at least 0")
    known = prmgym.registered_envs()
    args.ids = args.ids or sorted(known)
    unknown = [env_id for env_id in args.ids if env_id not in known]
    if unknown:
        parser.error(f"unknown ids {unknown}; registered: {', '.join(sorted(known))}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Fuzz the ids, print a table, return 1 if any env raised."""
    args = _arguments(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)  # a log keeps whole ids
    reports: list[FuzzReport] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("exceptions: {task.fields[exceptions]}"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        for env_id in args.ids:
            bar = progress.add_task(env_id, total=args.actions, exceptions=0)

            def advance(report: FuzzReport, bar: int = bar) -> None:
                progress.update(bar, completed=report.actions, exceptions=report.exceptions)

            reports.append(
                fuzz_id(
                    env_id,
                    args.actions,
                    seed=args.seed,
                    reset_every=args.reset_every,
                    keep=args.show,
                    on_step=advance,
                )
            )
    table = Table(title=f"Fuzzed actions (seed {args.seed})")
    for column in ("id", "actions run", "action errors", "resets", "exceptions", "wall time"):
        table.add_column(column, justify="left" if column == "id" else "right", no_wrap=True)
    for report in reports:
        table.add_row(
            report.env_id,
            f"{report.actions:,}",
            f"{report.action_errors:,}",
            f"{report.resets:,}",
            f"{report.exceptions:,}",
            f"{report.wall_s:.0f} s",
        )
    console.print(table)
    for report in reports:
        for crash in report.crashes:
            console.print(
                f"[red]{escape(crash.env_id)}[/] step {crash.step} ({crash.category}):"
                f" {escape(crash.exception)}: {escape(ascii(crash.message))}\n"
                f"  action: {escape(ascii(crash.action[:300]))}\n  at {escape(crash.where)}"
            )
    return 1 if any(report.exceptions for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
