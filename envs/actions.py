"""Parsing action strings such as ``search("heapq merge", k=3)`` without executing them.

Agent text is untrusted: it is parsed with :mod:`ast` and only literal arguments are accepted
(``ast.literal_eval``), so nothing the agent writes runs in the host process. Small models
often forget quotes (``search(heapq merge)``); a lenient fallback takes the text between the
parentheses as one string argument, so a near-miss still becomes a useful action.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_CALL_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)


class ActionError(ValueError):
    """An action that cannot be carried out; its message is shown to the agent."""


@dataclass(frozen=True)
class ToolCall:
    """A parsed action: the tool name and its positional and keyword arguments."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def _strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_tool_call(text: str) -> ToolCall:
    """Parse ``name(arg, ..., key=value)`` with literal arguments.

    Raises:
        ActionError: when the text is not a single call; the message says the expected form.
    """
    if not isinstance(text, str) or not text.strip():
        raise ActionError('empty action; write one tool call such as search("query")')
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None:
        call = tree.body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            raise ActionError(
                f'{source[:80]!r} is not a tool call; write exactly one call like search("query")'
            )
        if any(kw.arg is None for kw in call.keywords):
            raise ActionError("**kwargs are not allowed in actions")
        try:
            args = tuple(ast.literal_eval(arg) for arg in call.args)
            kwargs = {str(kw.arg): ast.literal_eval(kw.value) for kw in call.keywords}
        except (ValueError, SyntaxError, TypeError):
            raise ActionError(
                f'arguments of {call.func.id}(...) must be literals such as "text" or 3'
            ) from None
        return ToolCall(call.func.id, args, kwargs)
    # Not valid Python: small models often drop quotes, so take the inside as one string.
    match = _CALL_RE.match(source)
    if match:
        inner = match.group(2)
        return ToolCall(match.group(1), (_strip_quotes(inner),) if inner.strip() else ())
    raise ActionError(
        f"could not parse {source[:80]!r} as a tool call; write exactly one call like "
        'search("query")'
    )


def bind_arguments(call: ToolCall, signatures: Mapping[str, inspect.Signature]) -> dict[str, Any]:
    """Bind ``call`` to its tool's signature (defaults applied), or raise ActionError.

    ``signatures`` maps each tool name to the signature of a stub that documents it.
    """
    signature = signatures.get(call.name)
    if signature is None:
        *first, last = signatures
        names = f"{', '.join(first)} and {last}" if first else last
        raise ActionError(f"unknown tool {call.name!r}; the tools are {names}")
    try:
        bound = signature.bind(*call.args, **call.kwargs)
    except TypeError as exc:
        raise ActionError(f"wrong arguments for {call.name}{signature}: {exc}") from None
    bound.apply_defaults()
    return dict(bound.arguments)
