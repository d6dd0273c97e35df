"""Questions about ``penguins.csv``: 344 penguins, some values missing."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import (
    PEARSON,
    SKIP_MISSING,
    SPEARMAN,
    TIE_ALPHA,
    Spec,
    integer,
    num,
    spec,
    text,
)

PENGUIN_MEASURES = {
    "bill_length_mm": "bill length in millimetres",
    "bill_depth_mm": "bill depth in millimetres",
    "flipper_length_mm": "flipper length in millimetres",
    "body_mass_g": "body mass in grams",
}
SPECIES = ("Adelie", "Chinstrap", "Gentoo")


def questions() -> Iterator[Spec]:
    """Questions about ``penguins.csv``."""
    for column, label in PENGUIN_MEASURES.items():
        for stat in ("mean", "median"):
            yield spec(
                f"{stat}-{column}",
                "penguins",
                f"What is the {stat} {label} (`{column}`) over all penguins?",
                SKIP_MISSING,
                f"value = df[{column!r}].{stat}()",
                [num(f"{stat}_{column}", "value", f"the {stat} of {column}")],
                "easy",
                ["aggregation"],
            )
        yield spec(
            f"spread-{column}",
            "penguins",
            f"What are the minimum, the maximum and the standard deviation of `{column}`?",
            f"Use the sample standard deviation (ddof=1). {SKIP_MISSING}",
            f"col = df[{column!r}]",
            [
                num(f"min_{column}", "col.min()", f"the smallest {column}"),
                num(f"max_{column}", "col.max()", f"the largest {column}"),
                num(f"std_{column}", "col.std(ddof=1)", f"the standard deviation of {column}"),
            ],
            "easy",
            ["aggregation"],
        )
        yield spec(
            f"species-mean-{column}",
            "penguins",
            f"What is the mean `{column}` of each penguin species?",
            SKIP_MISSING,
            f"means = df.groupby('species')[{column!r}].mean()",
            [
                num(f"mean_{column}_{s.lower()}", f"means[{s!r}]", f"the mean for {s}")
                for s in SPECIES
            ],
            "medium",
            ["group-by", "aggregation"],
        )
    for column, largest in (
        ("bill_length_mm", True),
        ("body_mass_g", True),
        ("bill_depth_mm", False),
        ("flipper_length_mm", False),
    ):
        word, pick = ("largest", "idxmax") if largest else ("smallest", "idxmin")
        yield spec(
            f"species-{word}-{column}",
            "penguins",
            f"Which species has the {word} mean `{column}`, and what is that mean?",
            f"{SKIP_MISSING} {TIE_ALPHA}",
            f"means = df.groupby('species')[{column!r}].mean().sort_index()\nbest = means.{pick}()",
            [
                text("species", "best", "the species name as written in the table"),
                num(f"mean_{column}", "means[best]", "that species' mean"),
            ],
            "medium",
            ["group-by", "ranking"],
        )
    yield spec(
        "adelie-per-island",
        "penguins",
        "How many Adelie penguins were recorded on each island (Biscoe, Dream, Torgersen)?",
        "Count rows whose species is Adelie.",
        "counts = df[df['species'] == 'Adelie']['island'].value_counts()",
        [
            integer(f"n_{i.lower()}", f"counts[{i!r}]", f"the count on {i}")
            for i in ("Biscoe", "Dream", "Torgersen")
        ],
        "easy",
        ["filter", "group-by"],
    )
    for threshold in (190, 200, 210, 220):
        yield spec(
            f"flipper-at-least-{threshold}",
            "penguins",
            f"How many penguins have a flipper length of at least {threshold} mm?",
            f"Count rows with flipper_length_mm >= {threshold}; rows with it missing do not count.",
            f"n = (df['flipper_length_mm'] >= {threshold}).sum()",
            [integer("n_penguins", "n", "the number of penguins")],
            "easy",
            ["filter"],
        )
    for sex, species, grams in (
        ("female", "Gentoo", 4800),
        ("male", "Adelie", 4000),
        ("male", "Chinstrap", 3900),
    ):
        yield spec(
            f"{sex}-{species.lower()}-over-{grams}",
            "penguins",
            f"How many {sex} {species} penguins weigh more than {grams} g?",
            f"Count rows with sex == '{sex}', species == '{species}' and body_mass_g > {grams}.",
            f"rows = df[(df['sex'] == {sex!r}) & (df['species'] == {species!r})]\n"
            f"n = (rows['body_mass_g'] > {grams}).sum()",
            [integer("n_penguins", "n", "the number of penguins")],
            "easy",
            ["filter"],
        )
    yield spec(
        "missing-per-column",
        "penguins",
        "How many values are missing in the `sex` column and in the `body_mass_g` column?",
        "Count empty cells (NaN after reading the CSV with pandas).",
        "missing = df.isna().sum()",
        [
            integer("missing_sex", "missing['sex']", "the number of missing sex values"),
            integer(
                "missing_body_mass_g", "missing['body_mass_g']", "the number of missing body masses"
            ),
        ],
        "easy",
        ["missing-values"],
    )
    yield spec(
        "rows-with-missing",
        "penguins",
        "How many rows have at least one missing value?",
        "A row counts once however many of its values are missing.",
        "n = df.isna().any(axis=1).sum()",
        [integer("n_rows", "n", "the number of rows")],
        "easy",
        ["missing-values"],
    )
    yield spec(
        "complete-cases",
        "penguins",
        "After dropping every row that has any missing value, how many rows remain, and what"
        " is their mean body mass?",
        "Drop rows with a missing value in any column, then average body_mass_g.",
        "complete = df.dropna()",
        [
            integer("n_rows", "len(complete)", "the number of remaining rows"),
            num(
                "mean_body_mass_g",
                "complete['body_mass_g'].mean()",
                "the mean body mass of those rows",
            ),
        ],
        "medium",
        ["missing-values", "aggregation"],
    )
    yield spec(
        "impute-mass-by-species",
        "penguins",
        "Fill each missing body mass with the median body mass of the penguin's species. What"
        " is the mean body mass afterwards?",
        "Compute each species' median over its known body masses, fill the gaps with it, then"
        " average over all 344 rows.",
        "medians = df.groupby('species')['body_mass_g'].transform('median')\n"
        "filled = df['body_mass_g'].fillna(medians)",
        [num("mean_body_mass_g", "filled.mean()", "the mean body mass after filling")],
        "hard",
        ["missing-values", "group-by"],
    )
    for x, y in (
        ("bill_length_mm", "flipper_length_mm"),
        ("bill_depth_mm", "flipper_length_mm"),
        ("flipper_length_mm", "body_mass_g"),
        ("bill_depth_mm", "body_mass_g"),
    ):
        yield spec(
            f"pearson-{x}-{y}",
            "penguins",
            f"What is the correlation between `{x}` and `{y}` over all penguins?",
            PEARSON,
            f"r = df[{x!r}].corr(df[{y!r}])",
            [num("r", "r", "the correlation coefficient", 4)],
            "medium",
            ["correlation"],
        )
    for x, y in (("bill_length_mm", "body_mass_g"), ("bill_depth_mm", "bill_length_mm")):
        yield spec(
            f"spearman-{x}-{y}",
            "penguins",
            f"What is the Spearman rank correlation between `{x}` and `{y}`?",
            SPEARMAN,
            f"ranks = df[[{x!r}, {y!r}]].dropna().rank()\nrho = ranks[{x!r}].corr(ranks[{y!r}])",
            [num("rho", "rho", "Spearman's rho", 4)],
            "medium",
            ["correlation"],
        )
    yield spec(
        "bill-correlation-within-species",
        "penguins",
        "Over all penguins, bill length and bill depth are negatively correlated. What is their"
        " correlation within each species?",
        PEARSON,
        "r = {s: g['bill_length_mm'].corr(g['bill_depth_mm']) for s, g in df.groupby('species')}",
        [num(f"r_{s.lower()}", f"r[{s!r}]", f"the correlation among {s}", 4) for s in SPECIES],
        "hard",
        ["correlation", "group-by"],
    )
    yield spec(
        "fit-mass-on-flipper",
        "penguins",
        "Fit a straight line predicting body mass from flipper length. What are its slope and"
        " intercept?",
        "Least squares, body_mass_g = slope * flipper_length_mm + intercept (numpy.polyfit with"
        " degree 1), over rows where both are present.",
        "rows = df.dropna(subset=['flipper_length_mm', 'body_mass_g'])\n"
        "slope, intercept = np.polyfit(rows['flipper_length_mm'], rows['body_mass_g'], 1)",
        [
            num("slope", "slope", "the slope in grams per millimetre", 4),
            num("intercept", "intercept", "the intercept in grams", 2),
        ],
        "medium",
        ["regression"],
    )
    yield spec(
        "predict-gentoo-depth",
        "penguins",
        "Among Gentoo penguins, fit a straight line predicting bill depth from bill length."
        " What bill depth does it predict for a bill length of 50 mm?",
        "Least squares line (numpy.polyfit, degree 1) over Gentoo rows where both are present.",
        "rows = df[df['species'] == 'Gentoo'].dropna(subset=['bill_length_mm', 'bill_depth_mm'])\n"
        "slope, intercept = np.polyfit(rows['bill_length_mm'], rows['bill_depth_mm'], 1)",
        [num("bill_depth_mm", "slope * 50 + intercept", "the predicted bill depth in mm")],
        "hard",
        ["regression", "filter"],
    )
    yield spec(
        "mass-slope-per-species",
        "penguins",
        "Within each species, how many grams of body mass does a millimetre of flipper length"
        " add? Fit body mass on flipper length separately per species.",
        "Least squares, body_mass_g = slope * flipper_length_mm + intercept (numpy.polyfit,"
        " degree 1), over each species' rows where both are present; report the slopes.",
        "rows = df.dropna(subset=['flipper_length_mm', 'body_mass_g'])\n"
        "slopes = {s: np.polyfit(g['flipper_length_mm'], g['body_mass_g'], 1)[0]"
        " for s, g in rows.groupby('species')}",
        [num(f"slope_{s.lower()}", f"slopes[{s!r}]", f"the slope for {s}") for s in SPECIES],
        "hard",
        ["regression", "group-by"],
    )
    yield spec(
        "female-share-per-species",
        "penguins",
        "What percentage of each species' penguins with a recorded sex are female?",
        "Leave out penguins whose sex is missing; percentage = 100 * females / (females + males).",
        "known = df.dropna(subset=['sex'])\n"
        "share = known.groupby('species')['sex'].apply(lambda s: 100 * (s == 'female').mean())",
        [
            num(f"pct_female_{s.lower()}", f"share[{s!r}]", f"the percentage for {s}")
            for s in SPECIES
        ],
        "medium",
        ["group-by", "missing-values"],
    )
    yield spec(
        "count-per-year",
        "penguins",
        "How many penguins were recorded in each study year?",
        "Count rows per value of the year column.",
        "counts = df['year'].value_counts()",
        [integer(f"n_{y}", f"counts[{y}]", f"the count for {y}") for y in (2007, 2008, 2009)],
        "easy",
        ["group-by"],
    )
