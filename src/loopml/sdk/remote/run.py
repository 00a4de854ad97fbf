"""`RemoteRun`: the run handle of a remote client, with the methods of the local `Run`.

Params, tags, inputs and artifacts are sent as they are logged (each call returns once the
server has stored it). A run may be started without a request (`pending`): its first
request creates it on the server — its first shipment, the first params or tags, or its
end, so a short run costs one or two requests — and the metric stream's thread creates it
within `flush_interval_s` if nothing else did. Calls that refer to the run by id on other
routes (inputs, artifacts, models, reads) create it first.

Metric points go through the run's `MetricStream`: journaled locally before the call
returns, shipped in batches. As a context manager the run ends FINISHED, FAILED (with the
traceback) or KILLED (Ctrl-C); a run still open when the interpreter exits is ended by an
exit hook, and one whose process is killed is ended KILLED (created first if it was
pending), its journaled points shipped, when a client next starts on that journal folder.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from loopml.errors import ValidationError
from loopml.sdk.model_logging import log_model
from loopml.sdk.remote.artifacts import upload_file
from loopml.sdk.remote.direct import DirectTransfers
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.models import remote_sources
from loopml.sdk.remote.stream import MetricStream
from loopml.tracking.open_runs import exit_outcome, open_runs
from loopml.tracking.records import RunRecord
from loopml.tracking.run_artifacts import check_artifact_path
from loopml.validation import check_key, check_metric_value, check_step

DatasetResolver = Callable[[Any], str]


class RemoteRun:
    """An active run on a `loopml server` (see the module docstring)."""

    def __init__(
        self,
        http: RemoteHttp,
        run_id: str,
        experiment: str,
        stream: MetricStream,
        resolve_dataset: DatasetResolver,
        on_end: Callable[[RemoteRun], None] | None = None,
        direct: DirectTransfers | None = None,
    ) -> None:
        self.id = run_id
        self._direct = direct
        self.experiment = experiment
        self._http = http
        self._stream = stream
        self._resolve_dataset = resolve_dataset
        self._on_end = on_end
        self._steps: dict[str, int] = {}
        self.input_ids: set[str] = set()
        self.status = "RUNNING"
        open_runs.add(self)

    @property
    def uri(self) -> str:
        return "run:" + self.id.removeprefix("run-")

    def __repr__(self) -> str:
        return f"<RemoteRun {self.id} {self.experiment!r} {self.status} on {self._http.url}>"

    # ------------------------------------------------------------------ logging
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    @property
    def pending(self) -> bool:
        """True until the server has the run (see the module docstring)."""
        return self._stream.create is not None

    def materialize(self) -> None:
        """Create the run on the server now if it is pending (with the points logged so far)."""
        if self._stream.create is not None:
            self._stream.ship({})

    def log_params(self, values: Mapping[str, Any]) -> None:
        if self._stream.create is not None:  # one request: the creation and the params
            self._stream.ship({"params": dict(values)})
            return
        self._http.call("POST", f"/runs/{self.id}/params", json={"params": dict(values)})

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        if self._stream.create is not None:
            self._stream.ship({"tags": dict(values)})
            return
        self._http.call("POST", f"/runs/{self.id}/tags", json={"tags": dict(values)})

    def _step(self, key: str, step: int | None) -> int:
        at = self._steps.get(key, -1) + 1 if step is None else check_step(key, step)
        if at > self._steps.get(key, -1):
            self._steps[key] = at
        return at

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Record one point: journaled before this returns, shipped in a batch later."""
        self._check_open()
        check_key("metric", key)
        number = check_metric_value(key, value)
        at = self._step(key, step)
        self._stream.log(key, number, at, time.time() if timestamp is None else float(timestamp))

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Several metrics at one step; all are validated before any is recorded."""
        self._check_open()
        now = time.time()
        points = []
        for key, value in values.items():
            check_key("metric", key)
            number = check_metric_value(key, value)
            if step is not None:
                check_step(key, step)
            points.append((key, number, step))
        self._stream.log_many([(k, v, self._step(k, at), now) for k, v, at in points])

    def log_batch(
        self,
        metrics: list[tuple[str, float, int]] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Many points (key, value, step), params and tags; stored on the server when this
        returns (with every point logged before)."""
        self._check_open()
        now = time.time()
        points = []
        keys: set[str] = set()  # a batch repeats a few keys: each is checked once
        for item in metrics or []:
            if not isinstance(item, tuple | list) or len(item) != 3:
                raise ValidationError(f"each metric must be (key, value, step), got {item!r}")
            key, value, step = item
            if type(key) is not str or key not in keys:
                keys.add(check_key("metric", key))
            points.append((key, check_metric_value(key, value), check_step(key, step), now))
        if points:
            self._stream.log_many(points)
        extra = {"params": dict(params or {}), "tags": dict(tags or {})}
        self._stream.ship(extra if params or tags else None)
        for key, _, step, _ in points:
            self._step(key, step)

    def flush(self) -> None:
        """Ship every point logged so far now, and wait until the server has it."""
        self._stream.ship()

    def log_input(self, dataset: Any, role: str = "training") -> None:
        """Link a dataset version (object or reference such as `bikes@3`) as an input."""
        ref = self._resolve_dataset(dataset)
        self.materialize()
        answer = self._http.call(
            "POST", f"/runs/{self.id}/inputs", json={"dataset": ref, "role": role}
        )
        self.input_ids.add(str(answer.get("dataset_id", ref)))

    # ------------------------------------------------------------------ artifacts
    def log_artifact(self, path: str | Path, name: str | None = None) -> list[str]:
        """Upload a file, or every file of a folder, under the run; returns the paths."""
        source = Path(path)
        if not source.exists():
            raise ValidationError(f"cannot log artifact {source}: no such file or folder")
        base = check_artifact_path(name or source.name)
        self.materialize()
        if source.is_file():
            files = [(base, source)]
        else:
            files = [
                (f"{base}/{p.relative_to(source).as_posix()}", p)
                for p in sorted(source.rglob("*"))
                if p.is_file()
            ]
        return [
            upload_file(self._http, self.id, artifact, file, self._direct)
            for artifact, file in files
        ]

    def log_bytes(self, data: bytes, name: str, media_type: str | None = None) -> str:
        """Raw bytes as an artifact at `name` (`media_type` is guessed from the name)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValidationError(f"log_bytes needs bytes, got {type(data).__name__}")
        self.materialize()
        return upload_file(self._http, self.id, name, bytes(data))

    def log_text(self, text: str, name: str) -> str:
        if not isinstance(text, str):
            raise ValidationError(f"log_text needs a str, got {type(text).__name__}")
        self.materialize()
        return upload_file(self._http, self.id, name, text.encode())

    def log_json(self, obj: Any, name: str) -> str:
        try:
            data = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"cannot log {name!r} as JSON: {exc}") from exc
        self.materialize()
        return upload_file(self._http, self.id, name, data)

    def log_figure(self, figure: Any, name: str) -> str:
        """A matplotlib figure, stored as PNG (or SVG when `name` ends with .svg)."""
        if not hasattr(figure, "savefig"):
            raise ValidationError("log_figure needs a matplotlib Figure (an object with savefig)")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg" if name.endswith(".svg") else "png")
        self.materialize()
        return upload_file(self._http, self.id, name, buffer.getvalue())

    def log_model(
        self,
        model: Any,
        name: str | None = None,
        *,
        artifact_path: str = "model",
        input_example: Any = None,
        register: bool | None = None,
        **options: Any,
    ) -> Any:
        """Package `model` (manifest, signature, hashes) here and upload it as artifacts of
        this run; with a `name` it is also registered as the next version (returned)."""
        self._check_open()
        self.materialize()
        return log_model(
            remote_sources(self._http),
            self,
            model,
            name,
            artifact_path=artifact_path,
            input_example=input_example,
            register=name is not None if register is None else register,
            **options,
        )

    # ------------------------------------------------------------------ lifecycle
    def _check_open(self) -> None:
        if self.status != "RUNNING":
            raise ValidationError(f"run {self.id} has ended ({self.status}); start a new run")
        if self._stream.failure is not None:
            raise self._stream.failure

    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        """Ship every point and record the final status. Ending twice does nothing."""
        if self.status != "RUNNING":
            return
        if status not in ("FINISHED", "FAILED", "KILLED"):
            raise ValidationError(f"a run ends as FINISHED, FAILED or KILLED, not {status!r}")
        self._stream.finish(lambda fields: {**fields, "status": status, "error": error})
        self.status = status
        open_runs.discard(self)
        if self._on_end is not None:
            self._on_end(self)

    def record(self) -> RunRecord:
        """The run as the server stores it (params, latest metrics, tags, inputs)."""
        self.materialize()
        return RunRecord.from_dict(self._http.call("GET", f"/runs/{self.id}"))

    def __enter__(self) -> RemoteRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status, error = exit_outcome(exc_type, exc, tb)
        self.end(status, error=error)
