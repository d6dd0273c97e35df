"""P3: episode throughput with batched generation across live episodes.

Three ways to run the same 8 search-lite episodes with SmolLM2-135M (greedy, so the episodes
are the same whichever way they run):

  batched     8 live episodes, one batched generate per step (prmgym's runner)
  one-by-one  the same episodes run with batch_size=1
  raw         the exact batches the batched run sent, replayed straight into generate
              (the floor: what the model alone costs, no env, no parsing, no PRM)

The backend's shared-prefix KV cache is on by default, as in prmgym; --no-prefix-cache turns
it off to measure what it saves.

Each mode runs in its own process, so peak memory (max RSS) is per mode. Prints steps/s,
tokens/s, the ratios batched/one-by-one and batched/raw, and peak memory.

P8 (GPU): ``--engine vllm`` generates with vLLM in process (``VLLMBackend``, as the trainer's
``rollout.engine: vllm``), and ``raw`` then replays the recorded batches straight into
``vllm.LLM.chat``: rollout tokens/s against raw vLLM generate on the same prompts.

    .venv/bin/python benchmarks/bench_rollout.py [--episodes 8] [--max-new-tokens 48]
    .venv/bin/python benchmarks/bench_rollout.py --engine vllm --episodes 64 --skip-one-by-one
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time


def _run(
    mode: str,
    episodes: int,
    max_new_tokens: int,
    prefix_cache: bool,
    engine: str,
    queue: mp.Queue,
) -> None:
    import gymnasium

    import prmgym  # noqa: F401 - registers the envs
    from prmgym.agents.backends.transformers_backend import (
        TransformersBackend,
        default_smollm2_path,
    )
    from prmgym.agents.backends.vllm_backend import VLLMBackend
    from prmgym.agents.evaluation import suite_task_ids
    from prmgym.agents.policies.llm import LLMPolicy
    from prmgym.agents.runner import run_episodes
    from prmgym.generation import GenerationConfig
    from prmgym.suites import load_suite

    suite = load_suite("search-lite")
    task_ids = suite_task_ids(suite, episodes)
    backend: TransformersBackend | VLLMBackend = (
        TransformersBackend(prefix_cache=prefix_cache)
        if engine == "transformers"
        else VLLMBackend(str(default_smollm2_path()), gpu_memory_utilization=0.5)
    )
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    recorded: list[list] = []

    class Recorder:
        name = backend.name

        def generate(self, chats, cfg):
            recorded.append(list(chats))
            return backend.generate(chats, cfg)

    policy = LLMPolicy(Recorder(), config)
    # Warm-up: one short generate so lazy initialisation is not timed.
    backend.generate(
        [[{"role": "user", "content": "hi"}]], GenerationConfig(max_new_tokens=2, temperature=0)
    )
    make_env = lambda: gymnasium.make(suite.env, split=suite.split)  # noqa: E731
    start = time.perf_counter()
    trajectories = run_episodes(
        make_env, task_ids, policy, batch_size=episodes if mode != "one-by-one" else 1
    )
    elapsed = time.perf_counter() - start
    steps = sum(len(t.steps) for t in trajectories)
    tokens = sum(t.accounting.completion_tokens for t in trajectories)
    if mode == "raw" and isinstance(backend, VLLMBackend):
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        start = time.perf_counter()
        tokens = 0
        for chats in recorded:
            outputs = backend.llm.chat(chats, params, use_tqdm=False)
            tokens += sum(len(out.outputs[0].token_ids) for out in outputs)
        elapsed = time.perf_counter() - start
    elif mode == "raw":
        # A fresh backend (same loaded weights) so the replay starts with an empty prefix cache,
        # as the rollout did.
        backend = TransformersBackend(prefix_cache=prefix_cache)
        start = time.perf_counter()
        tokens = 0
        for chats in recorded:
            outputs = backend.generate(chats, config)
            tokens += sum(len(c[0].token_ids) for c in outputs)
        elapsed = time.perf_counter() - start
    queue.put(
        {
            "mode": mode,
            "seconds": elapsed,
            "steps": steps,
            "tokens": tokens,
            "generate_calls": len(recorded),
            "successes": sum(t.success for t in trajectories),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument(
        "--no-prefix-cache",
        action="store_true",
        help="recompute the shared prompt prefix each call",
    )
    parser.add_argument(
        "--engine",
        choices=("transformers", "vllm"),
        default="transformers",
        help="what generates: the transformers backend (CPU) or vLLM in process (GPU, P8)",
    )
    parser.add_argument(
        "--skip-one-by-one", action="store_true", help="only batched and raw (long runs)"
    )
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    results = {}
    modes = ("batched", "raw") if args.skip_one_by_one else ("batched", "one-by-one", "raw")
    for mode in modes:
        queue = ctx.Queue()
        proc = ctx.Process(
            target=_run,
            args=(
                mode,
                args.episodes,
                args.max_new_tokens,
                not args.no_prefix_cache,
                args.engine,
                queue,
            ),
        )
        proc.start()
        results[mode] = queue.get()
        proc.join()
        r = results[mode]
        print(
            f"{mode:>10}: {r['seconds']:7.1f} s  {r['steps']:3d} steps"
            f"  {r['steps'] / r['seconds']:5.2f} steps/s"
            f"  {r['tokens'] / r['seconds']:6.1f} tok/s  {r['generate_calls']:3d} generate calls"
            f"  peak RSS {r['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    b, raw = results["batched"], results["raw"]
    rate = lambda r: r["steps"] / r["seconds"]  # noqa: E731
    if "one-by-one" in results:
        print(f"batched vs one-by-one: {rate(b) / rate(results['one-by-one']):.2f}x steps/s")
    print(
        f"rollout vs raw {args.engine} generate: {b['tokens'] / b['seconds']:.1f} vs"
        f" {raw['tokens'] / raw['seconds']:.1f} generated tok/s"
        f" ({b['tokens'] / b['seconds'] / (raw['tokens'] / raw['seconds']):.2f}x)"
    )
    print(
        f"batched vs raw batched generate: {b['seconds'] / raw['seconds']:.2f}x the time "
        f"({(b['seconds'] - raw['seconds']) / b['seconds']:.0%} of rollout time outside generate)"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
