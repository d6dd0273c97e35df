"""Questions about ``cars.csv``: 406 car models of 1970-1982, some values missing."""

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

ORIGINS = ("USA", "Europe", "Japan")


def questions() -> Iterator[Spec]:
    """Questions about ``cars.csv``."""
    for column in ("Miles_per_Gallon", "Horsepower", "Weight_in_lbs"):
        yield spec(
            f"origin-mean-{column}",
            "cars",
            f"What is the mean `{column}` of the cars from each origin?",
            SKIP_MISSING,
            f"means = df.groupby('Origin')[{column!r}].mean()",
            [num(f"mean_{o.lower()}", f"means[{o!r}]", f"the mean for {o}") for o in ORIGINS],
            "medium",
            ["group-by", "aggregation"],
        )
    for column, word, pick in (
        ("Acceleration", "largest", "idxmax"),
        ("Displacement", "smallest", "idxmin"),
    ):
        yield spec(
            f"origin-{word}-{column}",
            "cars",
            f"Which origin has the {word} mean `{column}`, and what is that mean?",
            f"{SKIP_MISSING} {TIE_ALPHA}",
            f"means = df.groupby('Origin')[{column!r}].mean().sort_index()\nbest = means.{pick}()",
            [
                text("origin", "best", "the origin as written in the table"),
                num(f"mean_{column.lower()}", "means[best]", "that origin's mean"),
            ],
            "medium",
            ["group-by", "ranking"],
        )
    for slug, question, condition in (
        (
            "japan-4-cylinders",
            "How many Japanese cars have 4 cylinders?",
            "(df['Origin'] == 'Japan') & (df['Cylinders'] == 4)",
        ),
        (
            "usa-8-cylinders",
            "How many cars from the USA have 8 cylinders?",
            "(df['Origin'] == 'USA') & (df['Cylinders'] == 8)",
        ),
        ("over-150-hp", "How many cars have more than 150 horsepower?", "df['Horsepower'] > 150"),
        (
            "at-least-30-mpg",
            "How many cars reach at least 30 miles per gallon?",
            "df['Miles_per_Gallon'] >= 30",
        ),
    ):
        yield spec(
            slug,
            "cars",
            question,
            f"Count rows where {condition}; rows with the value missing do not count.",
            f"n = ({condition}).sum()",
            [integer("n_cars", "n", "the number of cars")],
            "easy",
            ["filter"],
        )
    yield spec(
        "missing-values",
        "cars",
        "How many cars lack a fuel economy (`Miles_per_Gallon`) value, and how many lack a"
        " `Horsepower` value?",
        "Count empty cells per column.",
        "missing = df.isna().sum()",
        [
            integer("missing_mpg", "missing['Miles_per_Gallon']", "the missing fuel economies"),
            integer("missing_hp", "missing['Horsepower']", "the missing horsepowers"),
        ],
        "easy",
        ["missing-values"],
    )
    yield spec(
        "impute-hp-by-cylinders",
        "cars",
        "Fill each missing horsepower with the median horsepower of cars with the same number"
        " of cylinders. What is the mean horsepower afterwards?",
        "Medians are over known values per Cylinders group; average over all 406 cars.",
        "medians = df.groupby('Cylinders')['Horsepower'].transform('median')\n"
        "filled = df['Horsepower'].fillna(medians)",
        [num("mean_horsepower", "filled.mean()", "the mean horsepower after filling")],
        "hard",
        ["missing-values", "group-by"],
    )
    for x, y in (
        ("Miles_per_Gallon", "Weight_in_lbs"),
        ("Miles_per_Gallon", "Horsepower"),
        ("Horsepower", "Acceleration"),
        ("Displacement", "Weight_in_lbs"),
    ):
        yield spec(
            f"pearson-{x}-{y}",
            "cars",
            f"What is the correlation between `{x}` and `{y}`?",
            PEARSON,
            f"r = df[{x!r}].corr(df[{y!r}])",
            [num("r", "r", "the correlation coefficient", 4)],
            "medium",
            ["correlation"],
        )
    yield spec(
        "spearman-mpg-displacement",
        "cars",
        "What is the Spearman rank correlation between fuel economy and displacement?",
        SPEARMAN,
        "ranks = df[['Miles_per_Gallon', 'Displacement']].dropna().rank()\n"
        "rho = ranks['Miles_per_Gallon'].corr(ranks['Displacement'])",
        [num("rho", "rho", "Spearman's rho", 4)],
        "medium",
        ["correlation"],
    )
    yield spec(
        "fit-mpg-on-weight",
        "cars",
        "Fit a straight line predicting miles per gallon from weight. What are its slope and"
        " intercept, and what does it predict for a car of 3000 lbs?",
        "Least squares, Miles_per_Gallon = slope * Weight_in_lbs + intercept (numpy.polyfit,"
        " degree 1), over cars with a known fuel economy.",
        "rows = df.dropna(subset=['Miles_per_Gallon', 'Weight_in_lbs'])\n"
        "slope, intercept = np.polyfit(rows['Weight_in_lbs'], rows['Miles_per_Gallon'], 1)",
        [
            num("slope", "slope", "the slope in mpg per lb", 6),
            num("intercept", "intercept", "the intercept in mpg", 4),
            num("predicted_mpg", "slope * 3000 + intercept", "the predicted fuel economy"),
        ],
        "hard",
        ["regression", "missing-values"],
    )
    yield spec(
        "predict-mpg-from-hp",
        "cars",
        "Using a least-squares line of miles per gallon on horsepower, what fuel economy is"
        " predicted for a car of 100 horsepower?",
        "numpy.polyfit with degree 1 over cars where both values are present.",
        "rows = df.dropna(subset=['Miles_per_Gallon', 'Horsepower'])\n"
        "slope, intercept = np.polyfit(rows['Horsepower'], rows['Miles_per_Gallon'], 1)",
        [num("predicted_mpg", "slope * 100 + intercept", "the predicted miles per gallon")],
        "medium",
        ["regression", "missing-values"],
    )
    yield spec(
        "predict-acceleration",
        "cars",
        "Fit a straight line predicting acceleration from horsepower. What acceleration does it"
        " predict for a car of 150 horsepower?",
        "Least squares (numpy.polyfit, degree 1) over cars where both values are present.",
        "rows = df.dropna(subset=['Horsepower', 'Acceleration'])\n"
        "slope, intercept = np.polyfit(rows['Horsepower'], rows['Acceleration'], 1)",
        [num("predicted_acceleration", "slope * 150 + intercept", "the predicted acceleration")],
        "medium",
        ["regression"],
    )
    yield spec(
        "best-model-year",
        "cars",
        "Which model year has the highest mean fuel economy, and what is that mean?",
        f"The model year is the year of the `Year` date. {SKIP_MISSING} If years tie, give the"
        " earliest.",
        "year = pd.to_datetime(df['Year']).dt.year\n"
        "means = df['Miles_per_Gallon'].groupby(year).mean().sort_index()\n"
        "best = means.idxmax()",
        [
            integer("year", "best", "the model year"),
            num("mean_mpg", "means[best]", "that year's mean miles per gallon"),
        ],
        "medium",
        ["dates", "group-by", "ranking"],
    )
    yield spec(
        "mpg-since-1980",
        "cars",
        "What is the mean fuel economy of cars with model year 1980 or later, and how many such"
        " cars are there?",
        "The model year is the year of the `Year` date; count every such car, average the known"
        " fuel economies.",
        "recent = df[pd.to_datetime(df['Year']).dt.year >= 1980]",
        [
            num("mean_mpg", "recent['Miles_per_Gallon'].mean()", "the mean miles per gallon"),
            integer("n_cars", "len(recent)", "the number of cars"),
        ],
        "medium",
        ["dates", "filter"],
    )
    yield spec(
        "cars-of-1976",
        "cars",
        "How many cars have model year 1976?",
        "The model year is the year of the `Year` date.",
        "n = (pd.to_datetime(df['Year']).dt.year == 1976).sum()",
        [integer("n_cars", "n", "the number of cars")],
        "easy",
        ["dates", "filter"],
    )
    for column, label in (("Horsepower", "most powerful"), ("Weight_in_lbs", "heaviest")):
        yield spec(
            f"{column}-top-car",
            "cars",
            f"Which car is the {label} (largest `{column}`), and what is its `{column}`?",
            f"Give the car's Name as written. {TIE_ALPHA}",
            f"top = df.sort_values([{column!r}, 'Name'], ascending=[False, True]).iloc[0]",
            [
                text("name", "top['Name']", "the car's Name as written in the table"),
                num(column.lower(), f"top[{column!r}]", f"its {column}", 1),
            ],
            "medium",
            ["ranking"],
        )
    yield spec(
        "top-make",
        "cars",
        "Which make (the first word of `Name`) has the most cars, and how many?",
        f"Take the make as written, without correcting spellings. {TIE_ALPHA}",
        "makes = df['Name'].str.split().str[0].value_counts()\n"
        "best = makes[makes == makes.max()].sort_index().index[0]",
        [
            text("make", "best", "the make, lower case as in the table"),
            integer("n_cars", "makes[best]", "its number of cars"),
        ],
        "medium",
        ["group-by", "ranking"],
    )
    yield spec(
        "weight-quartiles",
        "cars",
        "What are the first and third quartiles of car weight?",
        "Use linear interpolation between data points (pandas' default quantile).",
        "q1, q3 = df['Weight_in_lbs'].quantile([0.25, 0.75])",
        [num("q1", "q1", "the 25th percentile in lbs"), num("q3", "q3", "the 75th percentile")],
        "easy",
        ["aggregation"],
    )
