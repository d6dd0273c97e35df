"""Data-parallel training over the processes ``accelerate launch`` (or ``torchrun``) starts.

Each process holds a full copy of the policy. An iteration's tasks are split between the
processes, each rolls out its share, and the episodes are gathered so that every process
computes the same advantages and samples. The update then splits every minibatch between the
processes; their gradients are averaged (one all-reduce per optimizer step, through accelerate)
and every process takes the same optimizer step, so the copies stay identical.

The loss of a process's share is scaled by ``world * share_tokens / minibatch_tokens``:
averaging those gradients gives exactly the gradient of the token-level mean over the whole
minibatch, so ``optim.minibatch_size`` means the same with one process or eight and a run's
update does not depend on how many processes shared it.

Plain torch collectives rather than ``DistributedDataParallel``: the SFT warm start goes through
TRL, which wraps the model in its own DDP, and a second wrapper's gradient hooks on the same
parameters would fire during the other's backward passes.

With one process every method is a no-op, so the trainer runs this code on a laptop too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def launched_rank() -> int:
    """This process's rank as the launcher set it (0 when not launched), without torch setup.

    For deciding early (e.g. in the CLI) whether this process should print.
    """
    return int(os.environ.get("RANK", "0"))


class DataParallel:
    """The processes sharing one training run, through accelerate's ``PartialState``.

    Args:
        device: ``"cpu"`` trains on CPUs (gloo collectives); anything else takes the GPU the
            launcher gave this process (``cuda:LOCAL_RANK``, NCCL collectives).
    """

    def __init__(self, device: str = "cpu"):
        self.rank, self.world, self.device = 0, 1, device
        self._state: Any = None
        # A lone process leaves accelerate's global state alone, for TRL to set up its way.
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import PartialState

            self._state = PartialState(cpu=device == "cpu")
            self.rank, self.world = self._state.process_index, self._state.num_processes
            if device != "cpu":
                self.device = str(self._state.device)

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and logs (rank 0)."""
        return self.rank == 0

    def share(self, items: Sequence[T]) -> list[T]:
        """This process's contiguous part of ``items`` (parts differ in size by at most one).

        ``gather(share(items))`` is ``items`` in its order.
        """
        size, extra = divmod(len(items), self.world)
        start = self.rank * size + min(self.rank, extra)
        return list(items[start : start + size + (self.rank < extra)])

    def gather(self, items: list[T]) -> list[T]:
        """Every process's ``items``, concatenated in rank order, on every process."""
        if self.world == 1:
            return items
        from accelerate.utils import gather_object

        return list(gather_object(items))

    def average_gradients(self, parameters: Sequence[torch.nn.Parameter]) -> None:
        """Replace each gradient by its mean over the processes (a missing one counts as 0)."""
        if self.world == 1:
            return
        from accelerate.utils import reduce

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
        flat = reduce(torch.cat([g.reshape(-1) for g in grads]), reduction="mean")
        offset = 0
        for parameter, grad in zip(parameters, grads, strict=True):
            parameter.grad = flat[offset : offset + grad.numel()].view_as(grad)
            offset += grad.numel()

    def check_in_step(self, parameters: Sequence[torch.nn.Parameter], after: str) -> None:
        """Raise if the processes' copies of ``parameters`` differ (compared by checksums).

        They take identical steps from identical weights, so any difference is a bug (or an
        outside change to one copy) that would otherwise go on silently.
        """
        if self.world == 1:
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1).double().cpu() for p in parameters])
            weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64).remainder(97)
            checksum = (float(flat.sum()), float((flat * weights).sum()))
        sums = self.gather([checksum])
        if any(s != sums[0] for s in sums):
            raise RuntimeError(
                f"the data-parallel processes' weights differ after {after}: {sums}; every "
                "process must start from the same weights and take the same steps"
            )

    def wait(self) -> None:
        """Block until every process gets here (e.g. while rank 0 writes a checkpoint)."""
        if self._state is not None:
            self._state.wait_for_everyone()

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each key's mean over the processes that reported it."""
        if self.world == 1:
            return values
        reported: dict[str, list[float]] = {}
        for part in self.gather([values]):
            for key, value in part.items():
                reported.setdefault(key, []).append(value)
        return {key: sum(v) / len(v) for key, v in reported.items()}
