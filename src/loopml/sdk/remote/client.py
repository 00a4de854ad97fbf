"""`RemoteClient`: the SDK in remote mode, over `loopml server`, with the local `Client`'s
namespaces (`datasets`, `runs`, `models`, `approvals`, `auth`, `audit`; see
`loopml.sdk.api`) and its tracking and dataset methods.

It holds no store credentials, only a URL and an API token; the server acts as the
token's principal. On start it replays the metric journals that clients of the same
server left behind in its journal folder (killed processes), so no acknowledged point is
lost and none is written twice.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from loopml.artifacts.hashing import hash_bytes
from loopml.data import DatasetDiff, DatasetVersion
from loopml.data.versions import TableLike
from loopml.errors import ValidationError
from loopml.governance import AuditEvent
from loopml.sdk.remote.approvals import RemoteApprovals
from loopml.sdk.remote.artifacts import artifact_link_route, artifact_route, download
from loopml.sdk.remote.audit import RemoteAudit
from loopml.sdk.remote.auth import RemoteAuth
from loopml.sdk.remote.datasets import RemoteDatasets
from loopml.sdk.remote.deployments import RemoteDeployments
from loopml.sdk.remote.direct import DirectTransfers
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.monitors import RemoteMonitors
from loopml.sdk.remote.pipelines import RemotePipelines
from loopml.sdk.remote.recovery import replay_orphans
from loopml.sdk.remote.registry import RemoteModels
from loopml.sdk.remote.rollouts import RemoteRollouts
from loopml.sdk.remote.run import RemoteRun
from loopml.sdk.remote.runs import RemoteRuns
from loopml.sdk.remote.shipper import Shipper
from loopml.sdk.remote.stream import MetricStream
from loopml.sdk.remote.triggers import RemoteTriggers
from loopml.store.ids import new_id
from loopml.store.paging import Page
from loopml.store.principal import Principal
from loopml.tracking.environment import capture_code, capture_packages, environment_record
from loopml.tracking.records import MetricPoint, RunList, RunRecord
from loopml.validation import check_key, check_name, check_text_value


def default_journal_dir() -> Path:
    """`$XDG_CACHE_HOME/loopml/remote-journal` (default `~/.cache/loopml/remote-journal`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "loopml" / "remote-journal"


@dataclass(frozen=True)
class RemoteOptions:
    """How a remote client buffers, retries and journals."""

    journal_dir: Path | None = None  # default: default_journal_dir()
    flush_interval_s: float = 1.0  # longest a logged point waits before it is shipped
    flush_points: int = 5000  # pending points that ship a batch at once
    timeout_s: float = 30.0  # one request
    retry_s: float = 120.0  # how long an unreachable server is retried before giving up
    direct_transfers: bool = True  # use presigned URLs when the server offers them
    direct_min_bytes: int = 8 * 1024 * 1024  # smaller files always go through the server

    def __post_init__(self) -> None:
        for name in ("flush_interval_s", "timeout_s", "retry_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValidationError(f"{name} must be a positive number, got {value!r}")
        if (
            isinstance(self.flush_points, bool)
            or not isinstance(self.flush_points, int)
            or self.flush_points < 1
        ):
            raise ValidationError(f"flush_points must be an integer ≥ 1, got {self.flush_points!r}")
        if (
            isinstance(self.direct_min_bytes, bool)
            or not isinstance(self.direct_min_bytes, int)
            or self.direct_min_bytes < 0
        ):
            raise ValidationError(
                f"direct_min_bytes must be an integer ≥ 0, got {self.direct_min_bytes!r}"
            )


class RemoteClient:
    """The SDK in remote mode (see the module docstring)."""

    def __init__(
        self,
        url: str,
        token: str,
        options: RemoteOptions | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError(f"server URL must start with http:// or https://, got {url!r}")
        if not isinstance(token, str) or not token.strip():
            raise ValidationError(
                "a remote client needs an API token: connect(url, token=...) or LOOPML_TOKEN"
            )
        self.options = options or RemoteOptions()
        self.url = url.rstrip("/")
        self.http = RemoteHttp(
            self.url,
            token.strip(),
            timeout_s=self.options.timeout_s,
            retry_s=self.options.retry_s,
            transport=transport,
        )
        self.journal_dir = Path(self.options.journal_dir or default_journal_dir())
        self.direct = (
            DirectTransfers(self.http, self.options.direct_min_bytes, self.options.timeout_s)
            if self.options.direct_transfers
            else None
        )
        self.deployments = RemoteDeployments(self.http)
        self.rollouts = RemoteRollouts(self.http)
        self.monitors = RemoteMonitors(self.http)
        self.triggers = RemoteTriggers(self.http)
        self.pipelines = RemotePipelines(self.http)
        self._local = threading.local()
        self._captures: dict[Path, dict[str, Any]] = {}
        self._pending_runs: weakref.WeakSet[RemoteRun] = weakref.WeakSet()
        self.shipper = Shipper()  # ships the metric streams of this client's open runs
        self.datasets = RemoteDatasets(self.http, self.direct)
        self.runs = RemoteRuns(self)
        self.models = RemoteModels(self.http)
        self.approvals = RemoteApprovals(self.http)
        self.auth = RemoteAuth(self.http)
        self.audit = RemoteAudit(self.http)
        try:
            self._principal = self.auth.whoami()
            self.recovered_runs = replay_orphans(self.http, self.journal_dir)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<RemoteClient {self.url} as {self._principal.name}>"

    # ------------------------------------------------------------------ identity
    @property
    def principal(self) -> Principal:
        """Who this client acts as: the token's principal, as the server resolved it."""
        return self._principal

    # ------------------------------------------------------------------ datasets
    def log_dataset(
        self,
        name: str,
        data: TableLike,
        *,
        time_column: str | None = None,
        parent: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        """Version a DataFrame, Arrow table or one Parquet/CSV file under `name`."""
        return self.datasets.log(
            name, data, time_column=time_column, parent=parent, description=description
        )

    def get_dataset(self, ref: str) -> DatasetVersion:
        """A dataset version by reference; inside an active run it becomes an input of the
        run (role `read`)."""
        return self._read(self.datasets.get(ref))

    def load_dataset(
        self, ref: str | DatasetVersion, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """A version as a DataFrame; inside an active run it becomes an input (role `read`)."""
        return self.datasets.load(self._read(self.datasets.get(ref)), columns)

    def _read(self, version: DatasetVersion) -> DatasetVersion:
        run = self.active_run()
        if run is not None and version.id not in run.input_ids:
            run.log_input(version, role="read")
        return version

    def list_datasets(
        self, name: str | None = None, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        """Dataset versions by name and number, a page at a time (`next_page_token`)."""
        return self.datasets.list(name, max_results=max_results, page_token=page_token)

    def diff_datasets(self, old: str | DatasetVersion, new: str | DatasetVersion) -> DatasetDiff:
        """What changed from `old` to `new`: rows, schema, per-column statistics."""
        return self.datasets.diff(old, new)

    # ------------------------------------------------------------------ audit
    def audit_events(
        self,
        obj: str | None = None,
        *,
        newest_first: bool = True,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        """One page of the audit trail, newest first, optionally about `obj`."""
        return self.audit.events(
            obj, newest_first=newest_first, max_results=max_results, page_token=page_token
        )

    # ------------------------------------------------------------------ runs
    def start_run(
        self,
        experiment: str = "default",
        name: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        inputs: Iterable[Any] | None = None,
        nested: bool = False,
        parent: RemoteRun | str | None = None,
        capture_code: bool = True,
    ) -> RemoteRun:
        """Start a run on the server; use it as a context manager so it always ends.

        With `capture_code` the run records this process's git commit, uncommitted diff,
        installed packages and platform, as a local run does."""
        active = self.active_run()
        if parent is None and active is not None:
            if not nested:
                raise ValidationError(
                    f"run {active.id} is still active; end it first, or pass nested=True "
                    "to start a child run"
                )
            parent = active
        if isinstance(parent, RemoteRun):
            parent.materialize()  # the server checks that a parent exists
        parent_id = parent.id if isinstance(parent, RemoteRun) else parent
        defer = self._can_defer(experiment, name, params or {}, tags or {}, parent)
        body = {
            "experiment": experiment,
            "name": name,
            "parent_id": parent_id,
            "params": dict(params or {}),
            "tags": dict(tags or {}),
            "code": self._capture() if capture_code else None,
        }
        create = None
        if defer:
            run_id, create = new_id("run"), body  # created by the run's first request
        else:
            run_id = str(self.http.call("POST", "/runs", json=body, idempotent=False)["id"])
        stream = MetricStream(
            self.http,
            run_id,
            self.journal_dir,
            shipper=self.shipper,
            flush_points=self.options.flush_points,
            flush_interval_s=self.options.flush_interval_s,
            create=create,
        )
        run = RemoteRun(
            self.http, run_id, experiment, stream, _dataset_ref, self._forget, self.direct
        )
        if create is not None:
            self._pending_runs.add(run)
        stack = self._stack()
        stack.append(run)
        run._owner_stack = stack  # type: ignore[attr-defined]
        try:
            for dataset in inputs or []:
                run.log_input(dataset)
        except BaseException as exc:
            run.end("FAILED", error=f"invalid start_run arguments: {exc}")
            raise
        return run

    def _can_defer(
        self,
        experiment: str,
        name: str | None,
        params: Mapping[str, Any],
        tags: Mapping[str, Any],
        parent: RemoteRun | str | None,
    ) -> bool:
        """Whether the run may be created by its first request instead of now: when the
        server would accept it, as far as this side can tell (the same checks; an editor
        or more; no parent, or a parent run of this client), so that a refusal still comes
        from `start_run`."""
        if isinstance(parent, str) or not self._principal.at_least("editor"):
            return False  # let the server say why it refuses (unknown parent, role)
        check_name("experiment", experiment)
        if name is not None:
            check_name("run", name)
        for kind, values in (("param", params), ("tag", tags)):
            for key, value in values.items():
                check_text_value(kind, check_key(kind, key), value)
        return True

    def materialize_runs(self) -> None:
        """Create on the server the runs this client started and has not sent yet, so that
        what reads them by id finds them."""
        for run in list(self._pending_runs):
            run.materialize()
            self._pending_runs.discard(run)

    def _capture(self) -> dict[str, Any]:
        """This process's code version and environment, its blobs stored on the server
        (once per working folder: the code a process runs does not change under it)."""
        cwd = Path.cwd()
        found = self._captures.get(cwd)
        if found is None:
            code = capture_code(cwd)
            packages = capture_packages()
            packages_digest = self._store_blob(packages)
            found = {
                "commit": code.commit,
                "dirty": code.dirty,
                "diff_digest": self._store_blob(code.diff) if code.diff else None,
                "packages_digest": packages_digest,
                "environment": environment_record(packages_digest, packages.count(b"\n")),
            }
            self._captures[cwd] = found
        return found

    def _store_blob(self, data: bytes) -> str:
        digest = hash_bytes(data)
        self.http.call("PUT", f"/blobs/{digest}", content=lambda: data)
        return digest

    def _stack(self) -> list[RemoteRun]:
        stack: list[RemoteRun] | None = getattr(self._local, "runs", None)
        if stack is None:
            stack = self._local.runs = []
        return stack

    def active_run(self) -> RemoteRun | None:
        """The innermost run started by this thread and not yet ended."""
        stack = self._stack()
        return stack[-1] if stack else None

    def _forget(self, run: RemoteRun) -> None:
        for stack in (self._stack(), getattr(run, "_owner_stack", [])):
            if run in stack:
                stack.remove(run)

    def get_run(self, run_id: str) -> RunRecord:
        self.materialize_runs()
        return RunRecord.from_dict(self.http.call("GET", f"/runs/{run_id}"))

    def search_runs(
        self,
        experiment: str | Iterable[str] | None = None,
        filter: str | None = None,
        order_by: Iterable[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> RunList:
        """Runs matching a filter such as "metrics.rmse < 3 and params.model = 'gbm'"."""
        self.materialize_runs()
        params: dict[str, Any] = {"max_results": max_results}
        if experiment is not None:
            params["experiment"] = [experiment] if isinstance(experiment, str) else list(experiment)
        if filter is not None:
            params["filter"] = filter
        if order_by is not None:
            params["order_by"] = [order_by] if isinstance(order_by, str) else list(order_by)
        if page_token is not None:
            params["page_token"] = page_token
        found = self.http.call("GET", "/runs", params=params)
        runs = [RunRecord.from_dict(item) for item in found["runs"]]
        return RunList(runs, found.get("next_page_token"))

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None
    ) -> list[MetricPoint]:
        self.materialize_runs()
        params: dict[str, Any] = {"key": key}
        if max_points is not None:
            params["max_points"] = max_points
        found = self.http.call("GET", f"/runs/{run_id}/metric-history", params=params)
        return [MetricPoint(int(s), float(v), float(t)) for s, v, t in found["points"]]

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        self.materialize_runs()
        return list(self.http.call("GET", f"/runs/{run_id}/artifacts")["artifacts"])

    def list_experiments(self) -> list[dict[str, Any]]:
        return list(self.http.call("GET", "/experiments")["experiments"])

    def create_experiment(self, name: str) -> str:
        """The id of experiment `name`, created unless it exists (runs create theirs too)."""
        return str(self.http.call("POST", "/experiments", json={"name": name})["id"])

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """An artifact's bytes (checked against its digest); large ones: `download_artifact`."""
        with tempfile.TemporaryDirectory(prefix="loopml-") as tmp:
            return self.download_artifact(run_id, path, Path(tmp) / "artifact").read_bytes()

    def download_artifact(self, run_id: str, path: str, destination: str | Path) -> Path:
        """Stream an artifact to `destination` (any size, checked against its digest)."""
        self.materialize_runs()
        return download(
            self.http,
            artifact_route(run_id, path),
            Path(destination),
            self.direct,
            artifact_link_route(run_id, path),
        )

    def download_dataset(self, ref: str | DatasetVersion, destination: str | Path) -> list[Path]:
        """Stream the files of a version into folder `destination` (each checked against
        its digest); returns their paths."""
        return self.datasets.download(ref, destination)

    def close(self) -> None:
        self.shipper.close()
        if self.direct is not None:
            self.direct.close()
        self.http.close()


def _dataset_ref(dataset: Any) -> str:
    """What the server resolves: a version's id, or the reference as typed."""
    found = getattr(dataset, "id", None)
    if isinstance(found, str):
        return found
    if isinstance(dataset, str):
        return dataset
    raise ValidationError(
        f"an input must be a DatasetVersion or a reference like 'bikes@3', got {dataset!r}"
    )
