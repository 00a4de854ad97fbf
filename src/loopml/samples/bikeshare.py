"""The bundled UCI Bike Sharing data (Washington D.C., 2011, hourly), readable offline.

It gives the demo, the docs and the tests a real, seasonal regression problem: a model
trained on winter months meets warmer months later, which is the drift the loop reacts to.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

import pandas as pd

from loopml.errors import ValidationError

DATA_FILE = "bikeshare_2011_hourly.csv.gz"
TARGET = "bikers"
MONTHS = ("Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec")
WEATHER = ("clear", "cloudy/misty", "light rain/snow", "heavy rain/snow")
_INPUTS = ("hr", "weekday", "workingday", "holiday", "month", "temp", "atemp", "hum", "windspeed")
_WEATHER_COLUMNS = tuple("weather_" + w.replace("/", "_").replace(" ", "_") for w in WEATHER)
FEATURES = (*_INPUTS, *_WEATHER_COLUMNS)

_STRINGS = ("mnth", "weathersit")
_FLOATS = ("temp", "atemp", "hum", "windspeed")
_INTS = (
    "season",
    "day",
    "hr",
    "holiday",
    "weekday",
    "workingday",
    "casual",
    "registered",
    "bikers",
)
_DTYPES = {
    **dict.fromkeys(_STRINGS, "str"),
    **dict.fromkeys(_FLOATS, "float64"),
    **dict.fromkeys(_INTS, "int64"),
}


def load_bikeshare() -> pd.DataFrame:
    """All 8,645 hours of 2011, with a `timestamp` column (the file only has day and hour)."""
    source = resources.files("loopml.samples").joinpath(DATA_FILE)
    with resources.as_file(source) as path:
        frame = pd.read_csv(path, dtype=_DTYPES, compression="gzip")
    for column in _STRINGS:  # pandas 2 reads str as object; make both alike
        frame[column] = frame[column].astype(str)
    offset = pd.to_timedelta(frame["day"] - 1, unit="D") + pd.to_timedelta(frame["hr"], unit="h")
    frame["timestamp"] = (pd.Timestamp("2011-01-01") + offset).astype("datetime64[ns]")
    return frame


def month_number(month: int | str) -> int:
    """1-12 from a number or a month name of at least three letters ("Jan", "march")."""
    if isinstance(month, int) and not isinstance(month, bool) and 1 <= month <= 12:
        return month
    if isinstance(month, str) and len(month) >= 3:
        for number, label in enumerate(MONTHS, start=1):
            if label.lower().startswith(month.lower()[:3]):
                return number
    raise ValidationError(f"{month!r} is not a month; use 1-12 or a name such as 'Jan'")


def split_by_months(frame: pd.DataFrame, months: Iterable[int | str]) -> pd.DataFrame:
    """The rows of `frame` whose timestamp falls in `months` (e.g. `[1, 2, 3]`), reindexed."""
    wanted = {month_number(m) for m in months}
    if not wanted:
        raise ValidationError("split_by_months needs at least one month")
    mask = frame["timestamp"].dt.month.isin(sorted(wanted))
    rows: pd.DataFrame = frame.loc[mask]
    return rows.reset_index(drop=True)


def bikeshare_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric model inputs (`FEATURES`): the month as a number, weather one-hot.

    The one-hot columns are fixed, so a slice without rainy hours still yields every
    column and a model trained on one slice accepts any other.
    """
    features = frame[["hr", "weekday", "workingday", "holiday"]].astype("int64")
    features["month"] = frame["timestamp"].dt.month.astype("int64")
    for column in _FLOATS:
        features[column] = frame[column].astype("float64")
    for weather, column in zip(WEATHER, _WEATHER_COLUMNS, strict=True):
        features[column] = (frame["weathersit"] == weather).astype("int64")
    return features.reset_index(drop=True)
