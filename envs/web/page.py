"""What an agent sees of a page: its accessibility tree, each element named by an id.

As in BrowserGym, every element of the page gets a ``bid`` attribute (numbers in document
order, so the same page gives the same ids), and the accessibility tree Chromium computes is
printed one node a line with the ids of the elements behind it::

    RootWebArea 'Blue Ceramic Mug | Shop'
      [12] link 'Home'
      [30] textbox 'Quantity' value='1'
      [31] button 'Add to cart'
      StaticText 'In stock: 14'

The tree comes from the Chrome DevTools Protocol (``Accessibility.getFullAXTree``); a DOM
snapshot maps each node's backend id to the ``bid`` the marking set, so actions can find
the element again by ``[bid="12"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page

BID = "bid"
"""The attribute holding an element's id."""

# Gives every element without an id the next number; the counter lives on the window, so a
# new page starts from 0 and elements added later get fresh numbers.
_MARK = """() => {
  let next = window.__prmgymNextBid || 0;
  for (const element of document.querySelectorAll('*:not([bid])')) {
    element.setAttribute('bid', String(next++));
  }
  window.__prmgymNextBid = next;
  return next;
}"""

# Roles that only group others: printed through (their children move up) unless named.
_TRANSPARENT = {
    "generic",
    "none",
    "presentation",
    "LineBreak",
    "paragraph",
    "LabelText",
    "MenuListPopup",
}
# Text runs inside a StaticText: the StaticText already says it.
_HIDDEN = {"InlineTextBox"}
_PROPERTIES = ("checked", "selected", "expanded", "disabled", "required", "focused", "invalid")


async def mark_elements(page: Page) -> int:
    """Give every element of the page's main frame a ``bid``; returns how many exist."""
    return int(await page.evaluate(_MARK))


async def accessibility_tree(page: Page, cdp: CDPSession, max_lines: int = 400) -> str:
    """The page's accessibility tree as text, elements marked ``[bid]`` (see module docs)."""
    await mark_elements(page)
    tree = await cdp.send("Accessibility.getFullAXTree")
    snapshot = await cdp.send("DOMSnapshot.captureSnapshot", {"computedStyles": []})
    bids = _bids_by_backend_id(snapshot)
    nodes = {node["nodeId"]: node for node in tree["nodes"]}
    roots = [node for node in tree["nodes"] if not node.get("parentId")]
    lines: list[str] = []
    for root in roots:
        _render(root, nodes, bids, 0, lines, parent_name="")
    if len(lines) > max_lines:
        cut = len(lines) - max_lines
        lines = [*lines[:max_lines], f"[... {cut} more lines; scroll or follow a link to see them]"]
    return "\n".join(lines)


def _bids_by_backend_id(snapshot: dict[str, Any]) -> dict[int, str]:
    strings = snapshot["strings"]
    found: dict[int, str] = {}
    for document in snapshot["documents"]:
        nodes = document["nodes"]
        for backend_id, attributes in zip(
            nodes["backendNodeId"], nodes.get("attributes", []), strict=False
        ):
            for i in range(0, len(attributes) - 1, 2):
                if strings[attributes[i]] == BID:
                    found[backend_id] = strings[attributes[i + 1]]
                    break
    return found


def _value(field: dict[str, Any] | None) -> Any:
    return None if field is None else field.get("value")


def _render(
    node: dict[str, Any],
    nodes: dict[str, dict[str, Any]],
    bids: dict[int, str],
    depth: int,
    lines: list[str],
    parent_name: str,
) -> None:
    role = str(_value(node.get("role")) or "")
    name = str(_value(node.get("name")) or "").strip()
    shown = not node.get("ignored") and role not in _HIDDEN
    shown = shown and not (role in _TRANSPARENT and not name)
    # A link's or a field's own text repeats as a StaticText child: printed once.
    if role == "StaticText" and (not name or name == parent_name):
        shown = False
    value = _value(node.get("value"))
    if shown:
        bid = bids.get(node.get("backendDOMNodeId", -1))
        parts = [f"[{bid}] {role}" if bid is not None else role]
        if name:
            parts.append(repr(name))
        if value not in (None, ""):
            parts.append(f"value={str(value)!r}")
        for prop in node.get("properties", []):
            flag = _value(prop.get("value"))
            if prop["name"] in _PROPERTIES and flag not in (None, False, "false"):
                parts.append(prop["name"] if flag in (True, "true") else f"{prop['name']}={flag}")
        lines.append("  " * depth + " ".join(parts))
    for child_id in node.get("childIds", []):
        child = nodes.get(child_id)
        if child is not None:
            said = str(value) if value not in (None, "") else name
            _render(child, nodes, bids, depth + 1 if shown else depth, lines, said or parent_name)
