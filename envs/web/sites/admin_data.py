"""The admin console's state: user accounts and the organisation's settings, from a seed.

Every seed gives 36 accounts with unique full names (username ``first.last``), a role, a team
and an active flag, plus one settings record. Changes go through functions that validate a
submitted form the way the pages show it: one sentence per problem.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from prmgym.envs.web.sites.validation import is_email, whole_number

ROLES = ("Viewer", "Editor", "Manager", "Auditor", "Admin")
TEAMS = ("Sales", "Support", "Engineering", "Finance", "Marketing")
TIME_ZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
    "Asia/Tokyo", "Australia/Sydney",
)  # fmt: skip
FIRST_NAMES = (
    "Ada", "Ben", "Carla", "Dev", "Elena", "Femi", "Grace", "Hugo", "Iris", "Jonas", "Kenji",
    "Lucia", "Mateo", "Nadia", "Oscar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar",
    "Vera", "Wes", "Yara",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Berg", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hale", "Ito", "Jensen",
    "Khan", "Lopez", "Meyer", "Novak", "Olsen", "Patel", "Reyes", "Silva", "Tanaka", "Usman",
    "Varga", "Weber", "Young", "Zhou",
)  # fmt: skip
DOMAINS = ("northwind.test", "acme.test", "globex.test", "initech.test")
N_USERS = 36
TIMEOUT_RANGE = (5, 480)
"""Allowed session timeouts, in minutes."""
TODAY = "2024-06-03"

USERNAME_RULE = (
    "3 to 30 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter"
)
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,29}")


@dataclass
class User:
    """One account."""

    username: str
    full_name: str
    email: str
    role: str
    team: str
    active: bool
    last_login: str


@dataclass
class Settings:
    """The organisation's settings, one field per form control."""

    site_name: str
    support_email: str
    time_zone: str
    session_timeout: int
    default_role: str
    allow_registration: bool
    require_2fa: bool
    maintenance_mode: bool


@dataclass
class AdminData:
    """Everything the admin console remembers."""

    domain: str
    settings: Settings
    users: list[User] = field(default_factory=list)

    def user(self, username: str) -> User | None:
        """The account with this username, if any."""
        return next((u for u in self.users if u.username == username), None)

    def filtered(
        self, text: str = "", role: str = "", team: str = "", status: str = ""
    ) -> list[User]:
        """Accounts matching every given filter, by username.

        Args:
            text: Appears (case-insensitive) in the username or the full name.
            role: The exact role, or "" for any.
            team: The exact team, or "" for any.
            status: "active", "inactive", or "" for any.
        """
        needle = text.strip().casefold()
        chosen = [
            u
            for u in self.users
            if (needle in u.username or needle in u.full_name.casefold())
            and role in ("", u.role)
            and team in ("", u.team)
            and status in ("", "active" if u.active else "inactive")
        ]
        return sorted(chosen, key=lambda u: u.username)


def generate_admin(seed: int) -> AdminData:
    """The admin console's data for a seed; the same seed always gives equal data."""
    rng = random.Random(f"prmgym-web-admin-{seed}")
    domain = rng.choice(DOMAINS)
    pairs = rng.sample([(f, s) for f in FIRST_NAMES for s in LAST_NAMES], N_USERS)
    users = []
    for first, last in pairs:
        username = f"{first}.{last}".lower()
        users.append(
            User(
                username=username,
                full_name=f"{first} {last}",
                email=f"{username}@{domain}",
                role=rng.choices(ROLES, weights=(5, 4, 2, 1, 1))[0],
                team=rng.choice(TEAMS),
                active=rng.random() < 0.8,
                last_login=f"2024-05-{rng.randint(1, 31):02d}",
            )
        )
    company = domain.split(".")[0].capitalize()
    settings = Settings(
        site_name=f"{company} Portal",
        support_email=f"support@{domain}",
        time_zone=rng.choice(TIME_ZONES),
        session_timeout=rng.choice((15, 30, 45, 60, 90, 120)),
        default_role=rng.choice(("Viewer", "Editor")),
        allow_registration=rng.random() < 0.5,
        require_2fa=rng.random() < 0.5,
        maintenance_mode=False,
    )
    return AdminData(domain=domain, settings=settings, users=users)


def check_user_form(data: AdminData, form: dict[str, str], user: User | None) -> list[str]:
    """What is wrong with a new-user (``user`` None) or edit-user form, if anything."""
    problems = []
    if user is None:
        username = form.get("username", "").strip()
        if not _USERNAME.fullmatch(username):
            problems.append(f"Username must be {USERNAME_RULE}.")
        elif data.user(username) is not None:
            problems.append(f"Username “{username}” is already taken.")
    if not form.get("full_name", "").strip():
        problems.append("Full name is required.")
    email = form.get("email", "").strip()
    if not is_email(email):
        problems.append("Email must be a valid address, like name@example.com.")
    elif any(u.email.casefold() == email.casefold() and u is not user for u in data.users):
        problems.append(f"Email “{email}” belongs to another user.")
    if form.get("role") not in ROLES:
        problems.append(f"Choose a role: {', '.join(ROLES)}.")
    if form.get("team") not in TEAMS:
        problems.append(f"Choose a team: {', '.join(TEAMS)}.")
    return problems


def save_user(
    data: AdminData, form: dict[str, str], user: User | None
) -> tuple[User | None, list[str]]:
    """Create an account (``user`` None) or change ``user`` from a submitted form.

    Returns:
        The saved account, or None and the problems that stopped it.
    """
    problems = check_user_form(data, form, user)
    if problems:
        return None, problems
    if user is None:
        user = User(form["username"].strip(), "", "", "", "", False, "never")
        data.users.append(user)
    user.full_name = form["full_name"].strip()
    user.email = form["email"].strip()
    user.role, user.team = form["role"], form["team"]
    user.active = "active" in form
    return user, []


def save_settings(data: AdminData, form: dict[str, str]) -> list[str]:
    """Replace the settings with a submitted settings form; returns the problems, if any."""
    problems = []
    site_name = form.get("site_name", "").strip()
    if not site_name:
        problems.append("Site name is required.")
    email = form.get("support_email", "").strip()
    if not is_email(email):
        problems.append("Support email must be a valid address, like help@example.com.")
    if form.get("time_zone") not in TIME_ZONES:
        problems.append("Choose a time zone from the list.")
    low, high = TIMEOUT_RANGE
    timeout = whole_number(form.get("session_timeout", ""), low, high)
    if timeout is None:
        problems.append(f"Session timeout must be a whole number of minutes from {low} to {high}.")
    if form.get("default_role") not in ROLES:
        problems.append(f"Choose a default role: {', '.join(ROLES)}.")
    if problems or timeout is None:
        return problems
    data.settings = Settings(
        site_name=site_name,
        support_email=email,
        time_zone=form["time_zone"],
        session_timeout=timeout,
        default_role=form["default_role"],
        allow_registration="allow_registration" in form,
        require_2fa="require_2fa" in form,
        maintenance_mode="maintenance_mode" in form,
    )
    return []
