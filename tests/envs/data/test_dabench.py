import json
import re
from pathlib import Path

import pytest

from prmgym.envs.data.answers import grade, parse_answers
from prmgym.envs.data.dabench import (
    LABELS_FILE,
    QUESTIONS_FILE,
    TABLES_DIR,
    load_dabench,
    load_dabench_folder,
)
from prmgym.envs.data.tasks import DataTask, run_reference, seed_workspace
from prmgym.errors import TaskError

QUESTIONS = [
    {
        "id": 0,
        "question": "Calculate the mean fare paid by the passengers.",
        "concepts": ["Summary Statistics"],
        "constraints": "Calculate the mean fare using pandas. Round to two decimal places.",
        "format": '@mean_fare[mean_fare_value] where "mean_fare_value" is a float rounded to two'
        " decimal places.",
        "file_name": "test_ave.csv",
        "level": "easy",
    },
    {
        "id": 5,
        "question": "Which class paid most, and did anyone survive?",
        "concepts": ["Summary Statistics", "Feature Engineering"],
        "constraints": "Group by class.",
        "format": "@top_class[class] @any_survived[True or False]",
        "file_name": "test_ave.csv",
        "level": "medium",
    },
]
LABELS = [
    {"id": 0, "common_answers": [["mean_fare", "34.65"]]},
    {"id": 5, "common_answers": [["top_class", "1"], ["any_survived", True]]},
]


def write_jsonl(path: Path, records: list) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def dabench(tmp_path) -> Path:
    """A tiny folder in DABench's published layout."""
    (tmp_path / TABLES_DIR).mkdir()
    (tmp_path / TABLES_DIR / "test_ave.csv").write_text("Fare,Pclass,Survived\n30.0,1,1\n")
    write_jsonl(tmp_path / QUESTIONS_FILE, QUESTIONS)
    write_jsonl(tmp_path / LABELS_FILE, LABELS)
    return tmp_path


def test_questions_become_tasks_with_their_labels(dabench):
    first, second = load_dabench_folder(dabench)
    assert first.id == "dabench/0" and second.id == "dabench/5"
    assert first.tables == ["test_ave.csv"]
    assert first.tables_dir == str((dabench / TABLES_DIR).resolve())
    assert first.answers == {"mean_fare": "34.65"}
    assert second.answers == {"top_class": "1", "any_survived": "True"}
    assert first.tolerance == 1e-6 and first.level == "easy" and second.level == "medium"
    assert second.concepts == ["Summary Statistics", "Feature Engineering"]
    assert "Round to two decimal places." in first.instruction()
    assert "Files in the working directory: test_ave.csv" in first.instruction()
    assert DataTask.from_task(first.to_task()) == first


def test_loaded_tasks_seed_their_table_and_grade_replies(dabench, tmp_path):
    first, second = load_dabench(
        dabench / QUESTIONS_FILE, dabench / LABELS_FILE, dabench / TABLES_DIR, split="dev"
    )
    assert first.split == "dev"
    assert seed_workspace(first, tmp_path / "ws") == ["test_ave.csv"]
    assert (tmp_path / "ws" / "test_ave.csv").read_text().startswith("Fare,")
    right = grade(parse_answers("@mean_fare[34.65]").values, first.answers, first.tolerance)
    assert right.correct
    half = grade(
        parse_answers("@top_class[1] @any_survived[false]").values,
        second.answers,
        second.tolerance,
    )
    assert half.fraction == 0.5 and not half.correct


def test_dabench_tasks_have_no_reference_code_for_an_oracle(dabench, tmp_path):
    task = load_dabench_folder(dabench)[0]
    assert not task.has_reference
    with pytest.raises(TaskError, match="no reference code"):
        run_reference(task, tmp_path)


def test_extra_labels_are_ignored_so_a_subset_of_questions_loads(dabench):
    write_jsonl(dabench / QUESTIONS_FILE, QUESTIONS[1:])
    assert [task.id for task in load_dabench_folder(dabench)] == ["dabench/5"]


def error_for(folder: Path) -> str:
    with pytest.raises(TaskError) as info:
        load_dabench_folder(folder)
    return str(info.value)


def test_missing_files_are_named(dabench):
    (dabench / LABELS_FILE).unlink()
    assert error_for(dabench) == f"{dabench / LABELS_FILE}: DABench labels file not found"
    (dabench / TABLES_DIR / "test_ave.csv").unlink()
    (dabench / TABLES_DIR).rmdir()
    assert "DABench tables folder not found" in error_for(dabench)


def test_a_question_without_a_label_is_named_by_line_and_id(dabench):
    write_jsonl(dabench / LABELS_FILE, LABELS[:1])
    message = error_for(dabench)
    assert f"{dabench / QUESTIONS_FILE}, line 2" in message
    assert "question id 5 has no label" in message


def test_a_missing_table_file_is_named(dabench):
    write_jsonl(dabench / QUESTIONS_FILE, [{**QUESTIONS[0], "file_name": "gone.csv"}])
    assert re.search(
        r"line 1: file_name 'gone.csv' not found in .*da-dev-tables", error_for(dabench)
    )


@pytest.mark.parametrize(
    ("questions", "labels", "message"),
    [
        (QUESTIONS, [{"id": 0, "common_answers": [["x"]]}], "'common_answers.0.1': Field required"),
        (QUESTIONS, [{"id": 0, "common_answers": 3}], "list of [name, value] pairs"),
        (QUESTIONS, [{"id": 0}], "field 'common_answers': Field required"),
        (QUESTIONS, LABELS + LABELS[:1], "line 3: duplicate label id 0"),
        (QUESTIONS + QUESTIONS[:1], LABELS, "line 3: duplicate question id 0"),
        ([{**QUESTIONS[0], "level": "expert"}], LABELS, "field 'level'"),
        ([{k: v for k, v in QUESTIONS[0].items() if k != "format"}], LABELS, "field 'format'"),
        (QUESTIONS[:1], [{"id": 0, "common_answers": [["mean fare", "1"]]}], "cannot appear"),
    ],
)
def test_malformed_lines_are_reported_with_their_place(dabench, questions, labels, message):
    write_jsonl(dabench / QUESTIONS_FILE, questions)
    write_jsonl(dabench / LABELS_FILE, labels)
    assert message in error_for(dabench)


@pytest.mark.slow
def test_a_dabench_folder_runs_as_an_env_and_grades_answers(dabench):
    import gymnasium

    env = gymnasium.make("prmgym/Data-v0", dabench=str(dabench))
    try:
        observation, info = env.reset(options={"task_id": "dabench/0"})
        assert "test_ave.csv" in observation and "@mean_fare" in observation
        observation, *_ = env.step(
            "python(\"import pandas as pd\\npd.read_csv('test_ave.csv').Fare.sum()\")"
        )
        assert "30.0" in observation
        _, reward, terminated, _, info = env.step('answer("@mean_fare[34.65]")')
        assert (reward, terminated, info["correct"]) == (1.0, True, True)
        env.reset(options={"task_id": "dabench/5"})
        _, reward, _, _, info = env.step('answer("@top_class[1] @any_survived[false]")')
        assert reward == 0.0 and info["parts"] == {"top_class": True, "any_survived": False}
    finally:
        env.close()
