"""Questions about ``airports.csv``: 3,376 US airports and their coordinates."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import TIE_ALPHA, Spec, integer, num, spec, text

HAVERSINE = (
    "lat, lon = np.radians(df['latitude']), np.radians(df['longitude'])\n"
    "lat0, lon0 = np.radians({lat}), np.radians({lon})\n"
    "h = np.sin((lat - lat0) / 2) ** 2\n"
    "h = h + np.cos(lat0) * np.cos(lat) * np.sin((lon - lon0) / 2) ** 2\n"
    "km = 2 * 6371.0 * np.arcsin(np.sqrt(h))\n"
    "order = pd.DataFrame({{'iata': df['iata'], 'km': km}}).sort_values(['km', 'iata'])\n"
    "nearest = order.iloc[0]"
)


def questions() -> Iterator[Spec]:
    """Questions about ``airports.csv``."""
    yield spec(
        "busiest-state",
        "airports",
        "Which state has the most airports, and how many does it have?",
        f"Airports with no state do not count. {TIE_ALPHA}",
        "counts = df['state'].value_counts()\n"
        "best = counts[counts == counts.max()].sort_index().index[0]",
        [
            text("state", "best", "the two-letter state code"),
            integer("n_airports", "counts[best]", "its number of airports"),
        ],
        "medium",
        ["group-by", "ranking"],
    )
    for state in ("TX", "CA", "FL", "WA"):
        yield spec(
            f"count-{state}",
            "airports",
            f"How many airports are in the state {state}?",
            f"Count rows with state == '{state}'.",
            f"n = (df['state'] == {state!r}).sum()",
            [integer("n_airports", "n", "the number of airports")],
            "easy",
            ["filter"],
        )
    yield spec(
        "missing-state",
        "airports",
        "How many airports have no state, and how many of those are outside the USA?",
        "An airport has no state when the cell is empty; outside the USA means country != 'USA'.",
        "stateless = df[df['state'].isna()]",
        [
            integer("n_missing", "len(stateless)", "the number of airports without a state"),
            integer(
                "n_abroad",
                "(stateless['country'] != 'USA').sum()",
                "how many of them are outside the USA",
            ),
        ],
        "easy",
        ["missing-values", "filter"],
    )
    for word, ascending in (("northernmost", False), ("southernmost", True)):
        yield spec(
            f"{word}",
            "airports",
            f"Which airport in the USA is the {word}? Give its IATA code and latitude.",
            "Consider rows with country == 'USA'. If several tie, give the IATA code that comes"
            " first alphabetically.",
            "usa = df[df['country'] == 'USA']\n"
            f"top = usa.sort_values(['latitude', 'iata'], ascending=[{ascending}, True]).iloc[0]",
            [
                text("iata", "top['iata']", "the IATA code as written in the table"),
                num("latitude", "top['latitude']", "its latitude in degrees", 4),
            ],
            "medium",
            ["filter", "ranking"],
        )
    yield spec(
        "distinct-states",
        "airports",
        "How many distinct states appear in the table?",
        "Count distinct non-empty state codes.",
        "n = df['state'].nunique()",
        [integer("n_states", "n", "the number of distinct states")],
        "easy",
        ["aggregation", "missing-values"],
    )
    yield spec(
        "busiest-city",
        "airports",
        "Which city (with its state) has the most airports, and how many?",
        f"Group by city and state together; rows with either missing do not count. {TIE_ALPHA}",
        "counts = df.groupby(['city', 'state']).size()\n"
        "best = counts[counts == counts.max()].sort_index().index[0]",
        [
            text("city", "best[0]", "the city as written in the table"),
            text("state", "best[1]", "its two-letter state code"),
            integer("n_airports", "counts[best]", "its number of airports"),
        ],
        "medium",
        ["group-by", "ranking"],
    )
    for state in ("CO", "MI"):
        yield spec(
            f"centre-{state}",
            "airports",
            f"What are the mean latitude and mean longitude of the airports in {state}?",
            f"Average over rows with state == '{state}'.",
            f"rows = df[df['state'] == {state!r}]",
            [
                num("mean_latitude", "rows['latitude'].mean()", "the mean latitude", 4),
                num("mean_longitude", "rows['longitude'].mean()", "the mean longitude", 4),
            ],
            "easy",
            ["filter", "aggregation"],
        )
    yield spec(
        "north-east",
        "airports",
        "How many airports lie north of latitude 40 and east of longitude -80?",
        "Strict inequalities: latitude > 40 and longitude > -80.",
        "n = ((df['latitude'] > 40) & (df['longitude'] > -80)).sum()",
        [integer("n_airports", "n", "the number of airports")],
        "easy",
        ["filter"],
    )
    for slug, place, lat, lon in (
        ("nearest-seattle", "downtown Seattle (47.6062, -122.3321)", 47.6062, -122.3321),
        ("nearest-chicago", "downtown Chicago (41.8781, -87.6298)", 41.8781, -87.6298),
    ):
        yield spec(
            slug,
            "airports",
            f"Which airport is nearest to {place}, and how far is it?",
            "Use the great-circle (haversine) distance on a sphere of radius 6371 km, with"
            " coordinates in degrees. If several tie, give the IATA code that comes first"
            " alphabetically.",
            HAVERSINE.format(lat=lat, lon=lon),
            [
                text("iata", "nearest['iata']", "the IATA code as written in the table"),
                num("distance_km", "nearest['km']", "the distance in kilometres"),
            ],
            "hard",
            ["ranking"],
        )
