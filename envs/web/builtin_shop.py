"""The shop's built-in tasks: twelve templates, each written for one seed's catalogue.

Information tasks ask for a price, a stock level, the cheapest product of a category, an
order's total, a count of out-of-stock products. Change tasks add to, update and empty the
cart; multi-step tasks search, fill the cart with exact quantities and check out with a
shipping option.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from prmgym.envs.web.plans import OracleStep, button, check, fill, link, press, say, select
from prmgym.envs.web.predicates import (
    AnswerMatches,
    CartContains,
    Not,
    OrderPlaced,
    UrlMatches,
)
from prmgym.envs.web.sites.shop_data import (
    CATEGORIES,
    CITIES,
    CUSTOMERS,
    SHIPPING,
    STREETS,
    Product,
    ShopData,
)
from prmgym.envs.web.sites.urls import slug
from prmgym.envs.web.tasks import WebTask

SITE = "shop"
_NUMBER_ONLY = "Reply with the number only."
_DOLLARS = "Reply with the amount in dollars as a number only, e.g. 12.50."


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _on_product(product: Product) -> UrlMatches:
    return UrlMatches(site=SITE, path=f"/products/{product.id}")


def _on_category(category: str) -> UrlMatches:
    return UrlMatches(site=SITE, path=f"/category/{slug(category)}")


def _by_search(product: Product) -> list[OracleStep]:
    """Find a product through the search box, by the noun its name ends with."""
    noun = product.name.split(" ", 2)[2]
    return [
        fill("Search products", noun, role="searchbox"),
        press("Search products", role="searchbox"),
        link(product.name),
    ]


def _by_category(product: Product) -> list[OracleStep]:
    return [link(product.category), link(product.name)]


def _cart_item(data: ShopData) -> Product:
    """The product the seeded cart holds (one unit)."""
    (product, _), *_ = data.cart_lines()
    return product


def _addable(data: ShopData, rng: random.Random, least: int = 1) -> Product:
    """A product with at least ``least`` in stock that is not in the cart yet."""
    return rng.choice([p for p in data.products if p.stock >= least and p.id not in data.cart])


def _task(template: str, seed: int, **fields: object) -> WebTask:
    record = {"id": f"{SITE}/{template}/{seed}", "site": SITE, "seed": seed, **fields}
    return WebTask.model_validate(record)


def price(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """The price of a product, found by searching."""
    product = rng.choice(data.products)
    answer = _dollars(product.price_cents)
    return _task(
        "price",
        seed,
        goal=f"What is the price of the {product.name}? {_DOLLARS}",
        checklist=[_on_product(product), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[*_by_search(product), say(answer)],
        level="easy",
    )


def stock(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """How many units of a product are in stock, found through its category."""
    product = rng.choice([p for p in data.products if p.stock > 0])
    answer = str(product.stock)
    return _task(
        "stock",
        seed,
        goal=f"How many units of the {product.name} are in stock? {_NUMBER_ONLY}",
        checklist=[_on_product(product), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[*_by_category(product), say(answer)],
        level="easy",
    )


def cheapest(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """The cheapest product of a category (prices are distinct, so it is one product)."""
    category = rng.choice(list(CATEGORIES))
    answer = data.in_category(category)[0].name
    return _task(
        "cheapest",
        seed,
        goal=f"Which product in the {category} category is the cheapest? Reply with its full name.",
        checklist=[_on_category(category), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[link(category), say(answer)],
        level="medium",
    )


def order_total(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """The total of a past order, from the order history."""
    order = rng.choice(data.orders)
    answer = _dollars(order.total_cents)
    return _task(
        "order-total",
        seed,
        goal=f"What was the total of order #{order.id}, shipping included? {_DOLLARS}",
        checklist=[UrlMatches(site=SITE, path=f"/orders/{order.id}"), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[link("Orders"), link(f"Order #{order.id}"), say(answer)],
        level="medium",
    )


def out_of_stock(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """How many products of a category are out of stock (zero is an answer too)."""
    category = rng.choice(list(CATEGORIES))
    answer = str(sum(p.stock == 0 for p in data.in_category(category)))
    return _task(
        "out-of-stock",
        seed,
        goal=f"How many products in the {category} category are out of stock? {_NUMBER_ONLY}",
        checklist=[_on_category(category), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[link(category), say(answer)],
        level="medium",
    )


def add(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """Put one unit of a product in the cart, found by searching."""
    product = _addable(data, rng)
    done = CartContains(product=product.name, quantity=1)
    return _task(
        "add",
        seed,
        goal=f"Add one {product.name} to your cart.",
        checklist=[_on_product(product), done],
        success=[done],
        oracle=[*_by_search(product), button("Add to cart")],
        level="easy",
    )


def add_quantity(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """Put several units of a product in the cart, typing the quantity."""
    quantity = rng.randint(2, 4)
    product = _addable(data, rng, least=quantity)
    done = CartContains(product=product.name, quantity=quantity)
    return _task(
        "add-quantity",
        seed,
        goal=f"Add {quantity} units of the {product.name} to your cart.",
        checklist=[_on_product(product), done],
        success=[done],
        oracle=[*_by_category(product), fill("Quantity", str(quantity)), button("Add to cart")],
        level="medium",
    )


def remove(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """Take the cart's item out of the cart."""
    product = _cart_item(data)
    done = Not(predicate=CartContains(product=product.name))
    return _task(
        "remove",
        seed,
        goal=f"Remove the {product.name} from your cart.",
        checklist=[UrlMatches(site=SITE, path="/cart"), done],
        success=[done],
        oracle=[link("Cart"), button(f"Remove {product.name}")],
        level="easy",
    )


def update_quantity(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """Change the quantity of the cart's item."""
    product = _cart_item(data)
    quantity = rng.randint(2, min(5, product.stock))
    done = CartContains(product=product.name, quantity=quantity)
    return _task(
        "update-quantity",
        seed,
        goal=f"Change the quantity of the {product.name} in your cart to {quantity}.",
        checklist=[UrlMatches(site=SITE, path="/cart"), done],
        success=[done],
        oracle=[
            link("Cart"),
            fill(f"Quantity for {product.name}", str(quantity)),
            button(f"Update {product.name}"),
        ],
        level="medium",
    )


def checkout(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """Check out the cart as it is, to a new address, with a given shipping option."""
    shipping = rng.choice(list(SHIPPING))
    ship_to = {
        "full_name": rng.choice([c for c in CUSTOMERS if c != data.customer]),
        "street": rng.choice(STREETS),
        "city": rng.choice(CITIES),
        "postal_code": f"{rng.randint(10000, 99999)}",
    }
    product = _cart_item(data)
    done = OrderPlaced(items={product.name: 1}, shipping=shipping, ship_to=ship_to)
    address = f"{ship_to['street']}, {ship_to['city']} {ship_to['postal_code']}"
    return _task(
        "checkout",
        seed,
        goal=f"Check out your cart as it is, with {shipping} shipping, as a present for"
        f" {ship_to['full_name']}: ship it to them at {address}.",
        checklist=[UrlMatches(site=SITE, path="/checkout"), done],
        success=[done],
        oracle=[
            link("Cart"),
            link("Proceed to checkout"),
            fill("Full name", ship_to["full_name"]),
            fill("Street address", ship_to["street"]),
            fill("City", ship_to["city"]),
            fill("Postal code", ship_to["postal_code"]),
            select("Shipping", shipping),
            button("Place order"),
        ],
        level="medium",
    )


def buy_two(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """Search for two products, add exact quantities, empty the rest, check out."""
    first = _addable(data, rng, least=3)
    second = rng.choice(
        [p for p in data.products if p.stock >= 3 and p.id not in data.cart and p is not first]
    )
    quantities = {first.name: rng.randint(1, 3), second.name: rng.randint(1, 3)}
    shipping, gift_wrap = rng.choice(list(SHIPPING)), rng.random() < 0.5
    old = _cart_item(data)
    done = OrderPlaced(items=quantities, shipping=shipping, gift_wrap=gift_wrap)
    wrapped = ", gift-wrapped" if gift_wrap else ", without gift wrap"
    items = " and ".join(f"{qty} x {name}" for name, qty in quantities.items())
    steps: list[OracleStep] = []
    for product in (first, second):
        quantity = str(quantities[product.name])
        steps += [*_by_search(product), fill("Quantity", quantity), button("Add to cart")]
    return _task(
        "buy-two",
        seed,
        goal=f"Buy {items} with {shipping} shipping{wrapped}, sent to your saved address. The"
        " order must contain nothing else.",
        checklist=[
            CartContains(product=first.name, quantity=quantities[first.name]),
            CartContains(product=second.name, quantity=quantities[second.name]),
            Not(predicate=CartContains(product=old.name)),
            done,
        ],
        success=[done],
        oracle=[
            *steps,
            button(f"Remove {old.name}"),
            link("Proceed to checkout"),
            select("Shipping", shipping),
            *([check("Gift wrap")] if gift_wrap else []),
            button("Place order"),
        ],
        level="hard",
    )


def buy_cheapest(data: ShopData, rng: random.Random, seed: int) -> WebTask:
    """Empty the cart, then buy the cheapest in-stock product of a category."""
    old = _cart_item(data)
    category = rng.choice([c for c in CATEGORIES if c != old.category])
    product = next(p for p in data.in_category(category) if p.stock > 0)
    done = OrderPlaced(items={product.name: 1}, shipping="Overnight")
    return _task(
        "buy-cheapest",
        seed,
        goal=f"Buy one unit of the cheapest in-stock product in the {category} category with"
        " Overnight shipping, sent to your saved address. Take everything else out of your"
        " cart first, so the order holds only that product.",
        checklist=[
            Not(predicate=CartContains(product=old.name)),
            _on_category(category),
            CartContains(product=product.name, quantity=1),
            done,
        ],
        success=[done],
        oracle=[
            link("Cart"),
            button(f"Remove {old.name}"),
            link("Home"),
            link(category),
            link(product.name),
            button("Add to cart"),
            link("Proceed to checkout"),
            select("Shipping", "Overnight"),
            button("Place order"),
        ],
        level="hard",
    )


TEMPLATES: tuple[Callable[[ShopData, random.Random, int], WebTask], ...] = (
    price,
    stock,
    cheapest,
    order_total,
    out_of_stock,
    add,
    add_quantity,
    remove,
    update_quantity,
    checkout,
    buy_two,
    buy_cheapest,
)
"""Every shop template, in the order tasks are generated."""
