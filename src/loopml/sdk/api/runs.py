"""The `runs` namespace: tracking (runs, their metrics and artifacts, experiments).

The same methods sit on the client itself (`client.start_run`, …), where the fluent
functions find them; the namespace groups them with the others."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from loopml.tracking import MetricPoint, RunList, RunRecord

if TYPE_CHECKING:
    from loopml.sdk.client import Client
    from loopml.sdk.remote.run import RemoteRun
    from loopml.tracking import Run


class Runs(Protocol):
    """Runs and experiments, the same in local and remote mode."""

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
    ) -> Run | RemoteRun:
        """Start a run; use it as a context manager so it always ends with a status."""
        ...

    def active_run(self) -> Run | RemoteRun | None:
        """The innermost run started by this thread and not yet ended."""
        ...

    def get_run(self, run_id: str) -> RunRecord:
        """One run by id (any unambiguous start of it)."""
        ...

    def search_runs(
        self,
        experiment: str | Iterable[str] | None = None,
        filter: str | None = None,
        order_by: Iterable[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunList:
        """Runs matching a filter such as "metrics.rmse < 3 and params.model = 'gbm'"."""
        ...

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> Sequence[MetricPoint]:
        """Every point of `key` (or `max_points` spread evenly)."""
        ...

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        """The run's artifacts: path, digest, size, media type."""
        ...

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """An artifact's bytes, checked against its digest."""
        ...

    def list_experiments(self) -> list[dict[str, Any]]:
        """Experiments with their run counts."""
        ...


class LocalRuns:
    """`Runs` over a local client's tracking methods."""

    def __init__(self, client: Client) -> None:
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
    ) -> Run:
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

    def active_run(self) -> Run | None:
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
