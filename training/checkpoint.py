"""Checkpoints a killed run resumes from.

A checkpoint holds the trainable weights (the LoRA adapter, or every weight under full
fine-tuning), the optimizer state, the random generators and the trainer's own state (the next
iteration). It is written to a hidden folder and renamed into place, so a run killed mid-save
(SIGKILL included) leaves the previous checkpoint intact and never a half-written one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch

_PREFIX = "checkpoint-"
_KEEP = 2
"""Checkpoints kept on disk; older ones are deleted after a new one lands."""


def save_checkpoint(
    output_dir: str | Path,
    iteration: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    extra: dict[str, tuple[torch.nn.Module, torch.optim.Optimizer]] | None = None,
) -> Path:
    """Write the checkpoint of a finished ``iteration`` (0-based) and return its folder.

    Args:
        output_dir: The run's folder.
        iteration: The iteration just finished; a resumed run starts at ``iteration + 1``.
            -1 is the SFT warm start, before any iteration (folder ``checkpoint-warm-start``).
        model: The policy; only parameters that require grad are saved.
        optimizer: Its optimizer.
        state: JSON-serialisable trainer state saved beside the weights.
        extra: Other trained modules by name (an online PRM), saved the same way.
    """
    output_dir = Path(output_dir)
    name = f"{_PREFIX}{iteration:06d}" if iteration >= 0 else f"{_PREFIX}warm-start"
    final, partial = output_dir / name, output_dir / f".partial-{name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for prefix, (module, its_optimizer) in {"": (model, optimizer), **(extra or {})}.items():
        stem = f"{prefix}." if prefix else ""
        trainable = {n: p.detach().cpu() for n, p in module.named_parameters() if p.requires_grad}
        torch.save(trainable, partial / f"{stem}trainable.pt")
        torch.save(its_optimizer.state_dict(), partial / f"{stem}optimizer.pt")
    torch.save({"torch": torch.get_rng_state(), "python": random.getstate()}, partial / "rng.pt")
    (partial / "state.json").write_text(json.dumps({**state, "iteration": iteration}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    for old in _checkpoints(output_dir)[:-_KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (by the iteration they saved)."""
    found = [p for p in output_dir.glob(f"{_PREFIX}*") if (p / "state.json").is_file()]
    return sorted(found, key=lambda p: json.loads((p / "state.json").read_text())["iteration"])


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint in ``output_dir``, or None."""
    found = _checkpoints(Path(output_dir))
    return found[-1] if found else None


def load_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    extra: dict[str, tuple[torch.nn.Module, torch.optim.Optimizer]] | None = None,
) -> dict[str, Any]:
    """Restore weights, optimizer and random generators from ``path``; return the state.

    ``extra`` names other modules saved with the checkpoint; one it does not hold keeps its
    current weights (a run that did not train it).
    """
    path = Path(path)
    for prefix, (module, its_optimizer) in {"": (model, optimizer), **(extra or {})}.items():
        stem = f"{prefix}." if prefix else ""
        if prefix and not (path / f"{stem}trainable.pt").is_file():
            continue
        trainable = torch.load(path / f"{stem}trainable.pt", weights_only=True)
        missing = set(trainable) - {n for n, _ in module.named_parameters()}
        if missing:
            raise ValueError(
                f"checkpoint {path} holds weights this model lacks ({sorted(missing)[:3]}...);"
                " resume with the same model and LoRA settings"
            )
        module.load_state_dict(trainable, strict=False)
        its_optimizer.load_state_dict(torch.load(path / f"{stem}optimizer.pt", weights_only=True))
    rng = torch.load(path / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    return json.loads((path / "state.json").read_text())
