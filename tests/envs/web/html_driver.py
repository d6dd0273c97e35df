"""A browser stand-in for tests: carries out oracle steps over HTTP by reading each page's HTML.

It finds an element by role and accessible name the way Chromium names these sites' plain
markup (link and button text, ``<label for>`` text, ``aria-label``), insists that exactly one
element matches, keeps form fields' values as a page does, and submits forms the way HTML
does (successful controls in document order; Enter in a text field submits its form). So a
plan that runs here names elements that exist, are unique and are wired to the right forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import httpx

from prmgym.envs.web.plans import OracleStep

_TEXT_INPUTS = {"text", "email", "tel", "url", "password"}


@dataclass
class Option:
    attribute: str | None
    """The value attribute; without one, the label is submitted."""
    label: str = ""
    selected: bool = False

    @property
    def value(self) -> str:
        return self.label if self.attribute is None else self.attribute


@dataclass
class Control:
    """A link, button, input, textarea or select, and the form it belongs to."""

    tag: str
    attrs: dict[str, str]
    form: int | None
    text: str = ""
    value: str = ""
    checked: bool = False
    options: list[Option] = field(default_factory=list)
    name: str = ""

    @property
    def type(self) -> str:
        return self.attrs.get("type", "submit" if self.tag == "button" else "text").lower()

    @property
    def role(self) -> str | None:
        if self.tag == "a":
            return "link" if "href" in self.attrs else None
        if self.tag == "button":
            return "button"
        if self.tag == "textarea":
            return "textbox"
        if self.tag == "select":
            return "combobox"
        kind = self.type
        if kind in _TEXT_INPUTS:
            return "textbox"
        return {"search": "searchbox", "checkbox": "checkbox", "submit": "button"}.get(kind)

    @property
    def disabled(self) -> bool:
        return "disabled" in self.attrs

    def selected_value(self) -> str:
        chosen = [o for o in self.options if o.selected] or self.options[:1]
        return chosen[0].value if chosen else ""


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[Control] = []
        self.forms: list[dict[str, str]] = []
        self.labels: dict[str, str] = {}
        self._form: int | None = None
        self._open: list[tuple[str, Control | list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append(values)
            self._form = len(self.forms) - 1
        elif tag in ("a", "button", "input", "textarea", "select"):
            control = Control(tag, values, self._form, value=values.get("value", ""))
            control.checked = "checked" in values
            self.controls.append(control)
            if tag != "input":
                self._open.append((tag, control))
        elif tag == "option":
            select = next(c for t, c in reversed(self._open) if t == "select")
            assert isinstance(select, Control)
            select.options.append(Option(values.get("value"), selected="selected" in values))
            self._open.append(("option", select))
        elif tag == "label":
            self._open.append(("label", [values.get("for", "")]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                _, item = self._open.pop(index)
                if tag == "label" and isinstance(item, list):
                    self.labels[item[0]] = _collapse("".join(item[1:]))
                elif tag == "textarea" and isinstance(item, Control):
                    item.value = item.text
                elif tag == "option" and isinstance(item, Control):
                    item.options[-1].label = _collapse(item.options[-1].label)
                break

    def handle_data(self, data: str) -> None:
        for tag, item in self._open:
            if isinstance(item, list):
                item.append(data)
            elif tag == "option":
                item.options[-1].label += data
            elif tag in ("a", "button", "textarea"):
                item.text += data


def _collapse(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Page:
    url: str
    status: int
    html: str
    controls: list[Control]
    forms: list[dict[str, str]]

    @classmethod
    def parse(cls, url: str, status: int, html: str) -> Page:
        parser = _PageParser()
        parser.feed(html)
        for control in parser.controls:
            label = control.attrs.get("aria-label")
            if label is None and control.tag in ("a", "button"):
                label = control.text
            if label is None and control.tag == "input" and control.type == "submit":
                label = control.value
            if label is None:
                label = parser.labels.get(control.attrs.get("id", ""), "")
            control.name = _collapse(label)
        return cls(url, status, html, parser.controls, parser.forms)

    def find(self, role: str, name: str) -> Control:
        found = [c for c in self.controls if c.role == role and c.name == name]
        if len(found) != 1:
            named = sorted({f"{c.role} {c.name!r}" for c in self.controls if c.role})
            raise AssertionError(
                f"{len(found)} elements are {role} {name!r} on {self.url}; the page has:\n  "
                + "\n  ".join(named)
            )
        return found[0]


class HtmlDriver:
    """Runs oracle steps against one site with a real HTTP client."""

    def __init__(self, client: httpx.Client, site_url: str) -> None:
        self.client = client
        self.site_url = site_url
        self.message: str | None = None
        self.page: Page | None = None

    @property
    def url(self) -> str:
        return self.page.url if self.page else ""

    def open(self, path: str) -> Page:
        return self._load(self.client.get(self.site_url + path))

    def run(self, step: OracleStep) -> None:
        if step.action == "goto":
            self.open(step.path or "/")
            return
        if step.action == "send_msg_to_user":
            self.message = step.value
            return
        assert self.page is not None, "no page is open"
        control = self.page.find(step.role or "", step.name or "")
        assert not control.disabled, f"{step.describe()}: the element is disabled"
        if step.action == "click":
            self._click(control)
        elif step.action == "fill":
            assert control.role in ("textbox", "searchbox"), f"cannot fill a {control.role}"
            control.value = step.value or ""
        elif step.action == "select_option":
            assert control.role == "combobox", f"cannot select in a {control.role}"
            matches = [o for o in control.options if step.value in (o.label, o.value)]
            assert len(matches) == 1, f"{step.describe()}: options are {control.options}"
            for option in control.options:
                option.selected = option is matches[0]
        elif step.action in ("check", "uncheck"):
            assert control.role == "checkbox", f"cannot {step.action} a {control.role}"
            control.checked = step.action == "check"
        elif step.action == "press":
            assert step.value == "Enter", "the driver only presses Enter"
            assert control.tag == "input" and control.form is not None, "Enter submits nothing"
            submitter = next(
                (c for c in self.page.controls if c.form == control.form and c.role == "button"),
                None,
            )
            self._submit(control.form, submitter)

    def _click(self, control: Control) -> None:
        assert self.page is not None
        if control.role == "link":
            self._load(self.client.get(urljoin(self.url, control.attrs["href"])))
        elif control.role == "checkbox":
            control.checked = not control.checked
        elif control.role == "button" and control.type == "submit":
            assert control.form is not None, f"button {control.name!r} is in no form"
            self._submit(control.form, control)
        else:
            raise AssertionError(f"clicking a {control.role} does nothing here")

    def _submit(self, form_index: int, submitter: Control | None) -> None:
        assert self.page is not None
        fields: list[tuple[str, str]] = []
        for control in self.page.controls:
            key = control.attrs.get("name")
            if control.form != form_index or not key or control.disabled:
                continue
            if control.role == "button":
                if control is submitter:
                    fields.append((key, control.value))
            elif control.tag == "input" and control.type == "checkbox":
                if control.checked:
                    fields.append((key, control.attrs.get("value", "on")))
            elif control.tag == "select":
                fields.append((key, control.selected_value()))
            elif control.tag in ("input", "textarea"):
                fields.append((key, control.value))
        form = self.page.forms[form_index]
        action = urljoin(self.url, form.get("action") or self.url)
        if form.get("method", "get").lower() == "post":
            body = urlencode(fields)
            headers = {"content-type": "application/x-www-form-urlencoded"}
            self._load(self.client.post(action, content=body, headers=headers))
        else:
            parts = urlsplit(action)
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(fields), ""))
            self._load(self.client.get(url))

    def _load(self, response: httpx.Response) -> Page:
        self.page = Page.parse(str(response.url), response.status_code, response.text)
        return self.page
