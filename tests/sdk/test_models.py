"""`log_model` grounds the signature in the training data and the model, not in 5 rows.

Bike-share hours (April to December) with a humidity sensor outage: a block of 718 hours
without `hum`, as the logger left it. `weathersit` is a real string column; its rarest level,
"heavy rain/snow", occurs only in January, so a model trained on April to December never saw
it, and its one-hot encoder would silently ignore it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.registry.packaging import Signature, infer_signature
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client

FEATURES = ["hr", "temp", "hum", "windspeed", "weathersit"]
OUTAGE = slice(2000, 2717)  # .loc includes both ends: 718 hours without humidity


@pytest.fixture(scope="module")
def bikes() -> tuple[pd.DataFrame, pd.Series]:
    data = split_by_months(load_bikeshare(), [4, 5, 6, 7, 8, 9, 10, 11, 12])
    frame = data[FEATURES].reset_index(drop=True)
    frame["weathersit"] = frame["weathersit"].astype(object)
    frame.loc[OUTAGE, "hum"] = np.nan
    return frame, data["bikers"].reset_index(drop=True)


@pytest.fixture(scope="module")
def bikes_model(bikes: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    X, y = bikes
    encode = ColumnTransformer(
        [("weather", OneHotEncoder(handle_unknown="ignore"), ["weathersit"])],
        remainder="passthrough",
    )
    return make_pipeline(encode, HistGradientBoostingRegressor(max_iter=50, random_state=0)).fit(
        X, y
    )


def _signature(client: Client, ref: str) -> Signature:
    signature = client.models.load(ref).signature
    assert signature is not None
    return signature


def _request(X: pd.DataFrame, **values: object) -> pd.DataFrame:
    row = X.iloc[[0]].copy()
    for name, value in values.items():
        row[name] = pd.Series([value], index=row.index, dtype=object if value is None else None)
    return row


def test_a_column_empty_in_training_data_the_run_read_is_not_refused(
    client: Client, bikes: tuple[pd.DataFrame, pd.Series], bikes_model: Pipeline
) -> None:
    X, y = bikes
    assert X.head(5)["hum"].notna().all()  # the example alone says: never empty
    client.log_dataset("bikes-train", X.assign(bikers=y))
    with client.start_run("bikes") as run:
        client.load_dataset("bikes-train")  # the run's input, role `read`
        run.log_model(bikes_model, name="bikes", input_example=X.head(5))
    signature = _signature(client, "bikes/1")
    hum = next(spec for spec in signature.inputs if spec.name == "hum")
    assert (hum.nullable, hum.training_nulls, hum.model_takes_missing) == (True, 718, True)
    assert hum.minimum == pytest.approx(X["hum"].min()) and hum.maximum == X["hum"].max()
    assert signature.validate(_request(X, hum=None)) == []
    weather = next(spec for spec in signature.inputs if spec.name == "weathersit")
    assert weather.categories == ["clear", "cloudy/misty", "light rain/snow"]
    # Levels from the whole training data: a level missing from the 5 rows is fine...
    assert signature.validate(_request(X, weathersit="light rain/snow")) == []
    # ...and one the model never saw is refused, not silently one-hot-encoded to zeros.
    [problem] = signature.validate(_request(X, weathersit="heavy rain/snow"))
    assert "unknown category 'heavy rain/snow'" in problem.problem


def test_training_data_passed_as_a_frame(
    client: Client, bikes: tuple[pd.DataFrame, pd.Series], bikes_model: Pipeline
) -> None:
    X, _ = bikes
    with client.start_run("bikes") as run:
        run.log_model(bikes_model, name="bikes", input_example=X.head(5), training_data=X)
    signature = _signature(client, "bikes/1")
    assert signature.validate(_request(X, hum=None)) == []
    assert signature.validate(_request(X, weathersit="heavy rain/snow")) != []


def test_without_training_data_the_model_is_still_asked_about_missing_values(
    client: Client, bikes: tuple[pd.DataFrame, pd.Series], bikes_model: Pipeline
) -> None:
    X, _ = bikes
    with client.start_run("bikes") as run:
        run.log_model(bikes_model, name="bikes", input_example=X.head(5))
    signature = _signature(client, "bikes/1")
    # HistGradientBoosting takes a missing value in any numeric column.
    assert signature.validate(_request(X, hum=None, temp=None)) == []


def test_a_model_that_cannot_take_missing_values_says_so(client: Client) -> None:
    """Diabetes: BMI was not measured for some patients, more often for the older ones; the
    pipeline imputes BMI and nothing else, so a missing blood pressure breaks it."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(7)
    X = X.copy()
    X.loc[rng.random(len(X)) < 0.05 + 0.25 * (X["age"] > X["age"].quantile(0.7)), "bmi"] = np.nan
    impute_bmi = ColumnTransformer(
        [("bmi", SimpleImputer(strategy="median"), ["bmi"])], remainder="passthrough"
    )
    model = make_pipeline(impute_bmi, Ridge(alpha=0.5)).fit(X, y)
    with client.start_run("diabetes") as run:
        run.log_model(model, name="diabetes", input_example=X.head(5), training_data=X)
    signature = _signature(client, "diabetes/1")
    by_name = {spec.name: spec for spec in signature.inputs}
    assert by_name["bmi"].nullable and by_name["bmi"].training_nulls == int(X["bmi"].isna().sum())
    assert by_name["bp"].model_takes_missing is False and not by_name["bp"].nullable
    assert signature.validate(X.iloc[[3]].assign(bmi=np.nan)) == []
    [problem] = signature.validate(X.iloc[[3]].assign(bp=np.nan))
    assert "the model fails on a missing 'bp'" in problem.hint


def test_a_signature_given_explicitly_is_kept(
    client: Client, bikes: tuple[pd.DataFrame, pd.Series], bikes_model: Pipeline
) -> None:
    X, _ = bikes
    given = infer_signature(X.head(5))
    with client.start_run("bikes") as run:
        run.log_model(bikes_model, name="bikes", input_example=X.head(5), signature=given)
    assert _signature(client, "bikes/1") == given
