"""Predicates: each kind holds exactly when the server state, URL or answer says so."""

from typing import get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from prmgym.envs.web.predicates import (
    AnswerMatches,
    CartContains,
    Not,
    OrderPlaced,
    PostExists,
    Predicate,
    PredicateContext,
    SettingIs,
    SettingName,
    ThreadExists,
    UrlMatches,
    UserExists,
    UserField,
    UserHas,
    evaluate,
    same_answer,
)
from prmgym.envs.web.sites.admin_data import Settings, User
from prmgym.envs.web.sites.server import SITES, SiteName

ADAPTER = TypeAdapter(Predicate)


def test_the_names_predicates_accept_are_the_sites_and_fields_that_exist():
    assert get_args(SiteName) == tuple(SITES)
    assert set(get_args(SettingName)) == set(Settings.__dataclass_fields__)
    assert set(get_args(UserField)) <= set(User.__dataclass_fields__)


def _holds(server, predicate, url="", message=None) -> bool:
    return evaluate(predicate, PredicateContext(server, url, message))


def test_url_matches_the_site_origin_path_and_query(server):
    shop = server.url("shop")
    on_cart = UrlMatches(site="shop", path="/cart")
    assert _holds(server, on_cart, shop + "/cart?added=3#top")
    assert not _holds(server, on_cart, shop + "/cart/extra")
    assert not _holds(server, on_cart, server.url("forum") + "/cart"), "another site's port"
    assert not _holds(server, on_cart, "")
    filtered = UrlMatches(site="admin", path="/users", query={"team": "Sales"})
    assert _holds(server, filtered, server.url("admin") + "/users?team=sales&page=2")
    assert not _holds(server, filtered, server.url("admin") + "/users?team=Support")
    assert _holds(server, UrlMatches(site="forum", path=r"/t/\d+"), server.url("forum") + "/t/12")
    with pytest.raises(ValidationError, match="not a valid regex"):
        UrlMatches(site="shop", path="/products/(")


@pytest.mark.parametrize(
    ("message", "expected", "tolerance", "same"),
    [
        ("12.50", "12.50", 0, True),
        ("$12.5", "12.50", 0, True),
        ("1,234", "1234", 0, True),
        (" “Express”. ", "express", 0, True),
        ("12.49", "12.50", 0, False),
        ("12.49", "12.50", 0.01, True),
        ("It costs 12.50", "12.50", 0, False),
        ("dana_k", "dana_k ", 0, True),
        ("dana", "dana_k", 0, False),
    ],
)
def test_same_answer_normalises_but_wants_the_answer_alone(message, expected, tolerance, same):
    assert same_answer(message, expected, tolerance) is same


def test_answer_matches_needs_a_message(server):
    answer = AnswerMatches(value="7")
    assert not _holds(server, answer, message=None)
    assert _holds(server, answer, message="7")


def test_cart_and_order_predicates_follow_the_shop(server):
    data = server.state("shop").data
    (item, quantity), *_ = data.cart_lines()
    assert _holds(server, CartContains(product=item.name))
    assert _holds(server, CartContains(product=item.name, quantity=quantity))
    assert not _holds(server, CartContains(product=item.name, quantity=quantity + 1))
    assert not _holds(server, CartContains(product="No Such Product"))
    seeded = data.orders[0]
    same_as_seeded = OrderPlaced(items={line.name: line.quantity for line in seeded.lines})
    assert not _holds(server, same_as_seeded), "orders from before the episode do not count"
    with server.state("shop").lock:
        seeded.seeded = False
    assert _holds(server, same_as_seeded)
    assert _holds(server, same_as_seeded.model_copy(update={"shipping": seeded.shipping.upper()}))
    assert not _holds(server, same_as_seeded.model_copy(update={"gift_wrap": not seeded.gift_wrap}))
    other_city = {"city": seeded.ship_to.city + "x"}
    assert not _holds(server, same_as_seeded.model_copy(update={"ship_to": other_city}))
    with pytest.raises(ValidationError, match="unknown address fields"):
        OrderPlaced(items={"X": 1}, ship_to={"country": "NL"})


def test_forum_predicates_follow_posts_and_threads(server):
    data = server.state("forum").data
    thread = data.threads[0]
    opening = thread.posts[0]
    assert _holds(server, PostExists(thread=thread.title, contains=opening.text.upper()))
    assert _holds(server, PostExists(thread=thread.title, contains="  " + opening.text[:10]))
    assert not _holds(
        server, PostExists(thread=thread.title, contains=opening.text, author="someone_else")
    )
    assert not _holds(server, PostExists(thread="No such thread", contains="a"))
    found = ThreadExists(title=thread.title.lower(), category=thread.category, author=thread.author)
    assert _holds(server, found)
    assert not _holds(server, found.model_copy(update={"category": "Elsewhere"}))
    assert not _holds(server, found.model_copy(update={"contains": "never written"}))


def test_admin_predicates_compare_types_strictly(server):
    data = server.state("admin").data
    user, settings = data.users[0], data.settings
    assert _holds(server, UserExists(username=user.username))
    assert not _holds(server, UserExists(username="nobody"))
    assert _holds(server, UserHas(username=user.username, field="role", value=user.role.lower()))
    assert _holds(server, UserHas(username=user.username, field="active", value=user.active))
    assert not _holds(server, UserHas(username=user.username, field="active", value="True"))
    assert not _holds(server, UserHas(username="nobody", field="role", value=user.role))
    timeout = settings.session_timeout
    assert _holds(server, SettingIs(name="session_timeout", value=timeout))
    assert not _holds(server, SettingIs(name="session_timeout", value=str(timeout)))
    assert _holds(server, SettingIs(name="maintenance_mode", value=False))
    assert not _holds(server, SettingIs(name="maintenance_mode", value=0))


def test_not_inverts_and_everything_round_trips_through_json(server):
    inner = UserExists(username="nobody")
    assert _holds(server, Not(predicate=inner))
    assert not _holds(server, Not(predicate=Not(predicate=inner)))
    predicates = [
        UrlMatches(site="shop", path="/cart", query={"a": "b"}),
        AnswerMatches(value="3", tolerance=0.5),
        Not(predicate=CartContains(product="X", quantity=2)),
        OrderPlaced(items={"X": 1}, shipping="Express", gift_wrap=True, ship_to={"city": "Y"}),
        PostExists(thread="T", contains="c", author="a"),
        ThreadExists(title="T", category="Help", contains="c"),
        UserHas(username="u", field="active", value=False),
        SettingIs(name="session_timeout", value=480),
    ]
    for predicate in predicates:
        again = ADAPTER.validate_json(predicate.model_dump_json())
        assert again == predicate and type(again.model_dump()["kind"]) is str
        assert predicate.describe()
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "cart_contains", "product": "X", "colour": "red"})
