import importlib
import inspect
import re
from collections import Counter
from typing import Any

import pytest

from prmgym.envs.search.corpus import STDLIB_MODULES, cpython_cache_dir, cpython_corpus
from prmgym.envs.search.documents import Document
from prmgym.envs.search.grading import exact_match, normalize_answer
from prmgym.envs.search.tasks import (
    TASK_TYPES,
    TASKS_VERSION,
    cpython_tasks,
    first_sentence,
    generate_tasks,
)
from prmgym.task import Task


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    # The cached tasks are built in a fresh interpreter; pytest's process has other imports.
    return cpython_tasks()


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    return {doc.id: doc for doc in cpython_corpus()}


def of_type(tasks: list[Task], task_type: str) -> list[Task]:
    return [task for task in tasks if task.metadata["type"] == task_type]


def module_of(doc_id: str) -> str:
    return max((m for m in STDLIB_MODULES if doc_id == m or doc_id.startswith(m + ".")), key=len)


def resolve(doc_id: str) -> Any:
    """The live object a document describes, found independently of the corpus code."""
    module = module_of(doc_id)
    obj = importlib.import_module(module)
    for part in doc_id[len(module) + 1 :].split(".") if doc_id != module else []:
        obj = getattr(obj, part)
    return obj


def backticked(task: Task) -> list[str]:
    return re.findall(r"`([^`]+)`", task.instruction)


def test_enough_tasks_with_unique_ids_and_the_required_schema(tasks):
    assert len(tasks) >= 300
    assert len({task.id for task in tasks}) == len(tasks)
    for task in tasks:
        assert task.family == "search"
        assert re.fullmatch(r"cpython/[a-z_]+/\d{4}", task.id)
        assert task.id.split("/")[1] == task.metadata["type"]
        assert set(task.privileged) == {"answers", "evidence"}
        answers = task.privileged["answers"]
        assert answers and all(isinstance(a, str) and normalize_answer(a) for a in answers)
        assert task.metadata["hops"] == TASK_TYPES[task.metadata["type"]]
        assert len(task.privileged["evidence"]) == task.metadata["hops"]


def test_splits_are_three_to_one_and_test_covers_every_type(tasks):
    test = [task for task in tasks if task.split == "test"]
    assert {task.split for task in tasks} == {"train", "test"}
    assert len(test) >= 80
    assert 0.2 <= len(test) / len(tasks) <= 0.3
    assert set(Counter(task.metadata["type"] for task in test)) == set(TASK_TYPES)


@pytest.mark.slow
def test_same_seed_same_tasks_other_seed_other_tasks(tasks):
    assert generate_tasks(seed=0) == generate_tasks(seed=0)
    other = generate_tasks(seed=1)
    assert [t.instruction for t in other] != [t.instruction for t in tasks]


def test_evidence_exists_in_corpus(tasks, docs):
    for task in tasks:
        for doc_id in task.privileged["evidence"]:
            assert doc_id in docs, (task.id, doc_id)


def test_questions_name_their_subjects_by_qualified_name(tasks):
    for task in tasks:
        if task.metadata["type"] in ("module_of", "comparison"):
            continue
        assert backticked(task)[-1] == task.privileged["evidence"][0]


def test_default_value_answers_are_in_the_evidence_and_true(tasks, docs):
    for task in of_type(tasks, "default_value"):
        param, subject = backticked(task)
        answer = task.privileged["answers"][0]
        assert f"{param}={answer}" in docs[subject].text
        default = inspect.signature(resolve(subject)).parameters[param].default
        assert repr(default) == answer


def test_default_value_is_not_mostly_none(tasks):
    answers = Counter(t.privileged["answers"][0] for t in of_type(tasks, "default_value"))
    assert answers["None"] <= sum(answers.values()) / 3


def test_first_parameter_answers_are_in_the_evidence_and_true(tasks, docs):
    for task in of_type(tasks, "first_parameter"):
        (subject,) = backticked(task)
        answer = task.privileged["answers"][0]
        name = subject.rsplit(".", 1)[1]
        assert f"\nSignature: {name}({answer}" in docs[subject].text
        assert next(iter(inspect.signature(resolve(subject)).parameters)) == answer


def test_param_count_answers_are_true(tasks):
    for task in of_type(tasks, "param_count"):
        (subject,) = backticked(task)
        assert task.privileged["answers"][0] == str(
            len(inspect.signature(resolve(subject)).parameters)
        )


def test_base_class_answers_are_in_the_evidence_and_true(tasks, docs):
    for task in of_type(tasks, "base_class"):
        (subject,) = backticked(task)
        answer = task.privileged["answers"][0]
        assert f"Bases: {answer}" in docs[subject].text.split("\n")
        assert [base.__name__ for base in resolve(subject).__bases__] == [answer]


def test_module_of_sentence_is_unique_in_corpus_and_answer_true(tasks, docs):
    flat = {doc_id: " ".join(doc.text.split()) for doc_id, doc in docs.items()}
    for task in of_type(tasks, "module_of"):
        sentence = task.instruction.split("begins: '", 1)[1][: -len("'?")]
        (doc_id,) = task.privileged["evidence"]
        assert [d for d, text in flat.items() if sentence in text] == [doc_id]
        assert module_of(doc_id) == task.privileged["answers"][0]
        assert callable(resolve(doc_id))


def test_base_module_needs_both_hops(tasks, docs):
    answers = Counter()
    for task in of_type(tasks, "base_module"):
        subject, base = task.privileged["evidence"]
        answer = task.privileged["answers"][0]
        answers[answer] += 1
        short = base.rsplit(".", 1)[1]
        # Hop 1 names the base by its short name only; hop 2 says where it lives.
        assert f"Bases: {short}" in docs[subject].text.split("\n")
        assert f"in module {answer}." in docs[base].text.split("\n")[0]
        assert answer == module_of(base) != module_of(subject)
        assert resolve(subject).__bases__ == (resolve(base),)
    assert answers["builtins"] <= sum(answers.values()) / 2


def test_comparison_answer_takes_more_parameters(tasks):
    for task in of_type(tasks, "comparison"):
        first, second = backticked(task)
        assert task.privileged["evidence"] == [first, second]
        counts = {
            name: len(inspect.signature(resolve(name)).parameters) for name in (first, second)
        }
        assert counts[first] != counts[second]
        assert task.privileged["answers"][0] == max(counts, key=counts.__getitem__)


def test_grader_accepts_the_alternates(tasks):
    task = next(
        t for t in of_type(tasks, "default_value") if t.privileged["answers"][0].startswith("'")
    )
    bare = task.privileged["answers"][0].strip("'")
    assert bare in task.privileged["answers"]
    assert exact_match(bare, task.privileged["answers"]) == 1.0
    assert exact_match("", task.privileged["answers"]) == 0.0


def test_first_sentence():
    assert first_sentence("Return x.\n\nMore.") == "Return x."
    assert (
        first_sentence("Split the string\nby spaces. Then join.") == "Split the string by spaces."
    )
    assert first_sentence("f(a) -> b\n\nDo it.") is None
    assert first_sentence("") is None


@pytest.mark.slow
def test_cpython_tasks_cache_and_splits(tmp_path, monkeypatch, tasks):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path))
    assert cpython_tasks() == tasks
    assert (cpython_cache_dir() / f"tasks-v{TASKS_VERSION}.jsonl").is_file()
    train, test = cpython_tasks("train"), cpython_tasks("test")
    assert {t.split for t in train} == {"train"} and {t.split for t in test} == {"test"}
    assert len(train) + len(test) == len(tasks)
    with pytest.raises(ValueError, match="unknown split"):
        cpython_tasks("dev")


def test_the_first_tasks_of_the_test_split_mix_every_type(tasks):
    # Suites such as search-lite take the first N tasks of a split.
    first = [t for t in tasks if t.split == "test"][:50]
    assert {t.metadata["type"] for t in first} == set(TASK_TYPES)
    assert sum(t.metadata["hops"] == 2 for t in first) >= 8
