"""``prmgym check ENV_ID``: the conformance checks of :mod:`prmgym.agents.conformance`, as a table.

Registered on the app in :mod:`prmgym.cli`; heavy parts are imported inside the command.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from prmgym.cli_output import console as _console
from prmgym.cli_output import fail as _fail
from prmgym.cli_output import progress as _progress
from prmgym.cli_output import shown as _shown
from prmgym.cli_output import user_errors as _user_errors

_STYLES = {"pass": "green", "fail": "red", "skipped": "yellow"}


def check(
    env_id: Annotated[
        str, typer.Argument(help="Registered env id, or 'module:ns/Env-v0' for a plugin's.")
    ],
    actions: Annotated[int, typer.Option(min=0, help="Fuzzed actions (0: skip).")] = 200,
    tasks: Annotated[
        int, typer.Option(min=0, help="Tasks the oracle must all solve (0: skip).")
    ] = 5,
    trajectories: Annotated[
        int, typer.Option(min=0, help="Trajectories each PRM is checked on (0: skip).")
    ] = 2,
    perturbed: Annotated[
        int, typer.Option(min=0, help="Tasks each perturbation kind is confirmed on (0: skip).")
    ] = 2,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run only these checks (repeat or comma-separate): pieces, env, fuzz,"
            " reward-model, oracle, perturbations."
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(help="Task split, for envs that take one; default: the env's own."),
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="LLM judge for judged PRMs (rubrics), e.g. smollm2; default: those are skipped."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Fixes tasks, fuzzed actions, resets.")] = 0,
) -> None:
    """Check that an env and its family keep prmgym's contract; one table row per check.

    pieces         every piece the family declares imports
    env            Gymnasium's check_env (render check skipped)
    fuzz           --actions generated hostile actions raise no exception
    reward-model   check_reward_model (one score per step, in [0, 1],
                   deterministic, causal) on each default PRM and the
                   verifier, over --trajectories oracle trajectories
                   (random ones where the family has no oracle)
    oracle         the oracle solves all of --tasks tasks
    perturbations  each first-error perturbation kind on --perturbed
                   tasks: the unperturbed oracle list succeeds; the
                   perturbed one matches it, and the env answers alike,
                   before the declared first error; from there on the
                   env answers differently

    A piece the family does not declare (an oracle, perturbations) is a
    skipped row saying what to add to its Family declaration, not a
    failure. Exit status: 0 when no check failed, 1 when one did, 2 for a
    usage error such as an unknown id.
    """
    from rich.table import Table

    from prmgym.agents.conformance import CHECKS, CheckResult, CheckSettings, run_checks
    from prmgym.registry import env_info

    names = [name.strip() for value in only or () for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        _fail(f"unknown check {unknown[0]!r}; checks: {', '.join(CHECKS)}")
    console = _console()
    with _user_errors():
        info = env_info(env_id)
        settings = CheckSettings(
            actions=actions,
            tasks=tasks,
            trajectories=trajectories,
            perturbed=perturbed,
            seed=seed,
            split=split,
            judge=_judge(judge),
        )
    rows: list[CheckResult] = []
    with _progress(console) as bar:
        for name in [name for name in CHECKS if not names or name in names]:
            task = bar.add_task(name, total=None)

            def advance(_check: str, done: int, total: int, task: Any = task) -> None:
                bar.update(task, completed=done, total=total)

            rows.extend(run_checks(info.id, settings, only=[name], progress=advance))
            finished = bar.tasks[task].total or 1
            bar.update(task, completed=finished, total=finished)
    table = Table(title=_shown(f"prmgym check {info.id} (family {info.family})"))
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for row in rows:
        style = _STYLES[row.status]
        table.add_row(_shown(row.label), f"[{style}]{row.status}[/{style}]", _shown(row.detail))
    console.print(table)
    counts = {status: sum(row.status == status for row in rows) for status in _STYLES}
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()), highlight=False)
    if counts["fail"]:
        raise typer.Exit(1)


def _judge(spec: str | None) -> Any:
    if spec is None:
        return None
    from prmgym.agents.evaluation import judge_factory

    return judge_factory(spec)
