"""Code fingerprints follow project code and constants, not installed libraries."""

from __future__ import annotations

import types

import pandas as pd

from loopml.pipelines import code_fingerprint, step
from loopml.pipelines.fingerprint import is_project_module
from tests.pipelines import sample_pipelines as sp

LIMIT = 3


def _helper(x: int) -> int:
    return x + LIMIT


@step
def uses_helper(x: int) -> int:
    return _helper(x)


def test_the_fingerprint_is_stable_and_covers_called_project_code() -> None:
    assert code_fingerprint(uses_helper) == code_fingerprint(uses_helper)
    assert code_fingerprint(uses_helper) != code_fingerprint(sp.first)


def test_a_changed_helper_or_constant_changes_the_fingerprint() -> None:
    global LIMIT
    before = code_fingerprint(uses_helper)
    LIMIT = 4
    try:
        assert code_fingerprint(uses_helper) != before
    finally:
        LIMIT = 3
    assert code_fingerprint(uses_helper) == before


def test_helpers_reached_through_a_module_attribute_count(monkeypatch: object) -> None:
    before = code_fingerprint(sp.featurize)  # featurize calls _double, which reads SCALE
    sp.SCALE = 3.0
    try:
        assert code_fingerprint(sp.featurize) != before
    finally:
        sp.SCALE = 2.0


def test_libraries_and_loopml_are_not_project_code() -> None:
    assert is_project_module(sp)
    assert not is_project_module(pd)
    assert not is_project_module(types)
    assert not is_project_module("loopml.pipelines.steps")
    assert not is_project_module("no.such.module")
