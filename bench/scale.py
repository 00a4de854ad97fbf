"""Scale - costs as a workspace grows: 10k, 100k and 1M runs on SQLite or PostgreSQL.

For each size a fresh workspace is built through bulk paths (rows written straight into
the tables, in the shape `start_run` writes them: 5 params, 5 metrics, the key-value
document), then measured through the public SDK:

  create_runs_per_s        --create runs, each `with client.start_run(exp,
                           capture_code=False) as run: run.log_batch(params=5, metrics=5)`
  create_cpu_runs_per_s    the same per CPU second of this process (the machine may be
                           shared: create_phase has its busy %)
  create_per_run           SQL statements, driver calls and commits per created run
  page_filter_*            search_runs(exp, filter=FILTER, max_results=100): the first
                           page and the --pages - 1 pages after it (keyset tokens)
  page_filter_order_*      the same with order_by="metrics.m1 DESC"
  page_first_pass_ms       each page of the first pass of both searches, which runs before
                           the --reps measured ones: it is the first time this process
                           reads those parts of the file, and at 1M runs most of its time
                           is the kernel mapping pages of the file into the process (page
                           faults: thousands in the first pass, none after), a cost once per
                           process and page of the file; --no-warmup counts it as the first
                           of the --reps passes
  history_s                metric_history(run, "h0", max_points=1000) of a run holding
                           10 metrics x --history-steps steps (median)
  history_whole_s          metric_history(run, "h0"): all --history-steps points (median);
                           the run ended through the SDK, which snapshots its long series
  plog_window_s            PredictionLog.predictions(dep, since, until) over one hour of a
                           prediction log of --plog-rows rows spread over 10 days, written
                           as segments of --plog-segment-s seconds and then compacted
                           (PredictionLog.compact, timed as plog_compact_s)
  plog_labelled_s          PredictionLog.labelled(...) over the same hour (feedback join)
  sqlite_mb                the SQLite file's size (0 on PostgreSQL)
  settle_s, dirty_mb,      after building (untimed) the store is checkpointed and the
  reread_mb                kernel's dirty pages written out (dirty_mb were pending), so the
                           measured operations do not compete with the writeback of the
                           gigabytes the bulk build just wrote; then the SQLite file is read
                           once (reread_mb of it came back from disk: pages the kernel had
                           dropped since the build wrote them); --no-settle skips this

Building is linear in the sizes (rows go in chunks of CHUNK; no step reads back what the
ones before wrote) and holds one chunk in memory at a time. With --store-url each size gets
a fresh schema, dropped afterwards. Progress goes to stderr; the last stdout line is JSON
{"sizes": {"10000": {...}, ...}, "backend": ...}.

    .venv/bin/python bench/scale.py --sizes 10000,100000
    .venv/bin/python bench/scale.py --store-url postgresql+psycopg://postgres@127.0.0.1/test
    .venv/bin/python bench/scale.py --sizes 1000 --history-steps 20000 --plog-rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from _benchlib import Phase, make_logger
from sqlalchemy import create_engine, event, text

import loopml
from loopml.prediction_log.log import PredictionLog
from loopml.prediction_log.tables import FEEDBACK_KIND, PREDICTIONS
from loopml.prediction_log.tables import day_of as _day_of
from loopml.store import new_id, record_artifact
from loopml.store.schema import log_segments
from loopml.tracking.key_values import encode

log = make_logger("scale")
EXPERIMENT = "scale"
FILTER = "metrics.m0 > 0.5 and params.p0 = 'x'"
ORDER = "metrics.m1 DESC"
DEPLOYMENT = "scale-dep"
CHUNK = 50_000  # runs per bulk insert
HISTORY_CHUNK = 200_000  # metric points per bulk insert
PLOG_REGISTER_EVERY = 144  # segments registered per transaction (a day of 10-minute ones)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(1000 * statistics.median(values), 2),
        "p95_ms": round(1000 * _p95(values), 2),
    }


class Loader:
    """Rows into tables, in chunks: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, client: loopml.Client) -> None:
        self.engine = client.stores.engine
        self.raw = self.engine.raw_connection()
        self.sqlite = self.engine.dialect.name == "sqlite"
        if self.sqlite:
            cur = self.raw.cursor()
            cur.execute("PRAGMA synchronous = OFF")
            cur.close()

    def rows(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        cur = self.raw.cursor()
        if self.sqlite:
            cur.execute("BEGIN")
            marks = ", ".join("?" * len(columns))
            cols = ", ".join(f'"{c}"' for c in columns)
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
            cur.execute("COMMIT")
        else:
            cols = ", ".join(f'"{c}"' for c in columns)
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            self.raw.commit()
        cur.close()

    def close(self) -> None:
        if self.sqlite:
            cur = self.raw.cursor()
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("ANALYZE")
            cur.close()
        else:
            cur = self.raw.cursor()
            cur.execute("ANALYZE")
            cur.close()
            self.raw.commit()
        self.raw.close()


def build_runs(client: loopml.Client, loader: Loader, n: int, rng: random.Random) -> None:
    exp_id = client.tracking.experiment_id(EXPERIMENT)
    start = time.time() - n * 0.01
    for base in range(0, n, CHUNK):
        runs, params, latest, points = [], [], [], []
        for i in range(base, min(n, base + CHUNK)):
            run_id = new_id("run")
            p = {
                "p0": "x" if i % 2 == 0 else "y",
                **{f"p{k}": str(rng.randint(0, 9)) for k in range(1, 5)},
            }
            m = {f"m{k}": rng.random() for k in range(5)}
            at = start + i * 0.01
            runs.append(
                (run_id, exp_id, f"r{i}", "FINISHED", at, at + 0.005, 0, "bench", encode(p, m, {}))
            )
            params += [(run_id, k, v) for k, v in p.items()]
            latest += [(run_id, exp_id, k, 0, at, v) for k, v in m.items()]
            points += [(run_id, k, 0, at, v) for k, v in m.items()]
        loader.rows(
            "runs",
            [
                "id",
                "experiment_id",
                "name",
                "status",
                "start_time",
                "end_time",
                "journal_offset",
                "created_by",
                "key_values",
            ],
            runs,
        )
        loader.rows("params", ["run_id", "key", "value"], params)
        loader.rows(
            "latest_metrics",
            ["run_id", "experiment_id", "key", "step", "timestamp", "value"],
            latest,
        )
        loader.rows("metrics", ["run_id", "key", "step", "timestamp", "value"], points)
        log(f"  runs {min(n, base + CHUNK):,}/{n:,}")


def build_history(client: loopml.Client, loader: Loader, steps: int) -> str:
    """A run with 10 metrics of `steps` points each, ended through the SDK (which writes
    the columnar snapshots of its long series)."""
    exp_id = client.tracking.experiment_id(EXPERIMENT)
    with client.start_run(EXPERIMENT, "history", capture_code=False) as run:
        at = time.time()
        for k in range(10):
            for base in range(0, steps, HISTORY_CHUNK):
                loader.rows(
                    "metrics",
                    ["run_id", "key", "step", "timestamp", "value"],
                    [
                        (run.id, f"h{k}", s, at + s * 1e-3, 1.0 / (1 + s))
                        for s in range(base, min(steps, base + HISTORY_CHUNK))
                    ],
                )
            last = steps - 1
            loader.rows(
                "latest_metrics",
                ["run_id", "experiment_id", "key", "step", "timestamp", "value"],
                [(run.id, exp_id, f"h{k}", last, at + last * 1e-3, 1.0 / steps)],
            )
            log(f"  history metric h{k}: {steps:,} steps")
        log("  ending the history run (summary and snapshots)")
    return run.id


def build_plog(
    client: loopml.Client, rows: int, segment_s: int, rng: random.Random
) -> tuple[float, float]:
    """`rows` predictions over 10 days in segments of `segment_s` seconds, a tenth of them
    labelled an hour later; returns a one-hour window three days back."""
    stores = client.stores
    end = float(int(time.time()) // 3600 * 3600)
    begin = end - 10 * 86_400
    segments = 10 * 86_400 // segment_s
    per_segment = max(1, rows // segments)
    with tempfile.TemporaryDirectory() as tmp:
        for first in range(0, segments, PLOG_REGISTER_EVERY):
            found = []
            for n in range(first, min(segments, first + PLOG_REGISTER_EVERY)):
                found += _plog_segment(
                    stores, Path(tmp), begin + n * segment_s, segment_s, n, per_segment, rng
                )
            _register(stores, found)
            log(f"  plog segments {min(segments, first + PLOG_REGISTER_EVERY):,}/{segments:,}")
    return end - 3 * 86_400, end - 3 * 86_400 + 3600


def _plog_segment(
    stores: Any, tmp: Path, t0: float, span: float, n: int, count: int, rng: random.Random
) -> list[tuple[Any, str, float, float, int]]:
    ids = [f"q{n}-{j}" for j in range(count)]
    table = pa.table(
        {
            "request_id": ids,
            "time": pa.array([t0 + span * j / count for j in range(count)], pa.float64()),
            "deployment": [DEPLOYMENT] * count,
            "model": ["model:m@1"] * count,
            "shadow": [False] * count,
            "latency_ms": [1.0] * count,
            "status": pa.array([200] * count, pa.int32()),
            "row": pa.array([0] * count, pa.int64()),
            "prediction": [str(rng.random()) for _ in range(count)],
        }
    )
    labelled = max(1, count // 10)
    feedback = pa.table(
        {
            "request_id": ids[:labelled],
            "time": pa.array([t0 + 3600 + span * j / count for j in range(labelled)]),
            "deployment": [DEPLOYMENT] * labelled,
            "row": pa.array([None] * labelled, pa.int64()),
            "label": [str(rng.random()) for _ in range(labelled)],
            "version": pa.array([1] * labelled, pa.int64()),
        }
    )
    found = []
    for kind, tab in ((PREDICTIONS, table), (FEEDBACK_KIND, feedback)):
        path = tmp / f"{kind}{n}.parquet"
        pq.write_table(tab, path, compression="zstd")
        ref = stores.artifacts.put_file(path)
        path.unlink()
        times = tab.column("time")
        found.append((ref, kind, pc.min(times).as_py(), pc.max(times).as_py(), tab.num_rows))
    return found


def _register(stores: Any, found: list[tuple[Any, str, float, float, int]]) -> None:
    with stores.engine.begin() as conn:
        for item in found:
            record_artifact(conn, stores.engine, item[0], "application/vnd.apache.parquet")
        conn.execute(
            log_segments.insert(),
            [
                {
                    "id": new_id("seg"),
                    "deployment": DEPLOYMENT,
                    "kind": kind,
                    "day": _day_of(lo),
                    "digest": ref.digest,
                    "rows": n,
                    "min_time": lo,
                    "max_time": hi,
                    "source": "bench",
                    "created_at": time.time(),
                }
                for ref, kind, lo, hi, n in found
            ],
        )


def create_run(client: loopml.Client, rng: random.Random, i: int) -> None:
    """The measured operation: a run with 5 params and 5 metrics, through the SDK."""
    with client.start_run(EXPERIMENT, capture_code=False) as run:
        run.log_batch(
            params={f"p{k}": ("x" if i % 2 == 0 else "y") if k == 0 else str(k) for k in range(5)},
            metrics=[(f"m{k}", rng.random(), 0) for k in range(5)],
        )


def count_statements(client: loopml.Client, rng: random.Random, runs: int = 20) -> dict[str, float]:
    """SQL statements (rows of an executemany count one each), driver calls (round trips
    on PostgreSQL, where psycopg pipelines an executemany) and commits per created run,
    counted on fresh connections after the timed part."""
    engine = client.stores.engine
    counts = {"statements": 0, "driver_calls": 0, "commits": 0}

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        if engine.dialect.name == "sqlite":

            def trace(sql: str) -> None:
                counts["statements"] += 1
                counts["driver_calls"] += 1
                counts["commits"] += sql.startswith("COMMIT")

            dbapi_conn.set_trace_callback(trace)
        else:
            dbapi_conn.cursor_factory = _counting_cursor(counts)

    def on_commit(_conn: Any) -> None:
        if engine.dialect.name != "sqlite":
            counts["commits"] += 1

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "commit", on_commit)
    client.stores.writes.close()
    engine.pool.dispose()  # new connections, with the listener
    try:
        for i in range(runs):
            create_run(client, rng, i)
    finally:
        event.remove(engine, "connect", on_connect)
        event.remove(engine, "commit", on_commit)
        client.stores.writes.close()
        engine.pool.dispose()
    return {k: round(v / runs, 1) for k, v in counts.items()}


def _counting_cursor(counts: dict[str, int]) -> Any:
    import psycopg

    class Counting(psycopg.Cursor):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            counts["statements"] += 1
            counts["driver_calls"] += 1
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> Any:
            rows = list(params_seq)
            counts["statements"] += len(rows)
            counts["driver_calls"] += 1
            return super().executemany(query, rows, **kw)

    return Counting


def measure(client: loopml.Client, args: argparse.Namespace, n: int) -> dict[str, Any]:
    rng = random.Random(n)
    loader = Loader(client)
    t0 = time.perf_counter()
    build_runs(client, loader, n, rng)
    history_run = build_history(client, loader, args.history_steps)
    loader.close()
    window = build_plog(client, args.plog_rows, args.plog_segment_s, rng)
    plog = PredictionLog(client.stores)
    t = time.perf_counter()
    compacted = plog.compact(DEPLOYMENT, min_age_s=0)
    compact_s = time.perf_counter() - t
    log(f"  compacted {compacted.segments_in:,} segments into {compacted.segments_out:,}")
    build_s = time.perf_counter() - t0
    log(f"built {n:,} runs in {build_s:.0f} s")
    settled = (
        settle(client)
        if args.settle
        else {"settle_s": None, "dirty_mb": _dirty_mb(), "reread_mb": None}
    )

    with Phase() as phase:
        for i in range(args.create):
            create_run(client, rng, i)
    create = args.create / phase.wall
    counted = count_statements(client, rng)
    log(f"create: {create:.0f} runs/s ({args.create / phase.cpu:.0f} per CPU second), {counted}")

    def one_pass(**kwargs: Any) -> list[float]:
        took = []
        token = None
        for _ in range(args.pages):
            t = time.perf_counter()
            page = client.search_runs(
                EXPERIMENT, filter=FILTER, max_results=100, page_token=token, **kwargs
            )
            took.append(time.perf_counter() - t)
            token = page.next_page_token
            assert len(page) == 100 or token is None, len(page)
            if token is None:
                break  # a small workspace: fewer matches than pages
        return took

    def pages(**kwargs: Any) -> tuple[list[float], list[float]]:
        """The first pass's page times, and those of the --reps measured passes (the first
        pass is one of them with --no-warmup)."""
        passes = [one_pass(**kwargs) for _ in range(args.reps + (1 if args.warmup else 0))]
        measured = passes[1:] if args.warmup else passes
        return passes[0], [t for taken in measured for t in taken]

    flt_first, flt = pages()
    order_first, order = pages(order_by=ORDER)
    history = []
    for _ in range(args.reps):
        t = time.perf_counter()
        sample = client.metric_history(history_run, "h0", max_points=1000)
        history.append(time.perf_counter() - t)
    assert len(sample) == min(1000, args.history_steps), len(sample)
    whole = []
    for _ in range(3):
        t = time.perf_counter()
        points = client.metric_history(history_run, "h0")
        whole.append(time.perf_counter() - t)
    assert len(points) == args.history_steps
    window_s, labelled_s = [], []
    for _ in range(5):
        t = time.perf_counter()
        frame = plog.predictions(DEPLOYMENT, since=window[0], until=window[1])
        window_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        joined = plog.labelled(DEPLOYMENT, since=window[0], until=window[1])
        labelled_s.append(time.perf_counter() - t)
    assert len(frame) > 0 and len(joined) > 0
    plog.close()
    db = (
        client.stores.engine.url.database if client.stores.engine.dialect.name == "sqlite" else None
    )
    return {
        "build_s": round(build_s, 1),
        "create_runs_per_s": round(create, 1),
        "create_cpu_runs_per_s": round(args.create / phase.cpu, 1),
        "create_phase": phase.info(),
        "create_per_run": counted,
        "page_filter": _ms(flt),
        "page_filter_p95_ms": _ms(flt)["p95_ms"],
        "page_filter_order": _ms(order),
        "page_filter_order_p95_ms": _ms(order)["p95_ms"],
        "page_first_pass_ms": {
            "filter": [round(t * 1000, 2) for t in flt_first],
            "filter_order": [round(t * 1000, 2) for t in order_first],
        },
        "history_s": round(statistics.median(history), 4),
        "history_whole_s": round(statistics.median(whole), 3),
        "history_points": args.history_steps,
        "plog_rows": args.plog_rows,
        "plog_segments_compacted": compacted.segments_in,
        "plog_compact_s": round(compact_s, 1),
        "plog_window_rows": len(frame),
        "plog_window_s": round(statistics.median(window_s), 3),
        "plog_labelled_s": round(statistics.median(labelled_s), 3),
        "plog_labelled_rows": len(joined),
        "sqlite_mb": round(Path(db).stat().st_size / 2**20, 1) if db else 0,
        **settled,
    }


def settle(client: loopml.Client) -> dict[str, float | None]:
    """Checkpoint the store and write the kernel's dirty pages out, untimed: a workspace
    that grew over months has no gigabytes of writeback pending, while one bulk-built a
    moment ago does, and that writeback would otherwise be measured as the first writes'
    cost (the writer is throttled and the checkpoint's fsync waits for all of it)."""
    dirty = _dirty_mb()
    t = time.perf_counter()
    engine = client.stores.engine
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # PostgreSQL: CHECKPOINT needs a superuser (or pg_checkpoint); the sync still runs.
        statement = (
            "PRAGMA wal_checkpoint(TRUNCATE)" if engine.dialect.name == "sqlite" else "CHECKPOINT"
        )
        try:
            cur.execute(statement)
            raw.commit()
        except Exception as exc:  # reported; the benchmark goes on
            raw.rollback()
            log(f"  {statement} failed ({exc}); syncing only")
        cur.close()
    finally:
        raw.close()
    os.sync()
    reread = _read_through(engine.url.database) if engine.dialect.name == "sqlite" else None
    took = time.perf_counter() - t
    log(
        f"  settled in {took:.1f} s ({dirty} MB of dirty pages were pending, "
        f"{reread} MB of the file were read back from disk)"
    )
    return {"settle_s": round(took, 1), "dirty_mb": dirty, "reread_mb": reread}


def _read_through(path: str | None) -> float | None:
    """Read the SQLite file once so the measurement starts with it in the page cache, and
    return how many MB of it came from the disk (Linux; None elsewhere).

    A kernel may page out what nobody touched for a while (Linux's DAMON reclaim does it
    after about a minute on some machines): the parts of a store built over minutes are
    then back on disk when it is measured, and the first searches and writes would wait for
    the disk where a workspace in steady use finds its pages in memory."""
    if not path:
        return None
    before = _proc_number("/proc/self/io", "read_bytes:")
    with open(path, "rb") as db:
        while db.read(1 << 24):
            pass
    after = _proc_number("/proc/self/io", "read_bytes:")
    return None if before is None or after is None else round((after - before) / 2**20, 1)


def _dirty_mb() -> float | None:
    """The kernel's dirty page cache (Linux), in MB."""
    kib = _proc_number("/proc/meminfo", "Dirty:")
    return None if kib is None else round(kib / 1024, 1)


def _proc_number(path: str, field: str) -> int | None:
    """The first number after `field` in a /proc file (Linux; None elsewhere)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--store-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--create", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--history-steps", type=int, default=1_000_000)
    parser.add_argument("--plog-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--plog-segment-s", type=int, default=600, help="seconds of log per written segment"
    )
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--no-settle",
        dest="settle",
        action="store_false",
        help="measure right after the bulk build, with its writeback still pending and the file"
        " as much in the page cache as the kernel left it",
    )
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="count each search's first pass among the --reps measured ones",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        root = Path(tempfile.mkdtemp(prefix=f"scale-{n}-", dir=args.workdir))
        settings: dict[str, Any] = {}
        schema = None
        admin = None
        if args.store_url:
            schema = "scale_" + uuid.uuid4().hex[:8]
            admin = create_engine(args.store_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            settings["store_url"] = f"{args.store_url}?options=-csearch_path%3D{schema}"
        log(f"size {n:,} in {root}")
        client = loopml.connect(root, **settings)
        if not isinstance(client, loopml.Client):  # the store itself is measured, not a server
            raise SystemExit("scale.py measures a local workspace; unset LOOPML_SERVER_URL")
        try:
            results[str(n)] = measure(client, args, n)
            log(json.dumps(results[str(n)]))
        finally:
            client.close()
            shutil.rmtree(root, ignore_errors=True)
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
    backend = "postgresql" if args.store_url else "sqlite"
    print(json.dumps({"sizes": results, "backend": backend}))


if __name__ == "__main__":
    main()
