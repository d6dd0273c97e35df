import json

import pytest
from pydantic import ValidationError

from prmgym.envs.swe.tasks import LocalSource, SWEInstance

RECORD = {
    "instance_id": "demo__pkg-1",
    "repo": "demo/pkg",
    "base_commit": "abc123",
    "problem_statement": "add() is wrong",
    "patch": "diff",
    # SWE-bench's own files hold these lists as JSON strings.
    "FAIL_TO_PASS": json.dumps(["tests/test_pkg.py::test_add"]),
    "PASS_TO_PASS": json.dumps([]),
    "source": {"kind": "git", "path": "/repos/pkg"},
    "created_at": "2024-01-01",
}


def test_an_swe_bench_record_loads_and_round_trips_through_a_task():
    instance = SWEInstance.model_validate(RECORD)
    assert instance.FAIL_TO_PASS == ["tests/test_pkg.py::test_add"]
    task = instance.to_task()
    assert task.family == "swe" and task.instruction == "add() is wrong"
    assert "FAIL_TO_PASS" not in task.instruction
    assert SWEInstance.from_task(task) == instance


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"FAIL_TO_PASS": []}, "FAIL_TO_PASS is empty"),
        ({"source": {"kind": "git"}}, "needs path"),
        ({"source": {"kind": "sdist", "requirement": "toolz"}}, "NAME==VERSION"),
    ],
)
def test_bad_records_say_what_is_missing(change, message):
    with pytest.raises(ValidationError, match=message):
        SWEInstance.model_validate({**RECORD, **change})


def test_an_sdist_source_names_its_release():
    source = LocalSource(kind="sdist", requirement="toolz==1.0.0")
    assert source.requirement == "toolz==1.0.0" and source.path is None
