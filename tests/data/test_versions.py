"""DatasetService: log, get, list and load versions, on every backend combination."""

from __future__ import annotations

import json
import multiprocessing.context
import os
import queue
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from blake3 import blake3

from loopml.config import load_settings
from loopml.errors import ArtifactCorruptedError, NotFoundError, ValidationError
from loopml.sdk import Client

if TYPE_CHECKING:
    from .conftest import StoredState

StateOf = Callable[[Client], "StoredState"]


def bikes(n: int = 48, seed: int = 0) -> pd.DataFrame:
    """Hourly bike rentals: a timestamp, a category, a float with gaps and an integer."""
    rng = np.random.default_rng(seed)
    temp = rng.normal(10, 5, n).round(2)
    temp[::7] = np.nan
    return pd.DataFrame(
        {
            "ts": pd.date_range("2011-01-01", periods=n, freq="h"),
            "station": rng.choice(["north", "south", "east"], n),
            "temp": temp,
            "count": rng.integers(0, 500, n),
        }
    )


def digest_of(path: Path) -> str:
    return str(blake3(path.read_bytes()).hexdigest())


# ---------------------------------------------------------------------- sources
def _parquet_folder(df: pd.DataFrame, folder: Path) -> Path:
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


SOURCES: dict[str, Callable[[pd.DataFrame, Path], Any]] = {
    "dataframe": lambda df, tmp: df,
    "arrow-table": lambda df, tmp: pa.Table.from_pandas(df, preserve_index=False),
    "parquet-file": lambda df, tmp: (
        df.to_parquet(tmp / "bikes.parquet", index=False) or tmp / "bikes.parquet"
    ),
    "csv-file": lambda df, tmp: df.to_csv(tmp / "bikes.csv", index=False) or tmp / "bikes.csv",
    "tsv-file": lambda df, tmp: (
        df.to_csv(tmp / "bikes.tsv", sep="\t", index=False) or str(tmp / "bikes.tsv")
    ),
    "csv-gz-file": lambda df, tmp: (
        df.to_csv(tmp / "bikes.csv.gz", index=False) or tmp / "bikes.csv.gz"
    ),
    "parquet-folder": lambda df, tmp: _parquet_folder(df, tmp / "bikes"),
}


def expected_frame(kind: str, df: pd.DataFrame, source: Any) -> pd.DataFrame:
    """What loading the version must give back: the frame itself, or the file as Arrow reads it."""
    if kind not in ("csv-file", "csv-gz-file", "tsv-file"):
        return df
    delimiter = "\t" if kind == "tsv-file" else ","
    table = pacsv.read_csv(source, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    frame: pd.DataFrame = table.to_pandas()
    return frame


@pytest.mark.parametrize("kind", list(SOURCES))
def test_log_and_load_round_trip(any_client: Client, tmp_path: Path, kind: str) -> None:
    df = bikes()
    source = SOURCES[kind](df, tmp_path)

    version = any_client.datasets.log("bikes", source, time_column="ts")

    assert version.name == "bikes"
    assert version.version == 1
    assert version.uri == "dataset:bikes@1"
    assert version.id.startswith("ds-")
    assert version.row_count == len(df)
    assert version.columns == list(df.columns)
    assert version.time_column == "ts"
    assert version.parent_id is None
    assert version.format == ("csv" if "csv" in kind or "tsv" in kind else "parquet")
    assert version.layout == ("folder" if kind == "parquet-folder" else "file")
    assert version.size == sum(f["size"] for f in version.files)
    for item in version.files:
        assert any_client.stores.artifacts.exists(item["digest"])
    pd.testing.assert_frame_equal(
        any_client.datasets.load(version), expected_frame(kind, df, source)
    )


@pytest.mark.parametrize("kind", ["parquet-file", "csv-file"])
def test_content_hash_of_a_file_is_its_blake3(client: Client, tmp_path: Path, kind: str) -> None:
    path = Path(SOURCES[kind](bikes(), tmp_path))

    version = client.datasets.log("bikes", path)

    assert version.content_hash == digest_of(path)
    assert version.files == [
        {"path": path.name, "digest": digest_of(path), "size": path.stat().st_size}
    ]


def test_content_hash_of_a_folder_covers_names_and_contents(client: Client, tmp_path: Path) -> None:
    folder = _parquet_folder(bikes(), tmp_path / "bikes")
    manifest = [
        {"path": p.name, "digest": digest_of(p), "size": p.stat().st_size}
        for p in sorted(folder.iterdir())
    ]

    version = client.datasets.log("bikes", folder)

    assert version.files == manifest
    assert version.content_hash == blake3(json.dumps(manifest, sort_keys=True).encode()).hexdigest()

    (folder / "part-2.parquet").rename(folder / "part-9.parquet")
    renamed = client.datasets.log("bikes", folder)
    assert renamed.version == 2  # same bytes under other names are other content


def test_schema_types(client: Client) -> None:
    version = client.datasets.log("bikes", bikes())

    assert version.schema == [
        {"name": "ts", "type": "TIMESTAMP", "nullable": True},
        {"name": "station", "type": "VARCHAR", "nullable": True},
        {"name": "temp", "type": "DOUBLE", "nullable": True},
        {"name": "count", "type": "BIGINT", "nullable": True},
    ]


def test_profile_is_stored_with_the_version(any_client: Client) -> None:
    df = bikes()

    version = any_client.datasets.log("bikes", df)
    stored = any_client.datasets.get("bikes@1")

    assert stored.profile == version.profile
    assert version.profile["temp"]["nulls"] == int(df["temp"].isna().sum())
    assert version.profile["temp"]["mean"] == pytest.approx(df["temp"].mean())
    assert version.profile["count"]["max"] == int(df["count"].max())
    top = {t["value"]: t["count"] for t in version.profile["station"]["top"]}
    assert top == df["station"].value_counts().to_dict()
    assert version.profile["ts"]["min"] == "2011-01-01T00:00:00"


def test_versions_count_up_and_link_to_their_parent(any_client: Client) -> None:
    v1 = any_client.datasets.log("bikes", bikes(seed=1))
    v2 = any_client.datasets.log("bikes", bikes(seed=2))
    v3 = any_client.datasets.log("bikes", bikes(seed=3), description="third")

    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
    assert len({v1.id, v2.id, v3.id}) == 3
    assert (v1.parent_id, v2.parent_id, v3.parent_id) == (None, v1.id, v2.id)
    assert v3.description == "third"
    assert [v.id for v in any_client.datasets.list("bikes")] == [v1.id, v2.id, v3.id]


def test_explicit_parent(client: Client) -> None:
    v1 = client.datasets.log("bikes", bikes(seed=1))
    client.datasets.log("bikes", bikes(seed=2))
    other = client.datasets.log("weather", bikes(seed=9))

    v3 = client.datasets.log("bikes", bikes(seed=3), parent="bikes@1")
    cleaned = client.datasets.log("bikes-clean", bikes(seed=4), parent=other.id)

    assert v3.parent_id == v1.id
    assert cleaned.parent_id == other.id
    assert cleaned.version == 1


def test_identical_content_returns_the_existing_version(
    any_client: Client, tmp_path: Path, stored_state: StateOf
) -> None:
    v1 = any_client.datasets.log("bikes", bikes(seed=1))
    v2 = any_client.datasets.log("bikes", bikes(seed=2))
    before = stored_state(any_client)

    again = any_client.datasets.log("bikes", bikes(seed=1))

    assert again == v1
    assert stored_state(any_client) == before
    assert any_client.datasets.get("bikes").id == v2.id  # latest is unchanged


def test_identical_content_under_another_name_is_a_new_dataset(client: Client) -> None:
    first = client.datasets.log("bikes", bikes())

    copy = client.datasets.log("bikes-copy", bikes())

    assert copy.id != first.id
    assert (copy.version, copy.content_hash) == (1, first.content_hash)


def test_time_column_is_recorded(client: Client) -> None:
    version = client.datasets.log("bikes", bikes(), time_column="ts")

    assert client.datasets.get(version.id).time_column == "ts"
    assert client.datasets.log("other", bikes(seed=5)).time_column is None


# ---------------------------------------------------------------------- get, list, load
@pytest.mark.parametrize(
    ("ref", "expected_version"),
    [
        ("bikes", 2),
        ("bikes@latest", 2),
        ("bikes@1", 1),
        ("bikes@2", 2),
        ("dataset:bikes@1", 1),
        ("dataset:bikes@latest", 2),
        ("dataset:bikes", 2),
        ("  bikes@1 ", 1),
    ],
)
def test_get_by_reference(client: Client, ref: str, expected_version: int) -> None:
    client.datasets.log("bikes", bikes(seed=1))
    client.datasets.log("bikes", bikes(seed=2))

    assert client.datasets.get(ref).version == expected_version


def test_get_by_id_and_by_version_object(client: Client) -> None:
    version = client.datasets.log("bikes", bikes())

    assert client.datasets.get(version.id) == version
    assert client.datasets.get(version) is version


def test_a_dataset_may_be_named_like_an_id(client: Client) -> None:
    version = client.datasets.log("ds-2024abcd", bikes())

    assert version.name == "ds-2024abcd"
    assert client.datasets.get("ds-2024abcd") == version
    assert client.datasets.get("ds-2024abcd@1") == version


@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        ("nothing", "`loopml data list` shows what exists"),
        ("dataset:nothing@3", "`loopml data list` shows what exists"),
        ("bikes@3", "dataset 'bikes' has versions 1 to 2"),
        ("ds-0000abcd", "`loopml data list` shows what exists"),
    ],
)
def test_unknown_version_is_not_found_with_a_hint(client: Client, ref: str, hint: str) -> None:
    client.datasets.log("bikes", bikes(seed=1))
    client.datasets.log("bikes", bikes(seed=2))

    with pytest.raises(NotFoundError, match="no dataset version") as info:
        client.datasets.get(ref)
    assert hint in str(info.value)


@pytest.mark.parametrize("ref", ["bikes@x", "bikes@-1", "", "bad name", "dataset:", "@1", None])
def test_malformed_reference_is_a_validation_error(client: Client, ref: Any) -> None:
    with pytest.raises(ValidationError):
        client.datasets.get(ref)


def test_list_orders_by_name_then_version(client: Client) -> None:
    client.datasets.log("weather", bikes(seed=1))
    client.datasets.log("bikes", bikes(seed=2))
    client.datasets.log("bikes", bikes(seed=3))

    assert [v.uri for v in client.datasets.list()] == [
        "dataset:bikes@1",
        "dataset:bikes@2",
        "dataset:weather@1",
    ]
    assert [v.uri for v in client.datasets.list("weather")] == ["dataset:weather@1"]
    assert client.datasets.list("nothing") == []


def test_newest_pages_every_dataset_newest_first(any_client: Client) -> None:
    logged = [
        any_client.datasets.log(name, bikes(seed=seed))
        for seed, name in enumerate(["weather", "bikes", "weather", "bikes", "bikes"])
    ]
    expected = sorted(logged, key=lambda v: (v.created_at, v.id), reverse=True)
    seen, token = [], None
    while True:
        page = any_client.dataset_service.newest(max_results=2, page_token=token)
        assert len(page) <= 2
        seen += [v.id for v in page]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [v.id for v in expected]
    assert any_client.dataset_service.newest(max_results=1)[0].uri == "dataset:bikes@3"
    with pytest.raises(ValidationError, match="page_token"):
        any_client.dataset_service.newest(page_token="garbage")
    with pytest.raises(ValidationError, match="max_results"):
        any_client.dataset_service.newest(max_results=0)


def test_names_summarise_each_dataset_once(any_client: Client) -> None:
    assert any_client.dataset_service.names() == []
    for seed, name in enumerate(["weather", "bikes", "bikes", "bikes"]):
        any_client.datasets.log(name, bikes(seed=seed))
    first = any_client.dataset_service.names(max_results=1)
    assert [(s.name, s.versions, s.latest) for s in first] == [("bikes", 3, 3)]
    assert first[0].updated_at == any_client.datasets.get("bikes@3").created_at
    rest = any_client.dataset_service.names(max_results=1, page_token=first.next_page_token)
    assert [(s.name, s.versions, s.latest) for s in rest] == [("weather", 1, 1)]
    assert rest.next_page_token is None


@pytest.mark.parametrize("kind", ["dataframe", "csv-file", "parquet-folder"])
def test_load_selected_columns(client: Client, tmp_path: Path, kind: str) -> None:
    df = bikes()
    source = SOURCES[kind](df, tmp_path)
    client.datasets.log("bikes", source)

    loaded = client.datasets.load("bikes", columns=["count", "station"])

    expected = expected_frame(kind, df, source)[["count", "station"]]
    pd.testing.assert_frame_equal(loaded, expected)


def test_load_unknown_columns_is_a_validation_error(client: Client) -> None:
    client.datasets.log("bikes", bikes())

    with pytest.raises(ValidationError, match=r"has no columns \['nope'\]"):
        client.datasets.load("bikes", columns=["count", "nope"])


def test_load_refuses_a_corrupted_blob(client: Client) -> None:
    version = client.datasets.log("bikes", bikes())
    blob = client.stores.artifacts.local_path(version.files[0]["digest"])
    os.chmod(blob, 0o644)
    with open(blob, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00garbage\x00")

    with pytest.raises(ArtifactCorruptedError, match=version.files[0]["digest"]):
        client.datasets.load("bikes")


def test_load_unknown_version_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.datasets.load("bikes@7")


# ---------------------------------------------------------------------- refused logs
def _garbage_parquet(tmp: Path) -> Path:
    path = tmp / "broken.parquet"
    path.write_bytes(os.urandom(4096))
    return path


def _truncated_parquet(tmp: Path) -> Path:
    path = tmp / "truncated.parquet"
    bikes().to_parquet(path, index=False)
    path.write_bytes(path.read_bytes()[:-100])
    return path


def _folder(tmp: Path, files: dict[str, bytes | pd.DataFrame]) -> Path:
    folder = tmp / "folder"
    folder.mkdir()
    for name, content in files.items():
        if isinstance(content, pd.DataFrame):
            content.to_parquet(folder / name, index=False)
        else:
            (folder / name).write_bytes(content)
    return folder


def _unreadable(tmp: Path) -> Path:
    link = tmp / "data.parquet"
    link.symlink_to("/proc/self/mem")  # a regular file whose reads fail, even for root
    return link


def _fifo(tmp: Path) -> Path:
    path = tmp / "pipe.csv"
    os.mkfifo(path)
    return path


BAD_INPUTS: dict[str, tuple[Callable[[Path], Any], str]] = {
    "missing-file": (lambda tmp: tmp / "nope.parquet", "no such file or folder"),
    "unknown-extension": (
        lambda tmp: (tmp / "data.json").write_text("{}") and tmp / "data.json",
        "unknown format",
    ),
    "unreadable-file": (_unreadable, "cannot log .*data.parquet"),
    "fifo": (_fifo, "neither a regular file nor a folder"),
    "garbage-parquet": (_garbage_parquet, "cannot read .*broken.parquet as parquet"),
    "truncated-parquet": (_truncated_parquet, "cannot read .* as parquet"),
    "empty-folder": (lambda tmp: _folder(tmp, {}), "holds no files"),
    "hidden-files-only": (lambda tmp: _folder(tmp, {".DS_Store": b"x"}), "holds no files"),
    "mixed-folder": (
        lambda tmp: _folder(tmp, {"a.parquet": bikes(), "b.csv": b"a,b\n1,2\n"}),
        "every file must be Parquet or every file CSV",
    ),
    "folder-with-notes": (
        lambda tmp: _folder(tmp, {"a.parquet": bikes(), "README.md": b"notes"}),
        "every file must be Parquet or every file CSV",
    ),
    "garbage-in-folder": (
        lambda tmp: _folder(tmp, {"a.parquet": bikes(), "b.parquet": os.urandom(2048)}),
        "as parquet",
    ),
    "not-a-table": (lambda tmp: [{"a": 1}], "cannot log a list"),
    "int-column-names": (lambda tmp: pd.DataFrame({0: [1], 1: [2]}), "must all be strings"),
    "mixed-type-column": (lambda tmp: pd.DataFrame({"a": [1, "x"]}), "one type"),
    "repeated-column-names": (
        lambda tmp: pa.table([[1], [2]], names=["a", "a"]),
        r"must be unique; repeated: \['a'\]",
    ),
    "no-columns": (lambda tmp: pd.DataFrame(), "cannot read"),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_refused_input_writes_nothing(
    client: Client, tmp_path: Path, stored_state: StateOf, bad: str
) -> None:
    make, message = BAD_INPUTS[bad]
    client.datasets.log("bikes", bikes())
    before = stored_state(client)

    with pytest.raises(ValidationError, match=message):
        client.datasets.log("bikes", make(tmp_path))

    assert stored_state(client) == before
    assert client.datasets.get("bikes").version == 1


def test_corrupt_parquet_writes_nothing_on_any_backend(
    any_client: Client, tmp_path: Path, stored_state: StateOf
) -> None:
    before = stored_state(any_client)

    with pytest.raises(ValidationError, match="as parquet"):
        any_client.datasets.log("bikes", _garbage_parquet(tmp_path))

    assert stored_state(any_client) == before
    with pytest.raises(NotFoundError):
        any_client.datasets.get("bikes")


def test_time_column_not_in_the_data_writes_nothing(
    any_client: Client, stored_state: StateOf
) -> None:
    before = stored_state(any_client)

    with pytest.raises(ValidationError, match=r"time column 'when' is not in the data.*'ts'"):
        any_client.datasets.log("bikes", bikes(), time_column="when")

    assert stored_state(any_client) == before


@pytest.mark.parametrize("name", ["", "-bikes", "bikes and more", "bikes/2", "a" * 129, None, 3])
def test_bad_name_is_a_validation_error(client: Client, stored_state: StateOf, name: Any) -> None:
    before = stored_state(client)

    with pytest.raises(ValidationError, match="dataset name"):
        client.datasets.log(name, bikes())

    assert stored_state(client) == before


def test_unknown_parent_is_not_found_and_writes_nothing(
    client: Client, stored_state: StateOf
) -> None:
    before = stored_state(client)

    with pytest.raises(NotFoundError, match="no dataset version dataset:raw@1"):
        client.datasets.log("bikes", bikes(), parent="raw@1")

    assert stored_state(client) == before


# ---------------------------------------------------------------------- several processes
def _log_in_child(root: str, store_url: str, seed: int, barrier: Any, results: Any) -> None:
    """Child process: open the workspace, wait for the others, log one version."""
    try:
        client = Client(load_settings(Path(root), environ={}, store_url=store_url))
        data = bikes(seed=seed)
        barrier.wait(timeout=120)
        version = client.datasets.log("bikes", data)
        results.put((version.id, version.version))
        client.close()
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize(
    "backend", ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]
)
def test_processes_logging_at_once_get_distinct_versions(
    make_client: Callable[..., Client],
    spawn_context: multiprocessing.context.SpawnContext,
    backend: str,
) -> None:
    client = make_client(backend)
    root, store_url = str(client.settings.root), client.settings.store_url
    barrier = spawn_context.Barrier(4)
    results = spawn_context.Queue()
    children = [
        spawn_context.Process(target=_log_in_child, args=(root, store_url, seed, barrier, results))
        for seed in range(4)
    ]
    for child in children:
        child.start()
    outcomes: list[Any] = []
    deadline = time.monotonic() + 120
    try:
        while len(outcomes) < 4 and time.monotonic() < deadline:
            try:
                outcomes.append(results.get(timeout=0.5))
            except queue.Empty:
                if not any(child.is_alive() for child in children) and results.empty():
                    break
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()

    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert sorted(number for _, number in outcomes) == [1, 2, 3, 4]
    versions = client.datasets.list("bikes")
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert {v.id for v in versions} == {i for i, _ in outcomes}
    # each version's default parent is the one before it, even under contention
    assert [v.parent_id for v in versions] == [None] + [v.id for v in versions[:-1]]


# ---------------------------------------------------------------------- large files
_LOG_BIG_FILE = """
import sys
from pathlib import Path
from loopml.config import init_workspace, load_settings
from loopml.sdk import Client

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

client = Client(load_settings(init_workspace(Path(sys.argv[1])), environ={}))
client.datasets.log("warm-up", Path(sys.argv[3]))  # imports and DuckDB set up
before = peak_kib()
version = client.datasets.log("big", Path(sys.argv[2]))
print("RESULT", before, peak_kib(), version.row_count, version.profile["x"]["mean"])
"""


def test_logging_a_large_parquet_file_streams(tmp_path: Path) -> None:
    """~400 MB of Parquet is logged by a process whose peak memory grows far less.

    DuckDB's profile scan works in 40-65 MB whatever the file's size, so the file is made
    large enough for "far less" to hold with a margin on a busy machine."""
    big = tmp_path / "big.parquet"
    rng = np.random.default_rng(0)
    schema = pa.schema([("x", pa.float64()), ("y", pa.float64()), ("k", pa.int64())])
    rows_per_group, groups = 1_000_000, 16
    with pq.ParquetWriter(big, schema, compression="none") as writer:
        for _ in range(groups):
            writer.write_table(
                pa.table(
                    {
                        "x": rng.random(rows_per_group),
                        "y": rng.standard_normal(rows_per_group),
                        "k": rng.integers(0, 1 << 40, rows_per_group),
                    },
                    schema=schema,
                )
            )
    small = tmp_path / "small.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0]}), small)
    size_kib = big.stat().st_size // 1024

    try:
        child = subprocess.run(
            [sys.executable, "-c", _LOG_BIG_FILE, str(tmp_path / "ws"), str(big), str(small)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:  # pytest keeps recent temporary folders: do not leave 400 MB behind
        big.unlink()
        shutil.rmtree(tmp_path / "ws", ignore_errors=True)

    assert child.returncode == 0, child.stderr
    result = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    assert result, child.stdout
    before, after, rows, mean = result[-1].split()[1:]
    assert int(rows) == rows_per_group * groups
    assert float(mean) == pytest.approx(0.5, abs=0.01)
    growth = int(after) - int(before)
    print(f"peak memory grew {growth} KiB while logging a {size_kib} KiB file")
    assert growth < size_kib / 3, f"peak memory grew {growth} KiB for a {size_kib} KiB file"
