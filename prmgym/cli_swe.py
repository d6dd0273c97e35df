"""The ``prmgym swe`` commands: make SWE tasks (``synth``).

Registered on the app in :mod:`prmgym.cli`; heavy parts are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prmgym.cli_output import console as _console
from prmgym.cli_output import fail as _fail
from prmgym.cli_output import progress as _progress
from prmgym.cli_output import user_errors as _user_errors

app = typer.Typer(name="swe", no_args_is_help=True, add_completion=False)


@app.callback()
def swe() -> None:
    """SWE tasks: real packages, real test suites, bugs planted procedurally."""
    # A callback keeps `synth` a subcommand while it is the only one.


@app.command()
def synth(
    package: Annotated[
        list[str] | None,
        typer.Option(
            "--package",
            help="NAME==VERSION of a PyPI release whose sdist ships its tests, e.g."
            " toolz==1.0.0 (repeat for several). Catalog releases use their recorded"
            " layout and test setup; others are guessed from the sdist.",
        ),
    ] = None,
    catalog: Annotated[
        bool,
        typer.Option(
            "--catalog",
            help="Every package of the swe-lite catalog, each with its own task count"
            " (how the shipped swe-lite task file is made).",
        ),
    ] = False,
    count: Annotated[
        int | None,
        typer.Option(
            min=1, help="Tasks per package (default: the catalog's count, or 10 otherwise)."
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(min=0, help="Fixes which bugs are drawn; the same seed makes the same tasks."),
    ] = 0,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Task file to write (JSONL, one SWE-bench instance a line; default"
            " NAME-VERSION.tasks.jsonl, or swe-lite.tasks.jsonl with --catalog)."
        ),
    ] = None,
) -> None:
    """Synthesize SWE tasks: plant bugs in a package, keep those its tests catch.

    Downloads the sdist with pip (once, cached), builds its test
    environment (once, shared read-only by every episode), runs its
    suite twice in a sandbox, then plants procedural AST bugs (flipped
    operators, changed constants, negated conditions, removed branches
    or returns, swapped arguments) one at a time. A bug is kept when 1
    to 20 tests that passed now fail, twice; those are its FAIL_TO_PASS,
    the tests still passing its PASS_TO_PASS. The problem statement
    lists the failing tests and their one-line failure reasons.

    Task files record how to rebuild each bug (release, file, position,
    operator, seed, hash of the original code), never third-party code.
    """
    from prmgym.envs.swe import catalog as swe_catalog
    from prmgym.envs.swe.synth import synthesize, write_tasks
    from prmgym.envs.swe.tasks import LocalSource
    from prmgym.envs.swe.workspace import source_tree
    from prmgym.runs import writable_dir

    if catalog == bool(package):
        _fail("name packages with --package NAME==VERSION, or pass --catalog (not both)")
    requirements = (
        [entry.requirement for entry in swe_catalog.CATALOG.values()] if catalog else package
    ) or []
    for requirement in requirements:
        if "==" not in requirement:
            _fail(f"--package {requirement!r}: give NAME==VERSION, e.g. toolz==1.0.0")
    if output is None:
        output = (
            Path("swe-lite.tasks.jsonl")
            if catalog
            else Path(f"{requirements[0].replace('==', '-')}.tasks.jsonl")
        )
    console = _console()
    instances = []
    with _user_errors():
        writable_dir(output.parent)  # checked before the synthesis, which takes minutes
        with _progress(console) as bar:
            for requirement in requirements:
                entry = swe_catalog.find(requirement)
                if entry is None:
                    console.print(f"{requirement} is not in the catalog: guessing its layout")
                    tree = source_tree(
                        LocalSource(kind="sdist", requirement=requirement), requirement
                    )
                    entry = swe_catalog.guess(requirement, tree)
                result = synthesize(
                    entry,
                    count or entry.tasks,
                    seed,
                    progress=bar,
                    log=lambda line: console.print(line, highlight=False),
                )
                instances += result.instances
        write_tasks(output, instances)
    console.print(f"{len(instances)} tasks written to [bold]{output}[/bold]")
