"""Data-parallel training: two CPU processes under torchrun (gloo) stand in for two GPUs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from prmgym.training.data_parallel import DataParallel

HERE = Path(__file__).parent


def as_rank(rank, world):
    parallel = DataParallel()
    parallel.rank, parallel.world = rank, world
    return parallel


@pytest.mark.parametrize("count", [0, 1, 5, 6, 7])
def test_shares_are_contiguous_cover_everything_once_and_differ_by_at_most_one(count):
    items = list(range(count))
    shares = [as_rank(rank, 3).share(items) for rank in range(3)]
    assert [x for share in shares for x in share] == items
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_processes_out_of_step_are_an_error(monkeypatch):
    parallel = as_rank(0, 2)
    weights = [torch.nn.Parameter(torch.ones(3))]
    monkeypatch.setattr(parallel, "gather", lambda items: items + [(3.0, 6.0)])
    parallel.check_in_step(weights, after="x")  # the same checksum from the other process
    monkeypatch.setattr(parallel, "gather", lambda items: items + [(3.0, 7.0)])
    with pytest.raises(RuntimeError, match="differ after x"):
        parallel.check_in_step(weights, after="x")


def test_one_process_is_every_rank_at_once():
    parallel = DataParallel()
    assert (parallel.rank, parallel.world, parallel.is_main) == (0, 1, True)
    assert parallel.share([1, 2, 3]) == [1, 2, 3] and parallel.gather([4]) == [4]
    assert parallel.mean({"a": 1.0}) == {"a": 1.0}


def torchrun(*args, cwd=None):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--standalone", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.integration
def test_a_two_process_update_equals_the_one_process_update(tiny_model_dir, tmp_path):
    script = str(HERE / "data_parallel_update.py")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single = subprocess.run(
        [sys.executable, script, str(tiny_model_dir), str(tmp_path / "one")],
        capture_output=True,
        text=True,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    torchrun(script, str(tiny_model_dir), str(tmp_path / "two"))
    reference = torch.load(tmp_path / "one" / "rank-0.pt")
    ranks = [torch.load(tmp_path / "two" / f"rank-{r}.pt") for r in (0, 1)]
    assert reference["stats"]["update/optimizer_steps"] >= 2
    moved = [n for n, w in reference["weights"].items() if "lora_B" in n and w.abs().sum() > 0]
    assert moved, "the update did not move the adapter; the comparison proves nothing"
    for name, weight in reference["weights"].items():
        # The processes stay identical, and their update is the one-process update.
        assert torch.equal(ranks[0]["weights"][name], ranks[1]["weights"][name]), name
        torch.testing.assert_close(ranks[0]["weights"][name], weight, rtol=1e-3, atol=1e-5)
    assert ranks[0]["stats"]["update/samples"] == reference["stats"]["update/samples"]


@pytest.mark.integration
def test_train_under_torchrun_keeps_the_processes_in_step_and_rank_0_reports(
    tiny_model_dir, tmp_path, tiny_settings
):
    output = tmp_path / "run"
    args = tiny_settings(
        tiny_model_dir,
        output,
        "iterations=1",
        "rollout.tasks_per_iteration=3",
        "rollout.max_steps=3",
        "eval.tasks=3",
        # TRL's trainer runs the warm start with its own DDP; the RL steps must go on in step.
        "sft={tasks: 4, batch_size: 2, max_length: 4096, learning_rate: 0.01}",
    )
    done = torchrun("-m", "prmgym.cli", "train", *args)
    lines = [json.loads(x) for x in (output / "metrics.jsonl").read_text().splitlines()]
    assert [m["iteration"] for m in lines] == [0, 1]
    assert lines[0]["sft/steps"] >= 1 and lines[1]["update/optimizer_steps"] >= 1
    # 3 tasks x 2 episodes, split 2 + 1 between the processes, each episode counted once.
    assert lines[1]["rollout/episodes"] == 6
    assert (output / "final" / "config.json").is_file()
    assert done.stdout.count("iteration 1:") == 1
