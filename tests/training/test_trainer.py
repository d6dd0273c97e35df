import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.training.checkpoint import latest_checkpoint
from prmgym.training.config import load_train_config
from prmgym.training.trainer import train

HERE = Path(__file__).parent


@pytest.mark.slow
def test_training_updates_the_adapter_logs_and_saves_a_loadable_model(
    tiny_model_dir, tmp_path, monkeypatch, tiny_settings
):
    monkeypatch.syspath_prepend(str(HERE))
    config = load_train_config(None, tiny_settings(tiny_model_dir, tmp_path, "iterations=2"))
    result = train(config)
    lines = [m["iteration"] for m in result.metrics]
    assert lines == [0, 1, 2]
    assert "eval/success" in result.metrics[0] and "eval/success" in result.metrics[-1]
    updated = [m for m in result.metrics[1:] if m["update/samples"] > 0]
    assert updated and all(m["update/optimizer_steps"] >= 1 for m in updated)
    assert all(0 <= m["rollout/prm"] <= 1 for m in result.metrics[1:])
    assert latest_checkpoint(tmp_path).name == "checkpoint-000001"
    adapter = torch.load(latest_checkpoint(tmp_path) / "trainable.pt")
    # LoRA's B matrices start at zero; an update moved them.
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)
    final = TransformersBackend(tmp_path / "final")
    assert not any("lora" in n for n, _ in final.model.named_parameters())


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_checkpoint(tiny_model_dir, tmp_path, tiny_settings):
    output = tmp_path / "run"
    args = tiny_settings(tiny_model_dir, output, "iterations=4")
    command = [sys.executable, "-m", "prmgym.cli", "train", *args]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while latest_checkpoint(output) is None and first.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 4 minutes"
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = int(json.loads((latest_checkpoint(output) / "state.json").read_text())["iteration"])
    assert killed_at < 3, "the run finished before it was killed; the test proves nothing"
    second = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-2000:]
    lines = [
        json.loads(x)["iteration"] for x in (output / "metrics.jsonl").read_text().splitlines()
    ]
    # Every iteration logged once, in order: the killed run's unfinished work was redone.
    assert lines == [0, 1, 2, 3, 4]
    assert latest_checkpoint(output).name == "checkpoint-000003"


@pytest.mark.slow
def test_a_judged_rubric_prm_gets_the_configured_judge(tiny_model_dir, tmp_path, tiny_settings):
    rubric = tmp_path / "judged.yaml"
    rubric.write_text(
        "name: judged\nfamily: search\naggregation: weighted_mean\n"
        "scoring: {direction: bidirectional, hierarchical: true}\n"
        "criteria:\n  - {id: helps, kind: principle, text: The step helps answer the question.}\n"
    )
    overrides = tiny_settings(
        tiny_model_dir,
        tmp_path / "run",
        "iterations=1",
        f"rollout.prm={rubric}",
        f"rollout.judge=transformers:{tiny_model_dir}",
    )
    result = train(load_train_config(None, overrides))
    # The tiny model judged every step: the rubric's scores reached the advantages.
    assert 0 <= result.metrics[-1]["rollout/prm"] <= 1
