"""Parsing action strings such as ``search("heapq merge", k=3)`` without executing them.

Agent text is untrusted: it is parsed with :mod:`ast` and only literal arguments are accepted
(``ast.literal_eval``), so nothing the agent writes runs in the host process. Small models
often forget quotes (``search(heapq merge)``); a lenient fallback takes the text between the
parentheses as one string argument, so a near-miss still becomes a useful action.

Any string gives a :class:`ToolCall` or an :class:`ActionError`, never another exception:
CPython's parser recurses on nested expressions (``-`` repeated 3,000 times raises
RecursionError, ``lambda:`` repeated raises MemoryError), so text nested deeper than an honest
action ever is (:data:`MAX_NESTING` brackets, :data:`MAX_OPERATORS` operators and names outside
string literals) never reaches :mod:`ast` and is treated like any other text that is not Python.
"""

from __future__ import annotations

import ast
import inspect
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_CALL_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)

MAX_NESTING = 64
"""Deepest bracket nesting handed to :mod:`ast` (CPython's tokenizer stops at 200)."""
MAX_OPERATORS = 500
"""Most operators and names outside string literals handed to :mod:`ast`; CPython's AST
construction recurses once per operator of a chain and fails near 3,000."""
_OPERATOR_CHARS = frozenset("+-*/%@&|^~<>=!.:;")
_QUOTES = "'\""


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
    if "\x00" in text:
        raise ActionError(
            "actions cannot contain NUL characters; write one tool call such as "
            'search("query") (inside a string, "\\x00" stands for one)'
        )
    source = text.strip()
    tree = _parse_expression(source) if _shallow(source) else None
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
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
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


def _parse_expression(source: str) -> ast.Expression | None:
    """The expression's tree, or None where the text is not (safely parseable) Python."""
    try:
        if "\\" not in source:
            return ast.parse(source, mode="eval")
        # Invalid escapes such as "\d" warn (SyntaxWarning from 3.12): noise, not an error.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, OverflowError):
        return None
    except (RecursionError, MemoryError):
        # The parser's own "too complex" signals, for nesting _shallow cannot see (f-strings).
        return None


def _shallow(source: str) -> bool:
    """Whether ``source`` is shallow enough for :mod:`ast`: a linear scan, string-aware.

    Counts bracket depth and operators and names outside string literals. The contents of an
    f-string are counted as code, since CPython parses their expressions.
    """
    depth = operators = 0
    i, n = 0, len(source)
    formatted = False
    while i < n:
        char = source[i]
        if char in _QUOTES:
            end = _string_end(source, i)
            if formatted:
                body = source[i:end]
                operators += sum(c in _OPERATOR_CHARS or c in "([{" for c in body)
            i, formatted = end, False
            continue
        if char.isalpha() or char == "_":
            start = i
            while i < n and (source[i].isalnum() or source[i] == "_"):
                i += 1
            word = source[start:i].lower()
            formatted = "f" in word and len(word) <= 2 and set(word) <= set("rbuf")
            operators += 1
            continue
        if char.isdigit():
            while i < n and (source[i].isalnum() or source[i] in "._"):
                i += 1
            continue
        if char in "([{":
            depth += 1
            if depth > MAX_NESTING:
                return False
        elif char in ")]}":
            depth -= 1
        elif char in _OPERATOR_CHARS:
            operators += 1
        if operators > MAX_OPERATORS:
            return False
        formatted = False
        i += 1
    return operators <= MAX_OPERATORS


def _string_end(source: str, start: int) -> int:
    """Index just past the string literal opening at ``start`` (or the end of the text)."""
    quote = source[start]
    delimiter = quote * 3 if source.startswith(quote * 3, start) else quote
    i, n = start + len(delimiter), len(source)
    while i < n:
        char = source[i]
        if char == "\\":
            i += 2
        elif source.startswith(delimiter, i):
            return i + len(delimiter)
        elif char == "\n" and len(delimiter) == 1:
            return i  # an unterminated one-line string: Python stops here too
        else:
            i += 1
    return n


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


def utf8_encodable(text: str) -> bool:
    """Whether ``text`` can be sent on as UTF-8 (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
