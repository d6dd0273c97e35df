"""The RL trainer: a short loop over rollout, advantage, update, checkpoint and evaluation.

One iteration: draw ``rollout.tasks_per_iteration`` training tasks, run ``rollout.group_size``
episodes of each (or, with ``rollout.mode: shared_prefix``, SLATE's truncated siblings of one
trunk per task: :mod:`prmgym.training.shared_prefix`) with the policy sampling (one batched
generate per round for every live episode), score their steps with the PRM, turn outcomes
and step scores into dual-granularity advantages per task group (on the rollouts PROF keeps,
with ``advantages.prof_keep``), and take PPO-clip steps on the action tokens. Checkpoints
land every ``checkpoint_every`` iterations; ``resume=True`` continues from the newest one.
Held-out success (greedy, one episode per task) is measured before training, every
``eval.every`` iterations and at the end; everything goes to ``metrics.jsonl``.

With ``sft`` set, a fresh run fine-tunes the policy on expert steps after measuring it
untrained (:mod:`prmgym.training.sft`), then measures it again: the iteration-0 line keeps the
untrained ``eval/...`` figures and adds the warm start's as ``sft/...``.

Launched as several processes (``accelerate launch``, ``torchrun``), the run is data-parallel:
see :mod:`prmgym.training.data_parallel`.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

import torch

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.agents.backends.vllm_backend import VLLMBackend
from prmgym.agents.backends.vllm_server_backend import VLLMServerBackend
from prmgym.agents.evaluation import judge_factory
from prmgym.agents.policies.llm import LLMPolicy
from prmgym.agents.runner import ProgressCallback, run_episodes
from prmgym.errors import ConfigError
from prmgym.generation import GenerationBackend, GenerationConfig
from prmgym.registry import env_info
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.registry import make_scorer
from prmgym.summary import wilson_interval
from prmgym.training.advantages import dual_granularity_advantages
from prmgym.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from prmgym.training.config import AdvantageConfig, OptimConfig, RolloutConfig, TrainConfig
from prmgym.training.data_parallel import DataParallel
from prmgym.training.loss import action_logprobs, ppo_clip_loss
from prmgym.training.metrics_log import MetricsLog
from prmgym.training.online_prm import SPEC as ONLINE_PRM
from prmgym.training.online_prm import OnlineImplicitPRM
from prmgym.training.policy_model import load_policy_model, reference_logprobs
from prmgym.training.prm.train import resolve_base_model
from prmgym.training.prof import prof_filter
from prmgym.training.ray_envs import EnvWorkers, RemoteScorer
from prmgym.training.rollouts import (
    EnvFactory,
    collect_groups,
    draw_tasks,
    env_factory,
    split_task_ids,
)
from prmgym.training.samples import ActionSample, action_samples, replay_first_observations
from prmgym.training.sft import sft_warm_start, warm_start_rows
from prmgym.training.shared_prefix import (
    SiblingGroups,
    advantage_variances,
    branch_advantages,
    collect_sibling_groups,
)
from prmgym.training.yaml_config import to_yaml
from prmgym.trajectory import Trajectory

IterationCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    """What a finished run left behind."""

    output_dir: Path
    """The run's folder (checkpoints, ``metrics.jsonl``, ``config.yaml``, ``final/``)."""
    metrics: list[dict[str, Any]]
    """Every line of ``metrics.jsonl``."""


def evaluate_policy(
    backend: GenerationBackend,
    make_env: EnvFactory,
    task_ids: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 32,
    on_done: ProgressCallback | None = None,
    parallel: DataParallel | None = None,
) -> dict[str, float]:
    """Greedy success on ``task_ids`` (one episode each) with its 95% Wilson interval.

    With ``parallel``, each process runs its share of the tasks and all get the total.
    """
    parallel = parallel or DataParallel()
    policy = LLMPolicy(backend, GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0))
    mine = parallel.share(task_ids)
    runs = run_episodes(make_env, mine, policy, batch_size=batch_size, on_done=on_done)
    outcomes = parallel.gather([t.success for t in runs])
    wins = sum(outcomes)
    low, high = wilson_interval(wins, len(outcomes))
    return {
        "eval/success": wins / len(outcomes),
        "eval/success_low": low,
        "eval/success_high": high,
    }


def rollout_metrics(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """Success, outcome, length, PRM mean, broken share and compute of an iteration's episodes."""
    ok = [t for t in trajectories if t.error is None]
    scores = [s.scores[-1].value for t in ok for s in t.steps if s.scores]
    return {
        "rollout/success": fmean(t.success for t in ok) if ok else 0.0,
        "rollout/outcome": fmean(t.outcome_reward for t in ok) if ok else 0.0,
        "rollout/steps": fmean(len(t.steps) for t in ok) if ok else 0.0,
        "rollout/prm": fmean(scores) if scores else 0.0,
        "rollout/episodes": float(len(trajectories)),
        "rollout/broken": 1 - len(ok) / len(trajectories) if trajectories else 0.0,
        "rollout/generated_tokens": float(
            sum(t.accounting.completion_tokens for t in trajectories)
        ),
    }


def group_advantages(
    group: Sequence[Trajectory], settings: AdvantageConfig, prm: str | None
) -> tuple[list[list[float]], int]:
    """Per-step advantages of one task's group, and how many rollouts PROF dropped.

    GiGPO's dual-granularity advantages (:func:`dual_granularity_advantages`) with the
    ``settings``; with ``settings.prof_keep`` set, only the rollouts PROF keeps
    (:func:`~prmgym.training.prof.prof_filter`, arXiv 2509.03403) enter the group, as in the
    paper: the baselines are theirs, and a dropped rollout gets a zero advantage on every step,
    which the update skips.

    Args:
        group: One task's rollouts.
        settings: The run's advantage settings.
        prm: The ``StepScore.source`` of the step scores; None trains on outcomes alone.

    Returns:
        Per rollout, one advantage per step (``[]`` for broken ones), and the number of
        non-broken rollouts PROF dropped.

    Raises:
        ConfigError: ``settings.prof_keep`` is set but ``prm`` is None.
    """
    kept = [i for i, trajectory in enumerate(group) if trajectory.error is None]
    if settings.prof_keep is not None:
        if prm is None:
            raise ConfigError("PROF filtering needs PRM step scores; set rollout.prm")
        kept = prof_filter(group, prm=prm, keep=settings.prof_keep)
    computed = dual_granularity_advantages(
        [group[i] for i in kept],
        prm=prm,
        omega=settings.omega if prm is not None else 0.0,
        process=settings.process,
        gamma=settings.gamma,
        normalize=settings.normalize,
        baseline=settings.baseline,
        clip=settings.clip,
    )
    result = [[0.0] * len(t.steps) if t.error is None else [] for t in group]
    for i, advantages in zip(kept, computed, strict=True):
        result[i] = advantages
    dropped = sum(t.error is None for t in group) - len(kept)
    return result, dropped


def sibling_iteration(
    task_groups: Sequence[SiblingGroups], settings: AdvantageConfig, prm: str
) -> tuple[list[Trajectory], list[list[float]], dict[str, float]]:
    """A ``shared_prefix`` iteration's branches, their per-step advantages, and its metrics.

    Advantages are :func:`~prmgym.training.shared_prefix.branch_advantages` with the run's
    ``omega``, baseline, normalisation and clip; the metrics are the sibling groups' count and
    :func:`~prmgym.training.shared_prefix.advantage_variances`.
    """
    branches, advantages = branch_advantages(
        task_groups,
        prm=prm,
        omega=settings.omega,
        normalize=settings.normalize,
        baseline=settings.baseline,
        clip=settings.clip,
    )
    shared, task_wide = advantage_variances(task_groups, prm=prm)
    metrics = {
        "rollout/sibling_groups": float(sum(len(groups) for groups in task_groups)),
        "rollout/adv_var_shared": shared,
        "rollout/adv_var_task_wide": task_wide,
    }
    return branches, advantages, metrics


def update_policy(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    samples: Sequence[ActionSample],
    optim: OptimConfig,
    *,
    pad_id: int,
    generator: random.Random,
    parallel: DataParallel | None = None,
) -> dict[str, float]:
    """PPO-clip epochs over ``samples``; the old log-probs are the policy's before the update.

    Samples with a zero advantage carry no gradient and are skipped. Under data parallelism
    every process passes the same samples and generator, computes its share of each minibatch
    and takes the same optimizer step (see :mod:`prmgym.training.data_parallel`).
    """
    parallel = parallel or DataParallel()
    samples = [s for s in samples if s.advantage != 0 and s.action_ids]
    if not samples:
        return {"update/samples": 0.0}
    model.train()
    with torch.no_grad():
        mine = parallel.share(samples)
        old_mine, _ = action_logprobs(
            model,
            mine,
            batch_size=optim.minibatch_size,
            pad_id=pad_id,
            shared_prefix=optim.prefix_cache,
        )
        old = parallel.gather([t.cpu() for t in old_mine])
        reference = None
        if optim.kl_coef > 0:
            reference_mine = reference_logprobs(
                model, mine, batch_size=optim.minibatch_size, pad_id=pad_id
            )
            reference = parallel.gather([t.cpu() for t in reference_mine])
    trainable = [p for p in model.parameters() if p.requires_grad]
    totals: dict[str, list[float]] = {}
    order = list(range(len(samples)))
    steps = 0
    for _ in range(optim.epochs):
        generator.shuffle(order)
        batches = [
            order[i : i + optim.minibatch_size] for i in range(0, len(order), optim.minibatch_size)
        ]
        for n, batch in enumerate(batches):
            stats: dict[str, float] = {}
            part = parallel.share(batch)
            if part:
                chosen = [samples[i] for i in part]
                logprobs, entropy = action_logprobs(
                    model,
                    chosen,
                    batch_size=len(chosen),
                    pad_id=pad_id,
                    with_entropy=True,
                    shared_prefix=optim.prefix_cache,
                )
                loss, stats = ppo_clip_loss(
                    logprobs,
                    [old[i] for i in part],
                    [s.advantage for s in chosen],
                    clip_eps=optim.clip_eps,
                    ref_logprobs=None if reference is None else [reference[i] for i in part],
                    kl_coef=optim.kl_coef,
                )
                # The loss is a mean over this share's tokens; weighted by the share's part of
                # the minibatch's tokens, the processes' mean gradient is the whole minibatch's.
                share = sum(len(s.action_ids) for s in chosen) / sum(
                    len(samples[i].action_ids) for i in batch
                )
                (loss * share * parallel.world / optim.grad_accumulation).backward()
                if entropy is not None:
                    stats["entropy"] = float(torch.cat(entropy).detach().mean())
            if (n + 1) % optim.grad_accumulation == 0 or n == len(batches) - 1:
                parallel.average_gradients(trainable)
                norm = torch.nn.utils.clip_grad_norm_(trainable, optim.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
                steps += 1
                stats["grad_norm"] = float(norm)
            for key, value in stats.items():
                totals.setdefault(key, []).append(float(value))
    model.eval()
    summary = parallel.mean({f"update/{k}": fmean(v) for k, v in totals.items()})
    summary.update({"update/samples": float(len(samples)), "update/optimizer_steps": float(steps)})
    return summary


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    on_episode: ProgressCallback | None = None,
    on_iteration: IterationCallback | None = None,
) -> TrainResult:
    """Run (or resume) the training described by ``config``.

    Args:
        config: What to train and how.
        resume: Continue from the newest checkpoint in ``config.output_dir`` (a fresh start when
            there is none).
        on_episode: Called with every finished rollout or evaluation episode (progress bars).
        on_iteration: Called with each iteration's number (1-based) and metrics.
    """
    output = Path(config.output_dir)
    parallel = DataParallel(config.device)
    if parallel.is_main:
        output.mkdir(parents=True, exist_ok=True)
        (output / "config.yaml").write_text(to_yaml(config), encoding="utf-8")
    torch.manual_seed(config.seed)
    backend = load_policy_model(config.model, lora=config.lora, device=parallel.device)
    model = backend.model
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.optim.learning_rate)
    rollout = config.rollout
    make_env = env_factory(rollout.env_id, rollout.split, rollout.max_steps, **rollout.env_kwargs)
    eval_env = env_factory(
        rollout.env_id, config.eval.split, rollout.max_steps, **rollout.env_kwargs
    )
    train_ids = split_task_ids(make_env)
    eval_ids = split_task_ids(eval_env)[: config.eval.tasks]
    family = env_info(rollout.env_id).family
    online = (
        OnlineImplicitPRM(config.model, config.online_prm, device=config.device, seed=config.seed)
        if rollout.prm == ONLINE_PRM
        else None
    )
    judge = judge_factory(rollout.judge)  # built only if the scorer judges with an LLM
    prm = online or (make_scorer(rollout.prm, family=family, judge=judge) if rollout.prm else None)
    rollout_env, scorers, step_workers = _rollout_envs(rollout, make_env, prm)
    trained_prm = {"online_prm": (online.model, online.optimizer)} if online else None
    done = 0
    checkpoint = latest_checkpoint(output) if resume else None
    if checkpoint is not None:
        done = int(load_checkpoint(checkpoint, model, optimizer, trained_prm)["iteration"]) + 1
    # Only rank 0 writes metrics and checkpoints; every process computes the same figures.
    log = (
        MetricsLog(output, start=done + 1 if checkpoint is not None else 0)
        if parallel.is_main
        else None
    )
    pad_id = backend.tokenizer.pad_token_id
    engine = _rollout_engine(config, backend)

    def policy_changed(step: str) -> None:
        """Weights changed: check the processes agree, drop cached prefixes, sync vLLM."""
        parallel.check_in_step(trainable, after=step)
        backend.forget_cached_prefixes()
        if isinstance(engine, VLLMServerBackend):
            # One server for all processes: one pushes, and none samples before it landed.
            if parallel.is_main:
                engine.sync_weights(model)
            parallel.wait()
        if isinstance(engine, VLLMBackend):
            adapters = output / "rollout-adapter"
            if parallel.world > 1:
                adapters = adapters / f"rank-{parallel.rank}"
            _sync_adapter(model, engine, adapters / step)

    # A resumed policy is not the base model, and a server may hold an earlier run's weights.
    policy_changed(checkpoint.name if checkpoint is not None else "start")
    measure = lambda: evaluate_policy(  # noqa: E731
        engine,
        eval_env,
        eval_ids,
        max_new_tokens=rollout.max_new_tokens,
        batch_size=rollout.batch_size,
        on_done=on_episode,
        parallel=parallel,
    )
    if checkpoint is None:
        before = measure()
        if config.sft is not None:
            rows, dropped = warm_start_rows(
                config.sft, make_env, backend.tokenizer, seed=config.seed
            )
            warmed = sft_warm_start(backend, rows, config.sft, seed=config.seed)
            warmed["steps_dropped"] = float(dropped)
            policy_changed("warm-start")
            warmed.update({k.replace("/", "_"): v for k, v in measure().items()})
            before.update({f"sft/{k}": v for k, v in warmed.items()})
        if log is not None:
            log.log(0, before)
        if config.sft is not None and parallel.is_main:
            # The warm start is minutes of work on a CPU: a run killed later resumes after it
            # (checkpoint -1: no RL iteration finished), and other runs can branch from it.
            save_checkpoint(output, -1, model, optimizer, {"seed": config.seed}, trained_prm)
        parallel.wait()
        if on_iteration is not None:
            on_iteration(0, before)
    for iteration in range(done, config.iterations):
        started = time.perf_counter()
        policy = LLMPolicy(
            engine,
            GenerationConfig(
                max_new_tokens=rollout.max_new_tokens,
                temperature=rollout.temperature,
                seed=config.seed * 1_000_003 + iteration,
            ),
            name="policy",
        )
        tasks = draw_tasks(train_ids, rollout.tasks_per_iteration, config.seed, iteration)
        seed = (config.seed + iteration) * 100_000
        if rollout.mode == "shared_prefix":
            assert prm is not None  # RolloutConfig checks it
            task_groups = collect_sibling_groups(
                rollout_env,
                parallel.share(tasks),
                policy,
                rollout.group_size,
                scorer=prm,
                max_steps=rollout.max_steps,
                seed=seed,
                on_done=on_episode,
            )
            episodes, advantages, metrics = sibling_iteration(
                parallel.gather(task_groups), config.advantages, prm.name
            )
        else:
            groups = collect_groups(
                rollout_env,
                parallel.share(tasks),
                policy,
                rollout.group_size,
                scorers=scorers,
                batch_size=rollout.batch_size,
                seed=seed,
                on_done=on_episode,
                step_workers=step_workers,
            )
            # Every process gets every group, so all compute the same advantages and samples.
            groups = parallel.gather(groups)
            metrics = _update_and_score(online, groups) if online is not None else {}
            per_group = [
                group_advantages(group, config.advantages, prm.name if prm is not None else None)
                for group in groups
            ]
            advantages = [a for group, _ in per_group for a in group]
            episodes = [t for group in groups for t in group]
            metrics["rollout/prof_dropped"] = float(sum(dropped for _, dropped in per_group))
        env = make_env()
        samples = action_samples(
            episodes,
            advantages,
            backend.tokenizer,
            first_observations=replay_first_observations(env, episodes),
            max_prompt_tokens=config.optim.max_prompt_tokens,
        )
        env.close()
        rolled = time.perf_counter()
        metrics = rollout_metrics(episodes) | metrics
        metrics.update(
            update_policy(
                model,
                optimizer,
                samples,
                config.optim,
                pad_id=pad_id,
                generator=random.Random(f"{config.seed}:{iteration}"),
                parallel=parallel,
            )
        )
        policy_changed(f"iteration-{iteration}")
        metrics["time/rollout_s"] = rolled - started
        metrics["time/update_s"] = time.perf_counter() - rolled
        finished = iteration + 1
        last = finished == config.iterations
        if last or (config.eval.every and finished % config.eval.every == 0):
            metrics.update(measure())
        if log is not None:
            log.log(finished, metrics)
        if parallel.is_main and (last or finished % config.checkpoint_every == 0):
            save_checkpoint(output, iteration, model, optimizer, {"seed": config.seed}, trained_prm)
        parallel.wait()
        if on_iteration is not None:
            on_iteration(finished, metrics)
    if isinstance(rollout_env, EnvWorkers):
        rollout_env.shutdown()
    if isinstance(engine, VLLMServerBackend):
        engine.close()
    if log is None:
        return TrainResult(output, [])
    log.close()
    _save_final(backend, output / "final")
    return TrainResult(output, log.records())


def _rollout_engine(config: TrainConfig, backend: TransformersBackend) -> GenerationBackend:
    """What generates episodes: the training model's own backend, or vLLM (here or a server)."""
    if config.rollout.engine == "transformers":
        return backend
    if config.rollout.engine == "vllm-server":
        return VLLMServerBackend(
            config.rollout.vllm_server_url,
            backend.tokenizer,
            connection_timeout=config.rollout.vllm_server_timeout,
        )
    assert config.lora is not None  # TrainConfig checks it
    return VLLMBackend(
        resolve_base_model(config.model),
        enable_lora=True,
        max_lora_rank=config.lora.r,
        **config.rollout.vllm_kwargs,
    )


def _sync_adapter(model: torch.nn.Module, engine: VLLMBackend, target: Path) -> None:
    """Save the policy's adapter to ``target`` and have vLLM generate with it (older ones go)."""
    model.save_pretrained(target)
    engine.use_adapter(target)
    for old in target.parent.iterdir():
        if old != target:
            shutil.rmtree(old, ignore_errors=True)


def _update_and_score(prm: OnlineImplicitPRM, groups: list[list[Trajectory]]) -> dict[str, float]:
    """Train the online PRM on the groups' outcomes, then score their steps with it."""
    episodes = [t for group in groups for t in group]
    metrics = prm.update(episodes)
    scored = [t for t in episodes if t.error is None and t.steps]
    for trajectory, scores in zip(scored, prm.score_many(scored), strict=True):
        trajectory.accounting.prm_calls += 1
        for step, score in zip(trajectory.steps, scores, strict=True):
            step.scores.append(score)
    return metrics


def _rollout_envs(
    rollout: RolloutConfig, make_env: EnvFactory, prm: ProcessRewardModel | None
) -> tuple[EnvFactory, list[Any], int]:
    """The rollout env factory, the scorers to score its episodes with, and step threads.

    The online PRM scores after its update, not during the rollout, so it is not among them.
    """
    if isinstance(prm, OnlineImplicitPRM):
        prm = None
    if rollout.distributed == "local":
        return make_env, [prm] if prm is not None else [], 1
    workers = EnvWorkers(
        rollout.env_id,
        workers=rollout.env_workers,
        split=rollout.split,
        max_episode_steps=rollout.max_steps,
        **rollout.env_kwargs,
    )
    # Env-aware PRMs read the live env, so they score in the actor that holds it.
    scorers = (
        [RemoteScorer(rollout.prm, prm.name, rollout.judge)]
        if prm is not None and rollout.prm
        else []
    )
    return workers, scorers, rollout.batch_size


def _save_final(backend: TransformersBackend, target: Path) -> None:
    """The trained policy as a plain model directory (LoRA merged into a copy of the weights).

    ``prmgym eval --agent transformers:DIR`` loads it like any other model.
    """
    model = backend.model
    if hasattr(model, "merge_and_unload"):
        import copy

        model = copy.deepcopy(model).merge_and_unload()
    model.save_pretrained(target)
    backend.tokenizer.save_pretrained(target)
