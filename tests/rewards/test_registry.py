import pytest

from prmgym.errors import ConfigError
from prmgym.rewards.composite import CompositePRM
from prmgym.rewards.judges.base import JudgeStats
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.rubrics.agent import RubricPRM
from prmgym.rewards.verifiers.search import SearchVerifier


class NullJudge:
    name = "null"
    stats = JudgeStats()

    def judge(self, queries):
        return [[0.5] * len(q.criteria) for q in queries]


def test_verifier_alias_resolves_by_family():
    assert isinstance(make_scorer("verifier", family="search"), SearchVerifier)
    with pytest.raises(ConfigError, match="families with one"):
        make_scorer("verifier", family="chess")


def test_rubric_builds_the_judge_only_when_needed(tmp_path):
    built = []

    def factory():
        built.append(1)
        return NullJudge()

    make_scorer("search-verifier", judge=factory)
    assert built == []
    assert isinstance(make_scorer("rubric", judge=factory), RubricPRM) and built == [1]
    with pytest.raises(ConfigError, match="--judge"):
        make_scorer("rubric")


def test_rubric_and_mix_files(tmp_path):
    rubric = tmp_path / "r.yaml"
    rubric.write_text("name: r\ncriteria:\n  - {id: a, text: t, check: parses}\n")
    assert isinstance(make_scorer(str(rubric)), RubricPRM)  # programmatic: no judge needed
    mix = tmp_path / "mix.yaml"
    mix.write_text(
        "scorers:\n  - {name: verifier, weight: 0.7, gate: true}\n  - {name: rubric, weight: 0.3}\n"
    )
    prm = make_scorer(str(mix), family="search", judge=NullJudge)
    assert isinstance(prm, CompositePRM)
    assert prm.weights == [0.7, 0.3] and prm.gates == [True, False]
    bad = tmp_path / "bad.yaml"
    bad.write_text("hello: world\n")
    with pytest.raises(ConfigError, match="criteria"):
        make_scorer(str(bad))


def test_unknown_names_list_the_forms():
    with pytest.raises(ConfigError, match="rubric/mix YAML"):
        make_scorer("telepathy")
    with pytest.raises(ConfigError, match="not found"):
        make_scorer("missing.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: r\ncriteria:\n  - {id: a\n", r"r.yaml, line 4, column 1: not valid YAML"),
        ("scorers: [verifier\n", r"r.yaml, line 2, column 1: not valid YAML"),
        ("", r"r.yaml is empty"),
        ("- criteria\n", r"r.yaml: expected a rubric"),
    ],
)
def test_a_broken_rubric_or_mix_file_is_named_with_its_line(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        make_scorer(str(path), family="search")
