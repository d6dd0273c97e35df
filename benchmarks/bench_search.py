"""P6: success against compute for test-time search methods on search-lite.

Methods: greedy (one draw per step), best-of-N episodes (N = 2, 4, 8), per-step pruning
(K = 2, 4, 8, with and without one-step lookahead) and step beam search (2 beams, K = 2, 4, 8
candidates per beam), all judged by the search verifier. Compute
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
from collections.abc import Callable
from statistics import fmean

import gymnasium

import prmgym  # noqa: F401 - registers the envs
from prmgym.agents.policies import make_policy
from prmgym.agents.search import make_search, run_search
from prmgym.summary import wilson_interval


def env_factory(max_steps: int | None) -> Callable[[], gymnasium.Env[str, str]]:
    """Builds search-lite test envs; ``max_steps`` None keeps the registered step limit."""
    limit = {} if max_steps is None else {"max_episode_steps": max_steps}
    return lambda: gymnasium.make("prmgym/SearchQA-v0", split="test", **limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default="noisy-oracle:0.5", help="Policy spec.")
    parser.add_argument("--tasks", type=int, default=50, help="Tasks from search-lite's split.")
    parser.add_argument("--temperature", type=float, default=0.8, help="LLM sampling temperature.")
    parser.add_argument("--sizes", default="2,4,8", help="N and K values.")
    parser.add_argument("--beams", type=int, default=2, help="Beams of the beam-search rows.")
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="Repeat every method with policy seeds 0..S-1 (fresh reset seeds each) and pool"
        " the episodes.",
    )
    parser.add_argument("--plot", default=None, help="Write a success-vs-compute plot here.")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="Cut episodes at this many steps (default: the env's 12); a solved episode takes"
        " 3, and a wandering LLM spends most of the time in the rest.",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="Run only methods whose spec contains one of these comma-separated words, e.g."
        " greedy,beam (slow LLM runs in parts).",
    )
    args = parser.parse_args()
    make_env = env_factory(args.max_steps)

    ids = [t.id for t in make_env().unwrapped.tasks[: args.tasks]]
    sizes = [int(s) for s in args.sizes.split(",")]
    specs = ["greedy"]
    specs += [f"bon:n={n}" for n in sizes]
    specs += [f"prune:k={k}" for k in sizes]
    specs += [f"prune:k={k},lookahead=1" for k in sizes]
    specs += [f"beam:b={args.beams},k={k}" for k in sizes]
    if args.only:
        words = args.only.split(",")
        specs = [spec for spec in specs if any(word in spec for word in words)]

    rows = []
    print(
        f"{args.agent} on {len(ids)} search-lite tasks x {args.seeds} seed(s), verifier PRM;"
        f" reset seeds 0..{len(ids) * args.seeds - 1}"
    )
    header = f"{'method':22} {'success':>8} {'95% CI':>13} {'samples/ep':>10} {'env steps/ep':>12}"
    print(header + f" {'PRM calls/ep':>12} {'s':>6}")
    for name in specs:
        start = time.perf_counter()
        method = None if name == "greedy" else make_search(name, family="search")
        # Greedy: temperature 0 for LLMs (the noisy oracle has no temperature).
        temperature = 0.0 if method is None else args.temperature
        runs = []
        for seed in range(args.seeds):
            policy = make_policy(args.agent, temperature=temperature, seed=seed)
            runs += run_search(make_env, ids, policy, method, seed=seed * len(ids))
        seconds = time.perf_counter() - start
        wins = sum(t.success for t in runs)
        low, high = wilson_interval(wins, len(runs))
        samples = fmean(t.accounting.actions_sampled for t in runs)
        steps = fmean(t.accounting.env_steps for t in runs)
        calls = fmean(t.accounting.prm_calls for t in runs)
        rows.append((name, wins / len(runs), samples, steps))
        print(
            f"{name:22} {wins / len(runs):8.1%} [{low:.2f}, {high:.2f}] {samples:10.1f}"
            f" {steps:12.1f} {calls:12.1f} {seconds:6.1f}"
        )

    if rows[0][0] == "greedy":
        print(f"\ngreedy: {rows[0][1]:.1%} at {rows[0][2]:.1f} samples per episode")
    bon = [r for r in rows if r[0].startswith("bon")]
    for target in (r for r in rows if r[0].startswith("prune") and "lookahead" not in r[0]):
        matching = [r for r in bon if r[1] >= target[1]]
        if not matching:
            print(f"no best-of-N size reached {target[0]}'s {target[1]:.1%}")
            continue
        cheapest = min(matching, key=lambda r: r[2])
        print(
            f"best-of-N matches {target[0]} ({target[1]:.1%}) first at {cheapest[0]}:"
            f" {cheapest[2] / target[2]:.2f}x the samples and"
            f" {cheapest[3] / target[3]:.2f}x the env steps of pruning"
        )

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        def curve(name: str) -> str:
            if name == "greedy":
                return "greedy"
            if "lookahead" in name:
                return "prune + lookahead"
            return name.split(":")[0]

        curves: dict[str, list[tuple[str, float, float, float]]] = {}
        for row in rows:
            curves.setdefault(curve(row[0]), []).append(row)
        markers = dict(
            zip(["greedy", "bon", "prune", "prune + lookahead", "beam"], "so^vD", strict=True)
        )
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
        # Samples are what the policy pays; env steps are what the environment pays.
        for ax, column, label in ((axes[0], 2, "actions sampled"), (axes[1], 3, "env steps")):
            for name, points in curves.items():
                ax.plot(
                    [p[column] for p in points],
                    [p[1] for p in points],
                    marker=markers.get(name, "o"),
                    label=name,
                )
            ax.set_xscale("log", base=2)
            ax.set_xlabel(f"{label} per episode")
        axes[0].set_ylabel("success rate")
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{args.agent} on search-lite: success vs compute")
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
