"""Drift: a current window against reference data, column by column, one test per column."""

from loopml.monitoring.drift.check import DriftOptions, check_drift
from loopml.monitoring.drift.stat_tests import TESTS, DriftTest, get_test

__all__ = ["TESTS", "DriftOptions", "DriftTest", "check_drift", "get_test"]
