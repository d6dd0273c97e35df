"""Questions about ``iris.csv``: 150 flowers of three species."""

from __future__ import annotations

from collections.abc import Iterator

from prmgym.envs.data.specs import PEARSON, TIE_ALPHA, Spec, integer, num, spec, text

IRIS_MEASURES = ("sepalLength", "sepalWidth", "petalLength", "petalWidth")
IRIS_SPECIES = ("setosa", "versicolor", "virginica")


def questions() -> Iterator[Spec]:
    """Questions about ``iris.csv``."""
    for column in IRIS_MEASURES:
        yield spec(
            f"species-mean-{column}",
            "iris",
            f"What is the mean `{column}` of each iris species?",
            "Average over the flowers of each species.",
            f"means = df.groupby('species')[{column!r}].mean()",
            [num(f"mean_{s}", f"means[{s!r}]", f"the mean for {s}") for s in IRIS_SPECIES],
            "easy",
            ["group-by", "aggregation"],
        )
    for column in ("sepalLength", "petalWidth"):
        yield spec(
            f"mean-std-{column}",
            "iris",
            f"What are the mean and the standard deviation of `{column}` over all flowers?",
            "Use the sample standard deviation (ddof=1).",
            f"col = df[{column!r}]",
            [
                num("mean", "col.mean()", f"the mean {column}"),
                num("std", "col.std(ddof=1)", f"the standard deviation of {column}"),
            ],
            "easy",
            ["aggregation"],
        )
    for species, column, limit in (
        ("versicolor", "petalLength", 4.5),
        ("virginica", "sepalWidth", 3.0),
        ("setosa", "sepalLength", 5.0),
    ):
        yield spec(
            f"{species}-{column}-over-{limit}",
            "iris",
            f"How many {species} flowers have a `{column}` greater than {limit}?",
            f"Count rows with species == '{species}' and {column} > {limit} (strictly greater).",
            f"n = ((df['species'] == {species!r}) & (df[{column!r}] > {limit})).sum()",
            [integer("n_flowers", "n", "the number of flowers")],
            "easy",
            ["filter"],
        )
    yield spec(
        "pearson-petal",
        "iris",
        "What is the correlation between petal length and petal width over all flowers?",
        PEARSON,
        "r = df['petalLength'].corr(df['petalWidth'])",
        [num("r", "r", "the correlation coefficient", 4)],
        "medium",
        ["correlation"],
    )
    yield spec(
        "sepal-correlation-overall-and-setosa",
        "iris",
        "What is the correlation between sepal length and sepal width over all flowers, and"
        " within setosa alone?",
        PEARSON,
        "r_all = df['sepalLength'].corr(df['sepalWidth'])\n"
        "setosa = df[df['species'] == 'setosa']\n"
        "r_setosa = setosa['sepalLength'].corr(setosa['sepalWidth'])",
        [
            num("r_all", "r_all", "the correlation over all flowers", 4),
            num("r_setosa", "r_setosa", "the correlation within setosa", 4),
        ],
        "medium",
        ["correlation", "filter"],
    )
    yield spec(
        "fit-sepal-on-petal",
        "iris",
        "Among versicolor flowers, fit a straight line predicting sepal length from petal"
        " length. What are its slope and intercept?",
        "Least squares, sepalLength = slope * petalLength + intercept (numpy.polyfit, degree 1),"
        " over the versicolor rows.",
        "rows = df[df['species'] == 'versicolor']\n"
        "slope, intercept = np.polyfit(rows['petalLength'], rows['sepalLength'], 1)",
        [num("slope", "slope", "the slope", 4), num("intercept", "intercept", "the intercept", 4)],
        "medium",
        ["regression", "filter"],
    )
    yield spec(
        "fit-petal-width",
        "iris",
        "Fit a straight line predicting petal width from petal length. What are its slope and"
        " intercept, and what width does it predict for a petal length of 5.0?",
        "Least squares, petalWidth = slope * petalLength + intercept (numpy.polyfit, degree 1).",
        "slope, intercept = np.polyfit(df['petalLength'], df['petalWidth'], 1)",
        [
            num("slope", "slope", "the slope", 4),
            num("intercept", "intercept", "the intercept", 4),
            num("predicted_width", "slope * 5.0 + intercept", "the predicted petal width", 2),
        ],
        "medium",
        ["regression"],
    )
    yield spec(
        "petal-ratio-per-species",
        "iris",
        "For each species, what is the mean ratio of petal length to petal width?",
        "Compute petalLength / petalWidth for every flower, then average per species.",
        "ratio = (df['petalLength'] / df['petalWidth']).groupby(df['species']).mean()",
        [num(f"ratio_{s}", f"ratio[{s!r}]", f"the mean ratio for {s}") for s in IRIS_SPECIES],
        "hard",
        ["group-by", "aggregation"],
    )
    yield spec(
        "widest-sepal-range",
        "iris",
        "Which species has the largest range (maximum minus minimum) of sepal width, and how"
        " large is it?",
        TIE_ALPHA,
        "ranges = df.groupby('species')['sepalWidth'].agg(lambda s: s.max() - s.min())\n"
        "best = ranges.sort_index().idxmax()",
        [
            text("species", "best", "the species name as written in the table"),
            num("range", "ranges[best]", "that species' range of sepal width"),
        ],
        "medium",
        ["group-by", "ranking"],
    )
