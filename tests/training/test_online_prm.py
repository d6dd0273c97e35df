from statistics import fmean

import gymnasium
import pytest
import torch

import prmgym  # noqa: F401 - registers the env ids
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.agents.policies.random import RandomPolicy
from prmgym.agents.runner import run_episodes
from prmgym.errors import ConfigError
from prmgym.training.checkpoint import latest_checkpoint, load_checkpoint
from prmgym.training.config import load_train_config
from prmgym.training.online_prm import OnlineImplicitPRM, OnlinePRMSettings
from prmgym.training.policy_model import LoraSettings, load_policy_model
from prmgym.training.rollouts import split_task_ids
from prmgym.training.trainer import train


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="train", max_episode_steps=4)


@pytest.fixture(scope="module")
def episodes():
    """Oracle successes and random failures on the same six training tasks."""
    tasks = split_task_ids(make_env)[:12]
    solved = [t for t in run_episodes(make_env, tasks, OraclePolicy()) if t.success][:6]
    tasks = [t.task.id for t in solved]
    failed = [t for t in run_episodes(make_env, tasks, RandomPolicy()) if not t.success]
    assert len(solved) >= 4 and len(failed) >= 4
    return solved, failed


def final_values(prm, trajectories):
    return [scores[-1].value for scores in prm.score_many(trajectories)]


@pytest.mark.slow
def test_updates_on_outcomes_teach_it_to_tell_successes_from_failures(tiny_model_dir, episodes):
    solved, failed = episodes
    settings = OnlinePRMSettings(learning_rate=3e-2, epochs=4, batch_size=4, beta=0.5)
    prm = OnlineImplicitPRM(str(tiny_model_dir), settings)
    # A zero-initialised adapter is the reference: every step starts at sigmoid(0).
    assert set(final_values(prm, solved + failed)) == {0.5}
    first = prm.update(solved + failed)
    assert first["prm/episodes"] == len(solved) + len(failed) and first["prm/loss"] > 0
    prm.update(solved + failed)
    # Scoring reads the live adapter: no reload between update and score.
    good, bad = final_values(prm, solved), final_values(prm, failed)
    right = sum(v > 0.5 for v in good) + sum(v < 0.5 for v in bad)
    assert right >= 0.8 * (len(good) + len(bad))
    assert fmean(good) > fmean(bad) + 0.4
    # The next update's accuracy is measured before it trains: the PRM's own judgement.
    assert prm.update(solved + failed)["prm/accuracy"] >= 0.8
    assert prm.update([]) == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"epochs": 0}, "online_prm.epochs"), ({"beta": 0.0}, "positive")],
)
def test_bad_settings_say_how_to_fix(changes, message):
    with pytest.raises(ConfigError, match=message):
        OnlinePRMSettings(**changes)


@pytest.mark.slow
def test_training_with_the_online_prm_checkpoints_and_restores_it(tiny_model_dir, tmp_path):
    config = load_train_config(
        None,
        [
            f"model={tiny_model_dir}",
            f"output_dir={tmp_path}",
            "rollout.tasks_per_iteration=2",
            "rollout.group_size=2",
            "rollout.max_steps=2",
            "rollout.max_new_tokens=6",
            "rollout.prm=online-implicit",
            "online_prm={lora_r: 4, learning_rate: 0.01}",
            "lora={r: 4, alpha: 8}",
            "optim.learning_rate=0.01",
            "eval.tasks=1",
            "iterations=2",
        ],
    )
    result = train(config)
    for metrics in result.metrics[1:]:
        assert metrics["prm/episodes"] == 4 and metrics["prm/loss"] > 0
        # Every step got a score from the online PRM.
        assert 0 < metrics["rollout/prm"] < 1
    checkpoint = latest_checkpoint(tmp_path)
    saved = torch.load(checkpoint / "online_prm.trainable.pt")
    assert saved and all("lora_" in name for name in saved)
    fresh = OnlineImplicitPRM(str(tiny_model_dir), config.online_prm)
    policy = load_policy_model(str(tiny_model_dir), lora=LoraSettings(r=4, alpha=8)).model
    trainable = [p for p in policy.parameters() if p.requires_grad]
    params = dict(fresh.model.named_parameters())
    assert any(not torch.equal(params[name], value) for name, value in saved.items())
    load_checkpoint(
        checkpoint,
        policy,
        torch.optim.AdamW(trainable),
        {"online_prm": (fresh.model, fresh.optimizer)},
    )
    params = dict(fresh.model.named_parameters())
    assert all(torch.equal(params[name], value) for name, value in saved.items())
    assert fresh.optimizer.state_dict()["state"]
