"""train_prm: build the labelled rows a config asks for and train the PRM kind it names."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import gymnasium

from prmgym.agents.policies.base import Policy
from prmgym.errors import ConfigError
from prmgym.registry import make_env
from prmgym.rewards.evaluation.labeled import LabeledTrajectory
from prmgym.training.prm.config import PRMDataConfig, TrainPRMConfig
from prmgym.training.prm.dataset import prm_row, rows_from_labeled
from prmgym.trajectory import Trajectory


def resolve_base_model(name: str) -> str:
    """``smollm2`` -> the converted SmolLM2-135M-Instruct dir; anything else as given."""
    if name == "smollm2":
        from prmgym.agents.backends.transformers_backend import default_smollm2_path

        return str(default_smollm2_path())
    return name


def _step_labels(
    data: PRMDataConfig, env: gymnasium.Env[str, str], trajectory: Trajectory, policy: Policy
) -> list[float]:
    """The trajectory's step labels by ``data.labels``: every step's MC estimate, or OmegaPRM's."""
    from prmgym.training.prm.first_error import first_error_search
    from prmgym.training.prm.labels import monte_carlo_labels

    if data.labels == "first_error":
        return first_error_search(env, trajectory, policy, data.k, data.max_steps).labels
    return monte_carlo_labels(env, trajectory, policy, data.k, data.max_steps)


def _agreed(
    data: PRMDataConfig, labelled: list[tuple[Trajectory, list[float]]]
) -> list[tuple[Trajectory, list[float]]]:
    """The labelled episodes ``data.consensus_judge`` agrees with (all when it is null)."""
    if data.consensus_judge is None or not labelled:
        return labelled
    from prmgym.agents.backends import make_backend
    from prmgym.rewards.judges import make_judge
    from prmgym.training.prm.first_error import consensus_filter

    trajectories, labels = zip(*labelled, strict=True)
    judge = make_judge(make_backend(data.consensus_judge))
    return [labelled[i] for i in consensus_filter(trajectories, labels, judge).kept]


def _rollout_rows(data: PRMDataConfig, observation_chars: int) -> list[dict[str, Any]]:
    """Run ``data.count`` episodes of ``data.policy``, label them and keep the agreed ones."""
    from prmgym.agents.policies import make_policy
    from prmgym.agents.runner import run_episodes

    # Sampled, not greedy: Monte Carlo labels need continuations that can differ (DESIGN 6
    # measured SmolLM2 at T = 0.8).
    policy = make_policy(data.policy, temperature=0.8, seed=data.seed)
    env = make_env(data.env_id, split=data.split)
    try:
        tasks = [task.id for task in env.unwrapped.tasks]  # type: ignore[attr-defined]
        rng = random.Random(data.seed)
        task_ids = [rng.choice(tasks) for _ in range(data.count)]
        trajectories = run_episodes(
            lambda: make_env(data.env_id, split=data.split),
            task_ids,
            policy,
            seed=data.seed,
        )
        labelled = [
            (trajectory, _step_labels(data, env, trajectory, policy))
            for trajectory in trajectories
            if trajectory.error is None and trajectory.steps
        ]
        return [prm_row(t, labels, observation_chars) for t, labels in _agreed(data, labelled)]
    finally:
        env.close()


def _labeled_items(data: PRMDataConfig) -> list[LabeledTrajectory] | None:
    """The labelled trajectories of the perturbed and file sources; None for rollouts."""
    if data.source == "perturbed":
        from prmgym.rewards.evaluation.first_error import build_first_error_set

        return build_first_error_set(data.env_id, data.split, data.count, data.seed)
    if data.source == "file":
        from prmgym.rewards.evaluation.labeled import load_labeled

        assert data.path is not None  # checked by PRMDataConfig
        return load_labeled(data.path)
    return None


def build_rows(data: PRMDataConfig, observation_chars: int) -> list[dict[str, Any]]:
    """TRL PRM rows from the configured data source.

    Raises:
        ConfigError: The source yields no rows.
    """
    items = _labeled_items(data)
    if items is not None:
        rows = rows_from_labeled(items, observation_chars)
    else:
        rows = _rollout_rows(data, observation_chars)
    if not rows:
        raise ConfigError(f"data source {data.source!r} gave no labelled steps; check data.*")
    return rows


def calibrate_threshold(path: Path, items: list[LabeledTrajectory]) -> float:
    """The raw score with the best first-error F1 on ``items``, written into the marker."""
    from prmgym.rewards.evaluation.harness import evaluate_first_error
    from prmgym.rewards.learned.loading import load_learned_prm, read_marker, write_marker

    report = evaluate_first_error(load_learned_prm(path), items)
    threshold = float(report.best["threshold"])
    info = read_marker(path)
    info.threshold = threshold
    info.training["calibration"] = {"items": len(items), "best": report.best}
    write_marker(path, info)
    return threshold


def train_prm(config: TrainPRMConfig) -> Path:
    """Train the learned PRM ``config`` describes and return its saved directory.

    The directory loads with :func:`prmgym.rewards.learned.loading.load_learned_prm`.
    """
    items = _labeled_items(config.data)
    held_out: list[LabeledTrajectory] = []
    if items is None:
        rows = _rollout_rows(config.data, config.observation_chars)
    else:
        cut = len(items) - int(len(items) * config.calibration)
        items, held_out = items[:cut], items[cut:]
        rows = rows_from_labeled(items, config.observation_chars)
    if not rows:
        raise ConfigError(f"data source {config.data.source!r} gave no labelled steps")
    base_model = resolve_base_model(config.base_model)
    if config.kind == "token-classification":
        from prmgym.training.prm.token_trainer import train_token_classification

        path = train_token_classification(config, rows, base_model)
    elif config.kind == "value-head":
        from prmgym.training.prm.value_trainer import train_value_head

        path = train_value_head(config, rows, base_model)
    else:
        from prmgym.training.prm.implicit_trainer import train_implicit

        path = train_implicit(config, rows, base_model)
    if held_out:
        calibrate_threshold(path, held_out)
    return path
