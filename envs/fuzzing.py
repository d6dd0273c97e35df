"""Fuzzing an env's actions: hostile text in, an observation (never an exception) out.

The contract of :class:`~prmgym.envs.base.TextEnv` is that a bad action becomes an observation
saying what was wrong. :class:`ActionFuzzer` generates actions that test it, from the env's own
tools (``tool_signatures``, or the names in its help text), deterministically for a seed:

=============  ==============================================================================
category       what it generates
=============  ==============================================================================
nesting        thousands of nested brackets, unary and binary operators, attribute, call and
               subscript chains, lambdas, f-strings; as an argument, the whole action or the
               tool's name
wrong_types    every tool with ints, floats, None, lists, dicts, bytes, huge and infinite
               numbers where it wants others; missing, extra, unknown and repeated arguments
control        NUL and control characters, terminal escapes, unpaired surrogates, raw or
               escaped, in strings, names and around calls
huge           numbers past float and int limits, strings up to and past the length limit,
               thousands of arguments
foreign        other families' tools and names an agent might try (exec, eval, ...)
garbage        random characters, prose, JSON and Markdown tool calls, near-miss syntax
adversarial    well-formed calls whose strings attack: quotes, escapes, paths out of the
               workspace, shell and format metacharacters, answer-format edge cases
valid          well-formed calls with harmless, quick values
=============  ==============================================================================

:func:`fuzz_env` runs actions through an env, resetting when an episode ends and every few
steps, and records every exception the env raises; :func:`fuzz_id` does it for a registered id.
``scripts/fuzz_actions.py`` runs it on every id.

Example:
    >>> fuzzer = ActionFuzzer({"search": None}, max_chars=200, seed=0)
    >>> [a.text for a in fuzzer.take(2)] == [a.text for a in ActionFuzzer(
    ...     {"search": None}, max_chars=200, seed=0).take(2)]
    True
"""

from __future__ import annotations

import inspect
import random
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium

CATEGORIES: dict[str, float] = {
    "nesting": 12,
    "wrong_types": 22,
    "control": 10,
    "huge": 10,
    "foreign": 8,
    "garbage": 10,
    "adversarial": 16,
    "valid": 12,
}
"""Each category and its share of the generated actions (relative weights)."""

FOREIGN_TOOLS = (
    "search", "open", "answer", "python", "bash", "view", "str_replace", "insert", "create",
    "submit", "click", "fill", "goto", "scroll", "noop", "send_msg_to_user", "select_option",
    "exec", "eval", "__import__", "print", "getattr", "finish", "execute_bash", "think",
    "run", "type", "reset", "step", "Search", "SEARCH", "sеarch",
)  # fmt: skip
"""Tool names of the built-in families and others an agent may try (the last has a Cyrillic e)."""

# Literal source texts of every type a tool may not expect.
_WRONG_LITERALS = (
    "0", "-1", "1.5", "-0.0", "True", "False", "None", "[]", "[1, 2]", "['a', 'b']", "{}",
    "{'a': 1}", "()", "(1,)", "{1}", "b'bytes'", "b'\\x00\\xff'", "1j", "...", "''", "' '",
    "'x'", "'12'", "'-5'", "'1e3'", "[None]", "[[[]]]", "{'a': [None]}", "'\\ud800'", "'\\x00'",
    "'\\u202e'", "2147483648", "9223372036854775808", "-9223372036854775809", "1" + "0" * 100,
    "1e308", "-1e308", "1e99999", "-1e99999", "5e-324", "nan", "inf", "float('nan')", "0x10",
    "0o17", "0b101", "1_000", "[1e99999]", "{'': ''}", "''' '''", "r'\\'", "u'x'",
)  # fmt: skip
_ADVERSARIAL_STRINGS = (
    "", " ", "\n", "\t", "\\", "\\\\", "'", '"', "'''", '"""', "\\'", '"; echo hi; "',
    "$(echo hi)", "`echo hi`", "; echo hi", "&& echo hi", "| cat", "${HOME}", "%s%s%n",
    "{0}{1}", "{__class__}", "<script>alert(1)</script>", "../../../../etc/passwd", "/etc/passwd",
    "/", ".", "..", "~", "/proc/self/environ", "/dev/zero", "/dev/null", "a/../../b",
    "\x00", "a\x00b", "\x1b[2J\x1b[31mred", "\r\n", "\u2028", "\u202eevil", "\ufeff", "\ud800",
    "\udfff", "é", "🙂" * 8, "中文", "ﷺ", "A" * 300, "\x7f", "\x08\x08", "None", "True",
    "@x[1]", "@x[1e99999999]", "@x[nan]", "@x[inf]", "@x[]", "@[1]", "@x[" + "9" * 500 + "]",
    "@x[1] @x[2]", "-1", "0", "12", "99999999999999999999", "Enter", "Control+Alt+Delete",
    "javascript:alert(1)", "file:///etc/passwd", "http://example.com/", "http://[::1",
    "data:text/html,<b>x</b>", "about:blank", "//evil", "#", "?q=1",
)  # fmt: skip
_ADVERSARIAL_INTS = (
    "0", "-1", "1", "-0", "2147483648", "-2147483649", "9223372036854775808",
    "1" + "0" * 100, "-" + "9" * 300,
)  # fmt: skip
_ADVERSARIAL_FLOATS = ("0.0", "-0.0", "1e308", "-1e308", "1e99999", "-1e99999", "5e-324")
_SAFE_STRINGS = (
    "ok", "1", "12", "README.md", ".", "true", "echo ok", "ls", "print(1)", "x = 1", "1 + 1",
    "@answer[1]", "Enter", "/", "left", "hello world", "json.dumps", "collections",
)  # fmt: skip
_CONTROL_CHARS = (
    "\x00", "\x01", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x1b[31m",
    "\x1b]0;title\x07", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\ufeff", "\ud800",
    "\udfff", "\uffff", "\U0010ffff",
)  # fmt: skip
_NESTING = (
    ("(", "1", ")"), ("[", "", "]"), ("{1: ", "1", "}"), ("-", "1", ""), ("~", "1", ""),
    ("not ", "1", ""), ("+", "1", ""), ("1 + ", "1", ""), ("a.", "a", ""), ("", "f", "()"),
    ("", "a", "[0]"), ("lambda: ", "0", ""), ("2 ** ", "2", ""), ("1 if 1 else ", "1", ""),
    ("await ", "1", ""), ("*", "a", ""), ("f'{", "1", "}'"), ("(-[~", "1", "])"),
)  # fmt: skip
_DEPTHS = (50, 100, 200, 500, 1000, 3000, 10000)

_HELP_CALL = re.compile(r"(?:^|\s)([A-Za-z_]\w*)\(", re.MULTILINE)


@dataclass(frozen=True)
class FuzzAction:
    """One generated action and the category that made it."""

    category: str
    text: str


class ActionFuzzer:
    """Deterministic generator of hostile actions for one env's tools.

    Args:
        tools: Each tool's signature by name; None where only the name is known.
        max_chars: The env's action length limit; generated lengths gather around it.
        seed: The same seed, tools and limit give the same actions.
        weights: Relative weight of each category (default :data:`CATEGORIES`).
    """

    def __init__(
        self,
        tools: Mapping[str, inspect.Signature | None],
        *,
        max_chars: int = 2000,
        seed: int = 0,
        weights: Mapping[str, float] | None = None,
    ):
        if not tools:
            raise ValueError("the fuzzer needs at least one tool name")
        self.tools = dict(tools)
        self.max_chars = max_chars
        self.weights = dict(weights or CATEGORIES)
        unknown = set(self.weights) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; use {list(CATEGORIES)}")
        self._random = random.Random(seed)
        self._makers: dict[str, Callable[[], str]] = {
            "nesting": self._nesting,
            "wrong_types": self._wrong_types,
            "control": self._control,
            "huge": self._huge,
            "foreign": self._foreign,
            "garbage": self._garbage,
            "adversarial": self._adversarial,
            "valid": self._valid,
        }

    def __iter__(self) -> Iterator[FuzzAction]:
        while True:
            yield self.action()

    def take(self, n: int) -> list[FuzzAction]:
        """The next ``n`` actions."""
        return [self.action() for _ in range(n)]

    def action(self, category: str | None = None) -> FuzzAction:
        """One action of ``category`` (default: drawn by weight)."""
        if category is None:
            names = list(self.weights)
            category = self._random.choices(names, [self.weights[n] for n in names])[0]
        return FuzzAction(category, self._makers[category]())

    # -- helpers --------------------------------------------------------------------------
    def _tool(self, weighted: bool = False) -> str:
        """A tool name; ``weighted`` favours tools with parameters (ending tools are slower)."""
        names = sorted(self.tools)
        if not weighted:
            return self._random.choice(names)
        return self._random.choices(names, [1 + len(self._parameters(n)) for n in names])[0]

    def _parameters(self, name: str) -> list[inspect.Parameter]:
        signature = self.tools.get(name)
        if signature is None:
            return []
        return [
            p
            for p in signature.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def _arity(self, name: str) -> int:
        if self.tools.get(name) is None:
            return self._random.randint(0, 3)
        return len(self._parameters(name))

    def _call(self, name: str, arguments: Iterable[str]) -> str:
        return f"{name}({', '.join(arguments)})"

    def _string(self, text: str) -> str:
        """``text`` as a literal, escaped (the usual way) or raw between quotes."""
        if self._random.random() < 0.8:
            return repr(text)
        quote = self._random.choice(("'", '"', "'''", '"""'))
        return f"{quote}{text}{quote}"

    def _typed(self, parameter: inspect.Parameter, pools: dict[str, tuple[str, ...]]) -> str:
        """A literal of the type the parameter's annotation names, from ``pools``."""
        annotation = str(parameter.annotation)
        for kind in ("int", "float", "list", "str"):
            if kind in annotation and kind in pools:
                return self._random.choice(pools[kind])
        return self._random.choice(pools["str"])

    def _arguments(self, name: str, pools: dict[str, tuple[str, ...]]) -> list[str]:
        """Arguments of the types the tool wants; trailing optional ones sometimes left out."""
        if self.tools.get(name) is None:
            return [self._random.choice(pools["str"]) for _ in range(self._arity(name))]
        parameters = self._parameters(name)
        required = sum(p.default is p.empty for p in parameters)
        chosen = parameters[: self._random.randint(required, len(parameters))]
        texts = [self._typed(p, pools) for p in chosen]
        if self._random.random() < 0.3:  # by keyword
            return [f"{p.name}={text}" for p, text in zip(chosen, texts, strict=True)]
        return texts

    def _size(self, unit: int, overhead: int) -> int:
        """A repeat count: often just under the length limit, sometimes past it."""
        room = max(1, (self.max_chars - overhead) // max(unit, 1))
        roll = self._random.random()
        if roll < 0.6:
            return min(self._random.choice(_DEPTHS), room)
        if roll < 0.85:
            return room
        return room + self._random.randint(1, max(1, room // 10))

    # -- categories -----------------------------------------------------------------------
    def _nesting(self) -> str:
        opening, middle, closing = self._random.choice(_NESTING)
        name = self._tool()
        depth = self._size(len(opening) + len(closing), len(name) + 2 + len(middle))
        deep = opening * depth + middle + closing * depth
        where = self._random.random()
        if where < 0.7:
            return self._call(name, [deep])
        if where < 0.85:
            return deep
        return f"{opening * depth}{name}{closing * depth}('x')"

    def _wrong_types(self) -> str:
        name = self._tool()
        arguments = [self._random.choice(_WRONG_LITERALS) for _ in range(self._arity(name))]
        parameters = self._parameters(name)
        variant = self._random.random()
        if variant < 0.15 and arguments:
            arguments.pop()  # missing
        elif variant < 0.3:
            extra = self._random.randint(1, 3)
            arguments += [self._random.choice(_WRONG_LITERALS) for _ in range(extra)]
        elif variant < 0.4:
            arguments.append(f"zz_unknown={self._random.choice(_WRONG_LITERALS)}")
        elif variant < 0.5 and parameters:
            parameter = self._random.choice(parameters).name
            arguments.append(f"{parameter}={self._random.choice(_WRONG_LITERALS)}")  # twice
        elif variant < 0.6 and parameters:
            arguments = [f"{p.name}={self._random.choice(_WRONG_LITERALS)}" for p in parameters]
        elif variant < 0.65:
            arguments.append(self._random.choice(("**{}", "**{'a': 1}", "*[]", "*[1, 2]")))
        return self._call(name, arguments)

    def _control(self) -> str:
        chars = "".join(self._random.choices(_CONTROL_CHARS, k=self._random.randint(1, 6)))
        name = self._tool()
        where = self._random.random()
        if where < 0.35:  # raw, inside a string literal
            return self._call(name, [f'"a{chars}b"'])
        if where < 0.55:  # escaped, inside a string literal
            return self._call(name, [repr(f"a{chars}b")])
        if where < 0.7:  # in the tool's name
            cut = self._random.randint(0, len(name))
            return f"{name[:cut]}{chars}{name[cut:]}('x')"
        if where < 0.85:  # around the call
            return f"{chars}{name}('x'){chars}"
        return chars

    def _huge(self) -> str:
        name = self._tool()
        kind = self._random.random()
        if kind < 0.35:  # a string around the limit
            size = self._size(1, len(name) + 4)
            return self._call(name, [repr(self._random.choice("Ax\\é") * size)])
        if kind < 0.65:  # a number past the limits of floats and ints
            digits = self._random.choice((19, 20, 309, 400, 4299, 4300, 4301, 5000))
            number = self._random.choice(
                ("9" * digits, "-" + "9" * digits, "1" + "0" * digits + ".0", f"1e{digits}",
                 f"1e-{digits}", f"{digits}e{'9' * 6}", "0." + "0" * digits + "1")
            )  # fmt: skip
            arguments = [number] * max(1, self._arity(name))
            return self._call(name, arguments)
        if kind < 0.85:  # thousands of arguments
            count = self._size(3, len(name) + 2)
            return self._call(name, ["1"] * count)
        count = self._size(5, len(name) + 4)  # one long list
        return self._call(name, ["[" + ", ".join(["'a'"] * count) + "]"])

    def _foreign(self) -> str:
        name = self._random.choice([n for n in FOREIGN_TOOLS if n not in self.tools])
        count = self._random.randint(0, 3)
        pool = _SAFE_STRINGS + ("0", "1", "None")
        arguments = [self._random.choice(pool) for _ in range(count)]
        return self._call(name, [a if a in ("0", "1", "None") else repr(a) for a in arguments])

    def _garbage(self) -> str:
        name = self._tool()
        kind = self._random.randint(0, 9)
        if kind == 0:
            alphabet = "".join(chr(c) for c in range(32, 127)) + "éü中🙂\t\n"
            size = self._random.randint(0, 200)
            return "".join(self._random.choices(alphabet, k=size))
        if kind == 1:
            return self._random.choice(
                ("", " ", "\n\n", "I will now use the tool.", "Let me think step by step.",
                 "Action:", "DONE", "```", "null", "0", "()", "(", ")", "'", '"')
            )  # fmt: skip
        if kind == 2:
            return f'{{"name": "{name}", "arguments": {{"x": 1}}}}'
        if kind == 3:
            return f"```python\n{name}('x')\n```"
        if kind == 4:
            return self._random.choice((f"{name}", f"{name}(", f"{name}('x'))", f"{name}('x"))
        if kind == 5:
            return f"{name}('a') {name}('b')"
        if kind == 6:
            return self._random.choice((f"{name}('a'); {name}('b')", f"{name}('a')\n{name}('b')"))
        if kind == 7:
            return self._random.choice(
                (f"x = {name}('a')", f"os.{name}('a')", f"{name}('a')[0]", f"{name}('a').b",
                 f"{name}('a') # note", f"<tool>{name}('a')</tool>", f"{name}[('a')]",
                 f"{name} ('a')", f"{name}\n('a')", f"{name}(,)", f"{name}(a=)", f"{name}(=1)")
            )  # fmt: skip
        if kind == 8:
            return f"{name}({self._random.choice(('x y', 'a, b', 'it' + chr(39) + 's', '1 2 3'))})"
        tokens = ("(", ")", "[", "]", "{", "}", ",", ":", "'", '"', "=", name, "1", "a", "\\")
        return "".join(self._random.choices(tokens, k=self._random.randint(1, 40)))

    def _adversarial(self) -> str:
        name = self._tool(weighted=True)
        if self.tools.get(name) is not None and not self._parameters(name):
            return self._call(name, [f"{self._random.choice(('x', 'k', 'path'))}='../x'"])
        pools = {
            "str": tuple(self._string(s) for s in self._random.sample(_ADVERSARIAL_STRINGS, 3)),
            "int": _ADVERSARIAL_INTS,
            "float": _ADVERSARIAL_FLOATS + _ADVERSARIAL_INTS,
            "list": ("[]", "['\\x00']", "['" + "a" * 50 + "', '']", "['\\ud800']"),
        }
        return self._call(name, self._arguments(name, pools))

    def _valid(self) -> str:
        name = self._tool(weighted=True)
        pools = {
            "str": tuple(repr(s) for s in _SAFE_STRINGS),
            "int": ("0", "1", "2", "3", "5"),
            "float": ("0", "1", "100", "400", "-50"),
            "list": ("['1']", "['ok', 'a']"),
        }
        return self._call(name, self._arguments(name, pools))


# -- running actions through an env ----------------------------------------------------------
@dataclass(frozen=True)
class FuzzCrash:
    """An exception an env raised: where, on which action, and the top of its traceback."""

    env_id: str
    step: int
    category: str
    action: str
    exception: str
    message: str
    where: str


@dataclass
class FuzzReport:
    """What a fuzzing run saw on one env."""

    env_id: str
    actions: int = 0
    action_errors: int = 0
    resets: int = 0
    wall_s: float = 0.0
    by_category: Counter[str] = field(default_factory=Counter)
    exception_types: Counter[str] = field(default_factory=Counter)
    crashes: list[FuzzCrash] = field(default_factory=list)
    """The first crashes (at most ``keep`` of :func:`fuzz_env`)."""

    @property
    def exceptions(self) -> int:
        """How many steps and resets raised."""
        return sum(self.exception_types.values())


def env_tools(env: gymnasium.Env[Any, Any]) -> dict[str, inspect.Signature | None]:
    """An env's tools: its ``tool_signatures``, else the call names in its help text.

    The help text is read from ``tools()``, so a web-like env may need ``reset`` first.
    """
    base = env.unwrapped
    declared = getattr(base, "tool_signatures", None)
    if declared:
        return dict(declared)
    help_text = base.tools() if hasattr(base, "tools") else ""
    return {name: None for name in dict.fromkeys(_HELP_CALL.findall(help_text))}


def fuzz_env(
    env: gymnasium.Env[Any, Any],
    actions: Iterable[FuzzAction],
    *,
    env_id: str = "",
    seed: int = 0,
    reset_every: int = 50,
    keep: int = 100,
    on_step: Callable[[FuzzReport], None] | None = None,
    report: FuzzReport | None = None,
) -> FuzzReport:
    """Step ``actions`` through ``env``, recording every exception instead of stopping.

    The env is reset (with seeds ``seed``, ``seed + 1``, ...) before the first action, after
    an episode ends, after an exception, and every ``reset_every`` steps. An exception in
    ``reset`` is recorded too (its action reads ``<reset>``).

    Args:
        env: The env, made by the caller (who closes it).
        actions: The actions, e.g. ``ActionFuzzer(...).take(n)``.
        env_id: The id put on each crash.
        seed: First reset seed.
        reset_every: Steps between resets of a still-running episode.
        keep: How many crashes to keep in full (all are counted).
        on_step: Called after each action with the report so far (e.g. a progress bar).
        report: A report to add to (its ``env_id`` is kept); default a new one.
    """
    report = report if report is not None else FuzzReport(env_id)
    started = time.perf_counter()
    needs_reset, since_reset = True, 0
    for action in actions:
        if needs_reset or since_reset >= reset_every:
            report.resets += 1
            needs_reset, since_reset = False, 0
            try:
                env.reset(seed=seed + report.resets - 1)
            except Exception as exc:
                _record(report, exc, report.actions, "reset", "<reset>", keep)
                needs_reset = True
        report.actions += 1
        report.by_category[action.category] += 1
        since_reset += 1
        try:
            _, _, terminated, truncated, info = env.step(action.text)
        except Exception as exc:
            _record(report, exc, report.actions, action.category, action.text, keep)
            needs_reset = True
        else:
            report.action_errors += info.get("action_error") is not None
            needs_reset = bool(terminated or truncated)
        if on_step is not None:
            on_step(report)
    report.wall_s += time.perf_counter() - started
    return report


def fuzz_id(
    env_id: str,
    n: int,
    *,
    seed: int = 0,
    reset_every: int = 50,
    keep: int = 100,
    on_step: Callable[[FuzzReport], None] | None = None,
    **make_kwargs: Any,
) -> FuzzReport:
    """Make the registered ``env_id``, fuzz it with ``n`` generated actions, close it.

    An exception while making, first resetting or closing the env is recorded like one in a
    step (its action reads ``<make>``, ``<reset>`` or ``<close>``): one broken id does not
    stop a run over many.
    """
    started = time.perf_counter()
    report = FuzzReport(env_id)
    try:
        env = gymnasium.make(env_id, **make_kwargs)
    except Exception as exc:
        _record(report, exc, 0, "make", "<make>", keep)
        return report
    try:
        env.reset(seed=seed)  # some envs' help text needs a live episode
        fuzzer = ActionFuzzer(env_tools(env), max_chars=_max_chars(env), seed=seed)
    except Exception as exc:
        _record(report, exc, 0, "reset", "<reset>", keep)
    else:
        fuzz_env(
            env,
            fuzzer.take(n),
            seed=seed,
            reset_every=reset_every,
            keep=keep,
            on_step=on_step,
            report=report,
        )
    try:
        env.close()
    except Exception as exc:
        _record(report, exc, report.actions, "close", "<close>", keep)
    report.wall_s = time.perf_counter() - started
    return report


def _max_chars(env: gymnasium.Env[Any, Any]) -> int:
    limit = getattr(env.action_space, "max_length", None)
    return int(limit) if isinstance(limit, int) and limit > 0 else 2000


def _record(
    report: FuzzReport, exc: Exception, step: int, category: str, action: str, keep: int
) -> None:
    name = type(exc).__name__
    report.exception_types[name] += 1
    if len(report.crashes) < keep:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
        message = str(exc).splitlines()[0][:300] if str(exc) else ""
        report.crashes.append(
            FuzzCrash(report.env_id, step, category, action, name, message, where)
        )
