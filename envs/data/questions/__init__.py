"""The built-in questions, one module per table; joins live with the first table they read.

Each module's ``questions()`` yields :class:`~prmgym.envs.data.specs.Spec` items whose
constraints state the method (sample statistics use ``ddof=1``; correlations are Pearson unless
said otherwise; missing values are skipped, as pandas does), the rounding, and a tie rule
wherever a question picks one item out of several. Dates are ISO 8601 text in every table;
questions that use a part of a date say which.
"""

from collections.abc import Callable, Iterator

from prmgym.envs.data.questions import (
    airports,
    barley,
    cars,
    iowa_electricity,
    iris,
    penguins,
    seattle_weather,
    temperature_normals,
    us_employment,
)
from prmgym.envs.data.specs import Spec

GENERATORS: tuple[Callable[[], Iterator[Spec]], ...] = (
    penguins.questions,
    iris.questions,
    cars.questions,
    barley.questions,
    airports.questions,
    seattle_weather.questions,
    temperature_normals.questions,
    us_employment.questions,
    iowa_electricity.questions,
)
"""Every table's question generator, in the order the task set is built."""
