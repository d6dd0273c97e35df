import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prmgym.envs.data.answers import (
    DEFAULT_TOLERANCE,
    EXAMPLE,
    Grade,
    dabench_metrics,
    format_expected,
    grade,
    parse_answers,
    value_matches,
)


def test_parse_reads_every_part_and_strips_values():
    parsed = parse_answers("Done. @mean_age[ 38.5 ] and @n_rows[120]; @top[a, b, c]")
    assert parsed.values == {"mean_age": "38.5", "n_rows": "120", "top": "a, b, c"}
    assert parsed.ok and parsed.errors == ()


def test_parse_last_occurrence_of_a_name_wins():
    assert parse_answers("@x[1] draft ... final: @x[2]").values == {"x": "2"}


def test_parse_accepts_dabench_names_that_start_with_a_digit():
    assert parse_answers("@2nd_max[7]").values == {"2nd_max": "7"}


def test_parse_ignores_at_signs_that_open_no_part():
    assert parse_answers("mail me@example.com; @mean[2]").values == {"mean": "2"}


def test_parse_without_parts_says_how_to_answer():
    parsed = parse_answers("The mean age is 38.5")
    assert parsed.values == {}
    assert len(parsed.errors) == 1
    assert "no @name[value] parts found" in parsed.errors[0] and EXAMPLE in parsed.errors[0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("@a[x[1]]", "nested brackets are not allowed"),
        ("@a[1", "never closed"),
        ("@[3]", "has no name: write @name[3]"),
        ("@a[   ]", "is empty"),
    ],
)
def test_parse_reports_malformed_parts(text, fragment):
    parsed = parse_answers(text)
    assert not parsed.ok
    assert any(fragment in error for error in parsed.errors), parsed.errors
    assert parsed.values == {}


def test_parse_keeps_good_parts_around_a_malformed_one():
    parsed = parse_answers("@a[1] @b[x[2]] @c[3]")
    assert parsed.values == {"a": "1", "c": "3"}
    assert len(parsed.errors) == 1 and "@b[" in parsed.errors[0]


names = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=12)
values = (
    st.text(st.characters(blacklist_characters="[]", blacklist_categories=("Cs",)), min_size=1)
    .map(str.strip)
    .filter(bool)
)


@given(st.dictionaries(names, values, min_size=1, max_size=5), st.sampled_from([" ", "\n", ", "]))
def test_parse_round_trips_rendered_answers(answers, separator):
    text = separator.join(f"@{name}[{value}]" for name, value in answers.items())
    parsed = parse_answers(text)
    assert parsed.values == answers
    assert parsed.ok


@pytest.mark.parametrize(
    ("given_value", "expected", "tolerance", "correct"),
    [
        ("Adelie", "Adelie", 0.0, True),
        (" adelie ", "Adelie", 0.0, True),
        ("'Adelie'", "Adelie", 0.0, True),
        ("New   York", "new york", 0.0, True),
        ("Gentoo", "Adelie", 0.0, False),
        ("true", "True", 0.0, True),
        ("FALSE", "False", 0.0, True),
        ("1", "True", 0.0, False),
        ("3.50", "3.5", 0.0, True),
        ("3.51", "3.5", 0.01, True),
        ("3.52", "3.5", 0.01, False),
        ("4201.74", "4201.75", 0.01, True),  # exactly one unit: decimals, not binary floats
        ("\u22122.5", "-2.5", 0.0, True),
        ("1e3", "1000", 0.0, True),
        ("1,204", "1204", 0.0, True),
        ("1,20,4", "1204", 0.0, False),
        ("34.65", "34.65", DEFAULT_TOLERANCE, True),
        ("34.650001", "34.65", DEFAULT_TOLERANCE, True),
        ("34.66", "34.65", DEFAULT_TOLERANCE, False),
        ("a,b, c", "a, b, c", 0.0, True),
        ("1.0, 2", "1, 2.0", 0.0, True),
        ("1, 2", "1, 2, 3", 0.0, False),
        ("1234", "1,234", 0.0, False),  # an expected value with a comma is a list
        ("2014-08-11", "2014-08-11", 0.0, True),
        ("2014-8-11", "2014-08-11", 0.0, False),
        ("nan", "nan", 0.0, True),
        ("", "0", 1.0, False),
    ],
)
def test_value_matches(given_value, expected, tolerance, correct):
    assert value_matches(given_value, expected, tolerance) is correct


def test_format_expected_spells_values_as_answer_text():
    assert [format_expected(v) for v in (True, False, 3, 0.1, "x")] == [
        "True",
        "False",
        "3",
        "0.1",
        "x",
    ]


def test_grade_scores_each_part_and_reports_missing_and_extra():
    result = grade(
        {"slope": "1.52", "species": "gentoo", "note": "hi"},
        {"slope": 1.5, "species": "Gentoo", "n": 12},
        tolerance=0.05,
    )
    assert [part.correct for part in result.parts] == [True, True, False]
    assert result.missing == ("n",) and result.extra == ("note",)
    assert result.n_correct == 2 and not result.correct
    assert result.fraction == pytest.approx(2 / 3)


def test_grade_takes_a_tolerance_per_part_and_the_default_for_the_rest():
    result = grade({"a": "1.04", "b": "1.04"}, {"a": "1", "b": "1"}, {"a": 0.05})
    assert [part.correct for part in result.parts] == [True, False]
    assert [part.tolerance for part in result.parts] == [0.05, DEFAULT_TOLERANCE]


def test_grade_with_every_part_right_is_correct():
    result = grade({"x": "2"}, {"x": 2})
    assert result.correct and result.fraction == 1.0


@pytest.mark.parametrize(
    ("expected", "tolerance", "message"),
    [({}, 0.0, "at least one"), ({"x": "1"}, -1.0, ">= 0"), ({"x": "1"}, {"x": -0.1}, ">= 0")],
)
def test_grade_rejects_bad_arguments(expected, tolerance, message):
    with pytest.raises(ValueError, match=message):
        grade({"x": "1"}, expected, tolerance)


def test_dabench_metrics_against_a_hand_computed_example():
    grades = [
        grade({"a": "1", "b": "2"}, {"a": "1", "b": "2"}),
        grade({"a": "1", "b": "0", "c": "0"}, {"a": "1", "b": "2", "c": "3"}),
        grade({}, {"a": "1"}),
    ]
    metrics = dabench_metrics(grades)
    assert metrics.abq == pytest.approx(1 / 3)
    assert metrics.psaq == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert metrics.uasq == pytest.approx(3 / 6)
    assert metrics.questions == 3


def test_dabench_metrics_needs_grades():
    empty: list[Grade] = []
    with pytest.raises(ValueError, match="at least one"):
        dabench_metrics(empty)


@pytest.mark.parametrize(
    "given",
    [
        "1e99999999",  # overflowed the decimal subtraction (decimal.Overflow)
        "-1e99999999",
        "1e-99999999",
        "1e" + "9" * 5000,  # past what Decimal can hold (decimal.InvalidOperation)
        "0e99999999",
        "9" * 7000,
        "nan",
        "-inf",
        "Infinity",
    ],
)
def test_huge_or_non_finite_numbers_are_wrong_answers_not_crashes(given):
    assert not value_matches(given, "4.2", 0.5)
    assert not grade({"x": given}, {"x": 4.2}, 0.5).correct
    assert value_matches(given, given)  # equal texts still match


@given(st.text(alphabet="0123456789eE+-.,", max_size=60), st.text("0123456789.-e", max_size=12))
def test_any_numeric_looking_text_grades_without_raising(given, expected):
    assert isinstance(value_matches(given, expected or "0", 1e-6), bool)
