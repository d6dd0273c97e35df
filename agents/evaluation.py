"""Evaluating agents on a suite: episodes, PRM scores, a run directory and a summary."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium

from prmgym import plugins
from prmgym.agents.backends import make_backend
from prmgym.agents.policies import Policy, check_agent, make_policy
from prmgym.agents.search import BestOfN, SearchMethod, make_search, run_search
from prmgym.errors import ConfigError
from prmgym.registry import env_info, make_env
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.disagreement import disagreement
from prmgym.rewards.judges import Judge, make_judge
from prmgym.rewards.registry import JudgeFactory, make_scorer
from prmgym.runs import (
    TRAJECTORIES,
    Stopped,
    append_trajectory,
    existing_run_dir,
    new_run_dir,
    read_config,
    read_finished,
    write_config,
    write_run,
)
from prmgym.suites import Suite
from prmgym.summary import summarize
from prmgym.trajectory import Trajectory


def suite_task_ids(suite: Suite, episodes: int | None = None) -> list[str]:
    """The suite's task ids: the first ``count`` of its split (cycled if ``episodes`` is larger).

    Raises:
        ConfigError: ``episodes`` is below 1.
    """
    if episodes is not None and episodes < 1:
        raise ConfigError(f"episodes must be at least 1, got {episodes}")
    env = make_env(suite.env, split=suite.split, **suite.env_kwargs)
    ids = [task.id for task in env.unwrapped.tasks][: suite.count]
    env.close()
    n = len(ids) if episodes is None else episodes
    return [ids[i % len(ids)] for i in range(n)]


def env_suite(env_id: str, split: str = "test") -> Suite:
    """A suite of every ``split`` task of ``env_id``, scored by its family's default PRMs.

    Raises:
        ConfigError: An unknown env id (``module:ns/Env-v0`` imports the module first).
    """
    info = env_info(env_id)
    return Suite(
        name=re.sub(r"[^\w.+-]+", "-", info.id),  # a run folder's name
        description=f"every {split} task of {info.id}",
        env=env_id,
        split=split,
        count=10**9,  # every task of the split
        scorers=list(info.default_prms) or ["verifier"],
    )


def judge_factory(spec: str) -> Callable[[], Judge]:
    """A factory building the judge for backend ``spec`` once, on first call."""
    built: list[Judge] = []

    def build() -> Judge:
        if not built:
            built.append(make_judge(make_backend(spec)))
        return built[0]

    return build


NO_SEARCH = ("none", "greedy")
"""Search specs meaning the plain policy: one draw per step, no PRM choice."""


def search_specs(search: str | Sequence[str] | None) -> list[str]:
    """``evaluate``'s ``search`` argument as a list of specs (None or empty: the plain policy)."""
    specs = [search] if isinstance(search, str) else list(search or ())
    return specs or ["none"]


def build_methods(
    agents: Sequence[str],
    specs: Sequence[str],
    *,
    family: str,
    judge: JudgeFactory | None = None,
) -> list[tuple[str, str, SearchMethod | None]]:
    """One ``(row key, agent, method)`` per agent and search spec, methods built once per spec.

    The row key is the agent spec without search, else ``"AGENT + METHOD"``; when two specs
    share a method name (``prm=`` or ``how=`` differ) the spec itself names the row.

    Raises:
        ConfigError: A bad search spec, or two rows that would share a key.
    """
    methods: dict[str, SearchMethod | None] = {}
    for spec in specs:
        if spec not in methods:
            methods[spec] = (
                None if spec in NO_SEARCH else make_search(spec, family=family, judge=judge)
            )
    names = [m.name for m in methods.values() if m is not None]
    rows: list[tuple[str, str, SearchMethod | None]] = []
    for agent in agents:
        for spec, method in methods.items():
            if method is None:
                key = agent
            elif names.count(method.name) > 1:
                key = f"{agent} + {spec}"
            else:
                key = f"{agent} + {method.name}"
            if any(key == row[0] for row in rows):
                raise ConfigError(
                    f"{key!r} would be evaluated twice; give each agent and search once"
                    " (none and greedy are the same)"
                )
            rows.append((key, agent, method))
    return rows


class EvaluationInterrupted(KeyboardInterrupt):
    """An evaluation stopped by a signal, after writing what finished.

    Attributes:
        run_dir: The run folder, to pass to ``--resume``.
        metrics: The metrics written, over the finished episodes.
        signum: The signal that stopped it (``signal.SIGINT`` for a plain Ctrl-C).
    """

    def __init__(self, run_dir: Path, metrics: dict[str, Any], signum: int) -> None:
        super().__init__(f"{signal.Signals(signum).name}: run written to {run_dir}")
        self.run_dir, self.metrics, self.signum = run_dir, metrics, signum


def evaluate(
    suite: Suite,
    agents: Sequence[str],
    *,
    episodes: int | None = None,
    scorers: Sequence[str] | None = None,
    judge: str = "smollm2",
    search: str | Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = 8,
    temperature: float = 0.0,
    runs_dir: str | Path = "runs",
    name: str | None = None,
    resume: bool = False,
    progress: Callable[[str, int], Callable[[Trajectory], None]] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run every agent on the suite, score the steps, and write ``runs_dir/name``.

    Each episode is appended to ``trajectories.jsonl`` when it finishes. If the run is
    interrupted (``KeyboardInterrupt``, or :class:`prmgym.runs.Stopped` for SIGTERM), the envs
    are closed, ``metrics.json`` and ``report.html`` are written over the finished episodes,
    marked interrupted, and :class:`EvaluationInterrupted` is raised.

    Args:
        suite: What to run.
        agents: Agent specs (``oracle``, ``random``, ``smollm2``, ``transformers:...``...).
        episodes: Episodes per agent, at least 1 (default: the suite's count).
        scorers: PRM specs (default: the suite's scorers); see ``prmgym.rewards.registry``.
        judge: Backend spec of the LLM judge for judged scorers (``rubric``); loaded only if one
            needs it.
        search: Test-time search specs (``prune:k=4``, ``beam:b=2,k=4``, ``bon:n=4``...; see
            ``prmgym.agents.search``); every agent runs under each, one results row per pair.
            ``none`` or ``greedy`` (and None, the default) is the plain policy, one draw per
            step.
        seed: Base seed for resets and sampling.
        batch_size: Live episodes per agent at once (one batched generate per step).
        temperature: Sampling temperature of LLM agents (0 = greedy).
        runs_dir: Where run directories go.
        name: Run name (default ``eval-<suite>-<time>``).
        resume: Continue the run ``runs_dir/name``: run only the episodes its
            ``trajectories.jsonl`` lacks (an episode is a row, a task and its reset seed), with
            the same seeds an uninterrupted run would use. Every other argument except
            ``batch_size`` must be what the run was started with. The modules the run
            recorded in its ``config.yaml`` (``imports``) are imported again first.
        progress: Given a row key and an episode count, returns a per-episode callback.

    Returns:
        The run directory and its metrics; ``metrics["agents"]`` holds one summary per row
        (agent and search), keyed as the trajectories' ``agent`` field.

    Raises:
        ConfigError: A bad scorer or search spec or episode count (found before any episode
            runs), a bad agent spec, a run folder that cannot be written, or a resume whose
            settings differ from the run's.
        EvaluationInterrupted: A signal stopped the run; what finished is written.
    """
    scorer_names = list(suite.scorers if scorers is None else scorers)
    if resume:  # the plugins it was run with, before its env id is looked up
        plugins.import_recorded(read_config(existing_run_dir(runs_dir, name)).get("imports"))
    family = env_info(suite.env).family
    for agent in agents:  # a piece the family lacks is refused now, not as broken episodes
        check_agent(agent, family)
    judges = judge_factory(judge)
    prms = [make_scorer(s, family=family, judge=judges) for s in scorer_names]
    specs = search_specs(search)
    rows = build_methods(agents, specs, family=family, judge=judges)
    task_ids = suite_task_ids(suite, episodes)
    # What a resumed run must share with the run it continues: these decide which episodes
    # exist and how they are run and scored (the batch size does not).
    settings: dict[str, Any] = {
        "suite": suite.name,
        "suite_version": suite.version,
        "env": suite.env,
        "env_kwargs": suite.env_kwargs,
        "split": suite.split,
        "agents": list(agents),
        "episodes": len(task_ids),
        "scorers": scorer_names,
        "judge": judge,
        "search": specs,
        "methods": [row[0] for row in rows],
        "seed": seed,
        "temperature": temperature,
    }
    if resume:
        run_dir = existing_run_dir(runs_dir, name)
        _check_same_settings(run_dir, settings)
    else:
        run_dir = new_run_dir(runs_dir, name, prefix=f"eval-{suite.name}")
    config = {
        "name": run_dir.name,
        "command": "eval",
        **settings,
        "batch_size": batch_size,
        # What was imported (plugins, --import, module: ids), so the run can be repeated.
        "imports": plugins.record(),
    }
    write_config(run_dir, config)
    log = _EpisodeLog(run_dir, rows, task_ids, seed)
    new_env = lambda: make_env(suite.env, split=suite.split, **suite.env_kwargs)  # noqa: E731
    try:
        for agent in agents:
            policy: Policy | None = None
            for key, _, method in (row for row in rows if row[1] == agent):
                on_done = progress(key, len(task_ids)) if progress else None
                for trajectory in log.finished(key):
                    if on_done is not None:
                        on_done(trajectory)
                for start, chunk in log.missing(key):
                    # One policy serves all of an agent's rows, so a model loads once (and
                    # not at all when resuming an agent that finished), one at a time.
                    if policy is None:
                        policy = make_policy(agent, temperature=temperature, seed=seed)
                    log.run(key, method, start, chunk, new_env, policy, prms, batch_size, on_done)
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        metrics = log.write(config, interrupted=signal.Signals(signum).name)
        raise EvaluationInterrupted(run_dir, metrics, signum) from exc
    return run_dir, log.write(config, interrupted=None)


def _check_same_settings(run_dir: Path, settings: dict[str, Any]) -> None:
    before = read_config(run_dir)
    differ = [k for k in settings if before.get(k) != settings[k]]
    if differ:
        changes = "; ".join(f"{k}: {before.get(k)!r} there, {settings[k]!r} now" for k in differ)
        raise ConfigError(
            f"run {run_dir} was made with other settings ({changes}); resume it with the"
            " settings it was started with, or start a new run under another --name"
        )


class _EpisodeLog:
    """Which episodes of a run have finished, kept in memory and in ``trajectories.jsonl``.

    An episode is a row (agent and search), a position in ``task_ids`` and the reset seed that
    position gets: ``seed + position``, or ``seed + position * n`` for best-of-N's first of
    its ``n`` episodes, as an uninterrupted run would use.
    """

    def __init__(
        self,
        run_dir: Path,
        rows: Sequence[tuple[str, str, SearchMethod | None]],
        task_ids: Sequence[str],
        seed: int,
    ) -> None:
        self.run_dir, self.rows, self.task_ids, self.seed = run_dir, rows, task_ids, seed
        self.strides = {
            key: method.n if isinstance(method, BestOfN) else 1 for key, _, method in rows
        }
        self.done: dict[str, dict[int, Trajectory]] = {key: {} for key, _, _ in rows}
        for trajectory in read_finished(run_dir):
            positions = [
                p for p in range(len(task_ids)) if p not in self.done.get(trajectory.agent, {})
            ]
            position = self._position(trajectory, positions)
            if position is None:
                raise ConfigError(
                    f"{run_dir / TRAJECTORIES}: an episode of {trajectory.agent!r} on task"
                    f" {trajectory.task.id!r} (seed {trajectory.seed}) is not one this run plans"
                )
            self.done[trajectory.agent][position] = trajectory

    def finished(self, key: str) -> list[Trajectory]:
        """The row's finished episodes, in task order."""
        return [t for _, t in sorted(self.done[key].items())]

    def missing(self, key: str) -> list[tuple[int, list[int]]]:
        """The row's unfinished positions as ``(first, positions)`` runs of consecutive ones."""
        runs: list[tuple[int, list[int]]] = []
        for position in range(len(self.task_ids)):
            if position in self.done[key]:
                continue
            if runs and runs[-1][1][-1] == position - 1:
                runs[-1][1].append(position)
            else:
                runs.append((position, [position]))
        return runs

    def run(
        self,
        key: str,
        method: SearchMethod | None,
        start: int,
        chunk: list[int],
        make_env: Callable[[], gymnasium.Env[str, str]],
        policy: Policy,
        prms: Sequence[ProcessRewardModel],
        batch_size: int,
        on_done: Callable[[Trajectory], None] | None,
    ) -> None:
        """Run the row's episodes at ``chunk`` (consecutive positions from ``start``)."""
        recorded: set[int] = set()

        def record(trajectory: Trajectory) -> None:
            open_positions = [p for p in chunk if p not in self.done[key]]
            position = self._position(trajectory, open_positions, row=key)
            assert position is not None, f"{trajectory.task.id} is not among the tasks run"
            trajectory.agent = key
            self.done[key][position] = trajectory
            recorded.add(id(trajectory))
            append_trajectory(self.run_dir, trajectory)
            if on_done is not None:
                on_done(trajectory)

        kept = run_search(
            make_env,
            [self.task_ids[p] for p in chunk],
            policy,
            method,
            scorers=prms,
            batch_size=batch_size,
            seed=self.seed + start * self.strides[key],
            on_done=record,
        )
        for trajectory in kept:
            if id(trajectory) not in recorded:
                record(trajectory)

    def _position(
        self, trajectory: Trajectory, open_positions: Sequence[int], row: str | None = None
    ) -> int | None:
        """Where ``trajectory`` belongs among ``open_positions``, None if nowhere.

        By its seed; else (a reset that failed records none) the first open position of its
        task.
        """
        task_id = trajectory.task.id
        stride = self.strides.get(row or trajectory.agent)
        if stride is None:
            return None
        if trajectory.seed is not None:
            position = (trajectory.seed - self.seed) // stride
            if position in open_positions and self.task_ids[position] == task_id:
                return position
        return next((p for p in open_positions if self.task_ids[p] == task_id), None)

    def write(self, config: dict[str, Any], interrupted: str | None) -> dict[str, Any]:
        """Write the run's files over the finished episodes; return the metrics."""
        planned = len(self.rows) * len(self.task_ids)
        finished = sum(len(done) for done in self.done.values())
        metrics: dict[str, Any] = {
            "suite": config["suite"],
            "suite_version": config["suite_version"],
            "interrupted": interrupted,
            "finished_episodes": finished,
            "planned_episodes": planned,
            "agents": {},
        }
        trajectories: list[Trajectory] = []
        for key, _, _ in self.rows:
            row = self.finished(key)
            trajectories.extend(row)
            # A row a stopped run never reached has no summary, not a row of zeros.
            if row or interrupted is None:
                metrics["agents"][key] = summarize(row)
                metrics["agents"][key]["prm_disagreement"] = disagreement(row)
        write_run(self.run_dir, config, trajectories, metrics)
        return metrics
