import json
import os
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from prmgym.envs.data.answers import grade, parse_answers, parse_number
from prmgym.envs.data.builtin import CONCEPTS, builtin_tasks
from prmgym.envs.data.tables import TABLES, write_tables
from prmgym.envs.data.tasks import (
    DataTask,
    load_task_file,
    run_reference,
    seed_workspace,
)
from prmgym.envs.suites import task_file
from prmgym.envs.task_files import write_task_file
from prmgym.errors import TaskError
from prmgym.task import Task, save_tasks


def make(**fields) -> DataTask:
    record = {
        "id": "t/1",
        "question": "What is the mean bill length?",
        "format": "@mean[value] where value is a number rounded to 2 decimal places.",
        "tables": ["penguins"],
        "answers": {"mean": "43.92"},
        "level": "easy",
        "reference_code": 'import pandas as pd\nanswer = {"mean": "43.92"}\n',
    }
    return DataTask(**{**record, **fields})


def reply(answers: dict[str, str]) -> str:
    return " ".join(f"@{name}[{value}]" for name, value in answers.items())


@pytest.fixture(scope="module")
def shipped() -> list[DataTask]:
    return load_task_file("data-lite")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tables")
    write_tables(sorted(TABLES), folder)
    return folder


@pytest.mark.slow
def test_every_reference_code_reproduces_its_answers_from_fresh_csv(shipped, workspace):
    wrong = {}
    for task in shipped:
        got = run_reference(task, workspace)
        if got != task.answers:
            wrong[task.id] = (got, task.answers)
    assert not wrong, wrong


@pytest.mark.slow
def test_the_shipped_file_is_what_the_generator_builds(shipped):
    assert builtin_tasks() == shipped, "regenerate with: python -m prmgym.envs.data.builtin"


def test_the_set_is_large_and_varied(shipped):
    assert len(shipped) >= 160
    assert len({task.id for task in shipped}) == len(shipped)
    assert sum(len(task.answers) > 1 for task in shipped) >= 40
    assert sum(len(task.tables) > 1 for task in shipped) >= 10
    concepts = Counter(concept for task in shipped for concept in task.concepts)
    assert set(concepts) == set(CONCEPTS)
    assert all(concepts[c] >= 5 for c in CONCEPTS), concepts
    assert set(Counter(task.level for task in shipped)) == {"easy", "medium", "hard"}
    splits = Counter(task.split for task in shipped)
    assert splits["test"] >= 120 and splits["train"] >= 35
    assert {table for task in shipped for table in task.tables} == set(TABLES)


def test_every_question_states_its_format_rounding_and_tie_rule(shipped):
    for task in shipped:
        assert all(f"@{name}[value]" in task.format for name in task.answers), task.id
        decimals = [parse_number(value) for value in task.answers.values()]
        if any(d is not None and "." in str(d) for d in decimals):
            assert "decimal places" in task.constraints, task.id
        if "ranking" in task.concepts:
            assert re.search(r"\bIf (several|years) ", task.constraints), task.id
        assert task.tables_dir is None and task.has_reference


def test_right_answers_pass_and_answers_off_by_more_than_the_tolerance_fail(shipped):
    for task in shipped:
        right = grade(parse_answers(reply(task.answers)).values, task.answers, task.tolerance)
        assert right.correct, task.id
        for part in right.parts:
            number = parse_number(part.expected)
            if number is None:
                off = f"not {part.expected}"
            else:
                off = str(number + (2 * Decimal(repr(part.tolerance)) or 1))
            wrong = grade({**task.answers, part.name: off}, task.answers, task.tolerance)
            assert not wrong.correct and wrong.n_correct == len(task.answers) - 1, (task.id, off)


def test_to_task_shows_the_question_and_keeps_the_rest_privileged():
    task = make(constraints="Skip missing values.", split="train")
    generic = task.to_task()
    assert generic.family == "data" and generic.id == "t/1" and generic.split == "train"
    for shown in (task.question, "Constraints: Skip missing values.", task.format, "penguins.csv"):
        assert shown in generic.instruction
    assert "43.92" not in generic.instruction
    assert generic.privileged["answers"] == {"mean": "43.92"}
    assert generic.privileged["reference_code"] == task.reference_code
    assert generic.metadata == {"level": "easy", "concepts": [], "tables": ["penguins"]}
    assert DataTask.from_task(generic) == task


def test_from_task_refuses_other_families_and_broken_records():
    with pytest.raises(TaskError, match="'search' task, not a 'data' task"):
        DataTask.from_task(Task(id="x", family="search", instruction="q"))
    broken = Task(id="x", family="data", instruction="q", privileged={"question": "q"})
    with pytest.raises(TaskError, match="field 'privileged.format'"):
        DataTask.from_task(broken)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tables": ["stocks"]}, "unknown built-in tables"),
        ({"tables": ["../etc/passwd"], "tables_dir": "/tmp"}, "plain file name"),
        ({"answers": {"mean value": "1"}}, "cannot appear in @name"),
        ({"tolerance": -0.1}, "negative"),
        ({"tolerance": {"median": 0.1}}, "answers does not have"),
        ({"level": "trivial"}, "easy"),
        ({"answers": {}}, "at least 1"),
    ],
)
def test_invalid_tasks_are_refused_with_a_reason(fields, message):
    with pytest.raises(ValueError, match=message):
        make(**fields)


def test_seed_workspace_writes_builtin_tables(tmp_path):
    task = make(tables=["seattle-weather", "seattle-temps"])
    assert seed_workspace(task, tmp_path / "ws") == ["seattle-weather.csv", "seattle-temps.csv"]
    assert task.files() == ["seattle-weather.csv", "seattle-temps.csv"]
    assert (tmp_path / "ws" / "seattle-temps.csv").is_file()


def test_seed_workspace_copies_files_from_tables_dir(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "data.csv").write_text("a,b\n1,2\n")
    task = make(tables=["data.csv"], tables_dir=str(tmp_path / "src"))
    assert seed_workspace(task, tmp_path / "ws") == ["data.csv"]
    assert (tmp_path / "ws" / "data.csv").read_text() == "a,b\n1,2\n"
    missing = make(tables=["gone.csv"], tables_dir=str(tmp_path / "src"))
    with pytest.raises(TaskError, match=r"\['gone.csv'\] not found"):
        seed_workspace(missing, tmp_path / "ws")


def test_run_reference_runs_in_the_folder_and_restores_the_cwd(tmp_path):
    (tmp_path / "x.csv").write_text("v\n1\n2\n")
    code = 'import pandas as pd\nanswer = {"total": str(pd.read_csv("x.csv")["v"].sum())}\n'
    before = os.getcwd()
    assert run_reference(make(reference_code=code, answers={"total": "3"}), tmp_path) == {
        "total": "3"
    }
    assert os.getcwd() == before


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "has no reference code"),
        ("1 / 0", "reference code failed: ZeroDivisionError"),
        ("answer = {'mean': 43.92}", "formatted string values"),
        ("result = 1", "must end by assigning answer"),
    ],
)
def test_run_reference_errors_name_the_task(tmp_path, code, message):
    with pytest.raises(TaskError, match=message) as info:
        run_reference(make(reference_code=code), tmp_path)
    assert "'t/1'" in str(info.value)


def test_task_files_round_trip_and_accept_generic_task_records(tmp_path):
    tasks = [make(), make(id="t/2", split="train")]
    write_task_file(tmp_path / "a.jsonl", tasks)
    assert load_task_file(tmp_path / "a.jsonl") == tasks
    save_tasks([task.to_task() for task in tasks], tmp_path / "b.jsonl")
    assert load_task_file(tmp_path / "b.jsonl") == tasks


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], "line 1: not valid JSON"),
        ([{"id": "x"}], "line 1: field 'question': Field required (required: id,"),
        ([{"family": "data", "id": "x", "instruction": "q", "privileged": {}}], "line 1: task"),
        (["", "DUP", "DUP"], "line 3: duplicate id 't/1' (first on line 2)"),
    ],
)
def test_task_file_errors_name_file_line_and_field(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    dup = make().model_dump_json()
    rendered = [dup if x == "DUP" else x if isinstance(x, str) else json.dumps(x) for x in lines]
    path.write_text("\n".join(rendered) + "\n")
    with pytest.raises(TaskError, match=re.escape(message)) as info:
        load_task_file(path)
    assert str(path) in str(info.value)


def test_a_bare_name_means_the_packaged_task_set(tmp_path):
    assert task_file("data-lite").name == "data-lite.tasks.jsonl"
    with pytest.raises(TaskError, match="data task file not found"):
        load_task_file(tmp_path / "absent.jsonl")
