"""The forum's state: members, categories and threads of posts, from a seed.

Every seed gives 12 members (two of them moderators) and 16 threads across four categories,
each with an opening post and up to seven replies. The signed-in member (``me``) wrote
exactly one reply in each of three threads and started one thread, so "edit your reply in
..." always names one post. Posts keep their number within a thread for life (``#1`` is the
opening post), so deleting one never renumbers the others.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

CATEGORIES = ("General", "Help", "Announcements", "Showcase")

TITLES: dict[str, tuple[str, ...]] = {
    "General": (
        "What are you reading this month", "Favourite hiking trails nearby",
        "Best budget coffee grinder", "Weekend plans thread", "Tips for working from home",
        "Board game recommendations", "Which podcast should I try next",
        "Favourite rainy day recipes",
    ),
    "Help": (
        "Printer keeps dropping off the network", "Cannot sync calendar on my phone",
        "Laptop fan is very loud", "How to back up photos automatically",
        "Router resets every evening", "Spreadsheet formula returns an error",
        "Bike chain slips on hills", "Sourdough starter is not rising",
    ),
    "Announcements": (
        "Forum rules updated", "Scheduled maintenance on Saturday", "Welcome new moderators",
        "New badge system launched", "Spring meetup dates announced", "Spam filter improvements",
    ),
    "Showcase": (
        "My first woodworking project", "Built a weather station with a Pi",
        "Watercolour landscapes from my trip", "Home-made pasta from scratch",
        "Restored a vintage bicycle", "Knitted a winter scarf", "Hand-bound notebook",
    ),
}  # fmt: skip
"""Thread titles by category; each seed draws four threads from each category."""

USERNAMES = (
    "alex_r", "bea_m", "cody_t", "dana_k", "eli_s", "fran_w", "gus_p", "hana_o", "ivan_d",
    "jo_b", "kim_l", "lena_v", "max_h", "nora_c", "omar_f", "pia_g",
)  # fmt: skip
OPENINGS = (
    "I wanted to start a discussion about this.",
    "Looking for advice from anyone who has been here before.",
    "Sharing this with everyone, feedback welcome.",
    "Curious what the rest of you think.",
)
REPLIES = (
    "I had the same problem last week.", "Have you tried restarting it?",
    "Thanks for sharing, this is great.", "Following this thread.",
    "That worked for me, thank you!", "Could you post a photo?", "Interesting point.",
    "I disagree, but I see where you are coming from.", "Same here, any updates?",
    "Great work, I love the details.", "Check the settings page first.",
    "Welcome aboard!", "Looking forward to it.", "Nice, bookmarking this.",
)  # fmt: skip
THREADS_PER_CATEGORY = 4
MAX_TITLE = 80
MAX_TEXT = 2000
NOW = "2024-06-03 09:00"
"""The time new posts carry, so a replayed episode gives identical state."""


@dataclass
class Member:
    """A forum member."""

    username: str
    role: str
    joined: str


@dataclass
class Post:
    """One post; ``number`` is its place in the thread when written (``#1`` opens it)."""

    number: int
    author: str
    text: str
    time: str
    edited: bool = False


@dataclass
class Thread:
    """A titled thread in a category; ``posts[0]`` is the opening post."""

    id: int
    title: str
    category: str
    posts: list[Post]
    next_number: int

    @property
    def author(self) -> str:
        """Who started the thread."""
        return self.posts[0].author

    @property
    def replies(self) -> int:
        """Posts after the opening one."""
        return len(self.posts) - 1

    @property
    def last_time(self) -> str:
        """When the newest post was written."""
        return self.posts[-1].time

    def post(self, number: int) -> Post | None:
        """The post with this number, if it still exists."""
        return next((p for p in self.posts if p.number == number), None)


@dataclass
class ForumData:
    """Everything the forum remembers; ``me`` is the signed-in member."""

    me: str
    members: list[Member]
    threads: list[Thread] = field(default_factory=list)

    def thread(self, thread_id: int) -> Thread | None:
        """The thread with this id, if any."""
        return next((t for t in self.threads if t.id == thread_id), None)

    def thread_titled(self, title: str) -> Thread | None:
        """The thread with exactly this title, if any."""
        return next((t for t in self.threads if t.title == title), None)

    def member(self, username: str) -> Member | None:
        """The member with this username, if any."""
        return next((m for m in self.members if m.username == username), None)

    def post_count(self, username: str) -> int:
        """How many posts the member has written, across all threads."""
        return sum(p.author == username for t in self.threads for p in t.posts)

    def latest_first(self, category: str | None = None) -> list[Thread]:
        """Threads (of one category, or all), most recently active first."""
        chosen = [t for t in self.threads if category is None or t.category == category]
        return sorted(chosen, key=lambda t: (t.last_time, t.id), reverse=True)


def generate_forum(seed: int) -> ForumData:
    """The forum's data for a seed; the same seed always gives equal data."""
    rng = random.Random(f"prmgym-web-forum-{seed}")
    names = rng.sample(USERNAMES, 12)
    members = [
        Member(name, "Moderator" if i in (1, 2) else "Member", f"2023-{rng.randint(1, 12):02d}-01")
        for i, name in enumerate(names)
    ]
    me, others = names[0], names[1:]
    titles = [(c, t) for c in CATEGORIES for t in rng.sample(TITLES[c], THREADS_PER_CATEGORY)]
    rng.shuffle(titles)
    data = ForumData(me=me, members=members)
    my_replies = set(rng.sample(range(1, len(titles)), 3))
    for index, (category, title) in enumerate(titles):
        day = 1 + index
        author = me if index == 0 else rng.choice(others)
        posts = [Post(1, author, rng.choice(OPENINGS), f"2024-05-{day:02d} 10:00")]
        n_replies = rng.randint(0, 7)
        if index in my_replies:
            n_replies = max(n_replies, 2)
        for number in range(2, n_replies + 2):
            time = f"2024-05-{day + number:02d} {8 + number:02d}:{rng.randint(0, 59):02d}"
            posts.append(Post(number, rng.choice(others), rng.choice(REPLIES), time))
        if index in my_replies:
            mine = posts[rng.randint(1, len(posts) - 1)]
            mine.author, mine.text = me, f"I can help with {title.lower()}."
        data.threads.append(Thread(index + 1, title, category, posts, len(posts) + 1))
    return data


def check_post_text(text: str) -> list[str]:
    """What is wrong with a post's text, if anything."""
    if not text.strip():
        return ["Message cannot be empty."]
    if len(text) > MAX_TEXT:
        return [f"Message is too long: at most {MAX_TEXT} characters."]
    return []


def check_title(data: ForumData, title: str, thread: Thread | None = None) -> list[str]:
    """What is wrong with a thread title (``thread``: the one being renamed), if anything."""
    title = title.strip()
    if len(title) < 5 or len(title) > MAX_TITLE:
        return [f"Title must be 5 to {MAX_TITLE} characters long."]
    other = data.thread_titled(title)
    if other is not None and other is not thread:
        return [f"A thread titled “{title}” already exists; choose another title."]
    return []


def add_reply(data: ForumData, thread: Thread, text: str) -> list[str]:
    """Add the signed-in member's reply to a thread; returns the problems, if any."""
    problems = check_post_text(text)
    if not problems:
        thread.posts.append(Post(thread.next_number, data.me, text.strip(), NOW))
        thread.next_number += 1
    return problems


def create_thread(data: ForumData, form: dict[str, str]) -> tuple[Thread | None, list[str]]:
    """Start a thread from the new-thread form; returns it, or None and the problems."""
    title, category = form.get("title", "").strip(), form.get("category", "")
    problems = check_title(data, title) + check_post_text(form.get("message", ""))
    if category not in CATEGORIES:
        problems.append(f"Choose a category: {', '.join(CATEGORIES)}.")
    if problems:
        return None, problems
    thread = Thread(
        id=max(t.id for t in data.threads) + 1,
        title=title,
        category=category,
        posts=[Post(1, data.me, form["message"].strip(), NOW)],
        next_number=2,
    )
    data.threads.append(thread)
    return thread, []


def edit_post(data: ForumData, thread: Thread, post: Post, form: dict[str, str]) -> list[str]:
    """Change one of the signed-in member's posts (and the title, for ``#1``)."""
    text = form.get("text", "")
    problems = check_post_text(text)
    if post.number == 1:
        problems += check_title(data, form.get("title", ""), thread)
    if problems:
        return problems
    post.text, post.edited = text.strip(), True
    if post.number == 1:
        thread.title = form["title"].strip()
    return []
