"""Workers count in memory and copy their values to shared files; scrapes add them up."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from loopml.serving.metric_files import MetricFiles
from loopml.serving.metrics import ServingMetrics


def _samples(exposition: bytes) -> dict[str, float]:
    """Exposition -> {sample with labels: value}, without `_created` and gauges' pid."""
    found: dict[str, float] = {}
    for line in exposition.decode().splitlines():
        if line.startswith("#") or not line or "_created" in line:
            continue
        name, _, value = line.rpartition(" ")
        found[name] = float(value)
    return found


def _traffic(metrics: ServingMetrics, requests: int, latency: float, rows: int) -> None:
    """What the predict path and the batcher record for `requests` requests."""
    meter = metrics.meter("cancer", "model:cancer/1")
    for _ in range(requests):
        meter.requests.inc()
        meter.rows.inc(rows)
        meter.latency.observe(latency)
        metrics.queue_wait.labels("model:cancer/1").observe(latency / 10)
    metrics.batch_rows.labels("model:cancer/1").observe(requests * rows)
    metrics.error("cancer", 422)


def test_two_workers_files_add_up_to_one_process_counting_everything(tmp_path: Path) -> None:
    one, two = ServingMetrics(), ServingMetrics()  # in memory: no folder
    _traffic(one, 30, 0.003, 1)
    _traffic(two, 12, 0.2, 100)
    two.watcher_errors.inc()
    MetricFiles(one.registry, tmp_path, pid=101).close()  # a last flush
    MetricFiles(two.registry, tmp_path, pid=102).close()

    reference = ServingMetrics()  # one process that saw all of it
    _traffic(reference, 30, 0.003, 1)
    _traffic(reference, 12, 0.2, 100)
    reference.watcher_errors.inc()

    scrape = _samples(_scrape_from_a_worker(tmp_path))
    expected = _samples(reference.render())
    expected = {k: v for k, v in expected.items() if "loaded_models" not in k}
    scrape = {k: v for k, v in scrape.items() if "loaded_models" not in k}
    assert scrape == pytest.approx(expected)
    assert scrape['loopml_serving_requests_total{deployment="cancer",model="model:cancer/1"}'] == 42
    count = 'loopml_serving_request_seconds_count{deployment="cancer",model="model:cancer/1"}'
    assert scrape[count] == 42


def test_values_reach_the_files_on_flush_not_on_each_observation(tmp_path: Path) -> None:
    worker = ServingMetrics(str(tmp_path))
    assert worker.files is not None
    worker.meter("d", "m").requests.inc(5)
    counted = 'loopml_serving_requests_total{deployment="d",model="m"}'
    assert counted not in _samples(_scrape(tmp_path))  # nothing written yet
    worker.files.flush()
    assert _samples(_scrape(tmp_path))[counted] == 5
    worker.meter("d", "m").requests.inc(2)
    assert _samples(worker.render())[counted] == 7  # a scrape flushes its own worker first
    worker.close()


def test_flushes_periodically_and_a_last_time_on_close(tmp_path: Path) -> None:
    worker = ServingMetrics(str(tmp_path))
    assert worker.files is not None
    worker.files.interval_s = 0.02
    worker.start()
    counted = 'loopml_serving_requests_total{deployment="d",model="m"}'
    meter = worker.meter("d", "m")
    meter.requests.inc(3)
    deadline = time.monotonic() + 5
    while _samples(_scrape(tmp_path)).get(counted) != 3:
        assert time.monotonic() < deadline, "the flush thread wrote nothing"
    meter.requests.inc(4)
    worker.close()
    assert _samples(_scrape(tmp_path))[counted] == 7
    meter.requests.inc(1)  # after close: the files keep the final values
    worker.files.flush()
    assert _samples(_scrape(tmp_path))[counted] == 7


def test_gauges_are_reported_per_worker(tmp_path: Path) -> None:
    for pid, loaded in ((201, 1), (202, 3)):
        worker = ServingMetrics()
        worker.loaded_models.set(loaded)
        MetricFiles(worker.registry, tmp_path, pid=pid).close()
    scrape = _samples(_scrape_from_a_worker(tmp_path))
    assert scrape['loopml_serving_loaded_models{pid="201"}'] == 1
    assert scrape['loopml_serving_loaded_models{pid="202"}'] == 3
    files = {p.name for p in tmp_path.iterdir()}
    assert {"gauge_liveall_201.db", "gauge_liveall_202.db"} <= files  # dropped when one dies


def test_a_flush_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        MetricFiles(ServingMetrics().registry, tmp_path, interval_s=0)


def test_without_a_folder_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOOPML_SERVE_METRICS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    metrics = ServingMetrics()
    assert metrics.files is None
    metrics.start()
    metrics.meter("d", "m").requests.inc()
    metrics.close()
    assert b'loopml_serving_requests_total{deployment="d",model="m"} 1.0' in metrics.render()
    assert os.listdir(tmp_path) == []


def _scrape(folder: Path) -> bytes:
    """What a scrape of the folder shows, without writing any values of its own."""
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=str(folder))  # type: ignore[no-untyped-call]
    return generate_latest(merged)


def _scrape_from_a_worker(folder: Path) -> bytes:
    """`/metrics` of a worker that counted nothing itself."""
    worker = ServingMetrics(str(folder))
    try:
        return worker.render()
    finally:
        worker.close()


def test_a_new_file_is_never_seen_empty_by_a_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's first flush creates its files; a scrape reading the folder while one is
    being opened must find it whole (an empty one failed the scrape)."""
    import loopml.serving.metric_files as metric_files

    seen: list[int] = []
    real = metric_files.MmapedDict

    def opening(filename: str) -> object:
        seen.append(os.stat(filename).st_size)  # what a scrape would read now
        _scrape(tmp_path)  # and a scrape at this very moment succeeds
        return real(filename)

    monkeypatch.setattr(metric_files, "MmapedDict", opening)
    worker = ServingMetrics(str(tmp_path))
    assert worker.files is not None
    worker.meter("d", "m").requests.inc(2)
    try:
        worker.files.flush()
    finally:
        worker.close()
    assert seen and all(size > 0 for size in seen)
    counted = 'loopml_serving_requests_total{deployment="d",model="m"}'
    assert _samples(_scrape(tmp_path)).get(counted) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
