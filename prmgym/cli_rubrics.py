"""The ``prmgym rubrics`` commands: learn a rubric from a run (``generate``).

Registered on the app in :mod:`prmgym.cli`; heavy parts are imported inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prmgym.cli_output import console as _console
from prmgym.cli_output import fail as _fail
from prmgym.cli_output import progress as _progress
from prmgym.cli_output import user_errors as _user_errors

if TYPE_CHECKING:
    from prmgym.rewards.judges.base import Judge

app = typer.Typer(name="rubrics", no_args_is_help=True, add_completion=False)

PROPOSE_TOKENS = 384
"""Reply budget for proposed criteria: a dozen short lines."""


@app.callback()
def rubrics() -> None:
    """Rubrics for the rubric agent, learned from runs."""
    # A callback keeps `generate` a subcommand while it is the only one.


def build_models(spec: str) -> tuple[Callable[[str], str], Judge]:
    """The proposer and the judge over one backend (the model is loaded once)."""
    from prmgym.agents.backends import make_backend
    from prmgym.generation import GenerationConfig
    from prmgym.rewards.judges import make_judge

    backend = make_backend(spec)
    config = GenerationConfig(max_new_tokens=PROPOSE_TOKENS, temperature=0.0)

    def propose(prompt: str) -> str:
        [[completion]] = backend.generate([[{"role": "user", "content": prompt}]], config)
        return completion.text

    return propose, make_judge(backend)


@app.command()
def generate(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run directory written by `prmgym eval` (its trajectories.jsonl), or a"
            " trajectories JSONL file."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Rubric YAML to write.")] = Path(
        "rubric.yaml"
    ),
    judge: Annotated[
        str,
        typer.Option(
            help="Backend that proposes and judges criteria: smollm2, transformers:ID,"
            " openai:MODEL@URL, vllm:ID."
        ),
    ] = "smollm2",
    min_agreement: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Keep a criterion only if it scores the success above the failure on at least"
            " this share of pairs.",
        ),
    ] = 0.6,
    max_criteria: Annotated[
        int, typer.Option(min=1, help="Most criteria written, most discriminative first.")
    ] = 8,
    max_pairs: Annotated[
        int, typer.Option(min=1, help="Most (success, failure) pairs used; one LLM call each.")
    ] = 16,
    name: Annotated[
        str | None, typer.Option(help="The rubric's name (default: the output file's stem).")
    ] = None,
    proposals: Annotated[
        Path | None,
        typer.Option(
            help="Candidate criteria, one per line as `HARD: ...` or `PRINCIPLE: ...` (written"
            " by a person or a stronger model elsewhere): the model then only judges them,"
            " through the same split, preference filter and de-duplication.",
        ),
    ] = None,
) -> None:
    """Learn a rubric by contrasting successful and failed episodes of the same task.

    Pairs each task's successes with its failures, asks the model for
    hard rules and principles that tell them apart (OpenRubrics, arXiv
    2510.07743), splits compound criteria, and keeps a criterion only if
    judging both episodes of the pairs with it prefers the success on at
    least --min-agreement of them, dropping near-duplicates (RRD, arXiv
    2602.05125). The rubric it writes is scored with
    `prmgym eval --prm rubric.yaml`; provenance sits in its comments.
    """
    from prmgym.rewards.rubrics.generation import (
        NO_PAIRS_HINT,
        RubricGenerationConfig,
        generate_rubric,
        parse_proposals,
        write_rubric,
    )
    from prmgym.runs import writable_dir
    from prmgym.trajectory import load_trajectories

    path = run_dir / "trajectories.jsonl" if run_dir.is_dir() else run_dir
    if not path.is_file():
        _fail(f"{path} not found; pass a run directory written by `prmgym eval`")
    try:
        trajectories = load_trajectories(path)
    except ValueError:  # pydantic's ValidationError: a line that is not a trajectory
        _fail(f"{path} is not a trajectories file written by `prmgym eval`")
    if not trajectories:
        _fail(f"{path} holds no trajectories: {NO_PAIRS_HINT}")
    candidates = None
    if proposals is not None:
        if not proposals.is_file():
            _fail(f"{proposals} not found; write one `HARD: ...` or `PRINCIPLE: ...` per line")
        candidates = parse_proposals(proposals.read_text(encoding="utf-8"))
        if not candidates:
            _fail(f"{proposals} holds no `HARD: ...` or `PRINCIPLE: ...` line of 3 words or more")
    console = _console()
    with _user_errors():
        writable_dir(output.parent)  # checked before the model proposes and judges
        config = RubricGenerationConfig(
            min_agreement=min_agreement, max_criteria=max_criteria, max_pairs=max_pairs
        )
        propose, judge_model = build_models(judge)
        with _progress(console) as bar:
            stages = {
                stage: bar.add_task(label, total=None)
                for stage, label in (("propose", "proposing"), ("filter", "filtering"))
            }
            rubric, report = generate_rubric(
                trajectories,
                propose,
                judge_model,
                name=name or output.stem,
                config=config,
                progress=lambda stage, done, total: bar.update(
                    stages[stage], completed=done, total=total
                ),
                proposals=candidates,
            )
        write_rubric(rubric, report, output, source=str(run_dir))
    console.print(
        f"{len(rubric.criteria)} of {report.proposed} proposed criteria kept from"
        f" {len(report.pairs)} pairs; rubric written to [bold]{output}[/bold]"
        f" (use it with --prm {output})"
    )
