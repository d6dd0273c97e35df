import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prmgym.errors import ConfigError
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.disagreement import auroc
from prmgym.rewards.evaluation.labeled import LabeledTrajectory, save_labeled
from prmgym.rewards.learned.loading import read_marker
from prmgym.rewards.learned.token_classification import encode_steps
from prmgym.rewards.learned.value_head import ValueHeadModel, ValueHeadPRM
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.render import RenderedTrajectory
from prmgym.task import Task
from prmgym.training.prm.config import load_train_prm_config
from prmgym.training.prm.dataset import prm_row
from prmgym.training.prm.train import train_prm
from prmgym.training.prm.value_trainer import (
    value_example,
    value_head_steps,
    value_targets,
)
from prmgym.trajectory import Step, Trajectory


def episode(i, success):
    # Successful episodes open the page that holds the answer (the marker); failed ones
    # search again. The question varies so that rows are not copies of each other.
    middle = 'open("paris")' if success else 'search("x")'
    steps = [
        Step(index=0, action='search("capital France")', observation="result: read the page"),
        Step(index=1, action=middle, observation="the page"),
        Step(index=2, action='answer("it")', observation=""),
    ]
    task = Task(id=f"t{i}", family="search", instruction=f"question {i}: what is it?")
    return Trajectory(task=task, steps=steps, success=success)


def toy_rows():
    # A failed episode's last step is labelled wrong, so its outcome (last label) is 0.
    return [
        prm_row(episode(i, i % 2 == 0), [True, True, i % 2 == 0], observation_chars=20)
        for i in range(8)
    ]


def separation(prm):
    """AUROC and mean gap of the final values of successful over failed toy episodes."""
    scores = prm.score_many([episode(i, i % 2 == 0) for i in range(8)])
    values, success = [s[-1].value for s in scores], [i % 2 == 0 for i in range(8)]
    good = [v for v, ok in zip(values, success, strict=True) if ok]
    bad = [v for v, ok in zip(values, success, strict=True) if not ok]
    return auroc(values, success), sum(good) / len(good) - sum(bad) / len(bad)


def test_targets_are_the_outcome_or_each_step_label():
    row = {"labels": [True, True, False]}
    assert value_targets(row, "outcome") == [0.0, 0.0, 0.0]
    assert value_targets(row, "step") == [1.0, 1.0, 0.0]
    assert value_targets({"labels": [True, True]}, "outcome") == [1.0, 1.0]


def test_training_examples_read_the_positions_the_scorer_reads(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    row = toy_rows()[1]
    full = encode_steps(tokenizer, RenderedTrajectory(row["prompt"], row["completions"]))
    example = value_example(tokenizer, row, [0.1, 0.2, 0.3], max_length=1024)
    assert (example.input_ids, example.positions) == (full.input_ids, full.step_ends)
    # A budget that keeps only the tokens after step 0's separator (the tiny tokenizer has no
    # bos): step 0's prefix is lost, the others still point at their separators.
    budget = len(full.input_ids) - full.step_ends[0] - 1
    cut = value_example(tokenizer, row, [0.1, 0.2, 0.3], max_length=budget)
    assert len(cut.input_ids) == budget and cut.targets == [0.2, 0.3]
    assert [cut.input_ids[p] for p in cut.positions] == [
        full.input_ids[p] for p in full.step_ends[1:]
    ]
    assert cut.input_ids[-1] == full.input_ids[-1]


def test_a_few_steps_separate_successful_from_failed_prefixes(tiny_model_dir):
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = ValueHeadModel.from_base(tiny_model_dir)
    prm = ValueHeadPRM.from_model(model, tokenizer, observation_chars=20, max_length=128)
    before_auroc, before_gap = separation(prm)
    examples = [
        value_example(tokenizer, row, value_targets(row, "outcome"), 128) for row in toy_rows()
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for epoch in range(6):
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(epoch))
        losses += value_head_steps(
            model,
            optimizer,
            examples,
            order=order.tolist(),
            batch_size=4,
            pad_id=tokenizer.pad_token_id,
        )
    model.eval()
    after_auroc, gap = separation(prm)
    assert before_auroc < 0.5 and after_auroc == 1.0
    assert gap > 0.5 > before_gap
    assert losses[-1] < losses[0] / 2


def labeled_items():
    items = []
    for n, first_error in [(3, -1), (3, 1), (2, 0), (3, 2)]:
        steps = [
            Step(index=i, action=f'search("topic {i}")', observation=f"result {i}")
            for i in range(n)
        ]
        task = Task(id=f"t{n}{first_error}", family="search", instruction="what is it?")
        trajectory = Trajectory(task=task, steps=steps, success=first_error == -1)
        items.append(LabeledTrajectory(trajectory=trajectory, first_error=first_error))
    return items


@pytest.mark.parametrize("lora_rank", [0, 4])
def test_train_prm_trains_a_value_head_that_loads_by_its_directory(
    tiny_model_dir, tmp_path, lora_rank
):
    data = save_labeled(labeled_items(), tmp_path / "labeled.jsonl")
    config = load_train_prm_config(
        None,
        [
            "kind=value-head",
            f"base_model={tiny_model_dir}",
            "data.source=file",
            f"data.path={data}",
            f"output_dir={tmp_path / 'prm'}",
            "max_length=64",
            "observation_chars=20",
            "learning_rate=5e-2",
            "batch_size=2",
            "train_layers=1",
            f"lora_rank={lora_rank}",
            "calibration=0.5",
        ],
    )
    output = train_prm(config)
    marker = read_marker(output)
    assert marker.kind == "value-head" and marker.observation_chars == 20
    assert marker.training["rows"] == 2 and marker.training["calibration"]["items"] == 2
    assert marker.threshold is not None
    prm = make_scorer(str(output))
    assert isinstance(prm, ValueHeadPRM)
    check_reward_model(prm, labeled_items()[0].trajectory)
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    after = prm.model.backbone.state_dict()
    assert not any("lora" in name for name in after)
    # The top layer trained (in full or through a merged adapter), the bottom one did not.
    top, bottom = "layers.1.self_attn.q_proj.weight", "layers.0.self_attn.q_proj.weight"
    assert not torch.equal(before[f"model.{top}"], after[top])
    assert torch.equal(before[f"model.{bottom}"], after[bottom])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["kind=value-heads"], "kind"),
        (["kind=value-head", "value_target=reward"], "value_target"),
        (["value_target=step"], "kind=value-head"),
    ],
)
def test_bad_value_head_configs_say_how_to_fix(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_train_prm_config(None, overrides)


def test_value_target_step_is_accepted_for_the_value_head():
    config = load_train_prm_config(None, ["kind=value-head", "value_target=step"])
    assert (config.kind, config.value_target) == ("value-head", "step")
