"""Dataset versions: content-hashed, immutable tables stored in the artifact store."""

from __future__ import annotations

import builtins
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError

from loopml.artifacts import ArtifactRef, hash_bytes, hash_file
from loopml.data.profile import describe
from loopml.data.reads import DatasetRead, note_read
from loopml.errors import NotFoundError, ValidationError
from loopml.governance import append_event, require
from loopml.store import Stores, new_id, record_artifact, resolve_prefix
from loopml.store.paging import Keyset, Page, SortKey
from loopml.store.schema import dataset_versions
from loopml.uris import DatasetRef, parse_dataset_ref
from loopml.validation import check_name

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv", ".tsv": "csv"}
TableLike: TypeAlias = pd.DataFrame | pa.Table | str | Path
_VERSION_ID = re.compile(r"^ds-[0-9a-f]{4,24}$")
_PAGES = Keyset(
    "dataset versions",
    [SortKey(dataset_versions.c.name), SortKey(dataset_versions.c.version)],
)
_NEWEST = Keyset(
    "newest dataset versions",
    [
        SortKey(dataset_versions.c.created_at, descending=True),
        SortKey(dataset_versions.c.id, descending=True),
    ],
)
_NAMES = Keyset("datasets", [SortKey(dataset_versions.c.name)])


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset name: how many versions it has, its latest and when that was made."""

    name: str
    versions: int
    latest: int
    updated_at: float


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a named dataset."""

    id: str
    name: str
    version: int
    content_hash: str
    format: str
    layout: str
    files: list[dict[str, Any]]
    schema: list[dict[str, Any]]
    row_count: int
    size: int
    profile: dict[str, Any]
    time_column: str | None
    parent_id: str | None
    description: str | None
    created_by: str
    created_at: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"dataset:{self.name}@{self.version}"

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.schema]

    @classmethod
    def from_row(cls, row: Row[Any]) -> DatasetVersion:
        m = row._mapping
        return cls(
            id=m["id"],
            name=m["name"],
            version=m["version"],
            content_hash=m["content_hash"],
            format=m["format"],
            layout=m["layout"],
            files=m["storage"]["files"],
            schema=m["schema"],
            row_count=m["row_count"],
            size=m["size"],
            profile=m["profile"],
            time_column=m["time_column"],
            parent_id=m["parent_id"],
            description=m["description"],
            created_by=m["created_by"],
            created_at=m["created_at"],
        )


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, fmt in sorted(FORMATS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    return None


def _hash_source(path: Path) -> str:
    try:
        return hash_file(path)
    except OSError as exc:
        raise ValidationError(f"cannot log {path}: {exc.strerror or exc}") from exc


def _source_files(source: Path) -> tuple[list[tuple[str, Path]], str, str]:
    """[(relative name, path)], format, layout — refusing anything unreadable up front."""
    if not source.exists():
        raise ValidationError(f"cannot log {source}: no such file or folder")
    if source.is_file():
        fmt = _format_of(source)
        if fmt is None:
            raise ValidationError(
                f"cannot log {source}: unknown format; use .parquet, .pq, .csv, .csv.gz or .tsv"
            )
        return [(source.name, source)], fmt, "file"
    if not source.is_dir():
        raise ValidationError(f"cannot log {source}: it is neither a regular file nor a folder")
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValidationError(f"cannot log folder {source}: it holds no files")
    formats = {_format_of(p) for p in files}
    if None in formats or len(formats) != 1:
        raise ValidationError(
            f"cannot log folder {source}: every file must be Parquet or every file CSV, "
            f"found {sorted(str(f) for f in formats)}"
        )
    return [(str(p.relative_to(source)), p) for p in files], formats.pop() or "", "folder"


class DatasetService:
    """Log, find, load and compare dataset versions."""

    def __init__(self, stores: Stores, pins: dict[str, int] | None = None) -> None:
        self.stores = stores
        # name -> version that a floating reference (`bikes`, `@latest`) resolves to: how a
        # reproduction reads the data the original run read, whatever came since
        self.pins: dict[str, int] = dict(pins or {})

    # ------------------------------------------------------------------ writing
    def log(
        self,
        name: str,
        data: TableLike,
        *,
        time_column: str | None = None,
        parent: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        """Version `data` under `name`; identical content returns the existing version.

        The data is hashed, read and checked before anything is stored, so a rejected table
        leaves neither a version row nor blobs behind.
        """
        check_name("dataset", name)
        require(self.stores.actor, "write", "log datasets")
        parent_id = self.get(parent).id if parent is not None else None
        with tempfile.TemporaryDirectory(prefix="loopml-ds-") as tmp:
            source = self._materialize(data, Path(tmp))
            files, fmt, layout = _source_files(source)
            manifest: builtins.list[dict[str, Any]] = [
                {"path": rel, "digest": _hash_source(path), "size": path.stat().st_size}
                for rel, path in files
            ]
            content_hash: str = (
                manifest[0]["digest"]
                if layout == "file"
                else hash_bytes(json.dumps(manifest, sort_keys=True).encode())
            )
            existing = self._by_hash(name, content_hash)
            if existing is not None:
                return existing
            try:
                schema, profile, row_count = describe([p for _, p in files], fmt)
            except Exception as exc:  # DuckDB raises many kinds; all mean "unreadable table"
                raise ValidationError(f"cannot read {source} as {fmt}: {exc}") from exc
            columns = {c["name"] for c in schema}
            if time_column is not None and time_column not in columns:
                raise ValidationError(
                    f"time column {time_column!r} is not in the data; columns are {sorted(columns)}"
                )
            for item, (_, path) in zip(manifest, files, strict=True):
                if self.stores.artifacts.put_file(path).digest != item["digest"]:
                    raise ValidationError(f"cannot log {path}: it changed while being logged")
        media = "application/vnd.apache.parquet" if fmt == "parquet" else "text/csv"
        size = sum(int(m["size"]) for m in manifest)
        for _attempt in range(20):
            try:
                return self._insert(
                    name,
                    content_hash,
                    fmt,
                    layout,
                    manifest,
                    schema,
                    row_count,
                    size,
                    profile,
                    time_column,
                    parent_id,
                    description,
                    media,
                )
            except IntegrityError:
                existing = self._by_hash(name, content_hash)
                if existing is not None:
                    return existing
        raise ValidationError(f"could not allocate a version number for dataset {name!r}")

    def _insert(
        self,
        name: str,
        content_hash: str,
        fmt: str,
        layout: str,
        manifest: list[dict[str, Any]],
        schema: list[dict[str, Any]],
        row_count: int,
        size: int,
        profile: dict[str, Any],
        time_column: str | None,
        parent_id: str | None,
        description: str | None,
        media: str,
    ) -> DatasetVersion:
        engine = self.stores.engine
        with engine.begin() as conn:
            # Read the latest version inside the write transaction, so that the new number
            # and the default parent (the previous version) hold under concurrent logging.
            latest = conn.execute(
                select(dataset_versions.c.id, dataset_versions.c.version)
                .where(dataset_versions.c.name == name)
                .order_by(dataset_versions.c.version.desc())
                .limit(1)
            ).first()
            for item in manifest:
                record_artifact(conn, engine, ArtifactRef(item["digest"], item["size"]), media)
            values = {
                "id": new_id("ds"),
                "name": name,
                "version": latest.version + 1 if latest else 1,
                "content_hash": content_hash,
                "format": fmt,
                "layout": layout,
                "storage": {"files": manifest},
                "schema": schema,
                "row_count": row_count,
                "size": size,
                "profile": profile,
                "time_column": time_column,
                "parent_id": parent_id if parent_id is not None else latest.id if latest else None,
                "description": description,
                "created_by": self.stores.actor.name,
                "created_at": time.time(),
            }
            conn.execute(dataset_versions.insert().values(**values))
            append_event(
                conn,
                self.stores.actor,
                "dataset.log",
                f"dataset:{name}@{values['version']}",
                {"content_hash": content_hash, "rows": row_count, "parent": values["parent_id"]},
            )
        return self.get(str(values["id"]))

    def _materialize(self, data: TableLike, tmp: Path) -> Path:
        return materialize(data, tmp)

    # ------------------------------------------------------------------ reading
    def _by_hash(self, name: str, content_hash: str) -> DatasetVersion | None:
        with self.stores.engine.connect() as conn:
            row = conn.execute(
                select(dataset_versions).where(
                    dataset_versions.c.name == name, dataset_versions.c.content_hash == content_hash
                )
            ).first()
        return DatasetVersion.from_row(row) if row else None

    def get(self, ref: str | DatasetVersion) -> DatasetVersion:
        """A version by reference: `bikes`, `bikes@3`, `dataset:bikes@latest`, or its id."""
        if isinstance(ref, DatasetVersion):
            return ref
        query = select(dataset_versions)
        if isinstance(ref, str) and _VERSION_ID.match(ref):
            with self.stores.engine.connect() as conn:
                try:
                    found = resolve_prefix(conn, dataset_versions, ref, "dataset version")
                except NotFoundError:
                    found = None
                row = conn.execute(query.where(dataset_versions.c.id == found)).first()
            if row is not None:
                return _noted(ref, DatasetVersion.from_row(row), pinned=True)
            # not an id after all: datasets may be named like one, e.g. `ds-2024abcd`
        parsed = parse_dataset_ref(ref)
        if parsed.version is None and parsed.name in self.pins:
            parsed = DatasetRef(parsed.name, self.pins[parsed.name])
        query = query.where(dataset_versions.c.name == parsed.name)
        if parsed.version is None:
            query = query.order_by(dataset_versions.c.version.desc()).limit(1)
        else:
            query = query.where(dataset_versions.c.version == parsed.version)
        with self.stores.engine.connect() as conn:
            row = conn.execute(query).first()
            latest = conn.execute(
                select(func.max(dataset_versions.c.version)).where(
                    dataset_versions.c.name == parsed.name
                )
            ).scalar()
        if row is None:
            hint = (
                f"dataset {parsed.name!r} has versions 1 to {latest}"
                if latest
                else "`loopml data list` shows what exists"
            )
            raise NotFoundError(f"no dataset version {parsed}; {hint}")
        return _noted(ref, DatasetVersion.from_row(row), pinned=parsed.version is not None)

    def list(
        self,
        name: str | None = None,
        *,
        newer_than: int | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[DatasetVersion]:
        """Versions by name, then version number (oldest first), one page at a time;
        `newer_than` keeps the versions after that number (with `name`)."""
        query = select(dataset_versions)
        if name is not None:
            query = query.where(dataset_versions.c.name == name)
        if newer_than is not None:
            if isinstance(newer_than, bool) or not isinstance(newer_than, int):
                raise ValidationError(f"newer_than must be a version number, got {newer_than!r}")
            query = query.where(dataset_versions.c.version > newer_than)
        with self.stores.engine.connect() as conn:
            rows, token = _PAGES.page(
                conn,
                query,
                max_results=max_results,
                page_token=page_token,
                scope={"name": name, "newer_than": newer_than},
            )
        return Page([DatasetVersion.from_row(r) for r in rows], token)

    def newest(
        self, *, max_results: int = 20, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        """Versions of every dataset, the newest first, one page at a time."""
        with self.stores.engine.connect() as conn:
            rows, token = _NEWEST.page(
                conn, select(dataset_versions), max_results=max_results, page_token=page_token
            )
        return Page([DatasetVersion.from_row(r) for r in rows], token)

    def names(
        self, *, max_results: int = 100, page_token: str | None = None
    ) -> Page[DatasetSummary]:
        """Each dataset once, by name, with its version count and latest version."""
        versions = dataset_versions.c
        query = select(
            versions.name,
            func.count().label("versions"),
            func.max(versions.version).label("latest"),
            func.max(versions.created_at).label("updated_at"),
        ).group_by(versions.name)
        with self.stores.engine.connect() as conn:
            rows, token = _NAMES.page(conn, query, max_results=max_results, page_token=page_token)
        return Page(
            [DatasetSummary(r.name, int(r.versions), int(r.latest), r.updated_at) for r in rows],
            token,
        )

    def local_files(self, ref: str | DatasetVersion) -> builtins.list[Path]:
        """Verified local copies of the version's files, in order."""
        version = self.get(ref)
        return [self.stores.artifacts.local_path(f["digest"]) for f in version.files]

    def load_arrow(
        self, ref: str | DatasetVersion, columns: builtins.list[str] | None = None
    ) -> pa.Table:
        version = self.get(ref)
        return read_version(version, self.local_files(version), columns)

    def load(
        self, ref: str | DatasetVersion, columns: builtins.list[str] | None = None
    ) -> pd.DataFrame:
        """The version as a pandas DataFrame."""
        frame: pd.DataFrame = self.load_arrow(ref, columns).to_pandas()
        return frame


def materialize(data: TableLike, tmp: Path) -> Path:
    """A file or folder holding `data`: a path as is, a table written as Parquet in `tmp`."""
    if isinstance(data, pd.DataFrame):
        if not all(isinstance(c, str) for c in data.columns):
            raise ValidationError("DataFrame column names must all be strings")
        try:
            data = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, ValueError) as exc:
            raise ValidationError(
                f"cannot convert the DataFrame to a table ({exc}): every column needs a "
                "unique name and values of one type"
            ) from exc
    if isinstance(data, pa.Table):
        duplicated = sorted({c for c in data.column_names if data.column_names.count(c) > 1})
        if duplicated:
            raise ValidationError(f"column names must be unique; repeated: {duplicated}")
        target = tmp / "data.parquet"
        pq.write_table(data, target, compression="zstd")
        return target
    if isinstance(data, str | Path):
        return Path(data)
    raise ValidationError(
        f"cannot log a {type(data).__name__}: pass a pandas DataFrame, a pyarrow Table, "
        "or the path of a Parquet/CSV file or folder"
    )


def read_version(
    version: DatasetVersion, paths: list[Path], columns: list[str] | None = None
) -> pa.Table:
    """A version's table from local copies of its files (`paths`, in the order of
    `version.files`): where the files came from (the store, a server) does not matter."""
    if columns is not None:
        missing = sorted(set(columns) - set(version.columns))
        if missing:
            raise ValidationError(f"{version.uri} has no columns {missing}")
    tables = []
    for item, path in zip(version.files, paths, strict=True):
        if version.format == "parquet":
            tables.append(pq.read_table(path, columns=columns))
        else:
            # Blobs carry no file extension: take delimiter and compression from the
            # logged file's name.
            logged = str(item["path"]).lower()
            parse = pacsv.ParseOptions(delimiter="\t" if logged.endswith(".tsv") else ",")
            compression = "gzip" if logged.endswith(".gz") else None
            with pa.input_stream(str(path), compression=compression) as stream:
                table = pacsv.read_csv(stream, parse_options=parse)
            tables.append(table.select(columns) if columns else table)
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def _noted(ref: str, version: DatasetVersion, *, pinned: bool) -> DatasetVersion:
    note_read(DatasetRead(ref, version.id, version.uri, version.content_hash, pinned))
    return version
