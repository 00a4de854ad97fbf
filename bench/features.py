"""W4 - loopml's feature store on the files of the Feast peer benchmark.

Reads what shared/bench/peers/gen_data.py writes (default /tmp/loopml-bench-data):
w4_feature_table.parquet (1,000,000 rows: entity_id, event_timestamp, f00..f09) and
w4_entity_df.parquet (100,000 entity rows). A workspace is made under the work dir and,
untimed (as the peer's `apply`): Entity("entity", ["entity_id"]) and
FeatureView("fv", source = the Parquet file, f00..f09 float64, ttl 3650 days) are applied,
and the one-off check that (entity_id, event_timestamp) is unique in that file is recorded
(`source_facts_s`; it is computed once per file content and lets joins skip a tie-break).

Parts (each repetition in a FRESH child process; peak RSS = the child's own VmHWM):
  hist          pd.read_parquet(entity df) [load_s], FeatureStore on the workspace
                [store_init_s], then get_historical_features(edf, "fv:f00".."fv:f09")
                .to_pandas() [hist_s]; rows_out and entity rows with null features
  duckdb        the limit: the peer's DuckDB ASOF LEFT JOIN on the same DataFrame [asof_s]
  materialize   a fresh SQLite online store per repetition: FeatureStore.materialize()
                of all 100,000 entities [materialize_s]
  online        20 warm-up calls, then --blocks blocks of --calls1 lookups of 1 entity x 10
                features and --calls100 of 100 distinct entities (same seed and call plan
                as the peer), through FeatureStore.lookup(...).get(rows) in process;
                p50/p99 per block; every value checked against the latest row per entity
  online_redis  the same into and from the Redis at --redis (materialize_s reported too)
  serve_fetch   what a deployment with a FeatureService adds to one served 1-row request:
                the serving code's own `with_features` (entity keys from the record, the
                online fetch from SQLite, the record extended and narrowed to the model's
                columns), p50/p99 over --serve-calls requests, against a 1 ms p50 target

ONE JSON line on stdout, as the last line, in the peer's shape:
results.hist.summary.{hist_s, peak_rss_mib, rows_out, ...} (median/min/max/n),
results.hist.rows_out, results.materialize.summary.materialize_s,
results.online.summary.{1x10_p99_ms, 100x10_p99_ms, ...}, results.online_redis.summary (same keys),
results.serve_fetch.summary.{added_p50_ms, added_p99_ms}.

    .venv/bin/python bench/features.py                          # everything, ~3 min
    .venv/bin/python bench/features.py --parts hist,duckdb --reps 3
    .venv/bin/python bench/features.py --tiny 2000 --reps 1     # a check that it runs: files
                                                                # of the same shape, 2,000
                                                                # entities (no figures)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from _benchlib import Noise, agg, busy_pct, cpu_snap, make_logger, others_pct, proc_status_kib

log = make_logger("loopml_features")

FEATURES = [f"f{i:02d}" for i in range(10)]
REFS = [f"fv:{f}" for f in FEATURES]
SERVICE = "svc"  # every feature of fv, for the serving measurement
ENTITIES = 100_000  # entity ids 0..ENTITIES-1 (gen_data.py); --tiny N makes it N
EVENTS_PER_ENTITY = 10
BASE_S = 1735689600  # 2025-01-01T00:00:00Z, as gen_data.py
DAY = 86400
PARTS = ("hist", "duckdb", "materialize", "online", "online_redis", "serve_fetch")
ASOF_SQL = """
SELECT e.entity_id, e.event_timestamp, {cols}
FROM edf AS e
ASOF LEFT JOIN read_parquet('{feat}') AS f
  ON e.entity_id = f.entity_id AND e.event_timestamp >= f.event_timestamp
"""


def files(data: Path) -> tuple[Path, Path]:
    return data / "w4_feature_table.parquet", data / "w4_entity_df.parquet"


def open_store(workdir: Path, online_url: str | None = None) -> Any:
    """A FeatureStore on the workspace's stores (no SDK client: nothing else is imported)."""
    from loopml.config import load_settings
    from loopml.features import FeatureStore
    from loopml.store import open_stores

    stores = open_stores(load_settings(workdir / "ws", environ={}))
    return stores, FeatureStore(stores, online_url=online_url)


def tiny_files(data: Path, entities: int) -> None:
    """Files of gen_data.py's W4 shape for `entities` entities: 10 rows each, one a day at a
    random second; as many entity rows, unique (entity_id, event_timestamp)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20251127)
    ent = np.repeat(np.arange(entities, dtype=np.int64), EVENTS_PER_ENTITY)
    k = np.tile(np.arange(EVENTS_PER_ENTITY, dtype=np.int64), entities)
    ts = BASE_S + k * DAY + rng.integers(0, DAY, size=ent.size)
    order = np.lexsort((ent, ts))
    cols: dict[str, Any] = {
        "entity_id": pa.array(ent[order]),
        "event_timestamp": pa.array(ts[order] * 1_000_000, type=pa.timestamp("us", tz="UTC")),
    }
    values = rng.standard_normal((ent.size, len(FEATURES)))
    for i, f in enumerate(FEATURES):
        cols[f] = pa.array(values[order, i])
    feat, edf = files(data)
    pq.write_table(pa.table(cols), feat)
    asked = rng.integers(0, entities, size=entities).astype(np.int64)
    when = BASE_S + rng.integers(0, EVENTS_PER_ENTITY * DAY, size=entities)
    key = asked * (1 << 32) + when
    _, first = np.unique(key, return_index=True)
    keep = np.zeros(entities, bool)
    keep[first] = True
    pq.write_table(
        pa.table(
            {
                "entity_id": pa.array(asked[keep]),
                "event_timestamp": pa.array(
                    when[keep] * 1_000_000, type=pa.timestamp("us", tz="UTC")
                ),
            }
        ),
        edf,
    )


def setup(workdir: Path, data: Path) -> dict[str, Any]:
    from loopml.config import init_workspace
    from loopml.features import Entity, FeatureService, FeatureView

    init_workspace(workdir / "ws")
    client, store = open_store(workdir)
    feat, ent = files(data)
    t = time.perf_counter()
    store.apply(
        [
            Entity("entity", ["entity_id"]),
            FeatureView("fv", "entity", str(feat), FEATURES, ttl=3650 * 86400.0),
            FeatureService(SERVICE, ["fv:*"]),
        ]
    )
    apply_s = time.perf_counter() - t
    import pandas as pd

    t = time.perf_counter()
    store.get_historical_features(pd.read_parquet(ent).head(10), REFS)  # records source facts
    facts_s = time.perf_counter() - t
    store.close()
    client.close()
    return {"apply_s": round(apply_s, 3), "source_facts_s": round(facts_s, 3)}


# ------------------------------------------------------------------ children
def child_hist(a: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    import pandas as pd

    import_s = time.perf_counter() - t0
    _, ent = files(a.data)
    t = time.perf_counter()
    edf = pd.read_parquet(ent)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    _, store = open_store(a.workdir)
    init_s = time.perf_counter() - t
    t = time.perf_counter()
    result = store.get_historical_features(edf, REFS, memory_limit=a.memory_limit)
    out = result.to_pandas()
    hist_s = time.perf_counter() - t
    if a.save:
        out.to_parquet(a.save)
    return {
        "import_s": round(import_s, 3),
        "load_s": round(load_s, 3),
        "store_init_s": round(init_s, 3),
        "hist_s": round(hist_s, 3),
        "rows_out": len(out),
        "rows_with_null_features": int(out[FEATURES].isna().all(axis=1).sum()),
        "missing_counted": result.unmatched["fv"],
    }


def child_duckdb(a: argparse.Namespace) -> dict[str, Any]:
    import duckdb
    import pandas as pd

    feat, ent = files(a.data)
    t = time.perf_counter()
    edf = pd.read_parquet(ent)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    con = duckdb.connect()
    con.register("edf", edf)
    cols = ", ".join(f"f.{f}" for f in FEATURES)
    out = con.execute(ASOF_SQL.format(cols=cols, feat=feat)).df()
    asof_s = time.perf_counter() - t
    if a.save:
        out.to_parquet(a.save)
    return {"load_s": round(load_s, 3), "asof_s": round(asof_s, 3), "rows_out": len(out)}


def child_materialize(a: argparse.Namespace) -> dict[str, Any]:
    client, store = open_store(a.workdir, a.online_url)
    t = time.perf_counter()
    [run] = store.materialize(["fv"])
    materialize_s = time.perf_counter() - t
    entities = store.online.count("fv")
    store.close()
    client.close()
    return {
        "materialize_s": round(materialize_s, 3),
        "online_entity_keys": entities,
        "run_entities": run.entities,
    }


def pct(values: list[float], p: float) -> float:
    k = max(0, min(len(values) - 1, math.ceil(p / 100.0 * len(values)) - 1))
    return values[k]


def call_plan(blocks: int, n1: int, n100: int) -> list[tuple[list[int], list[list[int]]]]:
    """The peer's call plan: same generator, same seed, same order of draws."""
    import numpy as np

    rng = np.random.default_rng([20251127, 44])
    plan = []
    for _ in range(blocks):
        singles = [int(x) for x in rng.integers(0, ENTITIES, size=n1)]
        multis = [
            [int(x) for x in rng.choice(ENTITIES, size=100, replace=False)] for _ in range(n100)
        ]
        plan.append((singles, multis))
    return plan


def latest_rows(feat: Path) -> dict[int, tuple[float, ...]]:
    import duckdb

    cols = ", ".join(f"s.{f}" for f in FEATURES)
    rows = duckdb.sql(
        f"SELECT entity_id, {cols} FROM (SELECT entity_id, arg_max(f, event_timestamp) AS s "
        f"FROM read_parquet('{feat}') AS f GROUP BY entity_id)"
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def child_online(a: argparse.Namespace) -> dict[str, Any]:
    feat, _ = files(a.data)
    client, store = open_store(a.workdir, a.online_url)
    materialize_s = None
    if a.materialize_first:
        t = time.perf_counter()
        store.materialize(["fv"])
        materialize_s = round(time.perf_counter() - t, 3)
    expected = latest_rows(feat)
    lookup = store.lookup(REFS)

    def fetch(ids: list[int]) -> dict[str, list[Any]]:
        return lookup.get([{"entity_id": i} for i in ids])

    for i in range(1, 21):
        fetch([i])
    blocks, mismatches, checked = [], 0, 0
    for singles, multis in call_plan(a.blocks, a.calls1, a.calls100):
        lat1, lat100 = [], []
        for i in singles:
            t = time.perf_counter()
            got = fetch([i])
            lat1.append((time.perf_counter() - t) * 1000)
            checked += 1
            mismatches += any(got[f][0] != expected[i][k] for k, f in enumerate(FEATURES))
        for ids in multis:
            t = time.perf_counter()
            got = fetch(ids)
            lat100.append((time.perf_counter() - t) * 1000)
            for j, i in enumerate(ids):
                checked += 1
                mismatches += any(got[f][j] != expected[i][k] for k, f in enumerate(FEATURES))
        lat1.sort()
        lat100.sort()
        blocks.append(
            {
                "1x10_p50_ms": round(pct(lat1, 50), 4),
                "1x10_p99_ms": round(pct(lat1, 99), 4),
                "1x10_mean_ms": round(statistics.mean(lat1), 4),
                "100x10_p50_ms": round(pct(lat100, 50), 4),
                "100x10_p99_ms": round(pct(lat100, 99), 4),
                "100x10_mean_ms": round(statistics.mean(lat100), 4),
            }
        )
    store.close()
    client.close()
    return {
        "blocks": blocks,
        "entity_values_checked": checked,
        "entity_mismatches": mismatches,
        "materialize_s": materialize_s,
        "backend": store.online_url.split(":")[0],
    }


def child_serve_fetch(a: argparse.Namespace) -> dict[str, Any]:
    """What a deployment with a FeatureService adds to a 1-row request: the serving code's
    `with_features` on the parsed payload (the lookup plan is cached as in a server)."""
    from loopml.serving.features import with_features
    from loopml.serving.parsing import Records

    client, store = open_store(a.workdir, a.online_url)
    columns = ["hour", *FEATURES]  # the model's signature: request values and features
    records = [{"entity_id": i % ENTITIES, "hour": 7} for i in range(a.serve_calls)]
    for record in records[:50]:
        with_features(store, SERVICE, Records([record]), columns)
    lat = []
    for record in records:
        t = time.perf_counter()
        served = with_features(store, SERVICE, Records([record]), columns)
        lat.append((time.perf_counter() - t) * 1000)
    assert list(served.records[0]) == columns
    lat.sort()
    store.close()
    client.close()
    return {
        "added_p50_ms": round(pct(lat, 50), 4),
        "added_p99_ms": round(pct(lat, 99), 4),
        "calls": len(lat),
    }


CHILDREN = {
    "hist": child_hist,
    "duckdb": child_duckdb,
    "materialize": child_materialize,
    "online": child_online,
    "online_redis": child_online,
    "serve_fetch": child_serve_fetch,
}


def run_child(part: str, a: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--_child",
        part,
        "--data",
        str(a.data),
        "--workdir",
        str(a.workdir),
        "--blocks",
        str(a.blocks),
        "--calls1",
        str(a.calls1),
        "--calls100",
        str(a.calls100),
        "--serve-calls",
        str(a.serve_calls),
        "--entities",
        str(a.entities),
        "--memory-limit",
        a.memory_limit,
    ]
    for key, value in extra.items():
        if value is True:
            cmd.append(f"--{key.replace('_', '-')}")
        elif value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    c0, t0 = cpu_snap(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child {part} failed:\n{proc.stderr[-3000:]}")
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    busy = busy_pct(c0, cpu_snap())
    res.update(
        process_wall_s=round(wall, 2),
        machine_busy_pct=busy,
        others_busy_pct=others_pct(busy, res.pop("cpu_s"), wall),
    )
    return res


def compare(ours: Path, limit: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    o, d = pd.read_parquet(ours), pd.read_parquet(limit)
    m = d.merge(
        o, on=["entity_id", "event_timestamp"], how="outer", suffixes=("_d", "_o"), indicator=True
    )
    both = m[m["_merge"] == "both"]
    bad = np.zeros(len(both), bool)
    for c in FEATURES:
        x, y = both[f"{c}_d"].to_numpy(), both[f"{c}_o"].to_numpy()
        bad |= ~((x == y) | (np.isnan(x) & np.isnan(y)))
    return {
        "rows_loopml": len(o),
        "rows_duckdb": len(d),
        "rows_both": len(both),
        "mismatched_rows": int(bad.sum()),
    }


def online_summary(r: dict[str, Any]) -> dict[str, Any]:
    keys = [
        "1x10_p50_ms",
        "1x10_p99_ms",
        "1x10_mean_ms",
        "100x10_p50_ms",
        "100x10_p99_ms",
        "100x10_mean_ms",
    ]
    return {
        "summary": {k: agg([b[k] for b in r["blocks"]], 4) for k in keys},
        "entity_values_checked": r["entity_values_checked"],
        "entity_mismatches": r["entity_mismatches"],
        "materialize_s": r["materialize_s"],
        "process": {k: r[k] for k in ("peak_rss_mib", "process_wall_s", "others_busy_pct")},
        "blocks": r["blocks"],
    }


def main() -> None:
    global ENTITIES
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=Path("/tmp/loopml-bench-data"))
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--calls1", type=int, default=500)
    ap.add_argument("--calls100", type=int, default=100)
    ap.add_argument("--serve-calls", type=int, default=5000)
    ap.add_argument(
        "--tiny",
        type=int,
        default=0,
        metavar="N",
        help="write files of the W4 shape with N entities to the work dir and use them",
    )
    ap.add_argument("--memory-limit", default="256MB", help="DuckDB memory limit of the join")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--entities", type=int, default=ENTITIES, help=argparse.SUPPRESS)
    ap.add_argument("--save", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--online-url", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--materialize-first", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.tiny:
        a.entities = a.tiny
    ENTITIES = a.entities
    if a._child:
        res = CHILDREN[a._child](a)
        usage = os.times()
        res["cpu_s"] = usage.user + usage.system
        res["peak_rss_mib"] = round((proc_status_kib("VmHWM") or 0) / 1024, 1)
        print(json.dumps(res), flush=True)
        return

    noise = Noise()
    parts = [p for p in a.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    a.workdir = a.workdir or Path(f"/tmp/loopml-bench/features-{os.getpid()}")
    a.workdir.mkdir(parents=True, exist_ok=True)
    if a.tiny:
        a.data = a.workdir / "tiny-data"
        tiny_files(a.data, a.tiny)
    feat, ent = files(a.data)
    if not (feat.exists() and ent.exists()):
        ap.error(f"{feat} or {ent} is missing: run shared/bench/peers/gen_data.py --only w4")
    results: dict[str, Any] = {}
    try:
        results["setup"] = setup(a.workdir, a.data)
        log("setup", results["setup"])
        reps: dict[str, list[dict[str, Any]]] = {"hist": [], "duckdb": []}
        saved: dict[str, Path] = {}
        for rep in range(a.reps):
            for part in ("hist", "duckdb"):
                if part not in parts:
                    continue
                save = None
                if rep == 0:
                    save = saved[part] = a.workdir / f"{part}.parquet"
                r = run_child(part, a, save=save)
                log(
                    f"rep {rep + 1} {part}:",
                    {
                        k: r.get(k)
                        for k in ("hist_s", "asof_s", "rows_out", "peak_rss_mib", "others_busy_pct")
                    },
                )
                reps[part].append(r)
        for part, key in (("hist", "hist_s"), ("duckdb", "asof_s")):
            if reps[part]:
                keys = (
                    key,
                    "rows_out",
                    "load_s",
                    "store_init_s",
                    "peak_rss_mib",
                    "others_busy_pct",
                )
                results[part] = {
                    "summary": {k: agg([r.get(k) for r in reps[part]], 3) for k in keys},
                    "rows_out": reps[part][0]["rows_out"],
                    "reps": reps[part],
                }
        if len(saved) == 2:
            results["offline_agreement"] = compare(saved["hist"], saved["duckdb"])
            log("agreement", results["offline_agreement"])
        if "hist" in results and "duckdb" in results:
            results["hist"]["ratio_to_duckdb_limit"] = round(
                results["hist"]["summary"]["hist_s"]["median"]
                / results["duckdb"]["summary"]["asof_s"]["median"],
                3,
            )
        if "materialize" in parts or "online" in parts or "serve_fetch" in parts:
            mats = []
            for rep in range(a.reps if "materialize" in parts else 1):
                url = f"sqlite:///{a.workdir}/online-{rep}.db"
                r = run_child("materialize", a, online_url=url)
                log(f"rep {rep + 1} materialize:", r["materialize_s"], "s")
                mats.append(r)
            if "materialize" in parts:
                results["materialize"] = {
                    "summary": {
                        k: agg([r[k] for r in mats], 3)
                        for k in ("materialize_s", "peak_rss_mib", "others_busy_pct")
                    },
                    "online_entity_keys": mats[-1]["online_entity_keys"],
                    "reps": mats,
                }
            last = f"sqlite:///{a.workdir}/online-{len(mats) - 1}.db"
            if "online" in parts:
                results["online"] = online_summary(run_child("online", a, online_url=last))
                log("online:", results["online"]["summary"])
            if "serve_fetch" in parts:
                r = run_child("serve_fetch", a, online_url=last)
                results["serve_fetch"] = {
                    "summary": {k: r[k] for k in ("added_p50_ms", "added_p99_ms")},
                    "target_p50_ms": 1.0,
                    "within_target": r["added_p50_ms"] <= 1.0,
                    "calls": r["calls"],
                    "process": {
                        k: r[k] for k in ("peak_rss_mib", "process_wall_s", "others_busy_pct")
                    },
                }
                log("serve_fetch:", results["serve_fetch"]["summary"])
        if "online_redis" in parts:
            url = f"{a.redis}"
            r = run_child("online_redis", a, online_url=url, materialize_first=True)
            results["online_redis"] = online_summary(r)
            log("online_redis:", results["online_redis"]["summary"])
    finally:
        if "online_redis" in parts:
            try:
                import redis

                client = redis.Redis.from_url(a.redis)
                for key in client.scan_iter(match="loopml:fv:fv:*", count=5000):
                    client.delete(key)
            except Exception as exc:  # cleanup only
                log("redis cleanup failed:", exc)
        if not a.keep:
            shutil.rmtree(a.workdir, ignore_errors=True)
    import duckdb
    import pandas

    import loopml

    print(
        json.dumps(
            {
                "workload": "W4-feature-store",
                "tool": "loopml",
                "parts": parts,
                "reps": a.reps,
                "versions": {
                    "loopml": loopml.__version__,
                    "duckdb": duckdb.__version__,
                    "pandas": pandas.__version__,
                    "python": sys.version.split()[0],
                },
                "config": {
                    "feature_table": str(feat),
                    "entity_df": str(ent),
                    "ttl_days": 3650,
                    "entities": a.entities,
                    "tiny": bool(a.tiny),
                    "join_memory_limit": a.memory_limit,
                    "online": ["sqlite", a.redis],
                    "run_id": uuid.uuid4().hex[:8],
                },
                "results": results,
                "noise": noise.result(),
                "total_wall_s": noise.total_wall_s(),
            },
            separators=(",", ":"),
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
