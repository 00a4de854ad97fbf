"""Real data and fitted models, built once per session to keep the suite fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


@pytest.fixture(scope="session")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def cancer_logreg(cancer: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    X, y = cancer
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)


@pytest.fixture(scope="session")
def cancer_gb(cancer: tuple[pd.DataFrame, pd.Series]) -> GradientBoostingClassifier:
    X, y = cancer
    return GradientBoostingClassifier(n_estimators=40, max_depth=2, random_state=0).fit(X, y)


@pytest.fixture(scope="session")
def diabetes_ridge(diabetes: tuple[pd.DataFrame, pd.Series]) -> Ridge:
    X, y = diabetes
    return Ridge(alpha=0.5).fit(X, y)


@pytest.fixture(scope="session")
def mixed() -> tuple[pd.DataFrame, pd.Series]:
    """Diabetes features plus a pandas categorical, a repeated string, an id and a gap."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    frame = X[["age", "bmi", "bp"]].copy()
    frame["visits"] = rng.integers(0, 12, size=len(frame))
    frame["region"] = pd.Categorical(rng.choice(["north", "south", "east"], size=len(frame)))
    frame["plan"] = rng.choice(["basic", "plus"], size=len(frame))
    frame["patient"] = [f"p{i:04d}" for i in range(len(frame))]
    frame["smoker"] = rng.random(len(frame)) < 0.3
    frame["s5"] = X["s5"].mask(rng.random(len(frame)) < 0.1)  # nullable float
    return frame, (y > y.median()).astype(int)


@pytest.fixture(scope="session")
def mixed_pipeline(mixed: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    X, y = mixed
    encode = ColumnTransformer(
        [
            ("levels", OneHotEncoder(handle_unknown="ignore"), ["region", "plan"]),
            ("numbers", SimpleImputer(), ["age", "bmi", "bp", "visits", "s5"]),
            ("flags", "passthrough", ["smoker"]),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=2000))]).fit(X, y)
