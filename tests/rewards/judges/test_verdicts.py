import pytest

from prmgym.rewards.judges.verdicts import parse_verdicts, verdict_value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("yes", 1.0),
        ("No.", 0.0),
        (" TRUE ", 1.0),
        (True, 1.0),
        (0.25, 0.25),
        ("0.7", 0.7),
        ("maybe", None),
        (7, None),
        (None, None),
    ],
)
def test_verdict_value(raw, value):
    assert verdict_value(raw) == value


def test_json_object_is_read_by_question_number():
    text = 'Sure. {"1": "yes", "2": "no", "3": 0.5, "9": "yes"}'
    assert parse_verdicts(text, 3) == [1.0, 0.0, 0.5]


def test_tags_fill_what_json_missed():
    text = '{"1": "no"} <verdict id="2">yes</verdict>'
    assert parse_verdicts(text, 3) == [0.0, 1.0, None]


def test_single_question_accepts_a_bare_word_or_tag():
    assert parse_verdicts("Yes, the query is targeted.", 1) == [1.0]
    assert parse_verdicts("<verdict>no</verdict>", 1) == [0.0]
    assert parse_verdicts("I cannot tell.", 1) == [None]


def test_broken_json_is_skipped_not_fatal():
    assert parse_verdicts('{"1": yes} then {"1": "no"}', 1) == [0.0]
