"""A run's params, latest metric values and tags as one JSON document: `runs.key_values`.

A search returns hundreds of runs with every key-value of each; decoding one short
document per run costs a fraction of stepping through their rows in `params`,
`latest_metrics` and `tags`. Those tables stay the source of truth (filters and ordering
run on them), and the document is a copy that is either absent or current:

* it is built when the run ends, in the transaction that ends it (`build`), so the writes
  of a live run do not pay for it;
* every later transaction that writes to those tables calls `keep_current`, which
  rebuilds a document that exists;
* readers fall back to the tables for runs without one (live runs, mostly).

Only Python's `json` writes and reads the document: SQLite's JSON functions print floats
with 15 significant digits, which would change metric values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

KeyValues = tuple[dict[str, str], dict[str, float], dict[str, str]]

_READ = (
    "SELECT 'p', \"key\", value, NULL FROM params WHERE run_id = {mark} "
    "UNION ALL SELECT 'm', \"key\", NULL, value FROM latest_metrics WHERE run_id = {mark} "
    "UNION ALL SELECT 't', \"key\", value, NULL FROM tags WHERE run_id = {mark}"
)
_BUILT = "SELECT key_values IS NOT NULL FROM runs WHERE id = {mark}"
_WRITE = "UPDATE runs SET key_values = {mark} WHERE id = {mark}"
_BUILT_BY_MARK = {mark: _BUILT.format(mark=mark) for mark in ("?", "%s")}  # a hot path
# PostgreSQL lets transactions that write to one run overlap: the one that reads the rows
# for a document must hold the run row first, so that a writer it cannot see yet waits for
# it and then rebuilds. NO KEY UPDATE does not wait for the KEY SHARE locks that the foreign
# keys of concurrent inserts take. SQLite runs one writer at a time (BEGIN IMMEDIATE).
_LOCK = " FOR NO KEY UPDATE"
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()


def encode(params: Mapping[str, str], metrics: Mapping[str, float], tags: Mapping[str, str]) -> str:
    """The document; empty sections are left out."""
    return _ENCODER.encode(as_document(params, metrics, tags))


def as_document(
    params: Mapping[str, str], metrics: Mapping[str, float], tags: Mapping[str, str]
) -> dict[str, Mapping[str, Any]]:
    """The document as `decode`-ing its text gives it back."""
    return {
        name: values
        for name, values in (("params", params), ("metrics", metrics), ("tags", tags))
        if values
    }


def decode(text: str) -> KeyValues:
    """(params, metrics, tags) of a stored document; new dicts on every call."""
    doc: dict[str, Any] = _DECODER.raw_decode(text)[0]  # json.loads without its checks
    return doc.get("params", {}), doc.get("metrics", {}), doc.get("tags", {})


def build(conn: Connection, run_id: str) -> str:
    """The run's document from its rows, as the caller's write transaction sees them."""
    mark = _mark(conn)
    cursor = conn.connection.cursor()
    try:
        lock_run(conn, cursor, run_id)
        cursor.execute(_READ.format(mark=mark), (run_id, run_id, run_id))
        rows = list(cursor.fetchall())
    finally:
        cursor.close()
    return dump(document(rows))


def lock_run(conn: Connection, cursor: Any, run_id: str) -> None:
    """Before reading the rows a document is built from: hold the run row (PostgreSQL;
    SQLite's one writer at a time needs nothing)."""
    if conn.dialect.name != "sqlite":
        cursor.execute(f"SELECT id FROM runs WHERE id = {_mark(conn)}{_LOCK}", (run_id,))


def document(rows: list[Any]) -> dict[str, Mapping[str, Any]]:
    """The document of (section, key, text, number) rows, section 'p', 'm' or 't' (its
    text is `dump(document(rows))`)."""
    rows.sort()  # by section, then key: (section, key) is unique
    sections: dict[str, dict[str, Any]] = {"p": {}, "m": {}, "t": {}}
    for kind, key, text, number in rows:
        sections[kind][key] = number if kind == "m" else text
    return as_document(sections["p"], sections["m"], sections["t"])


def dump(document_: Mapping[str, Any]) -> str:
    """The stored text of a document."""
    return _ENCODER.encode(document_)


def dump_sorted(document_: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """The stored text of a document made by `document`, and the same document's text
    with every key sorted (as `json.dumps(..., sort_keys=True)` with compact separators
    writes it: what the run digest covers). Each section is encoded once for both: the
    keys inside a section are in sorted order already."""
    parts = [(name, _ENCODER.encode(values)) for name, values in document_.items()]
    stored = "{" + ",".join(f'"{name}":{text}' for name, text in parts) + "}"
    parts.sort()
    return stored, "{" + ",".join(f'"{name}":{text}' for name, text in parts) + "}"


def keep_current(conn: Connection, run_id: str) -> bool:
    """After writing params, metrics or tags of a run: rebuild its document if it has one.

    True when it had one: the run had already ended (the caller audits such late writes).
    """
    mark = _mark(conn)
    built = _BUILT_BY_MARK[mark] if conn.dialect.name == "sqlite" else _BUILT_BY_MARK[mark] + _LOCK
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(built, (run_id,))
        found = cursor.fetchone()
        if found is not None and found[0]:
            cursor.execute(_WRITE.format(mark=mark), (build(conn, run_id), run_id))
            return True
        return False
    finally:
        cursor.close()


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"
