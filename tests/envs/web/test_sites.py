"""The sites through HTTP: pages are accessible and small, forms change state or explain why not."""

import re
from collections import Counter

import pytest

from prmgym.envs.web.plans import button, check, fill, link, select
from prmgym.envs.web.sites.server import SITES
from tests.envs.web.html_driver import HtmlDriver, Page


def _crawl(client, base: str, limit: int = 80) -> list[Page]:
    """Pages reachable by links from the site's root (GETs only), breadth first."""
    seen, queue, pages = {"/"}, ["/"], []
    while queue and len(pages) < limit:
        path = queue.pop(0)
        response = client.get(base + path)
        page = Page.parse(str(response.url), response.status_code, response.text)
        pages.append(page)
        for control in page.controls:
            href = control.attrs.get("href", "")
            if control.role == "link" and href.startswith("/") and href not in seen:
                seen.add(href)
                queue.append(href)
    return pages


@pytest.mark.parametrize("site", SITES)
def test_every_page_names_its_controls_uniquely_and_stays_small(server, client, site):
    pages = _crawl(client, server.url(site))
    assert len(pages) >= 8
    for page in pages:
        assert page.status == 200, page.url
        assert len(page.html) < 12_000, f"{page.url} is {len(page.html)} bytes"
        assert page.html.count("<h1>") == 1 and '<html lang="en">' in page.html
        named = [(c.role, c.name) for c in page.controls if c.role]
        assert all(name for _, name in named), f"{page.url}: an element has no name"
        repeated = [pair for pair, n in Counter(named).items() if n > 1]
        assert not repeated, f"{page.url}: {repeated} name several elements"
        if "<table" in page.html:
            assert "<th" in page.html


def test_unknown_pages_are_html_404s_with_a_way_home(server, client):
    missing = [("shop", "/products/999"), ("shop", "/orders/²"), ("forum", "/t/abc")]
    for site, path in [*missing, ("forum", "/t/1/edit/9999"), ("admin", "/users/x")]:
        response = client.get(server.url(site) + path)
        assert response.status_code == 404 and "Page not found" in response.text
        assert '<a href="/">' in response.text
    bad = client.get(server.url("admin") + "/users?page=first")
    assert bad.status_code == 400 and "page" in bad.text


def test_shop_search_cart_and_checkout(server, client):
    data = server.state("shop").data
    product = next(p for p in data.products if p.stock >= 3 and p.id not in data.cart)
    shop = HtmlDriver(client, server.url("shop"))
    shop.open("/")
    shop.run(fill("Search products", product.name.split()[-1], role="searchbox"))
    shop.run(button("Search"))
    shop.run(link(product.name))
    shop.run(fill("Quantity", "two"))
    shop.run(button("Add to cart"))
    assert shop.page.status == 400 and "Quantity must be a whole number" in shop.page.html
    shop.run(fill("Quantity", str(product.stock + 1)))
    shop.run(button("Add to cart"))
    assert f"Only {product.stock} of {product.name} in stock" in shop.page.html
    shop.run(fill("Quantity", "3"))
    shop.run(button("Add to cart"))
    assert shop.url.endswith(f"/cart?added={product.id}") and data.cart[product.id] == 3
    (old, _), *_ = data.cart_lines()
    shop.run(button(f"Remove {old.name}"))
    shop.run(fill(f"Quantity for {product.name}", "2"))
    shop.run(button(f"Update {product.name}"))
    assert data.cart == {product.id: 2}
    shop.run(link("Proceed to checkout"))
    shop.run(fill("Postal code", "12"))
    shop.run(button("Place order"))
    assert shop.page.status == 400
    assert "Postal code must be exactly 5 digits." in shop.page.html
    assert "Choose a shipping option" in shop.page.html
    assert f'value="{data.address.street}"' in shop.page.html, "typed values are kept"
    stock = product.stock
    shop.run(fill("Postal code", "54321"))
    shop.run(select("Shipping", "Express"))
    shop.run(check("Gift wrap"))
    shop.run(button("Place order"))
    order = data.orders[-1]
    assert shop.url.endswith(f"/orders/{order.id}?placed=1") and "has been placed" in shop.page.html
    assert not order.seeded and order.shipping == "Express" and order.gift_wrap
    assert order.total_cents == 2 * product.price_cents + 1299 + 300
    assert product.stock == stock - 2 and data.cart == {}
    assert f"Order total: ${order.total_cents // 100:,}." in shop.page.html


def test_forum_reply_thread_edit_and_delete(server, client):
    data = server.state("forum").data
    forum = HtmlDriver(client, server.url("forum"))
    forum.open("/")
    thread = data.threads[3]
    forum.run(link(thread.title))
    forum.run(button("Post reply"))
    assert forum.page.status == 400 and "Message cannot be empty." in forum.page.html
    forum.run(fill("Your reply", "Me too!"))
    forum.run(button("Post reply"))
    mine = thread.posts[-1]
    assert (mine.author, mine.text) == (data.me, "Me too!")
    forum.run(link(f"Edit post #{mine.number}"))
    forum.run(fill("Post text", "Me too, fixed."))
    forum.run(button("Save changes"))
    assert mine.text == "Me too, fixed." and mine.edited and "(edited)" in forum.page.html
    forum.run(button(f"Delete post #{mine.number}"))
    assert mine not in thread.posts and f"Post #{mine.number} deleted." in forum.page.html

    forum.run(link("New thread"))
    forum.run(fill("Title", data.threads[0].title))
    forum.run(button("Create thread"))
    assert forum.page.status == 400 and "already exists" in forum.page.html
    assert "Choose a category" in forum.page.html and "Message cannot be empty." in forum.page.html
    forum.run(fill("Title", "Brand new topic"))
    forum.run(select("Category", "Help"))
    forum.run(fill("Message", "Hello all"))
    forum.run(button("Create thread"))
    created = data.threads[-1]
    assert (created.title, created.category, created.author) == ("Brand new topic", "Help", data.me)
    forum.run(link("Edit post #1"))
    forum.run(fill("Title", "Renamed topic"))
    forum.run(button("Save changes"))
    assert created.title == "Renamed topic"


def test_forum_refuses_changes_to_other_members_posts(server, client):
    data = server.state("forum").data
    thread, post = next((t, p) for t in data.threads for p in t.posts[1:] if p.author != data.me)
    url = server.url("forum") + f"/t/{thread.id}"
    assert client.get(f"{url}/edit/{post.number}").status_code == 403
    assert client.post(f"{url}/delete/{post.number}").status_code == 403
    assert post in thread.posts
    page = client.get(url).text
    assert f"Edit post #{post.number}" not in page and f"Delete post #{post.number}" not in page


def test_admin_filters_paginate(server, client):
    data = server.state("admin").data
    admin = HtmlDriver(client, server.url("admin"))
    admin.open("/users")
    assert f"{len(data.users)} users found · page 1 of 4." in admin.page.html
    admin.run(link("Next page"))
    assert "page 2 of 4" in admin.page.html
    admin.run(select("Status", "Inactive"))
    admin.run(button("Filter"))
    inactive = [u for u in data.users if not u.active]
    rows = re.findall(r'<td><a href="/users/([^"]+)">', admin.page.html)
    assert rows == sorted(u.username for u in inactive)[:10]
    assert f"{len(inactive)} users found." in admin.page.html


def test_admin_user_forms_validate_and_save(server, client):
    data = server.state("admin").data
    taken = data.users[0]
    admin = HtmlDriver(client, server.url("admin"))
    admin.open("/")
    admin.run(link("New user"))
    admin.run(fill("Username", "Bad Name"))
    admin.run(fill("Email", "not-an-email"))
    admin.run(button("Create user"))
    html = admin.page.html
    assert admin.page.status == 400 and 'role="alert"' in html
    for problem in ("Username must be", "Full name is required.", "Email must be a valid"):
        assert problem in html
    assert "Choose a team" in html and 'value="Bad Name"' in html
    admin.run(fill("Username", taken.username))
    admin.run(fill("Full name", "New Person"))
    admin.run(fill("Email", taken.email.upper()))
    admin.run(select("Team", "Finance"))
    admin.run(button("Create user"))
    assert "is already taken" in admin.page.html and "belongs to another user" in admin.page.html
    admin.run(fill("Username", "new.person"))
    admin.run(fill("Email", "new.person@example.com"))
    admin.run(select("Role", "Auditor"))
    admin.run(button("Create user"))
    assert admin.url.endswith("/users/new.person?created=1") and "User created." in admin.page.html
    created = data.user("new.person")
    assert created is not None and (created.role, created.team, created.active) == (
        "Auditor",
        "Finance",
        True,
    )
    admin.run(fill("Full name", ""))
    admin.run(button("Save changes"))
    assert admin.page.status == 400 and created.full_name == "New Person"
    admin.run(fill("Full name", "Renamed Person"))
    admin.run(button("Save changes"))
    assert created.full_name == "Renamed Person" and "Changes saved." in admin.page.html
    admin.run(button("Delete user"))
    assert data.user("new.person") is None and "Deleted user new.person." in admin.page.html


def test_admin_settings_reject_an_out_of_range_timeout(server, client):
    settings = server.state("admin").data.settings
    admin = HtmlDriver(client, server.url("admin"))
    admin.open("/settings")
    admin.run(fill("Session timeout (minutes)", "481"))
    admin.run(fill("Support email", "help"))
    admin.run(check("Maintenance mode"))
    admin.run(button("Save settings"))
    html = admin.page.html
    assert admin.page.status == 400 and "from 5 to 480" in html and "Support email must" in html
    assert 'name="maintenance_mode" checked' in html, "the ticked box stays ticked"
    assert server.state("admin").data.settings == settings
    admin.run(fill("Session timeout (minutes)", "480"))
    admin.run(fill("Support email", "help@example.com"))
    admin.run(button("Save settings"))
    saved = server.state("admin").data.settings
    assert (saved.session_timeout, saved.support_email, saved.maintenance_mode) == (
        480,
        "help@example.com",
        True,
    )
    assert "Settings saved." in admin.page.html
