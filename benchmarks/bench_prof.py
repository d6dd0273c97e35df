"""PROF consistency filtering: does it drop the correct rollouts whose process was flawed?

PROF (arXiv 2509.03403, ``advantages.prof_keep``) keeps, within each task group, the correct
rollouts with the highest mean PRM step score and the failed ones with the lowest. Its aim is
to stop rewarding lucky outcomes: correct answers reached through wrong steps.

The noisy oracle makes that measurable: it takes the oracle's action with probability p and a
plausible wrong one otherwise, so a step is flawed exactly when it is not the oracle's action
at that point. This benchmark runs ``--group`` episodes of each task, scores them with the PRM,
applies PROF at each ``--keep``, and prints the share of correct rollouts with a flawed step
before filtering (the baseline, what plain GRPO trains on) and among those PROF keeps. The
ratio kept / baseline is below 1 when PROF's ranking is consistent with the true process.
Also the cost: PROF needs no PRM call beyond the step scores the advantages already use.

    python benchmarks/bench_prof.py --tasks 40 --group 8 --p 0.7
"""

from __future__ import annotations

import argparse
import time

import gymnasium

from prmgym.agents.policies import make_policy
from prmgym.agents.policies.base import EpisodeView
from prmgym.agents.policies.oracle import next_action
from prmgym.agents.runner import run_episodes
from prmgym.rewards.registry import make_scorer
from prmgym.training.prof import prof_filter
from prmgym.trajectory import Trajectory


def flawed(trajectory: Trajectory) -> bool:
    """Whether some step is not the oracle's action from where the episode stood."""
    view = EpisodeView(task=trajectory.task, family=trajectory.task.family, observations=[""])
    for step in trajectory.steps:
        if step.action != next_action(view):
            return True
        view.actions.append(step.action)
        view.observations.append(step.observation)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=40, help="the train split's first tasks")
    parser.add_argument("--group", type=int, default=8, help="episodes per task (G)")
    parser.add_argument("--p", type=float, default=0.7, help="the noisy oracle's accuracy")
    parser.add_argument("--keep", default="0.25,0.5,0.75", help="PROF shares to measure")
    parser.add_argument("--prm", default="verifier")
    args = parser.parse_args()
    env_id = "prmgym/SearchQA-v0"
    prm = make_scorer(args.prm, family="search")
    env = gymnasium.make(env_id, split="train")
    ids = [task.id for task in env.unwrapped.tasks][: args.tasks]
    env.close()
    started = time.perf_counter()
    episodes = run_episodes(
        lambda: gymnasium.make(env_id, split="train", max_episode_steps=8),
        [task_id for task_id in ids for _ in range(args.group)],
        make_policy(f"noisy-oracle:{args.p}", seed=7),
        scorers=[prm],
        seed=0,
    )
    rollout_seconds = time.perf_counter() - started
    groups = [episodes[i : i + args.group] for i in range(0, len(episodes), args.group)]
    correct = [t for t in episodes if t.success]
    base = sum(flawed(t) for t in correct) / len(correct) if correct else float("nan")
    print(
        f"search, noisy-oracle:{args.p}, PRM {prm.name}: {len(episodes)} rollouts of"
        f" {len(groups)} tasks, {len(correct)} correct; rollout and scoring {rollout_seconds:.1f} s"
    )
    columns = ("keep", "correct kept", "flawed among them", "baseline", "ratio")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (5, 13, 18, 9, 6), strict=True)))
    for keep in (float(k) for k in args.keep.split(",")):
        started = time.perf_counter()
        kept = [group[i] for group in groups for i in prof_filter(group, prm=prm.name, keep=keep)]
        filter_ms = (time.perf_counter() - started) * 1000
        kept_correct = [t for t in kept if t.success]
        share = sum(flawed(t) for t in kept_correct) / len(kept_correct) if kept_correct else 0.0
        print(
            f"{keep:5.2f} {len(kept_correct):13d} {share:18.3f} {base:9.3f}"
            f" {share / base if base else float('nan'):6.2f}   (filter {filter_ms:.1f} ms)"
        )


if __name__ == "__main__":
    main()
