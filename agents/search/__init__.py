"""Test-time search: PRM-guided choices among sampled candidate actions.

Chosen by a spec string (``prmgym eval --search ...``):

==================================  ===================================================
``prune:k=4``                       per-step pruning: 4 candidates, the verifier decides
``prune:k=8,prm=rubric``            any scorer spec decides (see ``--prm``)
``prune:k=4,hard_rules=off``        the PRM alone, no hard-rule rejection
``prune:k=4,lookahead=1``           score the step each candidate produces in a snapshot
``prune:k=8,early=8,prm=rubric``    early rejection: draft 8 tokens of each, complete half
``beam:b=2,k=4``                    step beam search: 2 beams, 4 candidates per beam and step
``bon:n=4``                         best-of-N episodes by the verifier's min step score
``wbon:n=8,prm=rubric,how=mean``    weighted best-of-N: answers voted with PRM weights
==================================  ===================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gymnasium

from prmgym.agents.policies.base import Policy
from prmgym.agents.runner import ProgressCallback, run_episodes
from prmgym.agents.search.beam import BeamSearch, run_beam_search
from prmgym.agents.search.best_of_n import BestOfN, run_best_of_n
from prmgym.agents.search.pruning import StepPruning
from prmgym.errors import ConfigError
from prmgym.rewards.aggregation import STEP_AGGREGATIONS
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.registry import JudgeFactory, make_scorer
from prmgym.trajectory import Trajectory

SearchMethod = StepPruning | BeamSearch | BestOfN

SEARCH_SPECS = (
    "prune:k=K[,prm=SCORER][,hard_rules=on|off][,lookahead=0|1][,early=TAU][,keep=SHARE]"
    " | beam:b=B,k=K[,prm=SCORER][,how=min|mean|last|product|soft_min]"
    " | bon:n=N[,prm=SCORER][,how=...] | wbon:n=N[,...]"
)
_OPTIONS = {
    "prune": ("k", "prm", "hard_rules", "lookahead", "early", "keep"),
    "beam": ("b", "k", "prm", "how"),
    "bon": ("n", "prm", "how"),
    "wbon": ("n", "prm", "how"),
}


def _whole(spec: str, key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number in {spec!r}; e.g. {key}=4") from None


def make_search(spec: str, *, family: str, judge: JudgeFactory | None = None) -> SearchMethod:
    """Build a search method from its spec (see the module docstring).

    Raises:
        ConfigError: Unknown method or option, or a bad value; the message shows the syntax.
    """
    method, _, rest = spec.partition(":")
    if method not in _OPTIONS:
        raise ConfigError(f"unknown search {spec!r}; use {SEARCH_SPECS}")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in _OPTIONS[method]:
            raise ConfigError(f"bad search option {part!r} in {spec!r}; use {SEARCH_SPECS}")
        options[key] = value
    prm = make_scorer(options.get("prm", "verifier"), family=family, judge=judge)
    how = options.get("how", "min")
    if how not in STEP_AGGREGATIONS:
        raise ConfigError(f"how is one of {', '.join(STEP_AGGREGATIONS)}, got {how!r}")
    if method == "beam":
        b = _whole(spec, "b", options.get("b", "2"))
        k = _whole(spec, "k", options.get("k", "4"))
        return BeamSearch(prm, b, k, how)  # type: ignore[arg-type]
    if method in ("bon", "wbon"):
        n = _whole(spec, "n", options.get("n", "4"))
        return BestOfN(prm, n, how, weighted=method == "wbon")  # type: ignore[arg-type]
    k = _whole(spec, "k", options.get("k", "4"))
    hard = options.get("hard_rules", "on")
    if hard not in ("on", "off"):
        raise ConfigError(f"hard_rules is on or off, got {hard!r}")
    lookahead = options.get("lookahead", "0")
    if lookahead not in ("0", "1"):
        raise ConfigError(f"lookahead is 0 or 1 (one step), got {lookahead!r}")
    early = _whole(spec, "early", options["early"]) if "early" in options else None
    try:
        keep = float(options.get("keep", "0.5"))
    except ValueError:
        raise ConfigError(f"keep is a share in (0, 1] in {spec!r}; e.g. keep=0.5") from None
    return StepPruning(
        prm,
        k,
        use_hard_rules=hard == "on",
        lookahead=lookahead == "1",
        early=early,
        keep=keep,
    )


def run_search(
    make_env: Callable[[], gymnasium.Env[str, str]],
    task_ids: Sequence[str],
    policy: Policy,
    method: SearchMethod | None,
    *,
    scorers: Sequence[ProcessRewardModel] = (),
    batch_size: int = 8,
    seed: int = 0,
    on_done: ProgressCallback | None = None,
) -> list[Trajectory]:
    """One kept episode per task id under ``method`` (None: the policy's single draw per step).

    Every method returns trajectories in task order whose accounting holds all the compute
    spent on them, so methods compare at equal compute.
    """
    if isinstance(method, BeamSearch | BestOfN):
        # Both keep one episode per task out of several they run themselves.
        runner = run_beam_search if isinstance(method, BeamSearch) else run_best_of_n
        return runner(
            make_env,
            task_ids,
            policy,
            method,  # type: ignore[arg-type]
            scorers=scorers,
            batch_size=batch_size,
            seed=seed,
            on_done=on_done,
        )
    return run_episodes(
        make_env,
        task_ids,
        policy,
        scorers=scorers,
        batch_size=batch_size,
        seed=seed,
        on_done=on_done,
        search=method,
    )


__all__ = [
    "SEARCH_SPECS",
    "BeamSearch",
    "BestOfN",
    "SearchMethod",
    "StepPruning",
    "make_search",
    "run_beam_search",
    "run_best_of_n",
    "run_search",
]
