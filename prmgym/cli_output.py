"""Console output shared by the ``prmgym`` commands."""

from __future__ import annotations

from typing import Any, NoReturn

import typer


def console() -> Any:
    """A rich console (imported lazily, so ``--help`` stays instant)."""
    from rich.console import Console

    return Console()


def fail(message: str) -> NoReturn:
    """Print ``message`` as an error and exit with status 2."""
    console().print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def progress(out: Any) -> Any:
    """A rich progress display with a bar, done/total and elapsed time, printing to ``out``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    )
