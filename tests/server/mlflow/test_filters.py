"""MLflow's run filter and order_by grammar, rewritten into loopml's search language."""

from __future__ import annotations

import pytest

from loopml.errors import ValidationError
from loopml.server.mlflow.filters import translate_filter, translate_order_by
from loopml.tracking.search import compile_filter


@pytest.mark.parametrize(
    ("mlflow", "loopml"),
    [
        ("metrics.m0 > 0.5 and params.p0 = 'x'", "metrics.`m0` > 0.5 AND params.`p0` = 'x'"),
        ('tags."mlflow.runName" = "a b"', 'tags.`mlflow.runName` = "a b"'),
        ("tags.mlflow.parentRunId = 'run-1'", "tags.`mlflow.parentRunId` = 'run-1'"),
        ("metrics.`val loss` <= 2", "metrics.`val loss` <= 2"),
        ("attributes.run_name LIKE 'gbm-%'", "name LIKE 'gbm-%'"),
        ("run_name ILIKE 'GBM%'", "name ILIKE 'GBM%'"),
        ("attributes.status != 'FAILED'", "status != 'FAILED'"),
        ("attributes.start_time > 1700000000000", "start_time > 1700000000.0"),
        ("attribute.run_id IN ('a', 'b')", "run_id IN ( 'a' , 'b' )"),
        ("param.lr <> '0.1'", "params.`lr` != '0.1'"),
        ("", None),
        (None, None),
    ],
)
def test_mlflow_filters_become_loopml_filters(mlflow: str | None, loopml: str | None) -> None:
    translated = translate_filter(mlflow)
    assert translated == loopml
    if translated is not None:
        assert compile_filter(translated) is not None  # loopml's parser accepts it


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("datasets.name = 'x'", "datasets. is not supported"),
        ("attributes.lifecycle_stage = 'active'", "not searchable"),
        ("tags.x IS NULL", "IS NULL"),
        ("metrics.m0 > 1 ;", "cannot read the filter"),
    ],
)
def test_what_loopml_cannot_search_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        translate_filter(text)


def test_order_by_keys_and_directions() -> None:
    assert translate_order_by(
        ["metrics.m0 DESC", "attributes.start_time", "run_name asc", "params.`a b` DESC"]
    ) == ["metrics.`m0` DESC", "start_time", "name ASC", "params.`a b` DESC"]
    assert translate_order_by(None) == []
    with pytest.raises(ValidationError, match="order_by entries"):
        translate_order_by([""])
