"""Checks of a web episode's progress: on the sites' server state, the URL and the answer.

A predicate is a small JSON-serialisable record (a pydantic model, told apart by ``kind``), so
tasks carry them in their task files. :func:`evaluate` decides one against a
:class:`PredicateContext`: the running :class:`~prmgym.envs.web.sites.server.SiteServer`
(read in-process under each site's lock, never through the browser), the page's URL and the
last message the agent sent to the user.

=================  ==========================================================================
``url_matches``    the page is on ``site`` and its path matches a regex (and query values)
``answer_matches`` the agent's last message is the expected answer (see :func:`same_answer`)
``cart_contains``  the shop's cart holds a product (with an exact quantity, if given)
``order_placed``   an order placed this episode has exactly these items (and shipping, ...)
``post_exists``    a forum thread has a post containing a text (by an author, if given)
``thread_exists``  a forum thread with this title exists (in a category, by an author, ...)
``user_exists``    the admin console has an account with this username
``user_has``       an account's field (role, team, email, full_name, active) has a value
``setting_is``     an admin setting has a value
``not``            the predicate inside does not hold
=================  ==========================================================================

Texts compare after collapsing whitespace and ignoring case, so ``"Express"`` matches
``"express "``; booleans and numbers compare exactly.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import override

from prmgym.envs.web.sites.admin_data import AdminData
from prmgym.envs.web.sites.forum_data import ForumData, Thread
from prmgym.envs.web.sites.server import SiteName, SiteServer
from prmgym.envs.web.sites.shop_data import Address, ShopData

UserField = Literal["full_name", "email", "role", "team", "active"]
SettingName = Literal[
    "site_name",
    "support_email",
    "time_zone",
    "session_timeout",
    "default_role",
    "allow_registration",
    "require_2fa",
    "maintenance_mode",
]
_ADDRESS_FIELDS = frozenset(Address.__dataclass_fields__)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}


@dataclass(frozen=True)
class PredicateContext:
    """What predicates are decided against."""

    server: SiteServer
    """The sites, read in-process."""
    url: str = ""
    """The browser's current URL (``""`` before the first page loads)."""
    message: str | None = None
    """The last text the agent sent with ``send_msg_to_user``, if any."""


class _Predicate(BaseModel, ABC):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @abstractmethod
    def holds(self, context: PredicateContext) -> bool:
        """Whether the predicate holds now (:func:`evaluate` is the entry point)."""

    @abstractmethod
    def describe(self) -> str:
        """The predicate in words, for rationales and reports."""


class UrlMatches(_Predicate):
    """The current page is on ``site`` and its path matches ``path``."""

    kind: Literal["url_matches"] = "url_matches"
    site: SiteName
    path: str
    """A regex the whole URL path must match, e.g. ``/products/12`` or ``/t/\\d+``."""
    query: dict[str, str] = Field(default_factory=dict)
    """Query parameters that must be present with these values (compared as texts)."""

    @field_validator("path")
    @classmethod
    def _compiles(cls, path: str) -> str:
        try:
            re.compile(path)
        except re.error as exc:
            raise ValueError(f"path is not a valid regex: {exc}") from None
        return path

    @override
    def holds(self, context: PredicateContext) -> bool:
        if not context.url:
            return False
        page, site = urlsplit(context.url), urlsplit(context.server.url(self.site))
        if (page.scheme, page.netloc) != (site.scheme, site.netloc):
            return False
        if re.fullmatch(self.path, page.path or "/") is None:
            return False
        params = {key: _text(value) for key, value in parse_qsl(page.query)}
        return all(params.get(key) == _text(value) for key, value in self.query.items())

    @override
    def describe(self) -> str:
        where = f" with {self.query}" if self.query else ""
        return f"the page is {self.site} {self.path}{where}"


class AnswerMatches(_Predicate):
    """The agent's last message to the user is the answer (see :func:`same_answer`)."""

    kind: Literal["answer_matches"] = "answer_matches"
    value: str = Field(min_length=1)
    tolerance: float = Field(default=0.0, ge=0)
    """Largest accepted absolute difference where both sides are numbers."""

    @override
    def holds(self, context: PredicateContext) -> bool:
        return context.message is not None and same_answer(
            context.message, self.value, self.tolerance
        )

    @override
    def describe(self) -> str:
        return f"the agent answered {self.value!r}"


class CartContains(_Predicate):
    """The shop's cart holds ``product`` (exactly ``quantity`` of it, if given)."""

    kind: Literal["cart_contains"] = "cart_contains"
    product: str = Field(min_length=1)
    """The product's full name."""
    quantity: int | None = Field(default=None, ge=1)

    @override
    def holds(self, context: PredicateContext) -> bool:
        state = context.server.state("shop")
        with state.lock:
            data: ShopData = state.data
            product = data.product_named(self.product)
            held = data.cart.get(product.id, 0) if product else 0
        return held > 0 and self.quantity in (None, held)

    @override
    def describe(self) -> str:
        amount = f"{self.quantity} x " if self.quantity else ""
        return f"the cart holds {amount}{self.product}"


class OrderPlaced(_Predicate):
    """An order placed during the episode has exactly ``items`` (and the other fields given)."""

    kind: Literal["order_placed"] = "order_placed"
    items: dict[str, int] = Field(min_length=1)
    """Product full name -> quantity; the order holds these and nothing else."""
    shipping: str | None = None
    gift_wrap: bool | None = None
    ship_to: dict[str, str] = Field(default_factory=dict)
    """Address fields (full_name, street, city, postal_code) that must match."""

    @field_validator("ship_to")
    @classmethod
    def _address_fields(cls, ship_to: dict[str, str]) -> dict[str, str]:
        unknown = set(ship_to) - _ADDRESS_FIELDS
        if unknown:
            raise ValueError(
                f"unknown address fields {sorted(unknown)}; use {sorted(_ADDRESS_FIELDS)}"
            )
        return ship_to

    @override
    def holds(self, context: PredicateContext) -> bool:
        state = context.server.state("shop")
        with state.lock:
            data: ShopData = state.data
            return any(
                not order.seeded
                and {line.name: line.quantity for line in order.lines} == self.items
                and (self.shipping is None or _text(order.shipping) == _text(self.shipping))
                and self.gift_wrap in (None, order.gift_wrap)
                and all(
                    _text(getattr(order.ship_to, name)) == _text(value)
                    for name, value in self.ship_to.items()
                )
                for order in data.orders
            )

    @override
    def describe(self) -> str:
        items = ", ".join(f"{qty} x {name}" for name, qty in self.items.items())
        shipping = f" with {self.shipping} shipping" if self.shipping else ""
        return f"an order of {items}{shipping} was placed"


class PostExists(_Predicate):
    """A post of thread ``thread`` contains ``contains`` (and is by ``author``, if given)."""

    kind: Literal["post_exists"] = "post_exists"
    thread: str = Field(min_length=1)
    """The thread's title."""
    contains: str = Field(min_length=1)
    author: str | None = None

    @override
    def holds(self, context: PredicateContext) -> bool:
        state = context.server.state("forum")
        with state.lock:
            data: ForumData = state.data
            thread = _thread(data, self.thread)
            return thread is not None and any(
                _text(self.contains) in _text(post.text) and self.author in (None, post.author)
                for post in thread.posts
            )

    @override
    def describe(self) -> str:
        by = f" by {self.author}" if self.author else ""
        return f"thread {self.thread!r} has a post{by} containing {self.contains!r}"


class ThreadExists(_Predicate):
    """A forum thread titled ``title`` exists (with the other fields given)."""

    kind: Literal["thread_exists"] = "thread_exists"
    title: str = Field(min_length=1)
    category: str | None = None
    author: str | None = None
    contains: str | None = None
    """Text the opening post must contain."""

    @override
    def holds(self, context: PredicateContext) -> bool:
        state = context.server.state("forum")
        with state.lock:
            data: ForumData = state.data
            thread = _thread(data, self.title)
            return (
                thread is not None
                and self.category in (None, thread.category)
                and self.author in (None, thread.author)
                and (self.contains is None or _text(self.contains) in _text(thread.posts[0].text))
            )

    @override
    def describe(self) -> str:
        where = f" in {self.category}" if self.category else ""
        return f"a thread titled {self.title!r} exists{where}"


class UserExists(_Predicate):
    """The admin console has an account ``username``."""

    kind: Literal["user_exists"] = "user_exists"
    username: str = Field(min_length=1)

    @override
    def holds(self, context: PredicateContext) -> bool:
        state = context.server.state("admin")
        with state.lock:
            data: AdminData = state.data
            return data.user(self.username) is not None

    @override
    def describe(self) -> str:
        return f"user {self.username} exists"


class UserHas(_Predicate):
    """Account ``username`` exists and its ``field`` equals ``value``."""

    kind: Literal["user_has"] = "user_has"
    username: str = Field(min_length=1)
    field: UserField
    value: str | bool

    @override
    def holds(self, context: PredicateContext) -> bool:
        state = context.server.state("admin")
        with state.lock:
            data: AdminData = state.data
            user = data.user(self.username)
            return user is not None and _same(getattr(user, self.field), self.value)

    @override
    def describe(self) -> str:
        return f"user {self.username} has {self.field} = {self.value!r}"


class SettingIs(_Predicate):
    """The admin setting ``name`` equals ``value``."""

    kind: Literal["setting_is"] = "setting_is"
    name: SettingName
    value: bool | int | str

    @override
    def holds(self, context: PredicateContext) -> bool:
        state = context.server.state("admin")
        with state.lock:
            data: AdminData = state.data
            return _same(getattr(data.settings, self.name), self.value)

    @override
    def describe(self) -> str:
        return f"setting {self.name} = {self.value!r}"


class Not(_Predicate):
    """The inner predicate does not hold (a deleted post, an item gone from the cart)."""

    kind: Literal["not"] = "not"
    predicate: Predicate

    @override
    def holds(self, context: PredicateContext) -> bool:
        return not self.predicate.holds(context)

    @override
    def describe(self) -> str:
        return f"not ({self.predicate.describe()})"


Predicate = Annotated[
    UrlMatches
    | AnswerMatches
    | CartContains
    | OrderPlaced
    | PostExists
    | ThreadExists
    | UserExists
    | UserHas
    | SettingIs
    | Not,
    Field(discriminator="kind"),
]
"""Any predicate, told apart by its ``kind`` field."""
Not.model_rebuild()


def evaluate(predicate: Predicate, context: PredicateContext) -> bool:
    """Whether ``predicate`` holds in ``context`` now.

    Raises:
        SiteError: The predicate names a site the context's server does not serve, or
            (``url_matches``) the server is not started.
    """
    return predicate.holds(context)


def same_answer(message: str, expected: str, tolerance: float = 0.0) -> bool:
    """Whether an agent's message gives the expected answer.

    Both sides are normalised first: surrounding whitespace, one pair of matching quotes and
    a final full stop dropped, inner whitespace collapsed, case ignored. They match when the
    texts are then equal, or when both are numbers (a leading ``$`` and thousands commas
    allowed, so ``"$1,234.50"`` is 1234.5) no further apart than ``tolerance``. Goals say
    what form the answer takes ("the number only"); a sentence around the answer does not
    match, so listing every candidate cannot pass.

    Example:
        >>> same_answer(" 'Express'. ", "express"), same_answer("$12.5", "12.50")
        (True, True)
    """
    got, want = _normalise(message), _normalise(expected)
    if got == want:
        return True
    a, b = _number(got), _number(want)
    return a is not None and b is not None and abs(a - b) <= Decimal(str(tolerance))


def _text(value: str) -> str:
    return " ".join(value.split()).casefold()


def _thread(data: ForumData, title: str) -> Thread | None:
    return next((t for t in data.threads if _text(t.title) == _text(title)), None)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return _text(actual) == _text(expected)
    # bool is an int to Python; a checkbox is never a number of minutes.
    return type(actual) is type(expected) and actual == expected


def _normalise(text: str) -> str:
    text = _text(text).removesuffix(".").strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text.removesuffix(".").strip()


def _number(text: str) -> Decimal | None:
    text = text.removeprefix("$").replace("\u2212", "-")
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
