"""The forum's built-in tasks: twelve templates, each written for one seed's threads.

Information tasks ask for reply counts, who started a thread or wrote its latest reply, a
member's post count, the busiest thread of a category. Change tasks reply, start a thread,
edit and delete the signed-in member's posts; multi-step tasks chain them (start a thread
then rename it; find the busiest thread and reply; reply then correct the reply).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from prmgym.envs.web.plans import button, fill, link, say, select
from prmgym.envs.web.predicates import (
    AnswerMatches,
    Not,
    PostExists,
    ThreadExists,
    UrlMatches,
)
from prmgym.envs.web.sites.forum_data import CATEGORIES, ForumData, Thread
from prmgym.envs.web.sites.urls import slug
from prmgym.envs.web.tasks import WebTask

SITE = "forum"
_USERNAME_ONLY = "Reply with the username only."

MESSAGES = (
    "Thanks, this solved it for me.",
    "Count me in for Saturday.",
    "Try updating the firmware first.",
    "Lovely work on the details.",
    "Could we move this to Sunday?",
    "I will bring snacks to the meetup.",
    "A second monitor helped me a lot.",
    "Please share the source of the plans.",
    "The library has a copy you can borrow.",
    "Check the cable before anything else.",
)
"""Texts the agent is asked to post; none appears in a seeded post."""
NEW_TITLES = (
    "Ideas for the summer picnic",
    "Looking for a running buddy",
    "Favourite keyboard shortcuts",
    "Recommend a beginner camera",
    "Help choosing a desk chair",
    "Show your plant collection",
    "Best way to learn touch typing",
    "Swap meet next month",
)
"""Titles of threads the agent is asked to start; none is a seeded title."""
RENAMED = (
    "Summer picnic ideas wanted",
    "Running buddy wanted",
    "Keyboard shortcuts you love",
    "Which beginner camera to buy",
    "Desk chair advice needed",
    "Plant collection photos",
)
"""Titles threads are renamed to."""


def _task(template: str, seed: int, **fields: object) -> WebTask:
    record = {"id": f"{SITE}/{template}/{seed}", "site": SITE, "seed": seed, **fields}
    return WebTask.model_validate(record)


def _on_thread(thread: Thread) -> UrlMatches:
    return UrlMatches(site=SITE, path=f"/t/{thread.id}")


def _busiest(data: ForumData, rng: random.Random, most: bool = True) -> tuple[str, Thread]:
    """A category whose most- (or least-) replied thread is unique, and that thread."""
    for category in rng.sample(CATEGORIES, len(CATEGORIES)):
        threads = sorted(data.latest_first(category), key=lambda t: t.replies, reverse=most)
        if threads[0].replies != threads[1].replies:
            return category, threads[0]
    raise ValueError("every category ties on its most (or least) replied thread")


def _my_reply(data: ForumData, rng: random.Random) -> tuple[Thread, int]:
    """A thread holding exactly one reply by the signed-in member, and that reply's number."""
    mine = [
        (t, p.number)
        for t in data.threads
        for p in t.posts[1:]
        if p.author == data.me and sum(q.author == data.me for q in t.posts) == 1
    ]
    return rng.choice(mine)


def replies(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """How many replies a thread has."""
    thread = rng.choice(data.threads)
    answer = str(thread.replies)
    return _task(
        "replies",
        seed,
        goal=f"How many replies does the thread “{thread.title}” have? Reply with the number only.",
        checklist=[_on_thread(thread), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[link(thread.title), say(answer)],
        level="easy",
    )


def starter(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Who started a thread."""
    thread = rng.choice([t for t in data.threads if t.author != data.me])
    return _task(
        "starter",
        seed,
        goal=f"Who started the thread “{thread.title}”? {_USERNAME_ONLY}",
        checklist=[_on_thread(thread), AnswerMatches(value=thread.author)],
        success=[AnswerMatches(value=thread.author)],
        answer=thread.author,
        oracle=[link(thread.title), say(thread.author)],
        level="easy",
    )


def last_reply(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Who wrote a thread's latest reply."""
    thread = rng.choice([t for t in data.threads if t.replies > 0])
    answer = thread.posts[-1].author
    return _task(
        "last-reply",
        seed,
        goal=f"Who wrote the most recent reply in the thread “{thread.title}”? {_USERNAME_ONLY}",
        checklist=[_on_thread(thread), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[link(thread.title), say(answer)],
        level="medium",
    )


def member_posts(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """How many posts a member has written, from the members page."""
    member = rng.choice([m for m in data.members if m.username != data.me])
    answer = str(data.post_count(member.username))
    return _task(
        "member-posts",
        seed,
        goal=f"How many posts has the member {member.username} written on the forum? Reply"
        " with the number only.",
        checklist=[UrlMatches(site=SITE, path="/members"), AnswerMatches(value=answer)],
        success=[AnswerMatches(value=answer)],
        answer=answer,
        oracle=[link("Members"), say(answer)],
        level="medium",
    )


def busiest(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Which thread of a category has the most (or the fewest) replies."""
    most = rng.random() < 0.5
    category, thread = _busiest(data, rng, most)
    return _task(
        "busiest",
        seed,
        goal=f"Which thread in the {category} category has the {'most' if most else 'fewest'}"
        " replies? Reply with its exact title.",
        checklist=[
            UrlMatches(site=SITE, path=f"/c/{slug(category)}"),
            AnswerMatches(value=thread.title),
        ],
        success=[AnswerMatches(value=thread.title)],
        answer=thread.title,
        oracle=[link(category), say(thread.title)],
        level="medium",
    )


def reply(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Post a reply to a thread."""
    thread, text = rng.choice(data.threads), rng.choice(MESSAGES)
    done = PostExists(thread=thread.title, contains=text, author=data.me)
    return _task(
        "reply",
        seed,
        goal=f"Reply to the thread “{thread.title}” with the message: {text}",
        checklist=[_on_thread(thread), done],
        success=[done],
        oracle=[link(thread.title), fill("Your reply", text), button("Post reply")],
        level="easy",
    )


def new_thread(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Start a thread in a category."""
    title, category, text = rng.choice(NEW_TITLES), rng.choice(CATEGORIES), rng.choice(MESSAGES)
    done = ThreadExists(title=title, category=category, author=data.me, contains=text)
    return _task(
        "new-thread",
        seed,
        goal=f"Start a new thread in the {category} category titled “{title}” with the"
        f" message: {text}",
        checklist=[UrlMatches(site=SITE, path="/new"), ThreadExists(title=title), done],
        success=[done],
        oracle=[
            link("New thread"),
            fill("Title", title),
            select("Category", category),
            fill("Message", text),
            button("Create thread"),
        ],
        level="medium",
    )


def edit_reply(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Rewrite the signed-in member's reply in a thread."""
    (thread, number), text = _my_reply(data, rng), rng.choice(MESSAGES)
    done = PostExists(thread=thread.title, contains=text, author=data.me)
    return _task(
        "edit-reply",
        seed,
        goal=f"In the thread “{thread.title}”, edit your reply so that it reads: {text}",
        checklist=[UrlMatches(site=SITE, path=f"/t/{thread.id}/edit/{number}"), done],
        success=[done],
        oracle=[
            link(thread.title),
            link(f"Edit post #{number}"),
            fill("Post text", text),
            button("Save changes"),
        ],
        level="medium",
    )


def delete_reply(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Delete the signed-in member's reply in a thread."""
    thread, number = _my_reply(data, rng)
    post = thread.post(number)
    assert post is not None
    done = Not(predicate=PostExists(thread=thread.title, contains=post.text, author=data.me))
    return _task(
        "delete-reply",
        seed,
        goal=f"Delete your reply in the thread “{thread.title}”.",
        checklist=[_on_thread(thread), done],
        success=[done, ThreadExists(title=thread.title)],
        oracle=[link(thread.title), button(f"Delete post #{number}")],
        level="medium",
    )


def new_then_rename(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Start a thread, then change its title by editing its opening post."""
    index = rng.randrange(len(RENAMED))
    first, second = NEW_TITLES[index], RENAMED[index]
    category, text = rng.choice(CATEGORIES), rng.choice(MESSAGES)
    done = ThreadExists(title=second, category=category, author=data.me, contains=text)
    return _task(
        "new-then-rename",
        seed,
        goal=f"Start a new thread in the {category} category titled “{first}” with the"
        f" message: {text} Then change the thread's title to “{second}”.",
        checklist=[ThreadExists(title=first, author=data.me), done],
        success=[done, Not(predicate=ThreadExists(title=first))],
        oracle=[
            link("New thread"),
            fill("Title", first),
            select("Category", category),
            fill("Message", text),
            button("Create thread"),
            link("Edit post #1"),
            fill("Title", second),
            button("Save changes"),
        ],
        level="hard",
    )


def reply_busiest(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Find a category's most-replied thread and reply to it."""
    (category, thread), text = _busiest(data, rng), rng.choice(MESSAGES)
    done = PostExists(thread=thread.title, contains=text, author=data.me)
    return _task(
        "reply-busiest",
        seed,
        goal=f"Find the thread with the most replies in the {category} category and reply to"
        f" it with the message: {text}",
        checklist=[UrlMatches(site=SITE, path=f"/c/{slug(category)}"), _on_thread(thread), done],
        success=[done],
        oracle=[
            link(category),
            link(thread.title),
            fill("Your reply", text),
            button("Post reply"),
        ],
        level="hard",
    )


def reply_then_edit(data: ForumData, rng: random.Random, seed: int) -> WebTask:
    """Post a reply, then correct it, leaving only the corrected text."""
    thread = rng.choice(data.threads)
    first, second = rng.sample(MESSAGES, 2)
    posted = PostExists(thread=thread.title, contains=first, author=data.me)
    done = PostExists(thread=thread.title, contains=second, author=data.me)
    return _task(
        "reply-then-edit",
        seed,
        goal=f"Reply to the thread “{thread.title}” with the message: {first} Then edit that"
        f" reply so it reads: {second}",
        checklist=[posted, done],
        success=[done, Not(predicate=posted)],
        oracle=[
            link(thread.title),
            fill("Your reply", first),
            button("Post reply"),
            link(f"Edit post #{thread.next_number}"),
            fill("Post text", second),
            button("Save changes"),
        ],
        level="hard",
    )


TEMPLATES: tuple[Callable[[ForumData, random.Random, int], WebTask], ...] = (
    replies,
    starter,
    last_reply,
    member_posts,
    busiest,
    reply,
    new_thread,
    edit_reply,
    delete_reply,
    new_then_rename,
    reply_busiest,
    reply_then_edit,
)
"""Every forum template, in the order tasks are generated."""
