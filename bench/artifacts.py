"""W5 - loopml artifact store: put a 1 GiB file, beside `dvc add` (peer benchmark).

    .venv/bin/python bench/artifacts.py [PATH]            # ~1 min, --reps 3
    .venv/bin/python bench/artifacts.py PATH --hash-only  # BLAKE3 vs SHA-256 only

PATH defaults to /tmp/loopml-bench-data/w5_random_1GiB.bin, the file that
shared/bench/peers/gen_data.py --only w5 writes (generated with it when missing, as
dvc_hash.py does). As dvc_hash.py does before each `dvc add`, every repetition first copies
the file into the work dir and runs `sync` (untimed), so both tools read a just-written file
from the page cache (--no-copy-in stores PATH itself).

Each repetition, in fresh child processes (peak RSS = the child's own VmHWM, read from
/proc/self/status inside it):
  put     `open_artifact_store(<new folder>, cache)` then `ArtifactStore.put_file(PATH)`
          (fsync off, the default). `store_1gib_s` is the put_file call; `child_wall_s` is
          the whole child from spawn to exit (interpreter start, `import loopml`, put),
          the figure to hold against `dvc add`, which is a whole CLI process. Dirty pages
          are flushed (`sync`, untimed) before, and timed after (`sync_after_s`).
  again   in a second child on the same store: put_file of the same file again (dedupe,
          `put_again_s`), then `local_path(digest)` (`verified_read_s`: the blob is
          hashed and checked against its id) and a second, fingerprint-cached local_path.
  fsync   a new store with `fsync=True`: put_file (`store_1gib_fsync_s`).
Every digest is checked against BLAKE3 of the file computed independently by this script.

hash (also --hash-only): the file hashed in this process by 1 MiB readinto() loops with
no hash, hashlib.sha256, blake3 (1 thread), and blake3 over a memory map with
max_threads=AUTO (what loopml's hash_file does), --reps times, interleaved.

diagnostic_lazy_import (one extra child): the same put with loopml's top-level package
stubbed so that `import loopml.artifacts` does not run loopml/__init__.py (which imports
pandas, pyarrow, duckdb, SQLAlchemy, ...): the peak RSS loopml would have with lazy
top-level imports. A diagnostic for docs/benchmarks.md, not a figure of today's loopml.

ONE JSON line on stdout, as the last line; progress on stderr. GB/s = 2**30 / 1e9 / s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _benchlib import Noise, agg, busy_pct, cpu_snap, make_logger, others_pct, proc_status_kib
from blake3 import blake3

log = make_logger("loopml_artifacts")

DEFAULT_FILE = "/tmp/loopml-bench-data/w5_random_1GiB.bin"
CHUNK = 1 << 20
HERE = Path(__file__).resolve().parent


def gbps(size: int, seconds: float) -> float:
    return round(size / 1e9 / seconds, 3) if seconds > 0 else 0.0


def peak_rss_mib() -> float | None:
    kib = proc_status_kib("VmHWM")
    return round(kib / 1024, 1) if kib is not None else None


# ------------------------------------------------------------------ child side
class Timed:
    """Wall, own CPU (all threads) and machine noise of one call, inside the child."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        c0, p0, t0 = cpu_snap(), time.process_time(), time.perf_counter()
        self.value = fn()
        self.wall = time.perf_counter() - t0
        self.cpu = time.process_time() - p0
        self.busy = busy_pct(c0, cpu_snap())

    def info(self, size: int) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall, 4),
            "cpu_s": round(self.cpu, 3),
            "gb_per_s": gbps(size, self.wall),
            "machine_busy_pct": self.busy,
            "others_busy_pct": others_pct(self.busy, self.cpu, self.wall),
        }


def stub_top_package() -> None:
    """Make `loopml` an empty package so its submodules import without its __init__."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("loopml")
    assert spec is not None and spec.submodule_search_locations is not None
    package = types.ModuleType("loopml")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["loopml"] = package


def child(mode: str, file: Path, store_dir: Path, expect: str, lazy: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": mode, "rss_at_start_mib": peak_rss_mib()}
    t0 = time.perf_counter()
    if lazy:
        stub_top_package()
    from loopml.artifacts import open_artifact_store

    out["import_s"] = round(time.perf_counter() - t0, 3)
    out["peak_rss_after_import_mib"] = peak_rss_mib()
    size = file.stat().st_size
    store = open_artifact_store(str(store_dir), store_dir / "cache", fsync=(mode == "fsync"))
    if mode in ("put", "fsync"):
        put = Timed(lambda: store.put_file(file))
        assert put.value.digest == expect and put.value.size == size, put.value
        out["put"] = put.info(size)
        out["peak_rss_mib"] = peak_rss_mib()
        out["modules_loaded"] = len(sys.modules)
        out["heavy_modules_loaded"] = sorted(
            {m.split(".")[0] for m in sys.modules}
            & {"pandas", "pyarrow", "duckdb", "sqlalchemy", "numpy", "sklearn", "fsspec"}
        )
    elif mode == "again":
        blobs_before = sum(1 for _ in (store_dir / "blobs").rglob("*") if _.is_file())
        again = Timed(lambda: store.put_file(file))
        assert again.value.digest == expect, again.value
        out["put_again"] = again.info(size)
        out["peak_rss_after_put_again_mib"] = peak_rss_mib()
        blobs_after = sum(1 for _ in (store_dir / "blobs").rglob("*") if _.is_file())
        staged_left = sum(1 for _ in (store_dir / "tmp").iterdir())
        assert blobs_before == blobs_after == 1 and staged_left == 0, (
            blobs_before,
            blobs_after,
            staged_left,
        )
        read = Timed(lambda: store.local_path(expect))
        assert read.value.stat().st_size == size
        out["verified_read"] = read.info(size)
        out["peak_rss_after_verified_read_mib"] = peak_rss_mib()
        cached = Timed(lambda: store.local_path(expect))
        out["local_path_cached_s"] = round(cached.wall, 6)
        out["blob_path"] = str(read.value)
    else:
        raise SystemExit(f"unknown child mode {mode}")
    return out


# ------------------------------------------------------------------ parent side
def run_child(
    args: argparse.Namespace,
    mode: str,
    source: Path,
    store_dir: Path,
    expect: str,
    lazy: bool = False,
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), str(source), "--child", mode]
    cmd += ["--store", str(store_dir), "--expect", expect]
    if lazy:
        cmd.append("--lazy-import")
    c0 = cpu_snap()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    busy = busy_pct(c0, cpu_snap())
    if proc.returncode != 0:
        raise RuntimeError(f"child {mode} failed rc={proc.returncode}: {proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["child_wall_s"] = round(wall, 3)
    result["child_machine_busy_pct"] = busy
    return result


def timed_sync() -> float:
    t0 = time.perf_counter()
    os.sync()
    return round(time.perf_counter() - t0, 3)


def fresh_store(workdir: Path, name: str) -> Path:
    path = workdir / name
    shutil.rmtree(path, ignore_errors=True)
    os.sync()  # no dirty pages of an earlier step are flushed inside the next timing
    return path


def copy_in(args: argparse.Namespace) -> tuple[Path, float]:
    """The input for one repetition: like dvc_hash.py, a fresh copy of the file, synced
    (untimed), so both tools read a just-written file from the page cache."""
    if args.no_copy_in:
        return args.file, 0.0
    t0 = time.perf_counter()
    source = args.workdir / "input.bin"
    shutil.copyfile(args.file, source)
    os.sync()
    return source, round(time.perf_counter() - t0, 2)


def one_rep(args: argparse.Namespace, rep: int, size: int, expect: str) -> dict[str, Any]:
    source, copy_s = copy_in(args)
    store_dir = fresh_store(args.workdir, f"store-{rep}")
    put = run_child(args, "put", source, store_dir, expect)
    sync_after = timed_sync()
    again = run_child(args, "again", source, store_dir, expect)
    shutil.rmtree(store_dir, ignore_errors=True)
    r: dict[str, Any] = {
        "store_1gib_s": put["put"]["wall_s"],
        "gb_per_s": put["put"]["gb_per_s"],
        "store_cpu_s": put["put"]["cpu_s"],
        "child_wall_s": put["child_wall_s"],
        "import_s": put["import_s"],
        "peak_rss_mib": put["peak_rss_mib"],
        "peak_rss_after_import_mib": put["peak_rss_after_import_mib"],
        "put_rss_increment_mib": round(put["peak_rss_mib"] - put["peak_rss_after_import_mib"], 1),
        "sync_after_s": sync_after,
        "copy_in_and_sync_untimed_s": copy_s,
        "others_busy_pct": put["put"]["others_busy_pct"],
        "put_again_s": again["put_again"]["wall_s"],
        "verified_read_s": again["verified_read"]["wall_s"],
        "verified_read_gb_per_s": again["verified_read"]["gb_per_s"],
        "local_path_cached_s": again["local_path_cached_s"],
        "peak_rss_after_put_again_mib": again["peak_rss_after_put_again_mib"],
        "peak_rss_after_verified_read_mib": again["peak_rss_after_verified_read_mib"],
        "heavy_modules_loaded": put["heavy_modules_loaded"],
        "children": {"put": put, "again": again},
    }
    if not args.skip_fsync:
        fs_dir = fresh_store(args.workdir, f"store-fsync-{rep}")
        fs = run_child(args, "fsync", source, fs_dir, expect)
        shutil.rmtree(fs_dir, ignore_errors=True)
        r["store_1gib_fsync_s"] = fs["put"]["wall_s"]
        r["fsync_gb_per_s"] = fs["put"]["gb_per_s"]
        r["peak_rss_fsync_mib"] = fs["peak_rss_mib"]
        r["children"]["fsync"] = fs
    if source != args.file:
        source.unlink()
    log(
        f"rep {rep + 1}: put {r['store_1gib_s']}s ({r['gb_per_s']} GB/s, child "
        f"{r['child_wall_s']}s, peak {r['peak_rss_mib']} MiB) again {r['put_again_s']}s "
        f"verified read {r['verified_read_s']}s fsync {r.get('store_1gib_fsync_s')}s "
        f"others={r['others_busy_pct']}%"
    )
    return r


def loop_hash(path: Path, factory: Callable[[], Any] | None) -> str | None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    hasher = factory() if factory is not None else None
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            if hasher is not None:
                hasher.update(view[:n])
    return hasher.hexdigest() if hasher is not None else None


def part_hash(path: Path, size: int, reps: int) -> dict[str, Any]:
    methods: dict[str, Callable[[], str | None]] = {
        "python_read_only": lambda: loop_hash(path, None),
        "hashlib_sha256": lambda: loop_hash(path, hashlib.sha256),
        "blake3_1thread": lambda: loop_hash(path, blake3),
        "blake3_auto_threads_mmap": lambda: (
            blake3(max_threads=blake3.AUTO).update_mmap(str(path)).hexdigest()
        ),
    }
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in methods}
    digests: dict[str, set[str]] = {}
    for rep in range(reps):
        for name, fn in methods.items():
            timed = Timed(fn)
            runs[name].append(timed.info(size))
            if timed.value:
                digests.setdefault(name, set()).add(timed.value)
        log(
            f"hash rep {rep + 1}/{reps}: "
            + ", ".join(f"{k}={v[-1]['gb_per_s']}" for k, v in runs.items())
        )
    b3 = digests["blake3_1thread"] | digests["blake3_auto_threads_mmap"]
    assert len(b3) == 1 and len(digests["hashlib_sha256"]) == 1, digests
    summary = {
        k: {
            "gb_per_s": agg([r["gb_per_s"] for r in v], 3),
            "wall_s": agg([r["wall_s"] for r in v]),
            "cpu_s": agg([r["cpu_s"] for r in v], 3),
            "others_busy_pct": agg([r["others_busy_pct"] for r in v], 1),
        }
        for k, v in runs.items()
    }
    med = {k: v["gb_per_s"]["median"] for k, v in summary.items() if v["gb_per_s"]}
    return {
        "summary": summary,
        "blake3_1thread_vs_sha256": round(med["blake3_1thread"] / med["hashlib_sha256"], 2),
        "blake3_auto_vs_sha256": round(med["blake3_auto_threads_mmap"] / med["hashlib_sha256"], 2),
        "digests": {"blake3": sorted(b3)[0], "sha256": sorted(digests["hashlib_sha256"])[0]},
        "openssl": __import__("ssl").OPENSSL_VERSION,
        "runs": runs,
    }


def find_gen_data() -> Path | None:
    candidates = [os.environ.get("PEER_BENCH_DIR", "")]
    candidates += [str(p / "shared" / "bench" / "peers") for p in HERE.parents]
    for folder in candidates:
        if folder and (Path(folder) / "gen_data.py").is_file():
            return Path(folder) / "gen_data.py"
    return None


def ensure_file(path: Path) -> bool:
    """Generate the default 1 GiB file with the peers' gen_data.py when it is missing."""
    if path.is_file():
        return False
    gen = find_gen_data()
    if gen is None or str(path) != DEFAULT_FILE:
        raise SystemExit(f"{path} does not exist (gen_data.py --only w5 writes {DEFAULT_FILE})")
    log(f"{path} missing: running {gen} --only w5")
    subprocess.check_call(["python3", str(gen), "--only", "w5"], stdout=sys.stderr)
    return True


def summarize(reps: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    keys = [
        "store_1gib_s",
        "gb_per_s",
        "child_wall_s",
        "peak_rss_mib",
        "peak_rss_after_import_mib",
        "put_rss_increment_mib",
        "sync_after_s",
        "put_again_s",
        "verified_read_s",
        "peak_rss_after_verified_read_mib",
        "store_1gib_fsync_s",
        "others_busy_pct",
    ]
    return {k: agg([r.get(k) for r in reps], 3) for k in keys}


def median(summary: dict[str, dict[str, Any] | None], key: str) -> float | None:
    entry = summary.get(key)
    return None if entry is None else float(entry["median"])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("file", nargs="?", default=DEFAULT_FILE, type=Path)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hash-only", action="store_true", help="only the hash comparison")
    ap.add_argument("--skip-hash", action="store_true", help="no hash comparison")
    ap.add_argument("--skip-fsync", action="store_true", help="no fsync=True repetition")
    ap.add_argument("--skip-diagnostic", action="store_true", help="no lazy-import child")
    ap.add_argument(
        "--no-copy-in",
        action="store_true",
        help="store PATH itself instead of a fresh synced copy per repetition",
    )
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--expect", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--lazy-import", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        r = child(args.child, args.file, args.store, args.expect, args.lazy_import)
        print(json.dumps(r, separators=(",", ":")), flush=True)
        return

    noise = Noise()
    args.file = args.file.resolve()
    generated = ensure_file(args.file)
    size = args.file.stat().st_size
    args.workdir = (args.workdir or Path(f"/tmp/loopml-bench/artifacts-{os.getpid()}")).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    expect = blake3(max_threads=blake3.AUTO).update_mmap(str(args.file)).hexdigest()
    loop_hash(args.file, None)  # warm read: the file sits in the page cache, as in the peer
    log(
        f"file {args.file}: {size} bytes, blake3 {expect[:16]}…, "
        f"warm in {time.perf_counter() - t0:.2f}s"
    )

    # imported here, not at the top: the children run this file too, and the lazy-import
    # diagnostic child must not import the loopml package before stubbing it
    from loopml import __version__ as loopml_version

    result: dict[str, Any] = {
        "workload": "W5-artifacts",
        "tool": "loopml",
        "file": {"path": str(args.file), "bytes": size, "generated": generated, "blake3": expect},
        "versions": {
            "loopml": loopml_version,
            "blake3": version("blake3"),
            "python": sys.version.split()[0],
            "loopml_source": str(Path(sys.modules["loopml"].__file__ or "").parent),
        },
        "config": {
            "reps": args.reps,
            "workdir": str(args.workdir),
            "copy_in": not args.no_copy_in,
        },
    }
    try:
        if not args.hash_only:
            reps = []
            for rep in range(args.reps):
                log(f"rep {rep + 1}/{args.reps} ...")
                reps.append(one_rep(args, rep, size, expect))
            summary = summarize(reps)
            result["store_1gib_s"] = median(summary, "store_1gib_s")
            result["peak_rss_mib"] = max(r["peak_rss_mib"] for r in reps)
            result["store_1gib_fsync_s"] = median(summary, "store_1gib_fsync_s")
            result["put_again_s"] = median(summary, "put_again_s")
            result["verified_read_s"] = median(summary, "verified_read_s")
            result["child_wall_s"] = median(summary, "child_wall_s")
            result["gb_per_s"] = median(summary, "gb_per_s")
            result["summary"] = summary
            result["reps"] = reps
            if not args.skip_diagnostic:
                source, _ = copy_in(args)
                lazy_dir = fresh_store(args.workdir, "store-lazy")
                lazy = run_child(args, "put", source, lazy_dir, expect, lazy=True)
                shutil.rmtree(lazy_dir, ignore_errors=True)
                if source != args.file:
                    source.unlink()
                result["diagnostic_lazy_import"] = {
                    "note": "loopml/__init__.py stubbed: not today's loopml, see docstring",
                    "peak_rss_mib": lazy["peak_rss_mib"],
                    "peak_rss_after_import_mib": lazy["peak_rss_after_import_mib"],
                    "import_s": lazy["import_s"],
                    "store_1gib_s": lazy["put"]["wall_s"],
                    "child_wall_s": lazy["child_wall_s"],
                    "heavy_modules_loaded": lazy["heavy_modules_loaded"],
                }
        if not args.skip_hash or args.hash_only:
            log("hash comparison ...")
            result["hash"] = part_hash(args.file, size, args.reps)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    result["noise"] = noise.result()
    result["total_wall_s"] = noise.total_wall_s()
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
