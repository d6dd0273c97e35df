"""The shop's state: a catalogue, one customer's cart and order history, from a seed.

Every seed gives 48 products, eight in each of six categories, named ``<colour> <material>
<noun>`` (unique: each noun belongs to one category and appears once); prices are distinct
across the catalogue, so "the cheapest" always names one product. The cart starts with one
item and the history with five delivered, shipped or processing orders. Changes are plain
functions that validate their input and return the problems as sentences for the page.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from prmgym.envs.web.sites.validation import whole_number

CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Kitchen": (
        ("Mug", "Teapot", "Cutting Board", "Salad Bowl", "Colander", "Frying Pan", "Whisk",
         "Butter Dish", "Spice Rack", "Measuring Jug"),
        ("Ceramic", "Bamboo", "Steel", "Glass", "Enamel", "Stoneware"),
    ),
    "Home Office": (
        ("Desk Lamp", "Notebook", "Pen Holder", "Monitor Stand", "Bookend", "Stapler",
         "Wall Clock", "Letter Tray", "Desk Mat", "Paper Shredder"),
        ("Oak", "Walnut", "Aluminium", "Leather", "Cork", "Felt"),
    ),
    "Outdoor": (
        ("Tent", "Sleeping Bag", "Backpack", "Camp Stove", "Hammock", "Lantern",
         "Rain Jacket", "Trekking Pole", "Camping Chair", "Cooler Box"),
        ("Nylon", "Canvas", "Ripstop", "Fleece", "Titanium", "Waxed"),
    ),
    "Electronics": (
        ("Headphones", "Speaker", "Keyboard", "Mouse", "Charger", "Webcam", "USB Hub",
         "Power Bank", "Desk Fan", "Alarm Clock"),
        ("Wireless", "Compact", "Portable", "Mechanical", "Slim", "Rugged"),
    ),
    "Toys": (
        ("Puzzle", "Kite", "Yo-Yo", "Building Set", "Plush Bear", "Toy Train", "Marble Run",
         "Spinning Top", "Jump Rope", "Rocking Horse"),
        ("Wooden", "Foam", "Magnetic", "Giant", "Mini", "Plush"),
    ),
    "Garden": (
        ("Watering Can", "Trowel", "Planter", "Hose Reel", "Pruning Shears", "Bird Feeder",
         "Seed Tray", "Garden Gloves", "Wheelbarrow", "Rain Gauge"),
        ("Galvanised", "Terracotta", "Copper", "Resin", "Willow", "Rubber"),
    ),
}  # fmt: skip
"""Each category's nouns and materials; product names draw one colour, material and noun."""

COLOURS = ("Blue", "Red", "Green", "Black", "White", "Yellow", "Grey", "Orange", "Purple", "Teal")
PRODUCTS_PER_CATEGORY = 8

SHIPPING: dict[str, int] = {"Standard": 499, "Express": 1299, "Overnight": 2499}
"""Shipping options and their cost in cents, as the checkout's select names them."""
GIFT_WRAP_CENTS = 300
MAX_QUANTITY = 99
"""The most of one product a single form may ask for."""
TODAY = "2024-06-03"
"""The date new orders carry, so a replayed episode gives identical state."""

CUSTOMERS = (
    "Jordan Avery", "Morgan Ellis", "Riley Chen", "Casey Novak", "Taylor Brooks", "Sam Okafor",
)  # fmt: skip
STREETS = ("12 Elm Street", "48 Harbour Road", "7 Mill Lane", "301 Pine Avenue", "95 Quay Street")
CITIES = ("Springfield", "Riverton", "Lakeside", "Fairview", "Brookhaven")
STATUSES = ("Delivered", "Delivered", "Shipped", "Processing")

_POSTAL_CODE = re.compile(r"\d{5}")


@dataclass
class Product:
    """One catalogue entry."""

    id: int
    name: str
    category: str
    price_cents: int
    stock: int
    sku: str
    description: str


@dataclass
class Address:
    """Where an order ships."""

    full_name: str
    street: str
    city: str
    postal_code: str


@dataclass
class OrderLine:
    """One product of an order, priced when the order was placed."""

    product_id: int
    name: str
    unit_cents: int
    quantity: int


@dataclass
class Order:
    """A placed order; ``seeded`` orders were there before the episode began."""

    id: int
    date: str
    status: str
    lines: list[OrderLine]
    shipping: str
    gift_wrap: bool
    ship_to: Address
    seeded: bool

    @property
    def total_cents(self) -> int:
        """Items, shipping and gift wrap."""
        items = sum(line.unit_cents * line.quantity for line in self.lines)
        return items + SHIPPING[self.shipping] + (GIFT_WRAP_CENTS if self.gift_wrap else 0)


@dataclass
class ShopData:
    """Everything the shop remembers."""

    customer: str
    address: Address
    products: list[Product]
    cart: dict[int, int] = field(default_factory=dict)
    """Product id -> quantity, in the order items were added."""
    orders: list[Order] = field(default_factory=list)

    def product(self, product_id: int) -> Product | None:
        """The product with this id, if any."""
        return next((p for p in self.products if p.id == product_id), None)

    def product_named(self, name: str) -> Product | None:
        """The product with exactly this name, if any."""
        return next((p for p in self.products if p.name == name), None)

    def order(self, order_id: int) -> Order | None:
        """The order with this id, if any."""
        return next((o for o in self.orders if o.id == order_id), None)

    def in_category(self, category: str) -> list[Product]:
        """The category's products, cheapest first."""
        return sorted(
            (p for p in self.products if p.category == category), key=lambda p: p.price_cents
        )

    def cart_lines(self) -> list[tuple[Product, int]]:
        """The cart's products with their quantities, in the order they were added."""
        return [(self.products_by_id[pid], qty) for pid, qty in self.cart.items()]

    @property
    def products_by_id(self) -> dict[int, Product]:
        """Every product by id."""
        return {p.id: p for p in self.products}

    @property
    def cart_cents(self) -> int:
        """What the cart's items cost, before shipping."""
        return sum(product.price_cents * qty for product, qty in self.cart_lines())


def generate_shop(seed: int) -> ShopData:
    """The shop's data for a seed; the same seed always gives equal data."""
    rng = random.Random(f"prmgym-web-shop-{seed}")
    dollars = rng.sample(range(4, 160), PRODUCTS_PER_CATEGORY * len(CATEGORIES))
    products = []
    for category, (nouns, materials) in CATEGORIES.items():
        for noun in rng.sample(nouns, PRODUCTS_PER_CATEGORY):
            product_id = len(products) + 1
            colour, material = rng.choice(COLOURS), rng.choice(materials)
            stock = 0 if rng.random() < 0.15 else rng.randint(1, 40)
            products.append(
                Product(
                    id=product_id,
                    name=f"{colour} {material} {noun}",
                    category=category,
                    price_cents=dollars[product_id - 1] * 100 + rng.choice((0, 49, 99)),
                    stock=stock,
                    sku=f"{category[:2].upper()}-{1000 + product_id * 7}",
                    description=f"A {material.lower()} {noun.lower()} in {colour.lower()}.",
                )
            )
    address = Address(rng.choice(CUSTOMERS), rng.choice(STREETS), rng.choice(CITIES), "")
    address.postal_code = f"{rng.randint(10000, 99999)}"
    data = ShopData(customer=address.full_name, address=address, products=products)
    for number in range(5):
        lines = [
            OrderLine(p.id, p.name, p.price_cents, rng.randint(1, 3))
            for p in rng.sample(products, rng.randint(1, 3))
        ]
        data.orders.append(
            Order(
                id=1001 + number,
                date=f"2024-0{number + 1}-{rng.randint(10, 28)}",
                status=rng.choice(STATUSES),
                lines=lines,
                shipping=rng.choice(list(SHIPPING)),
                gift_wrap=rng.random() < 0.3,
                ship_to=address,
                seeded=True,
            )
        )
    in_stock = [p for p in products if p.stock >= 5]
    data.cart[rng.choice(in_stock).id] = 1
    return data


def add_to_cart(data: ShopData, product: Product, quantity_text: str) -> list[str]:
    """Add ``quantity_text`` units of ``product`` to the cart; returns the problems, if any."""
    quantity = whole_number(quantity_text, 1, MAX_QUANTITY)
    if quantity is None:
        return [f"Quantity must be a whole number from 1 to {MAX_QUANTITY}."]
    wanted = data.cart.get(product.id, 0) + quantity
    if wanted > product.stock:
        return [_stock_problem(product, data.cart.get(product.id, 0))]
    data.cart[product.id] = wanted
    return []


def set_cart_quantity(data: ShopData, product: Product, quantity_text: str) -> list[str]:
    """Set a cart line's quantity (0 removes it); returns the problems, if any."""
    quantity = whole_number(quantity_text, 0, MAX_QUANTITY)
    if quantity is None:
        return [f"Quantity must be a whole number from 0 to {MAX_QUANTITY}."]
    if quantity > product.stock:
        return [_stock_problem(product, 0)]
    if quantity == 0:
        data.cart.pop(product.id, None)
    else:
        data.cart[product.id] = quantity
    return []


def place_order(data: ShopData, form: dict[str, str]) -> tuple[Order | None, list[str]]:
    """Check out the cart with the checkout form's fields.

    Returns:
        The new order, or None and the problems that stopped it.
    """
    address = Address(
        full_name=form.get("full_name", "").strip(),
        street=form.get("street", "").strip(),
        city=form.get("city", "").strip(),
        postal_code=form.get("postal_code", "").strip(),
    )
    problems = []
    if not data.cart:
        problems.append("Your cart is empty: add something before checking out.")
    for label, value in (("Full name", address.full_name), ("Street address", address.street)):
        if not value:
            problems.append(f"{label} is required.")
    if not address.city:
        problems.append("City is required.")
    if not _POSTAL_CODE.fullmatch(address.postal_code):
        problems.append("Postal code must be exactly 5 digits.")
    shipping = form.get("shipping", "")
    if shipping not in SHIPPING:
        problems.append(f"Choose a shipping option: {', '.join(SHIPPING)}.")
    for product, quantity in data.cart_lines():
        if quantity > product.stock:
            problems.append(_stock_problem(product, 0))
    if problems:
        return None, problems
    order = Order(
        id=max(o.id for o in data.orders) + 1,
        date=TODAY,
        status="Processing",
        lines=[OrderLine(p.id, p.name, p.price_cents, qty) for p, qty in data.cart_lines()],
        shipping=shipping,
        gift_wrap="gift_wrap" in form,
        ship_to=address,
        seeded=False,
    )
    for product, quantity in data.cart_lines():
        product.stock -= quantity
    data.cart.clear()
    data.orders.append(order)
    return order, []


def search(data: ShopData, query: str, limit: int = 20) -> list[Product]:
    """Products whose name or category holds every word of ``query`` (case-insensitive)."""
    words = query.casefold().split()
    if not words:
        return []
    hits = [
        p for p in data.products if all(w in f"{p.name} {p.category}".casefold() for w in words)
    ]
    return hits[:limit]


def _stock_problem(product: Product, in_cart: int) -> str:
    if product.stock == 0:
        return f"{product.name} is out of stock."
    held = f" (you already have {in_cart} in your cart)" if in_cart else ""
    return f"Only {product.stock} of {product.name} in stock{held}."
