"""The shop database: a real SQLite database built from data this package ships, and guarded.

:func:`database_bytes` builds it once per process (in memory, from a fixed seed, so every
process builds the same bytes) and :func:`open_readonly` gives each env its own copy, guarded
against the agent, whose SQL is hostile input:

- an authorizer allows reading and nothing else (no writes, PRAGMA, ATTACH, or schema
  changes), and ``PRAGMA query_only`` is on as a second lock;
- a progress handler stops a query after a budget of virtual-machine instructions (the
  deterministic bound, so the same query fails the same way everywhere) or a wall-clock
  deadline (the backstop on a slow machine);
- length limits bound strings and blobs (``zeroblob(1e9)``) and ``LIKE`` patterns.

Tables::

    customers(customer_id, name, city, country, signup_date)     60 rows
    products(product_id, name, category, price)                   36 rows
    orders(order_id, customer_id, order_date, status)            300 rows
    order_items(order_id, product_id, quantity)                  771 rows
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from dataclasses import dataclass

DATABASE_VERSION = 1
"""Bump when the data changes; task answers are computed from it, so they change too."""

_SEED = 20240601

_FIRST_NAMES = (
    "Ada Alan Grace Linus Barbara Donald Edsger Frances Guido Hedy John Katherine Ken Leslie "
    "Margaret Niklaus Radia Robin Shafi Tim"
).split()
_LAST_NAMES = (
    "Abbott Baker Carter Dalton Ellis Foster Garcia Hughes Ito Jensen Keller Lopez Moreau "
    "Novak Okafor Patel Quinn Rossi Silva Tanaka"
).split()
_CITIES = (
    ("Lisbon", "Portugal"),
    ("Porto", "Portugal"),
    ("Lyon", "France"),
    ("Paris", "France"),
    ("Osaka", "Japan"),
    ("Kyoto", "Japan"),
    ("Lagos", "Nigeria"),
    ("Toronto", "Canada"),
    ("Denver", "USA"),
    ("Austin", "USA"),
)
_PRODUCTS: dict[str, tuple[tuple[str, float], ...]] = {
    "books": (
        ("Dune", 9.99),
        ("SICP", 42.5),
        ("The Hobbit", 12.0),
        ("Gödel, Escher, Bach", 24.95),
        ("Clean Code", 31.0),
        ("Cosmos", 15.75),
    ),
    "games": (
        ("Chess Set", 35.0),
        ("Go Board", 58.0),
        ("Catan", 44.99),
        ("Carcassonne", 29.5),
        ("Jigsaw 1000", 18.25),
        ("Rubik Cube", 11.4),
    ),
    "kitchen": (
        ("Teapot", 27.8),
        ("Chef Knife", 64.0),
        ("Cast Iron Pan", 49.9),
        ("Spice Rack", 22.1),
        ("Pepper Mill", 16.6),
        ("Bread Box", 38.45),
    ),
    "garden": (
        ("Trowel", 8.75),
        ("Watering Can", 19.9),
        ("Seed Kit", 13.3),
        ("Hose 20m", 36.6),
        ("Pruning Shears", 25.0),
        ("Bird Feeder", 21.45),
    ),
    "music": (
        ("Ukulele", 59.0),
        ("Harmonica", 14.2),
        ("Metronome", 23.5),
        ("Guitar Strings", 9.5),
        ("Capo", 12.75),
        ("Kalimba", 26.0),
    ),
    "office": (
        ("Notebook", 4.5),
        ("Fountain Pen", 33.3),
        ("Desk Lamp", 45.0),
        ("Stapler", 10.9),
        ("Paper Tray", 7.25),
        ("Monitor Stand", 52.0),
    ),
}
_NEVER_ORDERED = ("Capo", "Paper Tray", "Seed Kit")
"""Products no order contains, so 'never ordered' questions have a non-trivial answer."""

_STATUSES = ("shipped",) * 7 + ("pending",) * 2 + ("cancelled",)

SCHEMA_SQL = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    signup_date TEXT NOT NULL
);
CREATE TABLE products (
    product_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    price REAL NOT NULL
);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
    order_date TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(order_id),
    product_id INTEGER NOT NULL REFERENCES products(product_id),
    quantity INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
"""

TABLES = ("customers", "products", "orders", "order_items")
"""The database's tables, in the order ``schema()`` lists them."""


def _rows(rng: random.Random) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, drawn from ``rng`` (the whole database follows from its seed)."""
    names = [f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES]
    customers = []
    for customer_id, name in enumerate(rng.sample(names, 60), start=1):
        city, country = rng.choice(_CITIES)
        signup = (
            f"{rng.choice((2022, 2023, 2024))}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        )
        customers.append((customer_id, name, city, country, signup))
    products = []
    for category, items in _PRODUCTS.items():
        for name, price in items:
            products.append((len(products) + 1, name, category, price))
    orderable = [p[0] for p in products if p[1] not in _NEVER_ORDERED]
    # A few customers never order; the rest order with skewed frequency, so counts differ.
    buyers = [c[0] for c in customers[:-6]]
    weights = [1 + (i % 5) for i in range(len(buyers))]
    orders, items = [], []
    for order_id in range(1, 301):
        customer_id = rng.choices(buyers, weights)[0]
        date = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        orders.append((order_id, customer_id, date, rng.choice(_STATUSES)))
        for product_id in rng.sample(orderable, rng.randint(1, 4)):
            items.append((order_id, product_id, rng.choice((1, 1, 1, 2, 2, 3, 5))))
    return {"customers": customers, "products": products, "orders": orders, "order_items": items}


@functools.cache
def database_bytes() -> bytes:
    """The database, serialised; built on first use and kept for the process."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(SCHEMA_SQL)
        for table, rows in _rows(random.Random(_SEED)).items():
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        connection.commit()
        return connection.serialize()
    finally:
        connection.close()


@dataclass(frozen=True)
class QueryLimits:
    """What one query may use.

    Attributes:
        max_instructions: SQLite VM instructions before the query is stopped (deterministic).
        max_seconds: Wall-clock backstop for a query, in seconds.
        max_value_chars: Longest string or blob a query may build (SQLITE_LIMIT_LENGTH).
    """

    max_instructions: int = 5_000_000
    max_seconds: float = 5.0
    max_value_chars: int = 100_000


@dataclass(frozen=True)
class QueryResult:
    """What a query returned, or why it failed.

    Attributes:
        columns: Column names.
        rows: At most ``max_rows`` rows.
        more: The query returned more rows than ``rows`` holds.
        error: The SQLite error message, or None.
        tables: The tables whose b-trees (rows or indexes) the query opened, sorted.
    """

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[object, ...], ...] = ()
    more: bool = False
    error: str | None = None
    tables: tuple[str, ...] = ()


_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def _authorize(
    action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
) -> int:
    """SQLite's authorizer callback: reading is allowed, everything else denied."""
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def _connect(cached_statements: int = 128) -> sqlite3.Connection:
    """A private in-memory copy of the database (unguarded: for this module's own reads)."""
    connection = sqlite3.connect(
        ":memory:", cached_statements=cached_statements, check_same_thread=False
    )
    connection.deserialize(database_bytes())
    return connection


class ReadOnlyDatabase:
    """One env's private, read-only copy of the shop database.

    Args:
        limits: Per-query budgets.
    """

    def __init__(self, limits: QueryLimits | None = None):
        self.limits = limits or QueryLimits()
        # cached_statements=0: the authorizer runs when a statement is prepared, so a cached
        # statement would skip it (and the record of which tables a query read).
        self._connection = _connect(cached_statements=0)
        self._connection.execute("PRAGMA query_only = ON")
        self._connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
        self._connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, self.limits.max_value_chars)
        self._connection.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 200)
        self._connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self._connection.set_authorizer(_authorize)

    def run(self, sql: str, max_rows: int) -> QueryResult:
        """Run one read-only statement and keep at most ``max_rows`` rows of its result."""
        budget = self.limits.max_instructions // 1000
        deadline = time.monotonic() + self.limits.max_seconds
        ticks = 0

        def stop() -> int:
            nonlocal ticks
            ticks += 1
            return int(ticks > budget or time.monotonic() > deadline)

        self._connection.set_progress_handler(stop, 1000)
        try:
            cursor = self._connection.execute(sql)
            rows = cursor.fetchmany(max_rows + 1)
            columns = tuple(d[0] for d in cursor.description or ())
            cursor.close()
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if message == "interrupted":
                message = (
                    "the query ran past its limit of"
                    f" {self.limits.max_instructions:,} steps and was stopped"
                )
            return QueryResult(error=message)
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            return QueryResult(error=str(exc))
        finally:
            self._connection.set_progress_handler(None, 0)
        return QueryResult(
            columns=columns,
            rows=tuple(tuple(row) for row in rows[:max_rows]),
            more=len(rows) > max_rows,
            tables=self._tables_opened(sql),
        )

    def _tables_opened(self, sql: str) -> tuple[str, ...]:
        """The tables a statement opens for reading, from its compiled program.

        The authorizer does not report every table a query reads (the right side of a
        ``JOIN ... USING`` goes unreported), so this reads the ``OpenRead`` instructions of
        the statement's bytecode and maps their root pages to tables.
        """
        try:
            program = self._connection.execute("EXPLAIN " + sql).fetchall()
        except sqlite3.Error:
            return ()
        pages = _root_pages()
        return tuple(
            sorted({pages[row[3]] for row in program if row[1] == "OpenRead" and row[3] in pages})
        )

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def format_value(value: object) -> str:
    """A cell as the agent sees it: floats to at most two decimals, blobs by size."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return repr(round(value, 2))
    if isinstance(value, bytes):
        return f"<blob of {len(value)} bytes>"
    return str(value)


@functools.cache
def _root_pages() -> dict[int, str]:
    """Each b-tree's root page and the table it belongs to (an index maps to its table)."""
    connection = _connect()
    try:
        return dict(connection.execute("SELECT rootpage, tbl_name FROM sqlite_master"))
    finally:
        connection.close()


@functools.cache
def schema_text() -> str:
    """Every table with its columns, types and row count, as ``schema()`` shows it."""
    connection = _connect()
    try:
        lines = ["Tables:"]
        for table in TABLES:
            columns = connection.execute(f"SELECT name, type FROM pragma_table_info('{table}')")
            described = ", ".join(f"{name} {kind}" for name, kind in columns)
            (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            lines.append(f"- {table}({described}) -- {count} rows")
        lines.append("orders.customer_id -> customers; order_items.order_id -> orders;")
        lines.append("order_items.product_id -> products. Dates are 'YYYY-MM-DD' text.")
        return "\n".join(lines)
    finally:
        connection.close()
