"""Sample data shipped with loopml, so demos and tests run offline."""

from loopml.samples.bikeshare import (
    FEATURES,
    MONTHS,
    TARGET,
    bikeshare_features,
    load_bikeshare,
    month_number,
    split_by_months,
)

__all__ = [
    "FEATURES",
    "MONTHS",
    "TARGET",
    "bikeshare_features",
    "load_bikeshare",
    "month_number",
    "split_by_months",
]
