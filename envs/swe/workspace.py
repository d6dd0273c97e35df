"""A task's workspace: its repository at the base commit (with a synthesized bug planted).

Sources are fetched once into the cache (``$PRMGYM_CACHE`` or ``~/.cache/prmgym``):

- ``git``: ``git archive`` of the base commit of a repository on this machine;
- ``sdist``: ``pip download --no-deps --no-binary :all: NAME==VERSION``, unpacked.

A task's workspace seed is a copy of that tree with the task's mutation applied, built once
and reused by every episode of the task (the sandbox copies it into its private workspace).
Every step writes to a temporary folder first and renames it into place, so a run killed
half-way never leaves a broken tree behind, and two processes building the same one agree.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from prmgym.envs.swe.tasks import LocalSource, SWEInstance
from prmgym.errors import TaskError


def cache_root() -> Path:
    """The cache folder of the SWE family (``$PRMGYM_CACHE/swe``, default ``~/.cache/prmgym``)."""
    base = os.environ.get("PRMGYM_CACHE") or Path.home() / ".cache" / "prmgym"
    return Path(base) / "swe"


def source_tree(source: LocalSource, base_commit: str) -> Path:
    """The repository's files at ``base_commit`` (git) or the unpacked sdist, fetched once."""
    if source.kind == "git":
        assert source.path is not None
        repo = Path(source.path).expanduser().resolve()
        key = hashlib.sha256(f"{repo}@{base_commit}".encode()).hexdigest()[:16]
        return _built(
            cache_root() / "git" / f"{repo.name}-{key}",
            lambda target: _git_archive(repo, base_commit, target),
        )
    assert source.requirement is not None
    name, _, version = source.requirement.partition("==")
    return _built(
        cache_root() / "sdists" / f"{name}-{version}",
        lambda target: _unpacked_sdist(source.requirement or "", target),
    )


def workspace_seed(instance: SWEInstance) -> Path:
    """The folder every episode of ``instance`` starts from: its source with the bug planted."""
    tree = source_tree(instance.source, instance.base_commit)
    if instance.mutation is None:
        return tree
    digest = hashlib.sha256(instance.mutation.model_dump_json().encode()).hexdigest()[:12]

    def build(target: Path) -> None:
        shutil.copytree(tree, target, symlinks=True)
        mutated = target / instance.mutation.file  # type: ignore[union-attr]
        mutated.write_text(_mutated_text(instance, tree), encoding="utf-8")

    return _built(cache_root() / "workspaces" / f"{_safe(instance.instance_id)}-{digest}", build)


def gold_patch(instance: SWEInstance) -> str:
    """The fix as a unified diff: the task's ``patch``, or the mutation undone."""
    if instance.mutation is None:
        return instance.patch
    tree = source_tree(instance.source, instance.base_commit)
    name = instance.mutation.file
    original = (tree / name).read_text(encoding="utf-8")
    mutated = _mutated_text(instance, tree)
    lines = difflib.unified_diff(
        mutated.splitlines(keepends=True),
        original.splitlines(keepends=True),
        f"a/{name}",
        f"b/{name}",
    )
    # difflib leaves a last line without its newline as it is; diff and git apply want a marker.
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    )


def _mutated_text(instance: SWEInstance, tree: Path) -> str:
    from prmgym.envs.swe.mutations import apply_mutation

    assert instance.mutation is not None
    path = tree / instance.mutation.file
    if not path.is_file():
        raise TaskError(
            f"task {instance.instance_id}: {instance.mutation.file} is not in"
            f" {instance.base_commit}; the task was made from another version"
        )
    return apply_mutation(path.read_text(encoding="utf-8"), instance.mutation)


def _built(target: Path, build: Callable[[Path], None]) -> Path:
    """``target``, building it with ``build(temporary folder)`` unless it exists."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(scratch / "tree")
        try:
            os.rename(scratch / "tree", target)
        except OSError:
            if not target.is_dir():  # another process won the race; its tree is the same
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _git_archive(repo: Path, commit: str, target: Path) -> None:
    target.mkdir()
    try:
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", commit],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise TaskError(
            f"cannot check out {commit} of the git repository {repo}: "
            f"{detail.decode(errors='replace').strip() or exc}"
        ) from exc
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")


def _unpacked_sdist(requirement: str, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="prmgym-sdist-") as download:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        done = subprocess.run(
            [*command, "--quiet", "--dest", download, requirement],
            capture_output=True,
            text=True,
        )
        files = list(Path(download).iterdir())
        if done.returncode != 0 or len(files) != 1:
            raise TaskError(
                f"cannot download the sdist {requirement} with pip (it needs PyPI or a mirror"
                f" the first time; later runs use the cache): {done.stderr.strip()[-500:]}"
            )
        unpacked = Path(download) / "unpacked"
        archive = files[0]
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(unpacked)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
        roots = list(unpacked.iterdir())
        # An sdist holds one top folder, NAME-VERSION/.
        shutil.move(roots[0] if len(roots) == 1 else unpacked, target)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
