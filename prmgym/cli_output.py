"""Console output shared by the ``prmgym`` commands.

Text from agents and envs is hostile: it may hold terminal escapes (which can move the cursor,
rewrite the screen or retitle the window) and rich markup. :func:`shown` makes it print
literally; :func:`user_errors` makes every command report the errors a user can fix the same
way, as one line and exit status 2.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

_KEPT = "\n\t"
"""Control characters that are legitimate layout in printed text."""

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Bidirectional overrides: they make printed text read differently from what it holds."""


def console() -> Any:
    """A rich console (imported lazily, so ``--help`` stays instant)."""
    from rich.console import Console

    return Console()


def printable(text: str) -> str:
    r"""``text`` with control characters (ESC, CR, NUL, C1, bidi overrides) written as escapes.

    Newlines and tabs are kept; everything else a terminal would act on instead of showing
    becomes ``\x1b``-style text, so agent or env output cannot drive the terminal.
    """
    out = []
    for char in text:
        if char in _KEPT or not (unicodedata.category(char) == "Cc" or char in _BIDI):
            out.append(char)
        elif char == "\r":
            out.append("\\r")
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def shown(text: object) -> str:
    """``text`` made safe to put inside a rich markup string.

    Control characters are escaped (:func:`printable`) and markup such as ``[bold]`` or
    ``[/]`` prints literally.
    """
    from rich.markup import escape

    return escape(printable(str(text)))


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as a one-line error and exit with ``code`` (2: a usage error)."""
    console().print(f"[red]error:[/red] {shown(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report errors a user can fix as one line and exit 2, instead of a traceback.

    Those are prmgym's own errors (a bad spec, config or task file) and the operating
    system's (a folder that cannot be written, a file that cannot be read).
    """
    from prmgym.errors import PrmgymError

    try:
        yield
    except PrmgymError as exc:
        fail(str(exc))
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"cannot use{where}: {exc.strerror or exc}")


def load_plugins(modules: list[str]) -> None:
    """Load every plugin (:func:`prmgym.plugins.load_all`); a broken installed one is a warning.

    The warning is one line on stderr; a module named by ``--import`` or ``PRMGYM_IMPORT``
    that cannot be imported is an error (exit 2).
    """
    import warnings

    from prmgym import plugins

    with user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", plugins.PluginWarning)
        plugins.load_all(modules)
    for warning in caught:
        if issubclass(warning.category, plugins.PluginWarning):
            from rich.console import Console

            Console(stderr=True).print(
                f"[yellow]warning:[/yellow] {shown(warning.message)}",
                highlight=False,
                soft_wrap=True,
            )
        else:  # someone else's warning, passed on as it came
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


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
