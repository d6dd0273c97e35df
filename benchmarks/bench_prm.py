"""P4: batched judge scoring vs one-by-one, and first-error F1 of the shipped PRMs.

Part 1 scores the same steps with the rubric agent twice, on the same SmolLM2 judge: once as
the library does it (all criteria of a step in one batched readout, steps with one criterion
pooled) and once asking the judge one (step, criterion) at a time, as a naive loop would. It
prints the ratio and checks that the scores agree.

Part 2 measures first-error detection (ProcessBench metrics) on held-out perturbed search
trajectories for the search verifier, the rubric agent judged by SmolLM2, a trained PRM (when
``--prm-dir`` names one) and a constant PRM as the floor.

    python benchmarks/bench_prm.py --steps 16 --items 40 --prm-dir runs/prm-search
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from prmgym.agents.backends import make_backend
from prmgym.rewards.evaluation.first_error import build_first_error_set
from prmgym.rewards.evaluation.harness import evaluate_first_error
from prmgym.rewards.judges import JudgeQuery, LogitJudge
from prmgym.rewards.judges.base import JudgeStats
from prmgym.rewards.learned.loading import load_learned_prm
from prmgym.rewards.rubrics.agent import RubricPRM
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.trajectory import StepScore, Trajectory


class OneByOneJudge:
    """The baseline: every (step, criterion) asked alone, nothing shared or cached."""

    def __init__(self, backend):
        self.backend = backend
        self.name = "one-by-one"
        self.stats = JudgeStats()

    def judge(self, queries: Sequence[JudgeQuery]) -> list[list[float]]:
        out = []
        for query in queries:
            row = []
            for criterion in query.criteria:
                fresh = LogitJudge(self.backend)  # a new cache each time: nothing reused
                row.append(fresh.judge([JudgeQuery(query.context, query.step, (criterion,))])[0][0])
                self.stats.backend_calls += 1
            out.append(row)
        return out


class ConstantPRM:
    name = "constant"

    def score(self, trajectory: Trajectory, env=None) -> list[StepScore]:
        return [StepScore(value=1.0, source=self.name) for _ in trajectory.steps]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        return [StepScore(value=1.0, source=self.name) for _ in candidate_actions]


def trajectories_with_steps(items, steps: int) -> list[Trajectory]:
    chosen, total = [], 0
    for item in items:
        if total >= steps:
            break
        take = item.trajectory.steps[: steps - total]
        chosen.append(item.trajectory.model_copy(update={"steps": take}))
        total += len(take)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=16, help="Steps judged in part 1.")
    parser.add_argument("--items", type=int, default=40, help="First-error items in part 2.")
    parser.add_argument(
        "--prm-dir", action="append", default=[], help="A PRM saved by prmgym train-prm (repeat)."
    )
    parser.add_argument("--judge", default="smollm2", help="Backend spec of the judge.")
    parser.add_argument("--skip-rubric-f1", action="store_true", help="Part 2 without rubric.")
    args = parser.parse_args()

    backend = make_backend(args.judge)
    items = build_first_error_set("prmgym/SearchQA-v0", "test", max(args.items, 8), seed=1)

    # Part 1: the same steps, batched vs one-by-one.
    runs = trajectories_with_steps(items, args.steps)
    batched_prm = RubricPRM(judge=LogitJudge(backend))
    naive_prm = RubricPRM(judge=OneByOneJudge(backend))
    naive_prm.score(runs[0])  # warm-up: load and first-call costs out of the timings
    naive_prm.judge.stats = JudgeStats()
    start = time.perf_counter()
    naive = [s.value for t in runs for s in naive_prm.score(t)]
    t_naive = time.perf_counter() - start
    start = time.perf_counter()
    batched = [s.value for t in runs for s in batched_prm.score(t)]
    t_batched = time.perf_counter() - start
    stats = batched_prm.judge.stats
    print(
        f"judge: {backend.name}; {sum(len(t.steps) for t in runs)} steps, {stats.prompts} prompts"
    )
    print(f"one-by-one  {t_naive:7.1f} s  ({naive_prm.judge.stats.backend_calls} backend calls)")
    print(f"batched     {t_batched:7.1f} s  ({stats.backend_calls} backend calls)")
    print(f"speed-up    {t_naive / t_batched:7.2f}x")
    print(
        f"max |score difference| {max(abs(a - b) for a, b in zip(naive, batched, strict=True)):.2e}"
    )

    # Part 2: first-error F1 on held-out perturbed trajectories.
    items = items[: args.items]
    prms = [ConstantPRM(), SearchVerifier()]
    if not args.skip_rubric_f1:
        prms.append(RubricPRM(judge=LogitJudge(backend)))
    prms.extend(load_learned_prm(path) for path in args.prm_dir)
    print(f"\nfirst-error detection on {len(items)} held-out test-split items")
    print(
        f"{'PRM':28} {'acc err':>8} {'acc cor':>8} {'F1@0.5':>7} {'best F1':>8} {'thr':>5} {'s':>7}"
    )
    for prm in prms:
        start = time.perf_counter()
        report = evaluate_first_error(prm, items)
        seconds = time.perf_counter() - start
        o, b = report.overall, report.best
        print(
            f"{prm.name:28} {o['acc_erroneous']:8.3f} {o['acc_correct']:8.3f} {o['f1']:7.3f}"
            f" {b['f1']:8.3f} {b['threshold']:5.2f} {seconds:7.1f}"
        )


if __name__ == "__main__":
    main()
