"""Tables of the metadata store.

SQLAlchemy Core tables rather than ORM classes: the hot paths (bulk metric inserts,
searches) are set-based, and Core keeps them a single statement each.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

KEY_LEN = 250
ID_LEN = 40

artifacts = Table(
    "artifacts",
    metadata,
    Column("digest", String(80), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(120), nullable=False),
    Column("created_at", Float, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("name", String(KEY_LEN), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("experiment_id", String(ID_LEN), ForeignKey("experiments.id"), nullable=False),
    Column("name", String(KEY_LEN), nullable=False),
    Column("parent_id", String(ID_LEN), ForeignKey("runs.id"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("git_diff_digest", String(80), nullable=True),
    Column("environment", JSON, nullable=True),
    Column("journal_offset", BigInteger, nullable=False, default=0),
    Column("host", String(KEY_LEN), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    # params, latest metric values and tags as one JSON document, rebuilt from their tables
    # by every write to them (tracking/key_values.py); searches read it instead of the rows
    Column("key_values", Text, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), nullable=False),
    Column("key", String(KEY_LEN), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(80), ForeignKey("artifacts.digest"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(120), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("name", String(KEY_LEN), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(80), nullable=False),
    Column("format", String(16), nullable=False),
    Column("layout", String(16), nullable=False),
    Column("storage", JSON, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("time_column", String(KEY_LEN), nullable=True),
    Column("parent_id", String(ID_LEN), ForeignKey("dataset_versions.id"), nullable=True),
    Column("description", Text, nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),
    UniqueConstraint("name", "content_hash", name="uq_dataset_versions_name_content"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column(
        "dataset_version_id", String(ID_LEN), ForeignKey("dataset_versions.id"), primary_key=True
    ),
    Column("role", String(64), nullable=False),
)

# ---------------------------------------------------------------------- governance
principals = Table(
    "principals",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("name", String(KEY_LEN), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("principal_id", String(ID_LEN), ForeignKey("principals.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(KEY_LEN), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("time", Float, nullable=False),
    Column("actor", String(KEY_LEN), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object", String(300), nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_object", "object"),
)

# The single row that serialises appends to the audit chain (locked FOR UPDATE).
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# ---------------------------------------------------------------------- registry
registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(KEY_LEN), primary_key=True),
    Column("description", Text, nullable=True),
    Column("policy", JSON, nullable=True),
    Column("protected_aliases", JSON, nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("model", String(KEY_LEN), ForeignKey("registered_models.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), nullable=True),
    Column("artifact_path", String(1000), nullable=False),
    Column("manifest_digest", String(80), nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("signature", JSON, nullable=True),
    Column("metrics", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("description", Text, nullable=True),
    Column("card", JSON, nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model", String(KEY_LEN), ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_by", String(KEY_LEN), nullable=False),
    Column("updated_at", Float, nullable=False),
)

model_evaluations = Table(
    "model_evaluations",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("model_version_id", String(ID_LEN), ForeignKey("model_versions.id"), nullable=False),
    Column("dataset_version_id", String(ID_LEN), ForeignKey("dataset_versions.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("result", JSON, nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_model_evaluations_version", "model_version_id"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("model", String(KEY_LEN), ForeignKey("registered_models.name"), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous_version", Integer, nullable=True),
    Column("requester", String(KEY_LEN), nullable=False),
    Column("status", String(16), nullable=False),
    Column("policy", JSON, nullable=False),
    Column("checks", JSON, nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("decided_at", Float, nullable=True),
    Column("outcome", Text, nullable=True),
)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    Column("request_id", String(ID_LEN), ForeignKey("approval_requests.id"), primary_key=True),
    Column("principal", String(KEY_LEN), primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("comment", Text, nullable=True),
    Column("decided_at", Float, nullable=False),
)

# ---------------------------------------------------------------------- deployments
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(KEY_LEN), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("routes", JSON, nullable=False),
    Column("shadows", JSON, nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("sticky_key", String(KEY_LEN), nullable=True),
    Column("previous_routes", JSON, nullable=True),
    Column("config", JSON, nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_by", String(KEY_LEN), nullable=False),
    Column("updated_at", Float, nullable=False),
)

deployment_history = Table(
    "deployment_history",
    metadata,
    Column("deployment", String(KEY_LEN), ForeignKey("deployments.name"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("routes", JSON, nullable=False),
    Column("shadows", JSON, nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("actor", String(KEY_LEN), nullable=False),
    Column("at", Float, nullable=False),
)

# Parquet segments of the prediction and feedback logs, kept in the artifact store.
log_segments = Table(
    "log_segments",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("deployment", String(KEY_LEN), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("day", String(10), nullable=False),
    Column("digest", String(80), ForeignKey("artifacts.digest"), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("min_time", Float, nullable=False),
    Column("max_time", Float, nullable=False),
    Column("source", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_log_segments_deployment_kind_day", "deployment", "kind", "day"),
)

monitors = Table(
    "monitors",
    metadata,
    Column("name", String(KEY_LEN), primary_key=True),
    Column("source", JSON, nullable=False),  # {"deployment": name} or {"dataset": name}
    Column("reference", String(KEY_LEN), nullable=True),  # dataset URI; None = from lineage
    Column("config", JSON, nullable=False),  # columns, window, schedule, tests, rules
    Column("cursor", Float, nullable=True),  # end of the last window processed
    Column("next_run_at", Float, nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

monitor_results = Table(
    "monitor_results",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("monitor", String(KEY_LEN), ForeignKey("monitors.name"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("window_start", Float, nullable=True),
    Column("window_end", Float, nullable=True),
    Column("label", String(KEY_LEN), nullable=False),
    Column("status", String(16), nullable=False),
    Column("dataset_drift", Boolean, nullable=True),
    Column("drift_share", Float, nullable=True),
    Column("rows", Integer, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("monitor", "seq"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("monitor", String(KEY_LEN), ForeignKey("monitors.name"), nullable=False),
    Column("rule", String(KEY_LEN), nullable=False),
    Column("subject", String(KEY_LEN), nullable=False),  # a column, a metric, a model version
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),  # open | resolved
    Column("open_key", String(KEY_LEN * 2 + 2), nullable=True),  # set while open: one per rule
    Column("message", Text, nullable=False),
    Column("value", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("occurrences", Integer, nullable=False),
    Column("first_result", String(ID_LEN), nullable=False),
    Column("last_result", String(ID_LEN), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("resolved_at", Float, nullable=True),
    UniqueConstraint("open_key"),
    Index("ix_alerts_monitor_state", "monitor", "state"),
)
