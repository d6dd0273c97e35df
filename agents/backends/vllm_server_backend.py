"""Generation through a running vLLM server, with the trainer's weights pushed to it (server mode).

In server mode vLLM runs as its own process (``vllm serve``, usually on GPUs of its own) and the
RL trainer talks to it through TRL's ``VLLMClient``: rollouts are generated over HTTP, and after
each update the trainer streams the policy's new weights into the server over an NCCL group
(vLLM's weight-transfer engine), so the next rollouts sample from the updated policy.

Chats are templated here, with the trainer's own tokenizer and chat template, and sent as token
ids (the chat template flags are those of the transformers backend: a new assistant turn is
opened, a final assistant message is continued). The server then generates from exactly the
tokens the trainer later computes log-probs on; letting the server template the chat could
tokenize the prompt differently and silently skew the PPO ratio.

Start the server with its weight-transfer routes enabled::

    VLLM_SERVER_DEV_MODE=1 vllm serve MODEL --weight-transfer-config '{"backend": "nccl"}'

and point the backend at its root URL (``http://HOST:8000``, no ``/v1``). Keep vLLM's default
``--logprobs-mode`` (raw log-probs): the generation contract reports log-probs under the
untempered model, not after temperature and top-p. Generation works from any machine that
reaches the server; :meth:`VLLMServerBackend.sync_weights` broadcasts over NCCL, so it needs
the trainer's model on a CUDA device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from prmgym.agents.backends.transformers_backend import chat_prompt_ids
from prmgym.errors import ProviderError
from prmgym.generation import (
    Chat,
    Completion,
    GenerationConfig,
    choice_logprobs_from_top,
    cut_at_stop,
)

# vLLM's default limit on log-probs per position (its max_logprobs).
_TOP_LOGPROBS = 20

_SERVE_COMMAND = (
    'VLLM_SERVER_DEV_MODE=1 vllm serve MODEL --weight-transfer-config \'{"backend": "nccl"}\''
)


class VLLMServerBackend:
    """A :class:`~prmgym.generation.GenerationBackend` and ``ChoiceBackend`` on a vLLM server.

    Args:
        base_url: The server's root URL, e.g. ``"http://127.0.0.1:8000"`` (no ``/v1``).
        tokenizer: The served model's tokenizer, or its hub id or local path. It must be the
            trainer's: prompts are chat-templated with it and sent as token ids.
        group_port: Port of the NCCL weight-sync group the trainer opens on its own host.
        connection_timeout: Seconds to keep retrying while the server is not up yet; 0 fails at
            once.

    Attributes:
        client: TRL's ``VLLMClient`` connected to the server.
        tokenizer: The tokenizer prompts are templated with.

    Raises:
        ProviderError: vLLM is not installed, the server cannot be reached, or the tokenizer
            cannot be loaded or has no chat template.
    """

    def __init__(
        self,
        base_url: str,
        tokenizer: PreTrainedTokenizerBase | str,
        *,
        group_port: int = 51216,
        connection_timeout: float = 0.0,
    ) -> None:
        from trl.generation.vllm_client import VLLMClient

        try:
            self.client = VLLMClient(
                base_url=base_url, group_port=group_port, connection_timeout=connection_timeout
            )
        except ImportError as exc:
            raise ProviderError(
                "the vLLM server backend needs vllm (its weight sync uses vLLM's NCCL "
                "helpers): pip install 'prmgym[vllm]'"
            ) from exc
        except OSError as exc:  # requests' ConnectionError is an OSError
            raise ProviderError(
                f"the vLLM server can't be reached at {base_url}; start it with "
                f"`{_SERVE_COMMAND}` (or raise connection_timeout while it loads): {exc}"
            ) from exc
        except Exception as exc:  # TRL raises a bare Exception for a non-200 answer
            raise ProviderError(
                f"the server at {base_url} did not answer like vLLM: {exc}"
            ) from exc
        if isinstance(tokenizer, str):
            try:
                tokenizer = AutoTokenizer.from_pretrained(tokenizer)
            except (OSError, ValueError) as exc:
                raise ProviderError(f"could not load tokenizer {tokenizer!r}: {exc}") from exc
        if tokenizer.chat_template is None:
            raise ProviderError(
                f"tokenizer {tokenizer.name_or_path!r} has no chat template; use an instruct/chat "
                "model's"
            )
        self.tokenizer = tokenizer
        self.name = f"vllm-server:{self.client.model}"
        self._sync_device: torch.device | None = None

    def generate(self, chats: Sequence[Chat], config: GenerationConfig) -> list[list[Completion]]:
        """Generate ``config.n`` completions per chat; see ``GenerationBackend.generate``.

        One ``/v1/completions`` request for the whole batch, with the chats templated here and
        sent as token ids. Log-probs are those of the sampled tokens. vLLM keeps the
        end-of-sequence token in its token ids when generation ended on it; it is dropped
        with its log-prob (the tokenizer's ``eos_token_id``; other stop tokens a model's
        generation config may add stay in ``token_ids``). The server reports neither text nor
        finish reason, so the text is decoded here and the reason read off the tokens.
        """
        if not chats:
            return []
        prompts = self._prompt_ids(chats)
        extra: dict[str, Any] = {}
        if config.seed is not None:
            extra["seed"] = config.seed
        if config.stop:
            extra["stop"] = list(config.stop)
        with self._server_errors("generation"):
            output = self.client.generate(
                prompts=prompts,
                n=config.n,
                temperature=config.temperature,
                top_p=config.top_p,
                max_tokens=config.max_new_tokens,
                logprobs=0,
                generation_kwargs=extra,
            )
        ids = output["completion_ids"]
        # None when the server reported no log-probs: the completions then have none.
        logprobs = output["logprobs"] or [None] * len(ids)
        logprob_ids = output["logprob_token_ids"] or [None] * len(ids)
        samples = list(zip(ids, logprobs, logprob_ids, strict=True))
        # Choices come back prompt-major: the n samples of a prompt, then the next prompt's.
        return [
            [
                self._completion(*sample, prompt_tokens=len(prompt), config=config)
                for sample in samples[i * config.n : (i + 1) * config.n]
            ]
            for i, prompt in enumerate(prompts)
        ]

    def choice_logprobs(self, chats: Sequence[Chat], choices: Sequence[str]) -> list[list[float]]:
        """Log-prob of each choice as the reply's first token; see ``ChoiceBackend``.

        One greedy one-token request for the batch asking for the first token's top 20
        log-probs; each token id is decoded with the tokenizer and matched to choices by
        ``choice_logprobs_from_top``, so choices outside the top 20 come back as ``-inf``.
        """
        if not chats:
            return []
        with self._server_errors("choice log-probs"):
            output = self.client.generate(
                prompts=self._prompt_ids(chats),
                temperature=0.0,
                max_tokens=1,
                logprobs=_TOP_LOGPROBS,
            )
        if output["logprobs"] is None:
            raise ProviderError(f"{self.client.base_url} returned no log-probs: {output!r}")
        results = []
        for logprobs, token_ids in zip(
            output["logprobs"], output["logprob_token_ids"], strict=True
        ):
            top = [
                (self.tokenizer.decode([token]), logprob)
                for token, logprob in zip(token_ids[0], logprobs[0], strict=True)
                if logprob is not None
            ]
            results.append(choice_logprobs_from_top(top, choices))
        return results

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Push ``model``'s current weights to the server, which generates with them from now on.

        Call it after every policy update. A peft LoRA model is merged for the transfer and
        unmerged afterwards (see :func:`served_parameters`); the server gets full weights under
        the base model's names. The first call opens the NCCL group on the model's device; the
        tensors are then broadcast in one weight update and the server's prefix cache, which
        holds key/values computed with the old weights, is reset.

        Args:
            model: The trained policy (a transformers causal LM, or a peft model over one) of
                the architecture the server serves, on a CUDA device.

        Raises:
            ProviderError: The model is not on a CUDA device, or the transfer failed.
        """
        if self._sync_device is None:
            self._open_communicator(next(model.parameters()).device)
        with served_parameters(model) as params, self._server_errors("weight sync"):
            metadata = [
                (name, str(tensor.dtype).removeprefix("torch."), list(tensor.shape))
                for name, tensor in params
            ]
            with self.client.weight_update():
                self.client.update_named_params(metadata, iter(params))
            self.client.reset_prefix_cache()

    def close(self) -> None:
        """Close the NCCL weight-sync group, if :meth:`sync_weights` opened one."""
        if self._sync_device is not None:
            self.client.close_communicator()
            self._sync_device = None

    def _open_communicator(self, device: torch.device) -> None:
        try:
            # TRL's client refuses a non-CUDA device before joining the server's NCCL rendezvous.
            self.client.init_communicator(device)
        except Exception as exc:
            if device.type != "cuda":
                raise ProviderError(
                    "weight sync runs over NCCL (vLLM's weight-transfer engine) and needs the "
                    f"trainer's model on a CUDA device, got {device}; generation alone works "
                    "from a CPU"
                ) from exc
            raise ProviderError(
                f"could not open the NCCL weight-sync group with {self.client.base_url}; the "
                f"server must run with weight transfer enabled (`{_SERVE_COMMAND}`): {exc}"
            ) from exc
        self._sync_device = device

    def _prompt_ids(self, chats: Sequence[Chat]) -> list[list[int]]:
        """Token ids of each templated chat, exactly as the transformers backend makes them."""
        return chat_prompt_ids(self.tokenizer, chats)

    def _completion(
        self,
        ids: list[int],
        logprobs: list[list[float | None]] | None,
        logprob_ids: list[list[int]] | None,
        *,
        prompt_tokens: int,
        config: GenerationConfig,
    ) -> Completion:
        sampled: list[float] = []
        if logprobs is not None and logprob_ids is not None:
            # Each position lists tokens by probability; pick the sampled one's by id.
            for token, values, tokens in zip(ids, logprobs, logprob_ids, strict=True):
                value = values[tokens.index(token)]
                sampled.append(float("nan") if value is None else value)
        ended = bool(ids) and ids[-1] == self.tokenizer.eos_token_id
        if ended:
            ids, sampled = ids[:-1], sampled[:-1]
        text, stopped = cut_at_stop(
            self.tokenizer.decode(ids, skip_special_tokens=True), config.stop
        )
        ran_out = not (ended or stopped) and len(ids) >= config.max_new_tokens
        return Completion(
            text=text,
            token_ids=ids,
            logprobs=sampled,
            prompt_tokens=prompt_tokens,
            finish_reason="length" if ran_out else "stop",
        )

    @contextmanager
    def _server_errors(self, action: str) -> Iterator[None]:
        """Re-raise what the client raises (bare ``Exception`` for HTTP errors) as ProviderError."""
        try:
            yield
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"{action} on {self.client.base_url} failed: {exc}") from exc


@contextmanager
def served_parameters(model: torch.nn.Module) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """The model's weights as the server loads them: ``(name, tensor)`` under the HF names.

    A plain model gives its ``named_parameters``. A peft model (LoRA) has its adapter merged
    into the base weights on entry and unmerged on exit, and gives the base model's
    parameters under their original names (``base_model.model.`` and ``.base_layer`` removed,
    the adapter's own ``lora_*`` tensors left out); a module in ``modules_to_save`` gives the
    active adapter's trained copy under the original module's name. The tensors are the
    model's own, detached: read them inside the ``with`` block, since unmerging changes them
    in place.

    Args:
        model: A transformers model, or a peft model over one.

    Yields:
        ``(name, tensor)`` per served parameter, in ``named_parameters`` order.
    """
    from peft import PeftModel

    with torch.no_grad():
        if not isinstance(model, PeftModel):
            yield [(name, param.detach()) for name, param in model.named_parameters()]
            return
        adapter = model.active_adapter
        model.merge_adapter()
        try:
            named = ((_served_name(name, adapter), p) for name, p in model.named_parameters())
            yield [(name, param.detach()) for name, param in named if name is not None]
        finally:
            model.unmerge_adapter()


def _served_name(name: str, adapter: str) -> str | None:
    """A peft parameter's name in the base model, or None for one the server does not hold."""
    name = name.removeprefix("base_model.model.")
    parts = name.split(".")
    if any(part.startswith("lora_") for part in parts) or "original_module" in parts:
        return None
    if "modules_to_save" in parts:
        at = parts.index("modules_to_save")
        if parts[at + 1] != adapter:
            return None
        parts = parts[:at] + parts[at + 2 :]
    return ".".join(part for part in parts if part != "base_layer")
