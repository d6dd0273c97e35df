"""The built-in environment ids, registered when ``prmgym`` is imported."""

from prmgym.registry import register_env

register_env(
    "prmgym/SearchQA-v0",
    "prmgym.envs.search.env:SearchQAEnv",
    family="search",
    task_source="CPython docs; answers by introspection",
    default_prms=("search-verifier",),
    max_episode_steps=12,
)

register_env(
    "prmgym/SWE-v0",
    "prmgym.envs.swe.env:SWEEnv",
    family="swe",
    task_source="SWE-bench-schema instances with a local git or sdist source (tasks_file=,"
    ' or tasks_file="swe-lite": 48 planted bugs in four PyPI packages);'
    " by default two demo tasks on a small repository built offline",
    default_prms=("swe-verifier",),
    max_episode_steps=30,
)

register_env(
    "prmgym/Data-v0",
    "prmgym.envs.data.env:DataEnv",
    family="data",
    task_source="questions about real tables (palmerpenguins, vega_datasets) with reference"
    " code; tasks_file= for yours, dabench= for an InfiAgent-DABench folder",
    default_prms=("data-verifier",),
    max_episode_steps=12,
)

register_env(
    "prmgym/Web-v0",
    "prmgym.envs.web.env:WebEnv",
    family="web",
    task_source="tasks on a shop, a forum and an admin app served on loopback, in Chromium;"
    " tasks= for your own pages (GenericWebTask: a URL and a JS or Python success check)",
    default_prms=("web-verifier",),
    max_episode_steps=30,
)
