"""Prometheus metrics of one serving app, on a registry of its own (no process globals).

Under `loopml serve --workers N`, `LOOPML_SERVE_METRICS_DIR` names a folder of the server's
own: each worker counts in memory and copies its values into files of that folder a few
times a second (metric_files.py), and `render()` adds up the files of all workers, so any
worker's `/metrics` answers for the whole server. Gauges are kept per worker (a `pid`
label). A process started with prometheus_client's own `PROMETHEUS_MULTIPROC_DIR` (e.g.
under gunicorn) keeps that mode: every observation is written to its files at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from loopml.serving.metric_files import GAUGE_MODE, MetricFiles

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_ENV = "LOOPML_SERVE_METRICS_DIR"

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.0, 5.0
)  # fmt: skip
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)
UNKNOWN = "unknown"  # label for names a client made up: keeps label cardinality bounded


@dataclass(frozen=True, slots=True)
class TargetMeter:
    """The series of one (deployment, model version), looked up once: `.labels()` is not free."""

    requests: Any
    latency: Any
    rows: Any


class ServingMetrics:
    """Every series the data plane exports; children are bound once per model, not per call."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, folder: str | None = None) -> None:
        """`folder` (default: `LOOPML_SERVE_METRICS_DIR`) is shared with the other workers."""
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "loopml_serving_requests",
            "Predictions answered, by deployment and model version.",
            ["deployment", "model"],
            registry=r,
        )
        self.errors = Counter(
            "loopml_serving_errors",
            "Requests refused or failed, by deployment and HTTP status.",
            ["deployment", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "loopml_serving_request_seconds",
            "Time from the body being read to the answer being built.",
            ["deployment", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows = Counter(
            "loopml_serving_rows", "Rows scored, by model version.", ["model"], registry=r
        )
        self.batch_rows = Histogram(
            "loopml_serving_batch_rows",
            "Rows per predict call (micro-batches coalesce several requests).",
            ["model"],
            buckets=ROW_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "loopml_serving_queue_wait_seconds",
            "Time a request waited for its micro-batch to start.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.shadow = Counter(
            "loopml_serving_shadow",
            "Shadow scorings, by outcome (scored, dropped when saturated, failed, invalid).",
            ["deployment", "model", "outcome"],
            registry=r,
        )
        self.revision = Gauge(
            "loopml_serving_deployment_revision",
            "Revision of each deployment's routes this process serves.",
            ["deployment"],
            registry=r,
            multiprocess_mode=GAUGE_MODE,
        )
        self.swaps = Counter(
            "loopml_serving_swaps", "Route tables swapped in.", ["deployment"], registry=r
        )
        self.watcher_errors = Counter(
            "loopml_serving_watcher_errors",
            "Failed polls or model loads (the previous routes stay in service).",
            registry=r,
        )
        self.log_errors = Counter(
            "loopml_serving_log_errors",
            "Predictions that could not be handed to the prediction log.",
            registry=r,
        )
        self.loaded_models = Gauge(
            "loopml_serving_loaded_models",
            "Model versions held in memory.",
            registry=r,
            multiprocess_mode=GAUGE_MODE,
        )
        folder = folder or os.environ.get(METRICS_DIR_ENV)
        # with prometheus_client's own multiprocess mode on, values are in files already
        in_memory = not getattr(values.ValueClass, "_multiprocess", False)
        self.files = MetricFiles(r, folder) if folder and in_memory else None
        self._folder = folder if in_memory else os.environ.get(MULTIPROC_ENV)

    def start(self) -> None:
        """Copy this worker's values to the shared folder periodically (if there is one)."""
        if self.files is not None:
            self.files.flush()
            self.files.start()

    def close(self) -> None:
        """The last copy of this worker's values (its counters stay in the server's totals)."""
        if self.files is not None:
            self.files.close()

    def meter(self, deployment: str, model: str) -> TargetMeter:
        return TargetMeter(
            self.requests.labels(deployment, model),
            self.latency.labels(deployment, model),
            self.rows.labels(model),
        )

    def error(self, deployment: str, status: int) -> None:
        self.errors.labels(deployment, str(status)).inc()

    def render(self) -> bytes:
        """The exposition: this process's registry, or every worker's files added up."""
        if not self._folder:
            return generate_latest(self.registry)
        if self.files is not None:
            self.files.flush()  # this worker's own counts are exact; the others' recent
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._folder)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
