"""The training commands of ``prmgym``: ``train-prm`` (learned PRMs) and ``train`` (RL).

Registered on the app in :mod:`prmgym.cli`; heavy parts are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prmgym.cli_output import console as _console
from prmgym.cli_output import progress as _progress
from prmgym.cli_output import user_errors as _user_errors


def train_prm(
    config: Annotated[
        Path | None,
        typer.Option(help="YAML of training settings, e.g. configs/train-prm-search.yaml."),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="KEY=VALUE settings over the config, e.g. epochs=2 data.count=400 kind=implicit."
        ),
    ] = None,
    evaluate: Annotated[
        int,
        typer.Option(
            min=0,
            help="Then measure first-error F1 on this many held-out test-split items (0: skip).",
        ),
    ] = 0,
) -> None:
    """Train a learned PRM (token-classification, implicit or value-head) for `--prm PATH`.

    Step labels come from perturbed oracle trajectories (first wrong step
    known), a file of labelled trajectories, or rollouts
    (data.source=rollouts) labelled by Monte Carlo continuations after
    every step (data.labels=monte_carlo) or by OmegaPRM's binary search
    for the first error (data.labels=first_error);
    data.consensus_judge=SPEC keeps only the rollouts whose first error
    an LLM judge confirms. The saved directory is a PRM:
    `prmgym eval --suite search-lite --agent smollm2 --prm OUTPUT_DIR`.
    """
    from prmgym.runs import writable_dir
    from prmgym.training.prm.config import load_train_prm_config
    from prmgym.training.prm.train import train_prm as run_training

    console = _console()
    with _user_errors():
        settings = load_train_prm_config(config, overrides or ())
        writable_dir(settings.output_dir)
        console.print(
            f"training a {settings.kind} PRM from {settings.base_model} on"
            f" {settings.data.source} data -> {settings.output_dir}",
            highlight=False,
        )
        output = run_training(settings)
    console.print(f"PRM saved to [bold]{output}[/bold]")
    if evaluate:
        from prmgym.registry import registered_envs
        from prmgym.rewards.evaluation.first_error import build_first_error_set
        from prmgym.rewards.evaluation.harness import evaluate_first_error, report_table
        from prmgym.rewards.learned.loading import load_learned_prm

        env_id = settings.data.env_id or next(iter(registered_envs()))
        with _user_errors():
            items = build_first_error_set(env_id, "test", evaluate, seed=settings.seed + 1)
            console.print(report_table(evaluate_first_error(load_learned_prm(output), items)))


def train(
    config: Annotated[
        Path | None,
        typer.Option(help="YAML of training settings, e.g. configs/quickstart.yaml."),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="KEY=VALUE settings over the config, dotted into sections, e.g. iterations=10"
            " rollout.group_size=8 advantages.omega=0 optim.learning_rate=1e-4 lora=null."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(help="Continue from the newest checkpoint in output_dir (killed runs too)."),
    ] = False,
    distributed: Annotated[
        str | None,
        typer.Option(
            help="Where rollout envs run: local (this process) or ray (Ray actors on the cluster"
            " RAY_ADDRESS names, else a local one; needs `pip install 'prmgym\\[ray]'`;"
            " rollout.env_workers sets how many). Default: the config's rollout.distributed."
        ),
    ] = None,
) -> None:
    """Train an LLM agent with RL: G episodes per task, dual-granularity advantages, PPO-clip.

    Start with `prmgym train --config configs/quickstart.yaml` (SmolLM2 +
    LoRA on a CPU, about 25 min). Each iteration runs rollout.group_size
    episodes of rollout.tasks_per_iteration training tasks, scores their
    steps with rollout.prm (online-implicit: a PRM trained on the
    rollouts' outcomes as it goes), adds the step-level term to the
    group-normalised outcome (advantages.omega; 0 = outcome only), and
    updates the adapter on the action tokens. sft: {...} first runs a warm
    start on oracle episodes. Held-out success is measured before, every
    eval.every iterations and at the end. Writes OUTPUT_DIR/metrics.jsonl,
    checkpoints (--resume continues a killed run) and OUTPUT_DIR/final, a
    model for `prmgym eval --suite search-lite --agent
    transformers:OUTPUT_DIR/final`.

    On GPUs: rollout.engine=vllm (colocated) or vllm-server (a `vllm
    serve` at rollout.vllm_server_url, weights pushed after each update);
    several GPUs train data-parallel under `accelerate launch --multi_gpu
    -m prmgym.cli train ...` or torchrun.
    """
    from prmgym import plugins
    from prmgym.runs import writable_dir
    from prmgym.training.config import load_train_config
    from prmgym.training.data_parallel import launched_rank
    from prmgym.training.trainer import train as run_training

    console = _console()
    # Under `accelerate launch`/`torchrun` every process runs this; one reports.
    console.quiet = launched_rank() != 0
    with _user_errors():
        extra = [f"rollout.distributed={distributed}"] if distributed else []
        settings = load_train_config(config, [*(overrides or ()), *extra])
        # What the command imported (--import, PRMGYM_IMPORT, a module: id) joins the
        # config, so the config.yaml the run saves repeats it.
        settings.imports = list(dict.fromkeys([*settings.imports, *plugins.record()["modules"]]))
        writable_dir(settings.output_dir)
    console.print(
        f"training {settings.model} ({'LoRA' if settings.lora else 'full'}) on"
        f" {settings.rollout.env_id} {settings.rollout.split} for {settings.iterations}"
        f" iterations -> {settings.output_dir}",
        highlight=False,
    )
    with _progress(console) as bar, _user_errors():
        iterations = bar.add_task("iterations", total=settings.iterations)
        episodes = bar.add_task("episodes", total=None)

        def on_iteration(done: int, metrics: dict[str, float]) -> None:
            bar.update(iterations, completed=done)
            bar.reset(episodes)
            shown = {k: v for k, v in metrics.items() if k in _TRAIN_SHOWN}
            console.print(
                f"iteration {done}: " + ", ".join(f"{k} {v:.3g}" for k, v in shown.items()),
                highlight=False,
            )

        result = run_training(
            settings,
            resume=resume,
            on_episode=lambda _t: bar.advance(episodes),
            on_iteration=on_iteration,
        )
    stages = _success_stages(result.metrics)
    if len(stages) >= 2:
        console.print(
            "held-out success: "
            + " -> ".join(
                f"{name} {p:.1%} [{low:.2f}, {high:.2f}]" for name, p, low, high in stages
            ),
            highlight=False,
        )
    console.print(
        f"metrics in [bold]{result.output_dir / 'metrics.jsonl'}[/bold]; model in"
        f" [bold]{result.output_dir / 'final'}[/bold]"
    )


def _success_stages(metrics: list[dict[str, float]]) -> list[tuple[str, float, float, float]]:
    """(stage, success, 95% low, high): untrained, after the warm start, and at the end."""
    stages = []
    for m in metrics:
        for prefix, name in (("eval/", "untrained"), ("sft/eval_", "warm start")):
            if m["iteration"] == 0 and f"{prefix}success" in m:
                values = (m[f"{prefix}success{s}"] for s in ("", "_low", "_high"))
                stages.append((name, *values))
    final = [m for m in metrics if m["iteration"] > 0 and "eval/success" in m]
    if final:
        last = final[-1]
        stages.append(
            ("trained", last["eval/success"], last["eval/success_low"], last["eval/success_high"])
        )
    return stages


_TRAIN_SHOWN = (
    "sft/loss",
    "sft/eval_success",
    "rollout/success",
    "rollout/prm",
    "update/loss",
    "update/entropy",
    "eval/success",
    "time/rollout_s",
    "time/update_s",
)
