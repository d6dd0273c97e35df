"""The admin console's pages: a dashboard, the users table, user forms and the settings.

=======================  ====================================================================
``/``                    counts of users, active users and users per role
``/users``               filters ("Name contains", "Role", "Team", "Status", "Filter"), ten
                         users a page (username links), "Previous page" / "Next page"
``/users/<username>``    "Full name", "Email", "Role", "Team", "Active", "Save changes";
                         "Delete user"
``/users/new``           the same fields plus "Username"; "Create user"
``/settings``            site name, support email, time zone, session timeout, default role,
                         three checkboxes; "Save settings"
=======================  ====================================================================

Links "Dashboard", "Users", "New user" and "Settings" are on every page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from prmgym.envs.web.sites.admin_data import (
    ROLES,
    TEAMS,
    TIME_ZONES,
    AdminData,
    User,
    save_settings,
    save_user,
)
from prmgym.envs.web.sites.pages import Shell, read_form, see_other
from prmgym.envs.web.sites.state import SiteState

SHELL = Shell(
    "Admin",
    [
        ("Dashboard", "/"),
        ("Users", "/users"),
        ("New user", "/users/new"),
        ("Settings", "/settings"),
    ],
)
PAGE_SIZE = 10
"""Users per page of the users table."""
CHECKBOXES = (
    ("allow_registration", "Allow self-registration"),
    ("require_2fa", "Require two-factor authentication"),
    ("maintenance_mode", "Maintenance mode"),
)
"""The settings' checkboxes: field name and label."""
_STATUSES = (("", "Any status"), ("active", "Active"), ("inactive", "Inactive"))


def create_app(state: SiteState[AdminData]) -> FastAPI:
    """The admin console's app over ``state``; handlers change it only under its lock."""
    app = SHELL.app()

    def user_or_404(data: AdminData, username: str) -> User:
        user = data.user(username)
        if user is None:
            raise HTTPException(404, f"There is no user {username!r}.")
        return user

    @app.get("/", response_class=HTMLResponse)
    async def dashboard() -> HTMLResponse:
        with state.lock:
            users = state.data.users
            by_role = [(role, sum(u.role == role for u in users)) for role in ROLES]
            active = sum(u.active for u in users)
            return SHELL.render(
                "admin_dashboard.html",
                "Dashboard",
                total=len(users),
                active=active,
                by_role=by_role,
            )

    @app.get("/users", response_class=HTMLResponse)
    async def users(
        q: str = "",
        role: str = "",
        team: str = "",
        status: str = "",
        page: int = 1,
        deleted: str = "",
    ) -> HTMLResponse:
        filters = {"q": q, "role": role, "team": team, "status": status}
        with state.lock:
            found = state.data.filtered(q, role, team, status)
        pages = max(1, math.ceil(len(found) / PAGE_SIZE))
        page = min(max(page, 1), pages)

        def link(number: int) -> str | None:
            if not 1 <= number <= pages or number == page:
                return None
            query = {key: value for key, value in filters.items() if value}
            return "/users?" + urlencode({**query, "page": number})

        return SHELL.render(
            "admin_users.html",
            "Users",
            notice=f"Deleted user {deleted}." if deleted else None,
            filters=filters,
            role_options=[("", "All roles"), *((r, r) for r in ROLES)],
            team_options=[("", "All teams"), *((t, t) for t in TEAMS)],
            status_options=_STATUSES,
            users=found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            count=len(found),
            page=page,
            pages=pages,
            previous_page=link(page - 1),
            next_page=link(page + 1),
        )

    @app.get("/users/new", response_class=HTMLResponse)
    async def new_form() -> HTMLResponse:
        with state.lock:
            default_role = state.data.settings.default_role
        form = {"username": "", "full_name": "", "email": "", "role": default_role, "team": ""}
        return _user_form(None, {**form, "active": True})

    @app.post("/users/new", response_model=None)
    async def create(request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            user, problems = save_user(state.data, form, None)
        if user is None:
            return _user_form(None, _shown(form), problems)
        return see_other(f"/users/{user.username}?created=1")

    @app.get("/users/{username}", response_class=HTMLResponse)
    async def edit_form(username: str, saved: str = "", created: str = "") -> HTMLResponse:
        with state.lock:
            user = user_or_404(state.data, username)
            form = {
                "full_name": user.full_name,
                "email": user.email,
                "role": user.role,
                "team": user.team,
                "active": user.active,
            }
        notice = "User created." if created else "Changes saved." if saved else None
        return _user_form(username, form, notice=notice)

    @app.post("/users/{username}", response_model=None)
    async def edit(username: str, request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            saved, problems = save_user(data, form, user_or_404(data, username))
        if saved is None:
            return _user_form(username, _shown(form), problems)
        return see_other(f"/users/{username}?saved=1")

    @app.post("/users/{username}/delete", response_model=None)
    async def delete(username: str) -> RedirectResponse:
        with state.lock:
            data = state.data
            data.users.remove(user_or_404(data, username))
        return see_other("/users?" + urlencode({"deleted": username}))

    @app.get("/settings", response_class=HTMLResponse)
    async def settings_form(saved: str = "") -> HTMLResponse:
        with state.lock:
            form = vars(state.data.settings).copy()
        return _settings(form, notice="Settings saved." if saved else None)

    @app.post("/settings", response_model=None)
    async def settings(request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            problems = save_settings(state.data, form)
        if problems:
            fields = ("site_name", "support_email", "time_zone", "session_timeout", "default_role")
            shown: dict[str, Any] = {name: form.get(name, "") for name in fields}
            shown.update({name: name in form for name, _ in CHECKBOXES})
            return _settings(shown, problems=problems)
        return see_other("/settings?saved=1")

    return app


def _shown(form: dict[str, str]) -> dict[str, Any]:
    """A rejected user form's values, to show again as the user typed them."""
    shown: dict[str, Any] = {
        name: form.get(name, "") for name in ("username", "full_name", "email", "role", "team")
    }
    shown["active"] = "active" in form
    return shown


def _user_form(
    username: str | None,
    form: dict[str, Any],
    problems: Sequence[str] = (),
    notice: str | None = None,
) -> HTMLResponse:
    """The new-user form (``username`` None) or the edit form of ``username``."""
    creating = username is None
    return SHELL.render(
        "admin_user_form.html",
        "New user" if creating else f"Edit user {username}",
        400 if problems else 200,
        notice=notice,
        errors=problems,
        creating=creating,
        action="/users/new" if creating else f"/users/{username}",
        form=form,
        role_options=[(r, r) for r in ROLES],
        team_options=[("", "Choose a team"), *((t, t) for t in TEAMS)]
        if creating
        else [(t, t) for t in TEAMS],
    )


def _settings(
    form: dict[str, Any], problems: Sequence[str] = (), notice: str | None = None
) -> HTMLResponse:
    return SHELL.render(
        "admin_settings.html",
        "Settings",
        400 if problems else 200,
        notice=notice,
        errors=problems,
        form=form,
        time_zone_options=[(z, z) for z in TIME_ZONES],
        role_options=[(r, r) for r in ROLES],
        checkboxes=CHECKBOXES,
    )
