"""`Run`: the handle a training script holds while it logs.

Used as a context manager it ends FINISHED, FAILED (with the traceback) or KILLED (on
Ctrl-C). A run left open when the interpreter exits is ended by an exit hook: FAILED if an
uncaught exception is ending the program, FINISHED otherwise.
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
from loopml.tracking.metric_writer import MetricWriter
from loopml.tracking.open_runs import exit_outcome, open_runs
from loopml.tracking.records import RunRecord
from loopml.tracking.service import TrackingService
from loopml.validation import check_key, check_metric_value, check_step

DatasetResolver = Callable[[Any], str]
ModelLogger = Callable[..., Any]


class Run:
    """An active run: params, metrics, tags, artifacts and inputs go through it."""

    def __init__(
        self,
        service: TrackingService,
        run_id: str,
        experiment: str,
        resolve_dataset: DatasetResolver,
        on_end: Callable[[Run], None] | None = None,
        model_logger: ModelLogger | None = None,
    ) -> None:
        self.id = run_id
        self.experiment = experiment
        self._service = service
        self._resolve_dataset = resolve_dataset
        self._on_end = on_end
        self._model_logger = model_logger
        self._metric_writer: MetricWriter | None = None  # opened by the first buffered point
        self._steps: dict[str, int] = {}
        self.input_ids: set[str] = set()  # dataset versions linked through this object
        self.status = "RUNNING"
        open_runs.add(self)

    @property
    def uri(self) -> str:
        return "run:" + self.id.removeprefix("run-")

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.experiment!r} {self.status}>"

    # ------------------------------------------------------------------ logging
    def log_param(self, key: str, value: Any) -> None:
        self._service.log_params(self.id, {key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        self._service.log_params(self.id, values)

    def set_tag(self, key: str, value: Any) -> None:
        self._service.set_tags(self.id, {key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        self._service.set_tags(self.id, values)

    @property
    def _writer(self) -> MetricWriter:
        if self._metric_writer is None:
            self._metric_writer = self._service.open_metric_writer(self.id)
        return self._metric_writer

    def _step(self, key: str, step: int | None) -> int:
        """The given step, or the next one of that key; remembers the highest seen."""
        at = self._steps.get(key, -1) + 1 if step is None else check_step(key, step)
        if at > self._steps.get(key, -1):
            self._steps[key] = at
        return at

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Record one point; it is journaled before this returns and stored in bulk later."""
        self._check_open()
        check_key("metric", key)
        number = check_metric_value(key, value)
        at = self._step(key, step)
        self._writer.log(key, number, at, time.time() if timestamp is None else float(timestamp))

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
            points.append((key, number, step, now))
        self._writer.log_many([(k, v, self._step(k, at), t) for k, v, at, t in points])

    def log_batch(
        self,
        metrics: list[tuple[str, float, int]] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Many points (key, value, step), params and tags in one transaction: committed,
        hence durable, when this returns (no journal needed)."""
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
        self._service.log_batch(self.id, points, params or {}, tags or {})
        for key, _, step, _ in points:
            self._step(key, step)

    def flush(self) -> None:
        """Write buffered metric points to the store now."""
        if self._metric_writer is not None:
            self._metric_writer.flush()

    def log_input(self, dataset: Any, role: str = "training") -> None:
        """Link a dataset version (object or reference such as `bikes@3`) as an input."""
        version_id = self._resolve_dataset(dataset)
        self._service.log_input(self.id, version_id, role)
        self.input_ids.add(version_id)

    # ------------------------------------------------------------------ artifacts
    def log_artifact(self, path: str | Path, name: str | None = None) -> list[str]:
        return self._service.log_artifact(self.id, Path(path), name)

    def log_bytes(self, data: bytes, name: str, media_type: str | None = None) -> str:
        """Raw bytes as an artifact at `name` (e.g. a serialized model)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValidationError(f"log_bytes needs bytes, got {type(data).__name__}")
        return self._service.log_artifact_bytes(self.id, bytes(data), name, media_type)

    def log_text(self, text: str, name: str) -> str:
        if not isinstance(text, str):
            raise ValidationError(f"log_text needs a str, got {type(text).__name__}")
        return self._service.log_artifact_bytes(self.id, text.encode(), name, "text/plain")

    def log_json(self, obj: Any, name: str) -> str:
        try:
            data = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"cannot log {name!r} as JSON: {exc}") from exc
        return self._service.log_artifact_bytes(self.id, data, name, "application/json")

    def log_figure(self, figure: Any, name: str) -> str:
        """A matplotlib figure, stored as PNG (or SVG when `name` ends with .svg)."""
        if not hasattr(figure, "savefig"):
            raise ValidationError("log_figure needs a matplotlib Figure (an object with savefig)")
        buffer = io.BytesIO()
        fmt = "svg" if name.endswith(".svg") else "png"
        figure.savefig(buffer, format=fmt)
        return self._service.log_artifact_bytes(self.id, buffer.getvalue(), name)

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
        """Package `model` (manifest, signature, hashes) as artifacts of this run; with a
        `name` it is also registered as the next version of that model (returned)."""
        self._check_open()
        if self._model_logger is None:
            raise ValidationError("this run was not started through a loopml Client")
        return self._model_logger(
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

    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        """Flush everything and record the final status. Ending twice does nothing."""
        if self.status != "RUNNING":
            return
        self._service.end_run(self.id, status, error=error, writer=self._metric_writer)
        self.status = status
        open_runs.discard(self)
        if self._on_end is not None:
            self._on_end(self)

    def record(self) -> RunRecord:
        """The run as stored (params, latest metrics, tags, inputs)."""
        return self._service.get_run(self.id)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status, error = exit_outcome(exc_type, exc, tb)
        self.end(status, error=error)
