"""The shared checks: the fast paths for plain floats and ints refuse what the slow ones do."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from loopml.errors import ValidationError
from loopml.validation import check_metric_value, check_step


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 0.5), (3, 3.0), (np.float64(2.5), 2.5), (np.float32(1.5), 1.5), (Fraction(1, 4), 0.25)],
)
def test_real_numbers_are_taken(value: Any, expected: float) -> None:
    assert check_metric_value("m", value) == expected


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), np.float64("nan"), True, "1.0", None]
)
def test_non_finite_booleans_and_text_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError, match="metric 'm'"):
        check_metric_value("m", value)
    with pytest.raises(ValidationError):
        check_metric_value("m", Decimal("nan"))


@pytest.mark.parametrize("step", [-1, True, 1.0, "2", None])
def test_steps_are_non_negative_integers(step: Any) -> None:
    with pytest.raises(ValidationError, match="step of metric 'm'"):
        check_step("m", step)
    assert check_step("m", 0) == 0 and check_step("m", 7) == 7
