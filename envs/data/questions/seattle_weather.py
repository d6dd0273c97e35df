"""Questions about ``seattle-weather.csv``, alone and joined with its normals."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import EARLIEST, F_TO_C, PARSE_DATE, Spec, integer, num, spec, text

YEARS = (2012, 2013, 2014, 2015)
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def questions() -> Iterator[Spec]:
    """Questions about ``seattle-weather.csv``."""
    for year in YEARS:
        yield spec(
            f"common-weather-{year}",
            "seattle-weather",
            f"Which weather type was recorded on the most days in {year}, and on how many?",
            "Count days per value of the weather column within the year. If several tie, give"
            " the one that comes first alphabetically.",
            PARSE_DATE + f"counts = df[date.dt.year == {year}]['weather'].value_counts()\n"
            "best = counts[counts == counts.max()].sort_index().index[0]",
            [
                text("weather", "best", "the weather type as written in the table"),
                integer("n_days", "counts[best]", "its number of days"),
            ],
            "medium",
            ["dates", "group-by", "ranking"],
        )
        yield spec(
            f"wettest-month-{year}",
            "seattle-weather",
            f"Which month of {year} had the most total precipitation, and how much fell?",
            f"Sum precipitation (mm) over the days of each month. {EARLIEST}",
            PARSE_DATE + f"rows = df[date.dt.year == {year}]\n"
            "totals = rows.groupby(date.dt.month)['precipitation'].sum().sort_index()\n"
            "best = totals.idxmax()",
            [
                integer("month", "best", "the month number, 1 to 12"),
                num("precipitation_mm", "totals[best]", "the month's total in mm", 1),
            ],
            "medium",
            ["dates", "group-by", "ranking"],
        )
    for weather, year in (
        ("rain", 2012),
        ("sun", 2013),
        ("fog", 2014),
        ("snow", 2012),
        ("drizzle", 2015),
        ("fog", 2015),
    ):
        yield spec(
            f"{weather}-days-{year}",
            "seattle-weather",
            f"On how many days of {year} was the weather recorded as {weather}?",
            f"Count rows whose date falls in {year} and whose weather is '{weather}'.",
            PARSE_DATE + f"n = ((date.dt.year == {year}) & (df['weather'] == {weather!r})).sum()",
            [integer("n_days", "n", "the number of days")],
            "easy",
            ["dates", "filter"],
        )
    yield spec(
        "yearly-precipitation",
        "seattle-weather",
        "What was the total precipitation in 2012, in 2013 and in 2014?",
        "Sum the daily precipitation (mm) of each calendar year.",
        PARSE_DATE + "totals = df.groupby(date.dt.year)['precipitation'].sum()",
        [num(f"total_{y}", f"totals[{y}]", f"the total for {y} in mm", 1) for y in YEARS[:3]],
        "easy",
        ["dates", "group-by", "aggregation"],
    )
    for month, year in ((7, 2013), (12, 2014), (3, 2015)):
        name = MONTH_NAMES[month - 1]
        yield spec(
            f"mean-max-{year}-{month:02d}",
            "seattle-weather",
            f"What was the mean daily maximum temperature in {name} {year}?",
            "Average temp_max (degrees C) over the days of that month.",
            PARSE_DATE + f"rows = df[(date.dt.year == {year}) & (date.dt.month == {month})]",
            [num("mean_temp_max", "rows['temp_max'].mean()", "the mean in degrees C")],
            "easy",
            ["dates", "filter", "aggregation"],
        )
    yield spec(
        "hottest-day",
        "seattle-weather",
        "On which day was the highest maximum temperature recorded, and what was it?",
        f"Use temp_max. {EARLIEST}",
        "top = df.sort_values(['temp_max', 'date'], ascending=[False, True]).iloc[0]",
        [
            text("date", "top['date']", "the date as YYYY-MM-DD"),
            num("temp_max", "top['temp_max']", "the temperature in degrees C", 1),
        ],
        "easy",
        ["dates", "ranking"],
    )
    yield spec(
        "longest-dry-spell-2014",
        "seattle-weather",
        "What was the longest run of consecutive days with no precipitation in 2014, and on"
        " which day did it start?",
        "A dry day has precipitation == 0; runs are counted within 2014 only. If several runs"
        " are equally long, give the earliest.",
        PARSE_DATE + "rows = df[date.dt.year == 2014].sort_values('date').reset_index(drop=True)\n"
        "dry = rows['precipitation'] == 0\n"
        "run_id = (dry != dry.shift()).cumsum()\n"
        "runs = rows[dry].groupby(run_id[dry])['date'].agg(['size', 'first'])\n"
        "best = runs.sort_values(['size', 'first'], ascending=[False, True]).iloc[0]",
        [
            integer("n_days", "best['size']", "the length of the run in days"),
            text("start", "best['first']", "its first day as YYYY-MM-DD"),
        ],
        "hard",
        ["dates", "ranking"],
    )
    yield spec(
        "frost-days",
        "seattle-weather",
        "Which year had the most days with a minimum temperature below freezing, and how many?",
        f"Freezing means temp_min < 0 (degrees C). {EARLIEST}",
        PARSE_DATE + "counts = (df['temp_min'] < 0).groupby(date.dt.year).sum().sort_index()\n"
        "best = counts.idxmax()",
        [
            integer("year", "best", "the year"),
            integer("n_days", "counts[best]", "its number of frost days"),
        ],
        "medium",
        ["dates", "group-by", "ranking"],
    )
    yield spec(
        "fit-min-on-max",
        "seattle-weather",
        "Fit a straight line predicting the daily minimum temperature from the daily maximum."
        " What are its slope and intercept, and what minimum does it predict for a 20 C day?",
        "Least squares, temp_min = slope * temp_max + intercept (numpy.polyfit, degree 1), over"
        " all days.",
        "slope, intercept = np.polyfit(df['temp_max'], df['temp_min'], 1)",
        [
            num("slope", "slope", "the slope", 4),
            num("intercept", "intercept", "the intercept in degrees C", 4),
            num("predicted_min", "slope * 20 + intercept", "the predicted minimum in degrees C"),
        ],
        "medium",
        ["regression"],
    )
    for x, y in (("temp_max", "temp_min"), ("wind", "precipitation")):
        yield spec(
            f"pearson-{x}-{y}",
            "seattle-weather",
            f"What is the correlation between daily `{x}` and `{y}`?",
            "Use the Pearson correlation coefficient over all days.",
            f"r = df[{x!r}].corr(df[{y!r}])",
            [num("r", "r", "the correlation coefficient", 4)],
            "medium",
            ["correlation"],
        )
    yield spec(
        "widest-daily-range",
        "seattle-weather",
        "For which weather type is the mean daily temperature range (temp_max - temp_min)"
        " largest, and what is it?",
        "Compute each day's range, then average per weather type. If several tie, give the one"
        " that comes first alphabetically.",
        "ranges = (df['temp_max'] - df['temp_min']).groupby(df['weather']).mean().sort_index()\n"
        "best = ranges.idxmax()",
        [
            text("weather", "best", "the weather type as written in the table"),
            num("mean_range", "ranges[best]", "its mean range in degrees C"),
        ],
        "medium",
        ["group-by", "ranking"],
    )
    yield spec(
        "warmest-calendar-month",
        "seattle-weather",
        "Averaged over all four years, which calendar month has the highest mean daily maximum"
        " temperature, and what is it?",
        f"Group all days by month number (1-12) and average temp_max. {EARLIEST}",
        PARSE_DATE + "means = df.groupby(date.dt.month)['temp_max'].mean().sort_index()\n"
        "best = means.idxmax()",
        [
            integer("month", "best", "the month number, 1 to 12"),
            num("mean_temp_max", "means[best]", "its mean in degrees C"),
        ],
        "medium",
        ["dates", "group-by", "ranking"],
    )
    for year in (2012, 2015):
        yield spec(
            f"wet-day-share-{year}",
            "seattle-weather",
            f"What percentage of the days of {year} had any precipitation?",
            "A wet day has precipitation > 0; percentage = 100 * wet days / days in the table"
            " for that year.",
            PARSE_DATE + f"rows = df[date.dt.year == {year}]",
            [num("pct_wet", "100 * (rows['precipitation'] > 0).mean()", "the percentage")],
            "easy",
            ["dates", "filter", "aggregation"],
        )

    weather_vs_normal = (
        "weather_date = pd.to_datetime(weather['date'])\n"
        "normal_date = pd.to_datetime(normals['date'])\n"
        "normal_max = normals.groupby(normal_date.dt.strftime('%m-%d'))['temp'].max()\n"
        "normal_max_c = ((normal_max - 32) * 5 / 9).rename('normal_max_c')\n"
        "days = weather.assign(year=weather_date.dt.year, "
        "day=weather_date.dt.strftime('%m-%d'))\n"
        "days = days.merge(normal_max_c, left_on='day', right_index=True)\n"
    )
    reads = (("weather", "seattle-weather"), ("normals", "seattle-temps"))
    normal_rule = (
        "The normal maximum of a calendar day (month and day) is the highest hourly value of"
        f" seattle-temps on that day, converted from F to C as {F_TO_C.replace('temp', 'F')}."
        " Join each observed day to its calendar day; 29 February has no normal and drops out."
    )
    for year in YEARS:
        yield spec(
            f"above-normal-{year}",
            reads,
            f"On how many days of {year} did Seattle's observed maximum temperature exceed the"
            " normal maximum for that calendar day?",
            f"{normal_rule} Count days with temp_max strictly above it.",
            weather_vs_normal + f"rows = days[days['year'] == {year}]",
            [
                integer(
                    "n_days",
                    "(rows['temp_max'] > rows['normal_max_c']).sum()",
                    "the number of days",
                )
            ],
            "hard",
            ["join", "dates", "filter"],
        )
    yield spec(
        "july-2015-anomaly",
        reads,
        "By how much did Seattle's observed daily maximum temperature exceed the normal maximum"
        " on average in July 2015?",
        f"{normal_rule} Average temp_max minus the normal maximum over the days of July 2015.",
        weather_vs_normal + "rows = days[(days['year'] == 2015) & days['day'].str.startswith"
        "('07-')]",
        [
            num(
                "mean_anomaly_c",
                "(rows['temp_max'] - rows['normal_max_c']).mean()",
                "the mean excess in degrees C",
            )
        ],
        "hard",
        ["join", "dates", "aggregation"],
    )
