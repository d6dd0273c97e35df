"""train_prm: build the labelled rows a config asks for and train the PRM kind it names."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import gymnasium

from prmgym.errors import ConfigError
from prmgym.training.prm.config import PRMDataConfig, TrainPRMConfig
from prmgym.training.prm.dataset import prm_row, rows_from_labeled


def resolve_base_model(name: str) -> str:
    """``smollm2`` -> the converted SmolLM2-135M-Instruct dir; anything else as given."""
    if name == "smollm2":
        from prmgym.agents.backends.transformers_backend import default_smollm2_path

        return str(default_smollm2_path())
    return name


def _rollout_rows(data: PRMDataConfig, observation_chars: int) -> list[dict[str, Any]]:
    """Run ``data.count`` episodes of ``data.policy`` and label them by Monte Carlo."""
    from prmgym.agents.policies import make_policy
    from prmgym.agents.runner import run_episodes
    from prmgym.training.prm.labels import monte_carlo_labels

    # Sampled, not greedy: Monte Carlo labels need continuations that can differ (DESIGN 6
    # measured SmolLM2 at T = 0.8).
    policy = make_policy(data.policy, temperature=0.8, seed=data.seed)
    env = gymnasium.make(data.env_id, split=data.split)
    try:
        tasks = [task.id for task in env.unwrapped.tasks]  # type: ignore[attr-defined]
        rng = random.Random(data.seed)
        task_ids = [rng.choice(tasks) for _ in range(data.count)]
        trajectories = run_episodes(
            lambda: gymnasium.make(data.env_id, split=data.split),
            task_ids,
            policy,
            seed=data.seed,
        )
        rows = []
        for trajectory in trajectories:
            if trajectory.error is None and trajectory.steps:
                labels = monte_carlo_labels(env, trajectory, policy, data.k, data.max_steps)
                rows.append(prm_row(trajectory, labels, observation_chars))
        return rows
    finally:
        env.close()


def build_rows(data: PRMDataConfig, observation_chars: int) -> list[dict[str, Any]]:
    """TRL PRM rows from the configured data source.

    Raises:
        ConfigError: The source yields no rows.
    """
    if data.source == "perturbed":
        from prmgym.rewards.evaluation.first_error import build_first_error_set

        items = build_first_error_set(data.env_id, data.split, data.count, data.seed)
        rows = rows_from_labeled(items, observation_chars)
    elif data.source == "file":
        from prmgym.rewards.evaluation.labeled import load_labeled

        assert data.path is not None  # checked by PRMDataConfig
        rows = rows_from_labeled(load_labeled(data.path), observation_chars)
    else:
        rows = _rollout_rows(data, observation_chars)
    if not rows:
        raise ConfigError(f"data source {data.source!r} gave no labelled steps; check data.*")
    return rows


def train_prm(config: TrainPRMConfig) -> Path:
    """Train the learned PRM ``config`` describes and return its saved directory.

    The directory loads with :func:`prmgym.rewards.learned.loading.load_learned_prm`.
    """
    rows = build_rows(config.data, config.observation_chars)
    base_model = resolve_base_model(config.base_model)
    if config.kind == "token-classification":
        from prmgym.training.prm.token_trainer import train_token_classification

        return train_token_classification(config, rows, base_model)
    from prmgym.training.prm.implicit_trainer import train_implicit

    return train_implicit(config, rows, base_model)
