"""The `runs` namespace over `loopml server`: the remote client's tracking methods."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.tracking import MetricPoint, RunList, RunRecord

if TYPE_CHECKING:
    from loopml.sdk.remote.client import RemoteClient
    from loopml.sdk.remote.run import RemoteRun


class RemoteRuns:
    """`Runs` (loopml.sdk.api.runs) in remote mode."""

    def __init__(self, client: RemoteClient) -> None:
        self._client = client

    def start_run(
        self,
        experiment: str = "default",
        name: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        inputs: Iterable[Any] | None = None,
        nested: bool = False,
        parent: Any = None,
        capture_code: bool = True,
    ) -> RemoteRun:
        return self._client.start_run(
            experiment,
            name,
            params=params,
            tags=tags,
            inputs=inputs,
            nested=nested,
            parent=parent,
            capture_code=capture_code,
        )

    def active_run(self) -> RemoteRun | None:
        return self._client.active_run()

    def get_run(self, run_id: str) -> RunRecord:
        return self._client.get_run(run_id)

    def search_runs(
        self,
        experiment: str | Iterable[str] | None = None,
        filter: str | None = None,
        order_by: Iterable[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunList:
        return self._client.search_runs(experiment, filter, order_by, max_results, page_token)

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> Sequence[MetricPoint]:
        return self._client.metric_history(run_id, key, max_points)

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return self._client.list_artifacts(run_id)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self._client.read_artifact(run_id, path)

    def list_experiments(self) -> list[dict[str, Any]]:
        return self._client.list_experiments()
