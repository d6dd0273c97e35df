"""Fixtures of the trainer tests."""

import pytest


@pytest.fixture
def tiny_settings():
    """``(model_dir, output_dir, *extra) -> overrides`` of a seconds-long training run."""
    return _tiny_settings


def _tiny_settings(model_dir, output_dir, *extra):
    return [
        f"model={model_dir}",
        f"output_dir={output_dir}",
        "rollout.env_id=prmgym/SearchQA-v0",
        "rollout.tasks_per_iteration=2",
        "rollout.group_size=2",
        "rollout.max_steps=2",
        "rollout.max_new_tokens=6",
        "rollout.prm=varied_prm:VariedPRM",
        "lora={r: 4, alpha: 8}",
        "optim.minibatch_size=4",
        "optim.learning_rate=0.01",
        "eval.tasks=2",
        "eval.every=0",
        *extra,
    ]
