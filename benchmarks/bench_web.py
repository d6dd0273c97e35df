"""P5: what a web step costs against driving Playwright by hand, and what a context holds.

A step is ``env.step('click("ID")')`` on the shop's home page: a link to a product page,
then the accessibility tree of the new page. Two baselines, in the same run, on the same
link and the same browser:

- raw: Playwright's own click, waiting for the page to load, then the same accessibility
  tree (the floor: what the env adds is parsing, checks and bookkeeping);
- fixed delay: the raw click followed by BrowserGym's default 0.5 s wait before reading the
  page (``pre_observation_delay``), which is what a fixed wait costs.

Memory: the browser's processes' proportional memory (PSS) with one, then with eight,
contexts open, each on a shop page: the cost of one more episode in the shared browser.

    .venv/bin/python benchmarks/bench_web.py [--steps 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from prmgym.envs.web.browser import Browser
from prmgym.envs.web.env import WebEnv
from prmgym.envs.web.oracle import elements
from prmgym.envs.web.page import accessibility_tree
from prmgym.envs.web.tasks import load_task_file

BROWSERGYM_DELAY_S = 0.5


def first_product_link(tree: str) -> str:
    """The id of the first link that leads to a product page (its name is a product's)."""
    links = [bid for bid, role, name in elements(tree) if role == "link" and name[:1].isupper()]
    return links[len(links) // 2]


async def raw_step(browser: Browser, url: str, delay: float) -> float:
    """Open ``url``, then time a raw click on the same link and reading the tree."""
    assert browser.browser is not None
    context = await browser.browser.new_context()
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await page.goto(url, wait_until="domcontentloaded")
    bid = first_product_link(await accessibility_tree(page, cdp))
    started = time.perf_counter()
    await page.locator(f'[bid="{bid}"]').click()
    await page.wait_for_load_state("domcontentloaded")
    if delay:
        await asyncio.sleep(delay)
    await accessibility_tree(page, cdp)
    elapsed = time.perf_counter() - started
    await context.close()
    return elapsed


def browser_pss_mib() -> float:
    """The proportional memory of the Chromium processes."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"chrom" in status.read_bytes():
                for line in (status.parent / "smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="steps timed per measure")
    args = parser.parse_args()
    shop = next(task for task in load_task_file("web-lite") if task.site == "shop")
    browser = Browser()
    env = WebEnv([shop.model_copy(update={"start_path": "/"})], browser=browser)
    env_times, raw_times, delayed_times = [], [], []
    for _ in range(args.steps):
        observation, _ = env.reset()
        bid = first_product_link(observation)
        started = time.perf_counter()
        env.step(f'click("{bid}")')
        env_times.append(time.perf_counter() - started)
        url = env.server.url("shop") + "/"
        raw_times.append(browser.run(raw_step(browser, url, 0.0)))
        delayed_times.append(browser.run(raw_step(browser, url, BROWSERGYM_DELAY_S)))
    step = statistics.median(env_times) * 1000
    raw = statistics.median(raw_times) * 1000
    delayed = statistics.median(delayed_times) * 1000
    print(f"{'measure':<44}{'ms':>10}{'env / it':>10}")
    print(f"{'env.step: click a link, read the new page':<44}{step:>10.1f}{1.0:>10.2f}")
    print(f"{'raw Playwright click + the same tree':<44}{raw:>10.1f}{step / raw:>10.2f}")
    row = "raw click + 0.5 s delay (BrowserGym) + tree"
    print(f"{row:<44}{delayed:>10.1f}{step / delayed:>10.2f}")

    one = browser_pss_mib()
    extra = [WebEnv([shop], browser=browser) for _ in range(7)]
    for other in extra:
        other.reset(seed=0)
    eight = browser_pss_mib()
    print(f"browser PSS with 1 context: {one:.0f} MiB; with 8: {eight:.0f} MiB", end="")
    print(f" (+{(eight - one) / 7:.1f} MiB per context)")
    for other in [env, *extra]:
        other.close()
    browser.close()


if __name__ == "__main__":
    main()
