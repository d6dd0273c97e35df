"""SLATE's shared-prefix step groups against independent rollouts: step-advantage variance.

For each task, the same policy and PRM produce step advantages three ways, each step's
return being its raw PRM score (what SLATE trains on), unnormalised so variances compare:

- **shared prefix** (``rollout.mode: shared_prefix``): one trunk, ``k`` truncated siblings per
  trunk state, each sibling's step baselined on its siblings (the same state);
- **same branches, task-wide**: those steps baselined on every branch of the task, i.e. what
  the estimate is without the shared state;
- **independent rollouts** (``rollout.mode: episodes``): ``k`` whole episodes per task, steps
  grouped GiGPO-style by identical state (a step whose state no other episode reached falls
  back to the task-wide baseline), as the trainer's ``A_S`` does.

It prints each variance, pooled over tasks, and the ratio shared / independent (SLATE's
claim: below 1). Also the cost: env steps and PRM calls per task.

    python benchmarks/bench_slate.py --tasks 20 --k 4                       # noisy oracle
    python benchmarks/bench_slate.py --family data --agent smollm2 --tasks 4 --max-steps 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium

from prmgym.agents.policies import make_policy
from prmgym.agents.runner import run_episodes
from prmgym.registry import registered_envs
from prmgym.rewards.registry import make_scorer
from prmgym.training.advantages import step_advantages, step_groups, step_rewards
from prmgym.training.shared_prefix import advantage_variances, sample_shared_prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="search")
    parser.add_argument("--agent", default="noisy-oracle:0.5", help="policy spec")
    parser.add_argument("--temperature", type=float, default=0.8, help="for LLM agents")
    parser.add_argument("--prm", default="verifier")
    parser.add_argument("--tasks", type=int, default=20, help="the test split's first tasks")
    parser.add_argument("--k", type=int, default=4, help="siblings per state / episodes per task")
    parser.add_argument("--max-steps", type=int, default=6)
    args = parser.parse_args()
    env_id = {info.family: info.id for info in registered_envs().values()}[args.family]
    policy = make_policy(args.agent, temperature=args.temperature, seed=1)
    prm = make_scorer(args.prm, family=args.family)

    def make_env() -> gymnasium.Env:
        return gymnasium.make(env_id, split="test", max_episode_steps=args.max_steps)

    env = make_env()
    task_ids = [task.id for task in env.unwrapped.tasks][: args.tasks]

    started = time.perf_counter()
    task_groups = [
        sample_shared_prefix(
            env, policy, task_id, k=args.k, scorer=prm, max_steps=args.max_steps, seed=j
        )
        for j, task_id in enumerate(task_ids)
    ]
    slate_seconds = time.perf_counter() - started
    shared, task_wide = advantage_variances(task_groups, prm=prm.name)
    branches = [b for groups in task_groups for group in groups for b in group]

    started = time.perf_counter()
    repeated = [task_id for task_id in task_ids for _ in range(args.k)]
    episodes = run_episodes(make_env, repeated, policy, scorers=[prm], seed=1000)
    independent_seconds = time.perf_counter() - started
    pooled: list[float] = []
    for j in range(len(task_ids)):
        group = [t for t in episodes[j * args.k : (j + 1) * args.k] if t.error is None]
        returns = [step_rewards(t, i, prm.name) for i, t in enumerate(group)]
        computed = step_advantages(returns, step_groups(group), normalize="none")
        pooled.extend(a for episode in computed for a in episode)
    independent = statistics.pvariance(pooled) if pooled else 0.0

    print(f"{args.family}: {len(task_ids)} tasks, agent {args.agent}, PRM {prm.name}, k={args.k}")
    print(f"{'grouping':34} {'steps':>6} {'variance':>9} {'env steps/task':>15} {'s/task':>7}")
    n = len(task_ids)
    rows = [
        ("shared prefix (SLATE siblings)", len(branches), shared, len(branches), slate_seconds),
        ("same branches, task-wide baseline", len(branches), task_wide, None, None),
        (
            "independent rollouts (GiGPO groups)",
            len(pooled),
            independent,
            sum(len(t.steps) for t in episodes),
            independent_seconds,
        ),
    ]
    for name, steps, variance, env_steps, seconds in rows:
        cost = f"{env_steps / n:15.1f} {seconds / n:7.2f}" if seconds is not None else ""
        print(f"{name:34} {steps:6d} {variance:9.4f} {cost}")
    if independent:
        print(f"ratio shared / independent: {shared / independent:.2f}")
    if task_wide:
        print(f"ratio shared / task-wide (same steps): {shared / task_wide:.2f}")
    env.close()


if __name__ == "__main__":
    main()
