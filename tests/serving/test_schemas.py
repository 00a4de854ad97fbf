"""The OpenAPI document is the truth: per-deployment schemas, and schemathesis agrees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import Cancer, deploy, register_shops, route, serve, shops_frame
from tests.serving.live import live_server

pytestmark = pytest.mark.anyio


async def test_each_served_deployment_has_its_exact_request_schema(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    shops = register_shops(client)
    deploy(client, "shops", [route(shops)])
    async with serve(create_app(client, ["cancer", "shops"])) as http:
        document: dict[str, Any] = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    body = paths["/v1/deployments/shops/predict"]["post"]["requestBody"]
    record = body["content"]["application/json"]["schema"]["properties"]["records"]["items"]
    assert record["required"] == ["temp", "season", "visits"]
    assert record["additionalProperties"] is False
    assert record["properties"]["season"]["enum"] == ["autumn", "spring", "summer", "winter"]
    assert record["properties"]["visits"]["type"] == "integer"
    cancer_record = paths["/v1/deployments/cancer/predict"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["records"]["items"]
    assert len(cancer_record["required"]) == cancer.frame.shape[1]
    labels = paths["/v1/deployments/cancer/feedback"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["oneOf"][0]["properties"]["label"]
    assert labels == {"enum": [0, 1]}
    generic = paths["/v1/deployments/{name}/predict"]["post"]
    assert {"400", "401", "403", "404", "413", "415", "422", "503"} <= set(generic["responses"])
    assert generic["security"] == [{"deploymentToken": []}]
    assert "/invocations" not in paths  # two deployments: no single body to describe
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def register_open_shops(client: Client) -> ModelVersion:
    """A shops model that scores any season (unseen ones encode as all zeros), served by a
    deployment that flags unseen categories and drops extra columns."""
    frame = shops_frame()
    x = frame[["temp", "season", "visits"]]
    encode = ColumnTransformer(
        [("season", OneHotEncoder(handle_unknown="ignore"), ["season"])], remainder="passthrough"
    )
    model = make_pipeline(encode, LogisticRegression()).fit(x, (frame["temp"] > 20).astype(int))
    with client.start_run("shops", capture_code=False) as run:
        version = run.log_model(model, name="open-shops", training_data=x)
    assert isinstance(version, ModelVersion)
    client.deployments.create(
        "shops", version.uri, unknown_categories="flag", extra_columns="ignore"
    )
    return version


@pytest.mark.slow
def test_schemathesis_finds_nothing_against_a_real_server(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion, tmp_path: Path
) -> None:
    """Every default check (status codes, schemas, content types, positive data accepted,
    negative data refused, auth not ignored) against `loopml serve`'s own settings, on a
    strict deployment and on one that flags unseen categories and drops extra columns."""
    deploy(client, "cancer", [route(cancer_v1)])
    register_open_shops(client)
    token = client.deployments.tokens.create("cancer", ["predict", "feedback"]).token
    shops_token = client.deployments.tokens.create("shops", ["predict", "feedback"]).token
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        reason = "schemathesis is not installed (pip install 'loopml[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    shops = "^/v1/deployments/shops/"
    with live_server(create_app(client, ["cancer", "shops"], auth="tokens")) as url:
        runs = [
            _schemathesis(cli, url, token, ["--exclude-path-regex", shops], tmp_path),
            _schemathesis(cli, url, shops_token, ["--include-path-regex", shops], tmp_path),
        ]
    (tmp_path / "schemathesis.txt").write_text("\n".join(r.stdout + r.stderr for r in runs))
    for result in runs:
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def _schemathesis(
    cli: Path, url: str, token: str, only: list[str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """One schemathesis run over the operations `only` selects, with a deployment token."""
    return subprocess.run(
        [
            str(cli),
            "run",
            f"{url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            *only,
            "--max-examples",
            "30",
            "--seed",
            "7",
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
