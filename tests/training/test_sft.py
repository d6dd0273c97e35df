from pathlib import Path

import gymnasium
import pytest
import torch
from transformers import AutoTokenizer

import prmgym  # noqa: F401 - registers the env ids
from prmgym.errors import ConfigError
from prmgym.generation import GenerationConfig
from prmgym.training.checkpoint import latest_checkpoint
from prmgym.training.config import load_train_config
from prmgym.training.loss import action_logprobs
from prmgym.training.policy_model import LoraSettings, load_policy_model
from prmgym.training.rollouts import split_task_ids
from prmgym.training.samples import action_samples, replay_first_observations, step_chats
from prmgym.training.sft import (
    IGNORE,
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


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def step_tokens(trajectories, first, tokenizer):
    """Per step, (prompt ids, action ids) exactly as the policy saw and wrote them."""
    zeros = [[0.0] * len(t.steps) for t in trajectories]
    samples = action_samples(trajectories, zeros, tokenizer, first_observations=first)
    return [(s.prompt_ids, s.action_ids) for s in samples]


def test_an_episode_is_one_row_labelled_on_every_reply_it_wrote(oracle, tokenizer):
    trajectories, first = oracle
    assert len(trajectories) == 3 and all(t.success for t in trajectories)
    rows, dropped = sft_rows(trajectories, first, tokenizer)
    assert len(rows) == 3 and dropped == 0
    steps = iter(step_tokens(trajectories, first, tokenizer))
    for trajectory, row in zip(trajectories, rows, strict=True):
        assert set(row) == {"input_ids", "labels"}
        assert len(row["labels"]) == len(row["input_ids"])
        tokens = [next(steps) for _ in trajectory.steps]
        last_prompt, last_action = tokens[-1]
        # The row is the last step's prompt and reply; every earlier step is inside it.
        assert row["input_ids"] == last_prompt + last_action
        trained = [t for t in row["labels"] if t != IGNORE]
        assert trained == [t for _, action in tokens for t in action]
        for prompt, action in tokens:
            at = len(prompt)
            assert row["input_ids"][at : at + len(action)] == action
            assert row["labels"][at : at + len(action)] == action
        # Scripted agents write no completion: the action is the reply.
        assert tokenizer.decode(tokens[0][1], skip_special_tokens=True) == (
            trajectory.steps[0].action
        )


def test_an_episode_whose_history_is_not_its_replies_is_split_there(oracle, tokenizer):
    trajectories, first = oracle
    # A model's raw completion ("I will search") differs from the parsed action the next
    # prompt's history shows, so step 1's prompt does not extend step 0's reply.
    steps = list(trajectories[0].steps)
    steps[0] = steps[0].model_copy(update={"completion": f"I will {steps[0].action}"})
    chatty = trajectories[0].model_copy(update={"steps": steps})
    rows, _ = sft_rows([chatty], first[:1], tokenizer)
    assert len(rows) == 2
    tokens = step_tokens([chatty], first[:1], tokenizer)
    assert rows[0]["input_ids"] == tokens[0][0] + tokens[0][1]
    assert [t for t in rows[1]["labels"] if t != IGNORE] == [
        t for _, action in tokens[1:] for t in action
    ]


def test_max_length_splits_rows_and_drops_steps_longer_on_their_own(oracle, tokenizer):
    trajectories, first = oracle
    tokens = step_tokens(trajectories[:1], first[:1], tokenizer)
    lengths = [len(p) + len(a) for p, a in tokens]
    rows, dropped = sft_rows(trajectories[:1], first[:1], tokenizer, max_length=lengths[-1] - 1)
    # The last step no longer fits: the earlier steps stay one row, the last is dropped.
    assert dropped == 1
    assert [len(r["input_ids"]) for r in rows] == [lengths[-2]]
    assert sft_rows(trajectories[:1], first[:1], tokenizer, max_length=lengths[0] - 1) == ([], 3)


def test_failed_and_broken_episodes_give_no_rows(oracle, tokenizer):
    trajectories, first = oracle
    failed = trajectories[0].model_copy(update={"success": False})
    broken = trajectories[1].model_copy(update={"error": "env step failed"})
    rows = sft_rows([failed, broken, trajectories[2]], first, tokenizer)
    assert rows == sft_rows(trajectories[2:], first[2:], tokenizer)
    with pytest.raises(ValueError, match="one per trajectory"):
        sft_rows(trajectories, first[:1], tokenizer)


def test_a_trajectories_file_gives_the_rows_of_its_successes(oracle, tokenizer, tmp_path):
    trajectories, first = oracle
    path = tmp_path / "trajectories.jsonl"
    save_trajectories([*trajectories, trajectories[0].model_copy(update={"success": False})], path)
    rows = warm_start_rows(SFTSettings(source="file", path=str(path)), make_env, tokenizer)
    assert rows == sft_rows(trajectories, first, tokenizer, max_length=2048)


def test_a_trajectories_file_of_held_out_tasks_is_refused(oracle, tokenizer, tmp_path):
    trajectories, _ = oracle
    path = tmp_path / "trajectories.jsonl"
    outside = trajectories[0].task.model_copy(update={"id": "not-a-training-task"})
    save_trajectories([trajectories[0].model_copy(update={"task": outside})], path)
    with pytest.raises(ConfigError, match="outside the training split"):
        warm_start_rows(SFTSettings(source="file", path=str(path)), make_env, tokenizer)


def test_no_oracle_episode_fitting_the_step_limit_is_an_error_that_says_so(tokenizer):
    def one_step_env():
        return gymnasium.make("prmgym/SearchQA-v0", split="train", max_episode_steps=1)

    with pytest.raises(ConfigError, match="rollout.max_steps"):
        warm_start_rows(SFTSettings(tasks=2), one_step_env, tokenizer)


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


@pytest.mark.slow
def test_warm_start_raises_the_completions_likelihood_training_only_the_adapter(
    tiny_model_dir, oracle, tmp_path
):
    trajectories, first = oracle
    backend = load_policy_model(str(tiny_model_dir), lora=LoraSettings(r=4, alpha=8))
    model = backend.model
    rows, _ = sft_rows(trajectories, first, backend.tokenizer)
    # Every step as token ids: their action tokens are what the rows teach.
    samples = action_samples(
        trajectories,
        [[0.0] * len(t.steps) for t in trajectories],
        backend.tokenizer,
        first_observations=first,
    )
    before_logprob = mean_completion_logprob(backend, samples)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    settings = SFTSettings(epochs=2, learning_rate=2e-2, batch_size=1, max_length=4096)
    metrics = sft_warm_start(backend, rows, settings, tmp_path / "sft")

    assert metrics["rows"] == 3 and metrics["tokens"] == sum(len(r["input_ids"]) for r in rows)
    assert metrics["steps"] == 6 and metrics["loss"] > 0
    assert backend.model is model and not model.training
    # The existing adapter was trained, not wrapped in a second one.
    assert list(model.peft_config) == ["default"]
    for name, param in model.named_parameters():
        changed = not torch.equal(param, before[name])
        assert changed == ("lora_" in name), name
    assert mean_completion_logprob(backend, samples) > before_logprob + 0.2
    chat = step_chats(trajectories[0], first[0])[0][0]
    [[completion]] = backend.generate([chat], GenerationConfig(max_new_tokens=4, temperature=0))
    assert completion.token_ids


@pytest.mark.slow
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
    assert first["sft/loss"] > 0 and first["sft/rows"] >= 1 and first["sft/steps"] >= 1
    assert first["sft/steps_dropped"] == 0
    assert "eval/success" in first and 0 <= first["sft/eval_success"] <= 1
    assert "sft/loss" not in result.metrics[1]


@pytest.mark.slow
def test_a_run_resumed_after_the_warm_start_does_not_repeat_it(
    tiny_model_dir, tmp_path, monkeypatch
):
    settings = [
        f"model={tiny_model_dir}",
        f"output_dir={tmp_path}",
        "rollout.tasks_per_iteration=1",
        "rollout.group_size=2",
        "rollout.max_steps=3",
        "rollout.max_new_tokens=6",
        "lora={r: 4, alpha: 8}",
        "eval.tasks=1",
        "sft={tasks: 2, batch_size: 2, max_length: 4096, learning_rate: 0.01}",
    ]
    # iterations=0 is the warm start alone; it leaves a checkpoint to go on from.
    warm = train(load_train_config(None, [*settings, "iterations=0"]))
    assert [m["iteration"] for m in warm.metrics] == [0] and "sft/loss" in warm.metrics[0]
    assert latest_checkpoint(tmp_path).name == "checkpoint-warm-start"
    saved = torch.load(latest_checkpoint(tmp_path) / "trainable.pt")

    def no_second_warm_start(*args, **kwargs):
        raise AssertionError("the warm start ran again")

    monkeypatch.setattr("prmgym.training.trainer.sft_warm_start", no_second_warm_start)
    resumed = train(load_train_config(None, [*settings, "iterations=1"]), resume=True)
    assert [m["iteration"] for m in resumed.metrics] == [0, 1]
    assert resumed.metrics[0] == warm.metrics[0]
    assert latest_checkpoint(tmp_path).name == "checkpoint-000000"
    # The RL iteration started from the warm-started adapter, not a fresh one.
    assert any(v.abs().sum() > 0 for k, v in saved.items() if "lora_B" in k)
