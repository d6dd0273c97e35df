"""The SQL family's tasks: questions about the shop database, each with its gold SQL.

Every answer is computed by running the gold SQL on the database, never written by hand, so
the tasks cannot drift from the data. Two kinds (``metadata["type"]``):

- ``value``: the gold SQL returns exactly one row with one column: the answer;
- ``top``: the gold SQL returns (candidate, measure) rows ranked best first; the answer is the
  first candidate, and building the task fails unless its measure strictly beats the runner-up
  (a tie would make two answers right).

``privileged`` holds ``answers`` (the canonical answer as the database shows it), ``sql`` and
``tables`` (the tables the gold SQL reads, as SQLite's authorizer saw them). Every third task
is in the ``test`` split, the rest in ``train``.
"""

from __future__ import annotations

import functools

from prmgym.errors import TaskError
from prmgym.task import Task

from prmgym_sql.database import ReadOnlyDatabase, format_value

FAMILY = "sql"

_REVENUE = (
    "FROM order_items JOIN products USING (product_id) JOIN orders USING (order_id)"
    " WHERE status = 'shipped'"
)

QUESTIONS: tuple[tuple[str, str, str], ...] = (
    # (type, question, gold SQL)
    (
        "value",
        "How many customers live in Japan?",
        "SELECT count(*) FROM customers WHERE country = 'Japan'",
    ),
    (
        "value",
        "How many customers live in the city of Lyon?",
        "SELECT count(*) FROM customers WHERE city = 'Lyon'",
    ),
    (
        "value",
        "How many orders have the status 'cancelled'?",
        "SELECT count(*) FROM orders WHERE status = 'cancelled'",
    ),
    (
        "value",
        "How many orders are still 'pending'?",
        "SELECT count(*) FROM orders WHERE status = 'pending'",
    ),
    (
        "value",
        "What is the price of the product 'Catan'?",
        "SELECT price FROM products WHERE name = 'Catan'",
    ),
    (
        "value",
        "What is the price of the product 'Gödel, Escher, Bach'?",
        "SELECT price FROM products WHERE name = 'Gödel, Escher, Bach'",
    ),
    (
        "value",
        "How many products cost more than 40?",
        "SELECT count(*) FROM products WHERE price > 40",
    ),
    (
        "value",
        "What is the average price of the products in the 'music' category, rounded to 2 decimals?",
        "SELECT round(avg(price), 2) FROM products WHERE category = 'music'",
    ),
    (
        "value",
        "What is the average price of the products in the 'garden' category, rounded to"
        " 2 decimals?",
        "SELECT round(avg(price), 2) FROM products WHERE category = 'garden'",
    ),
    (
        "value",
        "How many units of 'Cosmos' were ordered in total, over all orders?",
        "SELECT sum(quantity) FROM order_items JOIN products USING (product_id)"
        " WHERE name = 'Cosmos'",
    ),
    (
        "value",
        "How many units of 'Teapot' were ordered in shipped orders?",
        "SELECT sum(quantity) FROM order_items JOIN products USING (product_id)"
        " JOIN orders USING (order_id) WHERE name = 'Teapot' AND status = 'shipped'",
    ),
    (
        "value",
        "How many different customers have ordered the 'Ukulele'?",
        "SELECT count(DISTINCT customer_id) FROM orders JOIN order_items USING (order_id)"
        " JOIN products USING (product_id) WHERE name = 'Ukulele'",
    ),
    (
        "value",
        "How many products have never been ordered?",
        "SELECT count(*) FROM products"
        " WHERE product_id NOT IN (SELECT product_id FROM order_items)",
    ),
    (
        "value",
        "How many customers have never placed an order?",
        "SELECT count(*) FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM orders)",
    ),
    (
        "value",
        "How many orders did the customer 'Niklaus Abbott' place?",
        "SELECT count(*) FROM orders JOIN customers USING (customer_id)"
        " WHERE name = 'Niklaus Abbott'",
    ),
    (
        "value",
        "How many orders did the customer 'Radia Novak' place?",
        "SELECT count(*) FROM orders JOIN customers USING (customer_id) WHERE name = 'Radia Novak'",
    ),
    (
        "value",
        "On what date (YYYY-MM-DD) did 'Guido Moreau' place his first order?",
        "SELECT min(order_date) FROM orders JOIN customers USING (customer_id)"
        " WHERE name = 'Guido Moreau'",
    ),
    (
        "value",
        "What is the total value (price times quantity) of order 216?",
        "SELECT round(sum(price * quantity), 2) FROM order_items JOIN products USING (product_id)"
        " WHERE order_id = 216",
    ),
    (
        "value",
        "How many orders were placed in September 2024?",
        "SELECT count(*) FROM orders WHERE order_date LIKE '2024-09-%'",
    ),
    (
        "value",
        "How many customers signed up in 2023?",
        "SELECT count(*) FROM customers WHERE signup_date LIKE '2023-%'",
    ),
    (
        "value",
        "What was the revenue (price times quantity) of shipped orders placed in"
        " December 2024, rounded to 2 decimals?",
        f"SELECT round(sum(price * quantity), 2) {_REVENUE} AND order_date LIKE '2024-12-%'",
    ),
    (
        "value",
        "How many orders contain at least 4 different products?",
        "SELECT count(*) FROM (SELECT order_id FROM order_items GROUP BY order_id"
        " HAVING count(*) >= 4)",
    ),
    (
        "value",
        "How many customers from France have placed at least one order?",
        "SELECT count(DISTINCT customer_id) FROM orders JOIN customers USING (customer_id)"
        " WHERE country = 'France'",
    ),
    (
        "top",
        "Which customer placed the most orders? Give the name.",
        "SELECT name, count(*) AS n FROM orders JOIN customers USING (customer_id)"
        " GROUP BY customer_id ORDER BY n DESC",
    ),
    (
        "top",
        "Which product category brought the highest revenue (price times quantity) from"
        " shipped orders?",
        f"SELECT category, sum(price * quantity) AS revenue {_REVENUE}"
        " GROUP BY category ORDER BY revenue DESC",
    ),
    (
        "top",
        "Which product appears in the most orders?",
        "SELECT name, count(*) AS n FROM order_items JOIN products USING (product_id)"
        " GROUP BY product_id ORDER BY n DESC",
    ),
    (
        "top",
        "Customers of which country placed the most orders?",
        "SELECT country, count(*) AS n FROM orders JOIN customers USING (customer_id)"
        " GROUP BY country ORDER BY n DESC",
    ),
    (
        "top",
        "Which customer spent the most on shipped orders (price times quantity)?",
        "SELECT customers.name, sum(price * quantity) AS spent FROM order_items"
        " JOIN products USING (product_id) JOIN orders USING (order_id)"
        " JOIN customers USING (customer_id) WHERE status = 'shipped'"
        " GROUP BY customer_id ORDER BY spent DESC",
    ),
    (
        "top",
        "Which order (give its order_id) has the highest total value, price times quantity?",
        "SELECT order_id, sum(price * quantity) AS total FROM order_items"
        " JOIN products USING (product_id) GROUP BY order_id ORDER BY total DESC",
    ),
    (
        "top",
        "In which month of 2024 (a number from 1 to 12) were the most orders placed?",
        "SELECT CAST(substr(order_date, 6, 2) AS INTEGER) AS month, count(*) AS n FROM orders"
        " GROUP BY month ORDER BY n DESC",
    ),
    (
        "top",
        "Which product of the 'books' category sold the most units?",
        "SELECT name, sum(quantity) AS units FROM order_items JOIN products USING (product_id)"
        " WHERE category = 'books' GROUP BY product_id ORDER BY units DESC",
    ),
    (
        "top",
        "What is the most expensive product in the 'games' category?",
        "SELECT name, price FROM products WHERE category = 'games' ORDER BY price DESC",
    ),
    (
        "top",
        "What is the cheapest product in the 'office' category?",
        "SELECT name, price FROM products WHERE category = 'office' ORDER BY price ASC",
    ),
)
"""Every question as (type, question, gold SQL); the order fixes task ids and splits."""


def _answer(
    kind: str, question: str, sql: str, database: ReadOnlyDatabase
) -> tuple[str, list[str]]:
    """The gold answer of a question and the tables its SQL reads."""
    result = database.run(sql, max_rows=50)
    if result.error is not None:
        raise TaskError(f"{question!r}: the gold SQL fails: {result.error}")
    rows = result.rows
    if kind == "value":
        if len(rows) != 1 or len(rows[0]) != 1 or rows[0][0] is None:
            raise TaskError(f"{question!r}: the gold SQL must return one value, got {rows!r}")
    elif len(rows) < 2 or rows[0][1] == rows[1][1]:
        raise TaskError(f"{question!r}: the top candidate must strictly lead, got {rows[:2]!r}")
    return format_value(rows[0][0]), list(result.tables)


@functools.cache
def _all_tasks() -> tuple[Task, ...]:
    database = ReadOnlyDatabase()
    try:
        tasks = []
        for number, (kind, question, sql) in enumerate(QUESTIONS, start=1):
            answer, tables = _answer(kind, question, sql, database)
            tasks.append(
                Task(
                    id=f"sql/{number:03d}",
                    family=FAMILY,
                    instruction=question,
                    privileged={"answers": [answer], "sql": sql, "tables": tables},
                    split="test" if number % 3 == 0 else "train",
                    metadata={"type": kind},
                )
            )
        return tuple(tasks)
    finally:
        database.close()


def shop_tasks(split: str = "all") -> list[Task]:
    """The built-in tasks of ``split``: ``train``, ``test`` or ``all``.

    Raises:
        ValueError: An unknown split.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"unknown split {split!r}; use 'train', 'test' or 'all'")
    return [task for task in _all_tasks() if split in ("all", task.split)]
