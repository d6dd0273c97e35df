import json

import pytest

from prmgym.errors import TaskError
from prmgym.rewards.evaluation.processbench import load_processbench

RECORDS = [
    {
        "id": "gsm8k-0",
        "generator": "Qwen2-7B-Instruct",
        "problem": "Tom has 3 apples and buys 2. How many?",
        "steps": ["Tom starts with 3.", "3 + 2 = 6.", "The answer is 6."],
        "final_answer_correct": False,
        "label": 1,
    },
    {
        "id": "gsm8k-1",
        "problem": "What is 2 * 4?",
        "steps": ["2 * 4 = 8.", "The answer is 8."],
        "label": -1,
    },
]


def test_a_json_list_loads_as_labelled_trajectories(tmp_path):
    path = tmp_path / "gsm8k.json"
    path.write_text(json.dumps(RECORDS, indent=2))
    first, second = load_processbench(path)
    assert first.first_error == 1 and first.kind == "step_error"
    assert second.first_error == -1 and second.kind == "none"
    task = first.trajectory.task
    assert (task.id, task.family, task.instruction) == (
        "gsm8k-0",
        "processbench",
        RECORDS[0]["problem"],
    )
    assert [s.action for s in first.trajectory.steps] == RECORDS[0]["steps"]
    assert [s.index for s in first.trajectory.steps] == [0, 1, 2]
    assert all(s.observation == "" for s in first.trajectory.steps)
    assert first.trajectory.agent == "Qwen2-7B-Instruct"
    assert first.trajectory.success is False
    assert second.trajectory.success is True, "without the field, an all-right solution succeeds"
    assert first.step_labels() == [True, False]


def test_jsonl_loads_the_same(tmp_path):
    path = tmp_path / "math.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n\n")
    items = load_processbench(path)
    assert [i.first_error for i in items] == [1, -1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": 3}, "item 1: field 'label' must be a whole number from -1 to 1"),
        ({"label": True}, "field 'label'"),
        ({"steps": []}, "item 1: field 'steps'"),
        ({"steps": ["ok", 3]}, "field 'steps'"),
        ({"problem": ""}, "field 'problem'"),
        ({"id": None}, "field 'id'"),
        ({"final_answer_correct": "yes"}, "field 'final_answer_correct'"),
    ],
)
def test_a_malformed_record_names_the_item_and_field(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([RECORDS[0], {**RECORDS[1], **change}]))
    with pytest.raises(TaskError, match=message) as info:
        load_processbench(path)
    assert str(path) in str(info.value) and "label (index of the first wrong step" in str(
        info.value
    )


def test_bad_jsonl_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n{not json\n")
    with pytest.raises(TaskError, match="line 2: not valid JSON"):
        load_processbench(path)
    path.write_text(json.dumps(RECORDS[0]) + "\n" + json.dumps({**RECORDS[1], "label": -2}))
    with pytest.raises(TaskError, match="line 2: field 'label'"):
        load_processbench(path)


def test_broken_json_list_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n{"id": 1,\n oops}\n]')
    with pytest.raises(TaskError, match="line 3: not valid JSON"):
        load_processbench(path)


def test_duplicate_ids_and_missing_files_are_errors(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text(json.dumps([RECORDS[0], RECORDS[0]]))
    with pytest.raises(TaskError, match="item 1: duplicate id 'gsm8k-0' \\(first at .*item 0\\)"):
        load_processbench(path)
    with pytest.raises(TaskError, match="ProcessBench file not found"):
        load_processbench(tmp_path / "missing.json")
