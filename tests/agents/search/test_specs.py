import pytest

from prmgym.agents.search import make_search
from prmgym.errors import ConfigError
from prmgym.rewards.verifiers.search import SearchVerifier


def test_prune_spec_options():
    method = make_search("prune:k=8,hard_rules=off", family="search")
    assert method.k == 8 and not method.use_hard_rules
    assert isinstance(method.prm, SearchVerifier) and method.name == "prune:k=8"
    assert make_search("prune", family="search").k == 4


def test_beam_and_early_rejection_specs():
    beam = make_search("beam:b=3,k=2,how=mean", family="search")
    assert (beam.beams, beam.k, beam.how, beam.name) == (3, 2, "mean", "beam:b=3,k=2")
    early = make_search("prune:k=8,early=6,keep=0.25", family="search")
    assert (early.k, early.early, early.keep) == (8, 6, 0.25)
    assert early.name == "prune:k=8,early=6,keep=0.25"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("beams:b=2", "unknown search"),
        ("beam:b=0", "at least 1"),
        ("beam:b=2,how=best", "how is one of"),
        ("prune:early=0", "at least 1 token"),
        ("prune:keep=2", "share"),
        ("prune:keep=half", "share"),
        ("prune:k=four", "whole number"),
        ("prune:width=2", "bad search option"),
        ("prune:hard_rules=maybe", "on or off"),
        ("prune:k=0", "at least 1"),
    ],
)
def test_bad_specs_show_the_syntax(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_search(spec, family="search")
