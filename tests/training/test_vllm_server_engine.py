"""rollout.engine: vllm-server against a loopback stand-in of vLLM's HTTP routes (tests/conftest).

The NCCL broadcast needs CUDA; here the client's two NCCL calls are replaced by a direct load
into the stand-in's model, so what is checked is what the trainer sends and when.
"""

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM
from trl.generation import vllm_client

from prmgym.training.config import load_train_config
from prmgym.training.trainer import train


@pytest.mark.slow
def test_rollouts_come_from_the_server_which_ends_with_the_trained_weights(
    tiny_model_dir, tmp_path, monkeypatch, tiny_settings, vllm_server
):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setattr(vllm_client, "is_vllm_available", lambda *a, **k: True)
    pushes = []

    def update_named_params(self, metadata, named_params):
        state = {name: tensor.clone() for name, tensor in named_params}
        vllm_server.model.load_state_dict(state, strict=True)
        pushes.append(len(vllm_server.requests))

    monkeypatch.setattr(vllm_client.VLLMClient, "init_communicator", lambda self, device: None)
    monkeypatch.setattr(vllm_client.VLLMClient, "update_named_params", update_named_params)
    monkeypatch.setattr(vllm_client.VLLMClient, "close_communicator", lambda self: None)
    config = load_train_config(
        None,
        tiny_settings(
            tiny_model_dir,
            tmp_path,
            "iterations=1",
            "rollout.engine=vllm-server",
            f"rollout.vllm_server_url={vllm_server.url}",
        ),
    )
    result = train(config)
    generated = [i for i, (path, _) in enumerate(vllm_server.requests) if "completions" in path]
    # Pushed at the start (the server may hold other weights) and after the update.
    assert len(pushes) == 2
    before_update = [i for i in generated if i < pushes[1]]
    after_update = [i for i in generated if i > pushes[1]]
    assert before_update and after_update, "rollouts and the final eval go through the server"
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "final")
    served = vllm_server.model.state_dict()
    for name, weight in final.state_dict().items():
        torch.testing.assert_close(served[name], weight, msg=name)
    assert result.metrics[1]["update/samples"] > 0
