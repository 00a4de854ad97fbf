"""MLflow's model-version endpoints over loopml's registry.

`create_model_version` registers a loopml version from the model the client logged: a
logged model (`models:/<model id>`, MLflow 3) or a run's folder (`runs:/<run>/<path>` or
its `mlflow-artifacts:` location, MLflow 2). The folder is sealed with a loopml manifest
first (model_import.py), so the version has a signature, lineage to its run, and files
verified by hash whenever `loopml serve` or the MLflow client loads it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from loopml.errors import ValidationError
from loopml.registry.notes import RegistryNotes, check_tags, version_tags
from loopml.registry.records import ModelVersion
from loopml.server.errors import ApiError
from loopml.server.mlflow import logged_models
from loopml.server.mlflow.experiments import experiment_id
from loopml.server.mlflow.fields import Fields, integer, key_values, optional_text, text
from loopml.server.mlflow.ids import artifact_uri, split_artifact_path, to_ms
from loopml.server.mlflow.model_import import seal
from loopml.server.state import ServerState

#: loopml lifecycle state → MLflow stage (stages are deprecated in MLflow; aliases replace them).
STAGES = {"REGISTERED": "None", "DEPRECATED": "None", "ARCHIVED": "Archived"}


def version_number(fields: Fields) -> int:
    value = fields.get("version")
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value))
    except ValueError:
        raise ValidationError(f"version must be a version number, got {value!r}") from None


def _ref(fields: Fields) -> str:
    return f"{text(fields, 'name')}/{version_number(fields)}"


def model_id_of(version: ModelVersion) -> str | None:
    """The MLflow logged model a version was registered from, if it was."""
    head, _, rest = version.artifact_path.partition("/")
    return rest if head == logged_models.MODELS_DIR and "/" not in rest else None


def model_version(version: ModelVersion) -> dict[str, Any]:
    created = to_ms(version.created_at)
    found: dict[str, Any] = {
        "name": version.model,
        "version": str(version.version),
        "creation_timestamp": created,
        "last_updated_timestamp": created,
        "user_id": version.created_by,
        "current_stage": STAGES.get(version.state, "None"),
        "description": version.description or "",
        "status": "READY",
        "aliases": list(version.aliases),
        "tags": [{"key": k, "value": v} for k, v in version_tags(version).items()],
    }
    model_id = model_id_of(version)
    if model_id is not None:
        found["model_id"] = model_id
        found["source"] = f"models:/{model_id}"
    if version.run_id is not None:
        found["run_id"] = version.run_id
        found.setdefault("source", f"runs:/{version.run_id}/{version.artifact_path}")
    return found


def _locate(state: ServerState, source: str, model_id: str | None) -> tuple[str, str]:
    """(run id, folder in the run) of the model a create request names."""
    parsed = urlparse(source)
    if model_id is None and parsed.scheme == "models" and "/" not in parsed.path.strip("/"):
        candidate = parsed.path.strip("/")
        if "@" not in candidate:
            model_id = candidate
    if model_id is not None:
        record = logged_models.read_record(state, model_id)
        unfinished = f"its upload is not finished (status {record['status']})"
        if record["status"] != logged_models.READY or record.get("status_message"):
            reason = record.get("status_message") or unfinished
            raise ValidationError(f"logged model {model_id} cannot be registered: {reason}")
        return record["source_run_id"], logged_models.folder_of(model_id)
    if parsed.scheme == "models":
        version = state.client.models.registry.get_version(parsed.path.strip("/"))
        if version.run_id is None:
            raise ValidationError(f"{version.uri} has no run holding its files")
        return version.run_id, version.artifact_path
    if parsed.scheme == "runs":
        run, _, path = parsed.path.strip("/").partition("/")
        return state.client.tracking.resolve_run_id(run or parsed.netloc), path
    if parsed.scheme == "mlflow-artifacts":
        return split_artifact_path(parsed.path)
    raise ValidationError(
        f"source {source!r}: loopml registers models logged to this server — models:/<model "
        "id>, runs:/<run id>/<path> or mlflow-artifacts:/<exp>/<run>/artifacts/<path>"
    )


def create_model_version(state: ServerState, fields: Fields) -> Fields:
    """The next version of a registered model, from a logged model or a run's folder."""
    name = text(fields, "name")
    run, folder = _locate(state, text(fields, "source"), optional_text(fields, "model_id"))
    run = state.client.tracking.resolve_run_id(run)
    given = optional_text(fields, "run_id")
    if given is not None and state.client.tracking.resolve_run_id(given) != run:
        raise ValidationError(f"the model's files are in run {run}, not in run {given}")
    tags = check_tags(key_values(fields, "tags"))
    if not folder:
        raise ValidationError("name the model's folder in the run: runs:/<run id>/<path>")
    seal(state.client, run, folder)
    version = state.client.models.registry.register_version(
        name,
        run,
        folder,
        description=optional_text(fields, "description"),
        card={"tags": tags} if tags else None,
    )
    return {"model_version": model_version(version)}


def get_model_version(state: ServerState, fields: Fields) -> Fields:
    return {"model_version": model_version(state.client.models.registry.get_version(_ref(fields)))}


def get_by_alias(state: ServerState, fields: Fields) -> Fields:
    ref = f"{text(fields, 'name')}@{text(fields, 'alias')}"
    return {"model_version": model_version(state.client.models.registry.get_version(ref))}


def update_model_version(state: ServerState, fields: Fields) -> Fields:
    """The description is the one thing of a version that changes."""
    notes = RegistryNotes(state.client.stores)
    version = notes.describe_version(_ref(fields), optional_text(fields, "description"))
    return {"model_version": model_version(version)}


def set_tag(state: ServerState, fields: Fields) -> Fields:
    value = fields.get("value")
    tag = {text(fields, "key"): "" if value is None else value}
    RegistryNotes(state.client.stores).set_version_tags(_ref(fields), tag)
    return {}


def delete_tag(state: ServerState, fields: Fields) -> Fields:
    RegistryNotes(state.client.stores).delete_version_tag(_ref(fields), text(fields, "key"))
    return {}


def download_uri(state: ServerState, fields: Fields) -> Fields:
    """Where the client downloads the version's files: its folder in the run's artifacts,
    MLflow's `MLmodel` included for versions logged by MLflow."""
    version = state.client.models.registry.get_version(_ref(fields))
    if version.run_id is None:
        raise ValidationError(f"{version.uri} has no run holding its files")
    run = state.client.tracking.get_run(version.run_id)
    base = artifact_uri(experiment_id(state, run.experiment), run.id)
    return {"artifact_uri": f"{base}/{version.artifact_path}"}


def search_model_versions(state: ServerState, fields: Fields) -> Fields:
    """Versions by `name = '…'` and/or `run_id = '…'` (joined with AND), a page at a time."""
    wanted = _clauses(optional_text(fields, "filter"))
    page = state.client.models.registry.list_versions(
        wanted.get("name"),
        run_id=wanted.get("run_id"),
        max_results=integer(fields, "max_results", 1000),
        page_token=optional_text(fields, "page_token"),
    )
    answer: Fields = {"model_versions": [model_version(v) for v in page]}
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return answer


def _clauses(given: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for clause in (given or "").split(" and ") if given and given.strip() else []:
        key, eq, value = clause.partition("=")
        key, value = key.strip(), value.strip()
        quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
        if not eq or key not in ("name", "run_id") or not quoted:
            raise ValidationError(
                f"model-version filter {given!r}: loopml filters versions by "
                "name = '…' and run_id = '…'"
            )
        found[key] = value[1:-1]
    return found


def latest_versions(state: ServerState, fields: Fields) -> Fields:
    """The newest version in each stage asked for (all stages when none are)."""
    name = text(fields, "name")
    stages = fields.get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise ValidationError("stages must be a list of stage names (None, Archived)")
    state.client.models.registry.get_model(name)
    newest: dict[str, ModelVersion] = {}
    token: str | None = None
    while True:
        page = state.client.models.registry.list_versions(name, page_token=token)
        for version in page:
            newest[STAGES.get(version.state, "None")] = version
        if not page.next_page_token:
            break
        token = page.next_page_token
    asked = {s.lower() for s in stages}
    chosen = [v for stage, v in newest.items() if not asked or stage.lower() in asked]
    return {"model_versions": [model_version(v) for v in chosen]}


def refuse_version_change(state: ServerState, fields: Fields) -> Fields:
    """Versions are never deleted and have no stages in loopml; the client is told why."""
    version = state.client.models.registry.get_version(_ref(fields))
    raise ApiError(
        400,
        "invalid",
        f"loopml keeps {version.uri}: versions are not deleted and have no stages "
        "(deployments, approvals and the audit trail point at them)",
        "use aliases (set_registered_model_alias) instead of stages, and archive a version "
        f"with `loopml models state {version.model}/{version.version} archived`",
    )
