"""Typed settings: defaults, then `loopml.toml`, then `LOOPML_*` environment variables."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from loopml.errors import ConfigError

ENV_PREFIX = "LOOPML_"


class Settings(BaseModel):
    """Everything loopml needs to know to reach its stores.

    Every field can be set in `loopml.toml` (same name) or through the environment variable
    `LOOPML_<NAME>` (upper case), which wins.
    """

    model_config = {"frozen": True, "extra": "forbid"}

    root: Path = Field(description="Workspace folder; relative paths below resolve against it.")
    store_url: str = Field(
        default="sqlite:///.loopml/loopml.db",
        description="SQLAlchemy URL of the metadata store (SQLite file or PostgreSQL).",
    )
    artifacts_url: str = Field(
        default=".loopml/artifacts",
        description="Artifact store: a local folder or an s3:// URL.",
    )
    journal_dir: str = Field(
        default=".loopml/journal",
        description="Local folder for metric journals that survive a killed process.",
    )
    cache_dir: str = Field(
        default=".loopml/cache",
        description="Local folder for verified copies of remote artifacts.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible server (MinIO, moto, …)."
    )
    presigned_urls: bool | None = Field(
        default=None,
        description="`loopml server` hands clients presigned URLs to upload and download "
        "artifacts straight to and from the S3 bucket (the server still verifies and records "
        "them); none: on when artifacts_url is s3://.",
    )
    presigned_url_expiry_s: int = Field(
        default=900,
        ge=1,
        le=7 * 24 * 3600,
        description="How long a presigned URL may be used, in seconds (S3 allows up to 7 days).",
    )
    artifacts_fsync: bool = Field(
        default=False,
        description="fsync every stored blob before the call returns (survives power loss).",
    )
    metric_flush_interval_s: float = Field(
        default=2.0,
        gt=0,
        description="Longest time a logged metric waits before reaching the store.",
    )
    metric_flush_points: int = Field(
        default=5000, gt=0, description="Buffered metric points that trigger a write to the store."
    )
    metric_snapshot_points: int = Field(
        default=50_000,
        ge=0,
        description="Metric series this long get a columnar snapshot when their run ends "
        "(read back whole in milliseconds); 0 turns snapshots off.",
    )
    token: str | None = Field(
        default=None,
        description="API token: act as its principal instead of the unauthenticated local user.",
        repr=False,
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster for the ray executor (ray://host:10001); none starts one.",
    )
    require_tokens: bool = Field(
        default=False,
        description="Refuse changes made without an API token (the local user may only read).",
    )
    token_check_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="How long a checked token is trusted before revocation is checked again.",
    )
    audit_key: str | None = Field(
        default=None,
        description="Secret key of the audit trail's MACs (hex or base64, 32+ bytes); "
        "none: the key file.",
        repr=False,
    )
    audit_key_file: str = Field(
        default=".loopml/keys/audit.key",
        description="File holding the audit key, created (mode 0600) for a new trail.",
    )
    audit_anchor_file: str = Field(
        default=".loopml/keys/audit.anchor",
        description="Append-only file checkpointing the audit trail's head outside the store.",
    )
    serving_auth: Literal["tokens", "open"] = Field(
        default="tokens",
        description="Data plane access: `tokens` (each predict or feedback request needs a "
        "deployment token with that scope) or `open` (no token asked: local demos only).",
    )
    online_store_url: str = Field(
        default="sqlite:///.loopml/online.db",
        description="Online feature store: sqlite:///PATH (embedded) or redis://HOST:PORT/DB.",
    )
    webhook_hosts: tuple[str, ...] = Field(
        default=(),
        description="Hosts (`name` or `name:port`, `*.suffix` for a domain) that alert "
        "webhooks may call even when they resolve to a private, loopback or link-local "
        "address; a comma-separated list in the environment.",
    )
    webhook_private_hosts: bool | None = Field(
        default=None,
        description="Whether alert webhooks may call private, loopback and link-local "
        "addresses not listed in webhook_hosts; none: yes for a local workspace, no under "
        "`loopml server` (an editor's monitor must not make the server reach its own network).",
    )
    reproduce_run: str | None = Field(
        default=None,
        description="Set by `loopml reproduce`: floating dataset references resolve to the "
        "versions this run read, and new runs are tagged `loopml.reproduces`.",
    )

    @field_validator("webhook_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("store_url")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(
                "store_url must be a sqlite:/// or postgresql+psycopg:// URL, got " + repr(value)
            )
        return value

    def resolved_store_url(self) -> str:
        """The store URL with a relative SQLite path made absolute against the workspace."""
        prefix = "sqlite:///"
        if self.store_url.startswith(prefix):
            path = self.store_url[len(prefix) :]
            if path and path != ":memory:" and not path.startswith("/"):
                return prefix + str(self.root / path)
        if self.store_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + self.store_url[len("postgresql://") :]
        return self.store_url

    def presigning(self) -> bool:
        """Whether the server offers presigned URLs (only an S3 store can)."""
        on_s3 = self.artifacts_url.startswith("s3://")
        return on_s3 if self.presigned_urls is None else self.presigned_urls and on_s3

    def resolved_artifacts_url(self) -> str:
        """The artifact URL; a relative folder is made absolute against the workspace."""
        if "://" in self.artifacts_url:
            return self.artifacts_url
        return str(self.local_path(self.artifacts_url))

    def local_path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    names = set(Settings.model_fields) - {"root"}
    found: dict[str, Any] = {}
    for name in names:
        key = ENV_PREFIX + name.upper()
        if key in environ:
            found[name] = environ[key]
    return found


def load_settings(root: Path, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings for the workspace at `root`."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    config_file = root / "loopml.toml"
    if config_file.exists():
        try:
            values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read {config_file}: {exc.strerror or exc}") from exc
    origins = dict.fromkeys(values, str(config_file))
    env_values = _env_overrides(environ)
    values.update(env_values)
    origins.update({name: ENV_PREFIX + name.upper() for name in env_values})
    arguments = {k: v for k, v in overrides.items() if v is not None}
    values.update(arguments)
    origins.update(dict.fromkeys(arguments, "an argument"))
    values["root"] = root
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(_describe_error(err, origins) for err in exc.errors())
        raise ConfigError(f"invalid loopml settings: {problems}") from exc


def _describe_error(err: ErrorDetails, origins: dict[str, str]) -> str:
    """`name = value (from where): what is wrong`, so the message points at the fix."""
    name = ".".join(str(p) for p in err["loc"])
    where = origins.get(str(err["loc"][0]) if err["loc"] else "", "the defaults")
    return f"{name} = {err['input']!r} (from {where}): {err['msg']}"
