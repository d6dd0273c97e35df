"""The built-in families and their env ids, registered when ``prmgym`` is imported.

Each family declares itself once, in ``prmgym/envs/<family>/family.py``; the declarations
name their code by lazy strings, so this imports no env code.
"""

from prmgym.envs.data.family import FAMILY as DATA
from prmgym.envs.search.family import FAMILY as SEARCH
from prmgym.envs.swe.family import FAMILY as SWE
from prmgym.envs.web.family import FAMILY as WEB
from prmgym.family import register_family

BUILTIN_FAMILIES = (SEARCH, SWE, DATA, WEB)
"""The four families prmgym ships, in the order ``prmgym envs`` lists them."""

for _family in BUILTIN_FAMILIES:
    register_family(_family)
