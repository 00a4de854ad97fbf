"""An on-demand transform the tests register by import path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def rides_per_hour(columns: Mapping[str, Any]) -> dict[str, Any]:
    hours = np.maximum(np.asarray(columns["hours_open"], dtype=float), 1.0)
    return {"rides_per_hour": np.asarray(columns["rides"], dtype=float) / hours}
