"""SearchQAEnv: answer a question by searching and reading a real BM25-indexed corpus.

Tools (action strings)::

    search("query", k=5)   top-k documents: id, title and a snippet
    open("doc_id")         the document's text
    answer("text")         ends the episode; reward = normalised exact match (F1 in info)

By default the corpus is CPython's own documentation and the tasks are questions whose answers
were read off the interpreter by introspection. ``corpus=`` and ``tasks=`` point at your own
files (see :mod:`prmgym.envs.search.loaders`).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prmgym.envs.actions import ActionError, ToolCall, bind_arguments
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.envs.search.documents import Document
from prmgym.envs.search.grading import exact_match, f1_score
from prmgym.envs.search.index import Hit, SearchIndex, corpus_index, shared_index
from prmgym.task import Task, load_tasks

TaskFormat = Literal["prmgym", "hotpotqa", "search-r1"]

TOOLS_HELP = (
    'Tools: search("query", k=5) finds documents; open("doc_id") reads one; '
    'answer("text") gives your final answer. Write exactly one tool call per turn.'
)


@dataclass
class SearchState:
    """Everything an episode has done so far; copied by ``snapshot``."""

    queries: list[str] = field(default_factory=list)
    retrieved: list[list[str]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    answer: str | None = None


class SearchProbe:
    """Read-only view of a live search episode, for environment-aware PRMs.

    It can run searches and read documents through the same index the agent uses, and see
    what the episode has retrieved and opened so far; it never changes the episode.
    """

    def __init__(self, env: SearchQAEnv):
        self._env = env

    @property
    def task(self) -> Task:
        """The current task, privileged data included."""
        return self._env.task

    @property
    def gold_answers(self) -> list[str]:
        """Accepted answers."""
        return list(self._env.task.privileged.get("answers", []))

    @property
    def evidence(self) -> list[str]:
        """Document ids holding the evidence, in hop order (may be empty for user tasks)."""
        return list(self._env.task.privileged.get("evidence", []))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Run a search without recording it in the episode."""
        return self._env.index.search(query, k)

    def document(self, doc_id: str) -> Document | None:
        """Read a document without recording it in the episode."""
        return self._env.index.get(doc_id)

    @property
    def state(self) -> SearchState:
        """A copy of the episode's state."""
        return copy.deepcopy(self._env.state)

    def grade(self, answer: str) -> tuple[float, float]:
        """(exact match, F1) of an answer against the gold answers."""
        return exact_match(answer, self.gold_answers), f1_score(answer, self.gold_answers)


def _search(query: str, k: int = 5) -> None: ...
def _open(doc_id: str) -> None: ...
def _answer(text: str) -> None: ...


_SIGNATURES = {
    "search": inspect.signature(_search),
    "open": inspect.signature(_open),
    "answer": inspect.signature(_answer),
}


def bind_call(call: ToolCall) -> dict[str, Any]:
    """Bind a parsed call to its tool's parameters (defaults applied), or raise ActionError."""
    return bind_arguments(call, _SIGNATURES)


class SearchQAEnv(TextEnv):
    """Question answering over a real search index.

    Args:
        split: Which split of the task set to use: ``train``, ``test`` or ``all``.
        corpus: Path to a corpus JSONL (id, title, text); default: CPython's documentation.
        tasks: Path to a task file; default: the built-in CPython questions.
        task_format: ``prmgym`` (Task JSONL), ``hotpotqa`` (HotpotQA JSON; its context
            paragraphs become the corpus when ``corpus`` is not given) or ``search-r1``.
        top_k: Default ``k`` for ``search``; at most 20.
        max_doc_chars: ``open`` shows at most this many characters of a document.
        snippet_chars: Characters of each search hit's text shown in results.
        **kwargs: Passed to :class:`~prmgym.envs.base.TextEnv`.
    """

    family = "search"
    tool_signatures = _SIGNATURES

    def __init__(
        self,
        split: str = "test",
        corpus: str | Path | None = None,
        tasks: str | Path | None = None,
        task_format: TaskFormat = "prmgym",
        top_k: int = 5,
        max_doc_chars: int = 1500,
        snippet_chars: int = 160,
        **kwargs: Any,
    ):
        task_list, index = _load(split, corpus, tasks, task_format)
        super().__init__(task_list, **kwargs)
        self.index: SearchIndex = index
        self.top_k = top_k
        self.max_doc_chars = max_doc_chars
        self.snippet_chars = snippet_chars
        self.state = SearchState()

    def task_prompt(self, task: Task) -> str:
        """The question and the tools."""
        return f"Question: {task.instruction}\n{TOOLS_HELP}"

    def tools(self) -> str:
        """Tool syntax, shown after a bad action."""
        return TOOLS_HELP

    def start_episode(self, task: Task) -> None:
        """Forget the previous episode."""
        self.state = SearchState()

    @property
    def probe(self) -> SearchProbe:
        """A read-only handle for environment-aware PRMs."""
        return SearchProbe(self)

    def snapshot(self) -> dict[str, Any]:
        """Copy the episode state (cheap: a few lists of strings)."""
        return {"state": copy.deepcopy(self.state), "step": self._step_index, "done": self._done}

    def restore(self, token: dict[str, Any]) -> None:
        """Return to a snapshot taken in this episode."""
        self.state = copy.deepcopy(token["state"])
        self._step_index = token["step"]
        self._done = token["done"]

    def execute(self, call: ToolCall) -> ToolResult:
        """Run search, open or answer."""
        arguments = bind_call(call)
        if call.name == "search":
            return self._run_search(arguments["query"], arguments["k"])
        if call.name == "open":
            return self._run_open(arguments["doc_id"])
        return self._run_answer(arguments["text"])

    def _run_search(self, query: Any, k: Any) -> ToolResult:
        if not isinstance(query, str) or not query.strip():
            raise ActionError('search needs a non-empty text query, e.g. search("heapq merge")')
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 20:
            raise ActionError(f"k must be a whole number from 1 to 20, got {k!r}")
        hits = self.index.search(query, k)
        self.state.queries.append(query)
        self.state.retrieved.append([hit.document.id for hit in hits])
        if not hits:
            text = f'No results for "{query}". Try other words, e.g. a module or function name.'
        else:
            lines = [f'Results for "{query}":']
            for hit in hits:
                doc = hit.document
                snippet = " ".join(doc.text.split())[: self.snippet_chars]
                title = "" if doc.title == doc.id else f" ({doc.title})"
                lines.append(f"- [{doc.id}]{title}: {snippet}")
            lines.append('Use open("doc_id") to read a document.')
            text = "\n".join(lines)
        return ToolResult(text, info={"retrieved": self.state.retrieved[-1]})

    def _run_open(self, doc_id: Any) -> ToolResult:
        if not isinstance(doc_id, str):
            raise ActionError(
                f'open takes a document id string such as open("json.dumps"), got {doc_id!r}'
            )
        doc = self.index.get(doc_id.strip())
        if doc is None:
            raise ActionError(
                f"there is no document {doc_id!r}; open an id shown in search results"
            )
        self.state.opened.append(doc.id)
        body = doc.text
        if len(body) > self.max_doc_chars:
            body = (
                body[: self.max_doc_chars]
                + f"\n[... {len(doc.text) - self.max_doc_chars} more characters]"
            )
        return ToolResult(f"Document [{doc.id}] {doc.title}\n{body}", info={"opened": doc.id})

    def _run_answer(self, text: Any) -> ToolResult:
        if not isinstance(text, str) or not text.strip():
            raise ActionError('answer needs your answer as text, e.g. answer("collections")')
        self.state.answer = text
        golds = self.task.privileged.get("answers", [])
        em, f1 = exact_match(text, golds), f1_score(text, golds)
        verdict = "correct" if em else "incorrect"
        return ToolResult(
            f"Answer recorded: {text!r} ({verdict}).",
            reward=em,
            terminated=True,
            info={"em": em, "f1": f1, "answer": text, "success": bool(em)},
        )


def _load(
    split: str, corpus: str | Path | None, tasks: str | Path | None, task_format: TaskFormat
) -> tuple[list[Task], SearchIndex]:
    """The tasks of the split and the (process-wide, shared) index they search."""
    from prmgym.envs.search import loaders

    hotpot_documents: list[Document] | None = None
    if tasks is None:
        from prmgym.envs.search.tasks import cpython_tasks

        task_list = cpython_tasks(None if split == "all" else split)
    elif task_format == "hotpotqa":
        task_list, hotpot_documents = loaders.load_hotpotqa(tasks, split=split)
    elif task_format == "search-r1":
        task_list = loaders.load_search_r1(tasks, split=split)
    else:
        task_list = [t for t in load_tasks(tasks) if split == "all" or t.split == split]
    if not task_list:
        raise ValueError(f"no tasks in split {split!r}; use split='train', 'test' or 'all'")
    if corpus is None and hotpot_documents is not None:
        docs = hotpot_documents
        key = "hotpotqa:" + hashlib.sha256("\n".join(d.id for d in docs).encode()).hexdigest()
        return task_list, shared_index(key, lambda: docs)
    return task_list, corpus_index(corpus)
