"""The forum's pages: threads by category, posts, replies, new threads, edits and members.

=======================  ====================================================================
``/``                    category links and every thread, most recently active first
``/c/<category>``        one category's threads
``/t/<id>``              the posts ("#3 by bob"); on your own: "Edit post #3", "Delete post #3";
                         a "Your reply" textbox and a "Post reply" button
``/t/<id>/edit/<n>``     "Post text" (and "Title" for ``#1``), "Save changes"
``/new``                 "Title", "Category" select, "Message", "Create thread"
``/members``, ``/u/<n>``  members with their post counts; one member's threads
=======================  ====================================================================

Links "All threads", "New thread" and "Members" are on every page; thread links are named by
the thread's title, which the forum keeps unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from prmgym.envs.web.sites.forum_data import (
    CATEGORIES,
    ForumData,
    Post,
    Thread,
    add_reply,
    create_thread,
    edit_post,
)
from prmgym.envs.web.sites.pages import Shell, read_form, see_other
from prmgym.envs.web.sites.state import SiteState
from prmgym.envs.web.sites.urls import slug
from prmgym.envs.web.sites.validation import parse_id

SHELL = Shell("Forum", [("All threads", "/"), ("New thread", "/new"), ("Members", "/members")])
_CATEGORY_BY_SLUG = {slug(category): category for category in CATEGORIES}


def create_app(state: SiteState[ForumData]) -> FastAPI:
    """The forum's app over ``state``; handlers change it only while holding its lock."""
    app = SHELL.app()

    def thread_or_404(data: ForumData, thread_id: str) -> Thread:
        thread = data.thread(parse_id(thread_id) or 0)
        if thread is None:
            raise HTTPException(404, f"There is no thread {thread_id!r}.")
        return thread

    def own_post(data: ForumData, thread: Thread, number: str) -> Post:
        post = thread.post(parse_id(number) or 0)
        if post is None:
            raise HTTPException(404, f"Thread {thread.id} has no post #{number}.")
        if post.author != data.me:
            raise HTTPException(
                403, f"Post #{post.number} is {post.author}'s: you can only change your own posts."
            )
        return post

    @app.get("/", response_class=HTMLResponse)
    async def threads() -> HTMLResponse:
        with state.lock:
            data = state.data
            return _threads(data, "All threads", data.latest_first())

    @app.get("/c/{category_slug}", response_class=HTMLResponse)
    async def category(category_slug: str) -> HTMLResponse:
        name = _CATEGORY_BY_SLUG.get(category_slug)
        if name is None:
            raise HTTPException(404, f"There is no category {category_slug!r}.")
        with state.lock:
            data = state.data
            return _threads(data, name, data.latest_first(name))

    @app.get("/t/{thread_id}", response_class=HTMLResponse)
    async def thread_page(thread_id: str, deleted: str = "") -> HTMLResponse:
        with state.lock:
            data = state.data
            thread = thread_or_404(data, thread_id)
            notice = f"Post #{deleted} deleted." if parse_id(deleted) else None
            return _thread(data, thread, notice=notice)

    @app.post("/t/{thread_id}/reply", response_model=None)
    async def reply(thread_id: str, request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            thread = thread_or_404(data, thread_id)
            problems = add_reply(data, thread, form.get("text", ""))
            if problems:
                return _thread(data, thread, problems=problems, draft=form.get("text", ""))
            number = thread.posts[-1].number
        return see_other(f"/t/{thread.id}#post-{number}")

    @app.get("/t/{thread_id}/edit/{number}", response_class=HTMLResponse)
    async def edit_form(thread_id: str, number: str) -> HTMLResponse:
        with state.lock:
            data = state.data
            thread = thread_or_404(data, thread_id)
            post = own_post(data, thread, number)
            return _edit(data, thread, post, {"title": thread.title, "text": post.text})

    @app.post("/t/{thread_id}/edit/{number}", response_model=None)
    async def edit(
        thread_id: str, number: str, request: Request
    ) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            thread = thread_or_404(data, thread_id)
            post = own_post(data, thread, number)
            problems = edit_post(data, thread, post, form)
            if problems:
                shown = {"title": form.get("title", ""), "text": form.get("text", "")}
                return _edit(data, thread, post, shown, problems)
        return see_other(f"/t/{thread.id}#post-{post.number}")

    @app.post("/t/{thread_id}/delete/{number}", response_model=None)
    async def delete(thread_id: str, number: str) -> RedirectResponse:
        with state.lock:
            data = state.data
            thread = thread_or_404(data, thread_id)
            post = own_post(data, thread, number)
            if post.number == 1:
                raise HTTPException(403, "The opening post cannot be deleted.")
            thread.posts.remove(post)
        return see_other(f"/t/{thread.id}?deleted={post.number}")

    @app.get("/new", response_class=HTMLResponse)
    async def new_form() -> HTMLResponse:
        with state.lock:
            return _new(state.data, {"title": "", "category": "", "message": ""})

    @app.post("/new", response_model=None)
    async def new(request: Request) -> HTMLResponse | RedirectResponse:
        form = await read_form(request)
        with state.lock:
            data = state.data
            thread, problems = create_thread(data, form)
            if thread is None:
                shown = {name: form.get(name, "") for name in ("title", "category", "message")}
                return _new(data, shown, problems)
        return see_other(f"/t/{thread.id}")

    @app.get("/members", response_class=HTMLResponse)
    async def members() -> HTMLResponse:
        with state.lock:
            data = state.data
            rows = [(m, data.post_count(m.username)) for m in data.members]
            return _render(data, "forum_members.html", "Members", members=rows)

    @app.get("/u/{username}", response_class=HTMLResponse)
    async def member(username: str) -> HTMLResponse:
        with state.lock:
            data = state.data
            found = data.member(username)
            if found is None:
                raise HTTPException(404, f"There is no member {username!r}.")
            started = [t for t in data.threads if t.author == username]
            return _render(
                data,
                "forum_member.html",
                username,
                member=found,
                posts=data.post_count(username),
                threads=started,
            )

    return app


def _render(
    data: ForumData, template: str, title: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """A forum page, its header naming the signed-in member."""
    return SHELL.render(template, title, status, header=f"Signed in as {data.me}", **context)


def _threads(data: ForumData, title: str, threads: list[Thread]) -> HTMLResponse:
    categories = [(name, f"/c/{slug(name)}") for name in CATEGORIES]
    return _render(data, "forum_threads.html", title, categories=categories, threads=threads)


def _thread(
    data: ForumData,
    thread: Thread,
    notice: str | None = None,
    problems: Sequence[str] = (),
    draft: str = "",
) -> HTMLResponse:
    return _render(
        data,
        "forum_thread.html",
        thread.title,
        400 if problems else 200,
        notice=notice,
        errors=problems,
        thread=thread,
        category_slug=slug(thread.category),
        me=data.me,
        draft=draft,
    )


def _edit(
    data: ForumData,
    thread: Thread,
    post: Post,
    form: dict[str, str],
    problems: Sequence[str] = (),
) -> HTMLResponse:
    return _render(
        data,
        "forum_edit.html",
        f"Edit post #{post.number}",
        400 if problems else 200,
        errors=problems,
        thread=thread,
        number=post.number,
        form=form,
    )


def _new(data: ForumData, form: dict[str, str], problems: Sequence[str] = ()) -> HTMLResponse:
    return _render(
        data,
        "forum_new.html",
        "New thread",
        400 if problems else 200,
        errors=problems,
        categories=CATEGORIES,
        form=form,
    )
