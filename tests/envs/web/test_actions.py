"""Web actions' arguments are checked before Playwright sees them: wrong types are action errors."""

import pytest

from prmgym.envs.actions import ActionError, parse_tool_call
from prmgym.envs.web.actions import bind_call

# Each raised TypeError, ValueError or OverflowError inside the browser step before the checks.
WRONG = [
    ('select_option("1", 5)', "label or a list of labels"),
    ('select_option("1", [1, 2])', "label or a list of labels"),
    ('select_option("1", [])', "label or a list of labels"),
    ('scroll("a", "b")', "finite number"),
    ("scroll(1e99999, 0)", "finite number"),
    ("scroll(0, " + "9" * 400 + ")", "finite number"),
    ("scroll(0, 1e9)", "at most"),
    ("scroll(True, 0)", "finite number"),
    ('noop("a\\x00b")', "finite number"),
    ("noop(None)", "finite number"),
    ('fill("1", None)', "must be text"),
    ('fill("1", "\\ud800")', "unpaired surrogate"),
    ('press("1", 13)', "must be text"),
    ("goto(['/'])", "must be text"),
    ("send_msg_to_user(3)", "must be text"),
    ('click("1", button=["left"])', "button must be one of"),
    ("click(None)", "not an element id"),
]


@pytest.mark.parametrize(("action", "message"), WRONG)
def test_wrong_argument_types_are_action_errors(action, message):
    with pytest.raises(ActionError, match=message):
        bind_call(parse_tool_call(action))


def test_right_arguments_are_normalised_for_the_browser():
    assert bind_call(parse_tool_call('select_option("7", "Blue")')) == {
        "bid": "7",
        "options": ["Blue"],
    }
    assert bind_call(parse_tool_call("scroll(0, 400)")) == {"delta_x": 0.0, "delta_y": 400.0}
    assert bind_call(parse_tool_call("noop(99999)"))["wait_ms"] == 10_000  # capped
    assert bind_call(parse_tool_call("noop(-5)"))["wait_ms"] == 0.0
    assert bind_call(parse_tool_call("click(12)"))["bid"] == "12"
