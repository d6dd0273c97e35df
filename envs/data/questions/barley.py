"""Questions about ``barley.csv``: 10 varieties at 6 sites in 1931 and 1932."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import TIE_ALPHA, Spec, integer, num, spec, text


def questions() -> Iterator[Spec]:
    """Questions about ``barley.csv``."""
    yield spec(
        "top-variety",
        "barley",
        "Which barley variety has the highest total yield over all sites and both years, and"
        " what is that total?",
        TIE_ALPHA,
        "totals = df.groupby('variety')['yield'].sum().sort_index()\nbest = totals.idxmax()",
        [
            text("variety", "best", "the variety as written in the table"),
            num("total_yield", "totals[best]", "its total yield in bushels per acre"),
        ],
        "medium",
        ["group-by", "ranking"],
    )
    for year in (1931, 1932):
        yield spec(
            f"top-site-{year}",
            "barley",
            f"Which site had the highest mean yield in {year}, and what was it?",
            f"Average over the varieties grown at each site in {year}. {TIE_ALPHA}",
            f"means = df[df['year'] == {year}].groupby('site')['yield'].mean().sort_index()\n"
            "best = means.idxmax()",
            [
                text("site", "best", "the site as written in the table"),
                num("mean_yield", "means[best]", "its mean yield"),
            ],
            "medium",
            ["filter", "group-by", "ranking"],
        )
    yield spec(
        "mean-per-year",
        "barley",
        "What was the mean yield in 1931 and in 1932?",
        "Average over every variety and site of each year.",
        "means = df.groupby('year')['yield'].mean()",
        [num(f"mean_{y}", f"means[{y}]", f"the mean yield in {y}") for y in (1931, 1932)],
        "easy",
        ["group-by", "aggregation"],
    )
    yield spec(
        "increases-1931-1932",
        "barley",
        "For how many (variety, site) pairs was the 1932 yield higher than the 1931 yield, and"
        " which site had the most such pairs?",
        "Pair each variety-site's 1931 and 1932 rows. Count strictly higher 1932 yields."
        f" {TIE_ALPHA}",
        "wide = df.pivot_table(index=['variety', 'site'], columns='year', values='yield')\n"
        "up = wide[wide[1932] > wide[1931]]\n"
        "per_site = up.index.get_level_values('site').value_counts()\n"
        "best = per_site[per_site == per_site.max()].sort_index().index[0]",
        [
            integer("n_pairs", "len(up)", "the number of pairs"),
            text("site", "best", "the site as written in the table"),
        ],
        "hard",
        ["reshape", "filter", "group-by"],
    )
    yield spec(
        "largest-site-change",
        "barley",
        "Which site's mean yield changed most from 1931 to 1932 (1932 minus 1931, largest"
        " value), and by how much?",
        f"Mean over varieties per site and year; change = mean 1932 - mean 1931. {TIE_ALPHA}",
        "means = df.pivot_table(index='site', columns='year', values='yield', aggfunc='mean')\n"
        "change = (means[1932] - means[1931]).sort_index()\nbest = change.idxmax()",
        [
            text("site", "best", "the site as written in the table"),
            num("change", "change[best]", "the change in bushels per acre"),
        ],
        "hard",
        ["reshape", "group-by", "ranking"],
    )
    yield spec(
        "most-variable-site",
        "barley",
        "Which site has the largest standard deviation of yield (both years together), and what"
        " is it?",
        f"Use the sample standard deviation (ddof=1). {TIE_ALPHA}",
        "stds = df.groupby('site')['yield'].std(ddof=1).sort_index()\nbest = stds.idxmax()",
        [
            text("site", "best", "the site as written in the table"),
            num("std_yield", "stds[best]", "its standard deviation"),
        ],
        "medium",
        ["group-by", "ranking"],
    )
    yield spec(
        "yields-over-40",
        "barley",
        "How many variety-site yields exceeded 40 bushels per acre in 1931, and how many in 1932?",
        "Count rows with yield > 40 per year.",
        "counts = df[df['yield'] > 40]['year'].value_counts()",
        [integer(f"n_{y}", f"counts.get({y}, 0)", f"the count in {y}") for y in (1931, 1932)],
        "easy",
        ["filter", "group-by"],
    )
    yield spec(
        "year-to-year-correlation",
        "barley",
        "Across the 60 variety-site pairs, what is the correlation between the 1931 yield and"
        " the 1932 yield?",
        "Pair each variety-site's two years, then use the Pearson correlation coefficient.",
        "wide = df.pivot_table(index=['variety', 'site'], columns='year', values='yield')\n"
        "r = wide[1931].corr(wide[1932])",
        [num("r", "r", "the correlation coefficient", 4)],
        "hard",
        ["reshape", "correlation"],
    )
    yield spec(
        "best-at-waseca",
        "barley",
        "Which variety had the highest mean yield at Waseca over both years?",
        f"Average each variety's two Waseca yields. {TIE_ALPHA}",
        "means = df[df['site'] == 'Waseca'].groupby('variety')['yield'].mean().sort_index()\n"
        "best = means.idxmax()",
        [text("variety", "best", "the variety as written in the table")],
        "medium",
        ["filter", "group-by", "ranking"],
    )
