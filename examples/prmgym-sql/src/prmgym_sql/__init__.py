"""prmgym-sql: an example prmgym plugin, an agentic SQL family over a real SQLite database.

Importing the package registers the family and its env id ``prmgym_sql/SQL-v0``; prmgym's
commands import it through the ``prmgym.plugins`` entry point this package declares.

Example:
    >>> import json, gymnasium, prmgym_sql
    >>> env = gymnasium.make("prmgym_sql/SQL-v0", split="test")
    >>> observation, info = env.reset(options={"task_id": "sql/003"})
    >>> print(observation.splitlines()[0])
    Question: How many orders have the status 'cancelled'?
    >>> sql = "SELECT count(*) FROM orders WHERE status = 'cancelled'"
    >>> print(env.step(f"query({json.dumps(sql)})")[0])
    count(*)
    29
    (1 row)
    >>> env.step('answer("29")')[1]
    1.0
"""

from prmgym.family import register_family

from prmgym_sql.family import FAMILY

register_family(FAMILY)

__all__ = ["FAMILY"]
