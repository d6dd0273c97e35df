"""Run under ``torchrun``: one data-parallel ``update_policy`` on fixed samples.

``python data_parallel_update.py MODEL_DIR OUT_DIR`` saves this rank's trainable weights after
the update to ``OUT_DIR/rank-N.pt``; run without a launcher it is the single-process reference.
"""

import random
import sys
from pathlib import Path

import torch

from prmgym.training.config import OptimConfig
from prmgym.training.data_parallel import DataParallel
from prmgym.training.policy_model import LoraSettings, load_policy_model
from prmgym.training.samples import ActionSample
from prmgym.training.trainer import update_policy

PROMPTS = ["search the index", "what is the capital of France?", "open the file", "run tests"]
ACTIONS = ['search("page")', "Paris is the capital", "edit one line and submit", "ok"]


def main(model_dir: str, out: str) -> None:
    torch.manual_seed(0)
    backend = load_policy_model(model_dir, lora=LoraSettings(r=4, alpha=8))
    tokenizer = backend.tokenizer
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    # Actions of different lengths and advantages, so a wrong token weighting shows.
    samples = [
        ActionSample(encode(p), encode(a), advantage, i, 0)
        for i, (p, a, advantage) in enumerate(
            zip(PROMPTS * 2, ACTIONS * 2, [1.0, -0.5, 2.0, -1.0, 0.3, 1.5, -2.0, 0.7], strict=True)
        )
    ]
    parallel = DataParallel("cpu")
    stats = update_policy(
        backend.model,
        # Plain SGD: the step is the gradient itself, where Adam's normalisation would hide a
        # wrongly weighted one.
        torch.optim.SGD([p for p in backend.model.parameters() if p.requires_grad], lr=1.0),
        samples,
        OptimConfig(
            minibatch_size=3, epochs=2, learning_rate=1.0, grad_accumulation=2, kl_coef=0.05
        ),
        pad_id=tokenizer.pad_token_id,
        generator=random.Random(7),
        parallel=parallel,
    )
    trainable = {n: p.detach() for n, p in backend.model.named_parameters() if p.requires_grad}
    torch.save({"weights": trainable, "stats": stats}, Path(out) / f"rank-{parallel.rank}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:3])
