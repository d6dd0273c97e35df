"""Questions about ``seattle-temps.csv`` and ``sf-temps.csv``, alone and joined."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import EARLIEST, F_TO_C, PARSE_DATE, Spec, integer, num, spec, text

CITY_TABLES = ("seattle-temps", "sf-temps")
TEMPS_JOIN = (
    "both = seattle.merge(sf, on='date', suffixes=('_seattle', '_sf'))\n"
    "date = pd.to_datetime(both['date'])\n"
)


def questions() -> Iterator[Spec]:
    """Questions about ``seattle-temps.csv`` and ``sf-temps.csv``, alone and joined."""
    for table in CITY_TABLES:
        yield spec(
            "annual-mean",
            table,
            "What is the mean of the hourly temperature normals over the whole year?",
            "Average the temp column (degrees F) over all rows.",
            "value = df['temp'].mean()",
            [num("mean_temp", "value", "the mean in degrees F")],
            "easy",
            ["aggregation"],
        )
        yield spec(
            "warmest-month",
            table,
            "Which month has the highest mean hourly temperature normal, and what is it?",
            f"Group by the month of the date. {EARLIEST}",
            PARSE_DATE + "means = df.groupby(date.dt.month)['temp'].mean().sort_index()\n"
            "best = means.idxmax()",
            [
                integer("month", "best", "the month number, 1 to 12"),
                num("mean_temp", "means[best]", "its mean in degrees F"),
            ],
            "medium",
            ["dates", "group-by", "ranking"],
        )
        yield spec(
            "warmest-hour",
            table,
            "At which hour of the day is the mean temperature normal highest, and what is it?",
            f"Group by the hour of the date (0-23) over the whole year. {EARLIEST}",
            PARSE_DATE + "means = df.groupby(date.dt.hour)['temp'].mean().sort_index()\n"
            "best = means.idxmax()",
            [
                integer("hour", "best", "the hour, 0 to 23"),
                num("mean_temp", "means[best]", "its mean in degrees F"),
            ],
            "medium",
            ["dates", "group-by", "ranking"],
        )
        yield spec(
            "warm-days",
            table,
            "On how many days does the hourly temperature normal reach above 70 degrees F?",
            "Take each calendar day's highest hourly value; count days where it is > 70.",
            PARSE_DATE + "daily_max = df.groupby(date.dt.date)['temp'].max()",
            [integer("n_days", "(daily_max > 70).sum()", "the number of days")],
            "medium",
            ["dates", "group-by", "filter"],
        )
        yield spec(
            "july-celsius",
            table,
            "What is the mean July temperature normal in degrees Celsius?",
            f"Average the July rows, converting each value from F to C as {F_TO_C}.",
            PARSE_DATE + f"temp = df.loc[date.dt.month == 7, 'temp']\ncelsius = {F_TO_C}",
            [num("mean_temp_c", "celsius.mean()", "the mean in degrees C")],
            "easy",
            ["dates", "filter", "aggregation"],
        )
    reads = (("seattle", "seattle-temps"), ("sf", "sf-temps"))
    joined = "Join the two tables on date (every timestamp is in both)."
    yield spec(
        "seattle-warmer-hours",
        reads,
        "For how many hours of the year is Seattle's temperature normal higher than San"
        " Francisco's?",
        f"{joined} Count timestamps where the Seattle value is strictly higher.",
        TEMPS_JOIN,
        [
            integer(
                "n_hours", "(both['temp_seattle'] > both['temp_sf']).sum()", "the number of hours"
            )
        ],
        "medium",
        ["join", "filter"],
    )
    yield spec(
        "largest-monthly-gap",
        reads,
        "In which month is San Francisco warmest relative to Seattle on average, and by how"
        " many degrees?",
        f"{joined} Difference = SF - Seattle per timestamp, averaged per month of the date."
        f" {EARLIEST}",
        TEMPS_JOIN + "gap = (both['temp_sf'] - both['temp_seattle']).groupby(date.dt.month)"
        ".mean().sort_index()\nbest = gap.idxmax()",
        [
            integer("month", "best", "the month number, 1 to 12"),
            num("mean_difference", "gap[best]", "the mean difference in degrees F"),
        ],
        "hard",
        ["join", "dates", "group-by", "ranking"],
    )
    yield spec(
        "city-correlation",
        reads,
        "How strongly do the hourly normals of Seattle and San Francisco move together?",
        f"{joined} Use the Pearson correlation coefficient between the two temp columns.",
        TEMPS_JOIN,
        [num("r", "both['temp_seattle'].corr(both['temp_sf'])", "the correlation coefficient", 4)],
        "medium",
        ["join", "correlation"],
    )
    yield spec(
        "seattle-warmer-days",
        reads,
        "On how many days is Seattle's daily mean temperature normal higher than San Francisco's?",
        f"{joined} Average each city's hourly values per calendar day, then count days where"
        " Seattle's mean is strictly higher.",
        TEMPS_JOIN + "daily = both.groupby(date.dt.date)[['temp_seattle', 'temp_sf']].mean()",
        [
            integer(
                "n_days", "(daily['temp_seattle'] > daily['temp_sf']).sum()", "the number of days"
            )
        ],
        "hard",
        ["join", "dates", "group-by"],
    )
    yield spec(
        "largest-daily-gap",
        reads,
        "On which day is the daily mean temperature normal of San Francisco furthest above"
        " Seattle's, and by how much?",
        f"{joined} Average each city's hourly values per calendar day; difference = SF -"
        f" Seattle. {EARLIEST}",
        TEMPS_JOIN + "daily = both.groupby(date.dt.strftime('%Y-%m-%d'))"
        "[['temp_seattle', 'temp_sf']].mean()\n"
        "gap = (daily['temp_sf'] - daily['temp_seattle']).sort_index()\nbest = gap.idxmax()",
        [
            text("date", "best", "the date as YYYY-MM-DD"),
            num("difference", "gap[best]", "the difference in degrees F"),
        ],
        "hard",
        ["join", "dates", "group-by", "ranking"],
    )
