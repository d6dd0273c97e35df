"""The built-in tables: real data sets shipped inside PyPI packages, read offline.

Each table is read from a file inside an installed package (``palmerpenguins``,
``vega_datasets``); nothing is downloaded and nothing is cached. Values are kept as published,
with one normalisation: dates written with slashes (``2012/01/01``) are rewritten as ISO 8601
(``2012-01-01``), so ``pd.to_datetime`` reads every date column without a format. Missing
values stay missing (empty cells in the CSV).

:func:`write_tables` writes tables as ``<name>.csv`` (no index, Unix line ends), the files a
data task's workspace starts with. The same table always gives the same bytes.

Licences were checked against each package's metadata and the vega-datasets source notes
(``SOURCES.md``, ``datapackage.md``); :data:`TABLES` records them per table.
"""

from __future__ import annotations

import difflib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from prmgym.errors import TaskError

_US_GOVERNMENT = "Public domain: a work of the U.S. federal government"


@dataclass(frozen=True)
class TableSource:
    """Where a built-in table comes from, and on what terms."""

    name: str
    """The table's name; its file in a workspace is ``<name>.csv``."""
    package: str
    """The installed Python package (import name) that ships the data."""
    resource: str
    """The data file inside that package."""
    description: str
    """One line: what a row is and what the columns hold."""
    origin: str
    """Who collected or published the data."""
    licence: str
    """The terms the data are under, as far as the sources state them."""
    iso_dates: dict[str, str] = field(default_factory=dict)
    """Columns whose dates are rewritten as ISO 8601: column -> the published ``strptime``
    format."""


TABLES: dict[str, TableSource] = {
    source.name: source
    for source in (
        TableSource(
            name="penguins",
            package="palmerpenguins",
            resource="data/penguins.csv",
            description="344 penguins of three species on three Antarctic islands: bill, flipper"
            " and body-mass measurements, sex and study year; some values missing",
            origin="Gorman, Williams & Fraser (2014), Palmer Station LTER; packaged by"
            " palmerpenguins (MIT)",
            licence="CC0 1.0 (Palmer Station LTER data policy)",
        ),
        TableSource(
            name="iris",
            package="vega_datasets",
            resource="_data/iris.json",
            description="150 iris flowers of three species: sepal and petal length and width in cm",
            origin="Anderson (1935), published by Fisher (1936); packaged by vega_datasets (MIT)",
            licence="Public domain (published 1936); also on the UCI repository as CC BY 4.0",
        ),
        TableSource(
            name="cars",
            package="vega_datasets",
            resource="_data/cars.json",
            description="406 car models of 1970-1982: fuel economy, cylinders, displacement,"
            " horsepower, weight, acceleration, model year and origin; some values missing",
            origin="Donoho & Ramos (1982), StatLib; packaged by vega_datasets (MIT)",
            licence="Distributed by StatLib in 1982 for educational and scientific use; the same"
            " data are UCI's Auto MPG set, CC BY 4.0",
        ),
        TableSource(
            name="seattle-weather",
            package="vega_datasets",
            resource="_data/seattle-weather.csv",
            description="Daily Seattle weather 2012-2015: precipitation (mm), maximum and"
            " minimum temperature (C), wind (m/s) and a weather type",
            origin="NOAA National Climatic Data Center; weather type derived by vega-datasets",
            licence=_US_GOVERNMENT + " (NOAA)",
            iso_dates={"date": "%Y/%m/%d"},
        ),
        TableSource(
            name="seattle-temps",
            package="vega_datasets",
            resource="_data/seattle-temps.csv",
            description="Hourly temperature normals (F) at Seattle-Tacoma airport, 30-year"
            " averages dated over the year 2010",
            origin="NOAA hourly climate normals, station USW00024233",
            licence=_US_GOVERNMENT + " (NOAA)",
            iso_dates={"date": "%Y/%m/%d %H:%M"},
        ),
        TableSource(
            name="sf-temps",
            package="vega_datasets",
            resource="_data/sf-temps.csv",
            description="Hourly temperature normals (F) at San Francisco airport, 30-year"
            " averages dated over the year 2010",
            origin="NOAA hourly climate normals, station USW00023234",
            licence=_US_GOVERNMENT + " (NOAA)",
            iso_dates={"date": "%Y/%m/%d %H:%M:%S"},
        ),
        TableSource(
            name="airports",
            package="vega_datasets",
            resource="_data/airports.csv",
            description="3,376 airports in the US and its territories: IATA code, name, city,"
            " state, country, latitude and longitude; some cities and states missing",
            origin="U.S. airports data (data.gov, from ourairports.com)",
            licence=_US_GOVERNMENT + " (data.gov); ourairports.com data are public domain",
        ),
        TableSource(
            name="us-employment",
            package="vega_datasets",
            resource="_data/us-employment.csv",
            description="Monthly US employment 2006-2015 in thousands, seasonally adjusted:"
            " nonfarm total, 22 supersectors and the month-to-month nonfarm change",
            origin="U.S. Bureau of Labor Statistics, Current Employment Statistics",
            licence=_US_GOVERNMENT + " (BLS)",
        ),
        TableSource(
            name="iowa-electricity",
            package="vega_datasets",
            resource="_data/iowa-electricity.csv",
            description="Annual net electricity generation in Iowa 2001-2017 by source (fossil"
            " fuels, nuclear, renewables), in thousand megawatthours",
            origin="U.S. Energy Information Administration",
            licence=_US_GOVERNMENT + " (EIA)",
        ),
        TableSource(
            name="barley",
            package="vega_datasets",
            resource="_data/barley.json",
            description="Barley yields (bushels per acre) of 10 varieties at 6 Minnesota sites"
            " in 1931 and 1932",
            origin="Minnesota Agricultural Experiment Station; Immer, Hayes & Powers (1934),"
            " republished in USDA Technical Bulletin 735 (1940)",
            licence="Public domain as republished by the USDA, a U.S. federal work;"
            " vega-datasets lists the original's licence as unspecified",
        ),
    )
}
"""Every built-in table by name."""


def _source(name: str) -> TableSource:
    if name not in TABLES:
        close = difflib.get_close_matches(name, TABLES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaskError(
            f"unknown table {name!r}{hint} Built-in tables: {', '.join(sorted(TABLES))}"
        )
    return TABLES[name]


def load_table(name: str) -> pd.DataFrame:
    """A built-in table, read from its package, exactly as :func:`write_tables` writes it.

    Raises:
        TaskError: ``name`` is not a built-in table (the message lists them).
    """
    source = _source(name)
    raw = (resources.files(source.package) / source.resource).read_bytes()
    if source.resource.endswith(".json"):
        frame = pd.DataFrame(json.loads(raw))
    else:
        frame = pd.read_csv(io.BytesIO(raw))
    for column, published in source.iso_dates.items():
        parsed = pd.to_datetime(frame[column], format=published)
        iso = "%Y-%m-%d %H:%M" if "%H" in published else "%Y-%m-%d"
        frame[column] = parsed.dt.strftime(iso)
    return frame


def table_file(name: str) -> str:
    """The file name a built-in table has in a workspace: ``<name>.csv``."""
    return f"{_source(name).name}.csv"


def write_tables(names: Iterable[str], folder: str | Path) -> list[Path]:
    """Write built-in tables into ``folder`` as ``<name>.csv``, creating the folder.

    Every name is checked before anything is written.

    Returns:
        The written files, in the order of ``names``.

    Raises:
        TaskError: A name is not a built-in table.
    """
    names = list(dict.fromkeys(names))
    for name in names:
        _source(name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / table_file(name)
        load_table(name).to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths
