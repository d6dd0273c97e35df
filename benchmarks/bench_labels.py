"""OmegaPRM's binary first-error search against exhaustive Monte Carlo labelling, per family.

Both label the same first-error set (oracle trajectories and perturbed copies whose first
wrong step is known, played through the real env) with the same continuation policy:

- **exhaustive MC** (Math-Shepherd): ``k`` continuations after every step;
- **binary search** (OmegaPRM, arXiv 2406.06592): continuations only at the ``O(log n)``
  prefixes a binary search over step positions visits; a successful trajectory costs nothing.

For each it prints the cost (continuation actions the policy took: for an LLM, one generation
each; and wall time) and how well the labels locate the known first error (ProcessBench's
accuracies and F1, a step labelled 0 being the predicted error), plus how often the two agree.
The ratio printed is binary search's continuation actions over exhaustive MC's.

    python benchmarks/bench_labels.py --count 20 --families search,data,web,swe
    python benchmarks/bench_labels.py --families search --policy noisy-oracle:0.5 --k 4
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import gymnasium

from prmgym.agents.policies import make_policy
from prmgym.agents.policies.base import Decision, EpisodeView, Policy
from prmgym.registry import registered_envs
from prmgym.rewards.evaluation.first_error import build_first_error_set
from prmgym.rewards.evaluation.metrics import first_error_metrics
from prmgym.training.prm.first_error import first_error_search, label_first_error
from prmgym.training.prm.labels import monte_carlo_labels


class CountingPolicy:
    """Counts the actions a policy decides (the continuations' cost)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.name = policy.name
        self.actions = 0

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        self.actions += len(episodes)
        return self.policy.act(episodes)


def measure(env_id: str, count: int, policy_spec: str, k: int, max_steps: int) -> dict:
    items = build_first_error_set(env_id, "test", count, seed=0)
    env = gymnasium.make(env_id, split="test")
    gold = [item.first_error for item in items]
    out: dict = {"n": len(items)}
    predicted: dict[str, list[int]] = {}
    for method in ("mc", "binary"):
        policy = CountingPolicy(make_policy(policy_spec, seed=0))
        started = time.perf_counter()
        found = []
        for item in items:
            if method == "mc":
                labels = monte_carlo_labels(env, item.trajectory, policy, k, max_steps)
                first = label_first_error(labels)
            else:
                first = first_error_search(env, item.trajectory, policy, k, max_steps).first_error
            found.append(-1 if first is None else first)
        predicted[method] = found
        out[method] = {
            **first_error_metrics(found, gold),
            "actions": policy.actions / len(items),
            "seconds": (time.perf_counter() - started) / len(items),
        }
    out["agree"] = sum(a == b for a, b in zip(*predicted.values(), strict=True)) / len(items)
    env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="search,data,web,swe")
    parser.add_argument("--count", type=int, default=20, help="items per family (half correct)")
    parser.add_argument("--policy", default="oracle", help="continuation policy spec")
    parser.add_argument("--k", type=int, default=1, help="continuations per prefix")
    parser.add_argument("--max-steps", type=int, default=8)
    args = parser.parse_args()
    envs = {info.family: info.id for info in registered_envs().values()}
    print(f"policy {args.policy}, k={args.k}, continuations of at most {args.max_steps} steps")
    header = "family  n   method  acc_err acc_ok  F1     actions/item  s/item  agree  ratio"
    print(header)
    for family in args.families.split(","):
        r = measure(envs[family], args.count, args.policy, args.k, args.max_steps)
        ratio = r["binary"]["actions"] / r["mc"]["actions"] if r["mc"]["actions"] else float("nan")
        for method in ("mc", "binary"):
            m = r[method]
            print(
                f"{family:7} {r['n']:3d} {method:7} {m['acc_erroneous']:.3f}   "
                f"{m['acc_correct']:.3f}  {m['f1']:.3f}  {m['actions']:10.1f}  "
                f"{m['seconds']:6.2f}  {r['agree']:.2f}  {ratio:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
