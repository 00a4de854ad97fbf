"""Attacks on the body reader: non-finite numbers, ambiguous layouts, other content types."""

from __future__ import annotations

import orjson
import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from loopml.serving.errors import ServingError
from loopml.serving.parsing import decode_json, parse_payload
from tests.serving.conftest import Cancer, deploy, route, serve

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
def test_non_finite_numbers_are_refused_with_422(literal: bytes) -> None:
    with pytest.raises(ServingError) as caught:
        decode_json(b'{"records": [{"x": ' + literal + b"}]}")
    assert caught.value.status == 422
    assert "non-finite" in caught.value.errors[0].problem
    assert "null" in caught.value.errors[0].hint


def test_text_that_merely_mentions_nan_is_still_a_400() -> None:
    with pytest.raises(ServingError) as caught:
        decode_json(b'{"records": [{"x": "NaN"}], oops}')
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "body",
    [
        {"records": [{"a": 1}], "columns": ["a"], "data": [[1]]},
        {"records": [{"a": 1}], "columns": ["a"]},
        {"records": [{"a": 1}], "instances": [{"a": 1}]},
        {"dataframe_split": {"columns": ["a"], "data": [[1]]}, "inputs": {"a": [1]}},
    ],
)
def test_a_body_with_two_layouts_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ServingError) as caught:
        parse_payload(orjson.dumps(body))
    assert caught.value.status == 422
    assert "ambiguous" in caught.value.errors[0].problem


def test_columns_without_data_is_refused() -> None:
    with pytest.raises(ServingError) as caught:
        parse_payload(b'{"columns": ["a"]}')
    assert caught.value.status == 422 and caught.value.errors[0].field == "data"


async def test_the_app_refuses_non_finite_ambiguous_and_non_json_bodies(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    record = cancer.records(1)[0]
    url = "/v1/deployments/cancer/predict"
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        body = orjson.dumps([{k: v for k, v in record.items() if k != "mean area"}])[:-2]
        r = await http.post(url, content=body + b', "mean area": Infinity}]')
        assert r.status_code == 422 and "non-finite" in r.text
        both = {"records": [record], "columns": list(record), "data": [list(record.values())]}
        r = await http.post(url, json=both)
        assert r.status_code == 422 and "ambiguous" in r.text
        for media in ("text/plain", "application/x-www-form-urlencoded", "text/csv"):
            r = await http.post(
                url, content=orjson.dumps([record]), headers={"content-type": media}
            )
            assert r.status_code == 415, (media, r.text)
            assert "application/json" in r.json()["detail"][0]["hint"]
        r = await http.post(
            "/v1/deployments/cancer/feedback",
            content=b'{"request_id": "x", "label": 1}',
            headers={"content-type": "text/plain"},
        )
        assert r.status_code == 415
        for media in ("application/json", "application/json; charset=utf-8", "application/x+json"):
            r = await http.post(
                url, content=orjson.dumps([record]), headers={"content-type": media}
            )
            assert r.status_code == 200, (media, r.text)
        r = await http.post(url, content=orjson.dumps([record]))  # no Content-Type at all
        assert r.status_code == 200
