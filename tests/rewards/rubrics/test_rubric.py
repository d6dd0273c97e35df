import json

import pytest

from prmgym.errors import ConfigError
from prmgym.family import families
from prmgym.rewards.rubrics.rubric import default_rubric, load_rubric


def write(tmp_path, text, name="r.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_and_json_load_the_same_rubric(tmp_path):
    spec = {
        "name": "mine",
        "aggregation": "min",
        "criteria": [
            {"id": "a", "kind": "hard_rule", "text": "parses", "check": "parses"},
            {"id": "b", "kind": "pitfall", "text": "guesses", "applies": "on_completion"},
        ],
    }
    from_json = load_rubric(write(tmp_path, json.dumps(spec), "r.json"))
    from_yaml = load_rubric(
        write(
            tmp_path,
            "name: mine\naggregation: min\ncriteria:\n"
            "  - {id: a, kind: hard_rule, text: parses, check: parses}\n"
            "  - {id: b, kind: pitfall, text: guesses, applies: on_completion}\n",
        )
    )
    assert from_json == from_yaml
    a, b = from_yaml.criteria
    assert a.check is not None and a.check.name == "parses" and not a.judged
    assert b.weight == -1.0 and b.judged  # pitfalls default to a negative weight


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ("  - {id: a, text: t, kind: pitfall, weight: 2}", "negative weights"),
        ("  - {id: a, text: t, weight: -1}", "only pitfalls"),
        ("  - {id: a, text: t}\n  - {id: a, text: u}", "unique"),
        ("  - {id: a, text: t, kind: rule}", "criteria.0.kind"),
        ("  - {id: a, text: t, applies: sometimes}", "criteria.0.applies"),
        ("  - {id: a, text: t, colour: red}", "criteria.0.colour"),
    ],
)
def test_invalid_rubrics_name_the_file_and_field(tmp_path, criteria, message):
    path = write(tmp_path, f"name: bad\ncriteria:\n{criteria}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_rubric(path)
    assert str(path) in str(info.value)


def test_missing_and_unparseable_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_rubric(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="YAML"):
        load_rubric(write(tmp_path, "criteria: [unclosed"))


def test_every_default_rubric_has_three_hard_rules_and_three_principles():
    declared = [name for name, family in families().items() if family.rubric]
    assert {"search", "swe", "data", "web"} <= set(declared)
    for family in declared:
        rubric = default_rubric(family)
        kinds = [c.kind for c in rubric.criteria]
        assert kinds.count("hard_rule") >= 3, family
        assert kinds.count("principle") >= 3, family
        assert rubric.completion_tools, family


def test_unknown_family_says_how_to_fix():
    with pytest.raises(ConfigError, match="--prm"):
        default_rubric("chess")
