"""Oracle plans: the steps that solve a web task, naming elements as the page's tree shows them.

A step names its element by accessibility ``role`` and ``name`` (``link 'Blue Ceramic Mug'``,
``textbox 'Quantity'``, ``button 'Add to cart'``, ``combobox 'Shipping'``), never by an id:
ids change from page to page, role and name do not. The web environment's oracle looks the
pair up in the live page's accessibility tree and sends the BrowserGym action with the
element's id. The sites keep every name that a plan uses unique on its page.

=======================  =================================  ==================================
action                   fields                             BrowserGym action
=======================  =================================  ==================================
``click``                role, name                         ``click(bid)``
``fill``                 role, name, value (the text)       ``fill(bid, value)``
``select_option``        role, name, value (option label)   ``select_option(bid, value)``
``check``, ``uncheck``   role, name                         ``check(bid)``, ``uncheck(bid)``
``press``                role, name, value (key: "Enter")   ``press(bid, value)``
``goto``                 path (from the site's root)        ``goto(site url + path)``
``send_msg_to_user``     value (the message)                ``send_msg_to_user(value)``
=======================  =================================  ==================================

Roles are Chromium's: ``link``, ``button``, ``textbox`` (text inputs and textareas),
``searchbox`` (``input type=search``), ``combobox`` (selects), ``checkbox``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal[
    "click", "fill", "select_option", "check", "uncheck", "press", "goto", "send_msg_to_user"
]
_ON_ELEMENT = {"click", "fill", "select_option", "check", "uncheck", "press"}
_WITH_VALUE = {"fill", "select_option", "press", "send_msg_to_user"}


class OracleStep(BaseModel):
    """One step of an oracle plan (see the module docs for which fields each action uses)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    role: str | None = None
    """The element's accessibility role, for actions on an element."""
    name: str | None = None
    """The element's accessible name, exactly as the accessibility tree prints it."""
    value: str | None = None
    """Text to fill, option label to select, key to press, or the message to send."""
    path: str | None = Field(default=None, pattern=r"^/")
    """For ``goto``: the path from the task's site root, e.g. ``/cart``."""

    @model_validator(mode="after")
    def _fields_fit_action(self) -> OracleStep:
        if self.action in _ON_ELEMENT:
            if self.role is None or self.name is None:
                raise ValueError(f"a {self.action} step needs role and name")
        elif self.role is not None or self.name is not None:
            raise ValueError(f"a {self.action} step takes no role or name")
        if (self.action in _WITH_VALUE) != (self.value is not None):
            need = "needs a value" if self.action in _WITH_VALUE else "takes no value"
            raise ValueError(f"a {self.action} step {need}")
        if (self.action == "goto") != (self.path is not None):
            need = "needs a path" if self.action == "goto" else "takes no path"
            raise ValueError(f"a {self.action} step {need}")
        return self

    def describe(self) -> str:
        """The step in words: ``click link 'Cart'``, ``goto /orders``."""
        if self.action == "goto":
            return f"goto {self.path}"
        if self.action == "send_msg_to_user":
            return f"send_msg_to_user {self.value!r}"
        value = f" {self.value!r}" if self.value is not None else ""
        return f"{self.action} {self.role} {self.name!r}{value}"


def click(role: str, name: str) -> OracleStep:
    """Click the element with this role and name."""
    return OracleStep(action="click", role=role, name=name)


def link(name: str) -> OracleStep:
    """Click the link named ``name``."""
    return click("link", name)


def button(name: str) -> OracleStep:
    """Click the button named ``name``."""
    return click("button", name)


def fill(name: str, value: str, role: str = "textbox") -> OracleStep:
    """Type ``value`` into the text field named ``name`` (replacing what it held)."""
    return OracleStep(action="fill", role=role, name=name, value=value)


def select(name: str, option: str) -> OracleStep:
    """Choose the option labelled ``option`` in the select named ``name``."""
    return OracleStep(action="select_option", role="combobox", name=name, value=option)


def check(name: str) -> OracleStep:
    """Tick the checkbox named ``name`` (a no-op if it is ticked)."""
    return OracleStep(action="check", role="checkbox", name=name)


def uncheck(name: str) -> OracleStep:
    """Clear the checkbox named ``name`` (a no-op if it is clear)."""
    return OracleStep(action="uncheck", role="checkbox", name=name)


def press(name: str, key: str = "Enter", role: str = "textbox") -> OracleStep:
    """Press ``key`` in the field named ``name`` (Enter submits its form)."""
    return OracleStep(action="press", role=role, name=name, value=key)


def goto(path: str) -> OracleStep:
    """Load ``path`` of the task's site, as a person typing the address would."""
    return OracleStep(action="goto", path=path)


def say(text: str) -> OracleStep:
    """Send ``text`` to the user: the answer of an information-seeking task."""
    return OracleStep(action="send_msg_to_user", value=text)
