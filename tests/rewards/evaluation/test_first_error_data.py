"""The data family's first-error set, played through DataEnv and measured end to end."""

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from prmgym.cli import app
from prmgym.envs.data.oracle import oracle_actions
from prmgym.envs.data.perturbations import DATA_KINDS, perturb_data
from prmgym.rewards.evaluation.first_error import build_first_error_set, perturbations_for
from prmgym.rewards.evaluation.harness import evaluate_first_error
from prmgym.rewards.verifiers.data import DataVerifier

ENV_ID = "prmgym/Data-v0"


@pytest.fixture(scope="module")
def items():
    return build_first_error_set(ENV_ID, "test", 8, seed=0)


def test_the_data_family_is_registered():
    declared = perturbations_for("data")
    assert declared.perturb is perturb_data and declared.kinds == DATA_KINDS


@pytest.mark.slow
def test_the_set_holds_every_kind_and_outcomes_come_from_the_env(items):
    kinds = Counter(item.kind for item in items)
    assert kinds == {"none": 4, "wrong_code": 1, "corrupt_table": 1, "wrong_answer": 1, "repeat": 1}
    for item in items:
        trajectory = item.trajectory
        assert trajectory.steps[-1].tool == "answer"
        assert all(step.action_error is None for step in trajectory.steps)
        if item.kind == "none":
            assert [s.action for s in trajectory.steps] == oracle_actions(trajectory.task)
        # A wasted step still reaches the right answer; every other error spoils it.
        assert trajectory.success == (item.kind in ("none", "repeat")), item.kind


@pytest.mark.slow
def test_the_set_is_deterministic_for_a_seed(items):
    def actions(labelled):
        return [[s.action for s in item.trajectory.steps] for item in labelled]

    assert actions(build_first_error_set(ENV_ID, "test", 8, seed=0)) == actions(items)


@pytest.mark.slow
def test_the_data_verifier_catches_destroyed_tables_and_wrong_answers(items):
    report = evaluate_first_error(DataVerifier(), items, threshold=0.5)
    assert report.failed == 0
    assert report.per_kind["none"]["acc_correct"] == 1.0
    assert report.per_kind["corrupt_table"]["acc_erroneous"] == 1.0
    assert report.per_kind["wrong_answer"]["acc_erroneous"] == 1.0


@pytest.mark.slow
def test_eval_prm_reports_the_data_verifiers_f1(tmp_path):
    out = tmp_path / "prm.json"
    args = ["eval-prm", "--family", "data", "--count", "4", "--prm", "verifier"]
    result = CliRunner().invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "First-error F1 per family" in result.output and "data" in result.output
    overall = json.loads(out.read_text())["first_error"]["data"]["verifier"]["overall"]
    assert overall["acc_correct"] == 1.0 and 0.0 < overall["f1"] <= 1.0
