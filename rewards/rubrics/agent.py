"""RubricPRM: a rubric agent that scores every step against weighted criteria.

Programmatic criteria are checked in Python; the rest go to a judge. All judged criteria of all
steps (or candidates) go out in one ``judge`` call, which the judge batches into as few model
calls as fit. By default each step sees only the task and the steps before it (causal).
Criterion scores combine with the rubric's aggregation (``prmgym.rewards.aggregation``).
The rubric's ``scoring`` options (``prmgym.rewards.rubrics.scoring``) add bidirectional
(BiPRM) and merged-step (HRM) views of each step to the same judge call::

    prm = RubricPRM(load_rubric("my_rubric.yaml"), judge=make_judge(make_backend("smollm2")))
    scores = prm.score(trajectory)

Without a rubric, each trajectory is scored with its family's default rubric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prmgym.errors import ConfigError
from prmgym.rewards.aggregation import aggregate_criteria
from prmgym.rewards.judges.base import Judge, JudgeQuery, Question
from prmgym.rewards.render import render_prompt, render_step
from prmgym.rewards.rubrics.checks import run_check, step_tool
from prmgym.rewards.rubrics.rubric import Criterion, Rubric, default_rubric
from prmgym.rewards.rubrics.scoring import Scoring, combine_views, step_views
from prmgym.trajectory import Step, StepScore, Trajectory

JUDGE_OBSERVATION_CHARS = 240
"""Characters of each observation the judge sees; the same for the reviewed step and for
earlier steps, so step i's prompt is a prefix of step i+1's (a prefix cache reuses it)."""


@dataclass
class _Plan:
    """What scoring one step needs: the criteria that apply, checked or awaiting the judge.

    ``queries`` asks the same judged criteria once per view of the step (forward first).
    """

    criteria: list[Criterion]
    values: list[float | None]
    queries: list[JudgeQuery]


class RubricPRM:
    """Scores steps against a rubric (see the module docstring).

    Args:
        rubric: The rubric; None picks each trajectory's family default.
        judge: Scores the criteria without a programmatic check; may be None only when every
            criterion has one.
        name: The scores' ``source``.
        scoring: Views each step is judged under; None uses the rubric's ``scoring``.

    Raises:
        ConfigError: The rubric has judged criteria but no judge was given.
    """

    def __init__(
        self,
        rubric: Rubric | None = None,
        judge: Judge | None = None,
        *,
        name: str = "rubric",
        scoring: Scoring | None = None,
    ) -> None:
        self.rubric = rubric
        self.judge = judge
        self.name = name
        self.scoring = scoring
        self._defaults: dict[str, Rubric] = {}
        if rubric is not None:
            self._require_judge(rubric)

    def _require_judge(self, rubric: Rubric) -> None:
        judged = [c.id for c in rubric.criteria if c.judged]
        if judged and self.judge is None:
            raise ConfigError(
                f"rubric {rubric.name!r} has judge-scored criteria ({', '.join(judged)}) but no"
                " judge was given; pass judge=make_judge(backend) (CLI: --judge smollm2)"
            )

    def rubric_for(self, trajectory: Trajectory) -> Rubric:
        """The rubric that scores ``trajectory``: the given one, or its family's default."""
        if self.rubric is not None:
            return self.rubric
        family = trajectory.task.family
        if family not in self._defaults:
            rubric = default_rubric(family)
            self._require_judge(rubric)
            self._defaults[family] = rubric
        return self._defaults[family]

    def scoring_for(self, rubric: Rubric) -> Scoring:
        """The scoring options in force: the ones given, else the rubric's."""
        return self.scoring if self.scoring is not None else rubric.scoring

    def score(self, trajectory: Trajectory, env: Any = None) -> list[StepScore]:
        """One score per step, each from the task and the steps up to it.

        With ``direction: bidirectional`` a step also sees the steps after it (not causal).
        """
        rubric = self.rubric_for(trajectory)
        scoring = self.scoring_for(rubric)
        prompt = render_prompt(trajectory)
        steps = trajectory.steps
        blocks = [render_step(s, JUDGE_OBSERVATION_CHARS) for s in steps]
        plans = [
            self._plan(rubric, step, steps[:i], step_views(scoring, prompt, blocks, i))
            for i, step in enumerate(steps)
        ]
        return self._finish(rubric, plans)

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: Any = None
    ) -> list[StepScore]:
        """Score each candidate as the next step (no observation yet), in one judge call.

        A candidate scores as the last step of ``score`` on the trajectory extended by it.
        """
        rubric = self.rubric_for(trajectory)
        scoring = self.scoring_for(rubric)
        prompt = render_prompt(trajectory)
        history = [render_step(s, JUDGE_OBSERVATION_CHARS) for s in trajectory.steps]
        n = len(trajectory.steps)
        plans = []
        for action in candidate_actions:
            step = Step(index=n, action=action, observation="")
            blocks = [*history, render_step(step, JUDGE_OBSERVATION_CHARS)]
            views = step_views(scoring, prompt, blocks, n)
            plans.append(self._plan(rubric, step, trajectory.steps, views))
        return self._finish(rubric, plans)

    def _plan(
        self,
        rubric: Rubric,
        step: Step,
        earlier: Sequence[Step],
        views: Sequence[tuple[str, str]],
    ) -> _Plan:
        criteria, values, questions = [], [], []
        for criterion in applicable(rubric, step):
            if criterion.check is not None:
                value = run_check(criterion.check.name, criterion.check.args, step, earlier)
                if value is None:
                    continue
            else:
                value = None
                questions.append(Question(criterion.text, pitfall=criterion.kind == "pitfall"))
            criteria.append(criterion)
            values.append(value)
        queries = [
            JudgeQuery(context=context, step=text, criteria=tuple(questions))
            for context, text in views
            if questions
        ]
        return _Plan(criteria, values, queries)

    def _finish(self, rubric: Rubric, plans: list[_Plan]) -> list[StepScore]:
        queries = [q for p in plans for q in p.queries]
        if queries:
            assert self.judge is not None  # _require_judge made sure
            answers = iter(self.judge.judge(queries))
            for plan in plans:
                if plan.queries:
                    judged = iter(combine_views([next(answers) for _ in plan.queries]))
                    plan.values = [next(judged) if v is None else v for v in plan.values]
        return [self._combine(rubric, plan) for plan in plans]

    def _combine(self, rubric: Rubric, plan: _Plan) -> StepScore:
        if not plan.criteria:
            return StepScore(
                value=0.5, label="unknown", rationale="no criterion applies", source=self.name
            )
        scores = [float(v) for v in plan.values if v is not None]
        weights = [float(c.weight or 0.0) for c in plan.criteria]
        value = aggregate_criteria(
            scores,
            weights,
            rubric.aggregation,
            gates=[c.kind == "hard_rule" for c in plan.criteria],
            vetoes=[c.fatal for c in plan.criteria],
        )
        unmet = [
            c.id
            for c, s in zip(plan.criteria, scores, strict=True)
            if (s >= 0.5 if c.kind == "pitfall" else s < 0.5)
        ]
        vetoed = any(c.fatal and c.id in unmet for c in plan.criteria)
        gated = rubric.aggregation == "gated" and any(
            c.kind == "hard_rule" and c.id in unmet for c in plan.criteria
        )
        if vetoed:
            label = "fatal"
        elif gated or value < 0.5:
            label = "correctable"
        else:
            label = "ok"
        rationale = f"unmet: {', '.join(unmet)}" if unmet else f"meets all {len(scores)} criteria"
        return StepScore(value=value, label=label, rationale=rationale, source=self.name)


def applicable(rubric: Rubric, step: Step) -> list[Criterion]:
    """The rubric's criteria that apply to ``step``: by its tool, and whether it completes."""
    tool = step_tool(step)
    completes = tool is not None and tool in rubric.completion_tools
    return [
        c
        for c in rubric.criteria
        if (c.applies == "each_step" or completes) and (c.tools is None or tool in c.tools)
    ]


def failed_hard_rules(rubric: Rubric, step: Step, earlier: Sequence[Step]) -> list[str]:
    """Ids of the rubric's programmatic hard rules that ``step`` breaks (judged ones are skipped).

    Test-time pruning drops such candidates before any PRM call.
    """
    failed = []
    for criterion in applicable(rubric, step):
        if criterion.kind != "hard_rule" or criterion.check is None:
            continue
        value = run_check(criterion.check.name, criterion.check.args, step, earlier)
        if value is not None and value < 0.5:
            failed.append(criterion.id)
    return failed
