"""Conformance checks: does an env id, and the family that declares it, keep prmgym's contract?

Gymnasium ships ``check_env``; prmgym ships ``check_reward_model``; this module runs both and
the rest of what a family promises, on one registered id, and says per check whether it passed:

=================  =========================================================================
``pieces``         every piece the family declares imports (prompt, tool help, oracle, ...)
``env``            Gymnasium's ``check_env`` on the env (render check skipped)
``fuzz``           generated hostile actions (:mod:`prmgym.envs.fuzzing`) raise no exception
``reward-model``   ``check_reward_model`` on each default PRM and the verifier, over oracle
                   trajectories (random ones where the family has no oracle)
``oracle``         the oracle solves every task it is given (success rate 100%)
``perturbations``  each first-error perturbation kind, played in the env next to the
                   unperturbed oracle list: the oracle list succeeds, both lists agree and the
                   env answers them alike before the declared first error, and the env's
                   answer differs from that step on
=================  =========================================================================

A piece the family does not declare (no oracle, no perturbations) gives a *skipped* row saying
what to add, not a failure. ``prmgym check ENV_ID`` prints the rows as a table; a plugin's own
tests call :func:`assert_conformant`.

Example:
    >>> rows = run_checks("prmgym/SearchQA-v0", CheckSettings(actions=20, tasks=1),
    ...                   only=("env", "fuzz"))
    >>> [(row.check, row.status) for row in rows]
    [('env', 'pass'), ('fuzz', 'pass')]
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium
from gymnasium.utils.env_checker import check_env

from prmgym.agents.conformance_episodes import draw_tasks, open_env, play, policy_actions, scripted
from prmgym.agents.policies import make_policy
from prmgym.envs.fuzzing import fuzz_id
from prmgym.envs.perturbation import FamilyPerturbations
from prmgym.family import PIECES, Family, families
from prmgym.registry import EnvInfo, env_info, takes_split
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.judges.base import Judge
from prmgym.rewards.registry import VERIFIER_SUFFIX, make_scorer
from prmgym.task import Task
from prmgym.trajectory import Trajectory

Status = Literal["pass", "fail", "skipped"]

CHECKS: dict[str, str] = {
    "pieces": "every piece the family declares imports",
    "env": "Gymnasium's check_env on the env (render check skipped)",
    "fuzz": "N generated hostile actions (prmgym.envs.fuzzing) raise no exception",
    "reward-model": (
        "check_reward_model (one score per step, in [0, 1], deterministic, causal) on each"
        " default PRM and the verifier, over oracle trajectories (random ones without an oracle)"
    ),
    "oracle": "the oracle solves every one of N tasks",
    "perturbations": (
        "each first-error perturbation kind on a few tasks: the unperturbed oracle list"
        " succeeds; the perturbed list matches it, and the env answers alike, before the declared"
        " first error; from that step on the env answers differently"
    ),
}
"""Every check by name, with what it asserts (``prmgym check --help`` prints these)."""

Progress = Callable[[str, int, int], None]
"""``(check name, done, total)``: called as a check advances (e.g. to drive a progress bar)."""


@dataclass(frozen=True)
class CheckResult:
    """One row of a conformance report.

    Attributes:
        check: The check's name (a key of :data:`CHECKS`).
        subject: What it ran on where a check has several rows (a PRM, a perturbation kind).
        status: ``pass``, ``fail`` or ``skipped``.
        detail: What was seen, or why it was skipped and what to add.
    """

    check: str
    subject: str
    status: Status
    detail: str

    @property
    def label(self) -> str:
        """``check`` and, where there is one, ``subject``: the row's name."""
        return f"{self.check}: {self.subject}" if self.subject else self.check


@dataclass(frozen=True)
class CheckSettings:
    """How much each check runs. Small numbers keep a run to a minute or two.

    Attributes:
        actions: Fuzzed actions.
        tasks: Tasks the oracle must solve.
        trajectories: Trajectories each reward model is checked on.
        perturbed: Tasks each perturbation kind is confirmed on.
        seed: Fixes the tasks drawn, the fuzzed actions and every reset.
        split: The task split given to the env (only where its constructor takes one);
            None: the env's default.
        judge: Builds the LLM judge for judged PRMs (rubrics); None skips those PRMs.
    """

    actions: int = 200
    tasks: int = 5
    trajectories: int = 2
    perturbed: int = 2
    seed: int = 0
    split: str | None = None
    judge: Callable[[], Judge] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("actions", "tasks", "trajectories", "perturbed", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")


class _NoJudge(Exception):
    """A PRM asked for an LLM judge and the settings give none."""


def run_checks(
    env_id: str,
    settings: CheckSettings | None = None,
    *,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """Run the checks on one env id and return their rows, in :data:`CHECKS` order.

    A check that raises is a failing row naming the exception, never an exception here.

    Args:
        env_id: A registered id, or ``"module:ns/Env-v0"``.
        settings: How much each check runs (default :class:`CheckSettings`).
        only: Names of the checks to run (default: all).
        progress: Told of each check's progress.

    Raises:
        ConfigError: Unknown env id.
        ValueError: A name in ``only`` that is not a check.
    """
    settings = settings or CheckSettings()
    info = env_info(env_id)
    names = list(CHECKS) if only is None else list(only)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; checks: {', '.join(CHECKS)}")
    family = families().get(info.family)
    runners: dict[str, Callable[[], list[CheckResult]]] = {
        "pieces": lambda: [check_pieces(info, family)],
        "env": lambda: [check_gymnasium(info, settings)],
        "fuzz": lambda: [check_fuzzed_actions(info, settings, progress)],
        "reward-model": lambda: check_reward_models(info, family, settings, progress),
        "oracle": lambda: [check_oracle(info, family, settings, progress)],
        "perturbations": lambda: check_perturbations(info, family, settings, progress),
    }
    rows: list[CheckResult] = []
    for name in [name for name in CHECKS if name in names]:
        try:
            rows.extend(runners[name]())
        except Exception as exc:  # noqa: BLE001 - a broken check is a failing row
            rows.append(CheckResult(name, "", "fail", _raised(exc)))
    return rows


def assert_conformant(env_id: str, settings: CheckSettings | None = None) -> list[CheckResult]:
    """Run every check and raise AssertionError listing the failing rows, if any.

    For a plugin's own tests: ``assert_conformant("sql/SQL-v0", CheckSettings(actions=50))``.

    Returns:
        Every row (passed and skipped ones included).
    """
    rows = run_checks(env_id, settings)
    failed = [row for row in rows if row.status == "fail"]
    if failed:
        raise AssertionError(
            f"{env_id} fails {len(failed)} conformance checks:\n"
            + "\n".join(f"- {row.label}: {row.detail}" for row in failed)
        )
    return rows


# -- the checks ------------------------------------------------------------------------------
def check_pieces(info: EnvInfo, family: Family | None) -> CheckResult:
    """Every piece the env's family declares imports."""
    if family is None:
        return _undeclared_family("pieces", info)
    declared = [piece for piece in PIECES if family.declares(piece)]
    broken = []
    for piece in declared:
        try:
            family.load(piece)
        except Exception as exc:  # noqa: BLE001 - each broken piece is named
            broken.append(f"{piece}: {_raised(exc)}")
    if broken:
        return CheckResult("pieces", "", "fail", "; ".join(broken))
    missing = [piece for piece in PIECES if piece not in declared]
    absent = f"; not declared: {', '.join(missing)}" if missing else ""
    return CheckResult(
        "pieces", "", "pass", f"{len(declared)} import: {', '.join(declared)}{absent}"
    )


def check_gymnasium(info: EnvInfo, settings: CheckSettings) -> CheckResult:
    """Gymnasium's ``check_env`` on the unwrapped env; its warnings are listed, not failed."""
    with open_env(info, settings.split) as env, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_env(env.unwrapped, skip_render_check=True)
        except Exception as exc:  # noqa: BLE001 - the checker's finding is the row
            return CheckResult("env", "", "fail", _raised(exc))
    said = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
    detail = "check_env passed"
    if said:
        detail += f" with {len(said)} warnings: " + "; ".join(_cut(s, 120) for s in said[:2])
    return CheckResult("env", "", "pass", detail)


def check_fuzzed_actions(
    info: EnvInfo, settings: CheckSettings, progress: Progress | None = None
) -> CheckResult:
    """``settings.actions`` generated hostile actions go through the env with no exception."""
    if settings.actions == 0:
        return CheckResult("fuzz", "", "skipped", "0 actions asked for")

    def advance(report: Any) -> None:
        if progress is not None:
            progress("fuzz", report.actions, settings.actions)

    report = fuzz_id(
        info.id,
        settings.actions,
        seed=settings.seed,
        on_step=advance,
        **_make_kwargs(info, settings),
    )
    if report.exceptions:
        crash = report.crashes[0]
        where = f" at {crash.where}" if crash.where else ""
        return CheckResult(
            "fuzz",
            "",
            "fail",
            f"{report.exceptions} exceptions in {report.actions} actions; first: {crash.exception}"
            f" {_cut(crash.message, 100)!r}{where}, {crash.category} action"
            f" {_cut(crash.action, 80)!r}",
        )
    return CheckResult(
        "fuzz",
        "",
        "pass",
        f"{report.actions} actions ({len(report.by_category)} categories), 0 exceptions;"
        f" {report.action_errors} rejected as action errors",
    )


def check_reward_models(
    info: EnvInfo,
    family: Family | None,
    settings: CheckSettings,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """``check_reward_model`` on each default PRM and the verifier, one row each.

    Each is checked on ``settings.trajectories`` trajectories of two or more steps, played by
    the oracle (by the random policy where the family has no oracle), with the env left at
    each trajectory's final state, as the runner leaves it for environment-aware PRMs.
    """
    if family is None:
        return [_undeclared_family("reward-model", info)]
    names = _prm_names(family)
    if not names:
        return [_skipped("reward-model", "", family, "verifier", "and no default PRMs")]
    if settings.trajectories == 0:
        return [
            CheckResult("reward-model", name, "skipped", "0 trajectories asked for")
            for name in names
        ]
    agent = "oracle" if family.declares("oracle") else "random"
    if agent == "random" and not family.declares("random_action"):
        reason = "the family declares neither oracle nor random_action to play trajectories"
        return [CheckResult("reward-model", name, "skipped", reason) for name in names]
    scorers: dict[str, Any] = {}
    rows: dict[str, CheckResult] = {}
    for name in names:
        try:
            scorers[name] = make_scorer(name, family=family.name, judge=_judge(settings))
        except _NoJudge:
            rows[name] = CheckResult(
                "reward-model", name, "skipped", "needs an LLM judge; give one with --judge SPEC"
            )
        except Exception as exc:  # noqa: BLE001 - a PRM that cannot be built fails its row
            rows[name] = CheckResult("reward-model", name, "fail", f"building it: {_raised(exc)}")
    checked = dict.fromkeys(scorers, 0)
    policy = make_policy(agent, seed=settings.seed)
    with open_env(info, settings.split) as env:
        # Where episodes are one step long, trying every task of a large split is no wiser.
        tasks = draw_tasks(env, settings.seed, max(5 * settings.trajectories, 10))
        played = 0
        for task in tasks:
            if played == settings.trajectories or not scorers:
                break
            trajectory = play(env, info, task, policy_actions(policy), settings.seed)
            if len(trajectory.steps) < 2:
                continue  # check_reward_model compares prefixes: it needs two steps
            played += 1
            for name in list(scorers):
                try:
                    check_reward_model(scorers[name], trajectory, env.unwrapped)
                except Exception as exc:  # noqa: BLE001 - the PRM's failure is its row
                    rows[name] = CheckResult(
                        "reward-model", name, "fail", f"task {task.id}: {_raised(exc)}"
                    )
                    del scorers[name]
                else:
                    checked[name] += 1
            if progress is not None:
                progress("reward-model", played, settings.trajectories)
    for name in scorers:
        if checked[name] == 0:
            rows[name] = CheckResult(
                "reward-model", name, "skipped", f"no {agent} trajectory had two or more steps"
            )
        else:
            rows[name] = CheckResult(
                "reward-model",
                name,
                "pass",
                f"check_reward_model passed on {checked[name]} {agent} trajectories",
            )
    return [rows[name] for name in names]


def check_oracle(
    info: EnvInfo,
    family: Family | None,
    settings: CheckSettings,
    progress: Progress | None = None,
) -> CheckResult:
    """The oracle (through the ``oracle`` policy, as ``prmgym eval`` runs it) solves every task."""
    if family is None:
        return _undeclared_family("oracle", info)
    if not family.declares("oracle"):
        return _skipped("oracle", "", family, "oracle")
    if settings.tasks == 0:
        return CheckResult("oracle", "", "skipped", "0 tasks asked for")
    policy = make_policy("oracle", seed=settings.seed)
    failures: list[str] = []
    with open_env(info, settings.split) as env:
        tasks = draw_tasks(env, settings.seed, settings.tasks)
        for done, task in enumerate(tasks, 1):
            try:
                trajectory = play(env, info, task, policy_actions(policy), settings.seed)
            except Exception as exc:  # noqa: BLE001 - a broken episode is a failed task
                failures.append(f"{task.id} broke: {_raised(exc)}")
            else:
                if not trajectory.success:
                    failures.append(f"{task.id} not solved in {len(trajectory.steps)} steps")
            if progress is not None:
                progress("oracle", done, len(tasks))
    solved = len(tasks) - len(failures)
    rate = f"{solved}/{len(tasks)} tasks solved"
    if len(tasks) < settings.tasks:
        rate += f" (all the env has, of {settings.tasks} asked for)"
    if failures:
        return CheckResult("oracle", "", "fail", f"{rate}; " + "; ".join(failures[:3]))
    return CheckResult("oracle", "", "pass", rate)


def check_perturbations(
    info: EnvInfo,
    family: Family | None,
    settings: CheckSettings,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """Each perturbation kind confirmed as a first error by the env, one row per kind.

    For ``settings.perturbed`` tasks per kind, the family's perturbation is played in the env
    beside the unperturbed (``none``) list of the same task, with the same reset seed. The
    ``none`` list must succeed (so every step it takes is right); the perturbed list must
    take the same actions and get the same observations before its declared first error (so
    no earlier step is wrong), and its action there must differ and be answered differently
    (the env sees the error where it is declared). Whether the task is still solved after a
    detour is reported, not required: a wasted step is an error a task can recover from.
    """
    if family is None:
        return [_undeclared_family("perturbations", info)]
    if not family.declares("perturbations"):
        return [_skipped("perturbations", "", family, "perturbations")]
    piece = family.load("perturbations")
    if not isinstance(piece, FamilyPerturbations):
        return [
            CheckResult(
                "perturbations",
                "",
                "fail",
                f"the piece is a {type(piece).__name__}, not a FamilyPerturbations",
            )
        ]
    kinds = [kind for kind in piece.kinds if kind != "none"]
    if "none" not in piece.kinds or not kinds:
        return [
            CheckResult(
                "perturbations",
                "",
                "fail",
                f"kinds {piece.kinds} must hold 'none' and an error kind",
            )
        ]
    if settings.perturbed == 0:
        return [
            CheckResult("perturbations", kind, "skipped", "0 tasks asked for") for kind in kinds
        ]
    rows = []
    with open_env(info, settings.split) as env:
        confirm = _Confirmation(env, info, piece, settings.seed)
        tasks = draw_tasks(env, settings.seed, len(env.unwrapped.tasks))
        for done, kind in enumerate(kinds, 1):
            rows.append(confirm.kind(kind, tasks, settings.perturbed))
            if progress is not None:
                progress("perturbations", done, len(kinds))
    return rows


class _Confirmation:
    """Plays perturbations beside their task's unperturbed list (played once per task)."""

    def __init__(
        self, env: gymnasium.Env[Any, Any], info: EnvInfo, piece: FamilyPerturbations, seed: int
    ):
        self.env, self.info, self.piece, self.seed = env, info, piece, seed
        self.rng = random.Random(seed)
        self._oracle: dict[str, tuple[tuple[str, ...], Trajectory]] = {}

    def _unperturbed(self, task: Task) -> tuple[tuple[str, ...], Trajectory]:
        if task.id not in self._oracle:
            plain = self.piece.perturb(self.env.unwrapped, task, "none", self.rng)
            if plain is None or plain.first_error != -1:
                raise AssertionError(
                    f"task {task.id}: 'none' must give the oracle list, first error -1"
                )
            played = play(self.env, self.info, task, scripted(plain.actions), self.seed)
            self._oracle[task.id] = (plain.actions, played)
        return self._oracle[task.id]

    def kind(self, kind: str, tasks: Sequence[Task], count: int) -> CheckResult:
        """Confirm ``kind`` on the first ``count`` tasks that admit it."""
        confirmed, recovered, problems, tried = 0, 0, [], 0
        for task in tasks:
            if confirmed + len(problems) == count or tried >= max(5 * count, 10):
                break
            tried += 1
            try:
                perturbation = self.piece.perturb(self.env.unwrapped, task, kind, self.rng)
                if perturbation is None:
                    continue
                problem, played = self._confirm(
                    task, perturbation.actions, perturbation.first_error
                )
            except Exception as exc:  # noqa: BLE001 - a perturber or env that raises fails the task
                problem, played = _raised(exc), None
            if played is not None:
                confirmed += 1
                recovered += played.success
            else:
                problems.append(f"{task.id}: {problem}")
        if problems:
            return CheckResult("perturbations", kind, "fail", "; ".join(problems[:2]))
        if confirmed == 0:
            return CheckResult(
                "perturbations", kind, "fail", f"none of the {tried} tasks tried admits it"
            )
        return CheckResult(
            "perturbations",
            kind,
            "pass",
            f"{confirmed} tasks: first error where declared; {confirmed - recovered} of"
            f" {confirmed} end unsolved",
        )

    def _confirm(
        self, task: Task, actions: tuple[str, ...], first: int
    ) -> tuple[str, Trajectory | None]:
        """The perturbed episode when its first error is at ``first``, else why it is not."""
        right, oracle = self._unperturbed(task)
        if not oracle.success:
            return "the unperturbed oracle list does not solve it", None
        if not 0 <= first < len(actions):
            return f"first error {first} is not a step of its {len(actions)} actions", None
        if actions[:first] != right[:first]:
            return f"its actions leave the oracle's before the declared first error {first}", None
        if first < len(right) and actions[first] == right[first]:
            return f"its action at the declared first error {first} is the oracle's own", None
        played = play(self.env, self.info, task, scripted(actions), self.seed)
        if len(played.steps) < len(actions):
            return (
                f"the episode ended after {len(played.steps)} of its {len(actions)} actions",
                None,
            )
        seen = [step.observation for step in played.steps]
        expected = [step.observation for step in oracle.steps]
        if seen[:first] != expected[:first]:
            step = next(i for i, (a, b) in enumerate(zip(seen, expected, strict=False)) if a != b)
            return f"the env answers step {step}, before the first error, unlike the oracle's", None
        if seen[first:] == expected[first:] and played.success == oracle.success:
            return f"the env answers it exactly as the oracle list from step {first} on", None
        return "", played


# -- helpers ---------------------------------------------------------------------------------
def _prm_names(family: Family) -> list[str]:
    """The family's default PRMs and its verifier, each once (the verifier by its family name)."""
    verifier = f"{family.name}{VERIFIER_SUFFIX}"
    names = ["verifier" if name == verifier else name for name in family.default_prms]
    if family.declares("verifier"):
        names.append("verifier")
    return [verifier if name == "verifier" else name for name in dict.fromkeys(names)]


def _judge(settings: CheckSettings) -> Callable[[], Judge]:
    def build() -> Judge:
        if settings.judge is None:
            raise _NoJudge
        return settings.judge()

    return build


def _make_kwargs(info: EnvInfo, settings: CheckSettings) -> dict[str, Any]:
    return {"split": settings.split} if settings.split and takes_split(info.id) else {}


def _skipped(check: str, subject: str, family: Family, piece: str, more: str = "") -> CheckResult:
    what = f"{piece} {more}".strip()
    return CheckResult(
        check,
        subject,
        "skipped",
        f"the family declares no {what}; add {piece}='package.module:attr' to its Family"
        f" declaration, naming {PIECES[piece]}",
    )


def _undeclared_family(check: str, info: EnvInfo) -> CheckResult:
    return CheckResult(
        check,
        "",
        "skipped",
        f"{info.id}'s family {info.family!r} is not declared; register it with"
        f" prmgym.register_family(Family(name={info.family!r}, ...))",
    )


def _raised(exc: BaseException) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {_cut(message, 200)}" if message else type(exc).__name__


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "CHECKS",
    "CheckResult",
    "CheckSettings",
    "Progress",
    "assert_conformant",
    "check_fuzzed_actions",
    "check_gymnasium",
    "check_oracle",
    "check_perturbations",
    "check_pieces",
    "check_reward_models",
    "run_checks",
]
