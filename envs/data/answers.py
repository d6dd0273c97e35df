"""DABench answers: ``@name[value]`` parts, read from text and graded part by part.

InfiAgent-DABench (Hu et al., 2024) asks a question, states how to compute the answer, and
fixes its format as named parts: ``@mean_fare[34.65] @survived[True]``. A reply is read with
:func:`parse_answers` and compared with the expected parts by :func:`grade`.

A part is right when, after both sides are normalised (surrounding whitespace and one pair of
matching quotes dropped, case folded, inner whitespace collapsed):

- the texts are equal, so ``True``, ``true`` and ``'TRUE'`` all match ``True``; or
- both are numbers (``-1.5``, ``2e3``, ``.5``; a Unicode minus counts) within the part's absolute
  tolerance, compared as the decimals they spell (so ``4.21`` is exactly one hundredth from
  ``4.22``, free of binary rounding). Where a single number is expected, the reply may group
  thousands: ``1,234``.
- An expected value holding commas is a list (``@top3[a, b, c]``): the reply must hold as many
  items, each matching by the two rules above, so ``a,b,c`` matches ``a, b, c``.

DABench's own evaluation compares the formatted values exactly (numbers within 1e-6); this
grader accepts that and the harmless variants above. Tolerances are absolute, never relative,
so a task states exactly how close is close enough.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_EXPONENT = 400
"""Numbers past 10**±400 (beyond any float) are not read as numbers: a huge exponent such as
``1e99999999`` would overflow the decimal arithmetic, so such a value is compared as text."""

DEFAULT_TOLERANCE = 1e-6
"""The tolerance DABench's evaluation allows between numbers."""

EXAMPLE = "@mean_age[38.5] @n_rows[120]"
"""A well-formed reply, quoted in error messages."""

_OPENING = re.compile(r"@(\w*)\[")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_QUOTES = {'"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019"}


@dataclass(frozen=True)
class ParsedAnswers:
    """The parts read from a reply, and what was wrong with the rest of it."""

    values: dict[str, str]
    """Each part's value by name, stripped; where a name repeats, the last value wins."""
    errors: tuple[str, ...] = ()
    """One sentence per problem, each saying how to fix it; empty when the reply is clean."""

    @property
    def ok(self) -> bool:
        """Whether the reply held at least one part and nothing malformed."""
        return not self.errors


def parse_answers(text: str) -> ParsedAnswers:
    """Read every ``@name[value]`` part of a reply.

    Names are letters, digits and ``_`` in any order (``mean_age``, ``2nd_max``), as in DABench;
    values run to the next ``]`` and may hold commas and spaces but no brackets. Malformed parts
    are reported in ``errors`` and left out of ``values``; well-formed ones around them are still
    read.

    Example:
        >>> parse_answers("The mean is @mean_age[38.5], rows: @n_rows[ 120 ]").values
        {'mean_age': '38.5', 'n_rows': '120'}
        >>> parse_answers("38.5").errors[0][:30]
        'no @name[value] parts found; a'
    """
    values: dict[str, str] = {}
    errors: list[str] = []
    position = 0
    while match := _OPENING.search(text, position):
        name, start = match.group(1), match.end()
        close = text.find("]", start)
        if close < 0:
            errors.append(f"@{name}[ is never closed: end the value with ']'")
            break
        position = close + 1
        inner = text.find("[", start, close)
        if inner >= 0:
            errors.append(
                f"@{name}[{text[start : close + 1]} holds a '[': nested brackets are not allowed;"
                f" write a list as @{name or 'name'}[a, b, c]"
            )
            continue
        value = text[start:close].strip()
        if not name:
            errors.append(f"@[{value}] has no name: write @name[{value}]")
        elif not value:
            errors.append(f"@{name}[] is empty: put the value between the brackets")
        else:
            values[name] = value  # a repeated name: the last occurrence wins
    if not values and not errors:
        errors.append(f"no @name[value] parts found; answer like {EXAMPLE}")
    return ParsedAnswers(values=values, errors=tuple(errors))


def normalize_value(value: str) -> str:
    """Strip, drop one pair of matching quotes, fold case and collapse whitespace.

    Example:
        >>> normalize_value("  'New   York' ")
        'new york'
    """
    text = value.strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1]
    return " ".join(text.casefold().split())


def parse_number(value: str, *, grouped: bool = False) -> Decimal | None:
    """The number a value spells, exactly, or None; ``grouped`` also reads ``1,234,567.5``.

    None too for a number whose magnitude passes ``10**MAX_EXPONENT`` (either way), so any
    two numbers read here can be subtracted without overflow.

    Example:
        >>> parse_number("-2.5e1"), parse_number("1,234"), parse_number("1,234", grouped=True)
        (Decimal('-25'), None, Decimal('1234'))
    """
    text = value.strip().replace("\u2212", "-")
    if grouped and _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        return None
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):  # an exponent past what Decimal can hold
        return None
    if not number:
        return Decimal(0)  # 0e99999999 too: its exponent must not reach the arithmetic
    return number if abs(number.adjusted()) <= MAX_EXPONENT else None


def _item_matches(given: str, expected: str, tolerance: float, *, grouped: bool) -> bool:
    if normalize_value(given) == normalize_value(expected):
        return True
    want = parse_number(expected)
    got = parse_number(given, grouped=grouped)
    return want is not None and got is not None and abs(got - want) <= Decimal(repr(tolerance))


def value_matches(given: str, expected: str, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Whether a given value matches an expected one by the rules in the module docstring.

    Example:
        >>> value_matches("1,204", "1204"), value_matches("a,b", "a, b"), value_matches("3.1", "3")
        (True, True, False)
    """
    if "," in expected and parse_number(expected) is None:
        wanted, got = expected.split(","), given.split(",")
        return len(wanted) == len(got) and all(
            _item_matches(g, w, tolerance, grouped=False) for g, w in zip(got, wanted, strict=True)
        )
    return _item_matches(given, expected, tolerance, grouped=True)


def format_expected(value: str | float | int | bool) -> str:
    """An expected value as answer text: ``True``/``False`` for booleans, ``repr`` for floats."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    return repr(value) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class PartGrade:
    """How one named part was graded."""

    name: str
    expected: str
    given: str | None
    """The reply's value, or None where the reply did not give this part."""
    tolerance: float
    correct: bool


@dataclass(frozen=True)
class Grade:
    """A reply graded against every expected part, in the expected parts' order."""

    parts: tuple[PartGrade, ...]
    extra: tuple[str, ...] = ()
    """Names the reply gave that the task does not ask for (ignored, as DABench does)."""

    @property
    def n_correct(self) -> int:
        """How many parts are right."""
        return sum(part.correct for part in self.parts)

    @property
    def correct(self) -> bool:
        """Every part is right: the question counts for DABench's ABQ."""
        return self.n_correct == len(self.parts)

    @property
    def fraction(self) -> float:
        """The share of parts that are right: this question's term in DABench's PSAQ."""
        return self.n_correct / len(self.parts)

    @property
    def missing(self) -> tuple[str, ...]:
        """Expected names the reply did not give."""
        return tuple(part.name for part in self.parts if part.given is None)


def grade(
    given: Mapping[str, str],
    expected: Mapping[str, str | float | int | bool],
    tolerance: float | Mapping[str, float] = DEFAULT_TOLERANCE,
) -> Grade:
    """Grade a reply's parts (from :func:`parse_answers`) against the expected ones.

    Args:
        given: The reply's values by name.
        expected: The right values by name; numbers and booleans are compared as their text.
        tolerance: The absolute tolerance for numbers: one for every part, or one per part name
            (parts it does not name get :data:`DEFAULT_TOLERANCE`).

    Returns:
        Each expected part graded; names not expected are listed in ``extra``.

    Raises:
        ValueError: Nothing is expected, or a tolerance is negative.

    Example:
        >>> result = grade({"slope": "1.52", "n": "12"}, {"slope": "1.5", "n": 12}, 0.05)
        >>> result.correct, result.fraction
        (True, 1.0)
    """
    if not expected:
        raise ValueError("expected holds no parts: a task must ask for at least one @name[value]")
    tolerances = tolerance if isinstance(tolerance, Mapping) else {}
    default = DEFAULT_TOLERANCE if isinstance(tolerance, Mapping) else tolerance
    parts = []
    for name, value in expected.items():
        allowed = tolerances.get(name, default)
        if allowed < 0:
            raise ValueError(f"tolerance for {name!r} is {allowed}; use a number >= 0")
        want, got = format_expected(value), given.get(name)
        correct = got is not None and value_matches(got, want, allowed)
        parts.append(PartGrade(name, want, got, allowed, correct))
    extra = tuple(name for name in given if name not in expected)
    return Grade(parts=tuple(parts), extra=extra)


@dataclass(frozen=True)
class DABenchMetrics:
    """DABench's three accuracies over a set of graded questions (Hu et al., 2024, sec. 3)."""

    abq: float
    """Accuracy by questions: the share of questions with every part right."""
    psaq: float
    """Proportional accuracy by sub-questions: the mean over questions of the share of parts
    right, so every question weighs the same."""
    uasq: float
    """Uniform accuracy by sub-questions: parts right over all parts, so every part weighs the
    same."""
    questions: int


def dabench_metrics(grades: Sequence[Grade]) -> DABenchMetrics:
    """ABQ, PSAQ and UASQ over graded questions.

    Raises:
        ValueError: ``grades`` is empty.
    """
    if not grades:
        raise ValueError("no grades to summarise: grade at least one question")
    n = len(grades)
    return DABenchMetrics(
        abq=sum(g.correct for g in grades) / n,
        psaq=sum(g.fraction for g in grades) / n,
        uasq=sum(g.n_correct for g in grades) / sum(len(g.parts) for g in grades),
        questions=n,
    )
