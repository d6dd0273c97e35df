"""P7: outcome-only against dual-granularity advantages, same seeds and episode budget.

Trains the same config twice per seed, once with ``advantages.omega=0`` (outcome only: the
group-normalised episode outcome, GRPO) and once with the configured omega (outcome plus the
step-level process term from the PRM), measuring held-out success after every iteration. Prints
both success curves against episodes spent and the share of outcome-only's episode budget that
dual granularity needs to reach outcome-only's final success (below 1.00 = dual is more sample
efficient).

With an ``sft`` warm start in the config, it runs once per seed (``warm-seedS/``) and both
variants resume from its checkpoint, so they start from the very same policy and the CPU pays
for the warm start once; a warm start already in the output folder is reused, and
``--warm-from 'runs/quickstart-seed{seed}'`` takes the one a training run of the same config
saved.

    python benchmarks/bench_training.py                                  # quickstart, seed 0
    python benchmarks/bench_training.py --seeds 3 --plot benchmarks/training.svg
    python benchmarks/bench_training.py iterations=4 eval.tasks=20       # overrides
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from statistics import fmean

from prmgym.training.checkpoint import latest_checkpoint
from prmgym.training.config import load_train_config
from prmgym.training.trainer import train


def curve(metrics: list[dict], episodes_per_iteration: int) -> list[tuple[int, float]]:
    """(episodes spent, held-out success) after every evaluated iteration.

    Iteration 0 counts from the warm-started policy where there was a warm start.
    """
    points = []
    for m in metrics:
        success = m.get("sft/eval_success", m.get("eval/success"))
        if success is not None:
            points.append((m["iteration"] * episodes_per_iteration, success))
    return points


def episodes_to_reach(points: list[tuple[int, float]], target: float) -> int | None:
    """Episodes spent when success first reached ``target`` (None: never)."""
    return next((episodes for episodes, success in points if success >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/quickstart.yaml", help="Training config.")
    parser.add_argument("--seeds", type=int, default=1, help="Seeds per variant.")
    parser.add_argument("--first-seed", type=int, default=0, help="Seeds run from this one.")
    parser.add_argument("--output", default="runs/bench-training", help="Run folders go here.")
    parser.add_argument("--plot", default=None, help="Write the success curves here (SVG/PNG).")
    parser.add_argument(
        "--warm-from",
        default=None,
        help="Run folder template ({seed}) whose checkpoint-warm-start to branch from.",
    )
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE settings over the config.")
    args = parser.parse_args()

    base = load_train_config(args.config, args.overrides)
    per_iteration = base.rollout.tasks_per_iteration * base.rollout.group_size
    variants = {"outcome-only": 0.0, f"dual (omega={base.advantages.omega:g})": None}
    curves: dict[str, list[list[tuple[int, float]]]] = {name: [] for name in variants}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for seed in seeds:
        warm = Path(args.output) / f"warm-seed{seed}"
        if args.warm_from and latest_checkpoint(warm) is None:
            source = Path(args.warm_from.format(seed=seed))
            warm.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source / "checkpoint-warm-start", warm / "checkpoint-warm-start")
            first = (source / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[0]
            (warm / "metrics.jsonl").write_text(first + "\n", encoding="utf-8")
        if base.sft is not None and latest_checkpoint(warm) is None:
            train(
                load_train_config(
                    args.config,
                    [*args.overrides, f"seed={seed}", "iterations=0", f"output_dir={warm}"],
                )
            )
        for name, omega in variants.items():
            output = Path(args.output) / f"{name.split()[0]}-seed{seed}"
            overrides = [*args.overrides, f"seed={seed}", "eval.every=1", f"output_dir={output}"]
            if omega is not None:
                overrides.append(f"advantages.omega={omega}")
            config = load_train_config(args.config, overrides)
            if base.sft is not None:
                shutil.rmtree(output, ignore_errors=True)
                output.mkdir(parents=True)
                shutil.copytree(latest_checkpoint(warm), output / latest_checkpoint(warm).name)
                shutil.copy(warm / "metrics.jsonl", output / "metrics.jsonl")
            result = train(config, resume=base.sft is not None)
            points = curve(result.metrics, per_iteration)
            curves[name].append(points)
            print(f"{name} seed {seed}: " + ", ".join(f"{e}:{s:.0%}" for e, s in points))

    print(f"\nheld-out success by episodes spent (mean of {args.seeds} seed(s))")
    for name, runs in curves.items():
        means = [fmean(run[i][1] for run in runs) for i in range(len(runs[0]))]
        print(f"{name:24} " + " ".join(f"{m:6.1%}" for m in means))
    outcome, dual = curves.values()
    shares = []
    for outcome_run, dual_run in zip(outcome, dual, strict=True):
        target, budget = outcome_run[-1][1], outcome_run[-1][0]
        reached = episodes_to_reach(dual_run, target)
        shares.append(None if reached is None or budget == 0 else reached / budget)
    for seed, share in zip(seeds, shares, strict=True):
        shown = "never reached" if share is None else f"{share:.2f} of the episodes"
        print(f"seed {seed}: dual reaches outcome-only's final success at {shown}")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        for colour, (name, runs) in zip(("C0", "C1"), curves.items(), strict=True):
            for i, run in enumerate(runs):
                ax.plot(
                    [e for e, _ in run],
                    [s for _, s in run],
                    color=colour,
                    alpha=0.8,
                    marker="o",
                    label=name if i == 0 else None,
                )
        ax.set_xlabel("training episodes")
        ax.set_ylabel("held-out success")
        ax.set_title("P7: outcome-only vs dual granularity")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
