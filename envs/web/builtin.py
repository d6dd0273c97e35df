"""The built-in web task set, shipped as ``envs/suites/web-lite.tasks.jsonl``.

Each site has twelve task templates (:mod:`~prmgym.envs.web.builtin_shop`,
:mod:`~prmgym.envs.web.builtin_forum`, :mod:`~prmgym.envs.web.builtin_admin`); each template
is written once for every seed in :data:`SEEDS`, reading that seed's generated site data, so
answers and names are never typed by hand. 3 sites x 12 templates x 5 seeds = 180 tasks.
Where a template's draw for one seed repeats the goal of an earlier seed, it draws again, so
no two tasks share a goal.

Splits are fixed per site: a quarter of each site's tasks, chosen by a hash of the task id,
is ``train``; the rest is ``test``. Tasks are ordered by a hash of their id, so any first N
of a split mixes sites, templates and levels.

Regenerate the shipped file after changing a site's data or a template::

    python -m prmgym.envs.web.builtin            # or build_task_file(path)
"""

from __future__ import annotations

import hashlib
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prmgym.envs.task_files import write_task_file
from prmgym.envs.web import builtin_admin, builtin_forum, builtin_shop
from prmgym.envs.web.sites.admin_data import generate_admin
from prmgym.envs.web.sites.forum_data import generate_forum
from prmgym.envs.web.sites.shop_data import generate_shop
from prmgym.envs.web.tasks import WebTask

Template = Callable[[Any, random.Random, int], WebTask]

SEEDS = tuple(range(5))
"""The site-data seeds the templates are written for."""
TRAIN_FRACTION = 0.25
"""Share of each site's tasks in the ``train`` split."""
SITE_TEMPLATES: dict[str, tuple[Callable[[int], Any], Sequence[Template]]] = {
    "shop": (generate_shop, builtin_shop.TEMPLATES),
    "forum": (generate_forum, builtin_forum.TEMPLATES),
    "admin": (generate_admin, builtin_admin.TEMPLATES),
}
"""Each site's data generator and task templates."""
MAX_DRAWS = 50
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "suites" / "web-lite.tasks.jsonl"
"""Where the shipped task file lives in a source checkout."""


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def template_tasks(site: str, template: Template) -> list[WebTask]:
    """One task per seed from a template, each with a goal no earlier seed's task has.

    Raises:
        ValueError: The template cannot draw a new goal for some seed.
    """
    generate, _ = SITE_TEMPLATES[site]
    tasks: list[WebTask] = []
    for seed in SEEDS:
        data = generate(seed)
        for draw in range(MAX_DRAWS):
            rng = random.Random(f"web-task-{site}-{template.__name__}-{seed}-{draw}")
            task = template(data, rng, seed)
            if all(task.goal != other.goal for other in tasks):
                tasks.append(task)
                break
        else:
            raise ValueError(f"{site} template {template.__name__} repeats goals at seed {seed}")
    return tasks


def builtin_tasks() -> list[WebTask]:
    """Generate the built-in tasks, ordered by a hash of their id, with their splits."""
    by_site: dict[str, list[WebTask]] = defaultdict(list)
    for site, (_, templates) in SITE_TEMPLATES.items():
        for template in templates:
            by_site[site] += template_tasks(site, template)
    tasks = []
    for site_tasks in by_site.values():
        ranked = sorted(site_tasks, key=lambda task: _hash(task.id))
        n_train = round(len(ranked) * TRAIN_FRACTION)
        for i, task in enumerate(ranked):
            tasks.append(task.model_copy(update={"split": "train" if i < n_train else "test"}))
    return sorted(tasks, key=lambda task: _hash(task.id))


def build_task_file(path: str | Path = DEFAULT_PATH) -> Path:
    """Generate the built-in tasks and write them as JSONL to ``path``; return the path."""
    path = Path(path)
    write_task_file(path, builtin_tasks())
    return path


if __name__ == "__main__":
    print(build_task_file(*sys.argv[1:2]))
