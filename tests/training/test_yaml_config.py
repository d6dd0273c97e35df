from dataclasses import dataclass, field

import pytest

from prmgym.errors import ConfigError
from prmgym.training.yaml_config import load_dataclass, to_yaml


@dataclass
class Inner:
    size: int = 2
    rate: float = 0.1


@dataclass
class Outer:
    name: str = "run"
    inner: Inner = field(default_factory=Inner)
    extra: Inner | None = None


def test_yaml_sections_and_dotted_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: a\ninner: {size: 3, rate: 5e-4}\n")
    config = load_dataclass(Outer, path, ["inner.size=7", "extra.rate=0.5"])
    assert config == Outer("a", Inner(7, 0.0005), Inner(2, 0.5))
    assert load_dataclass(Outer, path, ["extra=null"]).extra is None
    assert load_dataclass(Outer, None, []) == Outer()


def test_round_trip_through_yaml(tmp_path):
    config = Outer("b", Inner(4, 0.25), Inner(1, 1.0))
    path = tmp_path / "c.yaml"
    path.write_text(to_yaml(config))
    assert load_dataclass(Outer, path) == config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["inner.sise=3"], "unknown field.*inner.sise.*known: inner.rate, inner.size"),
        (["inner.size=2.5"], "inner.size must be a whole number"),
        (["inner=3"], "inner must be a mapping"),
        (["size"], "not KEY=VALUE"),
    ],
)
def test_errors_name_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_dataclass(Outer, None, overrides)


def test_a_missing_file_points_to_an_example(tmp_path):
    with pytest.raises(ConfigError, match="see configs/x.yaml"):
        load_dataclass(Outer, tmp_path / "nope.yaml", example="configs/x.yaml")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["rollout.group_size=0"], r"rollout.group_size must be at least 1, got 0"),
        (["rollout.env_workers=-1"], r"rollout.env_workers must be at least 1"),
        (["optim.epochs=0"], r"optim.epochs must be at least 1"),
        (["optim.max_prompt_tokens=0"], r"optim.max_prompt_tokens .* at least 1; null keeps all"),
        (["rollout.vllm_server_timeout=0"], r"rollout.vllm_server_timeout .* above 0"),
        (["eval.tasks=0"], r"eval.tasks must be at least 1"),
        (["seed=-1"], r"seed must be at least 0, got -1"),
    ],
)
def test_nonsense_training_numbers_name_the_field(overrides, message):
    from prmgym.training.config import load_train_config

    with pytest.raises(ConfigError, match=message):
        load_train_config(None, overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.k=0"], r"data.k and data.max_steps must be at least 1, got 0 and 8"),
        (["data.seed=-3"], r"data.seed must be 0 or more, got -3"),
        (["seed=-1"], r"seed must be 0 or more, got -1"),
        (["lora_alpha=0"], r"lora_alpha must be above 0"),
    ],
)
def test_nonsense_prm_training_numbers_name_the_field(overrides, message):
    from prmgym.training.prm.config import load_train_prm_config

    with pytest.raises(ConfigError, match=message):
        load_train_prm_config(None, overrides)
