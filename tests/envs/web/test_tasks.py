"""WebTask and OracleStep: validation, the generic Task round trip, and task files."""

import json

import pytest
from pydantic import ValidationError

from prmgym.envs.task_files import write_task_file
from prmgym.envs.web.plans import OracleStep, button, fill, goto, link, say
from prmgym.envs.web.predicates import AnswerMatches, UrlMatches
from prmgym.envs.web.tasks import WebTask, load_task_file
from prmgym.errors import TaskError
from prmgym.task import Task

ON_CART = UrlMatches(site="shop", path="/cart")


def _task(**changes) -> WebTask:
    fields = {
        "id": "shop/example/0",
        "site": "shop",
        "goal": "How many items are in your cart? Reply with the number only.",
        "checklist": [ON_CART, AnswerMatches(value="1")],
        "success": [AnswerMatches(value="1")],
        "answer": "1",
        "oracle": [link("Cart"), say("1")],
        "level": "easy",
        "seed": 0,
    }
    return WebTask(**{**fields, **changes})


def test_an_answer_must_be_checked_by_success_and_vice_versa():
    with pytest.raises(ValidationError, match="answer '2' is not checked"):
        _task(answer="2")
    with pytest.raises(ValidationError, match="task has no answer"):
        _task(answer=None)
    assert _task(answer=None, success=[ON_CART]).answer is None


@pytest.mark.parametrize(
    "change",
    [{"site": "bank"}, {"start_path": "cart"}, {"checklist": []}, {"oracle": []}, {"seed": -1}],
)
def test_invalid_fields_are_rejected(change):
    with pytest.raises(ValidationError):
        _task(**change)


def test_the_generic_task_shows_only_the_goal_and_round_trips():
    task = _task(split="train")
    generic = task.to_task()
    assert (generic.family, generic.instruction, generic.split) == ("web", task.goal, "train")
    assert "goal" not in generic.privileged and generic.privileged["answer"] == "1"
    assert generic.metadata == {"site": "shop", "level": "easy", "seed": 0}
    assert WebTask.from_task(Task.model_validate_json(generic.model_dump_json())) == task
    with pytest.raises(TaskError, match="is a 'data' task"):
        WebTask.from_task(generic.model_copy(update={"family": "data"}))
    broken = generic.model_copy(update={"privileged": {**generic.privileged, "level": "epic"}})
    with pytest.raises(TaskError, match="privileged.level"):
        WebTask.from_task(broken)


def test_task_files_hold_web_tasks_or_generic_tasks(tmp_path):
    path = tmp_path / "tasks.jsonl"
    first, second = _task(), _task(id="shop/example/1")
    write_task_file(path, [first])
    with path.open("a") as fh:
        fh.write("\n" + second.to_task().model_dump_json() + "\n")
    assert load_task_file(path) == [first, second]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{}", "line 2: field 'id'"),
        ("[1]", "line 2: expected a JSON object"),
        (None, "line 2: duplicate id 'shop/example/0' (first on line 1)"),
    ],
)
def test_task_file_errors_name_the_line_and_field(tmp_path, line, message):
    path = tmp_path / "tasks.jsonl"
    lines = [_task().model_dump_json(), line or _task().model_dump_json()]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaskError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_task_file(path)


def test_a_missing_task_file_is_named(tmp_path):
    with pytest.raises(TaskError, match="web task file not found"):
        load_task_file(tmp_path / "absent.jsonl")


def test_oracle_steps_take_exactly_the_fields_their_action_uses():
    assert fill("Quantity", "2").describe() == "fill textbox 'Quantity' '2'"
    assert button("Add to cart").describe() == "click button 'Add to cart'"
    assert goto("/cart").describe() == "goto /cart"
    assert say("12.50").describe() == "send_msg_to_user '12.50'"
    for bad, problem in [
        ({"action": "click", "role": "link"}, "needs role and name"),
        ({"action": "fill", "role": "textbox", "name": "Title"}, "needs a value"),
        ({"action": "click", "role": "link", "name": "Cart", "value": "x"}, "takes no value"),
        ({"action": "goto"}, "needs a path"),
        ({"action": "goto", "path": "cart"}, "should match pattern"),
        ({"action": "send_msg_to_user", "value": "hi", "role": "link"}, "takes no role"),
        ({"action": "hover", "role": "link", "name": "Cart"}, "Input should be"),
    ]:
        with pytest.raises(ValidationError, match=problem):
            OracleStep.model_validate(bad)
    assert OracleStep.model_validate(json.loads(fill("A", "b").model_dump_json())) == fill("A", "b")
