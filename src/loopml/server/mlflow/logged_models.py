"""MLflow 3's logged models, which `mlflow.<flavor>.log_model` creates before it uploads.

A logged model lives in the run that made it: its files under the run's artifacts at
`mlflow-models/<model id>/` (so they are content-addressed and verified like every run
artifact) and its record (name, status, tags, params) as `mlflow-models/<model id>.json`.
The model id carries the run's id, so a lookup needs no index. When the client marks the
model READY, the folder is sealed with a loopml manifest (model_import.py), ready to be
registered as a loopml model version.
"""

from __future__ import annotations

import inspect
import json
import re
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from loopml.errors import LoopmlError, NotFoundError, ValidationError
from loopml.server.mlflow.experiments import experiment_id, experiment_name
from loopml.server.mlflow.fields import Fields, integer, key_values, optional_text, text
from loopml.server.mlflow.ids import artifact_uri, to_ms
from loopml.server.mlflow.model_import import seal
from loopml.server.payloads import decode_json, json_response, require_object
from loopml.server.state import ServerState

MODELS_DIR = "mlflow-models"
HISTORY_TAG = "mlflow.log-model.history"
HISTORY_FIELDS = ("artifact_path", "run_id", "model_uuid", "utc_time_created", "flavors")
PENDING, READY, FAILED = "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"
_MODEL_ID = re.compile(r"^m-([0-9a-f]{8,64})-([0-9a-f]{16})$")
_NAME_FILTER = re.compile(r"^\s*(name|source_run_id)\s*=\s*'([^']*)'\s*$")
PathHandler = Callable[[ServerState, Fields], Fields]


def path_endpoint(
    handler: PathHandler, path: str, *, body: bool
) -> Callable[..., Coroutine[Any, Any, Response]]:
    """Like fields.endpoint, with the parameters of `path` (`{model_id}`) among the fields;
    they are declared in the signature, so the OpenAPI document lists them."""

    async def answer(request: Request, **_: str) -> Response:
        state: ServerState = request.app.state.server
        fields: Fields = dict(request.query_params)
        if body:
            raw = await request.body()
            fields.update(require_object(decode_json(raw), "the request body") if raw else {})
        fields.update(request.path_params)
        return json_response(await run_in_threadpool(handler, state, fields))

    named = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str)
        for name in re.findall(r"\{(\w+)\}", path)
    ]
    request = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
    )
    answer.__signature__ = inspect.Signature([request, *named])  # type: ignore[attr-defined]
    answer.__doc__ = handler.__doc__
    answer.__name__ = handler.__name__
    return answer


def run_of(model_id: str) -> str:
    """The run a logged model belongs to, read from its id (`m-<run digits>-<random>`)."""
    found = _MODEL_ID.match(model_id)
    if found is None:
        raise NotFoundError(
            f"no logged model {model_id!r}: loopml's logged-model ids look like m-<hex>-<hex>"
        )
    return "run-" + found.group(1)


def record_path(model_id: str) -> str:
    return f"{MODELS_DIR}/{model_id}.json"


def folder_of(model_id: str) -> str:
    """Where the model's files are, inside its run's artifacts."""
    return f"{MODELS_DIR}/{model_id}"


def read_record(state: ServerState, model_id: str) -> Fields:
    run = run_of(model_id)
    try:
        data = state.client.tracking.read_artifact(run, record_path(model_id))
    except NotFoundError:
        raise NotFoundError(f"no logged model {model_id!r}") from None
    found: Fields = json.loads(data)
    return found


def _write(state: ServerState, record: Fields) -> None:
    record["last_updated_timestamp_ms"] = to_ms(time.time())
    data = json.dumps(record, sort_keys=True).encode()
    state.client.tracking.log_artifact_bytes(
        record["source_run_id"], data, record_path(record["model_id"]), "application/json"
    )


def document(record: Fields) -> Fields:
    """The LoggedModel message of a record."""
    info = {
        key: record[key]
        for key in (
            "model_id",
            "experiment_id",
            "name",
            "creation_timestamp_ms",
            "last_updated_timestamp_ms",
            "artifact_uri",
            "status",
            "model_type",
            "source_run_id",
            "status_message",
        )
        if record.get(key) is not None
    }
    info["tags"] = [{"key": k, "value": v} for k, v in record["tags"].items()]
    params = [{"key": k, "value": v} for k, v in record["params"].items()]
    return {"info": info, "data": {"params": params, "metrics": []}}


def create_logged_model(state: ServerState, fields: Fields) -> Fields:
    """A PENDING logged model of a run; the client uploads its files next."""
    tracking = state.client.tracking
    source = optional_text(fields, "source_run_id")
    if source is None:
        raise ValidationError(
            "loopml keeps a logged model's files in the run that made it, and this request "
            "names none: call log_model inside mlflow.start_run()"
        )
    run = tracking.get_run(source)
    experiment = experiment_id(state, run.experiment)
    asked = optional_text(fields, "experiment_id")
    if asked is not None and experiment_name(state, asked) != run.experiment:
        raise ValidationError(
            f"run {run.id} belongs to experiment {experiment}, not {asked}; "
            "log the model in the run's own experiment"
        )
    name = optional_text(fields, "name") or "model"
    if "/" in name or len(name) > 256:
        raise ValidationError(f"model name {name!r} must be at most 256 characters, without '/'")
    model_id = f"m-{run.id.removeprefix('run-')}-{secrets.token_hex(8)}"
    now = to_ms(time.time())
    record: Fields = {
        "model_id": model_id,
        "experiment_id": experiment,
        "name": name,
        "source_run_id": run.id,
        "model_type": optional_text(fields, "model_type"),
        "status": PENDING,
        "status_message": None,
        "creation_timestamp_ms": now,
        "artifact_uri": f"{artifact_uri(experiment, run.id)}/{folder_of(model_id)}",
        "tags": key_values(fields, "tags"),
        "params": key_values(fields, "params"),
    }
    _write(state, record)
    return {"model": document(record)}


def get_logged_model(state: ServerState, fields: Fields) -> Fields:
    return {"model": document(read_record(state, text(fields, "model_id")))}


def finalize_logged_model(state: ServerState, fields: Fields) -> Fields:
    """READY seals the uploaded folder for the registry; a folder loopml cannot serve
    (another flavor) stays a logged model, and its status message says why."""
    record = read_record(state, text(fields, "model_id"))
    status = text(fields, "status")
    if status not in (READY, FAILED):
        raise ValidationError(f"status must be {READY} or {FAILED}, got {status!r}")
    record["status"], record["status_message"] = status, None
    if status == READY:
        try:
            seal(state.client, record["source_run_id"], folder_of(record["model_id"]))
        except (ValidationError, NotFoundError) as exc:
            record["status_message"] = f"not registrable in loopml: {exc}"
    _write(state, record)
    return {"model": document(record)}


def set_tags(state: ServerState, fields: Fields) -> Fields:
    record = read_record(state, text(fields, "model_id"))
    record["tags"].update(key_values(fields, "tags"))
    _write(state, record)
    return {}


def delete_tag(state: ServerState, fields: Fields) -> Fields:
    record = read_record(state, text(fields, "model_id"))
    key = text(fields, "tag_key")
    if record["tags"].pop(key, None) is None:
        raise NotFoundError(f"logged model {record['model_id']} has no tag {key!r}")
    _write(state, record)
    return {}


def log_params(state: ServerState, fields: Fields) -> Fields:
    """Params of a logged model; like a run's, a param never changes once set."""
    record = read_record(state, text(fields, "model_id"))
    for key, value in key_values(fields, "params").items():
        if record["params"].get(key, value) != value:
            raise ValidationError(
                f"param {key!r} of logged model {record['model_id']} is "
                f"{record['params'][key]!r} and cannot change to {value!r}"
            )
        record["params"][key] = value
    _write(state, record)
    return {}


def search_logged_models(state: ServerState, fields: Fields) -> Fields:
    """Logged models of the experiments, newest first; the filter may be `name = '…'` or
    `source_run_id = '…'` (what the client sends when it resolves `runs:/<run>/<name>`)."""
    ids = fields.get("experiment_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError("experiment_ids must be a list of experiment ids")
    wanted = _filter(optional_text(fields, "filter"))
    limit = integer(fields, "max_results", 100)
    if not 0 < limit <= 10_000:
        raise ValidationError("max_results must be from 1 to 10000")
    names = {experiment_name(state, i) for i in ids}
    runs = [wanted[1]] if wanted and wanted[0] == "source_run_id" else _runs(state, names)
    found = [
        r
        for run in runs
        for r in _records(state, run)
        if (wanted is None or r.get(wanted[0]) == wanted[1])
        and state.client.tracking.get_run(r["source_run_id"]).experiment in names
    ]
    found.sort(key=lambda r: r["creation_timestamp_ms"], reverse=True)
    return {"models": [document(r) for r in found[:limit]]}


def _filter(given: str | None) -> tuple[str, str] | None:
    if given is None:
        return None
    found = _NAME_FILTER.match(given)
    if found is None:
        raise ValidationError(
            f"logged-model filter {given!r}: loopml filters logged models by "
            "name = '…' or source_run_id = '…'"
        )
    return found.group(1), found.group(2)


def _runs(state: ServerState, experiments: set[str]) -> list[str]:
    tracking, token, ids = state.client.tracking, None, []
    if not experiments:
        return []
    while True:
        page = tracking.search_runs(sorted(experiments), None, None, 1000, token)
        ids += [r.id for r in page]
        if not page.next_page_token:
            return ids
        token = page.next_page_token


def _records(state: ServerState, run: str) -> list[Fields]:
    try:
        listed = state.client.tracking.list_artifacts(run)
    except LoopmlError:
        return []
    paths = [
        str(a["path"])
        for a in listed
        if str(a["path"]).startswith(MODELS_DIR + "/m-") and str(a["path"]).endswith(".json")
        and "/" not in str(a["path"])[len(MODELS_DIR) + 1 :]
    ]  # fmt: skip
    return [read_record(state, p[len(MODELS_DIR) + 1 : -len(".json")]) for p in paths]


def log_outputs(state: ServerState, fields: Fields) -> Fields:
    """A run's model outputs: each must be a logged model (of this run, or of an earlier one
    when the client logs an existing model again); the model's own run is its lineage."""
    tracking = state.client.tracking
    tracking.get_run(text(fields, "run_id"))  # an unknown run is RESOURCE_DOES_NOT_EXIST
    models = fields.get("models") or []
    if not isinstance(models, list):
        raise ValidationError("models must be a list of {model_id, step} objects")
    for item in models:
        model_id = item.get("model_id") if isinstance(item, dict) else None
        if not isinstance(model_id, str):
            raise ValidationError(f"each model output needs a model_id, got {item!r}")
        read_record(state, model_id)
    return {}


def drop_model_copies(state: ServerState, run_id: str, metrics: list[Any]) -> list[Any]:
    """The metrics of a log-batch without the copies MLflow 3 sends when it logs a model
    (each run metric again, with the model's id): keeping them would double the series."""
    linked = [m for m in metrics if isinstance(m, dict) and m.get("model_id")]
    if not linked:
        return metrics
    tracking = state.client.tracking
    known: dict[str, set[tuple[int, float, int]]] = {}
    for key in {str(m.get("key")) for m in linked}:
        try:
            points = tracking.metric_history(run_id, key)
        except NotFoundError:
            continue
        known[key] = {(p.step, p.value, to_ms(p.timestamp) or 0) for p in points}

    def copy(m: Any) -> bool:
        if not (isinstance(m, dict) and m.get("model_id")):
            return False
        point = (m.get("step") or 0, m.get("value"), m.get("timestamp"))
        return point in known.get(str(m.get("key")), set())

    return [m for m in metrics if not copy(m)]


def log_model_history(state: ServerState, fields: Fields) -> Fields:
    """MLflow 2's note that a run logged a model, kept as MLflow keeps it: in the run's
    `mlflow.log-model.history` tag (the folder itself is in the run's artifacts)."""
    tracking = state.client.tracking
    run = tracking.resolve_run_id(text(fields, "run_id"))
    try:
        model = json.loads(text(fields, "model_json"))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"model_json is not JSON ({exc})") from None
    if not isinstance(model, dict):
        raise ValidationError("model_json must be the JSON object of an MLmodel")
    entry = {k: model[k] for k in HISTORY_FIELDS if k in model}
    if isinstance(entry.get("flavors"), dict):
        entry["flavors"] = sorted(entry["flavors"])
    current = tracking.get_run(run).tags.get(HISTORY_TAG)
    history = json.loads(current) if current else []
    tracking.set_tags(run, {HISTORY_TAG: json.dumps([*history, entry])})
    return {}
