"""A running MLflow server read through its REST API (httpx), page by page.

Artifacts are listed with `artifacts/list` and streamed to a scratch file one at a time;
model versions are copied when their files are inside their run's artifacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from loopml.errors import ValidationError
from loopml.imports.mlflow.locations import run_relative
from loopml.imports.mlflow.records import (
    ArtifactsMissing,
    SourceArtifact,
    SourceExperiment,
    SourceMetric,
    SourceModel,
    SourceRun,
    SourceVersion,
)

PAGE = 1000
METRIC_PAGE = 25_000
API = "/api/2.0/mlflow"


class RestSource:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        self.label = url
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout)
        try:
            answer = self.http.get(f"{API}/experiments/search", params={"max_results": 1})
        except httpx.HTTPError as exc:
            self.http.close()
            raise ValidationError(
                f"cannot reach an MLflow server at {url} ({exc.__class__.__name__}: {exc}); "
                "check that `mlflow server` runs there and the URL has its port"
            ) from None
        if answer.status_code != 200 or "experiments" not in answer.json():
            self.http.close()
            raise ValidationError(
                f"{url} did not answer as an MLflow server (HTTP {answer.status_code} on "
                f"{API}/experiments/search); pass the URL MLFLOW_TRACKING_URI names"
            )

    def _get(self, route: str, **params: Any) -> dict[str, Any]:
        answer = self.http.get(API + route, params={k: v for k, v in params.items() if v})
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(API + route, json=body)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def experiments(self) -> Iterator[SourceExperiment]:
        token = None
        while True:
            page = self._post("/experiments/search", {"max_results": PAGE, "page_token": token})
            for e in page.get("experiments", []):
                tags = {t["key"]: t.get("value", "") for t in e.get("tags", [])}
                yield SourceExperiment(str(e["experiment_id"]), e["name"], tags)
            token = page.get("next_page_token")
            if not token:
                return

    def count_runs(self) -> int | None:
        return None

    def runs(self, experiment_id: str) -> Iterator[SourceRun]:
        token = None
        while True:
            body = {
                "experiment_ids": [experiment_id],
                "max_results": PAGE,
                "order_by": ["attributes.start_time ASC"],
                "run_view_type": "ALL",
                "page_token": token,
            }
            page = self._post("/runs/search", body)
            for found in page.get("runs", []):
                yield _run(found)
            token = page.get("next_page_token")
            if not token:
                return

    def metric_history(self, run: SourceRun, key: str) -> Iterator[list[SourceMetric]]:
        token = None
        while True:
            page = self._get(
                "/metrics/get-history",
                run_id=run.id,
                metric_key=key,
                max_results=METRIC_PAGE,
                page_token=token,
            )
            yield [
                SourceMetric(float(m["value"]), int(m.get("step", 0)), int(m["timestamp"]))
                for m in page.get("metrics", [])
            ]
            token = page.get("next_page_token")
            if not token:
                return

    def artifacts(self, run: SourceRun) -> Iterator[SourceArtifact]:
        folders = [""]
        while folders:
            folder = folders.pop()
            listed = self._get("/artifacts/list", run_id=run.id, path=folder)
            for item in listed.get("files", []):
                if item.get("is_dir"):
                    folders.append(item["path"])
                else:
                    yield SourceArtifact(item["path"])

    def download(self, run: SourceRun, artifact: SourceArtifact, target: Path) -> Path:
        params = {"run_uuid": run.id, "path": artifact.path}
        with self.http.stream("GET", "/get-artifact", params=params) as answer:
            if answer.status_code != 200:
                raise ArtifactsMissing(
                    f"{artifact.path}: the server answered HTTP {answer.status_code}"
                )
            with target.open("wb") as out:
                for chunk in answer.iter_bytes(1 << 20):
                    out.write(chunk)
        return target

    def models(self) -> Iterator[SourceModel]:
        token = None
        while True:
            page = self._get("/registered-models/search", max_results=PAGE, page_token=token)
            for m in page.get("registered_models", []):
                aliases = {a["alias"]: int(a["version"]) for a in m.get("aliases", [])}
                yield SourceModel(m["name"], m.get("description", ""), aliases)
            token = page.get("next_page_token")
            if not token:
                return

    def versions(self, model: str) -> Iterator[SourceVersion]:
        token = None
        escaped = model.replace("'", "\\'")
        found: list[SourceVersion] = []
        while True:
            page = self._get(
                "/model-versions/search",
                filter=f"name = '{escaped}'",
                max_results=PAGE,
                page_token=token,
            )
            for v in page.get("model_versions", []):
                found.append(
                    SourceVersion(
                        model,
                        int(v["version"]),
                        v.get("run_id") or None,
                        v.get("source", ""),
                        v.get("description", ""),
                    )
                )
            token = page.get("next_page_token")
            if not token:
                break
        yield from sorted(found, key=lambda v: v.version)

    def model_files(self, version: SourceVersion, run: SourceRun) -> tuple[str | None, Path | None]:
        return run_relative(version.source, run), None

    def close(self) -> None:
        self.http.close()


def _run(found: dict[str, Any]) -> SourceRun:
    info, data = found["info"], found.get("data", {})
    tags = {t["key"]: t.get("value", "") for t in data.get("tags", [])}
    return SourceRun(
        id=info["run_id"],
        experiment_id=str(info["experiment_id"]),
        name=info.get("run_name") or tags.get("mlflow.runName") or info["run_id"],
        status=info.get("status", "FINISHED"),
        start_time=info.get("start_time"),
        end_time=info.get("end_time"),
        deleted=info.get("lifecycle_stage") == "deleted",
        artifact_uri=info.get("artifact_uri", ""),
        params={p["key"]: p.get("value", "") for p in data.get("params", [])},
        tags=tags,
        metric_keys=tuple(sorted({m["key"] for m in data.get("metrics", [])})),
    )
