"""P6: success against compute for test-time search methods on search-lite.

Methods: greedy (one draw per step), best-of-N episodes (N = 2, 4, 8), per-step pruning
(K = 2, 4, 8, with and without one-step lookahead), all judged by the search verifier. Compute
is counted as actions the policy sampled per episode (for an LLM, each is a generation), next
to env steps, PRM calls and wall time. The baseline is greedy in the same run; the printed
ratio is how much more sampling best-of-N needs to match pruning at K = 4.

    python benchmarks/bench_search.py                       # noisy oracle, p = 0.5, 50 tasks
    python benchmarks/bench_search.py --agent smollm2 --tasks 10 --temperature 0.8
    python benchmarks/bench_search.py --plot benchmarks/search.svg
"""

from __future__ import annotations

import argparse
import time
from statistics import fmean

import gymnasium

import prmgym  # noqa: F401 - registers the envs
from prmgym.agents.policies import make_policy
from prmgym.agents.runner import run_episodes
from prmgym.agents.search import BestOfN, StepPruning, run_best_of_n
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.summary import wilson_interval


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default="noisy-oracle:0.5", help="Policy spec.")
    parser.add_argument("--tasks", type=int, default=50, help="Tasks from search-lite's split.")
    parser.add_argument("--temperature", type=float, default=0.8, help="LLM sampling temperature.")
    parser.add_argument("--sizes", default="2,4,8", help="N and K values.")
    parser.add_argument("--plot", default=None, help="Write a success-vs-compute plot here.")
    args = parser.parse_args()

    ids = [t.id for t in make_env().unwrapped.tasks[: args.tasks]]
    policy = make_policy(args.agent, temperature=args.temperature, seed=0)
    verifier = SearchVerifier()
    sizes = [int(s) for s in args.sizes.split(",")]
    methods: list[tuple[str, object]] = [("greedy", None)]
    methods += [(f"bon:n={n}", BestOfN(verifier, n)) for n in sizes]
    methods += [(f"prune:k={k}", StepPruning(verifier, k)) for k in sizes]
    methods += [(f"prune:k={k},lookahead", StepPruning(verifier, k, lookahead=True)) for k in sizes]

    rows = []
    print(f"{args.agent} on {len(ids)} search-lite tasks, verifier PRM")
    header = f"{'method':22} {'success':>8} {'95% CI':>13} {'samples/ep':>10} {'env steps/ep':>12}"
    print(header + f" {'PRM calls/ep':>12} {'s':>6}")
    for name, method in methods:
        start = time.perf_counter()
        if isinstance(method, BestOfN):
            runs = run_best_of_n(make_env, ids, policy, method)
        elif method is None:
            # Greedy: temperature 0 for LLMs (the noisy oracle has no temperature).
            runs = run_episodes(make_env, ids, make_policy(args.agent, temperature=0.0))
        else:
            runs = run_episodes(make_env, ids, policy, search=method)
        seconds = time.perf_counter() - start
        wins = sum(t.success for t in runs)
        low, high = wilson_interval(wins, len(runs))
        samples = fmean(t.accounting.actions_sampled for t in runs)
        steps = fmean(t.accounting.env_steps for t in runs)
        calls = fmean(t.accounting.prm_calls for t in runs)
        rows.append((name, wins / len(runs), samples))
        print(
            f"{name:22} {wins / len(runs):8.1%} [{low:.2f}, {high:.2f}] {samples:10.1f}"
            f" {steps:12.1f} {calls:12.1f} {seconds:6.1f}"
        )

    greedy = rows[0]
    target = next(r for r in rows if r[0] == "prune:k=4")
    matching = [r for r in rows if r[0].startswith("bon") and r[1] >= target[1]]
    print(f"\ngreedy: {greedy[1]:.1%} at {greedy[2]:.1f} samples per episode")
    if matching:
        cheapest = min(matching, key=lambda r: r[2])
        print(
            f"best-of-N matches prune:k=4 ({target[1]:.1%}) first at {cheapest[0]}:"
            f" {cheapest[2] / target[2]:.2f}x the samples of pruning"
        )
    else:
        print(f"no best-of-N size reached prune:k=4's {target[1]:.1%}")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        for family, marker in (
            ("greedy", "s"),
            ("bon", "o"),
            ("prune:k=", "^"),
            ("lookahead", "v"),
        ):
            pts = [
                r
                for r in rows
                if (family in r[0] if family == "lookahead" else r[0].startswith(family))
                and (family == "lookahead" or "lookahead" not in r[0])
            ]
            if pts:
                ax.plot([p[2] for p in pts], [p[1] for p in pts], marker=marker, label=family)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("actions sampled per episode")
        ax.set_ylabel("success rate")
        ax.set_title(f"{args.agent}: success vs compute")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
