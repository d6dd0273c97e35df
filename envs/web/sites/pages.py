"""What every site's pages share: the app shell, HTML rendering, form bodies and redirects.

Pages are rendered on the server from the jinja2 templates in ``templates/`` (every page
extends ``base.html``, which holds the accessible shell: one ``h1`` per page, a named
navigation landmark, an alert listing form errors and a status line for notices). Forms are
plain HTML forms posting ``application/x-www-form-urlencoded`` bodies; a successful post
answers ``303 See Other`` (Post/Redirect/Get), a rejected one re-renders its form with the
errors and status 400. Forms carry no HTML constraints (``required``, ``type="email"``,
``pattern``): Chromium would stop a submission before the server saw it, and every problem
should be explained on the page, by the server, the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt variable fails the page's test, not silently
    trim_blocks=True,
    lstrip_blocks=True,
)

MAX_FORM_BYTES = 64_000
"""Larger form bodies are refused: no form on these sites needs more."""


def money(cents: int) -> str:
    """Cents as dollars for people: ``1250`` -> ``"$12.50"``."""
    return f"${cents // 100:,}.{cents % 100:02d}"


TEMPLATES.filters["money"] = money


class Shell:
    """A site's name and navigation links, which every one of its pages shows.

    Args:
        site_name: Shown above the navigation and in every page title.
        nav: ``(link text, path)`` pairs; the link texts must not be reused as the name of
            another link on any of the site's pages, so each names one element.
    """

    def __init__(self, site_name: str, nav: Sequence[tuple[str, str]]) -> None:
        self.site_name = site_name
        self.nav = tuple(nav)

    def render(
        self,
        template: str,
        title: str,
        status_code: int = 200,
        *,
        notice: str | None = None,
        errors: Sequence[str] = (),
        header: str = "",
        **context: Any,
    ) -> HTMLResponse:
        """Render one of the site's pages.

        Args:
            template: File name under ``templates/``.
            title: The page's ``h1`` and the first part of its ``<title>``.
            status_code: 400 when a form is shown again with errors.
            notice: A one-line outcome of the last action ("Changes saved."), announced as
                status.
            errors: What is wrong with a submitted form, announced as an alert.
            header: A line of text under the site name (who is signed in, cart size).
            **context: The template's own variables.
        """
        html = TEMPLATES.get_template(template).render(
            site_name=self.site_name,
            nav=self.nav,
            title=title,
            notice=notice,
            errors=list(errors),
            header=header,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def app(self) -> FastAPI:
        """A FastAPI app whose errors are HTML pages and which serves no API docs.

        Docs pages would load scripts from a CDN (there is no network) and add pages an agent
        could wander into; errors as HTML keep every page readable through the browser.
        """
        app = FastAPI(title=self.site_name, docs_url=None, redoc_url=None, openapi_url=None)

        @app.exception_handler(HTTPException)
        async def _error_page(request: Request, exc: HTTPException) -> HTMLResponse:
            title = "Page not found" if exc.status_code == 404 else f"Error {exc.status_code}"
            return self.render("error.html", title, exc.status_code, detail=str(exc.detail))

        @app.exception_handler(RequestValidationError)
        async def _bad_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
            wrong = ", ".join(str(error["loc"][-1]) for error in exc.errors())
            detail = f"The address has values these pages do not understand: {wrong}."
            return self.render("error.html", "Bad request", 400, detail=detail)

        return app


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form body as a dict; where a name repeats, the last value wins.

    Parsed here rather than with ``request.form()``, which needs python-multipart: these
    forms never upload files.

    Raises:
        HTTPException: 413 when the body is over :data:`MAX_FORM_BYTES`.
    """
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, f"Form too large (over {MAX_FORM_BYTES} bytes).")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def see_other(path: str) -> RedirectResponse:
    """The answer to a successful post: the browser loads ``path`` with a GET."""
    return RedirectResponse(path, status_code=303)
