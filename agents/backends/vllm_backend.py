"""Generation with vLLM on a GPU. vLLM is an optional extra, imported when a backend is made.

A chat ending with an assistant message is continued (prefill) through ``LLM.chat``'s
``continue_final_message=True, add_generation_prompt=False``. Those flags hold for a whole
call, so a batch mixing continued chats and new turns goes out as two calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prmgym.errors import ProviderError
from prmgym.generation import (
    Chat,
    Completion,
    GenerationConfig,
    choice_logprobs_from_top,
    continues_final_message,
)

# vLLM's default limit on log-probs per position (its max_logprobs).
_TOP_LOGPROBS = 20


class VLLMBackend:
    """A :class:`~prmgym.generation.GenerationBackend` and ``ChoiceBackend`` on ``vllm.LLM``.

    Args:
        model: Hub id or local path.
        **llm_kwargs: Passed to ``vllm.LLM`` (``gpu_memory_utilization``, ``dtype``,
            ``enable_lora`` and ``max_lora_rank`` for :meth:`use_adapter`...).
    """

    _adapter: Any = None
    _adapters_loaded = 0

    def __init__(self, model: str, **llm_kwargs: Any):
        try:
            import vllm
        except ImportError as exc:
            raise ProviderError(
                "the vLLM backend needs vllm and a GPU: pip install 'prmgym[vllm]'"
            ) from exc
        self._vllm = vllm
        self.name = f"vllm:{model}"
        self.llm = vllm.LLM(model=model, **llm_kwargs)

    def use_adapter(self, path: str | Path | None) -> None:
        """Generate with the LoRA adapter saved at ``path`` from now on; None: the base model.

        This is how a trainer syncs its updated policy into the rollout engine: it saves the
        adapter (peft ``save_pretrained``) after each update and points here. Each call gets a
        new adapter id, so vLLM loads the new weights rather than serving a cached copy. The
        LLM must have been built with ``enable_lora=True`` and a ``max_lora_rank`` at least
        the adapter's.
        """
        if path is None:
            self._adapter = None
            return
        from vllm.lora.request import LoRARequest

        self._adapters_loaded += 1
        number = self._adapters_loaded
        self._adapter = LoRARequest(f"policy-{number}", number, str(path))

    def generate(self, chats: Sequence[Chat], config: GenerationConfig) -> list[list[Completion]]:
        """One ``LLM.chat`` call for the batch (two when it mixes continued chats and new turns).

        Log-probs are those of the sampled tokens.
        """
        params = self._vllm.SamplingParams(
            n=config.n,
            temperature=config.temperature,
            top_p=config.top_p,
            max_tokens=config.max_new_tokens,
            stop=list(config.stop) or None,
            seed=config.seed,
            logprobs=0,
        )
        outputs = self._chat(chats, params)
        eos = self.llm.get_tokenizer().eos_token_id
        return [
            [
                to_completion(sample, len(out.prompt_token_ids or []), {eos})
                for sample in out.outputs
            ]
            for out in outputs
        ]

    def choice_logprobs(self, chats: Sequence[Chat], choices: Sequence[str]) -> list[list[float]]:
        """Log-prob of each choice as the reply's first token; see ``ChoiceBackend``.

        One greedy one-token ``LLM.chat`` call for the batch (split like ``generate``'s); the
        first token's top 20
        log-probs map to choices by their decoded text (``choice_logprobs_from_top``), so
        choices outside them come back as ``-inf``.
        """
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0, logprobs=_TOP_LOGPROBS)
        outputs = self._chat(chats, params)
        results = []
        for out in outputs:
            # Keyed by token id, so every entry is a distinct token (the sampled one included).
            first = out.outputs[0].logprobs[0]
            top = [(lp.decoded_token or "", float(lp.logprob)) for lp in first.values()]
            results.append(choice_logprobs_from_top(top, choices))
        return results

    def _chat(self, chats: Sequence[Chat], params: Any) -> list[Any]:
        """``LLM.chat``'s outputs in the order of ``chats``, continuing final assistant messages.

        One call per kind of chat present (new turn, continued), so an unmixed batch is one call.
        """
        outputs: list[Any] = [None] * len(chats)
        for continued in (False, True):
            indices = [
                i for i, chat in enumerate(chats) if continues_final_message(chat) == continued
            ]
            if not indices:
                continue
            flags: dict[str, Any] = (
                {"continue_final_message": True, "add_generation_prompt": False}
                if continued
                else {}
            )
            if self._adapter is not None:
                flags["lora_request"] = self._adapter
            group = self.llm.chat(
                [list(chats[i]) for i in indices], params, use_tqdm=False, **flags
            )
            for i, output in zip(indices, group, strict=True):
                outputs[i] = output
        return outputs


def to_completion(sample: Any, prompt_tokens: int, eos_ids: set[int]) -> Completion:
    """Map one vLLM ``CompletionOutput`` to a Completion.

    vLLM keeps the end-of-sequence token in ``token_ids`` when generation ended on it; the
    contract leaves it out, so it is dropped together with its log-prob.
    """
    ids = list(sample.token_ids)
    logprobs = [
        float(step[token].logprob) for token, step in zip(ids, sample.logprobs or [], strict=False)
    ]
    if ids and ids[-1] in eos_ids:
        ids, logprobs = ids[:-1], logprobs[: len(ids) - 1]
    return Completion(
        text=sample.text,
        token_ids=ids,
        logprobs=logprobs,
        prompt_tokens=prompt_tokens,
        finish_reason="length" if sample.finish_reason == "length" else "stop",
    )
