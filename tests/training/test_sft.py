from pathlib import Path

import gymnasium
import pytest
import torch

import prmgym  # noqa: F401 - registers the env ids
from prmgym.agents.prompts import prompt_for
from prmgym.errors import ConfigError
from prmgym.generation import GenerationConfig
from prmgym.training.config import load_train_config
from prmgym.training.loss import action_logprobs
from prmgym.training.policy_model import LoraSettings, load_policy_model
from prmgym.training.rollouts import split_task_ids
from prmgym.training.samples import action_samples, replay_first_observations
from prmgym.training.sft import (
    SFTSettings,
    oracle_trajectories,
    sft_rows,
    sft_warm_start,
    warm_start_rows,
)
from prmgym.training.trainer import train
from prmgym.trajectory import save_trajectories

HERE = Path(__file__).parent


def make_env():
    return gymnasium.make("prmgym/SearchQA-v0", split="train", max_episode_steps=6)


@pytest.fixture(scope="module")
def oracle():
    """Oracle episodes of three training tasks with their first observations."""
    trajectories = oracle_trajectories(make_env, split_task_ids(make_env)[:3])
    env = make_env()
    first = replay_first_observations(env, trajectories)
    env.close()
    return trajectories, first


def test_rows_hold_the_chat_the_policy_saw_and_the_oracle_action(oracle):
    trajectories, first = oracle
    assert len(trajectories) == 3 and all(t.success for t in trajectories)
    rows = sft_rows(trajectories, first)
    assert len(rows) == sum(len(t.steps) for t in trajectories)
    build_chat = prompt_for("search").build_chat
    at = iter(rows)
    for trajectory, observation in zip(trajectories, first, strict=True):
        observations = [observation, *(s.observation for s in trajectory.steps)]
        actions = [s.action for s in trajectory.steps]
        for t, step in enumerate(trajectory.steps):
            row = next(at)
            assert set(row) == {"prompt", "completion"}
            assert row["prompt"] == build_chat(observations[: t + 1], actions[:t])
            assert row["prompt"][-1]["role"] == "user"
            # Scripted agents write no completion: the action is the reply.
            assert row["completion"] == [{"role": "assistant", "content": step.action}]


def test_failed_and_broken_episodes_give_no_rows(oracle):
    trajectories, first = oracle
    failed = trajectories[0].model_copy(update={"success": False})
    broken = trajectories[1].model_copy(update={"error": "env step failed"})
    rows = sft_rows([failed, broken, trajectories[2]], first)
    assert rows == sft_rows(trajectories[2:], first[2:])
    with pytest.raises(ValueError, match="one per trajectory"):
        sft_rows(trajectories, first[:1])


def test_a_trajectories_file_gives_the_rows_of_its_successes(oracle, tmp_path):
    trajectories, first = oracle
    path = tmp_path / "trajectories.jsonl"
    save_trajectories([*trajectories, trajectories[0].model_copy(update={"success": False})], path)
    rows = warm_start_rows(SFTSettings(source="file", path=str(path)), make_env)
    assert rows == sft_rows(trajectories, first)


def test_a_trajectories_file_of_held_out_tasks_is_refused(oracle, tmp_path):
    trajectories, _ = oracle
    path = tmp_path / "trajectories.jsonl"
    outside = trajectories[0].task.model_copy(update={"id": "not-a-training-task"})
    save_trajectories([trajectories[0].model_copy(update={"task": outside})], path)
    with pytest.raises(ConfigError, match="outside the training split"):
        warm_start_rows(SFTSettings(source="file", path=str(path)), make_env)


def test_no_oracle_episode_fitting_the_step_limit_is_an_error_that_says_so():
    def one_step_env():
        return gymnasium.make("prmgym/SearchQA-v0", split="train", max_episode_steps=1)

    with pytest.raises(ConfigError, match="rollout.max_steps"):
        warm_start_rows(SFTSettings(tasks=2), one_step_env)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": "file"}, "sft.path"),
        ({"path": "x.jsonl"}, "only with sft.source: file"),
        ({"source": "human"}, "oracle or file"),
        ({"tasks": 0}, "sft.tasks"),
        ({"batch_size": 0}, "sft.batch_size"),
        ({"epochs": 0.0}, "positive"),
        ({"learning_rate": -1.0}, "positive"),
    ],
)
def test_bad_settings_say_how_to_fix(changes, message):
    with pytest.raises(ConfigError, match=message):
        SFTSettings(**changes)


def mean_completion_logprob(backend, samples):
    with torch.no_grad():
        logprobs, _ = action_logprobs(
            backend.model, samples, batch_size=4, pad_id=backend.tokenizer.pad_token_id
        )
    return float(torch.cat(logprobs).mean())


def test_warm_start_raises_the_completions_likelihood_training_only_the_adapter(
    tiny_model_dir, oracle, tmp_path
):
    trajectories, first = oracle
    rows = sft_rows(trajectories, first)[:8]
    backend = load_policy_model(str(tiny_model_dir), lora=LoraSettings(r=4, alpha=8))
    model = backend.model
    # The rows' steps as token ids, in the same order: their action tokens are the completions.
    samples = action_samples(
        trajectories,
        [[0.0] * len(t.steps) for t in trajectories],
        backend.tokenizer,
        first_observations=first,
    )[:8]
    before_logprob = mean_completion_logprob(backend, samples)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    settings = SFTSettings(epochs=1, learning_rate=2e-2, batch_size=2, max_length=4096)
    metrics = sft_warm_start(backend, rows, settings, tmp_path / "sft")

    assert metrics["rows"] == 8 and metrics["rows_dropped"] == 0
    assert metrics["steps"] == 4 and metrics["loss"] > 0
    assert backend.model is model and not model.training
    # The existing adapter was trained, not wrapped in a second one.
    assert list(model.peft_config) == ["default"]
    for name, param in model.named_parameters():
        changed = not torch.equal(param, before[name])
        assert changed == ("lora_" in name), name
    assert mean_completion_logprob(backend, samples) > before_logprob + 0.2
    chat = rows[0]["prompt"]
    [[completion]] = backend.generate([chat], GenerationConfig(max_new_tokens=4, temperature=0))
    assert completion.token_ids


def test_training_with_sft_logs_the_warm_start_in_iteration_zero(
    tiny_model_dir, tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(HERE))
    config = load_train_config(
        None,
        [
            f"model={tiny_model_dir}",
            f"output_dir={tmp_path}",
            "rollout.env_id=prmgym/SearchQA-v0",
            "rollout.tasks_per_iteration=1",
            "rollout.group_size=2",
            # The oracle needs 2k + 1 steps on a task with k documents (search and open each,
            # then answer): at 3 steps it solves the one-document tasks, the rest are left out.
            "rollout.max_steps=3",
            "rollout.max_new_tokens=6",
            "rollout.prm=varied_prm:VariedPRM",
            "lora={r: 4, alpha: 8}",
            "optim.minibatch_size=4",
            "optim.learning_rate=0.01",
            "eval.tasks=1",
            "eval.every=0",
            "iterations=1",
            "sft={tasks: 2, batch_size: 2, max_length: 4096, learning_rate: 0.01}",
        ],
    )
    result = train(config)
    assert [m["iteration"] for m in result.metrics] == [0, 1]
    first = result.metrics[0]
    assert first["sft/loss"] > 0 and first["sft/rows"] >= 3 and first["sft/steps"] >= 1
    assert "eval/success" in first and 0 <= first["sft/eval_success"] <= 1
    assert "sft/loss" not in result.metrics[1]
