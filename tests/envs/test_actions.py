import warnings

import pytest

from prmgym.envs.actions import ActionError, ToolCall, parse_tool_call


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('search("heapq merge", k=3)', ToolCall("search", ("heapq merge",), {"k": 3})),
        ("open('json.dumps')", ToolCall("open", ("json.dumps",))),
        ('  answer("a, b")  ', ToolCall("answer", ("a, b",))),
        ("search(heapq merge)", ToolCall("search", ("heapq merge",))),
        ("answer(it's dict)", ToolCall("answer", ("it's dict",))),
        ("noop()", ToolCall("noop")),
    ],
)
def test_parses_calls(text, expected):
    assert parse_tool_call(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "hello world", "search", "__import__('os').system('x')", "x = 1", "a.b('c')"],
)
def test_rejects_non_calls_with_a_hint(text):
    with pytest.raises(ActionError, match="call"):
        parse_tool_call(text)


def test_arguments_must_be_literals_so_nothing_is_executed():
    with pytest.raises(ActionError, match="literals"):
        parse_tool_call("search(open('/etc/passwd').read())")


# Deep nesting: CPython's parser recursed (RecursionError) or ran out of its stack (MemoryError).
DEEP = [
    "search(" + "-" * 3000 + "1)",
    "search(" + "not " * 3000 + "1)",
    "search(" + "1+" * 3000 + "1)",
    "search(" + "a." * 3000 + "a)",
    "search(" + "lambda: " * 3000 + "0)",
    "search(" + "2**" * 3000 + "2)",
    "search(x" + "[0]" * 3000 + ")",
    "search(f'{" + "~" * 3000 + "1}')",
    "-" * 5000 + "search('x')",
]


@pytest.mark.parametrize("text", DEEP, ids=lambda text: text[:12])
def test_deep_nesting_is_a_parse_result_not_a_crash(text):
    try:
        call = parse_tool_call(text)
    except ActionError:
        return
    assert isinstance(call, ToolCall)
    assert all(isinstance(arg, str) for arg in call.args)  # taken as text, like other non-Python


def test_honest_nesting_still_parses_as_literals():
    nested = "[" * 30 + "1" + "]" * 30
    call = parse_tool_call(f"search({nested}, k=-3)")
    value = call.args[0]
    for _ in range(29):
        (value,) = value
    assert value == [1] and call.kwargs == {"k": -3}


def test_a_nul_character_is_an_action_error():
    with pytest.raises(ActionError, match="NUL"):
        parse_tool_call("noop('a\x00b')")
    assert parse_tool_call("noop('a\\x00b')") == ToolCall("noop", ("a\x00b",))  # escaped: text


def test_invalid_escapes_parse_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert parse_tool_call(r'search("\d+ \w")') == ToolCall("search", (r"\d+ \w",))
    assert not caught
