"""How the sites spell names in their URLs."""

from __future__ import annotations


def slug(category: str) -> str:
    """A category's URL part: ``"Home Office"`` -> ``"home-office"``."""
    return category.lower().replace(" ", "-")
