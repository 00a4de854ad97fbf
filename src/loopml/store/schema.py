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

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", String(ID_LEN), ForeignKey("experiments.id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Text, nullable=False),
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
    # set when the run is deleted (soft: searches hide it, a restore brings it back)
    Column("deleted_at", Float, nullable=True),
    # search pages walk these newest first and stop after a page (tracking/run_query.py)
    Index("ix_runs_experiment_start_id", "experiment_id", "start_time", "id"),
    Index("ix_runs_parent", "parent_id"),
    Index("ix_runs_start_id", "start_time", "id"),
)

# A run's params, tags and latest metric values are found by (run_id, key): a filter's
# lookup of each candidate, a document's rebuild, an upsert. On SQLite these tables are
# that key's B-tree itself (WITHOUT ROWID), so a lookup is one descent that ends at the
# value, not a search of the key's index and then of the table; and an entry of another
# index carries its row's (run_id, key), so a walk of latest_metrics' (experiment, key,
# value) index yields run ids without visiting the table (migration 0029).
params = Table(
    "params",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,  # as params
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
    # the run's own (runs never move): a search of one experiment ordered by a metric walks
    # its (experiment, key, value) entries only (tracking/run_query.py)
    Column("experiment_id", String(ID_LEN), nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
    Index("ix_latest_metrics_experiment_key_value", "experiment_id", "key", "value"),
    sqlite_with_rowid=False,  # as params
)

# Metric streams of remote clients: how many bytes of each client journal a run has
# absorbed. A batch is a byte range of that journal, so a batch sent twice (a retry, or a
# replay after the client was killed) is recognised and written once (tracking/streams.py).
run_streams = Table(
    "run_streams",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("stream_id", String(ID_LEN), primary_key=True),
    Column("offset", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
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

# A finished run's long metric series as one Parquet blob (step, value, timestamp), read
# instead of the rows while `points` still equals the rows' count (points are append-only).
metric_snapshots = Table(
    "metric_snapshots",
    metadata,
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(KEY_LEN), primary_key=True),
    Column("digest", String(80), ForeignKey("artifacts.digest"), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
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
    # None for a replay of a deployment's logged traffic (the window is in `result`)
    Column("dataset_version_id", String(ID_LEN), ForeignKey("dataset_versions.id"), nullable=True),
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
    Index("ix_approval_requests_created_at_id", "created_at", "id"),
    Index("ix_approval_requests_model_created_at_id", "model", "created_at", "id"),
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

# Data-plane tokens: a hashed secret that lets its holder predict or send feedback to one
# deployment (scopes: "predict", "feedback", comma-separated).
deployment_tokens = Table(
    "deployment_tokens",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("deployment", String(KEY_LEN), ForeignKey("deployments.name"), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(KEY_LEN), nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_deployment_tokens_deployment", "deployment"),
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
    # The span of the rows' event times (their arrival time where they carry none); null in
    # segments written before event times were logged: min_time and max_time stand in.
    Column("min_event_time", Float, nullable=True),
    Column("max_event_time", Float, nullable=True),
    Column("source", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_log_segments_deployment_kind_day", "deployment", "kind", "day"),
    Index("ix_log_segments_deployment_kind_min_time", "deployment", "kind", "min_time"),
    Index("ix_log_segments_digest", "digest"),
)

# How far each prediction-log journal is in committed segments: moved in the transaction
# that registers a flush's segments, so compaction may replace those segments freely.
log_journals = Table(
    "log_journals",
    metadata,
    Column("journal_id", String(64), primary_key=True),
    Column("committed_offset", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Blobs of segments that compaction replaced: deleted by a later compaction once no
# reader can still be holding them (see prediction_log/compaction.py).
log_retired_blobs = Table(
    "log_retired_blobs",
    metadata,
    Column("digest", String(80), primary_key=True),
    Column("retired_at", Float, nullable=False),
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
    Column("acknowledged_by", String(KEY_LEN), nullable=True),  # someone has seen it
    Column("acknowledged_at", Float, nullable=True),
    UniqueConstraint("open_key"),
    Index("ix_alerts_monitor_state", "monitor", "state"),
    Index("ix_alerts_opened_at_id", "opened_at", "id"),
    Index("ix_alerts_monitor_opened_at_id", "monitor", "opened_at", "id"),
)

# ---------------------------------------------------------------------- pipelines
step_cache = Table(
    "step_cache",
    metadata,
    # blake3 over the step's code fingerprint, its parameters and its inputs' content hashes
    Column("key", String(80), primary_key=True),
    Column("pipeline", String(KEY_LEN), nullable=False),
    Column("step", String(KEY_LEN), nullable=False),
    Column("output", JSON, nullable=False),  # how to reach the output (pipelines/outputs.py)
    # the dataset references the step resolved while it ran (data/reads.py): a floating
    # one (`bikes`) that now means other content makes the entry stale
    Column("reads", JSON, nullable=True),
    Column("run_id", String(ID_LEN), ForeignKey("runs.id"), nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_step_cache_pipeline_step", "pipeline", "step"),
)

# ---------------------------------------------------------------------- rollouts
# A progressive rollout of a candidate version on a deployment. `revision` guards every
# transition (compare-and-set); `active_key` holds the deployment's name while the rollout
# is unfinished, so the unique constraint allows one active rollout per deployment.
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("deployment", String(KEY_LEN), ForeignKey("deployments.name"), nullable=False),
    Column("candidate", String(KEY_LEN), nullable=False),  # model:NAME/VERSION
    Column("stable", String(KEY_LEN), nullable=False),
    Column("plan", JSON, nullable=False),
    Column("state", String(24), nullable=False),
    Column("step", Integer, nullable=False),  # index into plan["steps"]
    Column("step_started_at", Float, nullable=True),  # set once the step's routing is live
    Column("target", JSON, nullable=False),  # the routing this state asks for
    Column("applied", Boolean, nullable=False),  # target confirmed on the deployment
    Column("approval_id", String(ID_LEN), nullable=True),
    Column("reasons", JSON, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("active_key", String(KEY_LEN), nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("active_key"),
    Index("ix_rollouts_deployment", "deployment"),
)

rollout_events = Table(
    "rollout_events",
    metadata,
    Column("rollout_id", String(ID_LEN), ForeignKey("rollouts.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("action", String(24), nullable=False),  # start, step, promote, rollback, abort
    Column("state", String(24), nullable=False),
    Column("step", Integer, nullable=False),
    Column("weight", Float, nullable=False),
    Column("analysis", JSON, nullable=True),
    Column("reasons", JSON, nullable=False),
    Column("actor", String(KEY_LEN), nullable=False),
    Column("at", Float, nullable=False),
)

# Pipelines the controller may launch: registered by an admin under a name, pinned to the
# code fingerprint they had then (a changed fingerprint needs a new registration).
registered_pipelines = Table(
    "registered_pipelines",
    metadata,
    Column("name", String(KEY_LEN), primary_key=True),
    Column("import_path", String(KEY_LEN), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # pipeline | function
    Column("fingerprint", String(80), nullable=False),
    Column("registered_by", String(KEY_LEN), nullable=False),
    Column("registered_at", Float, nullable=False),
)

# Triggers and the controller's work queue: one event per (trigger, cause); the unique
# constraint is the deduplication, the owner and lease make claiming crash-safe.
triggers = Table(
    "triggers",
    metadata,
    Column("name", String(KEY_LEN), primary_key=True),
    Column("kind", String(16), nullable=False),  # dataset | alert | schedule
    Column("source", JSON, nullable=False),  # {"dataset"}, {"monitor", "rule"}, {"every_s"/"cron"}
    Column("pipeline", String(KEY_LEN), nullable=False),  # import path "module:attr"
    Column("params", JSON, nullable=False),
    Column("cooldown_s", Float, nullable=False),
    Column("rollout", JSON, nullable=True),  # {"deployment", "plan"}
    Column("enabled", Boolean, nullable=False),
    Column("cursor", Float, nullable=False),  # causes at or below it were seen
    Column("last_fired_at", Float, nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_role", String(16), nullable=False),  # who may disable or delete it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

trigger_events = Table(
    "trigger_events",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("trigger_name", String(KEY_LEN), ForeignKey("triggers.name"), nullable=False),
    Column("cause", String(KEY_LEN), nullable=False),
    Column("cause_info", JSON, nullable=False),
    Column("state", String(24), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("owner", String(KEY_LEN), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("pipeline_run_id", String(KEY_LEN), nullable=True),
    Column("outcome", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("rollout_state", String(16), nullable=True),
    Column("rollout", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("trigger_name", "cause"),
    Index("ix_trigger_events_state", "state"),
    Index("ix_trigger_events_rollout_state", "rollout_state"),
)

# Which controller drives the loop when several servers run one (controller/driver_lease.py):
# one row per loop, held by its owner until `expires_at`, then free for another to take.
driver_leases = Table(
    "driver_leases",
    metadata,
    Column("name", String(KEY_LEN), primary_key=True),
    Column("owner", String(KEY_LEN), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("acquired_at", Float, nullable=False),
)

# ---------------------------------------------------------------------- feature store
# Every applied definition (entity, view, on-demand view, service) is one immutable
# version; the newest version of a (kind, name) is the live one.
feature_definitions = Table(
    "feature_definitions",
    metadata,
    Column("kind", String(16), primary_key=True),  # entity | view | on_demand | service
    Column("name", String(KEY_LEN), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
)

feature_materializations = Table(
    "feature_materializations",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("view", String(KEY_LEN), nullable=False),
    Column("view_version", Integer, nullable=False),
    Column("mode", String(16), nullable=False),  # full | incremental
    Column("source", String(1000), nullable=False),  # dataset URI or file paths
    Column("source_key", String(300), nullable=False),
    Column("online_store", String(KEY_LEN), nullable=False),
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("rows", BigInteger, nullable=False),
    Column("entities", BigInteger, nullable=False),
    Column("watermark", Float, nullable=True),  # newest event time now online (epoch s)
    Column("error", Text, nullable=True),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Index("ix_feature_materializations_view_started", "view", "started_at"),
)

# Facts about one immutable source (a dataset version, or files of a given size and time),
# computed once: whether (entity keys, event time) is unique lets joins skip a tie-break.
feature_source_facts = Table(
    "feature_source_facts",
    metadata,
    Column("source_key", String(300), primary_key=True),
    Column("keys", String(1000), primary_key=True),
    Column("unique_keys", Boolean, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("computed_at", Float, nullable=False),
)

# Training sets built from feature views and logged as dataset versions: their lineage.
feature_training_sets = Table(
    "feature_training_sets",
    metadata,
    Column(
        "dataset_version_id", String(ID_LEN), ForeignKey("dataset_versions.id"), primary_key=True
    ),
    Column("service", String(KEY_LEN), nullable=True),
    Column("features", JSON, nullable=False),
    Column("views", JSON, nullable=False),  # [{view, version, source, dataset_version_id}]
    Column("rows", BigInteger, nullable=False),
    Column("missing", JSON, nullable=False),  # {feature: null count}
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
)

# Subscribers to registry and loop events. `cursor` is the last audit event already fanned
# out to this webhook: events are derived from the audit trail, which commits with each change.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("name", String(KEY_LEN), nullable=False, unique=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),  # the HMAC key; must be readable to sign
    Column("events", JSON, nullable=False),  # event types (or "group.*", "*") it wants
    Column("format", String(16), nullable=False),  # json | slack
    Column("max_attempts", Integer, nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("created_by", String(KEY_LEN), nullable=False),
    Column("created_at", Float, nullable=False),
)

# One row per (webhook, event): pending until a 2xx answer, dead after max_attempts.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(ID_LEN), primary_key=True),
    Column("webhook_id", String(ID_LEN), ForeignKey("webhooks.id"), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=False),
    Column("tries", JSON, nullable=False),  # [{at, status, error, ms}] every attempt
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("webhook_id", "event_seq"),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
)

# Objects copied from another tracking store (`loopml import mlflow`): which source object
# became which loopml object, so a second import copies only what is new.
import_mappings = Table(
    "import_mappings",
    metadata,
    Column("source", String(500), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("source_id", String(KEY_LEN), primary_key=True),
    Column("target_id", String(KEY_LEN), nullable=False),
    Column("imported_at", Float, nullable=False),
)
