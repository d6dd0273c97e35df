"""The ``prmgym`` command line; heavy parts are imported inside commands, so --help is instant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prmgym import cli_check, cli_new_env, cli_rubrics, cli_swe, cli_training
from prmgym.cli_output import console as _console
from prmgym.cli_output import fail as _fail
from prmgym.cli_output import load_plugins as _load_plugins
from prmgym.cli_output import progress as _progress
from prmgym.cli_output import shown as _shown
from prmgym.cli_output import user_errors as _user_errors

app = typer.Typer(
    name="prmgym",
    help=(
        "LLM agents in real environments, every step scored by process reward models.\n\n"
        "Start with `prmgym envs` and `prmgym suites`, watch one episode with `prmgym run`,"
        " then evaluate agents with `prmgym eval --suite search-lite --agent oracle`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    imports: Annotated[
        list[str] | None,
        typer.Option(
            "--import",
            "-i",
            metavar="MODULE",
            help="Import MODULE first (repeatable), so the families it registers are known;"
            " also PRMGYM_IMPORT=mod1,mod2 and installed packages declaring the"
            " `prmgym.plugins` entry point. An env id written module:ns/Env-v0 imports its"
            " module too.",
        ),
    ] = None,
) -> None:
    """LLM agents in real environments, every step scored by process reward models."""
    _load_plugins(_split(imports or []))


@app.command()
def envs() -> None:
    """List registered environments: id, family, tasks per split, default PRMs, task source."""
    from rich.table import Table

    import prmgym
    from prmgym.registry import make_env

    console = _console()
    table = Table(title="prmgym environments")
    for column in ("id", "family", "tasks", "default PRMs"):
        table.add_column(column, no_wrap=True)
    infos = list(prmgym.registered_envs().values())
    for info in infos:
        with _user_errors():
            env = make_env(info.id, split="all")
        counts: dict[str, int] = {}
        for task in env.unwrapped.tasks:
            counts[task.split] = counts.get(task.split, 0) + 1
        env.close()
        tasks = ", ".join(f"{split} {n}" for split, n in sorted(counts.items()))
        table.add_row(info.id, info.family, tasks, ", ".join(info.default_prms))
    console.print(table)
    for info in infos:
        console.print(f"[bold]{info.id}[/bold]: tasks from {info.task_source}", highlight=False)


@app.command()
def suites() -> None:
    """List built-in suites: what `prmgym eval --suite NAME` runs."""
    from rich.table import Table

    from prmgym.suites import builtin_suites

    console = _console()
    table = Table(title="prmgym suites")
    for column in ("suite", "env", "tasks", "scorers"):
        table.add_column(column, no_wrap=True)
    loaded = builtin_suites()
    for suite in loaded:
        table.add_row(
            f"{suite.name} v{suite.version}",
            suite.env,
            f"{suite.count} from {suite.split}",
            ", ".join(suite.scorers),
        )
    console.print(table)
    for suite in loaded:
        console.print(f"[bold]{suite.name}[/bold]: {suite.description}", highlight=False)


JudgeOption = Annotated[
    str,
    typer.Option(
        help="LLM judge for judged scorers (rubric): smollm2 | transformers:ID |"
        " openai:MODEL@URL | vllm:ID; loaded only when a scorer needs it.",
    ),
]


def _split(values: list[str]) -> list[str]:
    return [v.strip() for spec in values for v in spec.split(",") if v.strip()]


AgentOption = Annotated[
    str,
    typer.Option(
        "--agent",
        "-a",
        help="oracle | random | noisy-oracle:P | smollm2 | transformers:ID | openai:MODEL@URL"
        " | vllm:ID | package.module:Class (your Policy, built without arguments)",
    ),
]


@app.command()
def run(
    env_id: Annotated[
        str, typer.Option("--env", help="Registered env id, or module:ns/Env-v0.")
    ] = "prmgym/SearchQA-v0",
    agent: AgentOption = "oracle",
    task_id: Annotated[
        str | None, typer.Option(help="Task to run; default: drawn by seed.")
    ] = None,
    split: Annotated[str, typer.Option(help="Task split: train, test or all.")] = "test",
    prm: Annotated[
        str, typer.Option(help="Scorer that scores each step (see `prmgym eval --help`).")
    ] = "verifier",
    judge: JudgeOption = "smollm2",
    seed: Annotated[int, typer.Option(min=0, help="Reset and sampling seed.")] = 0,
) -> None:
    """Run one episode and print every step with its PRM score as it happens."""
    from prmgym.agents.evaluation import judge_factory
    from prmgym.agents.policies import EpisodeView, check_agent, make_policy
    from prmgym.errors import ConfigError
    from prmgym.registry import env_info, make_env
    from prmgym.rewards.registry import make_scorer
    from prmgym.rewards.wrapper import ProcessReward

    console = _console()
    with _user_errors():
        family = env_info(env_id).family
        check_agent(agent, family)
        scorer = make_scorer(prm, family=family, judge=judge_factory(judge))
        options = {"task_id": task_id} if task_id else None
        try:
            env = ProcessReward(make_env(env_id, split=split), scorer)
            observation, _ = env.reset(seed=seed, options=options)
        except ValueError as exc:  # the env's word on a split or task id that does not exist
            raise ConfigError(str(exc)) from None
        policy = make_policy(agent, seed=seed)
    view = EpisodeView(
        task=env.unwrapped.task, family=env.unwrapped.family, observations=[observation], seed=seed
    )
    # Agent and env text is printed escaped: it may hold terminal escapes or rich markup.
    console.rule(_shown(f"{env_id} · {view.task.id} · agent {agent}"))
    console.print(_shown(observation), highlight=False)
    reward, done = 0.0, False
    try:
        while not done:
            action = policy.act([view])[0].action
            observation, reward, terminated, truncated, info = env.step(action)
            score = info["prm"]
            value = score["value"]
            colour = "green" if value >= 0.75 else "yellow" if value >= 0.4 else "red"
            console.print(
                f"[bold]step {score['step']}[/bold] {_shown(action)}  "
                f"[{colour}]PRM {value:.2f} {_shown(score['label'])}[/{colour}]",
                highlight=False,
            )
            console.print(_shown(observation), style="dim", highlight=False)
            view.observations.append(observation)
            view.actions.append(action)
            done = terminated or truncated
    except Exception as exc:  # noqa: BLE001 - one line, as eval records a broken episode
        _fail(f"episode broke: {exc!r}", code=1)
    finally:
        env.close()
    console.rule(f"reward {reward:.2f}")


def _eval_suite(suite: str | None, env_id: str | None, split: str | None) -> Any:
    """The suite ``eval`` runs: ``--suite``, or every ``--split`` task of ``--env``."""
    from prmgym.agents.evaluation import env_suite
    from prmgym.errors import ConfigError
    from prmgym.suites import load_suite

    if (suite is None) == (env_id is None):
        raise ConfigError("give --suite NAME or --env ENV_ID (one of them)")
    if env_id is not None:
        return env_suite(env_id, split or "test")
    if split is not None:
        raise ConfigError(f"--split goes with --env; suite {suite} names its own split")
    return load_suite(suite)


@app.command(name="eval")
def eval_(
    suite: Annotated[
        str | None,
        typer.Option(help="Suite name (see `prmgym suites`) or a suite .yaml; or give --env."),
    ] = None,
    env_id: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Instead of --suite: a registered env id (or module:ns/Env-v0), all tasks of"
            " --split, scored by the family's default PRMs.",
        ),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="With --env: the task split (default test).")
    ] = None,
    agent: Annotated[
        list[str],
        typer.Option(
            "--agent",
            "-a",
            help="Repeat or comma-separate to compare agents: oracle, random, noisy-oracle:P (the"
            " oracle with probability P), smollm2 (the"
            " embedded default), transformers:ID, openai:MODEL@URL, vllm:ID, or"
            " package.module:Class (your Policy, built without arguments).",
        ),
    ] = ["smollm2"],  # noqa: B006 - typer reads list defaults; never mutated
    episodes: Annotated[
        int | None, typer.Option(min=1, help="Episodes per agent; default: the suite's count.")
    ] = None,
    prm: Annotated[
        list[str] | None,
        typer.Option(
            help="Scorers, comma-separated or repeated; default: the suite's. verifier (the"
            " family's), rubric (default rubric, LLM-judged), a rubric or mix .yaml, a PRM"
            " directory from `prmgym train-prm`, or package.module:Class.",
        ),
    ] = None,
    judge: JudgeOption = "smollm2",
    search: Annotated[
        list[str] | None,
        typer.Option(
            help="Test-time search for every agent; PRM= any scorer spec (default: verifier)."
            # Spaces between options let a narrow terminal wrap a syntax, not cut it off.
            " prune:k=K [,prm=PRM] [,hard_rules=on|off] [,lookahead=0|1] [,early=TAU] [,keep=F]:"
            " K candidate actions per step, those breaking the family's hard rules dropped, the"
            " best-scored executed; lookahead=1 scores the step each candidate produces in an"
            " env snapshot; early=TAU drafts TAU tokens of each, completes only the top share F"
            " (default 0.5; LLM agents only)."
            " beam:b=B,k=K [,prm=PRM] [,how=AGG]: B beams over env snapshots, K candidates per"
            " beam per step (envs without snapshots are replayed from reset)."
            " bon:n=N [,prm=PRM] [,how=AGG]: N episodes per task, the best by PRM kept;"
            " wbon:n=N [,...] votes final answers with PRM weights."
            " AGG: min, mean, last, product or soft_min. none (or greedy): no search."
            " Repeat --search to compare methods in one run; add --search none for the plain"
            " agent as baseline; the report plots success against compute. Every row counts"
            " all the compute it spent; LLM agents need --temperature > 0 for distinct"
            " candidates.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Run name; default eval-SUITE-TIME.")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run directories go.")] = Path("runs"),
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run --name (stopped by Ctrl-C, SIGTERM or a crash): run only the"
            " episodes its trajectories.jsonl lacks, with the same seeds. Give the options it was"
            " started with; other ones are an error."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(min=0, help="Base seed for resets and sampling.")] = 0,
    batch_size: Annotated[
        int,
        typer.Option(min=1, help="Live episodes at once; LLM generation is batched across them."),
    ] = 8,
    temperature: Annotated[
        float, typer.Option(min=0.0, help="LLM sampling temperature; 0 = greedy.")
    ] = 0.0,
) -> None:
    """Evaluate agents on a suite; writes runs/NAME/ (config, trajectories, metrics, report).

    Each agent runs under each --search method: one results row per pair, e.g.
    `--agent noisy-oracle:0.5 --search none --search prune:k=4 --search bon:n=4`.
    Episodes are appended to trajectories.jsonl as they finish; Ctrl-C or SIGTERM writes the
    metrics and report of those that finished (--resume runs the rest).
    """
    from rich.table import Table

    from prmgym.agents.evaluation import EvaluationInterrupted, evaluate
    from prmgym.runs import Stopped, stop_on_signals

    agents = _split(agent)
    scorers = _split(prm) if prm else None
    console = _console()
    with _user_errors():
        if resume:  # the run's plugins, before its env id is looked up
            from prmgym import plugins
            from prmgym.runs import existing_run_dir, read_config

            plugins.import_recorded(read_config(existing_run_dir(runs_dir, name)).get("imports"))
        loaded = _eval_suite(suite, env_id, split)
    with _progress(console) as bar, _user_errors(), stop_on_signals():

        def progress(agent_name: str, total: int) -> Any:
            task = bar.add_task(f"{_shown(agent_name)} on {_shown(loaded.name)}", total=total)
            return lambda _trajectory: bar.advance(task)

        try:
            run_dir, metrics = evaluate(
                loaded,
                agents,
                episodes=episodes,
                scorers=scorers,
                judge=judge,
                search=search,
                seed=seed,
                batch_size=batch_size,
                temperature=temperature,
                runs_dir=runs_dir,
                name=name,
                resume=resume,
                progress=progress,
            )
        except EvaluationInterrupted as stop:
            bar.stop()
            m = stop.metrics
            console.print(
                f"[yellow]interrupted:[/yellow] {m['finished_episodes']} of"
                f" {m['planned_episodes']} episodes finished, written to"
                f" [bold]{_shown(stop.run_dir)}[/bold]; finish with the same options and"
                f" --resume --name {_shown(stop.run_dir.name)}",
                highlight=False,
            )
            # 128 + the signal's number, as a shell reports a process the signal ended.
            raise typer.Exit(128 + stop.signum) from None
        except Stopped as stop:  # before any episode ran, or while writing the results
            _fail(f"stopped by {stop}", code=128 + stop.signum)
    table = Table(title=_shown(f"{loaded.name} v{loaded.version}"))
    # Method names wrap; the figures never do, so the table stays readable in 80 columns.
    table.add_column("method", overflow="fold")
    for column in ("episodes", "success [95% CI]", "F1", "steps", "errors"):
        table.add_column(column, no_wrap=True)
    # One column per scorer, so each mean stays readable in a narrow terminal.
    sources = list(dict.fromkeys(k for m in metrics["agents"].values() for k in m["mean_prm"]))
    for source in sources:
        table.add_column(_shown(source), justify="right", overflow="fold")
    compute = Table(title="compute per episode")
    compute.add_column("method", overflow="fold")
    for column in ("samples", "env steps", "PRM calls", "tokens", "seconds"):
        compute.add_column(column, justify="right", no_wrap=True)
    for agent_name, m in metrics["agents"].items():
        low, high = m["success_ci95"]
        broken = f" ({m['broken']} broken)" if m["broken"] else ""
        table.add_row(
            _shown(agent_name),
            f"{m['episodes']}{broken}",
            f"{m['success_rate']:.1%} [{low:.2f}, {high:.2f}]",
            "-" if m["mean_f1"] is None else f"{m['mean_f1']:.3f}",
            f"{m['mean_steps']:.1f}",
            f"{m['action_error_rate']:.0%}",
            *(f"{m['mean_prm'][k]:.2f}" if k in m["mean_prm"] else "-" for k in sources),
        )
        c = m["compute"]
        compute.add_row(
            _shown(agent_name),
            f"{c['actions_sampled_per_episode']:.1f}",
            f"{c['env_steps_per_episode']:.1f}",
            f"{c['prm_calls_per_episode']:.1f}",
            f"{c['generated_tokens_per_episode']:.0f}",
            f"{c['wall_time_s_per_episode']:.2f}",
        )
    console.print(table)
    console.print(
        "errors: share of steps the env rejected; then the mean step score of each scorer",
        style="dim",
    )
    console.print(compute)
    console.print(
        "samples: candidate actions drawn (one generation each for an LLM); env steps include"
        " lookahead, beam branches and replays; tokens: generated",
        style="dim",
    )
    for agent_name, m in metrics["agents"].items():
        for source, d in m["prm_disagreement"].items():
            auroc = "-" if d["auroc"] is None else f"{d['auroc']:.2f}"
            console.print(
                f"{_shown(agent_name)} · {_shown(source)}: PRM high but failed"
                f" {d['high_but_failed']},"
                f" low but solved {d['low_but_solved']}, agreement {d['agreement']:.0%},"
                f" AUROC {auroc}",
                highlight=False,
            )
    report = _shown(run_dir / "report.html")
    console.print(f"run written to [bold]{_shown(run_dir)}[/bold] (open {report})")


@app.command(name="eval-prm")
def eval_prm(
    prm: Annotated[
        list[str],
        typer.Option(
            help="PRMs to measure, comma-separated or repeated: verifier, rubric, biprm (the"
            " rubric judged in both step orders, BiPRM), hrm (merged step pairs too, HRM),"
            " biprm+hrm, a rubric or mix .yaml (its `scoring:` turns the same views on), a PRM"
            " directory from `prmgym train-prm` (token"
            " classification, implicit or value-head), package.module:Class.",
        ),
    ] = ["verifier"],  # noqa: B006 - typer reads list defaults; never mutated
    judge: JudgeOption = "smollm2",
    family: Annotated[
        list[str] | None,
        typer.Option(help="Families whose first-error sets to build; default: every family."),
    ] = None,
    split: Annotated[str, typer.Option(help="Task split the sets are built from.")] = "test",
    count: Annotated[int, typer.Option(min=1, help="Items per family (half correct).")] = 100,
    processbench: Annotated[
        list[Path] | None,
        typer.Option(help="ProcessBench-format .json/.jsonl files to measure on as well."),
    ] = None,
    best_of_n: Annotated[
        Path | None,
        typer.Option(
            help="A run's trajectories.jsonl holding several episodes per task: report"
            " best-of-N selection accuracy.",
        ),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="A step scoring below this is predicted to be the error."
        ),
    ] = 0.5,
    seed: Annotated[int, typer.Option(min=0, help="Seed of task order and perturbations.")] = 0,
    output: Annotated[
        Path | None, typer.Option(help="Write every figure as JSON here, for plots.")
    ] = None,
) -> None:
    """Measure PRMs: first-error F1 per family (ProcessBench metrics) and best-of-N accuracy.

    Each family's set holds oracle trajectories and perturbed ones (wrong tool arguments, wrong
    answers, useless repeats, ...) whose first wrong step is known. A PRM predicts the first
    step scoring below --threshold; accuracy on erroneous and on correct items and their
    harmonic mean (F1) are reported, with the best threshold of a sweep.
    """
    import json
    from dataclasses import asdict

    from rich.progress import Progress
    from rich.table import Table

    from prmgym.agents.evaluation import judge_factory
    from prmgym.errors import ConfigError
    from prmgym.family import families as declared_families
    from prmgym.registry import registered_envs
    from prmgym.rewards.evaluation.best_of_n import best_of_n as run_best_of_n
    from prmgym.rewards.evaluation.first_error import LiveEnvs, build_first_error_set
    from prmgym.rewards.evaluation.harness import evaluate_first_error, report_table
    from prmgym.rewards.evaluation.processbench import load_processbench
    from prmgym.rewards.registry import RUBRIC_VIEWS, make_scorer
    from prmgym.runs import writable_dir
    from prmgym.trajectory import load_trajectories

    console = _console()
    specs = _split(prm)
    factory = judge_factory(judge)
    envs = {info.family: info.id for info in registered_envs().values()}
    # By default every family that can build a first-error set: those declaring perturbations.
    perturbable = [f for f, declared in declared_families().items() if declared.perturbations]
    families = _split(family) if family else sorted(f for f in envs if f in perturbable)
    results: dict[str, Any] = {"threshold": threshold, "first_error": {}, "best_of_n": {}}
    f1_rows: list[tuple[str, str, Any]] = []
    with _user_errors():
        unknown = [f for f in families if f not in envs]
        if unknown:
            raise ConfigError(f"no env of family {unknown}; families: {', '.join(sorted(envs))}")
        if output is not None:  # checked now, not after every PRM was measured
            if output.is_dir():
                raise ConfigError(f"--output {output} is a folder; name a file in it to write")
            writable_dir(output.parent)
        trajectories = None
        if best_of_n is not None:  # read now, not after every first-error set was measured
            try:
                trajectories = load_trajectories(best_of_n)
            except ValueError:  # pydantic's ValidationError: a line that is not a trajectory
                raise ConfigError(
                    f"{best_of_n} is not a trajectories file written by `prmgym eval`"
                ) from None
        sets = {}
        with console.status("building first-error sets"):
            for fam in families:
                try:
                    sets[fam] = build_first_error_set(envs[fam], split, count, seed)
                except ValueError as exc:  # the env's word on a split that does not exist
                    raise ConfigError(str(exc)) from None
        for path in processbench or []:
            sets[f"processbench:{path.name}"] = load_processbench(path)
        for set_name, items in sets.items():
            fam = set_name if set_name in envs else None
            for spec in specs:
                if fam is None and (spec == "verifier" or spec in RUBRIC_VIEWS):
                    console.print(
                        f"skipping {spec} on {set_name}: it has no env family to pick a"
                        " verifier or default rubric for; pass a rubric .yaml instead",
                        style="yellow",
                    )
                    continue
                scorer = make_scorer(spec, family=fam, judge=factory)
                cache = getattr(getattr(scorer, "judge", None), "cache", None)
                if cache is not None:
                    # The judge is shared; each PRM's cost is measured cold, not on answers
                    # another PRM's views left (biprm repeats all of rubric's forward views).
                    cache.clear()
                with Progress(console=console, transient=True) as bar:
                    task = bar.add_task(f"{spec} on {set_name}", total=len(items))
                    report = evaluate_first_error(
                        scorer,
                        items,
                        threshold,
                        progress=lambda done, t=task: bar.update(t, completed=done),
                    )
                console.print(report_table(report))
                results["first_error"].setdefault(set_name, {})[spec] = asdict(report)
                f1_rows.append((set_name, spec, report))
        if trajectories is not None:
            fam = trajectories[0].task.family if trajectories else None
            with LiveEnvs(envs.get(fam or ""), {"split": "all"}) as live:
                for spec in specs:
                    scorer = make_scorer(spec, family=fam, judge=factory)
                    bon = run_best_of_n(trajectories, prm=scorer, envs=live)
                    results["best_of_n"][spec] = asdict(bon)
                    console.print(
                        f"best-of-{bon.n:.0f} with {spec}: selected {bon.selected_success:.1%},"
                        f" random pick {bon.mean_success:.1%}, any success"
                        f" {bon.oracle_success:.1%} over {bon.groups} tasks",
                        highlight=False,
                    )
    summary = Table(title=f"First-error F1 per family (threshold {threshold})")
    columns = ("set", "PRM", "acc erroneous", "acc correct", "F1", "best F1 @ threshold")
    for column in (*columns, "s / item", "judge prompts / item"):
        summary.add_column(column)
    for set_name, spec, report in f1_rows:
        overall, best, n = report.overall, report.best, max(len(report.predicted), 1)
        summary.add_row(
            set_name,
            spec,
            f"{overall['acc_erroneous']:.3f}",
            f"{overall['acc_correct']:.3f}",
            f"{overall['f1']:.3f}",
            f"{best['f1']:.3f} @ {best['threshold']:.2f}",
            f"{report.seconds / n:.2f}",
            f"{report.judge_prompts / n:.1f}",
        )
    console.print(summary)
    if output is not None:
        with _user_errors():
            output.write_text(json.dumps(results, indent=2, default=str))
        console.print(f"figures written to [bold]{output}[/bold]")


@app.command(name="serve-search")
def serve_search(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    corpus: Annotated[
        Path | None, typer.Option(help="Corpus JSONL (id, title, text); default: CPython docs.")
    ] = None,
    topk: Annotated[int, typer.Option(min=1, help="Default k when a request names none.")] = 3,
) -> None:
    """Serve the search index over HTTP with Search-R1's /retrieve schema."""
    import uvicorn

    from prmgym.envs.search.server import create_app

    with _user_errors():
        served = create_app(corpus, default_topk=topk)
    uvicorn.run(served, host=host, port=port, log_level="info")


app.command(name="train-prm")(cli_training.train_prm)
app.command()(cli_training.train)
app.add_typer(cli_swe.app)
app.add_typer(cli_rubrics.app)
app.command()(cli_check.check)
app.command(name="new-env")(cli_new_env.new_env)


if __name__ == "__main__":
    app()
