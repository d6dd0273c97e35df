"""SQLVerifier: an environment-aware PRM for the SQL family.

For each step it asks the live database (through ``env.probe``, read-only) what the step
achieved. A query is run again and its result, as the agent saw it, is searched for the gold
answer; the tables the query opened are compared with those the gold SQL needs. Labels follow
DataPRM's ternary:

- ``ok``: a query whose result shows the answer (1.0), a look at the schema (0.8) or at a
  table the question needs (0.9), a correct answer (1.0 when an earlier result showed it,
  0.6 when none did: right, but a guess);
- ``correctable``: a rejected action (0.25), a failing query (0.3), a query whose result
  lacks the answer (0.45 when it reads only the tables the question needs, else 0.3), a look
  at a table the question does not need (0.35), a repeat of an earlier step (0.1);
- ``fatal``: a wrong final answer (0.0).

A result "showing the answer" is necessary, not sufficient: ``SELECT * FROM products`` shows
the number 3 as an id. The history is rebuilt from the trajectory's own steps, never from the
env's current state, so scores are causal; the database is read-only, so re-running a query
on the live env changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prmgym.envs.actions import ActionError, parse_tool_call
from prmgym.trajectory import Step, StepScore, Trajectory

from prmgym_sql.database import TABLES, format_value
from prmgym_sql.env import SQLProbe, bind_call
from prmgym_sql.grading import cells_contain


@dataclass
class _History:
    actions: dict[str, int] = field(default_factory=dict)
    """Each earlier action, whitespace-normalised, and the step that took it."""
    answer_seen: bool = False
    """Whether an earlier query's result showed the gold answer."""


class SQLVerifier:
    """Scores SQL steps by re-running them on the env's database (see the module docs)."""

    name = "sql-verifier"

    def score(self, trajectory: Trajectory, env: Any = None) -> list[StepScore]:
        """One score per step; needs the env the trajectory ran in (for its probe)."""
        probe = self._probe(env)
        history = _History()
        return [self._score_step(step, history, probe) for step in trajectory.steps]

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: Any = None
    ) -> list[StepScore]:
        """Score each candidate as the next step, without executing it in the episode."""
        probe = self._probe(env)
        history = _History()
        for step in trajectory.steps:
            self._score_step(step, history, probe)
        scores = []
        for action in candidate_actions:
            step = Step(index=len(trajectory.steps), action=action, observation="")
            scores.append(self._score_step(step, copy.deepcopy(history), probe))
        return scores

    @staticmethod
    def _probe(env: Any) -> SQLProbe:
        probe = getattr(getattr(env, "unwrapped", env), "probe", None)
        if not isinstance(probe, SQLProbe):
            raise ValueError(
                "sql-verifier is environment-aware: pass the SQLEnv the trajectory ran in"
                " (score(trajectory, env=env))"
            )
        return probe

    def _verdict(self, value: float, label: str, rationale: str) -> StepScore:
        return StepScore(value=value, label=label, rationale=rationale, source=self.name)

    def _score_step(self, step: Step, history: _History, probe: SQLProbe) -> StepScore:
        if step.action_error is not None:
            return self._verdict(0.25, "correctable", f"action rejected: {step.action_error}")
        try:
            call = parse_tool_call(step.action)
            arguments = bind_call(call)
        except ActionError as exc:
            return self._verdict(0.25, "correctable", f"action rejected: {exc}")
        if call.name == "answer":
            return self._score_answer(arguments["text"], history, probe)
        key = " ".join(step.action.split())
        if key in history.actions:
            return self._verdict(
                0.1, "correctable", f"repeats step {history.actions[key]}; nothing new to see"
            )
        history.actions[key] = step.index
        if call.name == "schema":
            return self._verdict(0.8, "ok", "reads the schema")
        if call.name == "describe":
            return self._score_describe(arguments["table"].strip(), probe)
        return self._score_query(arguments["sql"], history, probe)

    def _score_describe(self, table: str, probe: SQLProbe) -> StepScore:
        if table not in TABLES:
            return self._verdict(0.25, "correctable", f"there is no table {table!r}")
        if table in probe.gold_tables:
            return self._verdict(0.9, "ok", f"looks at {table}, which the question needs")
        return self._verdict(0.35, "correctable", f"the question does not need {table}")

    def _score_query(self, sql: str, history: _History, probe: SQLProbe) -> StepScore:
        result = probe.run(sql)
        if result.error is not None:
            return self._verdict(0.3, "correctable", f"the query fails: {result.error}")
        cells = [format_value(value) for row in result.rows for value in row]
        if cells_contain(cells, probe.gold_answers):
            history.answer_seen = True
            return self._verdict(1.0, "ok", "its result shows the answer")
        needed = set(probe.gold_tables)
        if result.tables and set(result.tables) <= needed:
            return self._verdict(
                0.45, "correctable", "reads the tables the question needs; the answer is not shown"
            )
        return self._verdict(
            0.3, "correctable", f"reads {', '.join(result.tables) or 'no table'}; no answer shown"
        )

    def _score_answer(self, text: str, history: _History, probe: SQLProbe) -> StepScore:
        if not probe.grade(text):
            return self._verdict(0.0, "fatal", f"wrong final answer {text!r}")
        if history.answer_seen:
            return self._verdict(1.0, "ok", "correct, and an earlier query result shows it")
        return self._verdict(0.6, "ok", "correct, but no earlier query result showed it")
