"""Questions about ``us-employment.csv``: monthly US employment 2006-2015."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import EARLIEST, Spec, integer, num, spec, text

SUPERSECTORS = (
    "mining_and_logging",
    "construction",
    "manufacturing",
    "trade_transportation_utilties",
    "information",
    "financial_activities",
    "professional_and_business_services",
    "education_and_health_services",
    "leisure_and_hospitality",
    "other_services",
    "government",
)
MONTH = "month = pd.to_datetime(df['month'])\n"


def questions() -> Iterator[Spec]:
    """Questions about ``us-employment.csv``."""
    yield spec(
        "nonfarm-trough",
        "us-employment",
        "In which month was total nonfarm employment lowest, and what was it?",
        f"Use the nonfarm column (thousands). {EARLIEST}",
        "top = df.sort_values(['nonfarm', 'month']).iloc[0]",
        [
            text("month", "top['month'][:7]", "the month as YYYY-MM"),
            integer("nonfarm", "top['nonfarm']", "the employment in thousands"),
        ],
        "medium",
        ["dates", "ranking"],
    )
    yield spec(
        "losing-months",
        "us-employment",
        "In how many months did nonfarm employment fall from the month before?",
        "A fall is a negative nonfarm_change.",
        "n = (df['nonfarm_change'] < 0).sum()",
        [integer("n_months", "n", "the number of months")],
        "easy",
        ["filter"],
    )
    yield spec(
        "losing-months-recession",
        "us-employment",
        "How many months of 2008 and how many months of 2009 had a negative nonfarm_change?",
        "Use the year of the month column.",
        MONTH + "falls = (df['nonfarm_change'] < 0).groupby(month.dt.year).sum()",
        [integer(f"n_{y}", f"falls[{y}]", f"the count in {y}") for y in (2008, 2009)],
        "easy",
        ["dates", "filter", "group-by"],
    )
    yield spec(
        "annual-mean-nonfarm",
        "us-employment",
        "What was the average monthly nonfarm employment in 2007 and in 2010?",
        "Average the twelve monthly values of each year (thousands).",
        MONTH + "means = df.groupby(month.dt.year)['nonfarm'].mean()",
        [num(f"mean_{y}", f"means[{y}]", f"the mean for {y}", 1) for y in (2007, 2010)],
        "easy",
        ["dates", "group-by", "aggregation"],
    )
    yield spec(
        "peak-construction-year",
        "us-employment",
        "Which year had the highest average construction employment, and what was it?",
        f"Average the monthly construction values per calendar year. {EARLIEST}",
        MONTH + "means = df.groupby(month.dt.year)['construction'].mean().sort_index()\n"
        "best = means.idxmax()",
        [
            integer("year", "best", "the year"),
            num("mean_construction", "means[best]", "the mean in thousands", 1),
        ],
        "medium",
        ["dates", "group-by", "ranking"],
    )
    yield spec(
        "construction-decline",
        "us-employment",
        "How fast did construction employment fall from January 2007 to December 2010? Fit a"
        " linear trend and give its monthly slope.",
        "Number the months of 2007-2010 from 0 to 47 in date order and fit construction = slope *"
        " index + intercept by least squares (numpy.polyfit, degree 1).",
        MONTH
        + "rows = df[(month.dt.year >= 2007) & (month.dt.year <= 2010)].sort_values('month')\n"
        "slope, intercept = np.polyfit(np.arange(len(rows)), rows['construction'], 1)",
        [num("slope", "slope", "the slope in thousands per month")],
        "hard",
        ["regression", "dates", "filter"],
    )
    for x, y in (("construction", "manufacturing"), ("government", "private")):
        yield spec(
            f"pearson-{x}-{y}",
            "us-employment",
            f"What is the correlation between monthly `{x}` and `{y}` employment?",
            "Use the Pearson correlation coefficient over all months.",
            f"r = df[{x!r}].corr(df[{y!r}])",
            [num("r", "r", "the correlation coefficient", 4)],
            "medium",
            ["correlation"],
        )
    yield spec(
        "recovery-trend",
        "us-employment",
        "Fit a linear trend to nonfarm employment from January 2011 to December 2015. How many"
        " jobs (thousands) does it add per month, and what does it predict for January 2016?",
        "Number the months of 2011-2015 from 0 to 59 in date order and fit nonfarm = slope *"
        " index + intercept by least squares (numpy.polyfit, degree 1); January 2016 is index"
        " 60.",
        MONTH + "rows = df[month.dt.year >= 2011].sort_values('month')\n"
        "slope, intercept = np.polyfit(np.arange(len(rows)), rows['nonfarm'], 1)",
        [
            num("slope", "slope", "the monthly slope in thousands", 2),
            num("predicted", "slope * 60 + intercept", "the prediction in thousands", 1),
        ],
        "hard",
        ["regression", "dates"],
    )
    yield spec(
        "decade-growth",
        "us-employment",
        "By what percentage did nonfarm employment change from January 2006 to December 2015?",
        "Percentage change = 100 * (December 2015 - January 2006) / January 2006.",
        "first = df.loc[df['month'] == '2006-01-01', 'nonfarm'].iloc[0]\n"
        "last = df.loc[df['month'] == '2015-12-01', 'nonfarm'].iloc[0]",
        [num("pct_change", "100 * (last - first) / first", "the percentage change")],
        "easy",
        ["dates", "filter"],
    )
    yield spec(
        "manufacturing-fall",
        "us-employment",
        "By what percentage did manufacturing employment fall from its highest month to its"
        " lowest month, and in which month was it lowest?",
        "Fall = 100 * (highest - lowest) / highest over the whole table. If several months"
        " share the lowest value, give the earliest.",
        "low = df.sort_values(['manufacturing', 'month']).iloc[0]\n"
        "high = df['manufacturing'].max()",
        [
            num("pct_fall", "100 * (high - low['manufacturing']) / high", "the percentage fall"),
            text("month", "low['month'][:7]", "the lowest month as YYYY-MM"),
        ],
        "medium",
        ["ranking", "dates"],
    )
    yield spec(
        "fastest-supersector",
        "us-employment",
        "Which supersector grew most, in percent, from January 2006 to December 2015, and by"
        " how much?",
        "Supersectors are the columns " + ", ".join(SUPERSECTORS) + ". Growth = 100 * (December"
        " 2015 - January 2006) / January 2006. If several tie, give the column name that comes"
        " first alphabetically.",
        "columns = " + repr(list(SUPERSECTORS)) + "\n"
        "first = df.loc[df['month'] == '2006-01-01', columns].iloc[0]\n"
        "last = df.loc[df['month'] == '2015-12-01', columns].iloc[0]\n"
        "growth = (100 * (last - first) / first).sort_index()\nbest = growth.idxmax()",
        [
            text("supersector", "best", "the column name as written in the table"),
            num("pct_growth", "growth[best]", "its growth in percent"),
        ],
        "hard",
        ["reshape", "ranking"],
    )
