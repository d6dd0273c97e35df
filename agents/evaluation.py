"""Evaluating agents on a suite: episodes, PRM scores, a run directory and a summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium

from prmgym.agents.backends import make_backend
from prmgym.agents.policies import make_policy
from prmgym.agents.runner import run_episodes
from prmgym.agents.search import BestOfN, make_search, run_best_of_n
from prmgym.registry import env_info
from prmgym.rewards.disagreement import disagreement
from prmgym.rewards.judges import Judge, make_judge
from prmgym.rewards.registry import make_scorer
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


def evaluate(
    suite: Suite,
    agents: Sequence[str],
    *,
    episodes: int | None = None,
    scorers: Sequence[str] | None = None,
    judge: str = "smollm2",
    search: str | None = None,
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
        search: Test-time search spec (``prune:k=4``...), applied to every agent; None acts
            on the policy's single draw.
        seed: Base seed for resets and sampling.
        batch_size: Live episodes per agent at once (one batched generate per step).
        temperature: Sampling temperature of LLM agents (0 = greedy).
        runs_dir: Where run directories go.
        name: Run name (default ``eval-<suite>-<time>``).
        progress: Given an agent and an episode count, returns a per-episode callback.

    Returns:
        The run directory and its metrics.
    """
    scorer_names = list(suite.scorers if scorers is None else scorers)
    family = env_info(suite.env).family
    judges = judge_factory(judge)
    prms = [make_scorer(s, family=family, judge=judges) for s in scorer_names]
    method = make_search(search, family=family, judge=judges) if search else None
    task_ids = suite_task_ids(suite, episodes)
    run_dir = new_run_dir(runs_dir, name, prefix=f"eval-{suite.name}")
    all_trajectories: list[Trajectory] = []
    metrics: dict[str, Any] = {"suite": suite.name, "suite_version": suite.version, "agents": {}}
    for agent in agents:
        policy = make_policy(agent, temperature=temperature, seed=seed)
        callback = progress(agent, len(task_ids)) if progress else None
        make_env = lambda: gymnasium.make(suite.env, split=suite.split, **suite.env_kwargs)  # noqa: E731
        if isinstance(method, BestOfN):
            trajectories = run_best_of_n(
                make_env,
                task_ids,
                policy,
                method,
                scorers=prms,
                batch_size=batch_size,
                seed=seed,
                on_done=callback,
            )
        else:
            trajectories = run_episodes(
                make_env,
                task_ids,
                policy,
                scorers=prms,
                batch_size=batch_size,
                seed=seed,
                on_done=callback,
                search=method,
            )
        all_trajectories.extend(trajectories)
        metrics["agents"][agent] = summarize(trajectories)
        metrics["agents"][agent]["prm_disagreement"] = disagreement(trajectories)
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
        "search": search,
        "seed": seed,
        "batch_size": batch_size,
        "temperature": temperature,
    }
    write_run(run_dir, config, all_trajectories, metrics)
    return run_dir, metrics
