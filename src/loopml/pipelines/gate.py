"""The validation gate: a standard step between training and the approval of a champion.

It evaluates the candidate and the current champion on the newest version of a dataset,
applies the registry's own checks (`registry.checks.run_checks`: metric thresholds, a
no-regression margin, fairness limits) and, when every check passes, points the
`challenger` alias at the candidate and opens the approval request for `champion`.

The candidate is registered first if needed (evaluations need a registered version). A
failing gate does not fail the pipeline: it returns `passed=False` with the checks that
failed, records them on its run (`gate/result.json`, tags `loopml.gate.*`) and opens no
request. The gate is never cached: "newest data" and "current champion" change over time.

A gate dataset that overlaps the candidate's training data (time range or identical rows)
fails the `no leakage` check with the overlap in its detail, unless `allow_overlap=True`
(then the check passes and still reports the overlap).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.data import DatasetVersion, recording_reads
from loopml.data.overlap import find_overlaps
from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.pipelines.context import PipelineClient, current_client, current_run
from loopml.pipelines.steps import step
from loopml.registry.checks import run_checks
from loopml.registry.policy import parse_policy
from loopml.registry.records import ModelVersion
from loopml.tracking import Run, RunRecord


@dataclass(frozen=True)
class GateResult:
    """`version` is the candidate's URI (model:name/N); `request` the approval request id
    opened for the champion alias, None when the gate failed or no request was needed."""

    passed: bool
    version: str
    request: str | None
    checks: list[dict[str, Any]] = field(default_factory=list)
    dataset: str | None = None
    champion: str | None = None
    note: str | None = None

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["passed"]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _run_id(candidate: Any) -> str | None:
    if isinstance(candidate, Run | RunRecord):
        return candidate.id
    if isinstance(candidate, Mapping) and isinstance(candidate.get("run_id"), str):
        return str(candidate["run_id"])
    if isinstance(candidate, str) and candidate.startswith(("run-", "run:")):
        return "run-" + candidate.removeprefix("run:").removeprefix("run-")
    return None


def candidate_version(
    client: PipelineClient, candidate: Any, model: str, artifact_path: str = "model"
) -> ModelVersion:
    """The registered version a candidate names, registering a run's model if needed."""
    registry = client.models.registry
    if isinstance(candidate, ModelVersion):
        version = registry.get_version(candidate.uri)
    elif isinstance(candidate, str) and candidate.startswith("model:"):
        version = registry.get_version(candidate)
    else:
        run_id = _run_id(candidate)
        if run_id is None:
            raise ValidationError(
                "the gate's candidate must be a model version, a 'model:name/N' reference, a "
                f"run (or its id), or a dict with 'run_id'; got {type(candidate).__name__}"
            )
        path = artifact_path.strip("/")
        known = (
            [
                v
                for v in registry.list_versions(model, run_id=run_id)
                if v.artifact_path.strip("/") == path
            ]
            if model in {m.name for m in registry.list_models()}
            else []
        )
        version = known[0] if known else client.models.register(model, run_id, artifact_path)
    if version.model != model:
        raise ValidationError(f"the candidate {version.uri} is not a version of model {model!r}")
    return version


@step(name="validation_gate", cache=False)
def validation_gate(
    candidate: Any,
    *,
    model: str,
    dataset: str,
    target: str,
    thresholds: Sequence[Mapping[str, Any]] = (),
    metric: str | None = None,
    margin: float = 0.0,
    fairness: Mapping[str, float] | None = None,
    sensitive: Sequence[str] = (),
    artifact_path: str = "model",
    alias: str = "champion",
    challenger: str = "challenger",
    allow_overlap: bool = False,
) -> GateResult:
    """Check `candidate` on the newest `dataset`; on success, open the `alias` request.

    `thresholds`: [{"metric": "rmse", "op": "<=", "value": 5}], checked on the newest data;
    `metric` + `margin`: no regression against the current `alias` holder; `fairness` +
    `sensitive`: limits per metric (as in an approval policy); `allow_overlap`: accept a
    dataset that overlaps the candidate's training data (reported, not failed).
    """
    client = current_client()
    run = current_run()
    data = client.dataset_service.get(dataset)
    version = candidate_version(client, candidate, model, artifact_path)
    policy = parse_policy(
        {
            "thresholds": [dict(t) for t in thresholds],
            "no_regression": (
                None
                if metric is None
                else {"dataset": data.uri, "target": target, "metric": metric, "margin": margin}
            ),
            "fairness": (
                None
                if fairness is None
                else {
                    "dataset": data.uri,
                    "target": target,
                    "sensitive": list(sensitive),
                    "limits": dict(fairness),
                }
            ),
        }
    )
    registered = client.models.registry.get_model(model)
    holder_number = registered.aliases.get(alias)
    holder = (
        None
        if holder_number is None
        else client.models.registry.get_version(f"{model}/{holder_number}")
    )
    on_newest = client.models.evaluations.evaluate(version, data, target)["metrics"]
    scored = dataclasses.replace(version, metrics={**version.metrics, **on_newest})
    checks = [
        leakage_check(client, version, data, allowed=allow_overlap),
        *run_checks(policy, scored, holder, client.models.evaluations),
    ]
    passed = all(c["passed"] for c in checks)
    request_id: str | None = None
    note: str | None = None
    if passed:
        client.models.registry.set_alias(model, challenger, version.version)
        if holder is not None and holder.id == version.id:
            note = f"{version.uri} already holds {alias!r}; no request needed"
        else:
            try:
                request = client.models.request(
                    version.uri,
                    alias,
                    reason=f"validation gate passed on {data.uri} (pipeline run {run.id})",
                )
                request_id = request.id
            except ConflictError as exc:  # another request for the alias is still pending
                note = str(exc)
    result = GateResult(
        passed=passed,
        version=version.uri,
        request=request_id,
        checks=checks,
        dataset=data.uri,
        champion=None if holder is None else holder.uri,
        note=note,
    )
    run.log_json(result.to_dict(), "gate/result.json")
    run.set_tags(
        {
            "loopml.gate.passed": str(passed).lower(),
            "loopml.gate.version": version.uri,
            "loopml.gate.request": request_id or "",
        }
    )
    return result


def training_data(client: PipelineClient, version: ModelVersion) -> list[DatasetVersion]:
    """The dataset versions the version's run took as inputs (looked up, not read: they do
    not become inputs of the step asking)."""
    if not version.run_id:
        return []
    run = client.tracking.get_run(version.run_id)
    found = []
    with recording_reads():
        for item in run.inputs:
            if item.get("role") != "training":
                continue  # read by the run (e.g. its own validation data), not trained on
            try:
                found.append(client.dataset_service.get(str(item["id"])))
            except NotFoundError:
                continue
    return found


def leakage_check(
    client: PipelineClient, version: ModelVersion, data: DatasetVersion, *, allowed: bool
) -> dict[str, Any]:
    """`no leakage`: the gate's data shares no time range and no rows with the training."""
    training = training_data(client, version)
    overlaps = find_overlaps(client.dataset_service, training, data)
    label = f"no leakage between {data.uri} and the training data of {version.uri}"
    if not overlaps:
        known = ", ".join(t.uri for t in training) or "none recorded"
        return {"name": label, "passed": True, "message": f"no overlap (training: {known})"}
    detail = "; ".join(o.describe() for o in overlaps)
    if allowed:
        detail += " (allowed by allow_overlap=True)"
    return {
        "name": label,
        "passed": allowed,
        "message": detail,
        "overlaps": [o.to_dict() for o in overlaps],
    }
