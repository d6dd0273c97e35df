import pytest

from prmgym.agents.search import make_search
from prmgym.errors import ConfigError
from prmgym.rewards.verifiers.search import SearchVerifier


def test_prune_spec_options():
    method = make_search("prune:k=8,hard_rules=off", family="search")
    assert method.k == 8 and not method.use_hard_rules
    assert isinstance(method.prm, SearchVerifier) and method.name == "prune:k=8"
    assert make_search("prune", family="search").k == 4


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("beam:b=2", "unknown search"),
        ("prune:k=four", "whole number"),
        ("prune:width=2", "bad search option"),
        ("prune:hard_rules=maybe", "on or off"),
        ("prune:k=0", "at least 1"),
    ],
)
def test_bad_specs_show_the_syntax(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_search(spec, family="search")
