import hashlib
import inspect
import logging
import os
import subprocess
import sys

import pytest

from prmgym.envs.search.corpus import (
    build_cpython_corpus,
    cpython_cache_dir,
    cpython_corpus,
    signature_text,
)
from prmgym.envs.search.documents import Document


@pytest.fixture(scope="module")
def corpus() -> list[Document]:
    # The cached corpus is built in a fresh interpreter; pytest's process has other imports.
    return cpython_corpus()


@pytest.fixture(scope="module")
def by_id(corpus: list[Document]) -> dict[str, Document]:
    return {doc.id: doc for doc in corpus}


def test_corpus_is_large_with_unique_ids(corpus):
    assert len(corpus) >= 2000
    assert len({doc.id for doc in corpus}) == len(corpus)
    assert all(doc.text.strip() and doc.title for doc in corpus)


def test_has_every_kind_of_document(by_id):
    assert by_id["topic:assert"].title == "Python topic: assert"
    assert "assert_stmt" in by_id["topic:assert"].text
    assert by_id["heapq"].text.startswith("Module heapq.")
    assert "merge" in by_id["heapq"].text.split("\n")[1]
    assert by_id["builtins.dict"].title == "builtins.dict"
    assert "collections.OrderedDict.move_to_end" in by_id


def test_function_document_states_its_signature(by_id):
    doc = by_id["json.dumps"]
    assert doc.title == "json.dumps"
    assert doc.text.startswith(
        "Function json.dumps in module json.\nSignature: dumps(obj, *, skipkeys=False,"
    )
    assert "Serialize ``obj`` to a JSON formatted ``str``" in doc.text
    assert "errors='strict'" in by_id["codecs.open"].text


def test_class_document_names_bases_by_short_name_and_lists_methods(by_id):
    text = by_id["collections.OrderedDict"].text
    lines = text.split("\n")
    assert lines[0] == "Class collections.OrderedDict in module collections."
    assert "Bases: dict" in lines
    methods = next(line for line in lines if line.startswith("Methods: "))
    assert "move_to_end" in methods.split(": ", 1)[1].split(", ")
    assert "Bases: MutableMapping" in by_id["weakref.WeakValueDictionary"].text


def test_method_document_names_its_class(by_id):
    text = by_id["collections.OrderedDict.move_to_end"].text
    assert text.startswith(
        "Method collections.OrderedDict.move_to_end of class collections.OrderedDict"
        " in module collections."
    )


def test_skips_private_and_reexported_names(by_id):
    api_ids = [doc_id for doc_id in by_id if not doc_id.startswith("topic:")]
    assert all(not part.startswith("_") for doc_id in api_ids for part in doc_id.split("."))
    # json re-exports JSONDecoder from json.decoder: documented once, where it is defined.
    assert "json.JSONDecoder" not in by_id
    assert "json.decoder.JSONDecoder" in by_id
    # C accelerators count as their module's own code.
    assert "heapq.heappush" in by_id and "functools.reduce" in by_id
    # os.path is documented under its portable name, not posixpath/ntpath.
    assert by_id["os.path.join"].text.startswith("Function os.path.join in module os.path.")


def test_signatures_carry_no_process_specific_reprs(corpus):
    signatures = [
        line for doc in corpus for line in doc.text.split("\n") if line.startswith("Signature: ")
    ]
    assert len(signatures) > 1000
    assert not [line for line in signatures if " at 0x" in line]


def test_signature_text_hides_unstable_defaults():
    sentinel = object()

    def sample(a, b="x", c=sentinel, d=[sentinel], e=("y", 1)):  # noqa: B006
        pass

    text = signature_text(inspect.signature(sample))
    assert text == "(a, b='x', c=<object object>, d=<list object>, e=('y', 1))"


@pytest.mark.slow
def test_cache_ignores_what_the_calling_process_patched(tmp_path, monkeypatch, corpus):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path))
    monkeypatch.setattr(logging.Logger, "patched_by_a_library", lambda self: None, raising=False)
    assert (
        "patched_by_a_library" in {d.id: d for d in build_cpython_corpus()}["logging.Logger"].text
    )
    assert cpython_corpus() == corpus


@pytest.mark.slow
def test_build_is_deterministic_within_and_across_processes(corpus):
    assert build_cpython_corpus() == build_cpython_corpus()
    digest = hashlib.sha256("".join(doc.model_dump_json() for doc in corpus).encode())
    script = (
        "import hashlib\n"
        "from prmgym.envs.search.corpus import build_cpython_corpus\n"
        "docs = build_cpython_corpus()\n"
        "print(hashlib.sha256(''.join(d.model_dump_json() for d in docs).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == digest.hexdigest()


@pytest.mark.slow
def test_cache_round_trip_equals_fresh_build(tmp_path, monkeypatch, corpus):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path))
    cache_file = cpython_cache_dir() / "corpus.jsonl"
    assert cache_file.is_relative_to(tmp_path)
    assert not cache_file.exists()
    assert cpython_corpus() == corpus
    assert cache_file.is_file()
    reread = [Document.model_validate_json(line) for line in cache_file.read_text().splitlines()]
    assert reread == corpus


def test_existing_cache_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path))
    cached = [Document(id="only", title="Only", text="from the cache")]
    (cpython_cache_dir() / "corpus.jsonl").write_text(cached[0].model_dump_json() + "\n")
    assert cpython_corpus() == cached


@pytest.mark.slow
def test_broken_cache_is_rebuilt(tmp_path, monkeypatch, corpus):
    monkeypatch.setenv("PRMGYM_CACHE", str(tmp_path))
    cache_file = cpython_cache_dir() / "corpus.jsonl"
    cache_file.write_text('{"id": "truncated", "te')
    assert cpython_corpus() == corpus
    assert len(cache_file.read_text().splitlines()) == len(corpus)
