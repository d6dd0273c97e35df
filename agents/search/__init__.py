"""Test-time search: PRM-guided choices among sampled candidate actions.

Chosen by a spec string (``prmgym eval --search ...``):

==================================  ===================================================
``prune:k=4``                       per-step pruning: 4 candidates, the verifier decides
``prune:k=8,prm=rubric``            any scorer spec decides (see ``--prm``)
``prune:k=4,hard_rules=off``        the PRM alone, no hard-rule rejection
``prune:k=4,lookahead=1``           score the step each candidate produces in a snapshot
==================================  ===================================================
"""

from __future__ import annotations

from prmgym.agents.search.pruning import StepPruning
from prmgym.errors import ConfigError
from prmgym.rewards.registry import JudgeFactory, make_scorer

SEARCH_SPECS = "prune:k=K[,prm=SCORER][,hard_rules=on|off][,lookahead=0|1]"


def make_search(spec: str, *, family: str, judge: JudgeFactory | None = None) -> StepPruning:
    """Build a search method from its spec (see the module docstring).

    Raises:
        ConfigError: Unknown method or option, or a bad value; the message shows the syntax.
    """
    method, _, rest = spec.partition(":")
    if method != "prune":
        raise ConfigError(f"unknown search {spec!r}; use {SEARCH_SPECS}")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("k", "prm", "hard_rules", "lookahead"):
            raise ConfigError(f"bad search option {part!r} in {spec!r}; use {SEARCH_SPECS}")
        options[key] = value
    try:
        k = int(options.get("k", "4"))
    except ValueError:
        raise ConfigError(f"k must be a whole number in {spec!r}; e.g. prune:k=4") from None
    hard = options.get("hard_rules", "on")
    if hard not in ("on", "off"):
        raise ConfigError(f"hard_rules is on or off, got {hard!r}")
    lookahead = options.get("lookahead", "0")
    if lookahead not in ("0", "1"):
        raise ConfigError(f"lookahead is 0 or 1 (one step), got {lookahead!r}")
    prm = make_scorer(options.get("prm", "verifier"), family=family, judge=judge)
    return StepPruning(prm, k, use_hard_rules=hard == "on", lookahead=lookahead == "1")


__all__ = ["SEARCH_SPECS", "StepPruning", "make_search"]
