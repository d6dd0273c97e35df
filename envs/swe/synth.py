"""Task synthesis: plant procedural bugs in a real package and keep those its tests catch.

For one package (:mod:`prmgym.envs.swe.catalog`):

1. fetch its source (an sdist from PyPI, once; or a local git repository) and build its test
   environment (:mod:`prmgym.envs.swe.testenv`);
2. run its suite twice on the clean source in a sandbox: the tests that pass both times are
   the stable baseline;
3. list every mutation of its non-test source files (:mod:`prmgym.envs.swe.mutations`) and
   draw them in an order fixed by the seed, taking turns among the operators so every kind
   of bug is represented; at most one bug is kept per function, and no operator keeps more
   than one over its even share;
4. for each drawn mutation, plant it in a fresh sandbox and run the suite twice. Baseline
   tests that fail both times are FAIL_TO_PASS, those that pass both times PASS_TO_PASS (a
   test that flips between the two runs is in neither). A mutation is kept when 1 to
   :data:`MAX_FAIL_TO_PASS` tests fail: none means the suite cannot tell, many means the bug
   breaks the package wholesale and gives itself away.

The problem statement is written from the failing tests' ids and pytest's one-line failure
reasons (exception type and message), never from source lines or tracebacks. A task records
its bug as a recipe (file, position, hash of the original text, operator, seed) and no code:
its workspace and gold patch are rebuilt from the recipe (:mod:`prmgym.envs.swe.workspace`).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmgym.envs.swe.catalog import Package
from prmgym.envs.swe.mutations import (
    KINDS,
    Mutation,
    MutationError,
    apply_mutation,
    find_mutations,
)
from prmgym.envs.swe.tasks import LocalSource, SWEInstance
from prmgym.envs.swe.testenv import TestEnv, prepare
from prmgym.envs.swe.testing import TestReport, run_tests
from prmgym.envs.swe.workspace import source_tree
from prmgym.errors import TaskError
from prmgym.sandboxes.base import SandboxLimits
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox

MAX_FAIL_TO_PASS = 20
"""Most tests a kept bug may break."""
_LISTED_TESTS = 8  # failing tests a problem statement names; the rest are counted
_REASON_CHARS = 160
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


@dataclass
class Synthesis:
    """What one package's synthesis made."""

    package: str
    """The catalog key."""
    instances: list[SWEInstance] = field(default_factory=list)
    """The tasks kept, in the order they were drawn."""
    baseline: list[str] = field(default_factory=list)
    """The tests that passed twice on the clean source."""
    tried: int = 0
    """Mutations planted and tested."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Why tried mutations were not kept, by reason."""
    seconds: float = 0.0
    """How long it took, fetching and building included."""


def synthesize(
    package: Package,
    count: int,
    seed: int = 0,
    *,
    source: LocalSource | None = None,
    base_commit: str | None = None,
    env: TestEnv | None = None,
    max_tries: int | None = None,
    progress: Any = None,
    log: Callable[[str], None] | None = None,
) -> Synthesis:
    """Up to ``count`` tasks with bugs planted in ``package``.

    Args:
        package: The package: its source files, test command and test environment.
        count: How many tasks to make.
        seed: Fixes which mutations are drawn, in which order.
        source: Where the code comes from; default the package's sdist.
        base_commit: The git commit of a git ``source``; default the sdist's ``name==version``.
        env: A ready test environment; default the package's, built on first use.
        max_tries: Most mutations to test (default ``15 * count``).
        progress: A rich ``Progress`` to show a bar over the mutations tested.
        log: Hears what happens, one line at a time.

    Raises:
        TaskError: The sources cannot be fetched, the environment cannot be built, or no test
            passes on the clean source.
    """
    started = time.monotonic()
    source = source or LocalSource(kind="sdist", requirement=package.requirement)
    base_commit = base_commit or package.requirement
    say = log or (lambda _line: None)
    tree = source_tree(source, base_commit)
    env = env or prepare(package.environment, log=say)
    runner = _Runner(package, tree, env, source, base_commit)
    result = Synthesis(package=package.key, baseline=runner.baseline())
    say(f"{package.key}: {len(result.baseline)} tests pass on the clean source")
    candidates = draw(package, tree, seed)
    tries = min(len(candidates), max_tries if max_tries is not None else 15 * count)
    bar = progress.add_task(package.key, total=tries) if progress is not None else None
    # Variety: one bug per function, and no operator taking much more than its share.
    used_scopes: set[tuple[str, str]] = set()
    per_kind: Counter[str] = Counter()
    share = -(-count // len(KINDS)) + 1
    for mutation in candidates:
        if len(result.instances) >= count or result.tried >= tries:
            break
        if (mutation.file, mutation.scope) in used_scopes or per_kind[mutation.kind] >= share:
            continue
        result.tried += 1
        verdict = runner.try_mutation(mutation, seed, result.baseline)
        if isinstance(verdict, str):
            result.rejected[verdict] += 1
        else:
            result.instances.append(verdict)
            used_scopes.add((mutation.file, mutation.scope))
            per_kind[mutation.kind] += 1
        if bar is not None:
            progress.update(
                bar,
                advance=1,
                description=f"{package.key}: {len(result.instances)}/{count} tasks",
            )
    if bar is not None:
        progress.update(bar, total=result.tried, completed=result.tried)
    result.seconds = time.monotonic() - started
    say(
        f"{package.key}: {len(result.instances)} tasks from {result.tried} mutations in"
        f" {result.seconds:.0f} s; not kept: {dict(result.rejected) or 'none'}"
    )
    return result


def draw(package: Package, tree: Path, seed: int) -> list[Mutation]:
    """Every mutation of the package's source files, in the order the seed draws them.

    Each operator's mutations are shuffled, then the operators take turns (in an order the
    seed also shuffles), so a small draw still holds every kind of bug.
    """
    by_kind: dict[str, list[Mutation]] = {kind: [] for kind in KINDS}
    for relative in package.source_files(tree):
        text = (tree / relative).read_text(encoding="utf-8")
        try:
            mutations = find_mutations(text, relative)
        except MutationError:
            continue  # code this interpreter cannot parse (another Python's) is never run
        for mutation in mutations:
            by_kind[mutation.kind].append(mutation)
    rng = random.Random(seed)
    kinds = list(KINDS)
    rng.shuffle(kinds)
    queues = []
    for kind in kinds:
        rng.shuffle(by_kind[kind])
        queues.append(by_kind[kind])
    order: list[Mutation] = []
    for turn in range(max((len(queue) for queue in queues), default=0)):
        order.extend(queue[turn] for queue in queues if turn < len(queue))
    return order


def problem_statement(package: Package, fail_to_pass: Sequence[str], report: TestReport) -> str:
    """The task as a user would report it: which tests broke and how, in one line each."""
    lines = [
        f"After a recent change to {package.name} {package.version}, tests that used to pass"
        " now fail:",
        "",
    ]
    for test in fail_to_pass[:_LISTED_TESTS]:
        lines.append(f"- {test}: {_reason(test, report)}")
    if len(fail_to_pass) > _LISTED_TESTS:
        lines.append(f"- ... and {len(fail_to_pass) - _LISTED_TESTS} more")
    lines += [
        "",
        "Find and fix the bug in the package's source code so these tests pass again without"
        " breaking the others. Do not edit the tests.",
    ]
    return "\n".join(lines)


def write_tasks(path: str | Path, instances: Sequence[SWEInstance]) -> None:
    """Write ``instances`` as a task file, one JSON object a line (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        for instance in instances:
            out.write(instance.model_dump_json() + "\n")
    os.replace(scratch, path)


def _reason(test: str, report: TestReport) -> str:
    outcome = report.outcomes.get(test)
    if outcome is None:
        return "it no longer runs (it was not collected)"
    message = report.messages.get(test, "")
    first = " ".join(message.splitlines()[0].split()) if message.strip() else ""
    # Object addresses change from run to run; the statement must not.
    first = _ADDRESS.sub("0x...", first)
    if len(first) > _REASON_CHARS:
        first = first[: _REASON_CHARS - 3] + "..."
    if outcome == "error":
        return f"error while setting up or tearing down: {first}" if first else "error"
    return first or outcome


class _Runner:
    """Runs the package's suite in fresh sandboxes seeded with its clean source."""

    def __init__(
        self, package: Package, tree: Path, env: TestEnv, source: LocalSource, base_commit: str
    ):
        self.package = package
        self.tree = tree
        self.source = source
        self.base_commit = base_commit
        self.settings = env.sandbox_kwargs()
        self.timeout = package.timeout_s

    def _sandbox(self) -> BubblewrapSandbox:
        limits = SandboxLimits(timeout_s=self.timeout)
        return BubblewrapSandbox(self.tree, limits=limits, **self.settings)

    def _run(self, sandbox: BubblewrapSandbox) -> TestReport:
        return run_tests(sandbox, command=self.package.test_command, timeout=self.timeout)

    def baseline(self) -> list[str]:
        started = time.monotonic()
        with self._sandbox() as sandbox:
            first = self._run(sandbox)
            second = self._run(sandbox)
        if first.timed_out or second.timed_out:
            raise TaskError(f"{self.package.key}: the clean test suite ran past {self.timeout:g} s")
        passing = sorted(t for t in first.outcomes if first.passed(t) and second.passed(t))
        if not passing:
            raise TaskError(
                f"{self.package.key}: no test passes on the clean source (exit status"
                f" {first.exit_code}); check its test command {self.package.test_command!r}"
                " and test environment"
            )
        # A planted bug may slow the suite down, but an endless loop must not stall synthesis.
        self.timeout = min(self.package.timeout_s, 3 * (time.monotonic() - started) / 2 + 20)
        return passing

    def try_mutation(self, mutation: Mutation, seed: int, baseline: list[str]) -> SWEInstance | str:
        """The task ``mutation`` makes, or why it makes none."""
        recipe = mutation.recipe(seed)
        original = (self.tree / mutation.file).read_text(encoding="utf-8")
        try:
            # From the recipe alone, as every episode will rebuild it.
            mutated = apply_mutation(original, recipe)
        except MutationError:
            return "does not apply"
        with self._sandbox() as sandbox:
            sandbox.write_file(mutation.file, mutated.encode("utf-8"))
            first = self._run(sandbox)
            if first.timed_out:
                return "timed out"
            failing = [t for t in baseline if not first.passed(t)]
            if not failing:
                return "no test fails"
            if len(failing) > MAX_FAIL_TO_PASS:
                return f"more than {MAX_FAIL_TO_PASS} tests fail"
            second = self._run(sandbox)
        if second.timed_out:
            return "timed out"
        fail_to_pass = [t for t in failing if not second.passed(t)]
        if not fail_to_pass:
            return "failures are flaky"
        pass_to_pass = [t for t in baseline if first.passed(t) and second.passed(t)]
        package = self.package
        # Named by a hash: an id that said where the bug is would give it away.
        digest = hashlib.sha256(recipe.model_dump_json().encode()).hexdigest()[:10]
        repo = f"pypi/{package.name}" if self.source.kind == "sdist" else package.name
        return SWEInstance(
            instance_id=f"{package.name}-{package.version}-{digest}",
            repo=repo,
            base_commit=self.base_commit,
            problem_statement=problem_statement(package, fail_to_pass, first),
            FAIL_TO_PASS=fail_to_pass,
            PASS_TO_PASS=pass_to_pass,
            source=self.source,
            mutation=recipe,
            environment=package.key,
        )
