"""search_runs: the filter language, ordering and pagination."""

from __future__ import annotations

import pytest

from loopml import ValidationError
from loopml.sdk import Client


@pytest.fixture
def populated(any_client: Client) -> Client:
    for i, (model, rmse) in enumerate([("gbm", 2.0), ("gbm", 4.0), ("ridge", 1.5), ("rf", 3.5)]):
        with any_client.start_run(
            "bikes",
            f"{model}-{i}",
            params={"model": model, "depth": i},
            tags={"team": "a" if i % 2 else "b"},
            capture_code=False,
        ) as run:
            run.log_metric("rmse", rmse)
            if model != "rf":
                run.log_metric("r2", 1 - rmse / 10)
    with any_client.start_run("other", "elsewhere", capture_code=False) as run:
        run.log_metric("rmse", 0.1)
    return any_client


def names(client: Client, **kwargs: object) -> list[str]:
    return [r.name for r in client.search_runs(**kwargs)]  # type: ignore[arg-type]


def test_issue_example_filter(populated: Client) -> None:
    found = names(populated, experiment="bikes", filter="metrics.rmse < 3 and params.model = 'gbm'")
    assert found == ["gbm-0"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("metrics.rmse <= 2", {"gbm-0", "ridge-2"}),
        ("metrics.rmse > 3.5", {"gbm-1"}),
        ("metrics.r2 >= 0", {"gbm-0", "gbm-1", "ridge-2"}),  # rf has no r2: not matched
        ("params.model != 'gbm'", {"ridge-2", "rf-3"}),
        ("params.model IN ('rf', 'ridge')", {"ridge-2", "rf-3"}),
        ("params.model NOT IN ('rf', 'ridge')", {"gbm-0", "gbm-1"}),
        ("params.depth = 3", {"rf-3"}),
        ("tags.team = 'a' or metrics.rmse < 1.6", {"gbm-1", "ridge-2", "rf-3"}),
        ("(tags.team = 'a' or params.model = 'ridge') and metrics.rmse < 4", {"ridge-2", "rf-3"}),
        ("name LIKE 'gbm-%'", {"gbm-0", "gbm-1"}),
        ("attributes.status = 'FINISHED' AND params.`model` = 'rf'", {"rf-3"}),
        ("", {"gbm-0", "gbm-1", "ridge-2", "rf-3"}),
    ],
)
def test_filters(populated: Client, flt: str, expected: set[str]) -> None:
    assert set(names(populated, experiment="bikes", filter=flt)) == expected


def test_order_by_metric_and_param(populated: Client) -> None:
    assert names(populated, experiment="bikes", order_by="metrics.rmse") == [
        "ridge-2",
        "gbm-0",
        "rf-3",
        "gbm-1",
    ]
    assert names(populated, experiment="bikes", order_by=["metrics.r2 DESC"])[:3] == [
        "ridge-2",
        "gbm-0",
        "gbm-1",
    ]  # runs without the metric come last
    assert names(populated, experiment="bikes", order_by="params.model ASC")[-1] == "ridge-2"


def test_all_experiments_and_several(populated: Client) -> None:
    assert len(populated.search_runs()) == 5
    assert len(populated.search_runs(["bikes", "other"])) == 5


def test_pagination_visits_every_run_once(populated: Client) -> None:
    seen, token, pages = [], None, 0
    while True:
        page = populated.search_runs(
            "bikes", order_by="metrics.rmse", max_results=3, page_token=token
        )
        seen += [r.name for r in page]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 2
    assert seen == ["ridge-2", "gbm-0", "rf-3", "gbm-1"]


def test_to_pandas(populated: Client) -> None:
    frame = populated.search_runs("bikes", order_by="metrics.rmse").to_pandas()
    assert list(frame["name"]) == ["ridge-2", "gbm-0", "rf-3", "gbm-1"]
    assert frame.loc[0, "metrics.rmse"] == 1.5
    assert frame.loc[0, "params.model"] == "ridge"


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("metrics.rmse <", "ends too early"),
        ("metrics.rmse < 'abc'", "number"),
        ("params.model > 'a'", "as text"),
        ("foo.bar = 1", "unknown key"),
        ("color = 'red'", "unknown attribute"),
        ("metrics.rmse < 3 and", "ends too early"),
        ("metrics.rmse < 3 extra", "unexpected"),
        ("(metrics.rmse < 3", "missing"),
        ("metrics.rmse ~ 3", "cannot read"),
        ("params.model IN 'a'", "parentheses"),
    ],
)
def test_malformed_filters_say_what_is_wrong(populated: Client, flt: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        populated.search_runs("bikes", filter=flt)


def test_bad_paging_arguments(populated: Client) -> None:
    with pytest.raises(ValidationError, match="page_token"):
        populated.search_runs("bikes", page_token="garbage")
    with pytest.raises(ValidationError, match="max_results"):
        populated.search_runs("bikes", max_results=0)
