"""What every PRM trainer leaves next to the weights: ``prmgym-prm.json`` with a summary."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from prmgym.rewards.learned.loading import LearnedPRMInfo, write_marker
from prmgym.training.prm.config import TrainPRMConfig

logger = logging.getLogger(__name__)


def write_training_record(
    output: Path,
    config: TrainPRMConfig,
    *,
    kind: str,
    base_model: str | Path,
    started: float,
    summary: dict[str, Any],
    beta: float | None = None,
) -> dict[str, Any]:
    """Write the marker that makes ``output`` a loadable PRM, and log it.

    Args:
        output: The saved PRM's directory.
        config: The run's settings (observation budget, length, epochs, data).
        kind: The PRM kind the loader dispatches on.
        base_model: The model it was trained from.
        started: ``time.perf_counter()`` when training started.
        summary: The trainer's own figures (rows, losses...); epochs, wall time and the data
            settings are added here, as every trainer reports them.
        beta: The implicit PRM's reward scale; None for other kinds.

    Returns:
        The training summary written.
    """
    training = {
        **summary,
        "epochs": config.epochs,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "data": vars(config.data),
    }
    write_marker(
        output,
        LearnedPRMInfo(
            kind=kind,
            base_model=str(base_model),
            observation_chars=config.observation_chars,
            max_length=config.max_length,
            beta=beta,
            training=training,
        ),
    )
    logger.info("saved the %s PRM to %s (%s)", kind, output, training)
    return training
