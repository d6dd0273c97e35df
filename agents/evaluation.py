"""Evaluating agents on a suite: episodes, PRM scores, a run directory and a summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium

from prmgym.agents.backends import make_backend
from prmgym.agents.policies import make_policy
from prmgym.agents.search import SearchMethod, make_search, run_search
from prmgym.errors import ConfigError
from prmgym.registry import env_info
from prmgym.rewards.disagreement import disagreement
from prmgym.rewards.judges import Judge, make_judge
from prmgym.rewards.registry import JudgeFactory, make_scorer
from prmgym.runs import new_run_dir, write_run
from prmgym.suites import Suite
from prmgym.summary import summarize
from prmgym.trajectory import Trajectory


def suite_task_ids(suite: Suite, episodes: int | None = None) -> list[str]:
    """The suite's task ids: the first ``count`` of its split (cycled if ``episodes`` is larger)."""
    env = gymnasium.make(suite.env, split=suite.split, **suite.env_kwargs)
    ids = [task.id for task in env.unwrapped.tasks][: suite.count]
    env.close()
    n = episodes or len(ids)
    return [ids[i % len(ids)] for i in range(n)]


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
    progress: Callable[[str, int], Callable[[Trajectory], None]] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run every agent on the suite, score the steps, and write ``runs_dir/name``.

    Args:
        suite: What to run.
        agents: Agent specs (``oracle``, ``random``, ``smollm2``, ``transformers:...``...).
        episodes: Episodes per agent (default: the suite's count).
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
        progress: Given a row key and an episode count, returns a per-episode callback.

    Returns:
        The run directory and its metrics; ``metrics["agents"]`` holds one summary per row
        (agent and search), keyed as the trajectories' ``agent`` field.

    Raises:
        ConfigError: A bad scorer or search spec (found before any episode runs), or a bad
            agent spec.
    """
    scorer_names = list(suite.scorers if scorers is None else scorers)
    family = env_info(suite.env).family
    judges = judge_factory(judge)
    prms = [make_scorer(s, family=family, judge=judges) for s in scorer_names]
    specs = search_specs(search)
    rows = build_methods(agents, specs, family=family, judge=judges)
    task_ids = suite_task_ids(suite, episodes)
    run_dir = new_run_dir(runs_dir, name, prefix=f"eval-{suite.name}")
    all_trajectories: list[Trajectory] = []
    metrics: dict[str, Any] = {"suite": suite.name, "suite_version": suite.version, "agents": {}}
    make_env = lambda: gymnasium.make(suite.env, split=suite.split, **suite.env_kwargs)  # noqa: E731
    for agent in agents:
        # One policy serves all of an agent's rows, so a model loads once, and only one at a
        # time is held.
        policy = make_policy(agent, temperature=temperature, seed=seed)
        for key, _, method in (row for row in rows if row[1] == agent):
            trajectories = run_search(
                make_env,
                task_ids,
                policy,
                method,
                scorers=prms,
                batch_size=batch_size,
                seed=seed,
                on_done=progress(key, len(task_ids)) if progress else None,
            )
            for trajectory in trajectories:
                trajectory.agent = key
            all_trajectories.extend(trajectories)
            metrics["agents"][key] = summarize(trajectories)
            metrics["agents"][key]["prm_disagreement"] = disagreement(trajectories)
    config = {
        "name": run_dir.name,
        "command": "eval",
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
        "batch_size": batch_size,
        "temperature": temperature,
    }
    write_run(run_dir, config, all_trajectories, metrics)
    return run_dir, metrics
