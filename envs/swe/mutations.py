"""AST mutation operators: plant one small, realistic bug in Python source.

:func:`find_mutations` lists every bug one operator could plant in a file, in a fixed order;
:func:`apply_mutation` plants one of them again from its recipe. An edit touches only a few
characters inside one syntax node (an operator, a constant, a condition, two arguments) or
drops whole lines of one statement, so the rest of the file stays byte-identical and the fix
is a one-hunk diff.

A recipe names the node by its position (``line``, ``col``, ``end_line``, ``end_col`` as
:mod:`ast` reports them: 1-based lines, columns in UTF-8 bytes) and by the SHA-256 of its
original text, never by the text itself, so task files carry no third-party code. The
replacement is worked out again from the source when the recipe is applied.

Operators (``kind``):

- ``flip_compare``: the first operator of a comparison flips (``<`` and ``<=``, ``>`` and
  ``>=``, ``==`` and ``!=``, ``is`` and ``is not``, ``in`` and ``not in``);
- ``flip_binop``: an arithmetic, shift or bitwise operator (also in ``+=``-style assignments)
  becomes its counterpart, or ``and`` and ``or`` swap;
- ``change_constant``: an integer grows by one, or ``True`` and ``False`` swap;
- ``remove_condition``: the test of an ``if`` or of a conditional expression is negated;
- ``remove_branch``: an ``if``'s ``else``/``elif`` part is dropped, or an ``if`` without one
  is removed altogether;
- ``remove_return``: an early ``return`` is removed, or a ``return`` loses its value;
- ``swap_arguments``: the first two positional arguments of a call trade places.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from prmgym.envs.swe.tasks import MutationRecipe
from prmgym.errors import TaskError

KINDS = (
    "flip_compare",
    "flip_binop",
    "change_constant",
    "remove_condition",
    "remove_branch",
    "remove_return",
    "swap_arguments",
)
"""Every mutation operator, in the order :func:`find_mutations` lists a node's mutations."""


class MutationError(TaskError):
    """A recipe does not fit the source it is applied to (another version of the file)."""


@dataclass(frozen=True)
class Mutation:
    """One bug an operator can plant: the node it changes and the edit that does it."""

    file: str
    """The file's path relative to the repository root (empty when not given)."""
    kind: str
    """The operator, one of :data:`KINDS`."""
    line: int
    """Where the node starts and ends: 1-based lines, columns in UTF-8 bytes, as in ast."""
    col: int
    end_line: int
    end_col: int
    original_sha256: str
    """SHA-256 of the node's original text (UTF-8)."""
    scope: str
    """The enclosing function or class (``Class.method``); empty at module level."""
    description: str
    """What changes, in words, naming the enclosing function but quoting no code."""
    start: int = field(repr=False)
    """Character offset in the source where the edit starts."""
    end: int = field(repr=False)
    """Character offset where it ends."""
    replacement: str = field(repr=False)
    """What replaces ``source[start:end]``."""

    def recipe(self, seed: int) -> MutationRecipe:
        """The task-file record of this mutation, drawn with ``seed``: no code, only hashes."""
        return MutationRecipe(
            file=self.file,
            kind=self.kind,
            line=self.line,
            col=self.col,
            end_line=self.end_line,
            end_col=self.end_col,
            original_sha256=self.original_sha256,
            seed=seed,
            description=self.description,
        )

    def apply(self, source: str) -> str:
        """``source`` (the text this mutation was found in) with the bug planted."""
        return source[: self.start] + self.replacement + source[self.end :]


def find_mutations(source: str, file: str = "") -> list[Mutation]:
    """Every mutation of ``source``, ordered by position, then by :data:`KINDS`.

    Args:
        source: A Python module's text.
        file: Its path relative to the repository root, recorded in each mutation.

    Raises:
        MutationError: ``source`` is not valid Python.
    """
    return _Finder(source, file, set(KINDS)).run()


def apply_mutation(source: str, recipe: MutationRecipe | Mutation) -> str:
    """``source`` with the mutation ``recipe`` describes planted in it.

    Raises:
        MutationError: The source has no such mutation at the recipe's position, the text
            there hashes differently (the file is another version), or the result would not
            parse.
    """
    if recipe.kind not in KINDS:
        raise MutationError(f"unknown mutation kind {recipe.kind!r}; known: {', '.join(KINDS)}")
    span = (recipe.line, recipe.col, recipe.end_line, recipe.end_col)
    where = f"{recipe.file or 'the file'}, line {recipe.line}, column {recipe.col}"
    finder = _Finder(source, "", {recipe.kind}, lines=(recipe.line, recipe.end_line))
    matches = [m for m in finder.run() if (m.line, m.col, m.end_line, m.end_col) == span]
    if not matches:
        raise MutationError(
            f"no {recipe.kind} mutation fits at {where}: the file is not the version the"
            " recipe was made from"
        )
    mutation = matches[0]
    if mutation.original_sha256 != recipe.original_sha256:
        raise MutationError(
            f"the code at {where} differs from the code the {recipe.kind} recipe was made from"
            " (its hash does not match): the file is another version"
        )
    mutated = mutation.apply(source)
    try:
        ast.parse(mutated)
    except SyntaxError as exc:
        raise MutationError(f"the {recipe.kind} mutation at {where} breaks the syntax") from exc
    return mutated


# -- the operators' tables -------------------------------------------------------------------

# comparison -> (its counterpart, what happened in words)
_COMPARE_FLIPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], str]] = {
    ast.Lt: (ast.LtE, "a less-than comparison became less-or-equal"),
    ast.LtE: (ast.Lt, "a less-or-equal comparison became strictly less"),
    ast.Gt: (ast.GtE, "a greater-than comparison became greater-or-equal"),
    ast.GtE: (ast.Gt, "a greater-or-equal comparison became strictly greater"),
    ast.Eq: (ast.NotEq, "an equality test was inverted"),
    ast.NotEq: (ast.Eq, "an inequality test was inverted"),
    ast.Is: (ast.IsNot, "an identity test was inverted"),
    ast.IsNot: (ast.Is, "a negated identity test was inverted"),
    ast.In: (ast.NotIn, "a membership test was inverted"),
    ast.NotIn: (ast.In, "a negated membership test was inverted"),
}
_OPERATOR_TEXT: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
}
# arithmetic operator -> (its counterpart, the operation's name)
_BINOP_FLIPS: dict[type[ast.operator], tuple[type[ast.operator], str]] = {
    ast.Add: (ast.Sub, "addition"),
    ast.Sub: (ast.Add, "subtraction"),
    ast.Mult: (ast.FloorDiv, "multiplication"),
    ast.FloorDiv: (ast.Mult, "floor division"),
    ast.Div: (ast.Mult, "division"),
    ast.Mod: (ast.FloorDiv, "modulo"),
    ast.LShift: (ast.RShift, "left shift"),
    ast.RShift: (ast.LShift, "right shift"),
    ast.BitOr: (ast.BitAnd, "bitwise or"),
    ast.BitAnd: (ast.BitOr, "bitwise and"),
    ast.BitXor: (ast.BitOr, "bitwise exclusive or"),
}
# These pairs bind at different strengths, so inside another operation the flipped operator
# would regroup its neighbours; they flip only where no operation encloses them.
_REGROUPING = {ast.BitOr, ast.BitAnd, ast.BitXor}
# Atoms whose negation reads naturally without parentheses.
_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)
# What may lie between two operands besides their operator.
_GAP_REST = re.compile(r"[\s()\\]*")
_BLANK_OR_COMMENT = re.compile(r"[ \t\f]*(#[^\n]*)?\r?\n?")
_NOT_KEYWORD = re.compile(r"not\s*")
_ELSE_HEAD = re.compile(r"(?:[ \t\f]*(?:#[^\n]*)?\r?\n)*[ \t\f]*(else|elif)\b")

_Edit = tuple[ast.AST, int, int, str, str]
"""A mutation found: the node it identifies, the edit's offsets and text, what it does."""


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _operator_pattern(op: type[ast.AST], suffix: str = "") -> str:
    words = [re.escape(word) for word in _OPERATOR_TEXT[op].split()]
    pattern = r"\s+".join(words) + re.escape(suffix)
    return rf"\b{pattern}\b" if pattern[0].isalpha() else pattern


# -- the finder ------------------------------------------------------------------------------


class _Source:
    """Offsets into a source text from :mod:`ast` positions (lines, UTF-8 byte columns)."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, line: int, col: int) -> int:
        text = self.lines[line - 1]
        if not text.isascii():
            col = len(text.encode("utf-8")[:col].decode("utf-8", "replace"))
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def line_start(self, line: int) -> int:
        return self.starts[line - 1]

    def after_line(self, line: int) -> int:
        """The offset just past ``line``'s newline (the end of the text on the last line)."""
        return min(self.starts[line], len(self.text))


class _Finder:
    """One walk over a module, collecting the mutations of the ``kinds`` asked for."""

    def __init__(self, text: str, file: str, kinds: set[str], lines: tuple[int, int] | None = None):
        self.source = _Source(text)
        self.file = file
        self.kinds = kinds
        # Applying a recipe tries only the nodes spanning its lines: its node and the parents
        # that report it (an if statement reports its test).
        self.lines = lines
        self.found: list[tuple[tuple[int, ...], Mutation]] = []
        self.scope: list[str] = []
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []

    def run(self) -> list[Mutation]:
        try:
            tree = ast.parse(self.source.text)
        except SyntaxError as exc:
            raise MutationError(f"cannot parse {self.file or 'the source'}: {exc}") from exc
        self._visit(tree, None, None)
        self.found.sort(key=lambda pair: pair[0])
        return [mutation for _, mutation in self.found]

    # The walk keeps what the operators need: the enclosing names (for descriptions), the
    # enclosing function (for early returns), the parent node and a statement's block.
    def _visit(self, node: ast.AST, parent: ast.AST | None, block: list[ast.stmt] | None) -> None:
        if isinstance(node, ast.JoinedStr):
            return  # before Python 3.12 positions inside f-strings are unreliable
        if self.lines is None or (
            getattr(node, "lineno", 0) <= self.lines[0]
            and getattr(node, "end_lineno", 0) >= self.lines[1]
        ):
            self._try_operators(node, parent, block)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.scope.append(node.name)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.functions.append(node)
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                statements = value if value and isinstance(value[0], ast.stmt) else None
                for child in value:
                    if isinstance(child, ast.AST):
                        self._visit(child, node, statements)
            elif isinstance(value, ast.AST):
                self._visit(value, node, None)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.functions.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.scope.pop()

    def _try_operators(
        self, node: ast.AST, parent: ast.AST | None, block: list[ast.stmt] | None
    ) -> None:
        for kind, found in self._operators(node, parent, block):
            if kind in self.kinds:
                for edit in found:
                    self._add(kind, *edit)

    def _operators(
        self, node: ast.AST, parent: ast.AST | None, block: list[ast.stmt] | None
    ) -> Iterator[tuple[str, Iterator[_Edit]]]:
        """Each operator that applies to ``node``, with its (lazy) findings."""
        if isinstance(node, ast.Compare):
            yield "flip_compare", self._flip_compare(node)
        elif isinstance(node, ast.BinOp):
            yield "flip_binop", self._flip_binop(node, parent)
        elif isinstance(node, ast.AugAssign):
            yield "flip_binop", self._flip_augmented(node)
        elif isinstance(node, ast.BoolOp):
            yield "flip_binop", self._flip_boolop(node)
        elif isinstance(node, ast.Constant):
            yield "change_constant", self._change_constant(node)
        elif isinstance(node, ast.IfExp):
            yield "remove_condition", self._negate(node)
        elif isinstance(node, ast.If) and block is not None:
            yield "remove_condition", self._negate(node)
            yield "remove_branch", self._remove_branch(node, block)
        elif isinstance(node, ast.Return) and block is not None:
            yield "remove_return", self._remove_return(node, block)
        elif isinstance(node, ast.Call):
            yield "swap_arguments", self._swap_arguments(node)

    def _add(
        self, kind: str, node: ast.AST, start: int, end: int, replacement: str, what: str
    ) -> None:
        scope = ".".join(self.scope)
        where = f"in `{scope}`" if scope else "at module level"
        span = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        digest = hashlib.sha256(self.source.segment(node).encode("utf-8")).hexdigest()
        mutation = Mutation(
            self.file, kind, *span, digest, scope, f"{what} {where}", start, end, replacement
        )
        self.found.append(((*span, KINDS.index(kind)), mutation))

    # -- expression operators: a small edit inside the node, checked by parsing it again ----

    def _checked(
        self,
        node: ast.AST,
        edits: list[tuple[int, int, str]],
        expected: ast.AST,
        *,
        flat: bool = False,
    ) -> bool:
        """Whether the node's text and the edited text parse to the node and to ``expected``.

        The first check catches a position that does not fit the text, the second an edit
        that does more than it says (an operator that regroups its neighbours).
        """
        start, end = self.source.span(node)
        original = self.source.text[start:end]
        edited = original
        for edit_start, edit_end, text in sorted(edits, reverse=True):
            edited = edited[: edit_start - start] + text + edited[edit_end - start :]
        return _parses_to(original, node) and _parses_to(edited, expected, flat=flat)

    def _gap_operator(
        self, before: ast.AST, after: ast.AST, pattern: str
    ) -> tuple[int, int] | None:
        """Offsets of the operator between two operands, if it is the only thing there.

        Whitespace and parentheses may surround it; a comment there would make the edit unsafe.
        """
        start = self.source.span(before)[1]
        gap = self.source.text[start : self.source.span(after)[0]]
        found = list(re.finditer(pattern, gap))
        if len(found) != 1:
            return None
        match = found[0]
        if not _GAP_REST.fullmatch(gap[: match.start()] + gap[match.end() :]):
            return None
        return start + match.start(), start + match.end()

    def _flip_compare(self, node: ast.Compare) -> Iterator[_Edit]:
        op = type(node.ops[0])
        flipped, what = _COMPARE_FLIPS[op]
        found = self._gap_operator(node.left, node.comparators[0], _operator_pattern(op))
        if found is None:
            return
        text = _OPERATOR_TEXT[flipped]
        expected = ast.Compare(node.left, [flipped(), *node.ops[1:]], node.comparators)
        if self._checked(node, [(*found, text)], expected):
            yield node, *found, text, what

    def _flip_binop(self, node: ast.BinOp, parent: ast.AST | None) -> Iterator[_Edit]:
        op = type(node.op)
        if op not in _BINOP_FLIPS or (op in _REGROUPING and isinstance(parent, ast.BinOp)):
            return
        flipped, name = _BINOP_FLIPS[op]
        found = self._gap_operator(node.left, node.right, _operator_pattern(op))
        if found is None:
            return
        text = _OPERATOR_TEXT[flipped]
        if self._checked(node, [(*found, text)], ast.BinOp(node.left, flipped(), node.right)):
            yield node, *found, text, f"{_article(name)} became {_BINOP_FLIPS[flipped][1]}"

    def _flip_augmented(self, node: ast.AugAssign) -> Iterator[_Edit]:
        op = type(node.op)
        if op not in _BINOP_FLIPS:
            return
        flipped, name = _BINOP_FLIPS[op]
        found = self._gap_operator(node.target, node.value, _operator_pattern(op, "="))
        if found is None:
            return
        text = _OPERATOR_TEXT[flipped] + "="
        start, end = self.source.span(node)
        edited = self.source.text[start : found[0]] + text + self.source.text[found[1] : end]
        expected = ast.AugAssign(node.target, flipped(), node.value)
        if _statement_parses_to(self.source.segment(node), node) and _statement_parses_to(
            edited, expected
        ):
            what = f"an in-place {name} became {_BINOP_FLIPS[flipped][1]}"
            yield node, *found, text, what

    def _flip_boolop(self, node: ast.BoolOp) -> Iterator[_Edit]:
        # Every operator of the chain flips. and/or associate, so the text may group a chain
        # differently from the intended tree while meaning the same: compared flattened.
        word, other = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        edits = []
        for left, right in zip(node.values, node.values[1:], strict=False):
            found = self._gap_operator(left, right, rf"\b{word}\b")
            if found is None:
                return
            edits.append((*found, other))
        flipped = ast.Or() if word == "and" else ast.And()
        if self._checked(node, edits, ast.BoolOp(flipped, node.values), flat=True):
            start, end = edits[0][0], edits[-1][1]
            text = self.source.text[start:end]
            for edit_start, edit_end, new in reversed(edits):
                text = text[: edit_start - start] + new + text[edit_end - start :]
            yield node, start, end, text, f"a logical {word} became a logical {other}"

    def _change_constant(self, node: ast.Constant) -> Iterator[_Edit]:
        value = node.value
        if isinstance(value, bool):
            new: int = not value
            what = f"a boolean constant {value} became {new}"
        elif isinstance(value, int):
            new, what = value + 1, "an integer constant was changed by one"
        else:
            return  # strings (docstrings among them), floats, None and bytes stay
        start, end = self.source.span(node)
        text = repr(new)
        if self._checked(node, [(start, end, text)], ast.Constant(new)):
            yield node, start, end, text, what

    def _negate(self, node: ast.If | ast.IfExp) -> Iterator[_Edit]:
        test = node.test
        start, end = self.source.span(test)
        statement = "an if statement" if isinstance(node, ast.If) else "a conditional expression"
        if isinstance(node, ast.If) and self.source.text.startswith("elif", self._start(node)):
            statement = "an elif branch"
        expected: ast.AST
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            # Only the keyword goes: parentheses after it may hold a multi-line operand.
            keyword = _NOT_KEYWORD.match(self.source.text, start, end)
            if keyword is None:
                return
            end = keyword.end()
            text, expected = "", test.operand
            what = f"the negation in the condition of {statement} was removed"
        else:
            original = self.source.text[start:end]
            text = f"not {original}" if isinstance(test, _ATOMS) else f"not ({original})"
            expected = ast.UnaryOp(ast.Not(), test)
            what = f"the condition of {statement} was negated"
        if self._checked(test, [(start, end, text)], expected):
            yield test, start, end, text, what

    # -- statement operators: whole lines go, or a return loses its value ------------------

    def _start(self, node: ast.AST) -> int:
        return self.source.span(node)[0]

    def _own_lines(self, node: ast.stmt) -> tuple[int, int] | None:
        """The offsets of the whole lines ``node`` fills, if no other statement shares them."""
        text = self.source.text
        first = self.source.line_start(node.lineno)
        start, end = self.source.span(node)
        last = self.source.after_line(node.end_lineno or node.lineno)
        if text[first:start].strip() or not _BLANK_OR_COMMENT.fullmatch(text[end:last]):
            return None
        return first, last

    def _remove_branch(self, node: ast.If, block: list[ast.stmt]) -> Iterator[_Edit]:
        text = self.source.text
        if node.orelse:
            # From the line after the body to the end of the else/elif part.
            start = self.source.after_line(node.body[-1].end_lineno or node.body[-1].lineno)
            end = self.source.after_line(node.end_lineno or node.lineno)
            head = _ELSE_HEAD.match(text, start, end)
            tail = text[self.source.span(node.orelse[-1])[1] : end]
            if head is None or not _BLANK_OR_COMMENT.fullmatch(tail):
                return
            what = (
                "the else branch of an if statement was dropped"
                if head.group(1) == "else"
                else "an elif branch, with the branches after it, was dropped"
            )
            yield node, start, end, "", what
        elif len(block) > 1:
            # The only statement of a block cannot go: the block would be empty. (An elif
            # is always the only statement of its parent's else part.)
            lines = self._own_lines(node)
            if lines is not None:
                yield node, *lines, "", "an if statement (its check and its body) was removed"

    def _remove_return(self, node: ast.Return, block: list[ast.stmt]) -> Iterator[_Edit]:
        body = self.functions[-1].body if self.functions else None
        early = len(block) > 1 and not (block is body and block[-1] is node)
        lines = self._own_lines(node) if early else None
        if lines is not None:
            yield node, *lines, "", "an early return was removed"
        elif node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None
        ):
            start, end = self.source.span(node)
            if _statement_parses_to(self.source.segment(node), node):
                yield node, start, end, "return", "a return statement lost its value"

    def _swap_arguments(self, node: ast.Call) -> Iterator[_Edit]:
        if len(node.args) < 2 or any(isinstance(a, ast.Starred) for a in node.args[:2]):
            return
        first, second = node.args[0], node.args[1]
        (a_start, a_end), (b_start, b_end) = self.source.span(first), self.source.span(second)
        text = self.source.text
        if text[a_start:a_end] == text[b_start:b_end]:
            return  # swapping equal texts changes nothing
        swapped = text[b_start:b_end] + text[a_end:b_start] + text[a_start:a_end]
        expected = ast.Call(node.func, [second, first, *node.args[2:]], node.keywords)
        if self._checked(node, [(a_start, b_end, swapped)], expected):
            yield node, a_start, b_end, swapped, "the first two arguments of a call were swapped"


def _parses_to(text: str, expected: ast.AST, *, flat: bool = False) -> bool:
    """Whether ``text`` is the expression ``expected`` (``flat``: up to and/or chaining)."""
    # Parenthesized on lines of their own, so a multi-line or commented expression parses.
    try:
        parsed = ast.parse(f"(\n{text}\n)", mode="eval").body
    except SyntaxError:
        return False
    if flat:
        parsed, expected = _Flatten().visit(parsed), _Flatten().visit(copy.deepcopy(expected))
    return ast.dump(parsed) == ast.dump(expected)


class _Flatten(ast.NodeTransformer):
    """Joins nested and/or chains of one operator: ``(a and b) and c`` is ``a and b and c``."""

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        """The chain with its same-operator sub-chains' operands spliced in."""
        self.generic_visit(node)
        values: list[ast.expr] = []
        for value in node.values:
            same = isinstance(value, ast.BoolOp) and type(value.op) is type(node.op)
            values.extend(value.values if same else [value])  # type: ignore[attr-defined]
        node.values = values
        return node


def _statement_parses_to(text: str, expected: ast.AST) -> bool:
    try:
        parsed = ast.parse(text).body
    except SyntaxError:
        return False
    return len(parsed) == 1 and ast.dump(parsed[0]) == ast.dump(expected)
