"""``prmgym new-env NAME``: scaffold an installable plugin package for a new family.

Registered on the app in :mod:`prmgym.cli`; the templates and the writing are in
:mod:`prmgym.scaffold`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prmgym.cli_output import console as _console
from prmgym.cli_output import shown as _shown
from prmgym.cli_output import user_errors as _user_errors


def new_env(
    name: Annotated[
        str,
        typer.Argument(
            help="The package, family and env namespace: a lowercase Python identifier,"
            " e.g. inventory."
        ),
    ],
    output: Annotated[
        Path | None, typer.Option(help="Folder to write the package into; default: ./NAME.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Write into a folder that holds files, replacing the scaffold's own."),
    ] = False,
) -> None:
    """Scaffold a new environment family as an installable plugin package.

    The package runs a toy task (price a shopping list with a price
    lookup and a calculator) end to end, with every piece a family
    declares: env, tasks, verifier, rubric, oracle, wrong- and
    random-action generators, perturbations, prompt, the Family
    declaration, tests, and a pyproject with the prmgym.plugins entry
    point. It passes its own tests and `prmgym check NAME/Name-v0` as
    generated; replace the toy world with yours piece by piece.
    """
    from prmgym.scaffold import env_id_for, scaffold

    folder = output if output is not None else Path(name)
    with _user_errors():
        written = scaffold(name, folder, force=force)
    console = _console()
    console.print(
        _shown(
            f"Wrote {len(written)} files into {folder}: the {name!r} family, env id"
            f" {env_id_for(name)}."
        ),
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        _shown(
            "Next:\n"
            f"  pip install -e {folder}\n"
            f"  prmgym check {env_id_for(name)}\n"
            f"  pytest {folder / 'tests'}\n"
            f"Then replace the toy world piece by piece; {folder / 'README.md'} lists the pieces."
        ),
        highlight=False,
        soft_wrap=True,
    )
