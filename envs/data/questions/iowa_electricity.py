"""Questions about ``iowa-electricity.csv``, alone and joined with US employment."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import EARLIEST, Spec, integer, num, spec, text

YEAR = "year = pd.to_datetime(df['year']).dt.year\n"
WIDE = YEAR + "wide = df.pivot_table(index=year, columns='source', values='net_generation')\n"
JOIN_YEARS = (
    "power_year = pd.to_datetime(power['year']).dt.year\n"
    "wide = power.pivot_table(index=power_year, columns='source', values='net_generation')\n"
    "jobs_year = pd.to_datetime(jobs['month']).dt.year.rename('year')\n"
    "annual = jobs.drop(columns='month').groupby(jobs_year).mean()\n"
    "both = wide.join(annual, how='inner')\n"
)


def questions() -> Iterator[Spec]:
    """Questions about ``iowa-electricity.csv``, alone and joined with ``us-employment.csv``."""
    yield spec(
        "total-2017",
        "iowa-electricity",
        "What was Iowa's total net generation in 2017, over all sources?",
        "Sum net_generation (thousand MWh) over the sources of that year.",
        YEAR + "total = df.loc[year == 2017, 'net_generation'].sum()",
        [integer("total", "total", "the total in thousand MWh")],
        "easy",
        ["dates", "filter", "aggregation"],
    )
    yield spec(
        "peak-year",
        "iowa-electricity",
        "In which year was Iowa's total net generation highest, and what was it?",
        f"Sum over sources per year. {EARLIEST}",
        YEAR + "totals = df.groupby(year)['net_generation'].sum().sort_index()\n"
        "best = totals.idxmax()",
        [integer("year", "best", "the year"), integer("total", "totals[best]", "its total")],
        "medium",
        ["dates", "group-by", "ranking"],
    )
    yield spec(
        "renewable-share",
        "iowa-electricity",
        "What share of Iowa's net generation came from renewables in 2001 and in 2017?",
        "Share = 100 * renewables / total of all sources in the same year.",
        WIDE + "share = 100 * wide['Renewables'] / wide.sum(axis=1)",
        [num(f"pct_{y}", f"share[{y}]", f"the percentage in {y}") for y in (2001, 2017)],
        "medium",
        ["reshape", "dates", "aggregation"],
    )
    yield spec(
        "renewables-overtake-nuclear",
        "iowa-electricity",
        "In which year did renewables first generate more than nuclear energy?",
        "Compare the two sources' net_generation year by year; give the first year where"
        " renewables are strictly higher.",
        WIDE + "best = wide.index[wide['Renewables'] > wide['Nuclear Energy']].min()",
        [integer("year", "best", "the year")],
        "medium",
        ["reshape", "dates", "filter"],
    )
    yield spec(
        "renewables-pass-10000",
        "iowa-electricity",
        "In which year did renewable generation first exceed 10,000 thousand MWh, and what was"
        " it that year?",
        "Strictly greater than 10000; the first such year.",
        YEAR + "rows = df[(df['source'] == 'Renewables') & (df['net_generation'] > 10000)]\n"
        "first = rows.assign(y=year).sort_values('y').iloc[0]",
        [
            integer("year", "first['y']", "the year"),
            integer("net_generation", "first['net_generation']", "that year's generation"),
        ],
        "easy",
        ["dates", "filter"],
    )
    yield spec(
        "largest-source",
        "iowa-electricity",
        "Which source generated the most electricity over 2001-2017 in total, and how much?",
        "Sum net_generation per source over all years. If several tie, give the one that comes"
        " first alphabetically.",
        "totals = df.groupby('source')['net_generation'].sum().sort_index()\n"
        "best = totals.idxmax()",
        [
            text("source", "best", "the source as written in the table"),
            integer("total", "totals[best]", "its total in thousand MWh"),
        ],
        "easy",
        ["group-by", "ranking"],
    )
    yield spec(
        "renewables-growth-rate",
        "iowa-electricity",
        "What was the compound annual growth rate of renewable generation from 2001 to 2017?",
        "Rate = 100 * ((value 2017 / value 2001) ** (1 / 16) - 1), in percent.",
        WIDE + "rate = 100 * ((wide.loc[2017, 'Renewables'] / wide.loc[2001, 'Renewables'])"
        " ** (1 / 16) - 1)",
        [num("cagr_pct", "rate", "the growth rate in percent per year")],
        "hard",
        ["reshape", "dates", "aggregation"],
    )
    yield spec(
        "renewables-trend",
        "iowa-electricity",
        "Fit a straight line to renewable generation against the year. What is its slope, and"
        " what does it predict for 2018?",
        "Least squares over 2001-2017, net_generation = slope * year + intercept (numpy.polyfit,"
        " degree 1), with year as the calendar year number.",
        YEAR + "rows = df[df['source'] == 'Renewables']\n"
        "slope, intercept = np.polyfit(year[rows.index], rows['net_generation'], 1)",
        [
            num("slope", "slope", "the slope in thousand MWh per year", 2),
            num("predicted_2018", "slope * 2018 + intercept", "the 2018 prediction", 1),
        ],
        "hard",
        ["regression", "dates", "filter"],
    )
    reads = (("power", "iowa-electricity"), ("jobs", "us-employment"))
    annual_rule = (
        "Join on calendar year: Iowa's net_generation per source against the mean of the twelve"
        " monthly US employment values of that year, keeping the years present in both tables"
        " (2006-2015)."
    )
    for source, column in (
        ("Renewables", "construction"),
        ("Fossil Fuels", "manufacturing"),
        ("Nuclear Energy", "nonfarm"),
    ):
        yield spec(
            f"join-{source.split()[0].lower()}-{column}",
            reads,
            f"Across the years both tables cover, how does Iowa's {source} generation correlate"
            f" with average US {column} employment?",
            f"{annual_rule} Use the Pearson correlation coefficient.",
            JOIN_YEARS,
            [
                num(
                    "r",
                    f"both[{source!r}].corr(both[{column!r}])",
                    "the correlation coefficient",
                    4,
                )
            ],
            "hard",
            ["join", "correlation", "dates"],
        )
    yield spec(
        "join-trough-year-share",
        reads,
        "In the year when average US nonfarm employment was lowest, what share of Iowa's"
        " generation came from renewables?",
        f"{annual_rule} Share = 100 * renewables / total of Iowa's sources that year. If years"
        " tie, use the earliest.",
        JOIN_YEARS + "year = both['nonfarm'].sort_index().idxmin()\n"
        "total = both.loc[year, ['Fossil Fuels', 'Nuclear Energy', 'Renewables']].sum()",
        [
            integer("year", "year", "that year"),
            num(
                "pct_renewables",
                "100 * both.loc[year, 'Renewables'] / total",
                "the renewables share in percent",
            ),
        ],
        "hard",
        ["join", "dates", "ranking"],
    )
