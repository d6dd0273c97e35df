import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from prmgym.errors import ConfigError
from prmgym.rewards.checker import check_reward_model
from prmgym.rewards.evaluation.labeled import LabeledTrajectory, save_labeled
from prmgym.rewards.learned.implicit import ADAPTER_DIR, BASE_DIR, ImplicitPRM
from prmgym.rewards.learned.loading import load_learned_prm, read_marker
from prmgym.rewards.learned.token_classification import TokenClassificationPRM
from prmgym.task import Task
from prmgym.training.prm.config import TrainPRMConfig, load_train_prm_config
from prmgym.training.prm.dataset import rows_from_labeled
from prmgym.training.prm.implicit_trainer import implicit_prm_loss, train_implicit
from prmgym.training.prm.token_trainer import train_token_classification
from prmgym.training.prm.train import train_prm
from prmgym.trajectory import Step, Trajectory


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


def small_config(tmp_path, **overrides):
    values = dict(
        output_dir=str(tmp_path / "prm"),
        learning_rate=5e-2,
        batch_size=2,
        epochs=1,
        max_length=64,
        observation_chars=20,
        train_layers=1,
    )
    return TrainPRMConfig(**{**values, **overrides})


def test_token_classification_training_changes_the_trained_parameters(tiny_model_dir, tmp_path):
    config = small_config(tmp_path)
    rows = rows_from_labeled(labeled_items(), config.observation_chars)
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    output = train_token_classification(config, rows, tiny_model_dir)
    prm = load_learned_prm(output)
    assert isinstance(prm, TokenClassificationPRM)
    after = prm.model.state_dict()
    top = "model.layers.1.self_attn.q_proj.weight"
    bottom = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(before[top], after[top])
    assert torch.equal(before[bottom], after[bottom])
    assert prm.observation_chars == 20
    assert read_marker(output).training["rows"] == 4
    check_reward_model(prm, labeled_items()[0].trajectory)


def test_token_classification_with_lora_saves_merged_weights(tiny_model_dir, tmp_path):
    config = small_config(tmp_path, lora_rank=4)
    rows = rows_from_labeled(labeled_items(), config.observation_chars)
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    prm = load_learned_prm(train_token_classification(config, rows, tiny_model_dir))
    after = prm.model.state_dict()
    assert not any("lora" in name for name in after)
    top = "model.layers.1.self_attn.q_proj.weight"
    assert not torch.equal(before[top], after[top])


def test_implicit_training_moves_the_adapter_and_scores(tiny_model_dir, tmp_path):
    config = small_config(tmp_path, kind="implicit", beta=0.5)
    rows = rows_from_labeled(labeled_items(), config.observation_chars)
    output = train_implicit(config, rows, tiny_model_dir)
    assert (output / BASE_DIR / "config.json").is_file()
    assert (output / ADAPTER_DIR / "adapter_config.json").is_file()
    prm = load_learned_prm(output)
    assert isinstance(prm, ImplicitPRM)
    assert prm.beta == 0.5
    lora_b = [p for name, p in prm.model.named_parameters() if "lora_B" in name]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)
    scores = prm.score(labeled_items()[0].trajectory)
    assert any(abs(s.value - 0.5) > 1e-6 for s in scores)
    check_reward_model(prm, labeled_items()[0].trajectory)


def test_implicit_loss_is_bce_on_the_scaled_log_ratio():
    loss = implicit_prm_loss(
        torch.tensor([-1.0, -3.0]), torch.tensor([-2.0, -1.0]), torch.tensor([1.0, 0.0]), 0.5
    )
    # logits 0.5 and -1.0: -log(sigmoid(0.5)) and -log(1 - sigmoid(-1.0)), averaged.
    expected = (math.log1p(math.exp(-0.5)) + math.log1p(math.exp(-1.0))) / 2
    assert float(loss) == pytest.approx(expected)


def test_train_prm_reads_a_labeled_file(tiny_model_dir, tmp_path):
    data = save_labeled(labeled_items(), tmp_path / "labeled.jsonl")
    config = small_config(
        tmp_path, base_model=str(tiny_model_dir), data={"source": "file", "path": str(data)}
    )
    config = load_train_prm_config(
        None,
        [
            f"base_model={tiny_model_dir}",
            "data.source=file",
            f"data.path={data}",
            f"output_dir={config.output_dir}",
            "max_length=64",
            "train_layers=1",
            "calibration=0.5",
        ],
    )
    output = train_prm(config)
    marker = read_marker(output)
    assert marker.kind == "token-classification"
    # Half the items were held out to pick the decision threshold.
    assert marker.training["rows"] == 2 and marker.training["calibration"]["items"] == 2
    assert marker.threshold is not None and 0 < marker.threshold < 1
    assert len(load_learned_prm(output).score(labeled_items()[1].trajectory)) == 3


def test_config_loads_yaml_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: implicit\nepochs: 2\ndata:\n  count: 10\n")
    config = load_train_prm_config(path, ["data.count=20", "beta=0.1"])
    assert (config.kind, config.epochs, config.beta) == ("implicit", 2, 0.1)
    assert config.data.count == 20
    assert config.data.source == "perturbed"


def test_numbers_written_as_yaml_text_are_read_as_numbers():
    config = load_train_prm_config(None, ["learning_rate=5e-4", "epochs=2", "data.count=8"])
    assert config.learning_rate == 5e-4 and config.epochs == 2 and config.data.count == 8
    with pytest.raises(ConfigError, match="epochs must be a whole number"):
        load_train_prm_config(None, ["epochs=two"])


def test_shipped_config_is_valid():
    config = load_train_prm_config("configs/train-prm-search.yaml")
    assert config.kind == "token-classification"
    assert config.data.split == "train"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["kind=reward"], "kind"),
        (["epochs=0"], "epochs"),
        (["colour=red"], "unknown field"),
        (["data.source=file"], "data.path"),
        (["data.sauce=x"], "data.sauce"),
        (["kind=implicit", "train_layers=0"], "train_layers"),
        (["beta=-1"], "beta"),
        (["novalue"], "KEY=VALUE"),
    ],
)
def test_bad_configs_say_how_to_fix(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_train_prm_config(None, overrides)
