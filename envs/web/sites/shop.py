"""The shop's pages: search, categories, product pages, a cart, checkout and order history.

=====================  ======================================================================
``/``                  categories (links named by category)
``/search?q=``         products whose name or category holds every word
``/category/<slug>``   a category's eight products, cheapest first
``/products/<id>``     price, stock; "Quantity" textbox and "Add to cart" button
``/cart``              one row per item: "Quantity for <name>", "Update <name>", "Remove <name>"
``/checkout``          address textboxes, "Shipping" select, "Gift wrap" checkbox, "Place order"
``/orders[/<id>]``     order history ("Order #1001" links) and one order's details
=====================  ======================================================================

Every page carries the "Search products" searchbox with its "Search" button, and links
"Home", "Cart" and "Orders". Product links are named by the product's full name, which is
unique, so each link names one element on any page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from prmgym.envs.web.sites.pages import Shell, read_form, see_other
from prmgym.envs.web.sites.shop_data import (
    CATEGORIES,
    GIFT_WRAP_CENTS,
    SHIPPING,
    Product,
    ShopData,
    add_to_cart,
    place_order,
    search,
    set_cart_quantity,
)
from prmgym.envs.web.sites.state import SiteState
from prmgym.envs.web.sites.urls import slug
from prmgym.envs.web.sites.validation import parse_id

SHELL = Shell("Shop", [("Home", "/"), ("Cart", "/cart"), ("Orders", "/orders")])
_CATEGORY_BY_SLUG = {slug(category): category for category in CATEGORIES}


def create_app(state: SiteState[ShopData]) -> FastAPI:
    """The shop's app over ``state``; handlers change it only while holding its lock."""
    app = SHELL.app()

    def product_or_404(data: ShopData, product_id: str) -> Product:
        product = data.product(parse_id(product_id) or 0)
        if product is None:
            raise HTTPException(404, f"There is no product {product_id!r}.")
        return product

    @app.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        with state.lock:
            data = state.data
            categories = [
                (name, f"/category/{slug(name)}", len(data.in_category(name)))
                for name in CATEGORIES
            ]
            return _render(data, "shop_home.html", "Shop", categories=categories)

    @app.get("/search", response_class=HTMLResponse)
    async def search_page(q: str = "") -> HTMLResponse:
        with state.lock:
            data = state.data
            title = f"Results for “{q.strip()}”" if q.strip() else "Search"
            return _render(data, "shop_list.html", title, query=q, products=search(data, q))

    @app.get("/category/{category_slug}", response_class=HTMLResponse)
    async def category(category_slug: str) -> HTMLResponse:
        name = _CATEGORY_BY_SLUG.get(category_slug)
        if name is None:
            raise HTTPException(404, f"There is no category {category_slug!r}.")
        with state.lock:
            data = state.data
            return _render(data, "shop_list.html", name, products=data.in_category(name))

    @app.get("/products/{product_id}", response_class=HTMLResponse)
    async def product_page(product_id: str) -> HTMLResponse:
        with state.lock:
            data = state.data
            product = product_or_404(data, product_id)
            return _product(data, product, "1")

    @app.post("/cart/add", response_model=None)
    async def add(request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            product = product_or_404(data, form.get("product_id", ""))
            problems = add_to_cart(data, product, form.get("quantity", "1"))
            if problems:
                return _product(data, product, form.get("quantity", ""), problems)
        return see_other("/cart?added=" + str(product.id))

    @app.get("/cart", response_class=HTMLResponse)
    async def cart(added: str = "") -> HTMLResponse:
        with state.lock:
            data = state.data
            product = data.product(parse_id(added) or 0)
            notice = f"Added {product.name} to your cart." if product else None
            return _cart(data, notice=notice)

    @app.post("/cart/update", response_model=None)
    async def update(request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            product = product_or_404(data, form.get("product_id", ""))
            problems = set_cart_quantity(data, product, form.get("quantity", ""))
            if problems:
                return _cart(data, problems=problems)
        return see_other("/cart")

    @app.post("/cart/remove", response_model=None)
    async def remove(request: Request) -> RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            data.cart.pop(product_or_404(data, form.get("product_id", "")).id, None)
        return see_other("/cart")

    @app.get("/checkout", response_class=HTMLResponse)
    async def checkout() -> HTMLResponse:
        with state.lock:
            data = state.data
            address = data.address
            form = {
                "full_name": address.full_name,
                "street": address.street,
                "city": address.city,
                "postal_code": address.postal_code,
                "shipping": "",
                "gift_wrap": False,
            }
            return _checkout(data, form)

    @app.post("/checkout", response_model=None)
    async def place(request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            order, problems = place_order(data, form)
            if order is None:
                shown = {**form, "gift_wrap": "gift_wrap" in form}
                for name in ("full_name", "street", "city", "postal_code", "shipping"):
                    shown.setdefault(name, "")
                return _checkout(data, shown, problems)
        return see_other(f"/orders/{order.id}?placed=1")

    @app.get("/orders", response_class=HTMLResponse)
    async def orders() -> HTMLResponse:
        with state.lock:
            data = state.data
            newest_first = sorted(data.orders, key=lambda o: o.id, reverse=True)
            return _render(data, "shop_orders.html", "Your orders", orders=newest_first)

    @app.get("/orders/{order_id}", response_class=HTMLResponse)
    async def order_page(order_id: str, placed: str = "") -> HTMLResponse:
        with state.lock:
            data = state.data
            order = data.order(parse_id(order_id) or 0)
            if order is None:
                raise HTTPException(404, f"There is no order {order_id!r}.")
            notice = "Thank you! Your order has been placed." if placed else None
            return _render(
                data,
                "shop_order.html",
                f"Order #{order.id}",
                notice=notice,
                order=order,
                shipping_cents=SHIPPING[order.shipping],
            )

    return app


def _render(
    data: ShopData, template: str, title: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """A shop page, its header saying who is signed in and how full the cart is."""
    items = sum(data.cart.values())
    header = f"Signed in as {data.customer} · Cart: {items} item{'s' if items != 1 else ''}"
    context.setdefault("query", "")
    return SHELL.render(template, title, status, header=header, **context)


def _product(
    data: ShopData, product: Product, quantity: str, problems: Sequence[str] = ()
) -> HTMLResponse:
    return _render(
        data,
        "shop_product.html",
        product.name,
        400 if problems else 200,
        errors=problems,
        product=product,
        category_slug=slug(product.category),
        quantity=quantity,
    )


def _cart(data: ShopData, notice: str | None = None, problems: Sequence[str] = ()) -> HTMLResponse:
    return _render(
        data,
        "shop_cart.html",
        "Your cart",
        400 if problems else 200,
        notice=notice,
        errors=problems,
        lines=data.cart_lines(),
        total_cents=data.cart_cents,
    )


def _checkout(data: ShopData, form: dict[str, Any], problems: Sequence[str] = ()) -> HTMLResponse:
    return _render(
        data,
        "shop_checkout.html",
        "Checkout",
        400 if problems else 200,
        errors=problems,
        lines=data.cart_lines(),
        total_cents=data.cart_cents,
        shipping_options=list(SHIPPING.items()),
        gift_wrap_cents=GIFT_WRAP_CENTS,
        form=form,
    )
