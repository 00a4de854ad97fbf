"""The `--from` URI of `loopml import mlflow`, checked and opened: an MLflow database
(SQLite or PostgreSQL) with its artifact root, or a running MLflow server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from loopml.errors import ValidationError
from loopml.imports.mlflow.records import MlflowSource
from loopml.imports.mlflow.rest_source import RestSource
from loopml.imports.mlflow.sql_source import SqlSource

DATABASES = ("sqlite", "postgresql")


def open_source(
    uri: str, artifact_root: Path | None = None, token: str | None = None
) -> MlflowSource:
    """The source `uri` names; ValidationError with a hint for what cannot be used."""
    scheme = urlparse(uri).scheme.lower()
    if scheme in ("http", "https"):
        return RestSource(uri.rstrip("/"), token)
    base = scheme.split("+", 1)[0]
    if base not in DATABASES:
        raise ValidationError(
            f"cannot import from {uri!r}: unknown scheme {scheme or '(none)'!r}; pass an "
            "MLflow tracking URI: sqlite:///path/mlflow.db or postgresql://user@host/db "
            "(with --artifact-root), or http://host:5000 (a running MLflow server)"
        )
    if artifact_root is None:
        raise ValidationError(
            f"{uri} holds the runs but not their artifacts: pass --artifact-root, the "
            "folder MLflow's --default-artifact-root or --artifacts-destination names"
        )
    if not artifact_root.is_dir():
        raise ValidationError(
            f"artifact root {artifact_root} is not a folder; pass the folder MLflow wrote "
            "artifacts to"
        )
    try:
        url = make_url(uri)
    except ArgumentError:
        raise ValidationError(f"cannot read database URI {uri!r}") from None
    if url.get_backend_name() == "sqlite":
        if not url.database or not Path(url.database).is_file():
            raise ValidationError(
                f"no MLflow database at {url.database!r}; sqlite URIs name a file: "
                "sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
    elif url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # the driver loopml ships
    label = url.render_as_string(hide_password=True)
    try:
        return SqlSource(url.render_as_string(hide_password=False), artifact_root, label)
    except OperationalError as exc:
        raise ValidationError(
            f"cannot open {label}: {str(exc.orig).strip()}; check that the database "
            "server is running and the URI's user may read it"
        ) from None
