"""Rubric generation: criteria learned by contrasting a task's successful and failed episodes.

Two papers, one pipeline::

    rubric, report = generate_rubric(trajectories, propose, judge, name="search-learned")
    write_rubric(rubric, report, "search-learned.yaml", source="runs/eval-1")

1. **Pairs.** Episodes of one run are grouped by task; each task's successes and failures are
   zipped into (success, failure) pairs. Broken episodes (``error`` set) are left out: a
   crash says nothing about the agent's behaviour.
2. **Propose** (OpenRubrics' contrastive rubric generation, "OpenRubrics: Towards Scalable
   Synthetic Rubric Generation for Reward Modeling and LLM Alignment", arXiv 2510.07743): an
   LLM reads the task and both episodes and writes the criteria that separate them, as hard
   rules (must hold) and principles (qualities), one a line: ``HARD: ...`` / ``PRINCIPLE: ...``.
   Other lines are ignored.
3. **Decompose and filter** (RRD, "Rethinking Rubric Generation for Improving LLM Judge and
   Reward Modeling", arXiv 2602.05125): compound criteria are split at a top-level " and "
   (:func:`decompose`); each criterion then judges every step of both episodes of every pair,
   an episode scoring the mean over its steps, and is kept only when
   score(success) > score(failure) on at least ``min_agreement`` of the pairs. Near-duplicates
   (token overlap, :func:`token_overlap`) are dropped, keeping the more discriminative one.
4. **Write** a rubric that :func:`~prmgym.rewards.rubrics.rubric.load_rubric` reads and
   :class:`~prmgym.rewards.rubrics.agent.RubricPRM` runs; each criterion's weight is its
   agreement, and the provenance (source run, pairs, agreement and margin per criterion) is
   written as YAML comments, since the rubric schema has no free-text field.

Criteria are judged step by step, exactly as the rubric agent will later judge them (task and
earlier steps as context), so the filter measures the criterion as it will be used.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from prmgym.errors import ConfigError
from prmgym.rewards.judges.base import Judge, JudgeQuery, Question
from prmgym.rewards.render import render_prompt, render_step
from prmgym.rewards.rubrics.agent import JUDGE_OBSERVATION_CHARS
from prmgym.rewards.rubrics.rubric import Criterion, CriterionKind, Rubric
from prmgym.rewards.rubrics.scoring import forward_context
from prmgym.trajectory import Trajectory

NO_PAIRS_HINT = (
    "the run needs at least one task with both a success and a failure; run eval with more"
    " episodes per task or a noisy agent (e.g. --agent noisy-oracle:0.5)"
)

_LINE = re.compile(
    r"^\s*(?:[-*\u2022]|\d+[.)])?\s*\**\s*(hard(?:[\s_-]*rule)?|principle)\s*\**\s*[:\-\u2013]\s*"
    r"\**\s*(?P<text>.+?)\s*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the of to in on for and or is are be it its that this with by as at from step agent"
    " action each every".split()
)
_DETERMINERS = frozenset({"the", "a", "an", "each", "every"})
MIN_WORDS = 3
"""A proposed or split criterion with fewer words is too vague to judge, so it is dropped."""
MAX_CRITERION_CHARS = 300
"""Longer lines are explanations, not criteria."""


@dataclass(frozen=True)
class Pair:
    """Two episodes of the same task: one that succeeded, one that failed."""

    success: Trajectory
    failure: Trajectory

    @property
    def task_id(self) -> str:
        """The task both episodes ran."""
        return self.success.task.id


@dataclass(frozen=True)
class Proposal:
    """A criterion an LLM proposed, before filtering."""

    kind: CriterionKind
    text: str


@dataclass(frozen=True)
class Evaluation:
    """How a criterion judged the pairs.

    Attributes:
        proposal: The criterion.
        margins: Per pair, score(success) - score(failure); > 0 means the preference holds.
    """

    proposal: Proposal
    margins: tuple[float, ...]

    @property
    def agreement(self) -> float:
        """Share of pairs whose known preference the criterion reproduces (ties do not)."""
        return sum(m > 0 for m in self.margins) / len(self.margins) if self.margins else 0.0

    @property
    def margin(self) -> float:
        """Mean margin over the pairs: how far apart the criterion puts success and failure."""
        return sum(self.margins) / len(self.margins) if self.margins else 0.0


@dataclass
class RubricGenerationConfig:
    """Knobs of :func:`generate_rubric`; validated on creation."""

    min_agreement: float = 0.6
    """Keep a criterion reproducing the preference on at least this share of pairs (RRD)."""
    max_criteria: int = 8
    """Most criteria written, the most discriminative first."""
    max_pairs: int = 16
    """Most pairs used, one proposal call each; pairs are taken round-robin over tasks."""
    duplicate_overlap: float = 0.6
    """Token overlap (Jaccard) at or above which two criteria count as one."""
    episode_chars: int = 3000
    """Characters of each episode the proposer reads (a small model's context is short)."""

    def __post_init__(self) -> None:
        if not 0 <= self.min_agreement <= 1:
            raise ConfigError(
                f"min_agreement must be in [0, 1], got {self.min_agreement}; e.g. 0.6"
            )
        if self.max_criteria < 1 or self.max_pairs < 1:
            raise ConfigError("max_criteria and max_pairs must be at least 1")
        if not 0 < self.duplicate_overlap <= 1:
            raise ConfigError(
                f"duplicate_overlap must be in (0, 1], got {self.duplicate_overlap}; 1 keeps"
                " all but exact duplicates"
            )
        if self.episode_chars < 200:
            raise ConfigError(f"episode_chars must be at least 200, got {self.episode_chars}")


@dataclass(frozen=True)
class GenerationReport:
    """What generation saw and decided, for the rubric's provenance comments."""

    pairs: tuple[Pair, ...]
    proposed: int
    kept: tuple[Evaluation, ...]
    rejected: tuple[Evaluation, ...]


def make_pairs(trajectories: Sequence[Trajectory], max_pairs: int | None = None) -> list[Pair]:
    """(success, failure) pairs of the same task, taken round-robin over tasks.

    Each task's i-th success pairs with its i-th failure (no episode is reused), and the
    round-robin order means a ``max_pairs`` cut still covers as many tasks as it can.
    """
    successes: dict[str, list[Trajectory]] = defaultdict(list)
    failures: dict[str, list[Trajectory]] = defaultdict(list)
    for trajectory in trajectories:
        if trajectory.error is None and trajectory.steps:
            side = successes if trajectory.success else failures
            side[trajectory.task.id].append(trajectory)
    per_task = [
        [Pair(s, f) for s, f in zip(successes[task], failures[task], strict=False)]
        for task in sorted(successes.keys() & failures.keys())
    ]
    pairs = [
        task_pairs[i]
        for i in range(max((len(p) for p in per_task), default=0))
        for task_pairs in per_task
        if i < len(task_pairs)
    ]
    return pairs[:max_pairs] if max_pairs is not None else pairs


def render_episode(trajectory: Trajectory, max_chars: int) -> str:
    """The steps of an episode as the rubric agent renders them, cut to ``max_chars``."""
    text = "\n".join(render_step(s, JUDGE_OBSERVATION_CHARS) for s in trajectory.steps)
    return text if len(text) <= max_chars else text[:max_chars] + "\n[... cut]"


def proposal_prompt(pair: Pair, episode_chars: int = 3000) -> str:
    """The contrastive prompt (OpenRubrics): the task, a success, a failure, the line format."""
    return (
        "Two attempts at the same task follow: the first succeeded, the second failed.\n\n"
        f"{render_prompt(pair.success).strip()}\n\n"
        f"SUCCESSFUL ATTEMPT:\n{render_episode(pair.success, episode_chars)}\n\n"
        f"FAILED ATTEMPT:\n{render_episode(pair.failure, episode_chars)}\n\n"
        "Write criteria a reviewer can check on a single step of an attempt, which the"
        " successful attempt's steps meet and the failed attempt's steps do not. Make them"
        " general: they must apply to other tasks of this kind, so do not name this task's"
        " answer. Write hard rules (things a step must never violate) and principles"
        " (qualities of a good step), one per line, each line exactly\n"
        "HARD: <rule>\n"
        "PRINCIPLE: <quality>\n"
        "and nothing else."
    )


def parse_proposals(text: str) -> list[Proposal]:
    """The ``HARD:`` / ``PRINCIPLE:`` lines of a reply (any case, bullets, numbering, bold).

    Other lines, too-short and too-long criteria are ignored: a small model's reply is noisy.
    """
    proposals = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        criterion = match["text"].strip().strip("*").strip()
        if len(criterion.split()) < MIN_WORDS or len(criterion) > MAX_CRITERION_CHARS:
            continue
        kind: CriterionKind = "principle" if match[1].lower() == "principle" else "hard_rule"
        proposals.append(Proposal(kind, criterion))
    return proposals


def decompose(proposal: Proposal) -> list[Proposal]:
    """Split a compound criterion at its top-level " and "s into atomic ones (RRD).

    RRD decomposes with an LLM; this heuristic does the common case: "The query names the
    module and the agent opens a result" becomes two criteria. A part lacking its own subject
    ("... and opens a result") borrows the first part's leading determiner and noun ("The
    query"). No split happens inside parentheses or when a part would be under three words
    ("search and open the docs" stays whole).
    """
    parts = _top_level_split(proposal.text.rstrip(". "), " and ")
    if len(parts) < 2 or any(len(p.split()) < MIN_WORDS for p in parts):
        return [proposal]
    first = parts[0].split()
    subject = " ".join(first[:2]) if first[0].lower() in _DETERMINERS else ""
    out = []
    for i, part in enumerate(parts):
        part = part.strip(" ,")
        lead = part.split()[0]
        if i and subject and lead.islower() and lead not in _DETERMINERS:
            part = f"{subject} {part}"
        out.append(Proposal(proposal.kind, f"{part[0].upper()}{part[1:]}."))
    return out


def _top_level_split(text: str, separator: str) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i = i + len(separator)
            continue
        i += 1
    parts.append(text[start:])
    return parts


def tokens(text: str) -> frozenset[str]:
    """Content words of a criterion, lower-cased, for duplicate detection."""
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS)


def token_overlap(a: str, b: str) -> float:
    """Jaccard overlap of two criteria's content words, in [0, 1]."""
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def episode_queries(trajectory: Trajectory, criteria: tuple[Question, ...]) -> list[JudgeQuery]:
    """One query per step, in the rubric agent's forward view: task and earlier steps as context."""
    prompt = render_prompt(trajectory)
    blocks = [render_step(s, JUDGE_OBSERVATION_CHARS) for s in trajectory.steps]
    return [
        JudgeQuery(context=forward_context(prompt, blocks[:i]), step=block, criteria=criteria)
        for i, block in enumerate(blocks)
    ]


def evaluate(
    proposals: Sequence[Proposal],
    pairs: Sequence[Pair],
    judge: Judge,
    progress: Callable[[int], None] | None = None,
) -> list[Evaluation]:
    """Judge both episodes of every pair on every proposal; one judge call per pair.

    An episode scores the mean over its steps of P(criterion holds), so a criterion that
    separates the episodes must hold on more of the successful one's steps.

    Args:
        proposals: The candidate criteria.
        pairs: The pairs with a known preference (success over failure).
        judge: Scores each step on all proposals in one batched call.
        progress: Called with the number of pairs judged so far.
    """
    questions = tuple(Question(p.text) for p in proposals)
    margins: list[list[float]] = [[] for _ in proposals]
    for done, pair in enumerate(pairs, start=1):
        win = episode_queries(pair.success, questions)
        lose = episode_queries(pair.failure, questions)
        answers = judge.judge([*win, *lose])
        for j, column in enumerate(zip(*answers, strict=True)):
            win_score = sum(column[: len(win)]) / len(win)
            lose_score = sum(column[len(win) :]) / len(lose)
            margins[j].append(win_score - lose_score)
        if progress is not None:
            progress(done)
    return [Evaluation(p, tuple(m)) for p, m in zip(proposals, margins, strict=True)]


def select(
    evaluations: Sequence[Evaluation], config: RubricGenerationConfig
) -> tuple[list[Evaluation], list[Evaluation]]:
    """Kept and rejected criteria: agreement at least ``min_agreement``, no near-duplicates.

    Candidates are ranked by agreement, then mean margin; a candidate overlapping a kept one
    at ``duplicate_overlap`` or more is dropped, so of two duplicates the more discriminative
    stays. At most ``max_criteria`` are kept.
    """
    ranked = sorted(evaluations, key=lambda e: (e.agreement, e.margin), reverse=True)
    kept: list[Evaluation] = []
    rejected: list[Evaluation] = []
    for evaluation in ranked:
        duplicate = any(
            token_overlap(evaluation.proposal.text, k.proposal.text) >= config.duplicate_overlap
            for k in kept
        )
        if (
            evaluation.agreement >= config.min_agreement
            and evaluation.margin > 0
            and not duplicate
            and len(kept) < config.max_criteria
        ):
            kept.append(evaluation)
        else:
            rejected.append(evaluation)
    return kept, rejected


def criterion_id(text: str, taken: set[str]) -> str:
    """A short unique id from a criterion's first content words, e.g. ``opens-search-result``."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS][:3] or ["criterion"]
    base = "-".join(words)
    cid, n = base, 2
    while cid in taken:
        cid, n = f"{base}-{n}", n + 1
    taken.add(cid)
    return cid


def family_of(pairs: Sequence[Pair]) -> str:
    """The one env family of the pairs' tasks.

    Raises:
        ConfigError: The pairs mix families; a rubric is written for one.
    """
    families = sorted({p.success.task.family for p in pairs})
    if len(families) != 1:
        raise ConfigError(
            f"the run mixes families ({', '.join(families)}); a rubric serves one family, so"
            " generate from a run of one family"
        )
    return families[0]


def generate_rubric(
    trajectories: Sequence[Trajectory],
    propose: Callable[[str], str] | None,
    judge: Judge,
    *,
    name: str,
    config: RubricGenerationConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    proposals: Sequence[Proposal] | None = None,
) -> tuple[Rubric, GenerationReport]:
    """Pairs, contrastive proposals, decomposition, preference filter: a rubric.

    Args:
        trajectories: Episodes of one run (one family), several per task.
        propose: Text in, text out: the LLM that writes criteria; unused (may be None) when
            ``proposals`` are given.
        judge: Scores steps on criteria, as the rubric agent's judge will.
        name: The rubric's name.
        config: Thresholds and caps; defaults when None.
        progress: Called with (stage, done, total) for stages ``propose`` and ``filter``.
        proposals: Candidate criteria written elsewhere (by a person, or a stronger model
            offline): they replace the propose stage and go through the same decomposition,
            preference filter and de-duplication.

    Raises:
        ConfigError: No pairs, pairs of several families, no criterion proposed, or none that
            reproduces the preferences; each message says what to change.
    """
    config = config or RubricGenerationConfig()
    pairs = make_pairs(trajectories, config.max_pairs)
    if not pairs:
        raise ConfigError(f"no (success, failure) pair of the same task: {NO_PAIRS_HINT}")
    family = family_of(pairs)
    proposed: list[Proposal] = []
    if proposals is not None:
        proposed = [atom for proposal in proposals for atom in decompose(proposal)]
    elif propose is None:
        raise ValueError("generate_rubric needs propose or proposals")
    else:
        for done, pair in enumerate(pairs, start=1):
            for proposal in parse_proposals(propose(proposal_prompt(pair, config.episode_chars))):
                proposed += decompose(proposal)
            if progress is not None:
                progress("propose", done, len(pairs))
    unique = list(dict.fromkeys(proposed))  # the same line from two pairs is judged once
    if not unique:
        raise ConfigError(
            f"the proposer wrote no criterion in {len(pairs)} replies (lines must start with"
            " HARD: or PRINCIPLE:); use a stronger model (--judge openai:MODEL@URL)"
        )
    evaluations = evaluate(
        unique,
        pairs,
        judge,
        None if progress is None else lambda done: progress("filter", done, len(pairs)),
    )
    kept, rejected = select(evaluations, config)
    if not kept:
        best = max(e.agreement for e in evaluations)
        raise ConfigError(
            f"none of {len(unique)} criteria reproduced the preference on"
            f" {config.min_agreement:.0%} of {len(pairs)} pairs (best: {best:.0%}); lower"
            " --min-agreement, add pairs, or use a stronger judge"
        )
    taken: set[str] = set()
    criteria = [
        Criterion(
            id=criterion_id(e.proposal.text, taken),
            kind=e.proposal.kind,
            text=e.proposal.text,
            weight=round(e.agreement, 3),
        )
        for e in kept
    ]
    rubric = Rubric(name=name, family=family, aggregation="gated", criteria=criteria)
    return rubric, GenerationReport(tuple(pairs), len(proposed), tuple(kept), tuple(rejected))


def write_rubric(
    rubric: Rubric, report: GenerationReport, path: str | Path, *, source: str = ""
) -> None:
    """Write the rubric as YAML, its provenance as comments above the fields they explain."""
    tasks = sorted({p.task_id for p in report.pairs})
    lines = [
        "# Generated by `prmgym rubrics generate`: criteria proposed by contrasting successful",
        "# and failed episodes of the same task (OpenRubrics, arXiv 2510.07743), split and kept",
        "# only when judging with them reproduces the known preference (RRD, arXiv 2602.05125).",
        f"# source: {source or 'trajectories'}",
        f"# pairs: {len(report.pairs)} over {len(tasks)} tasks ({', '.join(tasks[:10])}"
        f"{', ...' if len(tasks) > 10 else ''})",
        f"# proposed {report.proposed} criteria after splitting; kept {len(report.kept)},"
        f" rejected {len(report.rejected)}. weight = agreement.",
    ]
    head = rubric.model_dump(mode="json", include={"name", "family", "aggregation"})
    lines.append(yaml.safe_dump(head, sort_keys=False).rstrip())
    lines.append("criteria:")
    for criterion, evaluation in zip(rubric.criteria, report.kept, strict=True):
        lines.append(
            f"  # reproduced the preference on {sum(m > 0 for m in evaluation.margins)} of"
            f" {len(evaluation.margins)} pairs, mean margin {evaluation.margin:+.3f}"
        )
        body = criterion.model_dump(mode="json", include={"id", "kind", "weight", "text"})
        dumped = yaml.safe_dump([body], sort_keys=False, width=1000).rstrip()
        lines += [f"  {line}" for line in dumped.splitlines()]
    # Rejected criteria stay visible, so a reader can see what the filter threw away.
    for evaluation in report.rejected:
        text = " ".join(evaluation.proposal.text.split())
        lines.append(
            f"# rejected ({evaluation.agreement:.0%} agreement, margin {evaluation.margin:+.3f}):"
            f" {evaluation.proposal.kind}: {text}"
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
