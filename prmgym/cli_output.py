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
