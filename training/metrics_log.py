"""MetricsLog: one JSON line per iteration in ``metrics.jsonl``, and TensorBoard when installed.

On resume, lines from iterations at or after the resume point are dropped first: they belong
to work the killed run did not checkpoint, and will be written again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only training metrics.

    Args:
        output_dir: The run's folder; ``metrics.jsonl`` goes there, TensorBoard events under
            ``tensorboard/``.
        start: The first iteration this process runs (0, or the resume point).
        tensorboard: Also write TensorBoard events when the ``tensorboard`` package is there.
    """

    def __init__(self, output_dir: str | Path, start: int = 0, *, tensorboard: bool = True):
        self.path = Path(output_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [
            line
            for line in (self.path.read_text().splitlines() if self.path.exists() else [])
            if line.strip() and json.loads(line).get("iteration", -1) < start
        ]
        self.path.write_text("".join(line + "\n" for line in kept))
        self._writer: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                pass
            else:
                self._writer = SummaryWriter(str(self.path.parent / "tensorboard"))

    def log(self, iteration: int, values: dict[str, float]) -> None:
        """Record ``values`` of ``iteration``."""
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"iteration": iteration, **values}) + "\n")
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(key, value, iteration)
            self._writer.flush()

    def records(self) -> list[dict[str, Any]]:
        """Every line written so far."""
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        """Flush and close TensorBoard's writer."""
        if self._writer is not None:
            self._writer.close()
