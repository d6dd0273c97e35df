"""The admin console's built-in tasks: twelve templates, each written for one seed's accounts.

Information tasks look users up through the filters (a role, an email, a count, who holds a
role in a team). Change tasks deactivate, re-role and move users, create one, flip a
setting; multi-step tasks recover from a validation error (a timeout over the limit, a
username already taken) or change several users found by filtering.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from prmgym.envs.web.plans import OracleStep, button, check, fill, link, say, select, uncheck
from prmgym.envs.web.predicates import (
    AnswerMatches,
    SettingIs,
    UrlMatches,
    UserExists,
    UserHas,
)
from prmgym.envs.web.sites.admin_data import (
    FIRST_NAMES,
    LAST_NAMES,
    ROLES,
    TEAMS,
    TIME_ZONES,
    TIMEOUT_RANGE,
    AdminData,
    User,
)
from prmgym.envs.web.tasks import WebTask

SITE = "admin"

TOGGLES = (
    ("maintenance_mode", "Maintenance mode", "maintenance mode"),
    ("require_2fa", "Require two-factor authentication", "two-factor authentication for everyone"),
    ("allow_registration", "Allow self-registration", "self-registration"),
)
"""Settings checkboxes: field, label, and how a goal names the feature."""


def _task(template: str, seed: int, **fields: object) -> WebTask:
    record = {"id": f"{SITE}/{template}/{seed}", "site": SITE, "seed": seed, **fields}
    return WebTask.model_validate(record)


def _on_user(user: User) -> UrlMatches:
    return UrlMatches(site=SITE, path=f"/users/{user.username}")


def _find(text: str) -> list[OracleStep]:
    """Open the users table filtered by name."""
    return [link("Users"), fill("Name contains", text), button("Filter")]


def _open_user(user: User) -> list[OracleStep]:
    return [*_find(user.username), link(user.username)]


def _filter(**choices: str) -> list[OracleStep]:
    """Open the users table with select filters, e.g. ``Team="Sales"``."""
    return [link("Users"), *(select(name, option) for name, option in choices.items())]


def role_of(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """The role of a user named by full name."""
    user = rng.choice(data.users)
    return _task(
        "role-of",
        seed,
        goal=f"What role does {user.full_name} have? Reply with the role name only.",
        checklist=[UrlMatches(site=SITE, path="/users"), AnswerMatches(value=user.role)],
        success=[AnswerMatches(value=user.role)],
        answer=user.role,
        oracle=[*_find(user.full_name), say(user.role)],
        level="easy",
    )


def email_of(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """The email address of a user named by username."""
    user = rng.choice(data.users)
    return _task(
        "email-of",
        seed,
        goal=f"What is the email address of the user {user.username}? Reply with the address only.",
        checklist=[_on_user(user), AnswerMatches(value=user.email)],
        success=[AnswerMatches(value=user.email)],
        answer=user.email,
        oracle=[*_open_user(user), say(user.email)],
        level="easy",
    )


def count_inactive(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """How many inactive users a team has, through the Team and Status filters."""
    team = rng.choice(TEAMS)
    answer = str(len(data.filtered(team=team, status="inactive")))
    return _task(
        "count-inactive",
        seed,
        goal=f"How many inactive users are in the {team} team? Reply with the number only.",
        checklist=[
            UrlMatches(site=SITE, path="/users", query={"team": team, "status": "inactive"}),
            AnswerMatches(value=answer),
        ],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[*_filter(Team=team, Status="Inactive"), button("Filter"), say(answer)],
        level="medium",
    )


def who_has_role(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """The one user of a team holding a role, through the Team and Role filters."""
    pairs = Counter((u.team, u.role) for u in data.users)
    team, role = rng.choice(sorted(pair for pair, n in pairs.items() if n == 1))
    (user,) = data.filtered(team=team, role=role)
    return _task(
        "who-has-role",
        seed,
        goal=f"Which user in the {team} team has the role {role}? Reply with their username only.",
        checklist=[
            UrlMatches(site=SITE, path="/users", query={"team": team, "role": role}),
            AnswerMatches(value=user.username),
        ],
        success=[AnswerMatches(value=user.username)],
        answer=user.username,
        oracle=[*_filter(Team=team, Role=role), button("Filter"), say(user.username)],
        level="medium",
    )


def deactivate(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Turn an active account off."""
    user = rng.choice([u for u in data.users if u.active])
    done = UserHas(username=user.username, field="active", value=False)
    return _task(
        "deactivate",
        seed,
        goal=f"Deactivate the user {user.username}.",
        checklist=[_on_user(user), done],
        success=[done],
        oracle=[*_open_user(user), uncheck("Active"), button("Save changes")],
        level="easy",
    )


def change_role(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Give a user, named by full name, another role."""
    user = rng.choice(data.users)
    role = rng.choice([r for r in ROLES if r != user.role])
    done = UserHas(username=user.username, field="role", value=role)
    return _task(
        "change-role",
        seed,
        goal=f"Change the role of {user.full_name} to {role}.",
        checklist=[_on_user(user), done],
        success=[done],
        oracle=[
            *_find(user.full_name),
            link(user.username),
            select("Role", role),
            button("Save changes"),
        ],
        level="easy",
    )


def toggle_setting(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Switch a settings checkbox to the state it is not in, and pick another time zone."""
    field, label, feature = rng.choice(TOGGLES)
    turn_on = not getattr(data.settings, field)
    zone = rng.choice([z for z in TIME_ZONES if z != data.settings.time_zone])
    done = [SettingIs(name=field, value=turn_on), SettingIs(name="time_zone", value=zone)]
    return _task(
        "toggle-setting",
        seed,
        goal=f"In the settings, turn {'on' if turn_on else 'off'} {feature} and set the time"
        f" zone to {zone}.",
        checklist=[UrlMatches(site=SITE, path="/settings"), *done],
        success=done,
        oracle=[
            link("Settings"),
            check(label) if turn_on else uncheck(label),
            select("Time zone", zone),
            button("Save settings"),
        ],
        level="easy",
    )


def create_user(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Create an account with every field given."""
    first, last = _new_person(data, rng)
    username = f"{first[0]}{last}".lower()
    email = f"{first}.{last}@{data.domain}".lower()
    role, team = rng.choice(ROLES), rng.choice(TEAMS)
    fields = {"full_name": f"{first} {last}", "email": email, "role": role, "team": team}
    done = [UserHas(username=username, field=k, value=v) for k, v in fields.items()]
    return _task(
        "create-user",
        seed,
        goal=f"Create an active user with username {username} for {first} {last}"
        f" ({email}), with the role {role}, in the {team} team.",
        checklist=[UrlMatches(site=SITE, path="/users/new"), UserExists(username=username)],
        success=[*done, UserHas(username=username, field="active", value=True)],
        oracle=[
            link("New user"),
            fill("Username", username),
            fill("Full name", fields["full_name"]),
            fill("Email", email),
            select("Role", role),
            select("Team", team),
            button("Create user"),
        ],
        level="medium",
    )


def move_and_promote(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Change a user's team and role in one edit."""
    user = rng.choice(data.users)
    team = rng.choice([t for t in TEAMS if t != user.team])
    role = rng.choice([r for r in ROLES if r != user.role])
    moved = UserHas(username=user.username, field="team", value=team)
    promoted = UserHas(username=user.username, field="role", value=role)
    return _task(
        "move-and-promote",
        seed,
        goal=f"Move {user.full_name} to the {team} team and make them {_article(role)} {role}.",
        checklist=[_on_user(user), moved, promoted],
        success=[moved, promoted],
        oracle=[
            *_find(user.full_name),
            link(user.username),
            select("Team", team),
            select("Role", role),
            button("Save changes"),
        ],
        level="medium",
    )


def timeout_limit(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Ask for a timeout over the limit: read the error, save the largest allowed value."""
    wanted, highest = rng.choice((500, 600, 720, 900)), TIMEOUT_RANGE[1]
    zone = rng.choice([z for z in TIME_ZONES if z != data.settings.time_zone])
    done = [
        SettingIs(name="session_timeout", value=highest),
        SettingIs(name="time_zone", value=zone),
    ]
    return _task(
        "timeout-limit",
        seed,
        goal=f"In the settings, set the time zone to {zone} and the session timeout to"
        f" {wanted} minutes. If the console does not accept that timeout, use the largest"
        " timeout it accepts instead.",
        checklist=[UrlMatches(site=SITE, path="/settings"), *done],
        success=done,
        oracle=[
            link("Settings"),
            select("Time zone", zone),
            fill("Session timeout (minutes)", str(wanted)),
            button("Save settings"),
            fill("Session timeout (minutes)", str(highest)),
            button("Save settings"),
        ],
        level="hard",
    )


def create_taken(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Create a namesake of an existing user: the first username is taken, so use the other."""
    namesake = rng.choice(data.users)
    taken, fallback = namesake.username, f"{namesake.username}2"
    email = f"{namesake.full_name.split()[0][0]}.{namesake.full_name.split()[1]}@{data.domain}"
    email = email.lower()
    role, team = rng.choice(ROLES), rng.choice(TEAMS)
    done = [
        UserHas(username=fallback, field="full_name", value=namesake.full_name),
        UserHas(username=fallback, field="email", value=email),
        UserHas(username=fallback, field="role", value=role),
        UserHas(username=fallback, field="team", value=team),
    ]
    return _task(
        "create-taken",
        seed,
        goal=f"Create an active user for {namesake.full_name} ({email}) with the role {role}"
        f" in the {team} team. Use the username {taken}; if it is already taken, use"
        f" {fallback} instead.",
        checklist=[UrlMatches(site=SITE, path="/users/new"), UserExists(username=fallback)],
        success=[*done, UserHas(username=taken, field="email", value=namesake.email)],
        oracle=[
            link("New user"),
            fill("Username", taken),
            fill("Full name", namesake.full_name),
            fill("Email", email),
            select("Role", role),
            select("Team", team),
            button("Create user"),
            fill("Username", fallback),
            button("Create user"),
        ],
        level="hard",
    )


def deactivate_group(data: AdminData, rng: random.Random, seed: int) -> WebTask:
    """Deactivate every active user of a team with a role (two or three of them)."""
    groups = Counter((u.team, u.role) for u in data.users if u.active)
    team, role = rng.choice(sorted(pair for pair, n in groups.items() if 2 <= n <= 3))
    users = data.filtered(team=team, role=role, status="active")
    done = [UserHas(username=u.username, field="active", value=False) for u in users]
    steps: list[OracleStep] = []
    for user in users:
        steps += [
            *_filter(Team=team, Role=role, Status="Active"),
            button("Filter"),
            link(user.username),
            uncheck("Active"),
            button("Save changes"),
        ]
    return _task(
        "deactivate-group",
        seed,
        goal=f"Deactivate every active user with the role {role} in the {team} team.",
        checklist=done,
        success=done,
        oracle=steps,
        level="hard",
    )


def _article(word: str) -> str:
    return "an" if word[0] in "AEIOU" else "a"


def _new_person(data: AdminData, rng: random.Random) -> tuple[str, str]:
    """A first and last name that no account has (so its email address is free too)."""
    taken = {u.full_name for u in data.users}
    first, last = rng.choice(
        sorted((f, s) for f in FIRST_NAMES for s in LAST_NAMES if f"{f} {s}" not in taken)
    )
    return first, last


TEMPLATES: tuple[Callable[[AdminData, random.Random, int], WebTask], ...] = (
    role_of,
    email_of,
    count_inactive,
    who_has_role,
    deactivate,
    change_role,
    toggle_setting,
    create_user,
    move_and_promote,
    timeout_limit,
    create_taken,
    deactivate_group,
)
"""Every admin template, in the order tasks are generated."""
