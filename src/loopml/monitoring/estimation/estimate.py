"""An estimated metric: a value and the band it is expected to fall in."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from loopml.errors import ValidationError


@dataclass(frozen=True)
class Estimate:
    """A metric estimated without labels; the realized value should fall in [lower, upper]
    at the band's level when the reference still describes the window."""

    value: float | None
    lower: float | None
    upper: float | None

    def covers(self, realized: float) -> bool:
        """Whether `realized` falls inside the band."""
        if self.lower is None or self.upper is None:
            return False
        return self.lower <= realized <= self.upper

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_level(level: float) -> float:
    """A band level such as 0.95."""
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ValidationError(f"band level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    return float(level)


def band(value: float | None, draws: np.ndarray[Any, Any], level: float) -> Estimate:
    """`value` with the central `level` share of simulated realizations as its band."""
    kept = draws[np.isfinite(draws)]
    if value is None or not math.isfinite(value) or not len(kept):
        return Estimate(value if value is not None and math.isfinite(value) else None, None, None)
    tail = (1 - check_level(level)) / 2 * 100
    low, high = np.percentile(kept, [tail, 100 - tail])
    return Estimate(float(value), float(min(low, value)), float(max(high, value)))


def normal_band(value: float, se: float, level: float, *, floor: float = 0.0) -> Estimate:
    """`value ± z·se`, cut at `floor` (an error cannot be negative)."""
    z = _z(check_level(level))
    return Estimate(float(value), max(floor, float(value - z * se)), float(value + z * se))


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)
