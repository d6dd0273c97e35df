"""BrowserGym's action strings, parsed safely and carried out with Playwright.

The actions (BrowserGym's high-level ``bid`` set, so agents written for it carry over)::

    click(bid, button="left")       dblclick(bid)        hover(bid)
    fill(bid, value)                clear(bid)           select_option(bid, options)
    check(bid)                      uncheck(bid)         focus(bid)
    press(bid, key_comb)            scroll(delta_x, delta_y)
    goto(url)                       go_back()            go_forward()
    noop(wait_ms=1000)              send_msg_to_user(text)

An action is parsed by :func:`prmgym.envs.actions.parse_tool_call` (literal arguments only):
agent text is never run as code, unlike BrowserGym's own ``exec``-based executor. Element ids
are checked before they reach a CSS selector.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import TYPE_CHECKING, Any

from prmgym.envs.actions import ActionError, ToolCall, bind_arguments, utf8_encodable

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

ACTION_TIMEOUT_MS = 5000
"""How long an action waits for its element to be actionable."""
_BID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_BUTTONS = ("left", "middle", "right")


def _click(bid: str, button: str = "left") -> None: ...
def _dblclick(bid: str) -> None: ...
def _hover(bid: str) -> None: ...
def _fill(bid: str, value: str) -> None: ...
def _clear(bid: str) -> None: ...
def _select_option(bid: str, options: str | list[str]) -> None: ...
def _check(bid: str) -> None: ...
def _uncheck(bid: str) -> None: ...
def _focus(bid: str) -> None: ...
def _press(bid: str, key_comb: str) -> None: ...
def _scroll(delta_x: float, delta_y: float) -> None: ...
def _goto(url: str) -> None: ...
def _go_back() -> None: ...
def _go_forward() -> None: ...
def _noop(wait_ms: float = 1000) -> None: ...
def _send_msg_to_user(text: str) -> None: ...


SIGNATURES = {
    function.__name__.removeprefix("_"): inspect.signature(function)
    for function in (
        _click, _dblclick, _hover, _fill, _clear, _select_option, _check, _uncheck, _focus,
        _press, _scroll, _goto, _go_back, _go_forward, _noop, _send_msg_to_user,
    )
}  # fmt: skip
"""Every action's parameters, for binding and for the help text."""

TOOLS_HELP = """Actions (one per turn; [12] in the tree is element "12"):
  click("12")   fill("12", "text")   select_option("12", "Option label")   press("12", "Enter")
  check("12")   uncheck("12")   hover("12")   clear("12")   dblclick("12")   focus("12")
  scroll(0, 400)   goto("url")   go_back()   go_forward()   noop()
  send_msg_to_user("text")   reply to the user (an answer, or saying you are done)"""


_TEXT_EXAMPLES = {
    "value": 'fill("12", "text")',
    "key_comb": 'press("12", "Enter")',
    "url": 'goto("/cart")',
    "text": 'send_msg_to_user("done")',
}
_MAX_SCROLL = 100_000
"""Pixels one scroll may move; more is refused (Chromium's wheel takes finite distances)."""
_MAX_WAIT_MS = 10_000
"""The longest noop wait; longer ones wait this long."""


def bind_call(call: ToolCall) -> dict[str, Any]:
    """Bind a parsed action to its parameters (defaults applied) and check their types.

    Raises:
        ActionError: Unknown action, wrong arguments or wrong types; the message shows the
            right form.
    """
    arguments = bind_arguments(call, SIGNATURES)
    name = call.name
    if "bid" in arguments:
        bid = arguments["bid"]
        if isinstance(bid, int) and not isinstance(bid, bool):
            arguments["bid"] = bid = str(bid)
        if not isinstance(bid, str) or not _BID.match(bid):
            raise ActionError(
                f'{_show(bid)} is not an element id; use the number in brackets, e.g. click("12")'
            )
    for parameter, example in _TEXT_EXAMPLES.items():
        if parameter in arguments:
            _check_text(name, parameter, arguments[parameter], example)
    if name == "click" and (
        not isinstance(arguments["button"], str) or arguments["button"] not in _BUTTONS
    ):
        raise ActionError(f'button must be one of {", ".join(_BUTTONS)}, e.g. click("12")')
    if name == "select_option":
        arguments["options"] = _option_labels(arguments["options"])
    if name == "scroll":
        for axis in ("delta_x", "delta_y"):
            arguments[axis] = _number(name, axis, arguments[axis], "scroll(0, 400)")
            if abs(arguments[axis]) > _MAX_SCROLL:
                raise ActionError(f"scroll by at most {_MAX_SCROLL} pixels, e.g. scroll(0, 400)")
    if name == "noop":
        wait_ms = _number(name, "wait_ms", arguments["wait_ms"], "noop(500)")
        arguments["wait_ms"] = min(max(wait_ms, 0.0), _MAX_WAIT_MS)
    return arguments


def _show(value: Any) -> str:
    """A short, printable rendering of an argument for an error message."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**50 else "a huge number"
    return text if len(text) <= 60 else text[:57] + "..."


def _check_text(name: str, parameter: str, value: Any, example: str) -> None:
    if not isinstance(value, str):
        raise ActionError(f"{name}'s {parameter} must be text, got {_show(value)}; e.g. {example}")
    _check_encodable(name, parameter, value, example)


def _check_encodable(name: str, parameter: str, value: str, example: str) -> None:
    # The browser takes UTF-8; a lone surrogate cannot be sent, a NUL ends strings in C.
    if "\x00" in value or not utf8_encodable(value):
        raise ActionError(
            f"{name}'s {parameter} holds a NUL or an unpaired surrogate; e.g. {example}"
        )


def _option_labels(options: Any) -> list[str]:
    """``select_option``'s options as a list of labels: one text, or a non-empty list of them."""
    labels = [options] if isinstance(options, str) else options
    if (
        not isinstance(labels, list | tuple)
        or not labels
        or not all(isinstance(label, str) for label in labels)
    ):
        raise ActionError(
            f"select_option takes an option's label or a list of labels, got {_show(options)};"
            ' e.g. select_option("12", "Blue")'
        )
    for label in labels:
        _check_encodable("select_option", "options", label, 'select_option("12", "Blue")')
    return list(labels)


def _number(name: str, parameter: str, value: Any, example: str) -> float:
    """A finite number, or an ActionError saying what to write."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    raise ActionError(
        f"{name}'s {parameter} must be a finite number, got {_show(value)}; e.g. {example}"
    )


async def perform(page: Page, call: ToolCall, arguments: dict[str, Any], base_url: str) -> None:
    """Carry out a bound action on ``page``; ``goto`` resolves relative URLs on ``base_url``.

    Raises:
        ActionError: The element is missing, hidden or disabled, or the action failed; the
            message says which, in words an agent can act on.
    """
    from playwright.async_api import Error as PlaywrightError

    name = call.name
    try:
        if "bid" in arguments:
            await _on_element(page, name, _element(page, arguments["bid"]), arguments)
        elif name == "scroll":
            await page.mouse.wheel(arguments["delta_x"], arguments["delta_y"])
        elif name == "goto":
            await page.goto(_absolute(arguments["url"], base_url), wait_until="domcontentloaded")
        elif name == "go_back":
            await page.go_back(wait_until="domcontentloaded")
        elif name == "go_forward":
            await page.go_forward(wait_until="domcontentloaded")
        elif name == "noop":
            await page.wait_for_timeout(arguments["wait_ms"])
    except PlaywrightError as exc:
        raise ActionError(_explain(name, arguments, exc)) from None


def _element(page: Page, bid: str) -> Locator:
    return page.locator(f'[bid="{bid}"]')


async def _on_element(page: Page, name: str, element: Locator, arguments: dict[str, Any]) -> None:
    if await element.count() == 0:
        raise ActionError(
            f"no element [{arguments['bid']}] on this page; use an id from the current tree"
        )
    options = {"timeout": ACTION_TIMEOUT_MS}
    if name == "click":
        await element.click(button=arguments["button"], **options)
    elif name == "dblclick":
        await element.dblclick(**options)
    elif name == "hover":
        await element.hover(**options)
    elif name == "fill":
        await element.fill(arguments["value"], **options)
    elif name == "clear":
        await element.clear(**options)
    elif name == "select_option":
        await element.select_option(label=arguments["options"], **options)
    elif name == "check":
        await element.check(**options)
    elif name == "uncheck":
        await element.uncheck(**options)
    elif name == "focus":
        await element.focus(**options)
    elif name == "press":
        await element.press(arguments["key_comb"], **options)


def _absolute(url: Any, base_url: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ActionError('goto needs a URL, e.g. goto("/cart")')
    from urllib.parse import urljoin

    try:
        return urljoin(base_url, url.strip())
    except ValueError as exc:  # e.g. "http://[::1": an unclosed IPv6 host
        raise ActionError(f'{_show(url)} is not a URL ({exc}); e.g. goto("/cart")') from None


def _explain(name: str, arguments: dict[str, Any], exc: Exception) -> str:
    """A Playwright error in a sentence an agent can act on (its first line, trimmed)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    target = f" [{arguments['bid']}]" if "bid" in arguments else ""
    if "Timeout" in first:
        return (
            f"{name}{target} timed out: the element is hidden, disabled or covered, or does"
            " not take this action (e.g. fill needs a text field, select_option a list)"
        )
    return f"{name}{target} failed: {first[:300]}"
